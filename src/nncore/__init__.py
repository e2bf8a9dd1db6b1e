"""nncore — a neural-network core for CPUs.

Hot loops are C with OpenMP (``csrc/``), this package is the thin Python layer,
and :mod:`nncore.reference` is the pure-NumPy twin every test compares against.
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

__all__ = ["__version__", "show_config", "set_num_threads", "get_num_threads", "ops"]
