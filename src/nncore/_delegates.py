"""The methods ``nncore.nn.Sequential`` hands up the layers: ``fit`` / ``evaluate``
(``nncore.training``) and ``to_onnx`` (``nncore.onnx``).

What it is for: ``Sequential`` sits below those modules (they import it), so it reaches
them through this one module, loaded by the one documented late import of the package
(``nncore.nn._upper``). ``onnx`` is an optional extra: without it, only ``to_onnx`` (and
:func:`onnx_module`) fail, with the ImportError naming ``pip install "nncore[onnx]"``;
``fit`` and ``evaluate`` work as ever. With it installed, the first ``fit`` /
``evaluate`` / ``to_onnx`` call of a process loads ``onnx`` (imports stay at the top of
their files, so the module that hosts ``to_onnx`` imports it).
What it is not: an implementation: each function here is the one it names.
"""
from __future__ import annotations

import os
from typing import Any

from .training import evaluate, fit

try:
    from . import onnx as _onnx
except ImportError as _e:   # the extra is not installed: to_onnx says so when called
    _onnx = None
    _ONNX_MISSING = str(_e)

__all__ = ["fit", "evaluate", "to_onnx", "onnx_module"]


def onnx_module() -> Any:
    """``nncore.onnx``, or the ImportError of importing it (naming the extra to install)."""
    if _onnx is None:
        raise ImportError(_ONNX_MISSING)
    return _onnx


def to_onnx(model: Any, path: str | os.PathLike, **kwargs: Any) -> str:
    """``nncore.onnx.export(model, path, **kwargs)``."""
    return onnx_module().export(model, path, **kwargs)
