"""Pure-NumPy twins of nncore's elementwise kernels, losses and dropout.

The oracle for ``csrc/activation.c``, ``csrc/loss.c``, ``csrc/rng.c`` and
``csrc/dropout.c``: the same formulas (see the comment at the top of
``csrc/activation_tmpl.h``), computed in float64 and returned in the input's
dtype. Dropout masks are bit-identical to the C ones (a vectorized Philox4x32-10
with the same key/counter layout, documented in ``csrc/rng.c``).
Never calls into nncore's C core.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = [
    "ACTIVATIONS", "LOSSES", "activation", "activation_backward", "loss",
]

ACTIVATIONS = ("identity", "relu", "leaky_relu", "elu", "gelu", "gelu_tanh", "silu",
               "softplus", "sigmoid", "tanh", "softmax", "log_softmax")
LOSSES = ("mse", "l1", "huber", "bce_logits", "cross_entropy")
_DEFAULT_PARAM = {"leaky_relu": 0.01, "elu": 1.0}

_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715
_erfc = np.frompyfunc(math.erfc, 1, 1)


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def _sig(x):
    """(sigmoid(x), sigmoid(x) * (1 - sigmoid(x))), stable for any x incl. +-inf."""
    e = np.exp(-np.abs(x))
    r = 1.0 / (1.0 + e)
    return np.where(x >= 0, r, e * r), e * r * r


def _times(x, g):
    """x * g, but 0 where g == 0 (so -inf * 0 is the limit 0, not NaN)."""
    with np.errstate(invalid="ignore"):
        return np.where(g > 0, x * g, 0.0)


def _forward64(name, x, p):
    if name == "identity":
        return x.copy()
    if name == "relu":
        return np.where(x < 0, 0.0, x)
    if name == "leaky_relu":
        return np.where(x > 0, x, x * p)
    if name == "elu":
        with np.errstate(invalid="ignore", over="ignore"):
            return np.where(x > 0, x, p * np.expm1(np.minimum(x, 0.0)))
    if name == "gelu":
        cdf = 0.5 * _erfc(-x / math.sqrt(2.0)).astype(np.float64)
        return _times(x, cdf)
    if name == "gelu_tanh":
        with np.errstate(over="ignore", invalid="ignore"):
            u = _GELU_K * (x + _GELU_C * x * x * x)
        s, _ = _sig(2.0 * u)
        return _times(x, s)
    if name == "silu":
        s, _ = _sig(x)
        return _times(x, s)
    if name == "softplus":
        return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))
    if name == "sigmoid":
        return _sig(x)[0]
    if name == "tanh":
        return np.tanh(x)
    if name in ("softmax", "log_softmax"):
        m = np.max(x, axis=-1, keepdims=True)
        with np.errstate(invalid="ignore"):
            z = x - m
        e = np.exp(z)
        s = np.sum(e, axis=-1, keepdims=True)
        return e / s if name == "softmax" else z - np.log(s)
    raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")


def _derivative64(name, x, p):
    if name == "identity":
        return np.ones_like(x)
    if name == "relu":
        return np.where(x > 0, 1.0, 0.0)
    if name == "leaky_relu":
        return np.where(x > 0, 1.0, p)
    if name == "elu":
        return np.where(x > 0, 1.0, p * np.exp(np.minimum(x, 0.0)))
    if name == "gelu":
        cdf = 0.5 * _erfc(-x / math.sqrt(2.0)).astype(np.float64)
        with np.errstate(over="ignore"):
            pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        return cdf + _times(x, pdf)
    if name == "gelu_tanh":
        with np.errstate(over="ignore", invalid="ignore"):
            x2 = x * x
            u = _GELU_K * (x + _GELU_C * x2 * x)
            du = 2.0 * _GELU_K * (1.0 + 3.0 * _GELU_C * x2)
        s, t = _sig(2.0 * u)
        with np.errstate(invalid="ignore", over="ignore"):
            return s + np.where(t > 0, x * t * du, 0.0)
    if name == "silu":
        s, t = _sig(x)
        return s + _times(x, t)
    if name == "softplus":
        return _sig(x)[0]
    if name == "sigmoid":
        return _sig(x)[1]
    if name == "tanh":
        e = np.exp(-2.0 * np.abs(x))
        r = 1.0 / (1.0 + e)
        return 4.0 * e * r * r
    raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")


def _param(name, param):
    return _DEFAULT_PARAM.get(name, 0.0) if param is None else float(param)


def activation(x: np.ndarray, name: str, param: float | None = None) -> np.ndarray:
    """y = f(x), elementwise, or row-wise over the last axis for (log_)softmax.

    Parameters
    ----------
    x : ndarray (..., cols), float32 or float64
    name : one of ``ACTIVATIONS``
    param : negative_slope (leaky_relu, default 0.01) or alpha (elu, default 1.0)

    Returns
    -------
    ndarray, same shape and dtype as x (computed in float64).
    """
    x = np.asarray(x)
    return _forward64(name, _f64(x), _param(name, param)).astype(x.dtype)


def activation_backward(dy: np.ndarray, x: np.ndarray | None, y: np.ndarray | None,
                        name: str, param: float | None = None) -> np.ndarray:
    """dx = dy * f'(x); softmax kinds use y = f(x) (row-wise over the last axis).

    Returns
    -------
    ndarray, same shape and dtype as dy (computed in float64).
    """
    dy = np.asarray(dy)
    g = _f64(dy)
    if name in ("softmax", "log_softmax"):
        yy = _f64(y)
        if name == "softmax":
            d = np.sum(g * yy, axis=-1, keepdims=True)
            return (yy * (g - d)).astype(dy.dtype)
        return (g - np.exp(yy) * np.sum(g, axis=-1, keepdims=True)).astype(dy.dtype)
    if name == "identity":
        return dy.copy()
    return (g * _derivative64(name, _f64(x), _param(name, param))).astype(dy.dtype)


def loss(name: str, out: np.ndarray, target: np.ndarray, reduction: str = "mean",
         **param) -> tuple[float, np.ndarray]:
    """Loss and its gradient w.r.t. ``out`` (same formulas as csrc/loss_tmpl.h).

    Parameters
    ----------
    name : "mse", "l1", "huber" (``delta``, default 1), "bce_logits" or
        "cross_entropy" (``label_smoothing``, default 0)
    out : ndarray (rows, cols) (any shape for the elementwise losses)
    target : ndarray like ``out``; for cross_entropy either integer labels (rows,)
        or probabilities (rows, cols)
    reduction : "mean" (over elements; over rows for cross_entropy) or "sum"

    Returns
    -------
    (loss, grad) : float, and ndarray like ``out`` in its dtype (computed in float64).
    """
    out = np.asarray(out)
    x = _f64(out)
    tgt = np.asarray(target)
    if name == "cross_entropy":
        rows, cols = x.shape
        eps = float(param.get("label_smoothing", 0.0))
        if np.issubdtype(tgt.dtype, np.integer):
            q = np.full((rows, cols), eps / cols)
            q[np.arange(rows), tgt] += 1.0 - eps
        else:
            q = (1.0 - eps) * _f64(tgt) + eps / cols
        m = np.max(x, axis=1, keepdims=True)
        s = np.sum(np.exp(x - m), axis=1, keepdims=True)
        lp = (x - m) - np.log(s)
        with np.errstate(invalid="ignore"):
            per = -np.sum(np.where(q != 0, q * lp, 0.0), axis=1)
        p = np.exp(x - m) / s
        g = p * np.sum(q, axis=1, keepdims=True) - q
        count = rows
    else:
        t = _f64(tgt)
        d = x - t
        if name == "mse":
            per, g = d * d, 2.0 * d
        elif name == "l1":
            per, g = np.abs(d), np.sign(d)
        elif name == "huber":
            delta = float(param.get("delta", 1.0))
            ad = np.abs(d)
            per = np.where(ad <= delta, 0.5 * d * d, delta * (ad - 0.5 * delta))
            g = np.clip(d, -delta, delta)
        elif name == "bce_logits":
            e = np.exp(-np.abs(x))
            with np.errstate(invalid="ignore"):
                per = (np.log1p(e) + np.where(t > 0, t * np.maximum(-x, 0.0), 0.0)
                       + np.where(t < 1, (1.0 - t) * np.maximum(x, 0.0), 0.0))
            g = _sig(x)[0] - t
        else:
            raise ValueError(f"unknown loss {name!r}; expected one of {LOSSES}")
        count = x.size
    total = float(np.sum(per))
    if reduction == "mean":
        return total / count, (g / count).astype(out.dtype)
    return total, g.astype(out.dtype)
