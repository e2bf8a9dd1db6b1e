"""compare.py gemm: nncore.ops.matmul vs numpy.matmul, GFLOP/s and % of FMA peak.

Cases: square n = 32 ... 2048 and the MLP shapes (M, K, N) in their three
training forms — forward x @ W, weight gradient x.T @ g, input gradient
g @ W.T (the transposes are views: nncore packs them without copying).
Every case is verified against a float64 product before it is timed.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

import nncore
from nncore import ops

from _bench_common import fma_peak, header, interleaved, load_average, set_threads

SQUARE = [32, 64, 128, 256, 512, 1024, 2048]
MLP = [(32, 64, 128), (128, 784, 256), (128, 256, 128), (512, 1024, 2048), (512, 2048, 2048)]
QUICK_SQUARE = [32, 64, 256, 1024]
QUICK_MLP = [(128, 784, 256), (512, 1024, 2048)]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (1,2)")
    p.add_argument("--dtypes", default="f32,f64", help="f32, f64 or both")
    p.add_argument("--quick", action="store_true", help="a few shapes only")
    p.add_argument("--budget", type=float, default=0.1,
                   help="seconds per measurement round (3 interleaved rounds)")
    p.add_argument("--arch", default="auto",
                   help="nncore kernel family: auto (best for this CPU), ref, avx2, avx512")
    p.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    p.add_argument("--append", action="store_true",
                   help="append the Markdown table to FILE instead of replacing it")


def cases(quick: bool):
    """(label, form, make) with make(rng, dtype) -> (a, b) as the training step sees them."""
    out = []
    for n in (QUICK_SQUARE if quick else SQUARE):
        out.append((f"{n}x{n}x{n}", "square",
                    lambda rng, dt, n=n: (_r(rng, (n, n), dt), _r(rng, (n, n), dt))))
    for (M, K, N) in (QUICK_MLP if quick else MLP):
        lab = f"{M}x{K}x{N}"
        # forward: x (M, K) @ W (K, N)
        out.append((lab, "x@W", lambda rng, dt, M=M, K=K, N=N:
                    (_r(rng, (M, K), dt), _r(rng, (K, N), dt))))
        # weight gradient: x.T (K, M) @ g (M, N)
        out.append((lab, "x.T@g", lambda rng, dt, M=M, K=K, N=N:
                    (_r(rng, (M, K), dt).T, _r(rng, (M, N), dt))))
        # input gradient: g (M, N) @ W.T (N, K)
        out.append((lab, "g@W.T", lambda rng, dt, M=M, K=K, N=N:
                    (_r(rng, (M, N), dt), _r(rng, (K, N), dt).T)))
    return out


def _r(rng, shape, dt):
    return rng.standard_normal(shape).astype(dt)


def verify(a: np.ndarray, b: np.ndarray, got: np.ndarray) -> float:
    """Max error relative to |a| @ |b| (scale-free); must be a few eps * sqrt(k)."""
    want = a.astype(np.float64) @ b.astype(np.float64)
    mag = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64) + 1e-300
    return float(np.max(np.abs(got - want) / mag)) if got.size else 0.0


def run(args) -> int:
    threads = [int(t) for t in args.threads.split(",")]
    nncore.config.set_arch(args.arch)
    dtypes = [{"f32": np.float32, "f64": np.float64}[d] for d in args.dtypes.split(",")]
    head, cfg = header()
    print(head)
    peak1 = fma_peak(1)
    peak2 = fma_peak(2) if 2 in threads else float("nan")
    print(f"measured fp32 FMA peak: {peak1:.1f} GFLOP/s on 1 core, {peak2:.1f} on 2 "
          f"(fp64 peak is half)\n")

    rng = np.random.default_rng(0)
    rows = []
    failures = 0
    title = (f"{'dtype':5} {'M x K x N':>16} {'form':>6} {'thr':>3} {'nncore':>8} "
             f"{'numpy':>8} {'ratio':>6} {'%peak':>6}")
    print(title)
    print("-" * len(title))
    for dt in dtypes:
        eps = np.finfo(dt).eps
        for label, form, make in cases(args.quick):
            a, b = make(rng, dt)
            m, k = a.shape
            n = b.shape[1]
            out = np.empty((m, n), dt)
            out_np = np.empty((m, n), dt)
            flops = 2.0 * m * n * k
            for t in threads:
                set_threads(t)
                # verify first: nncore and numpy against float64, at this thread count
                err = verify(a, b, ops.matmul(a, b, out))
                ok = err <= eps * (4 + 2 * np.sqrt(k))
                if not ok:
                    failures += 1
                tn, tp = interleaved([lambda: ops.matmul(a, b, out),
                                      lambda: np.matmul(a, b, out=out_np)],
                                     budget=args.budget)
                gn, gp = flops / tn / 1e9, flops / tp / 1e9
                peak = (peak1 if t == 1 else peak2) / (1 if dt == np.float32 else 2)
                row = (dt.__name__, label, form, t, gn, gp, gn / gp, 100 * gn / peak,
                       "" if ok else f"  VERIFY FAILED err={err:.2e}")
                rows.append(row)
                print(f"{row[0]:5} {label:>16} {form:>6} {t:>3} {gn:8.1f} {gp:8.1f} "
                      f"{gn / gp:6.2f} {row[7]:5.0f}%{row[8]}", flush=True)
    set_threads(cfg["num_threads"])
    end_load = load_average()
    print(f"\nload average at end: {end_load}")
    if args.markdown:
        write_markdown(args.markdown, head + f"load average at end: {end_load}\n", peak1, peak2,
                       rows, append=args.append)
        print(f"\nwrote {args.markdown}")
    if failures:
        print(f"{failures} case(s) failed verification", file=sys.stderr)
        return 1
    return 0


def write_markdown(path: str, head: str, peak1: float, peak2: float, rows,
                   append: bool = False) -> None:
    arch = nncore.config.get_arch()
    lines = [] if append else ["# nncore benchmarks", ""]
    lines += [f"## GEMM: `nncore.ops.matmul` ({arch} kernels) vs `numpy.matmul`", "",
             "Produced by `python benchmarks/compare.py gemm --markdown benchmarks/RESULTS.md`",
             "(every case verified against a float64 product first; nncore and NumPy timed",
             "interleaved in one process, best of several runs; GFLOP/s = 2·M·N·K / time).",
             "`x.T@g` and `g@W.T` pass transposed *views*: no copies on either side.", "",
             "```", head.rstrip(), "```", "",
             f"Measured fp32 FMA peak: **{peak1:.1f} GFLOP/s on 1 core"
             + (f", {peak2:.1f} on 2** " if peak2 == peak2 else "** ") +
             "(12 independent FMA chains, `nncore._core._fma_peak_probe`); fp64 peak is half. "
             "%peak below is against the peak for the row's dtype and thread count.", "",
             "| dtype | M x K x N | form | threads | nncore GFLOP/s | NumPy GFLOP/s | "
             "nncore / NumPy | % of peak |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        flag = " (verify failed)" if r[8] else ""
        lines.append(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.1f} | {r[5]:.1f} | "
                     f"{r[6]:.2f}{flag} | {r[7]:.0f}% |")
    with open(path, "a" if append else "w") as f:
        f.write(("\n" if append else "") + "\n".join(lines) + "\n")
