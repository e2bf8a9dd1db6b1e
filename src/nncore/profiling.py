"""``Sequential.profile``: where a training step's time goes, layer by layer and phase
by phase, measured inside the real fused C step.

The C step (``nn_net_train_step``) reads the monotonic clock around each of its
phases while profiling is on (``nn_net_set_profiling``; off, each phase costs one
not-taken branch): per layer the forward GEMM (bias in its epilogue), the ReLU pass
after it, the backward dW and dX GEMMs and the bias gradient, the activation and
dropout kernels; per step the loss, the gradient norm, the optimizer update and
the whole call. This module runs the steps, reads that record and turns it into
rates: GFLOP/s and % of the measured FMA peak for the GEMMs (2·m·n·k flops each,
from the shapes), GB/s for the memory-bound passes (bytes from the shapes and the
dtype, each array counted once per read or write: a nominal count, caches aside).
The peak is the model dtype's FMA peak, measured (float64: half of float32's); a
model in bfloat16 compute mode is measured against the float32 FMA peak too, the only
peak measured here, and its table says so: a bf16 GEMM can pass 100% of it (one
``vdpbf16ps`` adds two products per fp32 lane, so its nominal peak is twice fp32's;
AMX tiles more).

Not for: timing anything but ``train_step`` (inference, ``fit``'s data handling),
nor benchmarking against peers (``nncore bench train``).
"""
from __future__ import annotations

import functools
import os
import platform
import time
from typing import Any

import numpy as np

from . import _core, _registry, config, losses as _losses
from ._validate import check_int

__all__ = ["Profile", "profile_steps", "fma_peak_gflops", "cpu_name"]

_LAYER = _core.C_ENUMS["nn_prof_layer_slot"]
_STEP = _core.C_ENUMS["nn_prof_step_slot"]
_FWD, _EPI = _LAYER["NN_PROF_FWD"], _LAYER["NN_PROF_FWD_EPI"]
_DW, _DB, _DX = _LAYER["NN_PROF_BWD_DW"], _LAYER["NN_PROF_BWD_DB"], _LAYER["NN_PROF_BWD_DX"]
_LINEAR, _ACT = _registry.LAYER_KINDS["linear"], _registry.LAYER_KINDS["act"]
_RELU = _registry.ACTIVATIONS["relu"].code
_ACT_NAMES = {a.code: name for name, a in _registry.ACTIVATIONS.items()}


# ------------------------------------------------------------------ the machine

@functools.lru_cache(maxsize=None)
def _core_peak_fp32(iters: int = 200_000, repeats: int = 9) -> float:
    """fp32 FMA peak of one core in GFLOP/s (12 independent FMA chains, best of the
    AVX2 and AVX-512 widths and of `repeats` runs: other processes only ever slow a
    run down); NaN where the CPU has neither. Measured once per process."""
    best = float("nan")
    for width in (8, 16):
        if np.isnan(_core._fma_peak_probe(1000, width)):
            continue
        for _ in range(repeats):
            t0 = time.perf_counter()
            _core._fma_peak_probe(iters, width)
            dt = time.perf_counter() - t0
            g = 24.0 * width * iters / dt / 1e9
            best = g if np.isnan(best) else max(best, g)
    return best


def fma_peak_gflops(dtype: Any = "float32", threads: int | None = None) -> float:
    """The measured FMA peak in GFLOP/s for ``dtype`` on ``threads`` cores.

    One core's fp32 peak (``nncore._core._fma_peak_probe``, measured once per
    process) times the threads (at most the CPU count), halved for float64. NaN on
    CPUs without AVX2/AVX-512 (the probe's widths).
    """
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    n = config.get_num_threads() if threads is None else check_int(threads, "threads")
    n = min(n, os.cpu_count() or n)
    return _core_peak_fp32() * n * (1.0 if dt == np.float32 else 0.5)


def cpu_name() -> str:
    """The CPU's model name with its family and model numbers (``/proc/cpuinfo``),
    else what ``platform`` knows."""
    info: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if not key.strip():
                    break   # the first processor's block is enough
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    if "model name" not in info:
        return platform.processor() or "unknown CPU"
    if "cpu family" in info and "model" in info:
        return f"{info['model name']}, family {info['cpu family']} model {info['model']}"
    return info["model name"]


# ------------------------------------------------------------------ the record

