"""Inputs of the estimators: X, y and sample weights checked, and rows handed to the
network one minibatch at a time.

What it is for: what scikit-learn's ``validate_data`` does not say (which column
holds a NaN; negative or NaN weights), and sparse X densified ONE MINIBATCH at a
time (never the whole matrix). What it is not: the parameter checks (``_params``)
or the label encoding (the classifier's).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["check_finite", "check_sample_weight", "dense_rows"]


def check_finite(a: Any, what: str) -> None:
    """ValueError naming the first column (and row) of ``a`` that holds NaN or inf."""
    if sp.issparse(a):
        data = a.data
        if data.size and not np.isfinite(data).all():
            coo = a.tocoo()
            k = int(np.flatnonzero(~np.isfinite(coo.data))[0])
            raise ValueError(f"Input {what} contains NaN or infinity: column {coo.col[k]} "
                             f"(first at row {coo.row[k]})")
        return
    if a.dtype.kind in "fc" and not np.isfinite(a).all():
        a2 = a.reshape(len(a), -1)
        r, c = np.argwhere(~np.isfinite(a2))[0]
        col = f"column {c} " if a.ndim > 1 else ""
        raise ValueError(f"Input {what} contains NaN or infinity: {col}(first at row {r})")


def check_sample_weight(sample_weight: Any, n: int, dtype: np.dtype) -> np.ndarray | None:
    """``sample_weight`` as a (n,) array of ``dtype``: finite, >= 0, not all zero.

    A scalar is a weight for every row; None stays None (every row weighs 1).
    """
    if sample_weight is None:
        return None
    try:
        w = np.asarray(sample_weight)
    except Exception as e:
        raise TypeError(f"sample_weight must be array-like, got "
                        f"{type(sample_weight).__name__}") from e
    if w.dtype.kind not in "fiub":
        raise TypeError(f"sample_weight must hold numbers, got dtype {w.dtype}")
    if w.ndim == 0:
        w = np.full(n, w, dtype=dtype)
    if w.ndim != 1:
        raise ValueError(f"Sample weights must be 1D array or scalar, got an array of "
                         f"shape {w.shape}")
    if w.shape[0] != n:
        raise ValueError(f"sample_weight.shape == ({w.shape[0]},), expected ({n},)!")
    w = np.array(w, dtype=dtype)  # a copy: the caller's array is never written
    if not np.isfinite(w).all():
        raise ValueError(f"sample_weight contains NaN or infinity (first at row "
                         f"{int(np.flatnonzero(~np.isfinite(w))[0])})")
    if (w < 0).any():
        raise ValueError(f"Negative values in sample_weight (first at row "
                         f"{int(np.flatnonzero(w < 0)[0])}): weights must be >= 0")
    if not w.sum() > 0:
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return w


def dense_rows(X: Any, idx: np.ndarray | slice, dtype: np.dtype) -> np.ndarray:
    """Rows ``idx`` of X as a C-contiguous ``dtype`` array (a sparse X densified here,
    these rows only)."""
    rows = X[idx]
    if sp.issparse(rows):
        return rows.toarray().astype(dtype, copy=False)
    return np.ascontiguousarray(rows, dtype=dtype)
