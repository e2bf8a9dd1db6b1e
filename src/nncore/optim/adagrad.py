"""Adagrad with learning-rate decay and an initial accumulator (PyTorch's rule)."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from . import _checks
from .optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad, PyTorch's ``torch.optim.Adagrad`` update.

    ``clr = lr / (1 + (t - 1) lr_decay)``; ``s += g^2``;
    ``p -= clr * g / (sqrt(s) + eps)``; ``s`` starts at initial_accumulator_value.

    Parameters
    ----------
    params : iterable of Parameter or of dict (parameter groups)
    lr : float, > 0
    lr_decay : float, >= 0
    weight_decay : float, >= 0
        Coupled L2 penalty.
    initial_accumulator_value : float, >= 0
    eps : float, >= 0
    l1 : float, >= 0
    max_norm : float > 0 or None
        Max-norm constraint on weight rows after each step.
    """

    _kind = "adagrad"
    _slots = {"sum": 0}

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, l1: float = 0.0, max_norm: float | None = None) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, l1=l1, max_norm=max_norm))

    def _check_group(self, g: dict) -> None:
        _checks.common(g)
        _checks.nonneg(g["lr_decay"], "lr_decay value")
        _checks.nonneg(g["initial_accumulator_value"], "initial_accumulator_value")
        _checks.nonneg(g["eps"], "epsilon value")

    def _c_group(self, g: dict) -> dict:
        return {"lr_decay": float(g["lr_decay"]), "eps": float(g["eps"])}

    def _init_state(self, name: str, buf: np.ndarray, segs) -> None:
        for off, size, g in segs:
            buf[off:off + size] = g["initial_accumulator_value"]
