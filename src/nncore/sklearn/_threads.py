"""nncore's thread pool as a threadpoolctl library, so ``threadpool_limits(1)`` (what
scikit-learn and joblib use to keep parallel jobs from oversubscribing the cores)
limits nncore's C core too.

What it is for: ``register_threadpool_controller``, called once when
``nncore.sklearn`` is imported (threadpoolctl >= 3.5 takes third-party controllers;
an older one is left alone). threadpoolctl finds nncore's compiled module among the
loaded libraries by its file name (``_core*``) and the C entry points it exports,
and sets the thread count through them. What it is not: the thread pool
(csrc/pool.c) or the OMP_NUM_THREADS default (read by the C core at start).
"""
from __future__ import annotations

import ctypes

import threadpoolctl
from threadpoolctl import LibController

from .._version import __version__

__all__ = ["NNCoreController", "register_threadpool_controller"]


class NNCoreController(LibController):
    """threadpoolctl's view of nncore's C thread count (nn_get/set_num_threads)."""
    user_api = "nncore"
    internal_api = "nncore"
    filename_prefixes = ("_core",)
    check_symbols = ("nn_set_num_threads", "nn_get_num_threads")

    def get_num_threads(self) -> int | None:
        get = getattr(self.dynlib, "nn_get_num_threads", None)
        if get is None:  # another library named _core*: threadpoolctl drops it
            return None
        get.restype = ctypes.c_int
        return int(get())

    def set_num_threads(self, num_threads: int) -> None:
        fn = self.dynlib.nn_set_num_threads
        fn.argtypes = [ctypes.c_int]
        fn.restype = None
        fn(max(1, int(num_threads)))

    def get_version(self) -> str | None:
        return __version__ if hasattr(self.dynlib, "nn_set_num_threads") else None


_registered = False


def register_threadpool_controller() -> bool:
    """Register nncore with threadpoolctl (once). Returns whether it is registered."""
    global _registered
    if not _registered and hasattr(threadpoolctl, "register"):
        threadpoolctl.register(NNCoreController)
        _registered = True
    return _registered
