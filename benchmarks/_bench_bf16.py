"""bf16 GEMM 2048^3 (and the wide MLP's shapes): nncore's bf16 GEMM vs its fp32
GEMM vs torch.matmul on bf16 tensors, side by side in one process; then the
training step (Adam, softmax CE) of the mnist and wide MLPs in fp32 and bf16
compute mode; then mnist inference at batch 1 and 1024 in both.

``--clock cpu`` times with the process's CPU time on one thread: on a machine
shared with other jobs, wall time measures the neighbours as much as the code,
CPU time of a single thread does not (it still shares caches).

Verifies first: nncore's bf16 result against the NumPy twin
(nncore.reference.matmul_bf16) within the float32 summation bound, torch's
against the same twin at bf16 output precision (torch rounds C to bf16).
"""
from __future__ import annotations

import time

import numpy as np

from nncore import _bench, _core, config, nn, optim
from nncore import reference as R


def add_arguments(p) -> None:
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--shapes", default="2048x2048x2048,512x2048x1024,512x2048x2048",
                   help="comma-separated MxNxK")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="cpu: process CPU time at 1 thread (robust on a shared machine)")


_CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}


def _best(fn, rounds, clock=time.perf_counter):
    fn()
    best = float("inf")
    for _ in range(rounds):
        t = clock()
        fn()
        best = min(best, clock() - t)
    return best


def _mlp(sizes, compute):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers, compute_dtype=compute)
    return model, optim.Adam(model.parameters(), lr=1e-3)


def _steps(rounds, clock) -> None:
    """Training step fp32 vs bf16 compute, interleaved, best of `rounds`."""
    print("\n| train step (Adam, CE) | fp32 | bf16 compute | fp32 / bf16 "
          "| torch autocast bf16 | torch / nncore bf16 |")
    print("|---|---|---|---|---|---|")
    rng = np.random.default_rng(1)
    for name, sizes, batch, reps in [("mnist", (784, 256, 128, 10), 128, 40),
                                     ("wide", (1024, 2048, 2048, 10), 512, 2)]:
        x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
        y = rng.integers(0, sizes[-1], batch)
        runs = {c: _mlp(sizes, c) for c in ("float32", "bfloat16")}
        steps = {c: (lambda m=m, o=o: m.train_step(x, y, "cross_entropy", o))
                 for c, (m, o) in runs.items()}
        try:
            tstep, conv = _bench._torch(_bench._weights(runs["float32"][0]), autocast=True)
            tx, ty = conv(x, y)
            steps["torch"] = lambda: tstep(tx, ty)
        except ImportError:
            pass
        best = {}
        for _ in range(rounds):
            for c, fn in steps.items():
                t = _best(lambda: [fn() for _ in range(reps)], 1, clock)
                best[c] = min(best.get(c, float("inf")), t / reps)
        t32, t16 = best["float32"], best["bfloat16"]
        tt = best.get("torch")
        torch_cells = f"{tt * 1e3:.2f} ms | x{tt / t16:.2f}" if tt else "- | -"
        print(f"| {name} {'-'.join(map(str, sizes))} b{batch} | {t32 * 1e3:.2f} ms | "
              f"{t16 * 1e3:.2f} ms | x{t32 / t16:.2f} | {torch_cells} |")


def _inference(rounds, clock) -> None:
    """mnist MLP inference (weights packed once: fp32, and bf16-rounded in bf16
    compute) at batch 1 and 1024; checks first that bf16 inference gives the
    bits of the unpacked bf16 GEMM (the training forward)."""
    print("\n| inference mnist 784-256-128-10 | fp32 | bf16 compute | fp32 / bf16 |")
    print("|---|---|---|---|")
    rng = np.random.default_rng(2)
    models = {c: _mlp((784, 256, 128, 10), c)[0] for c in ("float32", "bfloat16")}
    models["bfloat16"].flat_params[:] = models["float32"].flat_params
    for batch, reps in ((1, 2000), (1024, 10)):
        x = rng.standard_normal((batch, 784)).astype(np.float32)
        m16 = models["bfloat16"]
        if not np.array_equal(m16(x), m16.forward(x, training=True)):
            raise SystemExit("bf16 inference: packed weights differ from the unpacked GEMM")
        best = {}
        for _ in range(rounds):
            for c, m in models.items():
                t = _best(lambda m=m: [m(x) for _ in range(reps)], 1, clock)
                best[c] = min(best.get(c, float("inf")), t / reps)
        t32, t16 = best["float32"], best["bfloat16"]
        print(f"| batch {batch} | {t32 * 1e6:.1f} us | {t16 * 1e6:.1f} us | x{t32 / t16:.2f} |")


def run(args) -> int:
    clock = _CLOCK[args.clock]
    if args.clock == "cpu":
        args.threads = 1
    config.set_num_threads(args.threads)
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    config.show_config()
    print(f"\nbf16 GEMM, {args.threads} threads, {args.clock} time, best of {args.rounds}: "
          "GFLOP/s (x: / nncore fp32)\n")
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
        t32 = _best(lambda: _core._matmul(a, b, out, 1.0, 0.0), args.rounds, clock)
        t16 = _best(lambda: _core._bmatmul(a, b, out, 1.0, 0.0), args.rounds, clock)
        cells = [f"{fl / t32 / 1e9:.0f}", f"{fl / t16 / 1e9:.0f} (x{t32 / t16:.2f})"]
        if torch is not None:
            ta, tb = torch.from_numpy(a).bfloat16(), torch.from_numpy(b).bfloat16()
            tc = (ta @ tb).float().numpy()
            if not (np.abs(tc - want) <= 2.0 ** -8 * np.abs(want) + (k + 2) * 2.0 ** -24 * s).all():
                raise SystemExit(f"torch bf16 matmul {shape}: disagrees with the twin")
            tt = _best(lambda: ta @ tb, args.rounds, clock)
            cells.append(f"{fl / tt / 1e9:.0f} (x{t32 / tt:.2f})")
        else:
            cells.append("torch not installed")
        print(f"| {shape} | " + " | ".join(cells) + " |")
    _steps(args.rounds, clock)
    _inference(args.rounds, clock)
    return 0
