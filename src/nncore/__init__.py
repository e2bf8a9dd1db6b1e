"""nncore — a neural-network core for CPUs.

Hot loops are C with OpenMP (``csrc/``), this package is the thin Python layer,
and :mod:`nncore.reference` is the pure-NumPy twin every test compares against.

>>> import nncore as nc
>>> model = nc.nn.Sequential(nc.nn.Linear(64, 128), nc.nn.ReLU(), nc.nn.Linear(128, 10))
>>> history = model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=10)  # doctest: +SKIP
"""
from __future__ import annotations

__version__ = "0.1.0"

from . import _core  # noqa: E402
from .config import (  # noqa: E402
    get_num_threads,
    set_num_threads,
    show_config,
)
from .config import _init_from_env  # noqa: E402

_init_from_env()

from . import ops  # noqa: E402
from . import nn, losses, optim, utils  # noqa: E402
from . import callbacks, history, training  # noqa: E402
from . import datasets, io  # noqa: E402
from .gradcheck import check_gradients  # noqa: E402
from .history import History  # noqa: E402
from .io import load, load_checkpoint, save, save_checkpoint  # noqa: E402

__all__ = [
    "__version__", "show_config", "set_num_threads", "get_num_threads",
    "ops", "nn", "losses", "optim", "utils", "callbacks", "datasets", "io",
    "History", "check_gradients", "load", "save", "load_checkpoint", "save_checkpoint",
]
