"""MLPClassifier: scikit-learn's MLPClassifier on nncore, plus class weights.

What it is for: the label side of classification: labels of any type encoded by
scikit-learn's LabelBinarizer (softmax outputs for several classes, one sigmoid
output for two, one sigmoid per label for a multilabel indicator y), class
weights, predictions decoded back to labels. What it is not: the training
(``_base`` and the solvers).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d

from ._base import BaseMLP
from ._params import STOCHASTIC

__all__ = ["MLPClassifier", "validation_accuracy"]


def validation_accuracy(y_true: np.ndarray, y_pred: np.ndarray,
                        sample_weight: np.ndarray | None = None) -> float:
    """``sklearn.metrics.accuracy_score`` of the early-stopping split, without its input
    checks (a millisecond a call; y_true and y_pred are decoded by the same
    LabelBinarizer, (n,) labels or an (n, k) indicator matrix, sparse when the fit's y
    was): the same 0/1 score per row through the same ``numpy.average``, so the same
    float."""
    if sp.issparse(y_true) or sp.issparse(y_pred):   # a sparse multilabel y decodes so
        y_true = y_true.toarray() if sp.issparse(y_true) else y_true
        y_pred = y_pred.toarray() if sp.issparse(y_pred) else y_pred
    if y_true.ndim == 2:   # multilabel: a row counts when every label agrees
        score = ~(y_true != y_pred).any(axis=1)
    else:
        score = y_true == y_pred
    return float(np.average(score, weights=sample_weight))


def _stochastic_only(est: Any) -> bool:
    if est.solver not in STOCHASTIC:
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                             f"{est.solver} is not stochastic.")
    return True


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's ``MLPClassifier``, trained by
    nncore's C core.

    Every parameter, default, fitted attribute and method of
    ``sklearn.neural_network.MLPClassifier`` (scikit-learn 1.9) means the same here;
    with float64 data and an int ``random_state`` a fit reproduces scikit-learn's
    (initial weights, shuffles, validation split, updates, stopping) to rounding.
    The parameters after ``max_fun`` are nncore's and default to scikit-learn's
    behaviour.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(100,)
        Units of each hidden layer.
    activation : str, default='relu'
        Hidden activation: 'identity', 'logistic', 'tanh', 'relu', or nncore's
        'leaky_relu', 'elu', 'gelu', 'silu', 'softplus'.
    solver : str, default='adam'
        'lbfgs', 'sgd', 'adam', or nncore's 'adamw', 'rmsprop', 'adagrad'.
    alpha : float, default=1e-4
        L2 strength: ``alpha / 2 * ||W||^2 / n_samples`` added to the loss.
    batch_size : int or 'auto', default='auto'
        Minibatch size; 'auto' is ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Schedule of 'sgd'.
    learning_rate_init, power_t : float
    max_iter : int, default=200
        Epochs (stochastic solvers) or iterations (lbfgs).
    shuffle : bool, default=True
    random_state : int, RandomState or None
    tol : float, default=1e-4
    verbose : bool
    warm_start : bool
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Also with ``partial_fit`` (scikit-learn refuses it there): each call holds out
        ``validation_fraction`` of its data, records ``validation_scores_`` and keeps
        the best weights, restored when ``n_iter_no_change`` calls bring no gain.
    validation_fraction, beta_1, beta_2, epsilon : float
    n_iter_no_change : int, default=10
    max_fun : int, default=15000
    dropout : float or sequence of float, default=0.0
        Dropout after each hidden activation (one rate, or one per hidden layer).
    l1 : float, default=0.0
        L1 strength: ``l1 * |W|_1 / n_samples`` added to the loss.
    clip_norm : float or None
        Clip the global norm of the loss gradient (before the penalties) to this.
    dtype : None, 'float32' or 'float64'
        The network's dtype; None follows X (float32 stays float32, else float64).
    n_threads : int or None
        Threads of nncore's C core during fit / predict (None: the current setting).
    class_weight : None, 'balanced' or dict
        Weights of the classes (multiplying sample_weight); 'balanced' weighs class c
        by ``n_samples / (n_present * count(c))`` over the y of each fit or
        partial_fit call, n_present being the number of classes in that y (as
        ``sklearn.utils.class_weight.compute_class_weight`` on it).

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    loss_, best_loss_ : float
    loss_curve_ : list of float (n_iter_,)
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    t_, n_iter_, n_layers_, n_outputs_, n_features_in_ : int
    coefs_ : list of ndarray (fan_in, fan_out)
        Views of ``model_``'s weights.
    intercepts_ : list of ndarray (fan_out,)
    feature_names_in_ : ndarray of str
    out_activation_ : str
    model_ : nncore.nn.Sequential
        The trained network (outputs are logits: the output activation is applied by
        ``predict_proba``); ready for ``save``, ``predict``, the C API.
    """

    _is_classifier = True

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, l1=0.0, clip_norm=None, dtype=None, n_threads=None,
                 class_weight=None):
        self._store_params(locals())

    # -------------------------------------------------------------- labels
    def _out_activation(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool):
        X, y = self._check_data(X, y, reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(f"warm_start can only be used where `y` has the same "
                                     f"classes as in the previous call to fit. Previously got "
                                     f"{self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        return X, self._label_binarizer.transform(y).astype(bool)

    def _row_weights(self, sw, Y, dtype):
        cw = self.class_weight
        if cw is None:
            return sw
        if Y.ndim == 2 and Y.shape[1] > 1 and self._label_binarizer.y_type_ != "multiclass":
            raise ValueError("class_weight is for single-label classification, not a "
                             "multilabel y")
        col = Y.argmax(axis=1) if (Y.ndim == 2 and Y.shape[1] > 1) else Y.reshape(-1).astype(int)
        classes = self.classes_
        if isinstance(cw, str) and cw == "balanced":
            counts = np.bincount(col, minlength=len(classes)).astype(np.float64)
            present = counts > 0
            per_class = np.ones(len(classes))
            per_class[present] = len(col) / (present.sum() * counts[present])
        elif isinstance(cw, dict):
            unknown = [k for k in cw if k not in set(classes.tolist())]
            if unknown:
                raise ValueError(f"class_weight names classes {unknown} that are not in "
                                 f"classes_ {classes}")
            per_class = np.array([float(cw.get(c, 1.0)) for c in classes.tolist()])
            if not (np.isfinite(per_class).all() and (per_class >= 0).all()):
                raise ValueError(f"class_weight values must be finite and >= 0, got {cw}")
        else:
            raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {cw!r}")
        w = per_class[col].astype(dtype)
        out = w if sw is None else sw * w
        if not out.sum() > 0:
            raise ValueError("sample_weight * class_weight weighs every row 0")
        return out

    def _validation_targets(self, Y_val: np.ndarray) -> np.ndarray:
        return self._label_binarizer.inverse_transform(Y_val)

    # ------------------------------------------------------------------ API
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "MLPClassifier":
        """Fit the network to X (n_samples, n_features), dense or sparse, and labels y
        (n_samples,) or a multilabel indicator (n_samples, n_labels).

        Parameters
        ----------
        X : array-like or sparse matrix (n_samples, n_features)
        y : array-like (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like (n_samples,), optional
            Weighted mean of the loss: ``sum(w_i l_i) / sum(w_i)``.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(_stochastic_only)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None,
                    classes: Any = None) -> "MLPClassifier":
        """One epoch over (X, y). ``classes`` (every label that will ever appear) is
        needed on the first call."""
        have = getattr(self, "classes_", None)
        if have is None and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        first = False
        if classes is not None:
            if have is not None:
                if not np.array_equal(have, unique_labels(classes)):
                    raise ValueError(f"`classes={classes!r}` is not the same as on last call "
                                     f"to partial_fit, was: {have!r}")
            else:
                self.classes_ = unique_labels(classes)
                first = True
        if first:
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities (n_samples, n_classes), columns in the order of ``classes_``."""
        p = self._forward(self._check_X(X))
        if self.n_outputs_ == 1:
            p = p.ravel()
            return np.vstack([1 - p, p]).T
        return p

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``."""
        p = self.predict_proba(X)
        return np.log(p, out=p)

    def predict(self, X: Any) -> np.ndarray:
        """Labels (n_samples,), or the indicator matrix of a multilabel fit."""
        return self._labels(self._check_X(X))

    def _labels(self, X: Any) -> np.ndarray:
        p = self._forward(X)
        if self.n_outputs_ == 1:
            p = p.ravel()
        return self._label_binarizer.inverse_transform(p)

    def _score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        return self._score_with(X, y, sample_weight, validation_accuracy, self._labels)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
