"""What ``fit`` costs on top of its steps, and what ``train_step`` costs on top of C.

    python benchmarks/compare.py fit [--threads 2] [--workloads mnist,small]
                                     [--epochs 5] [--n 20000] [--rounds 5] [--quick]

1. ``fit`` vs its ``train_step`` calls: ``model.fit(X, y, epochs, batch_size)``
   (Adam, cross-entropy, shuffled, accuracy on, verbose=0) against the same steps in
   a plain loop: the same shuffle (``default_rng([seed, epoch]).permutation``), each
   batch gathered outside the clock, only the ``train_step`` calls timed and summed.
   Ratio = fit / steps (target <= 1.10). Verified first: both give the same weights,
   bit for bit.
2. ``train_step`` per call on the small MLP (64-128-64-10, batch 32) against the
   C step alone (``model._net.train_step`` on inputs prepared once: the C work and
   the binding): the difference is the Python-side checking of every call.

Workloads: mnist = 784-256-128-10, batch 128 on n x 784 random float32 rows;
small = 64-128-64-10, batch 32 on n x 64. The machine may be shared: fit and the
loop run in alternating rounds; the table gives the median over rounds (and the
best ratio); part 2 takes medians of many short interleaved runs.
A ``compare.py`` subcommand module: ``add_arguments(parser)``, ``run(args)``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import nncore  # noqa: E402
from nncore import losses, optim  # noqa: E402

import _bench_common as common  # noqa: E402
from _bench_net import _model  # noqa: E402  (the float32 ReLU MLP of the other benchmarks)

WORKLOADS = {"mnist": ((784, 256, 128, 10), 128), "small": ((64, 128, 64, 10), 32)}


def _data(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, k, size=n)


def _fit(sizes, X, y, epochs, batch):
    """(seconds, model) of one fit from a fresh model."""
    model = _model(sizes)
    opt = optim.Adam(model.parameters())
    t0 = time.perf_counter()
    model.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=epochs, batch_size=batch,
              verbose=0)
    return time.perf_counter() - t0, model


def _steps(sizes, X, y, epochs, batch):
    """(seconds in train_step calls, model) of the same training as a plain loop."""
    model = _model(sizes)
    opt = optim.Adam(model.parameters())
    ce = losses.CrossEntropyLoss()
    n = len(X)
    total = 0.0
    clock = time.perf_counter
    for e in range(epochs):
        perm = np.random.default_rng([model.seed, e]).permutation(n)
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            xb, yb = X[idx], y[idx]
            t0 = clock()
            model.train_step(xb, yb, ce, opt)
            total += clock() - t0
    return total, model


def fit_rows(workloads, n, epochs, rounds) -> list[dict]:
    rows = []
    for name in workloads:
        sizes, batch = WORKLOADS[name]
        X, y = _data(n, sizes[0], sizes[-1])
        # verify before timing: fit trains exactly what the loop trains
        _, a = _fit(sizes, X, y, 1, batch)
        _, b = _steps(sizes, X, y, 1, batch)
        if not np.array_equal(a.flat_params, b.flat_params):
            raise RuntimeError(f"{name}: fit and the loop of train_step calls disagree")
        fits, steps = [], []
        for _ in range(rounds):
            fits.append(_fit(sizes, X, y, epochs, batch)[0])
            steps.append(_steps(sizes, X, y, epochs, batch)[0])
        ratios = [f / s for f, s in zip(fits, steps)]
        rows.append({"workload": name, "mlp": "-".join(map(str, sizes)), "batch": batch,
                     "n": n, "epochs": epochs, "calls": epochs * -(-n // batch),
                     "fit": statistics.median(fits), "steps": statistics.median(steps),
                     "ratio": statistics.median(ratios), "best_ratio": min(ratios)})
    return rows


def step_overhead_row(reps: int, rounds: int) -> dict:
    """Median time per call of train_step and of the bare C step, small MLP, batch 32."""
    sizes, batch = WORKLOADS["small"]
    model = _model(sizes)
    opt = optim.Adam(model.parameters())
    ce = losses.CrossEntropyLoss()
    x, y = _data(batch, sizes[0], sizes[-1], seed=1)
    kind, red, param, t, lab = ce._prepare_target(y, (batch, sizes[-1]), model.dtype)
    c = opt._prepare()
    net = model._net

    def public():
        for _ in range(reps):
            model.train_step(x, y, ce, opt)

    def bare():
        for _ in range(reps):
            net.train_step(x, t, lab, kind, red, param, c, 0.0, 0.0)

    pub, raw = [], []
    public()
    bare()
    for _ in range(rounds):   # interleaved, short runs: the median shrugs off noise
        t0 = time.perf_counter()
        public()
        pub.append((time.perf_counter() - t0) / reps)
        t0 = time.perf_counter()
        bare()
        raw.append((time.perf_counter() - t0) / reps)
    p, r = statistics.median(pub), statistics.median(raw)
    return {"train_step": p, "c_step": r, "python": p - r}


def _fmt(t: float) -> str:
    return f"{t * 1e6:.1f} us" if t < 1e-3 else f"{t:.3f} s"


def report(rows: list[dict], ov: dict | None, threads: int) -> str:
    out = [f"fit vs the sum of its train_step calls ({threads} threads, float32, Adam, "
           "cross-entropy, shuffle, accuracy; medians over rounds)", "",
           "| workload | MLP | batch | n x epochs | steps | fit | train_step calls | "
           "fit / steps | best |", "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['workload']} | {r['mlp']} | {r['batch']} | {r['n']} x {r['epochs']} | "
                   f"{r['calls']} | {_fmt(r['fit'])} | {_fmt(r['steps'])} | "
                   f"{r['ratio']:.3f} | {r['best_ratio']:.3f} |")
    if ov is not None:
        out += ["", "train_step per call, small 64-128-64-10 batch 32 (median): "
                f"{_fmt(ov['train_step'])}; the C step alone (binding included): "
                f"{_fmt(ov['c_step'])}; Python-side checks: {_fmt(ov['python'])}"]
    return "\n".join(out)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workloads", default="mnist,small",
                        help=f"comma-separated, from {sorted(WORKLOADS)}")
    parser.add_argument("--n", type=int, default=20000, help="training rows")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5, help="alternating fit/loop rounds")
    parser.add_argument("--quick", action="store_true", help="n=4000, 2 epochs, 2 rounds")


def run(args) -> int:
    names = [w for w in str(args.workloads).split(",") if w]
    bad = [w for w in names if w not in WORKLOADS]
    if bad:
        raise SystemExit(f"unknown workload(s) {bad}; expected {sorted(WORKLOADS)}")
    n, epochs, rounds = (4000, 2, 2) if args.quick else (args.n, args.epochs, args.rounds)
    nncore.set_num_threads(args.threads)
    text, _ = common.header()
    print(text)
    rows = fit_rows(names, n, epochs, rounds)
    ov = step_overhead_row(200 if args.quick else 1000, 5 if args.quick else 31)
    print(report(rows, ov, args.threads))
    print(f"load average at end: {common.load_average()}")
    return 0

