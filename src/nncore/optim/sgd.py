"""SGD with momentum, dampening, Nesterov momentum and weight decay (PyTorch's rule)."""
from __future__ import annotations

from typing import Any, Iterable

from . import _checks
from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's ``torch.optim.SGD`` update.

    ``g += weight_decay * p + l1 * sign(p)``; with momentum ``b = g`` on the
    first step, then ``b = momentum * b + (1 - dampening) * g``; the step uses
    ``g + momentum * b`` (Nesterov) or ``b``; ``p -= lr * step``.

    Parameters
    ----------
    params : iterable of Parameter or of dict (parameter groups)
    lr : float, > 0
    momentum : float, >= 0
    dampening : float
    nesterov : bool
        Needs momentum > 0 and dampening == 0.
    weight_decay : float, >= 0
        Coupled L2 penalty.
    l1 : float, >= 0
        L1 penalty (adds ``l1 * sign(p)`` to the gradient).
    max_norm : float > 0 or None
        After each step, rows of weight matrices are rescaled to L2 norm <= max_norm.
    """

    _kind = "sgd"
    _slots = {"momentum_buffer": 0}

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0,
                 l1: float = 0.0, max_norm: float | None = None) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay, l1=l1,
                                      max_norm=max_norm))

    def _check_group(self, g: dict) -> None:
        _checks.common(g)
        mom = _checks.nonneg(g["momentum"], "momentum value")
        damp = _checks.finite(g["dampening"], "dampening value")
        if _checks.flag(g["nesterov"], "nesterov") and (mom <= 0 or damp != 0):
            raise ValueError(f"Nesterov momentum requires a momentum > 0 and zero dampening "
                             f"(got momentum={g['momentum']}, dampening={g['dampening']})")

    def _c_group(self, g: dict) -> dict:
        return {"momentum": float(g["momentum"]), "dampening": float(g["dampening"]),
                "nesterov": bool(g["nesterov"])}

    def _needed(self) -> set[str]:
        return {"momentum_buffer"} if any(g["momentum"] != 0 for g in self.param_groups) else set()
