"""Build and run-time configuration: kernel family, threads, show_config()."""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from . import _core, _registry
from ._version import __version__

__all__ = ["show_config", "set_num_threads", "get_num_threads", "set_arch", "get_arch",
           "available_archs", "num_threads"]

_NN_OK = _registry.STATUS["ok"]
_NN_ERR_UNSUPPORTED = _registry.STATUS["err_unsupported"]
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

    The threads are nncore's own worker team (``csrc/pool.c``), which runs every
    parallel loop. Small problems still run on one thread: handing work to other
    threads costs more than they do. Without OpenMP in the build this is always 1.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"number of threads must be an int, got {type(n).__name__}")
    if not 1 <= n <= _MAX_THREADS:
        raise ValueError(f"number of threads must be between 1 and {_MAX_THREADS}, got {n}")
    _core._set_num_threads(int(n))


def get_num_threads() -> int:
    """Threads the C core may use: OMP_NUM_THREADS by default, else the core count
    (read once, at the first use)."""
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


def _threads_line(n: int, openmp: bool) -> str:
    """What ``threads`` means in this build, for show_config()."""
    if not openmp:
        return f"{n} (built without OpenMP: every loop on the calling thread)"
    return f"{n} (nncore worker team; OMP_NUM_THREADS honoured)"


def show_config(print_out: bool = True) -> dict:
    """Print and return the build and run-time configuration.

    Every parallel loop (GEMM, activations, losses, dropout, optimizer updates,
    gradient norm) runs on nncore's own persistent worker team (``csrc/pool.c``);
    no OpenMP region runs. OpenMP is used only at build time (found by a compile
    probe; without it nncore is single-threaded) and for the default thread count
    (``OMP_NUM_THREADS``, else the core count).

    Returns
    -------
    dict
        ``version``, ``compiler``, ``openmp`` (OpenMP found at build time),
        ``arch`` (kernel in use), ``gemm`` (its micro-kernel tiles and cache
        blocks), ``bf16`` (the bf16 GEMM kernel of the family: "avx512_bf16 16x16",
        "amx 16x32", or on CPUs without bf16 instructions "portable": operands
        rounded to bf16 while packing, the family's fp32 micro-kernel; the
        families "avx512_bf16" and "amx" can be forced with ``NNCORE_ARCH``),
        ``archs_available``, ``num_threads`` (threads of the worker
        team), ``threads`` (that count and what runs the threads, as printed),
        ``numpy``.
    """
    n, openmp = get_num_threads(), _core._have_openmp()
    cfg = {
        "version": __version__,
        "compiler": _core._compiler(),
        "openmp": openmp,
        "arch": get_arch(),
        "gemm": _gemm_summary(),
        "bf16": _core._bgemm_name(),
        "archs_available": available_archs(),
        "num_threads": n,
        "threads": _threads_line(n, openmp),
        "numpy": np.__version__,
    }
    if print_out:
        shown = {k: v for k, v in cfg.items() if k != "num_threads"}  # in `threads`
        if openmp:
            shown["openmp"] = "True (build probe and default thread count; no OpenMP region runs)"
        width = max(len(k) for k in shown)
        for k, v in shown.items():
            print(f"{k:<{width}} : {v}")
    return cfg


def _init_from_env() -> None:
    """Apply NNCORE_ARCH at import; an impossible request is an error, not SIGILL later."""
    name = os.environ.get("NNCORE_ARCH", "auto").strip() or "auto"
    try:
        set_arch(name)
    except ValueError as e:
        raise ImportError(f"NNCORE_ARCH={name}: {e}") from None
