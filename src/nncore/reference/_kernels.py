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
    "philox4x32", "dropout_uniform", "dropout_mask", "dropout", "dropout_backward",
]

ACTIVATIONS = ("identity", "relu", "leaky_relu", "elu", "gelu", "gelu_tanh", "silu",
               "softplus", "sigmoid", "tanh", "softmax", "log_softmax")
LOSSES = ("mse", "l1", "huber", "bce_logits", "cross_entropy", "poisson")
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
    """x * g, but 0 where g == 0 (so -inf * 0 is the limit 0, not NaN; a NaN g stays NaN)."""
    with np.errstate(invalid="ignore"):
        return np.where(g != 0, x * g, 0.0)


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
         weights: np.ndarray | None = None, **param) -> tuple[float, np.ndarray]:
    """Loss and its gradient w.r.t. ``out`` (same formulas as csrc/loss_tmpl.h).

    Parameters
    ----------
    name : "mse", "l1", "huber" (``delta``, default 1), "bce_logits",
        "cross_entropy" (``label_smoothing``, default 0) or "poisson" (out = log rate:
        exp(out) - t out + t (log t - 1), the last term 0 at t = 0)
    out : ndarray (rows, cols) (any shape for the elementwise losses)
    target : ndarray like ``out``; for cross_entropy either integer labels (rows,)
        or probabilities (rows, cols)
    reduction : "mean" (over elements; over rows for cross_entropy) or "sum"
    weights : ndarray (rows,), optional
        Row weights (rows = out's first axis): each row's terms and gradients times
        its weight; the mean divides by sum(weights) (times the other axes' size for
        the elementwise losses): sum_i w_i l_i / sum_i w_i.

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
        elif name == "poisson":
            e = np.exp(x)
            per = e - t * x + np.where(t > 0, t * (np.log(np.where(t > 0, t, 1.0)) - 1.0), 0.0)
            g = e - t
        else:
            raise ValueError(f"unknown loss {name!r}; expected one of {LOSSES}")
        count = x.size
    if weights is not None:
        w = _f64(weights)

        def by_row(a):  # one weight per row (the first axis)
            return a * w.reshape((-1,) + (1,) * (a.ndim - 1))
        per, g = by_row(per), by_row(g)
        count = w.sum() if name == "cross_entropy" else w.sum() * (per.size // len(w))
    total = float(np.sum(per))
    if reduction == "mean":
        return total / count, (g / count).astype(out.dtype)
    return total, g.astype(out.dtype)


# ------------------------------------------------------------------ Philox, dropout

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_LO = np.uint64(0xFFFFFFFF)
_SH = np.uint64(32)


def philox4x32(ctr: np.ndarray, key) -> np.ndarray:
    """Philox4x32-10 of many counters at once.

    Parameters
    ----------
    ctr : array (..., 4) of uint32 counters
    key : two uint32 words (k0, k1)

    Returns
    -------
    ndarray (..., 4) uint32: the random words.
    """
    c = np.asarray(ctr, dtype=np.uint64) & _LO
    c0, c1, c2, c3 = (c[..., i] for i in range(4))
    k0, k1 = int(key[0]) & 0xFFFFFFFF, int(key[1]) & 0xFFFFFFFF
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        c0, c1, c2, c3 = ((p1 >> _SH) ^ c1 ^ np.uint64(k0), p1 & _LO,
                          (p0 >> _SH) ^ c3 ^ np.uint64(k1), p0 & _LO)
        k0 = (k0 + _W0) & 0xFFFFFFFF
        k1 = (k1 + _W1) & 0xFFFFFFFF
    return np.stack([c0, c1, c2, c3], axis=-1).astype(np.uint32)


def dropout_uniform(n: int, seed: int, step: int = 0, layer: int = 0) -> np.ndarray:
    """u (n) float64 in [0, 1): nncore's dropout stream (layout documented in csrc/rng.c).

    key = (seed mod 2^32, seed >> 32); element i uses word i % 4 of the block with
    counter (i // 4, step mod 2^32, layer, step >> 32); u = (word >> 8) * 2^-24.
    """
    nblk = (n + 3) // 4
    ctr = np.zeros((nblk, 4), dtype=np.uint64)
    ctr[:, 0] = np.arange(nblk, dtype=np.uint64)
    ctr[:, 1] = step & 0xFFFFFFFF
    ctr[:, 2] = layer
    ctr[:, 3] = step >> 32
    words = philox4x32(ctr, (seed & 0xFFFFFFFF, seed >> 32)).reshape(-1)[:n]
    return (words >> np.uint32(8)).astype(np.float64) * 2.0 ** -24


def dropout_mask(n: int, p: float, seed: int, step: int = 0, layer: int = 0,
                 dtype=np.float32) -> np.ndarray:
    """Keep-mask (n) bool: u_i >= p, with p rounded to ``dtype`` as the C kernel does."""
    pr = float(np.asarray(p, dtype=dtype))
    return dropout_uniform(n, seed, step, layer) >= pr


def dropout(x: np.ndarray, p: float, seed: int, step: int = 0,
            layer: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inverted dropout: (y, mask) with y = x / (1 - p) where kept, 0 where dropped."""
    x = np.asarray(x)
    mask = dropout_mask(x.size, p, seed, step, layer, x.dtype).reshape(x.shape)
    one = x.dtype.type(1)
    scale = one / (one - x.dtype.type(p))
    return np.where(mask, x * scale, x.dtype.type(0)), mask


def dropout_backward(dy: np.ndarray, mask: np.ndarray, p: float) -> np.ndarray:
    """dx = dy / (1 - p) where kept, 0 where dropped."""
    dy = np.asarray(dy)
    one = dy.dtype.type(1)
    scale = one / (one - dy.dtype.type(p))
    return np.where(np.asarray(mask, dtype=bool), dy * scale, dy.dtype.type(0))
