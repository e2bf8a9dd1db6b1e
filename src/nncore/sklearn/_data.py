"""Inputs of the estimators: X and y checked, and rows handed to the network one
minibatch at a time.

What it is for: what scikit-learn's ``validate_data`` does not say (which column
holds a NaN), and sparse X densified ONE MINIBATCH at a time (never the whole
matrix). What it is not: the parameter checks (``_params``), the label encoding
(the classifier's), the sample weights (nncore's one weight check,
``nncore._targets.check_sample_weight``).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["check_finite", "dense_rows"]


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


def dense_rows(X: Any, idx: np.ndarray | slice, dtype: np.dtype) -> np.ndarray:
    """Rows ``idx`` of X as a C-contiguous ``dtype`` array (a sparse X densified here,
    these rows only)."""
    rows = X[idx]
    if sp.issparse(rows):
        return rows.toarray().astype(dtype, copy=False)
    return np.ascontiguousarray(rows, dtype=dtype)
