"""compare.py gemm: nncore.ops.matmul vs numpy.matmul (OpenBLAS) and torch.matmul
(MKL, when torch is installed), GFLOP/s and % of the FMA peak.

Cases: square n = 32 ... 2048 and the MLP shapes (M, K, N) in their three
training forms — forward x @ W, weight gradient x.T @ g, input gradient
g @ W.T (the transposes are views: nncore packs them without copying).
Every case is verified against a float64 product before it is timed.
First, each nncore kernel family's micro-kernel alone on cache-resident packed
panels (``_core._ukr_probe``), as % of the FMA peak measured alternately with it.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import nncore
from nncore import _core, ops

from _bench_common import best_time, fma_peak, header, load_average, set_threads

try:
    import torch
except ImportError:  # the MKL column is optional
    torch = None

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
                   help="nncore kernel families, comma-separated (the first is the one "
                        "ratios and %%peak refer to): auto, ref, avx2, avx512, avx512_skx")
    p.add_argument("--clock", choices=("wall", "thread"), default="wall",
                   help="'thread': 1-thread rows timed in this thread's CPU time "
                        "(time slices other processes take are not counted)")
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


def ukr_alone(archs: list[str], dtypes, rounds: int = 15) -> list[tuple]:
    """(arch, dtype, tile, GFLOP/s, % of peak): each family's micro-kernel on packed
    panels in L1 (kc 128, one A sliver), timed alternately with the FMA-peak probe
    in this thread's CPU time; the medians of the per-round ratios."""
    out = []
    for arch in archs:
        nncore.config.set_arch(arch)
        blk = _core._gemm_blocking()
        for dt in dtypes:
            f64 = dt == np.float64
            mr, nr = blk["f64" if f64 else "f32"][:2]
            iters = max(1, int(3e8 / (2 * mr * nr * 128)))  # ~1.5 ms
            ratios, gfs = [], []
            for _ in range(rounds):
                t0 = time.thread_time()
                _core._fma_peak_probe(1_000_000, 16)
                peak = 24 * 16 * 1_000_000 / (time.thread_time() - t0) / 1e9 / (2 if f64 else 1)
                t0 = time.thread_time()
                flops = _core._ukr_probe(iters, 128, 1, f64)
                gf = flops / (time.thread_time() - t0) / 1e9
                ratios.append(gf / peak)
                gfs.append(gf)
            out.append((arch, dt.__name__, f"{mr}x{nr}", float(np.median(gfs)),
                        100 * float(np.median(ratios))))
    return out


def run(args) -> int:
    m = measure(args)
    if args.markdown:
        write_markdown(args.markdown, m["head"] + f"load average at end: {m['end_load']}\n",
                       m["peak1"], m["peak2"], m["rows"], m["names"], m["ukr"], args.clock,
                       append=args.append)
        print(f"\nwrote {args.markdown}")
    if m["failures"]:
        print(f"{m['failures']} case(s) failed verification", file=sys.stderr)
        return 1
    return 0


def measure(args) -> dict:
    """Prints the table as it goes; returns its rows (dicts: dtype, label, form,
    threads, gf by contender, vs_numpy, vs_mkl, pct, ok) with the header, the
    peaks, the micro-kernel rows, the contenders' names and the failure count."""
    threads = [int(t) for t in args.threads.split(",")]
    nncore.config.set_arch("auto")
    auto = nncore.config.get_arch()
    archs = [auto if a == "auto" else a for a in args.arch.split(",")]
    nncore.config.set_arch(archs[0])
    dtypes = [{"f32": np.float32, "f64": np.float64}[d] for d in args.dtypes.split(",")]
    head, cfg = header()
    print(head)
    peak1 = fma_peak(1)
    peak2 = fma_peak(2) if 2 in threads else float("nan")
    print(f"measured fp32 FMA peak: {peak1:.1f} GFLOP/s on 1 core, {peak2:.1f} on 2 "
          f"(fp64 peak is half)\n")
    if _zmm_ok():
        print("micro-kernel alone (packed panels in L1, kc 128), % of the FMA peak:")
        ukr = ukr_alone(archs, dtypes)
        for arch, dname, tile, gf, pct in ukr:
            print(f"  {arch:12} {dname:8} {tile:6} {gf:7.1f} GFLOP/s {pct:5.1f}%")
        print()
    else:
        ukr = []

    rng = np.random.default_rng(0)
    rows = []
    failures = 0
    mkl = torch is not None
    names = list(archs) + ["numpy"] + (["mkl"] if mkl else [])
    title = (f"{'dtype':7} {'M x K x N':>16} {'form':>6} {'thr':>3} "
             + " ".join(f"{n[:10]:>10}" for n in names)
             + f" {'/numpy':>6}" + (f" {'/mkl':>6}" if mkl else "") + f" {'%peak':>6}")
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
            ta = tb = tout = None
            if mkl:
                ta, tb = torch.from_numpy(a), torch.from_numpy(b)
                tout = torch.empty((m, n), dtype=ta.dtype)
            for t in threads:
                set_threads(t)
                if mkl:
                    torch.set_num_threads(t)
                ok = True
                fns = []
                for arch in archs:
                    nncore.config.set_arch(arch)
                    # verify first: every contender against float64, at this thread count
                    err = verify(a, b, ops.matmul(a, b, out))
                    ok = ok and err <= eps * (4 + 2 * np.sqrt(k))
                    fns.append((arch, lambda: ops.matmul(a, b, out)))
                fns.append((None, lambda: np.matmul(a, b, out=out_np)))
                if mkl:
                    torch.matmul(ta, tb, out=tout)
                    ok = ok and verify(a, b, tout.numpy()) <= eps * (4 + 2 * np.sqrt(k))
                    fns.append((None, lambda: torch.matmul(ta, tb, out=tout)))
                if not ok:
                    failures += 1
                clock = time.thread_time if (args.clock == "thread" and t == 1) else time.perf_counter
                ts = [float("inf")] * len(fns)
                for _ in range(3):  # interleaved rounds; the family is set outside the timing
                    for i, (arch, fn) in enumerate(fns):
                        if arch is not None:
                            nncore.config.set_arch(arch)
                        ts[i] = min(ts[i], best_time(fn, args.budget, clock=clock))
                gf = [flops / x / 1e9 for x in ts]
                peak = (peak1 if t == 1 else peak2) / (1 if dt == np.float32 else 2)
                na = len(archs)
                row = {"dtype": dt.__name__, "label": label, "form": form, "threads": t,
                       "gf": dict(zip(names, gf)), "vs_numpy": gf[0] / gf[na],
                       "vs_mkl": gf[0] / gf[na + 1] if mkl else float("nan"),
                       "pct": 100 * gf[0] / peak, "ok": ok}
                rows.append(row)
                print(f"{row['dtype']:7} {label:>16} {form:>6} {t:>3} "
                      + " ".join(f"{x:10.1f}" for x in gf)
                      + f" {row['vs_numpy']:6.2f}" + (f" {row['vs_mkl']:6.2f}" if mkl else "")
                      + f" {row['pct']:5.0f}%" + ("" if ok else "  VERIFY FAILED"), flush=True)
    nncore.config.set_arch(cfg["arch"])
    set_threads(cfg["num_threads"])
    end_load = load_average()
    print(f"\nload average at end: {end_load}")
    return {"head": head, "end_load": end_load, "peak1": peak1, "peak2": peak2, "rows": rows,
            "names": names, "ukr": ukr, "failures": failures}


