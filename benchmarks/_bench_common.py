"""Helpers shared by the compare.py subcommands: timing, thread control, peak, reports."""
from __future__ import annotations

import datetime as _dt
import io
import platform
import threading
import time
from contextlib import redirect_stdout
from typing import Callable, Sequence

import nncore
from nncore import _core, config

import _blas


def best_time(fn: Callable[[], object], budget: float = 0.15, min_reps: int = 3,
              max_reps: int = 2000, clock: Callable[[], float] = time.perf_counter) -> float:
    """Fastest of repeated calls, within about `budget` seconds of `clock` (after one
    warm-up). ``clock=time.thread_time`` counts only this thread's CPU time: fair for
    single-threaded work on a machine other processes share (time slices they take
    are not counted), meaningless for work spread over threads."""
    fn()
    best = float("inf")
    start = clock()
    reps = 0
    while reps < min_reps or (clock() - start < budget and reps < max_reps):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
        reps += 1
    return best


def interleaved(fns: Sequence[Callable[[], object]], rounds: int = 3,
                budget: float = 0.1, clock: Callable[[], float] = time.perf_counter
                ) -> list[float]:
    """Best time of each function, measured in alternating rounds (fair under noise)."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            best[i] = min(best[i], best_time(fn, budget, clock=clock))
    return best


def set_threads(n: int) -> None:
    """The same thread count for nncore and for NumPy's BLAS."""
    nncore.set_num_threads(n)
    if not _blas.set_threads(n):
        print("warning: could not set NumPy's BLAS thread count")


def fma_peak(threads: int = 1, iters: int = 1_000_000, repeats: int = 15) -> float:
    """Measured fp32 FMA peak in GFLOP/s on `threads` cores (12 independent FMA chains,
    best of AVX2 ymm and AVX-512 zmm), from csrc/fma_probe.c via nncore._core. The best
    of many short runs: other processes only ever make a run slower."""
    best = 0.0
    for width in (8, 16):
        probe = _core._fma_peak_probe
        if probe(1000, width) != probe(1000, width):  # NaN: not on this CPU
            continue
        for _ in range(repeats):
            ts = [0.0] * threads

            def work(i: int) -> None:
                t0 = time.perf_counter()
                probe(iters, width)
                ts[i] = time.perf_counter() - t0

            th = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
            for t in th:
                t.start()
            for t in th:
                t.join()
            best = max(best, threads * 24 * width * iters / max(ts) / 1e9)
    return best


def header() -> str:
    """Date, machine and nncore.show_config() as text."""
    buf = io.StringIO()
    with redirect_stdout(buf):
        cfg = config.show_config()
    lines = [f"date: {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
             f"machine: {platform.machine()}, {_cpu_name()}, {_ncpu()} cores",
             f"numpy BLAS: {_blas.describe()}",
             f"load average at start: {load_average()} (other processes share these cores)"]
    return "\n".join(lines) + "\n" + buf.getvalue().rstrip() + "\n", cfg


def load_average() -> str:
    """The 1-minute load average, or 'n/a'."""
    import os
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (OSError, AttributeError):
        return "n/a"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _ncpu() -> int:
    import os
    return os.cpu_count() or 1


def emit(lines: list[str], markdown: str | None) -> None:
    """Print a report's lines; append them (and a blank line) to ``markdown`` if given."""
    print("\n".join(lines))
    if markdown:
        with open(markdown, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n\n")
