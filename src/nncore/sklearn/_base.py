"""What MLPClassifier and MLPRegressor share: the fit driver, the network, the
fitted attributes, inference, pickling.

What it is for: ``BaseMLP``. ``fit`` checks the parameters and the data, draws the
initial weights from the estimator's RandomState exactly as scikit-learn does
(Glorot uniform, layer by layer, coefficients then intercepts), builds ONE
``nncore.nn.Sequential`` (``model_``) holding them, and runs a solver
(``_stochastic`` or ``_lbfgs``) on it. ``coefs_`` and ``intercepts_`` are views of
the network's flat parameter buffer, (in, out) and (out,) like scikit-learn's:
editing them in place edits the network; arrays assigned in their place are copied
into it before the next predict or fit. What it is not: the label encoding
(``_classifier``), the targets of regression (``_regressor``).
"""
from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import config, nn
from .._targets import check_sample_weight
from ._data import check_finite, dense_rows
from ._lbfgs import fit_lbfgs
from ._outputs import activate
from ._params import (STOCHASTIC, activation_layer, check_params, dropout_rates, hidden_sizes,
                      model_dtype)
from ._stochastic import fit_stochastic

__all__ = ["BaseMLP"]

_PREDICT_BATCH = 1024  # rows per inference call (a sparse X is densified this many at a time)


