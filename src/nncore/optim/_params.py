"""Checking what optimizers and clipping are given: Parameters of ONE model.

A Parameter (nncore.nn.Parameter) is recognised by what it offers — ``offset``,
``size``, ``shape``, ``model`` (with ``flat_params`` / ``flat_grads``),
``is_bias`` — so anything that views a model's flat buffers the same way works.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

_REQUIRED = ("offset", "size", "shape", "model", "is_bias")


class ParameterTypeError(TypeError, ValueError):
    """An item that is not a Parameter where Parameters are expected.

    A TypeError (wrong kind of object) that is also a ValueError (bad argument),
    so callers catching either see it.
    """


def is_parameter(obj: Any) -> bool:
    """True if obj looks like an nncore Parameter (see module docstring)."""
    return all(hasattr(obj, a) for a in _REQUIRED) and not isinstance(obj, (dict, np.ndarray))


def describe(obj: Any) -> str:
    if isinstance(obj, np.ndarray):
        return f"a NumPy array of shape {obj.shape}"
    return f"a {type(obj).__name__}"


def check_parameter(p: Any, where: str) -> None:
    """Raise ParameterTypeError unless p is a Parameter whose slice fits its model's buffers."""
    if not is_parameter(p):
        hint = " (did you mean model.parameters()?)" if hasattr(p, "parameters") else ""
        raise ParameterTypeError(f"{where}: expected nncore Parameters, got {describe(p)}{hint}")
    model = p.model
    flat = getattr(model, "flat_params", None)
    grads = getattr(model, "flat_grads", None)
    if not isinstance(flat, np.ndarray) or not isinstance(grads, np.ndarray):
        raise ParameterTypeError(f"{where}: parameter {getattr(p, 'name', '?')!r} has a model "
                                 f"without flat_params/flat_grads buffers")
    off, size = int(p.offset), int(p.size)
    if off < 0 or size < 0 or off + size > flat.shape[0] or grads.shape != flat.shape:
        raise ValueError(f"{where}: parameter {getattr(p, 'name', '?')!r} (offset {off}, "
                         f"size {size}) does not fit its model's buffer of {flat.shape[0]}")


def one_model(params: Iterable[Any], where: str) -> Any:
    """The model all params belong to; ValueError if they come from several."""
    models: list[Any] = []
    for p in params:
        if not any(p.model is m for m in models):
            models.append(p.model)
    if len(models) > 1:
        raise ValueError(f"{where}: all parameters must belong to one model, got parameters "
                         f"of {len(models)} different models")
    if not models:
        raise ValueError(f"{where}: got an empty parameter list")
    return models[0]


def as_param_list(params: Any, where: str) -> list[Any]:
    """A list of Parameters from a Parameter, an iterable of them, or a model."""
    if is_parameter(params):
        return [params]
    if hasattr(params, "parameters") and callable(params.parameters) and not isinstance(
            params, (list, tuple)):
        params = params.parameters()
    if isinstance(params, (str, bytes, np.ndarray)) or not hasattr(params, "__iter__"):
        raise ParameterTypeError(f"{where}: expected Parameters, got {describe(params)}")
    out = list(params)
    for p in out:
        check_parameter(p, where)
    return out


def segment_arrays(params: list[Any]) -> tuple[list[int], list[int]]:
    """Offsets and sizes of params, duplicates (same offset) dropped, in buffer order."""
    seen: dict[int, int] = {}
    for p in params:
        seen.setdefault(int(p.offset), int(p.size))
    offs = sorted(seen)
    return offs, [seen[o] for o in offs]