def _entry(layer: int | None, name: str, phase: str, what: str, t: float, flop: float = 0.0,
           nbytes: float = 0.0, peak: float = float("nan")) -> dict:
    """One row: a GEMM (flop > 0: GFLOP/s and % of peak) or a memory-bound pass
    (bytes: GB/s)."""
    gf = flop / t / 1e9 if flop and t > 0 else None
    return {"layer": layer, "name": name, "phase": phase, "pass": what, "time_s": t,
            "flop": flop or None, "gflops": gf,
            "pct_peak": 100.0 * gf / peak if gf is not None and peak > 0 else None,
            "bytes": nbytes or None,
            "gb_s": nbytes / t / 1e9 if nbytes and t > 0 else None}


def _layer_entries(specs: list[tuple], names: list[str], sec: np.ndarray, batch: int,
                   es: int, peak: float) -> list[dict]:
    """Rows of every layer and phase from the per-step seconds sec (n_layers, slots).
    Every second of the record lands in exactly one row."""
    first = next(i for i, s in enumerate(specs) if s[0] == _LINEAR)
    fused = [s[0] == _LINEAR and i + 1 < len(specs) and specs[i + 1][0] == _ACT
             and specs[i + 1][4] == _RELU for i, s in enumerate(specs)]
    rows = []
    for i, (spec, name) in enumerate(zip(specs, names)):
        kind, n_in, n_out, bias = spec[0], spec[1], spec[2], spec[3]
        s = sec[i]
        bo = batch * n_out
        if kind == _LINEAR:
            gemm = 2.0 * batch * n_in * n_out
            fwd = s[_FWD] + (0.0 if fused[i] else s[_EPI])
            rows.append(_entry(i, name, "forward", "GEMM+bias" if bias else "GEMM", fwd,
                               flop=gemm, peak=peak))
            # leftovers with no work of their own (no bias, no dX) join dW
            dw = s[_DW] + (0.0 if bias else s[_DB]) + (0.0 if i > first else s[_DX])
            rows.append(_entry(i, name, "backward", "dW GEMM", dw, flop=gemm, peak=peak))
            if bias:   # read dY once, write db
                rows.append(_entry(i, name, "backward", "db", s[_DB],
                                   nbytes=(bo + n_out) * es))
            if i > first:
                rows.append(_entry(i, name, "backward", "dX GEMM", s[_DX], flop=gemm,
                                   peak=peak))
            continue
        # an activation or dropout: y = f(x) forward, dx = f'(dy, ...) backward
        act = kind == _ACT
        what = _ACT_NAMES.get(spec[4], "activation") if act else "dropout"
        mask = 0 if act else bo     # dropout's 1-byte mask, written then read
        if act and i > 0 and fused[i - 1]:   # run in the Linear's epilogue, in place
            rows.append(_entry(i, name, "forward", f"{what} (after the GEMM)",
                               sec[i - 1][_EPI] + s[_FWD], nbytes=2 * bo * es))
        else:
            rows.append(_entry(i, name, "forward", what, s[_FWD] + s[_EPI],
                               nbytes=2 * bo * es + mask))
        if i > first:   # backward stops at the first Linear
            rows.append(_entry(i, name, "backward", what, s[_DX] + s[_DW] + s[_DB],
                               nbytes=3 * bo * es if act else 2 * bo * es + mask))
    return rows


