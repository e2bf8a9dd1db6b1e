"""compare.py targets: the speed targets of issue 12 measured on this machine in
one run, each with its figure, the bound it needs and whether it is met.

    python benchmarks/compare.py targets [--quick] [--threads 2] [--markdown FILE]

What it runs (each part verifies its results before it times anything):
- GEMM, fp32, 1 and 2 threads: squares 512/1024/2048 and the mnist/wide MLP
  shapes in the three forms of a training step (``compare.py gemm``), against
  NumPy (OpenBLAS) and ``torch.matmul`` (MKL) when torch is installed; % of the
  FMA peak measured in the same run.
- The training step of small, mnist and wide against NumPy and PyTorch beside
  nncore in this process and JAX beside nncore in a process of its own
  (``nncore bench train``; ratios within a process), and wide at 1 thread for
  the 1 -> 2 thread speed-up.
- Inference: single-sample latency (small MLP) and batch 1024 (mnist MLP)
  against onnxruntime (``nncore bench infer``).
- ``fit`` against the plain loop of its ``train_step`` calls (``compare.py fit``).

Issue 12 asks the GEMM bounds against OpenBLAS and MKL of the Intel server class
(Sapphire Rapids); on other CPUs it asks no regression. The table says which
class this CPU is and marks those rows "Intel" so a reader does not take an AMD
figure for an Intel verdict. A missing peer leaves its rows "not measured".
Timing is on a shared machine: the load average is printed at both ends.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import _bench_fit
import _bench_gemm
from _bench_common import header, load_average

from nncore import _bench

# a bound: (">=" or "<=", number, unit as printed after it)
Bound = tuple[str, float, str]

GEMM_SQUARES = {"512x512x512", "1024x1024x1024", "2048x2048x2048"}
GEMM_MLP = {"128x784x256", "512x1024x2048", "512x2048x2048"}
TRAIN_BOUNDS = {"small": 3.0, "mnist": 1.8, "wide": 1.2}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=2, help="threads of the 2-thread rows (2)")
    p.add_argument("--quick", action="store_true",
                   help="fewer rounds and shapes (a smoke run, not a verdict)")
    p.add_argument("--markdown", metavar="FILE", help="also append the verdict table to FILE")


def cpu_class() -> str:
    """'Intel', 'AMD' or 'other', from /proc/cpuinfo's vendor_id."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    v = line.split(":", 1)[1].strip()
                    return {"GenuineIntel": "Intel", "AuthenticAMD": "AMD"}.get(v, "other")
    except OSError:
        pass
    return "other"


def _gemm_args(threads: int, quick: bool) -> argparse.Namespace:
    return argparse.Namespace(threads=f"1,{threads}", dtypes="f32", quick=quick,
                              budget=0.05 if quick else 0.1, arch="auto", clock="wall",
                              markdown=None, append=False)


def gemm_figures(rows: list[dict], threads: int) -> list[tuple[str, Bound, float]]:
    """(target naming its worst row, bound, that row's figure) per GEMM target."""
    def worst(key: str, sel: list[dict]) -> tuple[str, float]:
        sel = [r for r in sel if r[key] == r[key]]
        if not sel:
            return "", math.nan
        r = min(sel, key=lambda r: r[key])
        return f"; worst {r['label']} {r['form']} at {r['threads']} thr", r[key]

    sq1 = [r for r in rows if r["threads"] == 1 and r["label"] in GEMM_SQUARES]
    covered = [r for r in rows if r["label"] in GEMM_SQUARES | GEMM_MLP]
    out = []
    for what, key, sel, bound in (
            ("1 thread, squares n >= 512: % of FMA peak", "pct", sq1, (">=", 85.0, "%")),
            (f"1/{threads} threads, squares + MLP shapes: vs OpenBLAS (NumPy)", "vs_numpy",
             covered, (">=", 1.05, "x")),
            (f"1/{threads} threads, squares + MLP shapes: vs MKL (torch.matmul)", "vs_mkl",
             covered, (">=", 0.95, "x"))):
        where, fig = worst(key, sel)
        out.append((f"GEMM fp32 {what}{where}", bound, fig))
    return out


def train_figures(ratios: dict[str, dict[str, float]], speedup: float
                  ) -> list[tuple[str, Bound, float]]:
    """Fastest peer / nncore per workload (ratios[w][peer] = peer time / nncore time,
    each from one process), and wide's 1 -> 2 thread speed-up."""
    out = []
    for w, bound in TRAIN_BOUNDS.items():
        r = ratios.get(w, {})
        fig = min(r.values()) if r else math.nan
        best = f" ({min(r, key=r.get)})" if r else ""
        out.append((f"train step {w}: fastest of NumPy/PyTorch/JAX{best} / nncore",
                    (">=", bound, "x"), fig))
    out.append(("train step wide: 1 -> 2 thread speed-up", (">=", 1.8, "x"), speedup))
    return out


