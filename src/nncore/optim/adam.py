"""Adam and AdamW (decoupled weight decay), optionally AMSGrad (PyTorch's rules)."""
from __future__ import annotations

from typing import Any, Iterable

from . import _checks
from .optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam, PyTorch's ``torch.optim.Adam`` update.

    ``g += weight_decay p + l1 sign(p)``; ``m = b1 m + (1 - b1) g``;
    ``v = b2 v + (1 - b2) g^2`` (AMSGrad: ``v^ = max(v^, v)``);
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``
    (``eps_hat``: ``+ eps / sqrt(1 - b2^t)``).

    Parameters
    ----------
    params : iterable of Parameter or of dict (parameter groups)
    lr : float, > 0
    betas : (float, float), each in [0, 1)
    eps : float, >= 0
    weight_decay : float, >= 0
        Coupled L2 penalty (AdamW: decoupled).
    amsgrad : bool
    l1 : float, >= 0
    max_norm : float > 0 or None
        Max-norm constraint on weight rows after each step.
    eps_hat : bool
        Read ``eps`` as the epsilon-hat of the efficient form in Kingma & Ba (section
        2), the one scikit-learn's and TensorFlow's Adam use:
        ``p -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)``, eps added
        before the bias correction (a group setting, like ``amsgrad``).
    """

    _kind = "adam"
    _slots = {"exp_avg": 0, "exp_avg_sq": 1, "max_exp_avg_sq": 2}

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, l1: float = 0.0,
                 max_norm: float | None = None, *, eps_hat: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, l1=l1, max_norm=max_norm,
                                      eps_hat=eps_hat))

    def _check_group(self, g: dict) -> None:
        _checks.common(g)
        _checks.betas(g["betas"])
        _checks.nonneg(g["eps"], "epsilon value")
        _checks.flag(g["amsgrad"], "amsgrad")
        _checks.flag(g["eps_hat"], "eps_hat")

    def _c_group(self, g: dict) -> dict:
        b1, b2 = g["betas"]
        return {"beta1": float(b1), "beta2": float(b2), "eps": float(g["eps"]),
                "amsgrad": bool(g["amsgrad"]), "eps_hat": bool(g["eps_hat"])}

    def _needed(self) -> set[str]:
        need = {"exp_avg", "exp_avg_sq"}
        if any(g["amsgrad"] for g in self.param_groups):
            need.add("max_exp_avg_sq")
        return need


class AdamW(Adam):
    """AdamW, PyTorch's ``torch.optim.AdamW``: ``p *= 1 - lr * weight_decay``, then Adam
    without the coupled decay (``l1`` still adds ``l1 sign(p)`` to the gradient).

    Parameters are those of `Adam`, with ``weight_decay=1e-2`` by default.
    """

    _kind = "adamw"

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, l1: float = 0.0,
                 max_norm: float | None = None, *, eps_hat: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, l1=l1, max_norm=max_norm, eps_hat=eps_hat)