class Profile:
    """Where one training step's time goes (from :meth:`nncore.nn.Sequential.profile`).

    Times are means per step over the profiled steps (of the fastest round), measured
    by the C step itself.

    Attributes
    ----------
    total_s : float
        One whole ``nn_net_train_step`` call (the C clock).
    wall_s : float
        One ``model.train_step`` call from Python (argument checks included).
    layers : list of dict
        One entry per layer and phase (and pass where a phase has several): ``layer``
        (index), ``name``, ``phase`` (``"forward"`` / ``"backward"``), ``pass``
        (``"GEMM+bias"``, ``"dW GEMM"``, ``"db"``, ``"dX GEMM"``, an activation,
        ``"dropout"``), ``time_s``, ``flop`` and ``gflops`` and ``pct_peak`` (GEMMs,
        else None), ``bytes`` and ``gb_s`` (memory-bound passes, else None).
    passes : list of dict
        The step's passes outside the layers: ``loss``, ``grad norm`` (and clipping),
        ``update`` (the optimizer: one flat pass over every parameter), ``other``
        (the rest of the call: workspace check, bookkeeping); the same keys.
    steps, rounds, batch, threads : int
        Steps of the round shown, rounds run (the fastest is shown), rows, threads.
    dtype : str
        The model's dtype; the peak, the bytes and ``pct_peak`` are this dtype's.
    compute_dtype : str
        The model's GEMM compute mode, "float32" or "bfloat16" (float32 models). In
        bfloat16, ``pct_peak`` is still of the float32 FMA peak (the header says so) and
        can pass 100% (see the module docstring).
    peak_gflops : float
        The measured FMA peak for ``dtype`` and thread count (:func:`fma_peak_gflops`).
    cpu, arch : str
        CPU model name and the kernel family in use.
    """

    def __init__(self, *, total_s: float, wall_s: float, layers: list[dict],
                 passes: list[dict], steps: int, rounds: int, batch: int, threads: int,
                 dtype: str, peak_gflops: float, cpu: str, arch: str, title: str,
                 compute_dtype: str = "float32") -> None:
        self.total_s, self.wall_s = total_s, wall_s
        self.layers, self.passes = layers, passes
        self.steps, self.rounds = steps, rounds
        self.batch, self.threads, self.dtype = batch, threads, dtype
        self.compute_dtype = compute_dtype
        self.peak_gflops, self.cpu, self.arch, self.title = peak_gflops, cpu, arch, title

    def to_dict(self) -> dict:
        """Everything as plain Python values: ``total_s``, ``layers`` (one entry per
        layer and phase), ``passes``, ``wall_s``, ``steps``, ``rounds``, ``batch``,
        ``threads``, ``dtype``, ``compute_dtype``, ``peak_gflops``, ``cpu``, ``arch``,
        ``model``."""
        return {"total_s": self.total_s, "layers": [dict(r) for r in self.layers],
                "passes": [dict(r) for r in self.passes], "wall_s": self.wall_s,
                "steps": self.steps, "rounds": self.rounds, "batch": self.batch,
                "threads": self.threads, "dtype": self.dtype,
                "compute_dtype": self.compute_dtype,
                "peak_gflops": self.peak_gflops, "cpu": self.cpu, "arch": self.arch,
                "model": self.title}

    def __str__(self) -> str:
        peak = (f"{self.peak_gflops:.1f} GFLOP/s" if self.peak_gflops > 0 else "n/a")
        mode = "" if self.compute_dtype == "float32" else f" (compute {self.compute_dtype})"
        head = [f"nncore profile: {self.title}, {self.dtype}{mode}, batch {self.batch}, "
                f"{self.threads} thread{'s' if self.threads != 1 else ''}, "
                f"mean of {self.steps} steps" + (f" (the fastest of {self.rounds} rounds)"
                                                 if self.rounds > 1 else ""),
                f"CPU: {self.cpu} ({platform.machine()}, kernels {self.arch}); measured FMA "
                f"peak {peak} ({self.dtype}, {self.threads} thread"
                f"{'s' if self.threads != 1 else ''})" + (
                    "" if not mode else f"; % peak: of this {self.dtype} FMA peak, which "
                    f"{self.compute_dtype} GEMMs can pass (2 products per lane and "
                    "instruction)"),
                f"step: {_fmt_t(self.total_s)} in C, {_fmt_t(self.wall_s)} per "
                f"train_step call from Python", ""]
        cols = ["layer", "name", "phase", "pass", "time", "% step", "GFLOP/s", "% peak",
                "GB/s"]
        body = []
        for r in self.layers + self.passes:
            body.append([str(r["layer"]) if r["layer"] is not None else "",
                         r["name"], r["phase"], r["pass"], _fmt_t(r["time_s"]),
                         f"{100.0 * r['time_s'] / self.total_s:.1f}%" if self.total_s else "-",
                         _fmt_num(r["gflops"]), _fmt_num(r["pct_peak"]), _fmt_num(r["gb_s"])])
        body.append(["", "", "total", "", _fmt_t(self.total_s), "100.0%", "", "", ""])
        w = [max(len(c), *(len(b[j]) for b in body)) for j, c in enumerate(cols)]
        right = {0, 4, 5, 6, 7, 8}

        def line(cells: list[str]) -> str:
            return "  ".join(c.rjust(w[j]) if j in right else c.ljust(w[j])
                             for j, c in enumerate(cells)).rstrip()

        return "\n".join(head + [line(cols), line(["-" * n for n in w])] +
                         [line(b) for b in body])

    def __repr__(self) -> str:
        return (f"<Profile {self.title} {self.dtype} batch {self.batch}: "
                f"{_fmt_t(self.total_s)} per step, {len(self.layers)} layer entries>")


