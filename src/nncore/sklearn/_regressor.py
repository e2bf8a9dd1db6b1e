"""MLPRegressor: scikit-learn's MLPRegressor on nncore.

What it is for: the target side of regression: numeric y (n,) or (n, n_outputs),
the 'squared_error' (identity output) and 'poisson' (exp output) losses, R^2
scoring. What it is not: the training (``_base`` and the solvers).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import column_or_1d

from ._base import BaseMLP
from ._classifier import _stochastic_only
from ._data import check_finite
from ._params import _fail

__all__ = ["MLPRegressor", "validation_r2"]


def validation_r2(y_true: np.ndarray, y_pred: np.ndarray,
                  sample_weight: np.ndarray | None = None) -> float:
    """``sklearn.metrics.r2_score`` (uniform average over outputs, ``force_finite``) of the
    early-stopping split, without its per-call input checks: the arrays in the most
    precise float type among them, outputs as columns, then the same sums in the same
    order, so the same float. NaN for fewer than two rows, as r2_score (which also
    warns)."""
    arrays = [a for a in (y_true, y_pred, sample_weight) if a is not None]
    floats = [a.dtype for a in arrays if a.dtype.kind == "f"]
    dtype = np.result_type(*floats) if floats else np.dtype(np.float64)
    yt = np.asarray(y_true, dtype=dtype)
    yp = np.asarray(y_pred, dtype=dtype)
    yt, yp = (a.reshape(-1, 1) if a.ndim == 1 else a for a in (yt, yp))
    if len(yp) < 2:
        return float("nan")
    if sample_weight is None:
        weight = 1.0
        sw = None
    else:
        sw = np.asarray(sample_weight, dtype=dtype)
        weight = sw[:, None]
    numerator = np.sum(weight * (yt - yp) ** 2, axis=0)
    denominator = np.sum(weight * (yt - np.average(yt, axis=0, weights=sw)) ** 2, axis=0)
    nonzero_num, nonzero_den = numerator != 0, denominator != 0
    scores = np.ones(yt.shape[1], dtype=numerator.dtype)
    valid = nonzero_den & nonzero_num
    scores[valid] = 1 - numerator[valid] / denominator[valid]
    scores[nonzero_num & ~nonzero_den] = 0.0
    return float(np.average(scores))


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's ``MLPRegressor``, trained by
    nncore's C core.

    Every parameter, default, fitted attribute and method of
    ``sklearn.neural_network.MLPRegressor`` (scikit-learn 1.9) means the same here;
    see :class:`nncore.sklearn.MLPClassifier` for the shared parameters and nncore's
    extras (``dropout``, ``l1``, ``clip_norm``, ``dtype``, ``n_threads``).

    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        Half squared error (identity output) or half Poisson deviance (exp output,
        y >= 0).

    Attributes
    ----------
    As :class:`MLPClassifier`, without ``classes_``; ``model_`` outputs the
    values before the output activation (identity, or log of the mean for Poisson).
    """

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, l1=0.0, clip_norm=None, dtype=None, n_threads=None):
        self._store_params(locals())

    def _out_activation(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool):
        if not isinstance(self.loss, str) or self.loss not in ("squared_error", "poisson"):
            _fail(self, "loss", "a str among ['poisson', 'squared_error']", self.loss)
        y_arr = np.asarray(y) if y is not None else None
        if y_arr is not None and y_arr.dtype.kind in "fc":
            check_finite(y_arr, "y")  # before validate_data, whose message names no column
        X, y = self._check_data(X, y, reset, y_numeric=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError("loss='poisson' needs y >= 0 (counts or rates), got a minimum "
                             f"of {y.min()}")
        return X, y

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "MLPRegressor":
        """Fit the network to X (n_samples, n_features), dense or sparse, and y
        (n_samples,) or (n_samples, n_outputs); ``sample_weight`` (n_samples,) weighs
        the rows of the loss mean."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(_stochastic_only)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> "MLPRegressor":
        """One epoch over (X, y)."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X: Any) -> np.ndarray:
        """Predictions (n_samples,) or (n_samples, n_outputs)."""
        return self._values(self._check_X(X))

    def _values(self, X: Any) -> np.ndarray:
        p = self._forward(X)
        return p.ravel() if p.shape[1] == 1 else p

    def _score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        return self._score_with(X, y, sample_weight, validation_r2, self._values)
