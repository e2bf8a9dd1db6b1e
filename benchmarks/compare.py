#!/usr/bin/env python
"""Side-by-side benchmarks of nncore against the libraries people compare it with.

    python benchmarks/compare.py gemm [--threads 1,2] [--dtypes f32,f64] [--quick]
                                      [--markdown benchmarks/RESULTS.md]
    python benchmarks/compare.py train [--threads 2] [--workloads small,mnist,wide] [--json P]
    python benchmarks/compare.py infer [--threads 2] [--json P]
    python benchmarks/compare.py memory [--steps 10000]
    python benchmarks/compare.py adam [--n 10000000]
    python benchmarks/compare.py net [--threads 1,2]
    python benchmarks/compare.py fit [--threads 2] [--workloads mnist,small] [--quick]
    python benchmarks/compare.py sklearn [--threads 2] [--rounds 2] [--workloads digits,wide]
    python benchmarks/compare.py all [--quick] [--json P]   (train, infer, memory, adam)
    python benchmarks/compare.py targets [--quick] [--markdown F]   (issue 12: met or not)

Each subcommand lives in its own module ``benchmarks/_bench_<name>.py`` that
defines ``add_arguments(parser)`` and ``run(args) -> int``; register it in
SUBCOMMANDS below. ``train``, ``infer`` and ``memory`` are the package's own
``nncore bench`` harness (src/nncore/_bench.py, one implementation for both). Every
subcommand verifies results before timing, and measures all contenders in one
process, interleaved, so the ratios survive a noisy shared machine.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# name -> (module, one-line help)
SUBCOMMANDS = {
    "gemm": ("_bench_gemm", "matmul GFLOP/s: nncore vs NumPy (OpenBLAS), with the FMA peak"),
    "bf16gemm": ("_bench_bf16", "bf16 GEMM GFLOP/s: nncore bf16 vs fp32 vs torch.matmul bf16"),
    "adam": ("_bench_adam", "fused Adam on 10M parameters vs copy / STREAM moving the same bytes"),
    "net": ("_bench_net", "forward+backward per batch and single-sample latency vs NumPy/torch"),
    "fit": ("_bench_fit", "fit vs the sum of its train_step calls; train_step vs the C step"),
    "sklearn": ("_bench_sklearn", "MLPClassifier.fit time and accuracy vs scikit-learn's"),
    "targets": ("_bench_targets", "issue 12's speed targets on this machine: figure, bound, "
                                  "met or not"),
}
# served by nncore._bench (the installed `nncore bench`)
PACKAGE = {
    "train": "training step vs NumPy reference, NumPy, PyTorch, JAX, scikit-learn",
    "infer": "single-sample latency and batched inference throughput vs peers",
    "memory": "RSS over 10k steady-state training steps (must stay flat)",
}


def _run_all(args) -> int:
    """train, infer, memory, then adam, each with its defaults (--quick passed on)."""
    from nncore import _bench
    rc = 0
    extra = ["--quick"] if args.quick else []
    for what in ("train", "infer"):
        a = extra + (["--json", f"{args.json}.{what}.json"] if args.json else [])
        rc |= _bench.main([what, "--threads", str(args.threads)] + a)
        print()
    rc |= _bench.main(["memory"] + (["--steps", "2000"] if args.quick else []))
    print()
    mod = importlib.import_module("_bench_adam")
    p = argparse.ArgumentParser()
    mod.add_arguments(p)
    rc |= int(mod.run(p.parse_args([])) or 0)
    return rc


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="compare.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (modname, help_) in SUBCOMMANDS.items():
        mod = importlib.import_module(modname)
        modules[name] = mod
        mod.add_arguments(sub.add_parser(name, help=help_, description=help_))
    from nncore import _bench
    for name, help_ in PACKAGE.items():
        _bench.add_arguments(sub.add_parser(name, help=help_, description=help_), name)
    pa = sub.add_parser("all", help="train, infer, memory and adam in one run")
    pa.add_argument("--threads", type=int, default=2)
    pa.add_argument("--quick", action="store_true")
    pa.add_argument("--json", metavar="PREFIX", help="JSON files PREFIX.train.json, ...")
    args = parser.parse_args(argv)
    if args.command in PACKAGE:
        return int(_bench.run(args, args.command) or 0)
    if args.command == "all":
        return _run_all(args)
    return int(modules[args.command].run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
