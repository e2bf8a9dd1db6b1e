"""The methods ``nncore.nn.Sequential`` hands up the layers: ``fit`` / ``evaluate``
(``nncore.training``), ``to_onnx`` (``nncore.onnx``) and the MPI communicator of
``fit(..., distributed=True)`` / ``train_step(..., distributed=True)``
(``nncore.distributed``).

What it is for: ``Sequential`` sits below those modules (they import it), so it reaches
them through this one module, loaded by the one documented late import of the package
(``nncore.nn._upper``). ``onnx`` is an optional extra: without it, only ``to_onnx`` (and
:func:`onnx_module`) fail, with the ImportError naming ``pip install "nncore[onnx]"``;
``fit`` and ``evaluate`` work as ever. With it installed, the first ``fit`` /
``evaluate`` / ``to_onnx`` call of a process loads ``onnx`` (imports stay at the top of
their files, so the module that hosts ``to_onnx`` imports it).
``mpi4py`` is optional the same way: without it only ``distributed=True`` fails, with
the ImportError naming ``pip install "nncore[mpi]"`` (importing ``nncore.distributed``
does not start MPI; :func:`communicator` does).
What it is not: an implementation: each function here is the one it names.
"""
from __future__ import annotations

import os
from typing import Any

from . import training
from ._validate import check_bool
from .training import evaluate

try:
    from . import onnx as _onnx
except ImportError as _e:   # the extra is not installed: to_onnx says so when called
    _onnx = None
    _ONNX_MISSING = str(_e)

try:
    from . import distributed as _distributed
except ImportError as _e:   # the extra is not installed: distributed=True says so
    _distributed = None
    _MPI_MISSING = str(_e)

__all__ = ["fit", "evaluate", "to_onnx", "onnx_module", "communicator"]


def communicator() -> Any:
    """``nncore.distributed.communicator()`` (MPI initialized on first use), or the
    ImportError naming ``pip install "nncore[mpi]"``."""
    if _distributed is None:
        raise ImportError(_MPI_MISSING)
    return _distributed.communicator()


def fit(model: Any, X: Any, y: Any, *args: Any, distributed: bool = False,
        **kwargs: Any) -> Any:
    """``nncore.training.fit``; ``distributed=True`` hands it :func:`communicator`
    (``distributed`` a bool or ``np.bool_``, as :meth:`Sequential.train_step` takes it;
    anything else is a TypeError)."""
    comm = communicator() if check_bool(distributed, "distributed") else None
    return training.fit(model, X, y, *args, distributed=comm, **kwargs)


def onnx_module() -> Any:
    """``nncore.onnx``, or the ImportError of importing it (naming the extra to install)."""
    if _onnx is None:
        raise ImportError(_ONNX_MISSING)
    return _onnx


def to_onnx(model: Any, path: str | os.PathLike, **kwargs: Any) -> str:
    """``nncore.onnx.export(model, path, **kwargs)``."""
    return onnx_module().export(model, path, **kwargs)
