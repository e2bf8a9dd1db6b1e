"""Control and describe the BLAS behind NumPy, for side-by-side benchmarks.

Finds the OpenBLAS that NumPy loaded (scipy-openblas wheels or a system one)
and calls its own ``*set_num_threads*`` entry point through ctypes, so NumPy
can be timed at 1 and at 2 threads in one process. No third-party package.
"""
from __future__ import annotations

import ctypes
import os
from typing import Optional

import numpy as np

_lib: Optional[ctypes.CDLL] = None
_set = _get = _core = None


def _load() -> None:
    global _lib, _set, _get, _core
    if _lib is not None:
        return
    np.ones((4, 4)) @ np.ones((4, 4))  # make sure the BLAS is loaded
    paths = []
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1]
            if "openblas" in os.path.basename(p).lower() and p not in paths:
                paths.append(p)
    for p in paths:
        lib = ctypes.CDLL(p)
        for prefix in ("scipy_openblas_", "openblas_"):
            for suffix in ("64_", "_64_", ""):
                s = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                if s is None:
                    continue
                _lib, _set = lib, s
                _get = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                _core = getattr(lib, f"{prefix}get_corename{suffix}", None)
                if _core is not None:
                    _core.restype = ctypes.c_char_p
                return


def set_threads(n: int) -> bool:
    """Set NumPy's BLAS thread count; False if the BLAS could not be found."""
    _load()
    if _set is None:
        return False
    _set(ctypes.c_int(n))
    return True


def describe() -> str:
    """'OpenBLAS <core type>' when known."""
    _load()
    if _core is None:
        return "unknown BLAS"
    return f"OpenBLAS (core: {_core().decode()})"
