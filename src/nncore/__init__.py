"""nncore — a neural-network core for CPUs.

Hot loops are C with OpenMP (``csrc/``), this package is the thin Python layer,
and :mod:`nncore.reference` is the pure-NumPy twin every test compares against.

>>> import nncore as nc
>>> model = nc.nn.Sequential(nc.nn.Linear(64, 128), nc.nn.ReLU(), nc.nn.Linear(128, 10))
>>> history = model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=10)  # doctest: +SKIP
"""
from __future__ import annotations

from . import _core, ops, nn, losses, optim, utils
from . import callbacks, history, training
from . import datasets, io
from ._version import __version__
from .config import _init_from_env, get_num_threads, set_num_threads, show_config
from .gradcheck import check_gradients
from .history import History
from .io import load, load_checkpoint, save, save_checkpoint

_init_from_env()  # NNCORE_ARCH: an impossible request fails the import, not a kernel later

__all__ = [
    "__version__", "show_config", "set_num_threads", "get_num_threads",
    "ops", "nn", "losses", "optim", "utils", "callbacks", "datasets", "io",
    "History", "check_gradients", "load", "save", "load_checkpoint", "save_checkpoint",
]
