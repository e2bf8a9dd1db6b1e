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

from . import _core, _registry
from ._targets import check_sample_weight, check_target
from ._validate import finite_float

__all__ = [
    "ACTIVATIONS", "ACT_CODES", "activation", "activation_backward",
    "identity", "relu", "leaky_relu", "elu", "gelu", "silu", "softplus", "sigmoid",
    "tanh", "softmax", "log_softmax", "LOSSES", "LOSS_CODES", "loss",
    "dropout", "dropout_backward", "philox4x32",
]

#: activation name -> nn_act value of csrc/nncore.h (from nncore._registry)
ACT_CODES = {n: a.code for n, a in _registry.ACTIVATIONS.items()}
ACTIVATIONS = tuple(ACT_CODES)
_ACT_PARAM = {n: (a.param, a.default) for n, a in _registry.ACTIVATIONS.items() if a.param}
_ROWWISE = tuple(n for n, a in _registry.ACTIVATIONS.items() if a.rowwise)

#: loss name -> nn_loss_kind value (cross_entropy: the labels kind; probabilities
#: run NN_LOSS_CE_PROBS)
LOSS_CODES = {n: l.code for n, l in _registry.LOSSES.items()}
LOSSES = tuple(LOSS_CODES)
_LOSS_PARAM = {n: (l.param, l.default) for n, l in _registry.LOSSES.items() if l.param}
_REDUCTIONS = _registry.REDUCTIONS


def _check_status(st: int, what: str) -> None:
    if st != 0:
        raise ValueError(f"{what}: {_core._strerror(st)} (status {st})")


def _float_array(a: Any, what: str) -> np.ndarray:
    """a as a C-contiguous float32/float64 array; TypeError for any other dtype."""
    arr = np.asarray(a)
    if arr.dtype not in (np.float32, np.float64):
        raise TypeError(f"{what} must be a float32 or float64 array, got dtype {arr.dtype}")
    return _behaved(arr)


def _behaved(arr: np.ndarray, dtype: Any = None) -> np.ndarray:
    """arr (cast to dtype) as C reads it: C-contiguous, aligned, native byte order.
    np.ascontiguousarray keeps an unaligned array as is; C loads from it are undefined
    behaviour (found by UBSan: misaligned float loads in the softmax row kernel)."""
    arr = np.asarray(arr, dtype=dtype)
    f = arr.flags
    if f.c_contiguous and f.aligned and arr.dtype.isnative:
        return arr
    return np.array(arr, dtype=arr.dtype.newbyteorder("="), order="C", copy=True)


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
    return finite_float(param, f"{name} {pname}")


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


def _loss_param(name: str, param: dict) -> float:
    allowed = _LOSS_PARAM.get(name)
    extra = set(param) - ({allowed[0]} if allowed else set())
    if extra:
        raise TypeError(f"loss {name!r} got unexpected parameter(s) {sorted(extra)}; "
                        f"it takes {[allowed[0]] if allowed else 'none'}")
    if allowed is None:
        return 0.0
    pname, default = allowed
    v = finite_float(param.get(pname, default), pname)
    if pname == "delta" and not (v > 0 and math.isfinite(v)):
        raise ValueError(f"huber delta must be a finite number > 0, got {v}")
    if pname == "label_smoothing" and not (0.0 <= v <= 1.0):
        raise ValueError(f"label_smoothing must be in [0, 1], got {v}")
    return v


