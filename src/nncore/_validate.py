"""Argument checks shared by the Python layer: TypeError/ValueError naming what came.

For scalars given to constructors and functions (layer sizes, slopes, probabilities,
loss parameters, sample counts). Not for arrays: each module checks its own
arrays, whose messages depend on their role (x, y, target, ...).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["is_int", "check_int", "check_bool", "parse_dtype", "finite_float"]


def is_int(v: Any) -> bool:
    """True for Python and NumPy integers, False for bools."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def check_int(value: Any, what: str, minimum: int = 1) -> int:
    """value as an int >= minimum; TypeError for non-integers (bools included)."""
    if not is_int(value):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return int(value)


def check_bool(value: Any, what: str) -> bool:
    """value as a bool: only Python's and NumPy's bools (``True``/``False``,
    ``np.bool_``); a TypeError naming what came for anything else, whose truth value
    would otherwise decide (the str ``"no"`` is true, ``None`` and ``0`` are false)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be a bool (True or False), got "
                        f"{type(value).__name__}")
    return bool(value)


def parse_dtype(value: Any, what: str = "dtype") -> np.dtype:
    """np.dtype(value), with every way NumPy can refuse it (TypeError, and also
    SyntaxError / ValueError from its string parser, e.g. for '01') turned into a
    TypeError that names what came. None is refused (np.dtype(None) is float64)."""
    if value is None:
        raise TypeError(f"{what} must be 'float32' or 'float64', got None")
    try:
        return np.dtype(value)
    except Exception:
        raise TypeError(f"{what} must be 'float32' or 'float64', got {value!r}") from None


def finite_float(value: Any, what: str) -> float:
    """value as a finite float; TypeError for non-numbers (bools included)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what} must be a real number, got {type(value).__name__}")
    try:
        v = float(value)
    except OverflowError:  # an int beyond the float range
        raise ValueError(f"{what} must be finite, got {value}") from None
    if not math.isfinite(v):
        raise ValueError(f"{what} must be finite, got {v}")
    return v
