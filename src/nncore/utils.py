"""Gradient control: global-norm and value clipping of a model's gradients, in C.

Both work in place on the model's flat gradient buffer, over the slices of the
given parameters (all of ONE model). The norm is a fixed-order sum, so the
result has the same bits at any thread count.
"""
from __future__ import annotations

from typing import Any, Iterable

from . import _core
from .optim import _checks
from .optim._params import as_param_list, one_model, segment_arrays

__all__ = ["clip_grad_norm", "clip_grad_value", "grad_norm"]


def _segments(params: Any, where: str):
    ps = as_param_list(params, where)
    if not ps:
        return None, [], []
    model = one_model(ps, where)
    offs, sizes = segment_arrays(ps)
    return model.flat_grads, offs, sizes


def grad_norm(params: Iterable[Any]) -> float:
    """Global L2 norm of the gradients of `params` (Parameters of one model, or the model).

    Returns
    -------
    float
        ``sqrt(sum over params of sum(p.grad ** 2))``, summed in float64.
    """
    grads, offs, sizes = _segments(params, "grad_norm")
    if grads is None:
        return 0.0
    return float(_core._optim_grad_norm(grads, offs, sizes))


def clip_grad_norm(params: Iterable[Any], max_norm: float) -> float:
    """Scale gradients so their global L2 norm is at most `max_norm` (like PyTorch's
    ``clip_grad_norm_``): every gradient is multiplied by
    ``min(1, max_norm / (norm + 1e-6))``.

    Parameters
    ----------
    params : Parameter, iterable of Parameters (one model), or the model
    max_norm : float, > 0

    Returns
    -------
    float
        The global norm before clipping.
    """
    mx = _checks.number(max_norm, "max_norm")
    if not mx > 0:
        raise ValueError(f"invalid max_norm: {max_norm} (must be > 0)")
    grads, offs, sizes = _segments(params, "clip_grad_norm")
    if grads is None:
        return 0.0
    return float(_core._optim_clip_grad_norm(grads, offs, sizes, mx))


def clip_grad_value(params: Iterable[Any], clip: float) -> None:
    """Clamp every gradient element of `params` to ``[-clip, clip]`` in place.

    Parameters
    ----------
    params : Parameter, iterable of Parameters (one model), or the model
    clip : float, > 0
    """
    c = _checks.number(clip, "clip value")
    if not c > 0:
        raise ValueError(f"invalid clip value: {clip} (must be > 0)")
    grads, offs, sizes = _segments(params, "clip_grad_value")
    if grads is None:
        return
    _core._optim_clip_grad_value(grads, offs, sizes, c)