def loss(name: str, out: np.ndarray, target: np.ndarray, reduction: str = "mean",
         sample_weight: Any = None, **param: float) -> tuple[float, np.ndarray]:
    """A loss and its gradient with respect to ``out``, in one fused pass.

    Parameters
    ----------
    name : str
        ``"mse"``, ``"l1"``, ``"huber"`` (param ``delta`` > 0, default 1.0),
        ``"bce_logits"`` (binary cross-entropy on logits; targets in [0, 1]),
        ``"poisson"`` (half Poisson deviance of log rates; targets >= 0) or
        ``"cross_entropy"`` (softmax cross-entropy on logits; param
        ``label_smoothing`` in [0, 1], default 0.0, as PyTorch defines it).
    out : ndarray, float32 or float64
        Network outputs (logits for bce_logits / cross_entropy). Any non-empty shape
        for the elementwise losses; (rows, classes) for cross_entropy.
    target : ndarray
        Same shape as ``out`` (cast once to out's dtype; must be finite). For
        cross_entropy: class labels (rows,) in [0, classes) — integers, or floats
        whose every value is an integer — or probabilities (rows, classes) in
        [0, 1]. The same check as the loss objects, ``train_step`` and ``fit``
        (``nncore._targets``).
    reduction : ``"mean"`` (default: over all elements; over rows for
        cross_entropy) or ``"sum"``.
    sample_weight : array (rows,), optional
        Weights of the rows (the first axis of ``out``): terms and gradients of row i
        are multiplied by w_i, the mean becomes ``sum_i w_i l_i / sum_i w_i`` (divided
        by the other axes' size for the elementwise losses). Finite, >= 0, not all 0.

    Returns
    -------
    loss : float
    grad : ndarray, same shape and dtype as ``out`` — d loss / d out.
    """
    if not isinstance(name, str):
        raise TypeError(f"loss name must be a str, got {type(name).__name__}")
    if name not in LOSS_CODES:
        raise ValueError(f"unknown loss {name!r}; expected one of {LOSSES}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    p = _loss_param(name, param)
    o = _float_array(out, "out")
    if o.size == 0:
        raise ValueError(f"out must not be empty, got shape {o.shape}")
    code = LOSS_CODES[name]
    if name == "cross_entropy":
        if o.ndim != 2:
            raise ValueError(f"cross_entropy needs out of shape (rows, classes), got {o.shape}")
        rows, cols = o.shape
        t, labels = check_target(target, o.shape, o.dtype, "ce", f"loss {name!r} target")
        if labels is None:
            code = _registry.LOSS_KINDS["ce_probs"]
    else:
        t, labels = check_target(target, o.shape, o.dtype,
                                 {"bce_logits": "bce", "poisson": "counts"}.get(name, "values"),
                                 f"loss {name!r} target")
        rows, cols = 1, o.size
    w = None
    if sample_weight is not None:
        rows, cols = (o.shape[0], o.size // o.shape[0]) if o.ndim else (1, 1)
        w = check_sample_weight(sample_weight, rows, o.dtype)
    grad = np.empty_like(o)
    st, value = _core._loss(code, _REDUCTIONS[reduction], p, grad, o, t, labels, rows, cols, w)
    _check_status(st, f"loss {name!r}")
    return float(value), grad


def _check_dropout_p(p: Any) -> float:
    try:
        v = finite_float(p, "dropout probability p")
    except ValueError:  # NaN, inf, an int past the float range
        raise ValueError(f"dropout probability p must be in [0, 1), got {p}") from None
    p = v
    if not (0.0 <= p < 1.0):
        raise ValueError(f"dropout probability p must be in [0, 1), got {p}")
    return p


def _check_uint(v: Any, bits: int, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{what} must be an int, got {type(v).__name__}")
    v = int(v)
    if not (0 <= v < 1 << bits):
        raise ValueError(f"{what} must be in [0, 2**{bits}), got {v}")
    return v


def dropout(x: np.ndarray, p: float, seed: int, step: int = 0, layer: int = 0,
            training: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Inverted dropout with a counter-based mask.

    Element i is kept iff u_i >= p, where u_i in [0, 1) comes from Philox4x32-10
    keyed by ``seed`` at counter (i // 4, step, layer) (layout in csrc/rng.c), so
    the mask depends only on (seed, step, layer) — never on the thread count.
    Kept elements are scaled by 1 / (1 - p). For float32 inputs p is rounded to
    float32 first.

    Parameters
    ----------
    x : ndarray (any shape), float32 or float64
    p : float in [0, 1) — the probability of dropping an element
    seed : int in [0, 2**64)
    step : int in [0, 2**64) — e.g. the training step (a new mask per step)
    layer : int in [0, 2**32) — tells the dropout layers of one network apart
    training : bool — False returns (copy of x, all-True mask): dropout is the
        identity at inference

    Returns
    -------
    y : ndarray like x
    mask : ndarray of bool like x (True = kept)
    """
    p = _check_dropout_p(p)
    seed = _check_uint(seed, 64, "seed")
    step = _check_uint(step, 64, "step")
    layer = _check_uint(layer, 32, "layer")
    xa = _float_array(x, "x")
    if not training:
        return xa.copy(), np.ones(xa.shape, dtype=bool)
    if xa.size > 1 << 34:
        raise ValueError(f"dropout handles at most 2**34 elements per call, got {xa.size}")
    y = np.empty_like(xa)
    mask = np.empty(xa.shape, dtype=bool)
    _check_status(_core._dropout_forward(y, mask, xa, xa.size, p, seed, step, layer), "dropout")
    return y, mask


def dropout_backward(dy: np.ndarray, mask: np.ndarray, p: float) -> np.ndarray:
    """Gradient of :func:`dropout`: dx = dy / (1 - p) where kept, 0 where dropped.

    Parameters
    ----------
    dy : ndarray, float32 or float64
    mask : ndarray of bool (or 0/1 integers) with dy's shape, from :func:`dropout`
    p : the p given to :func:`dropout`

    Returns
    -------
    dx : ndarray like dy.
    """
    p = _check_dropout_p(p)
    g = _float_array(dy, "dy")
    m = np.asarray(mask)
    if m.shape != g.shape:
        raise ValueError(f"mask must have the shape of dy {g.shape}, got {m.shape}")
    if m.dtype != np.bool_:
        if not np.issubdtype(m.dtype, np.integer):
            raise TypeError(f"mask must be bool (or 0/1 integers), got dtype {m.dtype}")
        m = m != 0
    m = _behaved(m)
    dx = np.empty_like(g)
    _check_status(_core._dropout_backward(dx, g, m, g.size, p), "dropout_backward")
    return dx


def philox4x32(counter: tuple[int, int, int, int], key: tuple[int, int]) -> tuple[int, ...]:
    """The four 32-bit words of Philox4x32-10 for one counter and key (nncore's RNG)."""
    for name, v in (("counter", counter), ("key", key)):
        if isinstance(v, (str, bytes, bytearray)):  # iterable, but not of words
            raise TypeError(f"{name} must be a sequence of integers, got {type(v).__name__}")
    if len(counter) != 4 or len(key) != 2:
        raise ValueError(f"counter needs 4 words and key 2, got {len(counter)} and {len(key)}")
    c = [_check_uint(v, 32, "counter word") for v in counter]
    k = [_check_uint(v, 32, "key word") for v in key]
    return _core._philox4x32(c, k)