def _fmt_t(t: float) -> str:
    return f"{t * 1e6:.1f} us" if t < 1e-3 else f"{t * 1e3:.3f} ms"


def _fmt_num(v: float | None) -> str:
    return "" if v is None else f"{v:.1f}"


# ------------------------------------------------------------------ running it

def profile_steps(model: Any, x: Any, y: Any, loss: Any, optimizer: Any, steps: int = 20,
                  warmup: int = 1, rounds: int = 1) -> Profile:
    """Run ``warmup`` untimed then ``rounds`` x ``steps`` profiled ``model.train_step(x,
    y, loss, optimizer)`` calls and return the :class:`Profile` of the fastest round
    (see :meth:`nncore.nn.Sequential.profile`, which calls this)."""
    steps = check_int(steps, "steps", 1)
    warmup = check_int(warmup, "warmup", 0)
    rounds = check_int(rounds, "rounds", 1)
    loss_fn = _losses.get(loss)
    if not model._net.readable(x):   # checked and converted once, as train_step would
        x = model._prepare_x(x)
    for _ in range(warmup):
        model.train_step(x, y, loss_fn, optimizer)
    net = model._net
    best = None
    for _ in range(rounds):
        wall = 0.0
        net.set_profiling(True)   # zeroes the record
        try:
            for _ in range(steps):
                t0 = time.perf_counter()
                model.train_step(x, y, loss_fn, optimizer)
                wall += time.perf_counter() - t0
        finally:
            net.set_profiling(False)
        sec, step_sec, n = net.profile_read()
        total = step_sec[_STEP["NN_PROF_STEP_TOTAL"]]
        # other processes only ever slow a round down: keep the fastest
        if best is None or total < best[0]:
            best = (total, sec / n, step_sec / n, n, wall / n)
    _, sec, step_sec, n, wall = best
    batch = int(x.shape[0])
    es = model.dtype.itemsize
    peak = fma_peak_gflops(model.dtype)
    specs, names, n_in = [], [], model.in_features
    for layer, n_out in zip(model.layers, model._shapes):
        specs.append(layer._c_spec(n_in))
        names.append(repr(layer))
        n_in = n_out
    layers = _layer_entries(specs, names, sec, batch, es, peak)
    # the passes outside the layers, bytes as they stream through memory
    labels = loss_fn._prepare_target(y, (batch, model.out_features), model.dtype)[4]
    bo = batch * model.out_features
    np_ = model.num_parameters
    n_state = len(optimizer.state)
    total = float(step_sec[_STEP["NN_PROF_STEP_TOTAL"]])
    parts = {k: float(step_sec[_STEP[f"NN_PROF_STEP_{k}"]])
             for k in ("FORWARD", "LOSS", "BACKWARD", "CLIP", "UPDATE")}
    passes = [
        _entry(None, type(loss_fn).__name__, "loss", "value and gradient", parts["LOSS"],
               nbytes=2 * bo * es + (batch * 8 if labels is not None else bo * es)),
        _entry(None, "gradients", "update", "grad norm", parts["CLIP"], nbytes=np_ * es),
        # read p and g, write p; read and write each state buffer
        _entry(None, type(optimizer).__name__, "update", "optimizer", parts["UPDATE"],
               nbytes=np_ * es * (3 + 2 * n_state)),
        _entry(None, "step", "other", "outside the passes",
               max(0.0, total - sum(r["time_s"] for r in layers) - parts["LOSS"]
                   - parts["CLIP"] - parts["UPDATE"])),
    ]
    sizes = [model.in_features] + [s[2] for s in specs if s[0] == _LINEAR]
    return Profile(total_s=total, wall_s=wall, layers=layers, passes=passes,
                   steps=int(n), rounds=rounds, batch=batch, threads=config.get_num_threads(),
                   dtype=str(model.dtype), peak_gflops=peak, cpu=cpu_name(),
                   arch=config.get_arch(), title="-".join(map(str, sizes)),
                   compute_dtype=model.compute_dtype)