def train_ratios(w: str, threads: int, rounds: int) -> tuple[dict[str, float], float]:
    """{peer: peer time / nncore time} for one workload, and nncore's 1 -> 2 thread
    speed-up (wide only, else NaN). NumPy and PyTorch are timed beside nncore in this
    process, JAX beside nncore in a process of its own: the thread pools of torch
    and JAX in one process compete for the cores and slow both."""
    res, _ = _bench.bench_train(w, threads, rounds, {"reference", "sklearn", "jax"},
                                scaling=w == "wide")
    print(f"  {w}: " + ", ".join(f"{k} {v * 1e6:.1f} us" for k, v in res.items()))
    ratios = {p: res[p] / res["nncore"] for p in ("numpy", "torch") if p in res}
    speedup = res["nncore 1 thread"] / res["nncore"] if "nncore 1 thread" in res else math.nan
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "jax.json")
        cmd = [sys.executable, "-m", "nncore", "bench", "train", "--workloads", w,
               "--threads", str(threads), "--rounds", str(rounds), "--no-scaling",
               "--skip", "reference,numpy,torch,sklearn", "--json", path]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode == 0 and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                jr = json.load(f)["train"][w]
            if "jax" in jr:
                ratios["jax"] = jr["jax"] / jr["nncore"]
                print(f"  {w} (own process): nncore {jr['nncore'] * 1e6:.1f} us, "
                      f"jax {jr['jax'] * 1e6:.1f} us")
        else:
            print(f"  {w}: JAX run failed: {done.stderr.strip()[-300:]}")
    return ratios, speedup


def infer_figures(rows: list[dict]) -> list[tuple[str, Bound, float]]:
    lat = next((r for r in rows if r["what"] == "latency"), {})
    thr = next((r for r in rows if r["what"] == "throughput"), {})
    ort = thr.get("onnxruntime", math.nan)
    return [("inference batch 1024, mnist MLP: onnxruntime / nncore", (">=", 1.3, "x"),
             ort / thr["nncore"] if "nncore" in thr else math.nan),
            ("inference single sample, small MLP (us)", ("<=", 2.0, " us"),
             lat.get("nncore", math.nan) * 1e6)]


def verdict_table(figures: list[tuple[str, Bound, float, str]], cls: str) -> list[str]:
    """Markdown rows: target, the class it applies to, the bound, the figure, met or not."""
    lines = ["| target | applies to | needs | measured | verdict |",
             "| --- | --- | --- | ---: | --- |"]
    for name, (op, num, unit), fig, applies in figures:
        if fig != fig:
            shown, verdict = "n/a", "not measured"
        else:
            shown = f"{fig:.2f}{unit}"
            verdict = "met" if (fig >= num if op == ">=" else fig <= num) else "NOT MET"
            if applies == "Intel" and cls != "Intel":
                verdict += " (an Intel target: informative here)"
        lines.append(f"| {name} | {applies} | {op} {num:g}{unit} | {shown} | {verdict} |")
    return lines


def run(args) -> int:
    cls = cpu_class()
    head, _ = header()
    print(head)
    print(f"CPU class: {cls}\n")
    rounds = 3 if args.quick else 7
    figures: list[tuple[str, Bound, float, str]] = []

    print("== GEMM ==")
    g = _bench_gemm.measure(_gemm_args(args.threads, args.quick))
    figures += [(n, b, f, "Intel") for n, b, f in gemm_figures(g["rows"], args.threads)]

    print("\n== training step ==")
    _bench.set_threads(args.threads)
    ratios, speedup = {}, math.nan
    for w in ("small", "mnist") + (() if args.quick else ("wide",)):
        ratios[w], s = train_ratios(w, args.threads, rounds)
        speedup = s if w == "wide" else speedup
    figures += [(n, b, f, "all") for n, b, f in train_figures(ratios, speedup)]

    print("\n== inference ==")
    rows, _ = _bench.bench_infer(args.threads, rounds, {"reference", "sklearn"})
    for r in rows:
        print(f"  {r['what']} {r['mlp']} b{r['batch']}: "
              + ", ".join(f"{k} {v * 1e6:.1f} us" for k, v in r.items()
                          if isinstance(v, float)))
    figures += [(n, b, f, "all") for n, b, f in infer_figures(rows)]

    print("\n== fit ==")
    n, epochs, frounds = (4000, 2, 2) if args.quick else (20000, 5, 5)
    fit = _bench_fit.fit_rows(["mnist"], n, epochs, frounds)[0]
    print(f"  mnist: fit {fit['fit']:.3f} s, its train_step calls {fit['steps']:.3f} s")
    figures.append((f"fit (mnist, {n} rows, {epochs} epochs) / its train_step calls", ("<=", 1.10, "x"),
                    fit["ratio"], "all"))

    lines = verdict_table(figures, cls)
    end = f"load average at end: {load_average()}"
    print("\n" + "\n".join(lines) + "\n\n" + end)
    if args.markdown:
        with open(args.markdown, "a", encoding="utf-8") as f:
            f.write("\n## Issue 12 targets on this machine (`compare.py targets`)\n\n```\n"
                    + head.rstrip() + f"\nCPU class: {cls}\n{end}\n```\n\n"
                    + "\n".join(lines) + "\n")
        print(f"appended to {args.markdown}")
    return 1 if g["failures"] else 0
