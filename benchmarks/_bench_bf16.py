"""bf16 GEMM 2048^3 (and the wide MLP's shapes): nncore's bf16 GEMM vs its fp32
GEMM vs torch.matmul on bf16 tensors, side by side in one process.

Verifies first: nncore's bf16 result against the NumPy twin
(nncore.reference.matmul_bf16) within the float32 summation bound, torch's
against the same twin at bf16 output precision (torch rounds C to bf16).
"""
from __future__ import annotations

import time

import numpy as np

from nncore import _core, config
from nncore import reference as R


def add_arguments(p) -> None:
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--shapes", default="2048x2048x2048,512x2048x1024,512x2048x2048",
                   help="comma-separated MxNxK")


def _best(fn, rounds):
    fn()
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def run(args) -> int:
    config.set_num_threads(args.threads)
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    config.show_config()
    print(f"\nbf16 GEMM, {args.threads} threads, best of {args.rounds}: GFLOP/s "
          "(x: / nncore fp32)\n")
    print("| M x N x K | nncore fp32 | nncore bf16 | torch.matmul bf16 |")
    print("|---|---|---|---|")
    rng = np.random.default_rng(0)
    for shape in args.shapes.split(","):
        m, n, k = map(int, shape.split("x"))
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        out = np.empty((m, n), np.float32)
        _core._bmatmul(a, b, out, 1.0, 0.0)
        want = R.matmul_bf16(a, b)
        s = np.abs(R.round_bf16(a)).astype(np.float64) @ np.abs(R.round_bf16(b)).astype(np.float64)
        if not (np.abs(out - want) <= (k + 2) * 2.0 ** -24 * s).all():
            raise SystemExit(f"nncore bf16 GEMM {shape}: outside the summation bound")
        fl = 2.0 * m * n * k
        t32 = _best(lambda: _core._matmul(a, b, out, 1.0, 0.0), args.rounds)
        t16 = _best(lambda: _core._bmatmul(a, b, out, 1.0, 0.0), args.rounds)
        cells = [f"{fl / t32 / 1e9:.0f}", f"{fl / t16 / 1e9:.0f} (x{t32 / t16:.2f})"]
        if torch is not None:
            ta, tb = torch.from_numpy(a).bfloat16(), torch.from_numpy(b).bfloat16()
            tc = (ta @ tb).float().numpy()
            if not (np.abs(tc - want) <= 2.0 ** -8 * np.abs(want) + (k + 2) * 2.0 ** -24 * s).all():
                raise SystemExit(f"torch bf16 matmul {shape}: disagrees with the twin")
            tt = _best(lambda: ta @ tb, args.rounds)
            cells.append(f"{fl / tt / 1e9:.0f} (x{t32 / tt:.2f})")
        else:
            cells.append("torch not installed")
        print(f"| {shape} | " + " | ".join(cells) + " |")
    return 0
