#!/usr/bin/env python
"""Activations, losses and dropout: nncore vs NumPy (and PyTorch when installed).

    PYTHONPATH=src python benchmarks/bench_kernels.py [--n 1048576] [--threads 1]

Every nncore result is checked against nncore.reference before anything is
timed; then all contenders are timed in one process, interleaved round by round
(best of several), so the ratios survive a noisy shared machine. Reports ns per
element for float32 and float64. (A standalone script; wire it into
benchmarks/compare.py as a subcommand when that lands.)
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import nncore
import nncore.ops as ops
from nncore.reference import _kernels as ref


def best_time(fn, budget=0.1, min_reps=3):
    fn()
    best, start, reps = float("inf"), time.perf_counter(), 0
    while reps < min_reps or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        reps += 1
    return best


def interleaved(fns, rounds=3):
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, f in enumerate(fns):
            best[i] = min(best[i], best_time(f))
    return best


def numpy_versions(x, rows):
    xs = x.reshape(rows, -1)
    return {
        "relu": lambda: np.maximum(x, 0),
        "sigmoid": lambda: 1 / (1 + np.exp(-x)),
        "tanh": lambda: np.tanh(x),
        "silu": lambda: x / (1 + np.exp(-x)),
        "gelu_tanh": lambda: 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x ** 3))),
        "softplus": lambda: np.logaddexp(x, 0),
        "elu": lambda: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
        "softmax": lambda: (lambda e: e / e.sum(1, keepdims=True))(
            np.exp(xs - xs.max(1, keepdims=True))),
    }


def torch_versions(x, rows):
    try:
        import torch
    except ImportError:
        return {}
    torch.set_num_threads(nncore.get_num_threads())
    t = torch.from_numpy(x)
    ts = t.reshape(rows, -1)
    F = torch.nn.functional
    return {"relu": lambda: F.relu(t), "sigmoid": lambda: torch.sigmoid(t),
            "tanh": lambda: torch.tanh(t), "silu": lambda: F.silu(t),
            "gelu": lambda: F.gelu(t), "gelu_tanh": lambda: F.gelu(t, approximate="tanh"),
            "softplus": lambda: F.softplus(t), "elu": lambda: F.elu(t),
            "softmax": lambda: F.softmax(ts, -1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1 << 20)
    ap.add_argument("--cols", type=int, default=128, help="row length for softmax / CE")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    nncore.set_num_threads(args.threads)
    n, cols = args.n, args.cols
    rows = n // cols
    n = rows * cols
    print(f"n = {n} elements ({rows} x {cols}), threads = {args.threads}, "
          f"arch = {nncore.config.get_arch()}")
    for dtype in (np.float32, np.float64):
        rng = np.random.default_rng(0)
        x = (rng.standard_normal(n) * 3).astype(dtype)
        npv, thv = numpy_versions(x, rows), torch_versions(x, rows)
        print(f"\n{np.dtype(dtype).name}: ns/element      nncore    numpy    torch   (nncore bwd)")
        for name in ["relu", "sigmoid", "tanh", "silu", "gelu", "gelu_tanh", "softplus", "elu",
                     "softmax", "log_softmax"]:
            arg = x.reshape(rows, cols) if name in ("softmax", "log_softmax") else x
            y = ops.activation(arg, name)
            np.testing.assert_allclose(y, ref.activation(arg, name), rtol=1e-4, atol=1e-6)
            fns = [lambda: ops.activation(arg, name),
                   lambda: ops.activation_backward(arg, arg, y, name)]
            fns += [f for f in (npv.get(name), thv.get(name)) if f is not None]
            ts = interleaved(fns)
            cells = [ts[0]]
            k = 2
            for src in (npv, thv):
                cells.append(ts[k] if name in src else None)
                k += name in src
            fmt = " ".join(f"{c * 1e9 / n:8.2f}" if c is not None else "       -" for c in cells)
            print(f"  {name:22s} {fmt}   ({ts[1] * 1e9 / n:.2f})")
        out = x.reshape(rows, cols)
        labels = rng.integers(0, cols, rows)
        tgt = rng.standard_normal((rows, cols))
        for name, t in [("mse", tgt), ("bce_logits", (tgt > 0) * 1.0), ("cross_entropy", labels)]:
            v, _ = ops.loss(name, out, t)
            assert abs(v - ref.loss(name, out, t)[0]) <= 1e-4 * abs(v)
            ts = interleaved([lambda: ops.loss(name, out, t), lambda: ref.loss(name, out, t)])
            print(f"  loss {name:17s} {ts[0] * 1e9 / n:8.2f} {ts[1] * 1e9 / n:8.2f}"
                  f"        -   (loss + grad; numpy = nncore.reference)")
        y, m = ops.dropout(x, 0.3, seed=1)
        assert (m == ref.dropout_mask(n, 0.3, 1, dtype=dtype)).all()
        rs = np.random.default_rng(1)
        ts = interleaved([lambda: ops.dropout(x, 0.3, seed=1),
                          lambda: x * (rs.random(n) >= 0.3) / 0.7])
        print(f"  dropout (Philox)       {ts[0] * 1e9 / n:8.2f} {ts[1] * 1e9 / n:8.2f}        -"
              f"   (numpy: PCG64 uniforms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
