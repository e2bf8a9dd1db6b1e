"""nncore.ops.matmul: the BLIS-style C GEMM behind a lean, strict Python front.

Validation happens here (clear TypeError/ValueError naming expected vs got);
the C core receives raw pointers and element strides, so ``a.T``, slices,
Fortran-ordered and negatively strided operands are multiplied in place —
packing reads the strides, nothing is copied.
"""
from __future__ import annotations

from numbers import Real
from typing import Optional

import numpy as np

from . import _core

__all__ = ["matmul"]

_ndarray = np.ndarray
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_matmul_c = _core._matmul
_matmul_fast = _core._matmul_fast


def _operand(x, name: str) -> np.ndarray:
    """Turn an array-like into an ndarray without copying ndarrays (subclasses -> base view)."""
    if isinstance(x, _ndarray):
        return x.view(_ndarray)
    if x is None:
        raise TypeError(f"{name} must be a 2-D float32 or float64 array, got None")
    return np.asarray(x)


def _check_dtype(x: np.ndarray, name: str) -> None:
    dt = x.dtype
    if dt == _F32 or dt == _F64:
        return
    if dt.kind == "f" and dt.itemsize in (4, 8):
        raise TypeError(f"{name} must be float32 or float64 in native byte order, got {dt.str}")
    raise TypeError(f"{name} must be a float32 or float64 array, got dtype {dt}")


def _scalar(x, name: str) -> float:
    if type(x) is float:
        return x
    if isinstance(x, bool) or not isinstance(x, (Real, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    try:
        return float(x)
    except OverflowError:  # an int past the float range
        raise ValueError(f"{name} is too large for a float: {x}") from None


def _overlaps(out: np.ndarray, x: np.ndarray) -> bool:
    if not np.may_share_memory(out, x):
        return False
    try:
        return bool(np.shares_memory(out, x, max_work=100_000))
    except Exception:  # too hard to decide exactly: be safe
        return True


def _slow_checks(a, b, out):
    """Everything the fast path did not settle; raises or returns fixed operands."""
    a = _operand(a, "a")
    b = _operand(b, "b")
    for x, name in ((a, "a"), (b, "b")):
        if x.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got {x.ndim}-D array of shape {x.shape}")
        _check_dtype(x, name)
    if a.dtype != b.dtype:
        raise TypeError(f"a and b must have the same dtype, got {a.dtype} and {b.dtype} "
                        "(cast one explicitly)")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"inner dimensions differ: a is {a.shape}, b is {b.shape} "
                         f"(expected a.shape[1] == b.shape[0])")
    # strides that are not whole elements (rare views): the only case we copy
    if not a.flags.aligned:
        a = a.copy()
    if not b.flags.aligned:
        b = b.copy()
    return a, b


def matmul(a: np.ndarray, b: np.ndarray, out: Optional[np.ndarray] = None, *,
           alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    """Matrix product ``out = alpha * a @ b + beta * out`` on nncore's GEMM.

    Parameters
    ----------
    a : ndarray, shape (m, k), float32 or float64
        Any strides (``x.T``, slices, Fortran order, negative steps): not copied.
    b : ndarray, shape (k, n), same dtype as `a`
        Any strides.
    out : ndarray, shape (m, n), optional
        C-contiguous, writable, same dtype, must not overlap `a` or `b`.
        Read only when ``beta != 0`` (so NaN in `out` with ``beta == 0`` is harmless).
    alpha, beta : float
        Scale factors. Without `out`, the result starts from zeros and `beta`
        has no effect.

    Returns
    -------
    ndarray, shape (m, n)
        `out` if given, else a new C-contiguous array.

    Raises
    ------
    TypeError
        Non-float (int, bool, complex, object) or mixed-dtype operands, a
        non-array `out`, non-real `alpha`/`beta`.
    ValueError
        Not 2-D, mismatched inner dimensions, `out` of the wrong shape,
        read-only, non-contiguous or overlapping an input.

    Notes
    -----
    Results are bit-identical for any thread count (threads split rows and
    columns of `out`, never the sum over k). The GIL is released during the
    product.
    """
    # fast path, all checks in Cython: plain float ndarrays, float scalars, clean out
    res = _matmul_fast(a, b, out, alpha, beta)
    if res is not None:
        return res
    # everything else: full validation with precise messages
    if (type(a) is _ndarray and type(b) is _ndarray and a.ndim == 2 and b.ndim == 2
            and a.shape[1] == b.shape[0]):
        dt = a.dtype
        if not ((dt == _F32 or dt == _F64) and b.dtype == dt
                and a.flags.aligned and b.flags.aligned):
            a, b = _slow_checks(a, b, out)
            dt = a.dtype
    else:
        a, b = _slow_checks(a, b, out)
        dt = a.dtype
    if type(alpha) is not float:
        alpha = _scalar(alpha, "alpha")
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), dtype=dt)
        return _matmul_c(a, b, out, alpha, 0.0)
    if type(beta) is not float:
        beta = _scalar(beta, "beta")
    if not isinstance(out, _ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    shape = (a.shape[0], b.shape[1])
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}, expected {shape}")
    if out.dtype != dt:
        raise TypeError(f"out has dtype {out.dtype}, expected {dt} (the dtype of a and b)")
    flags = out.flags
    if not flags.writeable:
        raise ValueError("out is read-only, expected a writable array")
    if not flags.c_contiguous or not flags.aligned:
        raise ValueError("out must be C-contiguous (and aligned), got a strided view; "
                         "pass a contiguous buffer or None")
    if _overlaps(out, a) or _overlaps(out, b):
        raise ValueError("out overlaps an input (a or b); pass a separate output buffer")
    return _matmul_c(a, b, out.view(_ndarray) if type(out) is not _ndarray else out,
                     alpha, beta)
