"""Loss targets: the ONE check that every entry point shares.

What it is for: loss objects (``loss_fn(out, y)``), ``ops.loss``,
``Sequential.train_step``, ``fit`` and ``evaluate`` all read targets through
:func:`check_target`, so a target gets the same answer everywhere: accepted with
the same values, or refused with the same exception.
Also the one check of sample weights (:func:`check_sample_weight`), shared the same
way. What it is not: the checks of network outputs and inputs (each entry point's
own), or of loss parameters.

The rules, for outputs of shape ``shape`` (``(batch, outputs)`` for a network):

- ``"values"`` (MSE, L1, Huber) and ``"bce"``: numbers (bools count as 0 and 1)
  of ``shape``, or ``(batch,)`` when there is one output; cast once to the
  output's dtype; finite. ``"bce"``: also in [0, 1]. ``"counts"`` (Poisson): also >= 0.
- ``"ce"`` (cross-entropy): probability rows of ``shape`` (two or more classes),
  finite, in [0, 1]; or class labels, ``(batch,)`` or ``(batch, 1)``: integers,
  or floats whose every value is an integer (as read from a CSV), in
  ``[0, classes)``. Bools and non-integer floats are not class labels (TypeError).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import _core

__all__ = ["check_target", "check_sample_weight", "KINDS"]

#: what a loss reads its targets as: elementwise values, values in [0, 1], class targets
KINDS = ("values", "bce", "ce", "counts")


def _c_array(a: np.ndarray, dtype: Any) -> np.ndarray:
    """a cast to dtype as the C kernels read it: C-contiguous, aligned, native byte order.
    A cast that overflows (1e300 to float32) gives inf, which the caller reports."""
    if (type(a) is np.ndarray and a.dtype == dtype and a.flags.c_contiguous
            and a.flags.aligned):
        return a   # as is: the common case, without the cost of np.errstate
    with np.errstate(over="ignore"):
        a = np.asarray(a, dtype=dtype)
    if a.flags.c_contiguous and a.flags.aligned:
        return a
    return np.array(a, order="C", copy=True)


def _labels(y: np.ndarray, shape: tuple, what: str) -> np.ndarray:
    """Class labels (batch,) int64 in [0, classes) from y (batch,) or (batch, 1)."""
    batch, classes = shape
    if y.ndim == 2 and y.shape == (batch, 1):
        y = y.reshape(batch)
    if y.ndim != 1 or y.shape[0] != batch:
        raise ValueError(f"{what}: cross-entropy targets must be class labels of shape "
                         f"({batch},) or probabilities of shape ({batch}, {classes}), got "
                         f"shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError(f"{what} contains NaN or Inf: class labels must be finite")
        if not np.array_equal(y, np.floor(y)):
            raise TypeError(f"{what}: class labels must be integers, got non-integer values "
                            f"of dtype {y.dtype}")
        if y.size:  # range before the cast: 1e30 has no int64
            _label_range_error(y.min(), y.max(), classes, what)
        return _c_array(y, np.int64)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{what}: class labels must be integers, got dtype {y.dtype}")
    labels = _c_array(y, np.int64)
    if labels.size:
        # the hot path (train_step): one pass over the int64 labels. A uint64 value int64
        # cannot hold (>= 2**63) wraps negative there and fails too; the message reads y.
        lo, hi = _core._int64_range(labels)
        if lo < 0 or hi >= classes:
            _label_range_error(y.min(), y.max(), classes, what)
    return labels


def _label_range_error(lo: Any, hi: Any, classes: int, what: str) -> None:
    """Raise the ValueError of labels outside [0, classes) (lo, hi: y's min and max)."""
    if lo < 0 or hi >= classes:
        raise ValueError(f"{what}: class labels must be in [0, {classes}), got "
                         f"{lo if lo < 0 else hi} (values in [{lo}, {hi}])")


def check_target(y: Any, shape: tuple, dtype: Any, kind: str,
                 what: str = "target") -> tuple[np.ndarray | None, np.ndarray | None]:
    """Check and convert the target of a loss whose output has shape ``shape``.

    Parameters
    ----------
    y : array-like
    shape : tuple of int
        The output's shape; ``(batch, classes)`` for ``kind="ce"``.
    dtype : float32 or float64
        The output's dtype (value targets are cast to it).
    kind : {"values", "bce", "ce", "counts"}
    what : str
        Names the target in error messages (``"y"``, ``"CrossEntropyLoss target"``).

    Returns
    -------
    target : ndarray of ``shape`` and ``dtype``, or None for class labels
    labels : ndarray (batch,) int64, or None

    Raises
    ------
    TypeError
        Not numbers; class labels that are not integers (non-integer floats, bools).
    ValueError
        Wrong shape, NaN/Inf, values out of range ([0, 1] or [0, classes)).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "ce" and len(shape) == 2:
        # the hot path of train_step: int64 labels in range, in one C call and one pass
        # (a 1-D y is never probability rows); anything else takes the full check below
        ready = _core._labels_ready(y, shape[0], shape[1])
        if ready is not None:
            return None, ready
    if not isinstance(y, np.ndarray):
        try:
            y = np.asarray(y)
        except Exception as e:  # ragged lists and the like
            raise TypeError(f"{what} must be array-like, got {type(y).__name__}") from e
    shape = tuple(shape)
    if kind == "ce" and not (y.ndim == 2 and y.shape == shape and shape[1] > 1):
        return None, _labels(y, shape, what)
    if y.dtype.kind not in "fiub":
        raise TypeError(f"{what} must be a numeric array, got dtype {y.dtype}")
    if y.shape != shape:
        if y.ndim == 1 and len(shape) == 2 and shape[1] == 1 and y.shape[0] == shape[0]:
            y = y.reshape(shape)
        else:
            raise ValueError(f"{what} shape {y.shape} does not match the shape of out {shape}")
    t = _c_array(y, dtype)
    if not t.size:
        return t, None
    finite, lo, hi = _core._finite_range(t)   # one pass (dtype is float32 or float64)
    if not finite:
        raise ValueError(f"{what} contains NaN or Inf: it must be finite")
    if kind == "counts":
        if lo < 0:
            raise ValueError(f"{what}: Poisson targets (counts or rates) must be >= 0, got a "
                             f"minimum of {t.min()}")
    elif kind != "values" and (lo < 0 or hi > 1):
        which = "probability targets" if kind == "ce" else "targets"
        raise ValueError(f"{what}: {which} must lie in [0, 1], got values in "
                         f"[{t.min()}, {t.max()}]")
    return t, None


def check_sample_weight(sample_weight: Any, rows: int, dtype: Any,
                        what: str = "sample_weight") -> np.ndarray | None:
    """Row weights of a loss as the C kernels read them: (rows,) C-contiguous of ``dtype``.

    A scalar weighs every row alike; None stays None (every row weighs 1). A weighted
    mean is ``sum_i w_i l_i / sum_i w_i``: weight 2 counts a row twice, weight 0 drops it.

    Raises
    ------
    TypeError
        Not numbers.
    ValueError
        Wrong shape, NaN/Inf, a negative weight, weights that are all 0, or that sum
        to so little that 1 / sum overflows ``dtype``.
    """
    if sample_weight is None:
        return None
    try:
        w = np.asarray(sample_weight)
    except Exception as e:  # ragged lists and the like
        raise TypeError(f"{what} must be array-like, got {type(sample_weight).__name__}") from e
    if w.dtype.kind not in "fiub":
        raise TypeError(f"{what} must hold numbers, got dtype {w.dtype}")
    if w.ndim == 0:
        w = np.full(rows, w)
    if w.ndim != 1:
        raise ValueError(f"{what} must be 1D (one weight per row) or a scalar, got shape "
                         f"{w.shape}")
    if w.shape[0] != rows:
        raise ValueError(f"{what} has shape ({w.shape[0]},), expected ({rows},): one weight "
                         f"per row")
    w = np.array(w, dtype=dtype, order="C")  # a copy: the caller's array is never written
    bad = ~np.isfinite(w)
    if bad.any():
        raise ValueError(f"{what} contains NaN or Inf (first at row {int(np.flatnonzero(bad)[0])})")
    if (w < 0).any():
        raise ValueError(f"Negative values in {what} (first at row "
                         f"{int(np.flatnonzero(w < 0)[0])}): weights must be >= 0")
    if rows and not w.sum() > 0:
        raise ValueError("Sample weights must contain at least one non-zero number.")
    total = float(w.sum(dtype=np.float64))
    if rows and 2.0 / total > float(np.finfo(w.dtype).max):
        # a weighted mean's gradient is scaled by 1 / sum(w) (2 / sum for MSE) in the
        # model's dtype: past its largest number every gradient would be inf or NaN
        raise ValueError(f"{what} sums to {total!r}, too small for {w.dtype}: the gradient's "
                         f"scale 1 / sum(weights) would overflow. Only the ratios of the "
                         f"weights matter, so scale them up")
    return w
