"""Hyperparameter checks shared by the optimizers: ValueError naming the bad value."""
from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np


def number(value: Any, what: str) -> float:
    """value as a float; TypeError unless it is a real number (bools are not)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{what} must be a real number, got {type(value).__name__} {value!r}")
    try:
        return float(value)
    except OverflowError:  # an int beyond float range: a bad value, not a crash
        raise ValueError(f"invalid {what}: {value} (too large for a float)") from None


def positive(value: Any, what: str) -> float:
    """A finite number > 0: `invalid learning rate: -1`."""
    x = number(value, what)
    if not (x > 0 and math.isfinite(x)):
        raise ValueError(f"invalid {what}: {value} (must be > 0)")
    return x


def nonneg(value: Any, what: str) -> float:
    """A finite number >= 0."""
    x = number(value, what)
    if not (x >= 0 and math.isfinite(x)):
        raise ValueError(f"invalid {what}: {value} (must be >= 0)")
    return x


def finite(value: Any, what: str) -> float:
    x = number(value, what)
    if not math.isfinite(x):
        raise ValueError(f"invalid {what}: {value} (must be finite)")
    return x


def unit(value: Any, what: str) -> float:
    """A number in [0, 1)."""
    x = number(value, what)
    if not 0 <= x < 1:
        raise ValueError(f"invalid {what}: {value} (must be in [0, 1))")
    return x


def flag(value: Any, what: str) -> bool:
    if not isinstance(value, (bool, int, np.bool_, np.integer)):
        raise TypeError(f"{what} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def betas(value: Any) -> tuple[float, float]:
    """A pair (beta1, beta2), each in [0, 1)."""
    try:
        b1, b2 = value
    except (TypeError, ValueError):
        raise ValueError(f"invalid betas: {value!r} (expected a pair (beta1, beta2))") from None
    return unit(b1, "beta parameter at index 0"), unit(b2, "beta parameter at index 1")


def common(g: dict) -> None:
    """Checks every optimizer shares: lr, weight_decay, l1, max_norm.

    The learning rate may be 0 here: schedules (e.g. cosine annealing to
    ``eta_min=0``) and ``param_groups`` edits set it between steps. The
    constructor and ``add_param_group`` demand lr > 0 themselves.
    """
    nonneg(g["lr"], "learning rate")
    nonneg(g["weight_decay"], "weight_decay value")
    nonneg(g["l1"], "l1 value")
    if g["max_norm"] is not None:
        positive(g["max_norm"], "max_norm")
