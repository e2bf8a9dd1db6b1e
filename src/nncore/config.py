"""Build and run-time configuration: kernel family, threads, show_config()."""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from . import _core

__all__ = ["show_config", "set_num_threads", "get_num_threads", "set_arch", "get_arch",
           "available_archs", "num_threads"]

_NN_OK = 0
_NN_ERR_UNSUPPORTED = -6
_MAX_THREADS = 4096  # far past any CPU; keeps the value inside a C int


def available_archs() -> list[str]:
    """Micro-kernel families this CPU can run, portable first (e.g. ``['ref', 'avx2']``)."""
    return _core._available_archs()


def get_arch() -> str:
    """The micro-kernel family in use."""
    return _core._current_arch()


def set_arch(name: str) -> None:
    """Select the micro-kernel family: ``"auto"`` (best for this CPU), ``"ref"`` or a CPU family.

    Raises
    ------
    ValueError
        For an unknown name, or a family this CPU cannot run.
    """
    if not isinstance(name, str):
        raise TypeError(f"arch must be a str, got {type(name).__name__}")
    status = _core._select_arch(name)
    if status == _NN_ERR_UNSUPPORTED:
        raise ValueError(f"kernel family {name!r} is not supported by this CPU; "
                         f"available: {available_archs()}")
    if status != _NN_OK:
        raise ValueError(f"unknown kernel family {name!r}; expected 'auto' or one of "
                         f"{available_archs()}")


def set_num_threads(n: int) -> None:
    """Set the number of threads the C core may use (>= 1).

    Small problems still run on one thread: handing work to other threads costs
    more than they do.
    Without OpenMP in the build this is always 1.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"number of threads must be an int, got {type(n).__name__}")
    if not 1 <= n <= _MAX_THREADS:
        raise ValueError(f"number of threads must be between 1 and {_MAX_THREADS}, got {n}")
    _core._set_num_threads(int(n))


def get_num_threads() -> int:
    """Threads the C core may use: OMP_NUM_THREADS by default, else the core count."""
    return _core._get_num_threads()


@contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Context manager: run a block with ``n`` threads, then restore the previous count."""
    old = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(old)


def _gemm_summary() -> str:
    """'sgemm 12x32 kc 256 mc 252 nc 1024, dgemm ...' for the active family."""
    parts = []
    for name, key in (("sgemm", "f32"), ("dgemm", "f64")):
        mr, nr, kc, mc, nc = _core._gemm_blocking()[key]
        parts.append(f"{name} {mr}x{nr} kc {kc} mc {mc} nc {nc}")
    return ", ".join(parts)


def show_config(print_out: bool = True) -> dict:
    """Print and return the build and run-time configuration.

    Returns
    -------
    dict
        ``version``, ``compiler``, ``openmp``, ``arch`` (kernel in use),
        ``gemm`` (its micro-kernel tiles and cache blocks), ``archs_available``,
        ``num_threads``, ``numpy``.
    """
    from . import __version__

    cfg = {
        "version": __version__,
        "compiler": _core._compiler(),
        "openmp": _core._have_openmp(),
        "arch": get_arch(),
        "gemm": _gemm_summary(),
        "archs_available": available_archs(),
        "num_threads": get_num_threads(),
        "numpy": np.__version__,
    }
    if print_out:
        width = max(len(k) for k in cfg)
        for k, v in cfg.items():
            print(f"{k:<{width}} : {v}")
    return cfg


def _init_from_env() -> None:
    """Apply NNCORE_ARCH at import; an impossible request is an error, not SIGILL later."""
    name = os.environ.get("NNCORE_ARCH", "auto").strip() or "auto"
    try:
        set_arch(name)
    except ValueError as e:
        raise ImportError(f"NNCORE_ARCH={name}: {e}") from None
