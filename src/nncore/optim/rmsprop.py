"""RMSprop, optionally centered and with momentum (PyTorch's rule)."""
from __future__ import annotations

from typing import Any, Iterable

from . import _checks
from .optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, PyTorch's ``torch.optim.RMSprop`` update.

    ``v = alpha v + (1 - alpha) g^2``; centered: ``a = alpha a + (1 - alpha) g``,
    ``v~ = v - a^2``; ``d = sqrt(v~) + eps``; with momentum
    ``b = momentum b + g / d``, ``p -= lr b``, else ``p -= lr g / d``.

    Parameters
    ----------
    params : iterable of Parameter or of dict (parameter groups)
    lr : float, > 0
    alpha : float, >= 0
        Smoothing constant.
    eps : float, >= 0
    weight_decay : float, >= 0
        Coupled L2 penalty.
    momentum : float, >= 0
    centered : bool
    l1 : float, >= 0
    max_norm : float > 0 or None
        Max-norm constraint on weight rows after each step.
    """

    _kind = "rmsprop"
    _slots = {"square_avg": 0, "grad_avg": 1, "momentum_buffer": 2}

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False, l1: float = 0.0, max_norm: float | None = None) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, l1=l1,
                                      max_norm=max_norm))

    def _check_group(self, g: dict) -> None:
        _checks.common(g)
        _checks.nonneg(g["alpha"], "alpha value")
        _checks.nonneg(g["eps"], "epsilon value")
        _checks.nonneg(g["momentum"], "momentum value")
        _checks.flag(g["centered"], "centered")

    def _c_group(self, g: dict) -> dict:
        return {"alpha": float(g["alpha"]), "eps": float(g["eps"]),
                "momentum": float(g["momentum"]), "centered": bool(g["centered"])}

    def _needed(self) -> set[str]:
        need = {"square_avg"}
        if any(g["centered"] for g in self.param_groups):
            need.add("grad_avg")
        if any(g["momentum"] > 0 for g in self.param_groups):
            need.add("momentum_buffer")
        return need
