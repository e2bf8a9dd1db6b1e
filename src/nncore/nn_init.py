"""Weight initializers for ``nncore.nn.Linear``: seeded, reproducible, NumPy only.

Every initializer is a function ``(shape, rng, gain=1.0) -> ndarray`` where
``shape = (out_features, in_features)`` (PyTorch's layout) and ``rng`` is a
``numpy.random.Generator``. ``Linear(init=...)`` takes one of the names in
:data:`INITS` or any callable ``(shape, rng) -> array``.

Defaults (chosen by ``Sequential`` when ``init=None``): He/Kaiming normal when
the next non-dropout layer is ReLU-family (ReLU, LeakyReLU, ELU, GELU, SiLU),
with the LeakyReLU gain ``sqrt(2 / (1 + slope^2))``; Glorot/Xavier uniform
otherwise (sigmoid, tanh, softmax, softplus or no activation).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

__all__ = ["INITS", "get", "kaiming_normal", "kaiming_uniform", "xavier_normal",
           "xavier_uniform", "lecun_normal", "lecun_uniform", "zeros"]


def _fans(shape: tuple[int, int]) -> tuple[int, int]:
    fan_out, fan_in = shape
    return fan_in, fan_out


def kaiming_normal(shape, rng, gain: float = math.sqrt(2.0)) -> np.ndarray:
    """He normal: N(0, gain^2 / fan_in); gain sqrt(2) suits ReLU."""
    fan_in, _ = _fans(shape)
    return rng.normal(0.0, gain / math.sqrt(fan_in), size=shape)


def kaiming_uniform(shape, rng, gain: float = math.sqrt(2.0)) -> np.ndarray:
    """He uniform: U(-b, b), b = gain * sqrt(3 / fan_in)."""
    fan_in, _ = _fans(shape)
    b = gain * math.sqrt(3.0 / fan_in)
    return rng.uniform(-b, b, size=shape)


def xavier_normal(shape, rng, gain: float = 1.0) -> np.ndarray:
    """Glorot normal: N(0, gain^2 * 2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    return rng.normal(0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), size=shape)


def xavier_uniform(shape, rng, gain: float = 1.0) -> np.ndarray:
    """Glorot uniform: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    b = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-b, b, size=shape)


def lecun_normal(shape, rng, gain: float = 1.0) -> np.ndarray:
    """LeCun normal: N(0, gain^2 / fan_in) (SELU-style, gain 1)."""
    fan_in, _ = _fans(shape)
    return rng.normal(0.0, gain / math.sqrt(fan_in), size=shape)


def lecun_uniform(shape, rng, gain: float = 1.0) -> np.ndarray:
    """LeCun uniform: U(-b, b), b = gain * sqrt(3 / fan_in)."""
    fan_in, _ = _fans(shape)
    b = gain * math.sqrt(3.0 / fan_in)
    return rng.uniform(-b, b, size=shape)


def zeros(shape, rng, gain: float = 1.0) -> np.ndarray:
    """All zeros (ignores rng)."""
    return np.zeros(shape)


INITS: dict[str, Callable] = {
    "kaiming_normal": kaiming_normal, "he_normal": kaiming_normal,
    "kaiming_uniform": kaiming_uniform, "he_uniform": kaiming_uniform,
    "xavier_normal": xavier_normal, "glorot_normal": xavier_normal,
    "xavier_uniform": xavier_uniform, "glorot_uniform": xavier_uniform,
    "lecun_normal": lecun_normal, "lecun_uniform": lecun_uniform,
    "zeros": zeros,
    # the family names alone pick the usual variant of each family
    "he": kaiming_normal, "kaiming": kaiming_normal,
    "glorot": xavier_uniform, "xavier": xavier_uniform,
    "lecun": lecun_normal,
}

_GAIN_AWARE = {kaiming_normal, kaiming_uniform}


def get(init) -> Callable:
    """The initializer for a name in :data:`INITS` or a callable ``(shape, rng)``."""
    if callable(init):
        return init
    if isinstance(init, str):
        key = init.lower()
        if key in INITS:
            return INITS[key]
        raise ValueError(f"unknown init {init!r}; expected a callable (shape, rng) -> array or "
                         f"one of {sorted(INITS)}")
    raise TypeError(f"init must be a name or a callable (shape, rng) -> array, "
                    f"got {type(init).__name__}")


def run(init, shape: tuple[int, int], rng: np.random.Generator, relu_gain: float | None) -> np.ndarray:
    """Weights of `shape` from `init` (name or callable), checked for shape and finiteness.

    relu_gain: the He gain when a ReLU-family activation follows (used by the
    kaiming initializers and by the default), None otherwise.
    """
    if init is None:
        if relu_gain is not None:
            w = kaiming_normal(shape, rng, relu_gain)
        else:
            w = xavier_uniform(shape, rng)
    else:
        fn = get(init)
        if fn in _GAIN_AWARE:
            w = fn(shape, rng, relu_gain if relu_gain is not None else math.sqrt(2.0))
        elif fn in INITS.values():
            w = fn(shape, rng)
        else:
            w = fn(shape, rng)
    w = np.asarray(w, dtype=np.float64)
    if w.shape != tuple(shape):
        raise ValueError(f"init returned shape {w.shape}, expected {tuple(shape)} "
                         f"(out_features, in_features)")
    if not np.all(np.isfinite(w)):
        raise ValueError("init returned non-finite values")
    return w