def _zmm_ok() -> bool:
    probe = _core._fma_peak_probe
    return probe(10, 16) == probe(10, 16)  # NaN without AVX-512


def write_markdown(path: str, head: str, peak1: float, peak2: float, rows, names, ukr,
                   clock: str, append: bool = False) -> None:
    cols = names[:-2] if "mkl" in names else names[:-1]
    peers = "`numpy.matmul` (OpenBLAS)" + (" and `torch.matmul` (MKL)" if "mkl" in names else "")
    lines = [] if append else ["# nncore benchmarks", ""]
    lines += [f"## GEMM: `nncore.ops.matmul` ({', '.join(cols)} kernels) vs {peers}", "",
              "Produced by `python benchmarks/compare.py gemm --markdown benchmarks/RESULTS.md`",
              "(every case verified against a float64 product first; all contenders timed",
              "interleaved in one process, best of several runs; GFLOP/s = 2·M·N·K / time"
              + ("; 1-thread rows in thread CPU time" if clock == "thread" else "") + ").",
              "`x.T@g` and `g@W.T` pass transposed *views*: no copies on either side.", "",
              "```", head.rstrip(), "```", "",
              f"Measured fp32 FMA peak: **{peak1:.1f} GFLOP/s on 1 core"
              + (f", {peak2:.1f} on 2** " if peak2 == peak2 else "** ") +
              "(12 independent FMA chains, `nncore._core._fma_peak_probe`); fp64 peak is half. "
              f"Ratios and %peak refer to `{cols[0]}`, against the peak for the row's dtype "
              "and thread count.", ""]
    if ukr:
        lines += ["Micro-kernel alone (packed panels in L1, kc 128, `_core._ukr_probe`), "
                  "median % of the FMA peak measured alternately with it:", "",
                  "| family | dtype | tile | GFLOP/s | % of peak |", "| --- | --- | --- | ---: | ---: |"]
        lines += [f"| {a} | {d} | {t} | {g:.1f} | {p:.1f}% |" for a, d, t, g, p in ukr]
        lines.append("")
    lines += ["| dtype | M x K x N | form | threads | "
              + " | ".join(f"{n} GFLOP/s" for n in names) + " | / NumPy"
              + (" | / MKL" if "mkl" in names else "") + " | % of peak |",
              "| --- | --- | --- | ---: | " + " | ".join("---:" for _ in names) + " | ---:"
              + (" | ---:" if "mkl" in names else "") + " | ---: |"]
    for r in rows:
        flag = "" if r["ok"] else " (verify failed)"
        lines.append(f"| {r['dtype']} | {r['label']} | {r['form']} | {r['threads']} | "
                     + " | ".join(f"{r['gf'][n]:.1f}" for n in names)
                     + f" | {r['vs_numpy']:.2f}{flag}"
                     + (f" | {r['vs_mkl']:.2f}" if "mkl" in names else "")
                     + f" | {r['pct']:.0f}% |")
    with open(path, "a" if append else "w") as f:
        f.write(("\n" if append else "") + "\n".join(lines) + "\n")
