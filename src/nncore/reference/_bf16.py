"""Reference bfloat16 compute mode in plain NumPy: the oracle of the bf16 GEMM.

bf16 is a compute mode of float32 models: each GEMM rounds its two operands to
bfloat16 (round to nearest even, by bit manipulation of the float32 pattern),
multiplies them exactly, sums the products in float64 and rounds the sum once
to float32. Everything else (bias, activations, losses, optimizer) is float32
arithmetic as in the float32 model; ``ReferenceNetwork(...,
compute_dtype="bfloat16")`` uses :func:`matmul_bf16` for its three GEMMs.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = ["round_bf16", "matmul_bf16"]


def round_bf16(x: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest bfloat16 (ties to even), as float32.

    NaN stays NaN (quieted, sign kept), +-inf stays inf, finite values past the
    largest bfloat16 become inf, subnormals are kept (no flush to zero).

    Parameters
    ----------
    x : array_like, any shape (cast to float32 first)

    Returns
    -------
    ndarray, float32, the shape of `x`
    """
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    r = np.where(nan, (u | 0x00400000) & 0xFFFF0000, r)
    return (r & 0xFFFFFFFF).astype(np.uint32).view(np.float32)


def matmul_bf16(a: np.ndarray, b: np.ndarray, out: Optional[np.ndarray] = None,
                alpha: float = 1.0, beta: float = 0.0,
                bias: Optional[np.ndarray] = None) -> np.ndarray:
    """``alpha * bf16(a) @ bf16(b) (+ beta * out) (+ bias)``: products of the rounded
    operands summed in float64, the result rounded once to float32 (then the
    float32 bias add, as the C epilogue).

    Parameters
    ----------
    a : ndarray, shape (m, k)
    b : ndarray, shape (k, n)
    out : ndarray, shape (m, n), optional
        Read when beta != 0; written in place and returned if given.
    alpha, beta : float
    bias : ndarray, shape (n,), optional

    Returns
    -------
    ndarray, float32, shape (m, n)
    """
    prod = round_bf16(a).astype(np.float64) @ round_bf16(b).astype(np.float64)
    prod = float(alpha) * prod
    if out is not None and beta != 0:
        prod = prod + float(beta) * out.astype(np.float64)
    res = prod.astype(np.float32)
    if bias is not None:
        res = res + np.asarray(bias, dtype=np.float32)
    if out is None:
        return res
    out[...] = res
    return out
