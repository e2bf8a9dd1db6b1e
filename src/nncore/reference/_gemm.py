"""Reference GEMM in plain NumPy: the oracle for nncore.ops.matmul.

Computed in float64 (float32 inputs too) and rounded once to the operands'
dtype, so it is at least as accurate as any float32 kernel it checks.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = ["matmul"]


def matmul(a: np.ndarray, b: np.ndarray, out: Optional[np.ndarray] = None,
           alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    """``out = alpha * a @ b + beta * out``; `out` is not read when ``beta == 0``.

    Parameters
    ----------
    a : ndarray, shape (m, k)
    b : ndarray, shape (k, n)
    out : ndarray, shape (m, n), optional
        Written in place and returned; a new array if None (then beta is ignored).
    alpha, beta : float

    Returns
    -------
    ndarray, shape (m, n), dtype of `a`
    """
    a = np.asarray(a)
    b = np.asarray(b)
    dtype = np.result_type(a.dtype, b.dtype)
    prod = float(alpha) * (a.astype(np.float64) @ b.astype(np.float64))
    if out is not None and beta != 0:
        prod = prod + float(beta) * out.astype(np.float64)
    if out is None:
        return prod.astype(dtype)
    out[...] = prod
    return out
