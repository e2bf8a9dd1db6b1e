#!/usr/bin/env python
"""Side-by-side benchmarks of nncore against the libraries people compare it with.

    python benchmarks/compare.py gemm [--threads 1,2] [--dtypes f32,f64] [--quick]
                                      [--markdown benchmarks/RESULTS.md]

Each subcommand lives in its own module ``benchmarks/_bench_<name>.py`` that
defines ``add_arguments(parser)`` and ``run(args) -> int``; register it in
SUBCOMMANDS below (``train``, ``adam``, ``infer`` come later). Every
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
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="compare.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (modname, help_) in SUBCOMMANDS.items():
        mod = importlib.import_module(modname)
        modules[name] = mod
        mod.add_arguments(sub.add_parser(name, help=help_, description=help_))
    args = parser.parse_args(argv)
    return int(modules[args.command].run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