class BaseMLP(BaseEstimator):
    """Base class of the estimators (do not use directly)."""

    _is_classifier = False

    def _store_params(self, params: dict) -> None:
        """``__init__``: every constructor argument stored unchanged under its own name
        (scikit-learn's contract: no checks or conversions there; ``fit`` checks)."""
        for name, value in params.items():
            if name != "self":
                setattr(self, name, value)

    # ---------------------------------------------------------------- hooks
    def _out_activation(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool):
        raise NotImplementedError  # pragma: no cover - overridden

    def _row_weights(self, sw: np.ndarray | None, Y: np.ndarray, dtype) -> np.ndarray | None:
        return sw

    def _validation_targets(self, Y_val: np.ndarray) -> np.ndarray:
        return Y_val

    def _score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        raise NotImplementedError  # pragma: no cover - overridden

    # ------------------------------------------------------------------- fit
    def _check_data(self, X: Any, y: Any, reset: bool, **kw: Any):
        """validate_data without its finiteness check, then ours (it names the column)."""
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset,
                             ensure_all_finite=False, **kw)
        check_finite(X, "X")
        return X, y

    def _fit(self, X: Any, y: Any, sample_weight: Any = None, incremental: bool = False):
        check_params(self)
        hidden = hidden_sizes(self)
        first_pass = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        X, Y = self._validate_input(X, y, incremental, reset=first_pass)
        if first_pass:
            dtype = model_dtype(self.dtype) if self.dtype is not None else X.dtype
        else:
            dtype = self.model_.dtype
        sw = check_sample_weight(sample_weight, X.shape[0], dtype)
        sw = self._row_weights(sw, Y, dtype)
        if Y.ndim == 1:
            Y = Y.reshape((-1, 1))
        layer_units = [X.shape[1]] + hidden + [Y.shape[1]]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(Y, layer_units, dtype)
        else:
            self._check_continuation(layer_units)
        if sp.issparse(X):
            X = X.tocsr()
        with self._threads():
            self._sync_attrs()
            if self.solver in STOCHASTIC:
                fit_stochastic(self, X, Y, sw, incremental)
            else:
                fit_lbfgs(self, X, Y, sw)
        if not np.isfinite(self.model_.flat_params).all():
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             "contain large values and need to be preprocessed.")
        return self

    def _check_continuation(self, layer_units: list[int]) -> None:
        """warm_start / partial_fit go on with the same network: the same sizes."""
        have = [self.coefs_[0].shape[0]] + [c.shape[1] for c in self.coefs_]
        if have != layer_units:
            what = ("features" if have[0] != layer_units[0] else
                    "outputs" if have[-1] != layer_units[-1] else "hidden layer sizes")
            raise ValueError(f"cannot continue training (warm_start / partial_fit) with other "
                             f"{what}: the network has layer sizes {have}, this fit needs "
                             f"{layer_units}")

    def _initialize(self, Y: np.ndarray, layer_units: list[int], dtype: np.dtype) -> None:
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        rs = self._random_state
        factor = 2.0 if self.activation == "logistic" else 6.0
        coefs, intercepts = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            coefs.append(rs.uniform(-bound, bound, (fan_in, fan_out)))
            intercepts.append(rs.uniform(-bound, bound, fan_out))
        rates = dropout_rates(self, len(layer_units) - 2)
        seed = int(rs.randint(np.iinfo(np.int32).max)) if any(rates) else 0
        layers: list[nn.Layer] = []
        for i, (fan_in, fan_out) in enumerate(zip(layer_units[:-1], layer_units[1:])):
            layers.append(nn.Linear(fan_in, fan_out))
            if i < len(layer_units) - 2:
                layers.append(activation_layer(self.activation))
                if rates[i]:
                    layers.append(nn.Dropout(rates[i]))
        model = nn.Sequential(*layers, dtype=dtype, seed=seed)
        linears = [layer for layer in model.layers if isinstance(layer, nn.Linear)]
        for layer, c, b in zip(linears, coefs, intercepts):
            layer.weight.data[...] = c.T
            layer.bias.data[...] = b
        self.model_ = model
        self._bind_attrs()
        self._best_params = model.flat_params.copy()
        self.__dict__.pop("_optimizer", None)
        if self.solver in STOCHASTIC:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    # ------------------------------------------------ coefs_ / intercepts_
    def _linears(self) -> list[nn.Linear]:
        return [layer for layer in self.model_.layers if isinstance(layer, nn.Linear)]

    def _bind_attrs(self) -> None:
        """coefs_ / intercepts_ as views of the network's parameters."""
        self.coefs_ = [layer.weight.data.T for layer in self._linears()]
        self.intercepts_ = [layer.bias.data for layer in self._linears()]

    def _sync_attrs(self) -> None:
        """Copy coefs_ / intercepts_ into the network where they are no longer its views
        (arrays assigned in their place), then make them views again."""
        linears = self._linears()
        if len(self.coefs_) != len(linears) or len(self.intercepts_) != len(linears):
            raise ValueError(f"coefs_ and intercepts_ must hold {len(linears)} arrays each, got "
                             f"{len(self.coefs_)} and {len(self.intercepts_)}")
        stale = False
        for layer, c, b in zip(linears, self.coefs_, self.intercepts_):
            for have, param, view in ((c, layer.weight, layer.weight.data.T),
                                      (b, layer.bias, layer.bias.data)):
                if _same_view(have, view):
                    continue
                have = np.asarray(have)
                if have.shape != view.shape:
                    raise ValueError(f"an array of coefs_ / intercepts_ has shape {have.shape}, "
                                     f"the network needs {view.shape}")
                view[...] = have
                stale = True
        if stale:
            self._bind_attrs()

    # ------------------------------------------------------------- inference
    def _threads(self) -> contextlib.AbstractContextManager:
        if self.n_threads is None:
            return contextlib.nullcontext()
        return config.num_threads(int(self.n_threads))

    def _check_X(self, X: Any) -> Any:
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                          dtype=(np.float64, np.float32), ensure_all_finite=False)
        check_finite(X, "X")
        return X

    def _forward(self, X: Any) -> np.ndarray:
        """The output activation of the network's outputs for checked X: (n, n_outputs)."""
        self._sync_attrs()
        model = self.model_
        n = X.shape[0]
        out = np.empty((n, model.out_features), model.dtype)
        with self._threads():
            if sp.issparse(X):
                X = X.tocsr()
                for s in range(0, n, _PREDICT_BATCH):
                    e = min(s + _PREDICT_BATCH, n)
                    out[s:e] = model(dense_rows(X, slice(s, e), model.dtype))
            elif n:
                model.predict_into(np.ascontiguousarray(X, dtype=model.dtype), out,
                                   _PREDICT_BATCH)
        return activate(self.out_activation_, out)

    def _score_with(self, X: Any, y: Any, sample_weight: Any, metric: Any, predict: Any):
        """metric(y, predictions) for unchecked X (the validation set of early stopping);
        NaN when the predictions are not finite."""
        y_pred = predict(X)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return metric(y, y_pred, sample_weight=sample_weight)

    # ----------------------------------------------------------- estimators
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags

    def __getstate__(self) -> dict:
        if "model_" in self.__dict__ and "coefs_" in self.__dict__:
            self._sync_attrs()   # arrays assigned in place of coefs_ / intercepts_ count
        state = dict(super().__getstate__())
        state.pop("coefs_", None)       # views of model_: rebuilt on loading
        state.pop("intercepts_", None)
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        if "model_" in state:
            self._bind_attrs()
            if "_optimizer" in state:
                self._optimizer.rebind(self.model_)


def _same_view(a: Any, view: np.ndarray) -> bool:
    return (isinstance(a, np.ndarray) and a.shape == view.shape and a.strides == view.strides
            and a.dtype == view.dtype
            and a.__array_interface__["data"][0] == view.__array_interface__["data"][0])

