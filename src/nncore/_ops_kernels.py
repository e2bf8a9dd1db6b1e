"""Activations, losses and dropout as plain functions on NumPy arrays (``nncore.ops``).

Every function validates its inputs, then runs one C kernel with the GIL
released. Arrays must already be float32 or float64 (integer or other float
arrays raise TypeError rather than being silently cast: a kernel call should
never hide a copy); targets of losses are the exception and are cast to the
output's dtype. Non-contiguous inputs are copied once. Results are new arrays.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _core

__all__ = [
    "ACTIVATIONS", "ACT_CODES", "activation", "activation_backward",
    "identity", "relu", "leaky_relu", "elu", "gelu", "silu", "softplus", "sigmoid",
    "tanh", "softmax", "log_softmax",
]

#: activation name -> nn_act value of csrc/nncore.h
ACT_CODES = {
    "identity": 0, "relu": 1, "leaky_relu": 2, "elu": 3, "gelu": 4, "gelu_tanh": 5,
    "silu": 6, "softplus": 7, "sigmoid": 8, "tanh": 9, "softmax": 10, "log_softmax": 11,
}
ACTIVATIONS = tuple(ACT_CODES)
_ACT_PARAM = {"leaky_relu": ("negative_slope", 0.01), "elu": ("alpha", 1.0)}
_ROWWISE = ("softmax", "log_softmax")


def _check_status(st: int, what: str) -> None:
    if st != 0:
        raise ValueError(f"{what}: {_core._strerror(st)} (status {st})")


def _float_array(a: Any, what: str) -> np.ndarray:
    """a as a C-contiguous float32/float64 array; TypeError for any other dtype."""
    arr = np.asarray(a)
    if arr.dtype not in (np.float32, np.float64):
        raise TypeError(f"{what} must be a float32 or float64 array, got dtype {arr.dtype}")
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def _act_code(name: Any) -> int:
    if not isinstance(name, str):
        raise TypeError(f"activation name must be a str, got {type(name).__name__}")
    try:
        return ACT_CODES[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}") from None


def _act_param(name: str, param: Any) -> float:
    if name not in _ACT_PARAM:
        if param is not None:
            raise ValueError(f"activation {name!r} takes no parameter, got param={param!r}")
        return 0.0
    pname, default = _ACT_PARAM[name]
    if param is None:
        return default
    if isinstance(param, bool) or not isinstance(param, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} {pname} must be a real number, got {type(param).__name__}")
    if not math.isfinite(float(param)):
        raise ValueError(f"{name} {pname} must be finite, got {param}")
    return float(param)


def _rows_cols(a: np.ndarray, name: str) -> tuple[int, int]:
    if name in _ROWWISE:
        if a.ndim == 0:
            raise ValueError(f"{name} needs an array with at least 1 dimension (rows over the "
                             f"last axis), got a 0-d array")
        cols = a.shape[-1]
        return (a.size // cols if cols else 0), cols
    return 1, a.size


def activation(x: np.ndarray, name: str, param: float | None = None) -> np.ndarray:
    """Apply an activation: elementwise, or row-wise over the last axis for (log_)softmax.

    Parameters
    ----------
    x : ndarray (..., cols), float32 or float64
    name : str
        One of ``ACTIVATIONS``: identity, relu, leaky_relu, elu, gelu (exact, erf),
        gelu_tanh, silu, softplus, sigmoid, tanh, softmax, log_softmax.
    param : float, optional
        ``negative_slope`` for leaky_relu (default 0.01), ``alpha`` for elu (default 1.0).

    Returns
    -------
    y : ndarray, same shape and dtype as x.
    """
    code = _act_code(name)
    p = _act_param(name, param)
    xa = _float_array(x, "x")
    rows, cols = _rows_cols(xa, name)
    y = np.empty_like(xa)
    _check_status(_core._act_forward(code, p, y, xa, rows, cols), f"activation {name!r}")
    return y


def activation_backward(dy: np.ndarray, x: np.ndarray | None, y: np.ndarray | None,
                        name: str, param: float | None = None) -> np.ndarray:
    """Gradient of an activation: dx = dy * f'(x).

    Parameters
    ----------
    dy : ndarray (..., cols), float32 or float64 — gradient w.r.t. the output
    x : ndarray like dy, or None — the input (read by the elementwise kinds)
    y : ndarray like dy, or None — the output f(x) (read by softmax and log_softmax;
        computed from x when None)
    name, param : as in :func:`activation`

    Returns
    -------
    dx : ndarray, same shape and dtype as dy.
    """
    code = _act_code(name)
    p = _act_param(name, param)
    g = _float_array(dy, "dy")

    def same(a, what):
        a = _float_array(a, what)
        if a.shape != g.shape:
            raise ValueError(f"{what} must have the shape of dy {g.shape}, got {a.shape}")
        if a.dtype != g.dtype:
            raise TypeError(f"{what} must have the dtype of dy ({g.dtype}), got {a.dtype}")
        return a

    xa = same(x, "x") if x is not None else None
    ya = same(y, "y") if y is not None else None
    if name in _ROWWISE:
        if ya is None:
            if xa is None:
                raise ValueError(f"{name} backward needs y (or x to recompute it)")
            ya = activation(xa, name)
        xa = None
    elif name != "identity" and xa is None:
        raise ValueError(f"{name} backward needs x, got None")
    rows, cols = _rows_cols(g, name)
    dx = np.empty_like(g)
    _check_status(_core._act_backward(code, p, dx, g, xa, ya, rows, cols),
                  f"activation_backward {name!r}")
    return dx


def identity(x: np.ndarray) -> np.ndarray:
    """y = x (a copy)."""
    return activation(x, "identity")


def relu(x: np.ndarray) -> np.ndarray:
    """y = max(x, 0) (NaN propagates)."""
    return activation(x, "relu")


def leaky_relu(x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """y = x if x > 0 else negative_slope * x."""
    return activation(x, "leaky_relu", negative_slope)


def elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """y = x if x > 0 else alpha * (exp(x) - 1)."""
    return activation(x, "elu", alpha)


def gelu(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    """GELU: x * Phi(x) (``approximate="none"``, erf) or its tanh approximation (``"tanh"``)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return activation(x, "gelu" if approximate == "none" else "gelu_tanh")


def silu(x: np.ndarray) -> np.ndarray:
    """y = x * sigmoid(x)."""
    return activation(x, "silu")


def softplus(x: np.ndarray) -> np.ndarray:
    """y = log(1 + exp(x)), computed without overflow."""
    return activation(x, "softplus")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """y = 1 / (1 + exp(-x)), computed without overflow."""
    return activation(x, "sigmoid")


def tanh(x: np.ndarray) -> np.ndarray:
    """y = tanh(x)."""
    return activation(x, "tanh")


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax over the last axis (shifted by the row max)."""
    return activation(x, "softmax")


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax over the last axis (x - max - log(sum(exp(x - max))))."""
    return activation(x, "log_softmax")
