"""Inputs that are not arrays: rows read from any array-like one minibatch at a time.

What it is for: ``fit``, ``evaluate`` and ``predict`` on an ``X`` that is neither a NumPy
array nor convertible to one (no ``__array__``), but has ``__len__`` and ``__getitem__``
on an int64 index array returning those rows — a dataset class of the user's that
decodes or fetches rows on demand. ``Sequential.prepare_inputs`` wraps it in a
:class:`RowSource`; the training and inference loops then read one batch at a time
(a slice of rows, or the rows of a shuffled batch) as a C-contiguous array of the
model's dtype, so the data never has to fit in memory.
What it is not: a data loader (no prefetching, no workers) nor a converter of objects
NumPy already reads (lists, pandas, h5py datasets: those have ``__array__`` and are
converted whole by ``np.asarray``, as before), and never a Mapping (a dict has
``__len__`` and ``__getitem__`` but keys, not rows: a TypeError).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["RowSource", "is_row_source", "check_finite_rows", "gather_rows"]


def is_row_source(X: Any) -> bool:
    """Whether ``X`` is read through a :class:`RowSource` (see the module docstring)."""
    # a Mapping has __len__ and __getitem__ but keys, not rows: an empty dict
    # must not pass as an empty X (it is a TypeError like any non-array)
    return (not isinstance(X, (np.ndarray, list, tuple, str, bytes, Mapping))
            and not hasattr(X, "__array__")
            and hasattr(X, "__len__") and hasattr(X, "__getitem__"))


class RowSource:
    """Rows ``[start, stop)`` of an array-like ``src`` as a read-only 2-D input.

    ``len``, ``shape``, ``dtype`` and ``ndim`` as an array (n, n_features) of the
    model's dtype; ``X[a:b]`` (step 1) reads those rows: ``src[np.arange(...)]``
    checked — shape (rows, n_features) ((rows,) when n_features is 1), numbers — and
    cast to an aligned C-contiguous array; :meth:`rows` is a sub-range read later.

    Parameters
    ----------
    src : object with ``__len__`` and ``__getitem__(int64 index array)``
    n_features : int
    dtype : numpy dtype (the model's)
    what : str
        The name of the input in error messages (``"X"``, ``"X_val"``).
    """

    ndim = 2

    def __init__(self, src: Any, n_features: int, dtype: Any, what: str = "X",
                 start: int = 0, stop: int | None = None) -> None:
        try:
            n = len(src)
        except TypeError as e:
            raise TypeError(f"{what} must be an array or have __len__ and __getitem__ on "
                            f"index arrays, got {type(src).__name__} ({e})") from None
        if not isinstance(n, int) or n < 0:
            raise TypeError(f"len({what}) must be an int >= 0, got {n!r}")
        self.src, self.what = src, what
        self.n_features, self.dtype = int(n_features), np.dtype(dtype)
        self.start, self.stop = start, n if stop is None else stop

    def __len__(self) -> int:
        return self.stop - self.start

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), self.n_features)

    def rows(self, a: int, b: int) -> "RowSource":
        """Rows ``[a, b)`` of this one (clipped as a slice is), still unread."""
        a, b, _ = slice(a, b).indices(len(self))
        return RowSource(self.src, self.n_features, self.dtype, self.what,
                         self.start + a, self.start + max(a, b))

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError(f"a RowSource reads slices of rows (step 1), got {key!r}")
        a, b, _ = key.indices(len(self))
        return self.read(np.arange(a, max(a, b), dtype=np.int64))

    def read(self, idx: np.ndarray) -> np.ndarray:
        """Rows ``idx`` (int64, relative to ``start``) read from ``src`` and checked."""
        k, nin = len(idx), self.n_features
        try:
            got = self.src[idx + self.start] if self.start else self.src[idx]
        except (TypeError, IndexError, KeyError) as e:
            # an object read one int at a time (a deque, a torch-style Dataset): its own
            # message names neither X nor the index arrays the loops read rows with
            raise TypeError(f"{self.what} is read a batch of rows at a time: "
                            f"{self.what}[int64 index array] must give those rows, but "
                            f"{type(self.src).__name__}[index array of {k}] raised "
                            f"{type(e).__name__}: {e}") from e
        try:
            a = np.asarray(got)
        except Exception as e:  # ragged rows and the like
            raise TypeError(f"{self.what}[index array] must give an array of rows, got "
                            f"{type(got).__name__} ({e})") from None
        if a.dtype.kind not in "fiub":
            raise TypeError(f"{self.what} must hold numbers, got rows of dtype {a.dtype}")
        if a.ndim == 1 and nin == 1:
            a = a.reshape(-1, 1)
        if a.shape != (k, nin):
            raise ValueError(f"{self.what}[index array of {k}] must give shape ({k}, {nin}) "
                             f"for this model, got {a.shape}")
        with np.errstate(over="ignore"):  # 1e300 -> float32 inf: check_finite_rows says
            return np.require(a, self.dtype, "CA")


def gather_rows(out: np.ndarray, X: RowSource, idx: np.ndarray) -> np.ndarray:
    """``out[i] = X[idx[i]]`` (what ``_core._gather_rows`` does for an array); ``out``
    is returned. ``idx`` is passed to the source as it is (unsorted: a shuffled batch)."""
    out[...] = X.read(idx)
    return out


def check_finite_rows(X: Any, what: str, block_bytes: int) -> None:
    """ValueError naming the first NaN/Inf of ``X`` (an array or a :class:`RowSource`,
    2-D, a float or integer dtype), read in blocks of about ``block_bytes``: a temporary
    the size of X would double a large data set (and read a np.memmap into memory)."""
    step = max(1, block_bytes // max(1, X.shape[1] * X.dtype.itemsize))
    for s in range(0, X.shape[0], step):
        block = X[s:s + step]
        if not np.isfinite(block).all():
            bad = np.argwhere(~np.isfinite(block))[0]
            raise ValueError(f"{what} contains NaN or Inf (first at row {s + bad[0]}, "
                             f"column {bad[1]})")
