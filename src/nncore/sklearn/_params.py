"""Checks of the estimators' constructor parameters, at the start of ``fit``.

What it is for: the values scikit-learn's MLP accepts, refused the way it refuses
them (a ValueError or TypeError naming the parameter, what it must be and what
came), plus nncore's extra parameters. What it is not: the checks of X, y and
sample weights (``_data``).
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import nn

__all__ = ["check_params", "SK_ACTIVATIONS", "ACTIVATION_NAMES", "STOCHASTIC", "SOLVERS"]

#: scikit-learn's hidden activations -> nncore activation names
SK_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
#: nncore's other activations, accepted too (by their nncore.nn name)
NNCORE_ACTIVATIONS = ("leaky_relu", "elu", "gelu", "silu", "softplus")
ACTIVATION_NAMES = tuple(SK_ACTIVATIONS) + NNCORE_ACTIVATIONS
#: solvers that train in minibatches (scikit-learn's two, then nncore's)
STOCHASTIC = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
SOLVERS = ("lbfgs",) + STOCHASTIC


class _Bad(ValueError, TypeError):
    """A parameter of the wrong type or value (a ValueError and a TypeError, as
    scikit-learn's InvalidParameterError is)."""


def _fail(est: Any, name: str, what: str, value: Any) -> None:
    raise _Bad(f"The {name!r} parameter of {type(est).__name__} must be {what}. "
               f"Got {value!r} instead.")


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _real(est, name, lo, hi, lo_closed=True, hi_closed=False):
    v = getattr(est, name)
    ok = _is_real(v) and bool(np.isfinite(v))
    if ok:
        ok = v >= lo if lo_closed else v > lo
    if ok and hi is not None:
        ok = v <= hi if hi_closed else v < hi
    if not ok:
        rng = (f"{'[' if lo_closed else '('}{lo}, {'inf' if hi is None else hi}"
               f"{']' if hi_closed and hi is not None else ')'}")
        _fail(est, name, f"a float in the range {rng}", v)
    return float(v)


def _int(est, name, lo):
    v = getattr(est, name)
    if not (_is_int(v) and v >= lo):
        _fail(est, name, f"an int in the range [{lo}, inf)", v)
    return int(v)


def _bool(est, name):
    v = getattr(est, name)
    if not isinstance(v, (bool, np.bool_)):
        _fail(est, name, "an instance of 'bool'", v)
    return bool(v)


def _option(est, name, options):
    v = getattr(est, name)
    if not isinstance(v, str) or v not in options:
        _fail(est, name, f"a str among {sorted(options)}", v)
    return v


def hidden_sizes(est: Any) -> list[int]:
    """``hidden_layer_sizes`` as a list of ints >= 1 (an int is one layer)."""
    h = est.hidden_layer_sizes
    sizes = [h] if not hasattr(h, "__iter__") or isinstance(h, str) else list(h)
    if not all(_is_int(s) for s in sizes):
        _fail(est, "hidden_layer_sizes", "an int or an array-like of ints", h)
    if any(s <= 0 for s in sizes):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    return [int(s) for s in sizes]


def dropout_rates(est: Any, n_hidden: int) -> list[float]:
    """``dropout`` as one rate per hidden layer, each in [0, 1)."""
    d = est.dropout
    rates = [d] * n_hidden if _is_real(d) else (list(d) if hasattr(d, "__iter__") else None)
    if rates is None or not all(_is_real(r) and 0 <= r < 1 for r in rates):
        _fail(est, "dropout", "a float in [0, 1) or one such float per hidden layer", d)
    if len(rates) != n_hidden:
        raise ValueError(f"dropout has {len(rates)} rates for {n_hidden} hidden layers")
    return [float(r) for r in rates]


def model_dtype(dtype: Any) -> np.dtype | None:
    """np.float32 / np.float64 for a dtype spelling of one of them, else None."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        return None
    return dt if dt in (np.float32, np.float64) else None


def check_params(est: Any) -> None:
    """Check every constructor parameter of ``est``; raise on the first bad one."""
    hidden_sizes(est)
    _option(est, "activation", ACTIVATION_NAMES)
    _option(est, "solver", SOLVERS)
    _real(est, "alpha", 0, None)
    bs = est.batch_size
    if not (bs == "auto" if isinstance(bs, str) else _is_int(bs) and bs >= 1):
        _fail(est, "batch_size", "an int in the range [1, inf) or a str among {'auto'}", bs)
    _option(est, "learning_rate", ("constant", "invscaling", "adaptive"))
    _real(est, "learning_rate_init", 0, None, lo_closed=False)
    _real(est, "power_t", 0, None)
    _int(est, "max_iter", 1)
    _bool(est, "shuffle")
    rs = est.random_state
    if not (rs is None or _is_int(rs) or isinstance(rs, np.random.RandomState)):
        _fail(est, "random_state", "an int, a RandomState instance or None", rs)
    _real(est, "tol", 0, None)
    if not (_is_int(est.verbose) or isinstance(est.verbose, (bool, np.bool_))):
        _fail(est, "verbose", "an int or a bool", est.verbose)
    _bool(est, "warm_start")
    _real(est, "momentum", 0, 1, hi_closed=True)
    _bool(est, "nesterovs_momentum")
    _bool(est, "early_stopping")
    _real(est, "validation_fraction", 0, 1)
    _real(est, "beta_1", 0, 1)
    _real(est, "beta_2", 0, 1)
    _real(est, "epsilon", 0, None, lo_closed=False)
    n = est.n_iter_no_change
    if not ((_is_int(n) and n >= 1) or (_is_real(n) and n == np.inf)):
        _fail(est, "n_iter_no_change", "an int in the range [1, inf) or inf", n)
    _int(est, "max_fun", 1)
    # nncore's extras
    dropout_rates(est, len(hidden_sizes(est)))
    _real(est, "l1", 0, None)
    if est.clip_norm is not None:
        _real(est, "clip_norm", 0, None, lo_closed=False)
    if est.dtype is not None and model_dtype(est.dtype) is None:
        _fail(est, "dtype", "None, 'float32' or 'float64'", est.dtype)
    if est.n_threads is not None:
        _int(est, "n_threads", 1)
    if est.solver == "lbfgs" and any(dropout_rates(est, len(hidden_sizes(est)))):
        raise ValueError("dropout needs a stochastic solver ('sgd', 'adam', ...): L-BFGS "
                         "minimizes one deterministic objective")


def activation_layer(name: str) -> nn.Layer:
    """The nncore layer of a hidden activation name (scikit-learn's or nncore's)."""
    return nn.activation(SK_ACTIVATIONS.get(name, name))
