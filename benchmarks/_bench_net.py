"""Network engine benchmark: forward+backward per batch and single-sample latency.

    python benchmarks/_bench_net.py [--threads 1,2] [--quick]

Contenders, measured in one process, interleaved: nncore (``forward(x,
training=True)`` + ``backward(dout)``, one C call each), the NumPy reference
network (``nncore.reference.ReferenceNetwork``, float32) and PyTorch eager when
importable. MLPs 64-128-64-10 (batch 32), 784-256-128-10 (batch 128) and
1024-2048-2048-10 (batch 512), ReLU, float32. Gradients are verified against
the reference before anything is timed. Then the single-sample inference
latency of 64-128-64-10 through ``model(x)`` (target <= 5 us).

Also a ``compare.py`` subcommand module: ``add_arguments(parser)``, ``run(args)``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import nncore  # noqa: E402
import nncore.nn as nn  # noqa: E402
from nncore import reference as ref  # noqa: E402

CONFIGS = [((64, 128, 64, 10), 32), ((784, 256, 128, 10), 128), ((1024, 2048, 2048, 10), 512)]


def _set_threads(n: int) -> None:
    nncore.set_num_threads(n)
    try:
        import _blas
        _blas.set_threads(n)
    except Exception:  # the helper is optional when this file runs alone
        pass
    try:
        import torch
        torch.set_num_threads(n)
    except Exception:
        pass


def _best(fn, budget: float, min_reps: int = 3) -> float:
    fn()
    best, reps, start = float("inf"), 0, time.perf_counter()
    while reps < min_reps or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        reps += 1
    return best


def _interleaved(fns, rounds: int, budget: float) -> list[float]:
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            best[i] = min(best[i], _best(fn, budget))
    return best


def _model(sizes, seed=0):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers, dtype="float32", seed=seed)


def _torch_twin(model):
    try:
        import torch
    except ImportError:
        return None
    mods = []
    for layer in model.layers:
        if isinstance(layer, nn.Linear):
            lin = torch.nn.Linear(layer.in_features, layer.out_features)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.weight.data))
                lin.bias.copy_(torch.from_numpy(layer.bias.data))
            mods.append(lin)
        else:
            mods.append(torch.nn.ReLU())
    return torch.nn.Sequential(*mods)


def fwd_bwd_rows(threads: int, quick: bool) -> list[dict]:
    rows = []
    budget, rounds = (0.05, 1) if quick else (0.2, 3)
    for sizes, batch in CONFIGS:
        model = _model(sizes)
        twin = ref.ReferenceNetwork.from_model(model, dtype=np.float32)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
        dout = (rng.standard_normal((batch, sizes[-1])) / batch).astype(np.float32)

        def run_nc():
            model.zero_grad()
            model.forward(x, training=True)
            model.backward(dout)

        def run_np():
            twin.zero_grad()
            twin.forward(x, training=True)
            twin.backward(dout)

        # verify before timing
        run_nc()
        run_np()
        g, r = model.flat_grads, twin.flat_grads()
        # relative Frobenius error: a ReLU whose input rounds to the other side of 0 in
        # float32 legitimately changes a few entries, never the whole
        err = float(np.linalg.norm(g - r) / max(1e-30, float(np.linalg.norm(r))))
        if err > 1e-2:
            raise RuntimeError(f"{sizes}: gradients differ from the reference (rel {err:.2e})")
        fns, names = [run_nc, run_np], ["nncore", "numpy"]
        tmodel = _torch_twin(model)
        if tmodel is not None:
            import torch
            tx, td = torch.from_numpy(x), torch.from_numpy(dout)

            def run_torch():
                tmodel.zero_grad(set_to_none=False)
                tmodel(tx).backward(td)
            fns.append(run_torch)
            names.append("torch")
        times = _interleaved(fns, rounds, budget)
        # forward, dW, and dX for every layer but the first
        macs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
        flops = 2 * batch * (3 * sum(macs) - macs[0])
        row = {"mlp": "-".join(map(str, sizes)), "batch": batch, "threads": threads}
        for n, t in zip(names, times):
            row[n] = t
        row["gflops"] = flops / times[0] / 1e9
        rows.append(row)
    return rows


def latency_row(threads: int, quick: bool) -> dict:
    model = _model((64, 128, 64, 10))
    twin = ref.ReferenceNetwork.from_model(model, dtype=np.float32)
    x = np.random.default_rng(1).standard_normal((1, 64)).astype(np.float32)
    np.testing.assert_allclose(model(x), twin.forward(x), rtol=1e-4, atol=1e-5)
    n = 2000 if quick else 20000

    def per_call(fn):
        def loop():
            for _ in range(n):
                fn(x)
        return loop

    fns = [per_call(model), per_call(twin.forward)]
    names = ["nncore", "numpy"]
    tmodel = _torch_twin(model)
    if tmodel is not None:
        import torch
        tx = torch.from_numpy(x)

        def tcall(_):
            with torch.no_grad():
                return tmodel(tx)
        fns.append(per_call(tcall))
        names.append("torch")
    times = _interleaved(fns, 1 if quick else 3, 0.05 if quick else 0.2)
    row = {"mlp": "64-128-64-10 model(x)", "batch": 1, "threads": threads}
    for name, t in zip(names, times):
        row[name] = t / n
    return row


def _fmt(t: float | None) -> str:
    if t is None:
        return "-"
    return f"{t * 1e6:.1f} us" if t < 1e-3 else f"{t * 1e3:.2f} ms"


def table(rows: list[dict]) -> str:
    has_torch = any("torch" in r for r in rows)
    head = ["MLP", "batch", "thr", "nncore", "NumPy ref", "x NumPy"]
    if has_torch:
        head += ["torch", "x torch"]
    head += ["nncore GFLOP/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["mlp"], str(r["batch"]), str(r["threads"]), _fmt(r["nncore"]),
                 _fmt(r.get("numpy")), f"{r['numpy'] / r['nncore']:.1f}"]
        if has_torch:
            t = r.get("torch")
            cells += [_fmt(t), f"{t / r['nncore']:.1f}" if t else "-"]
        cells.append(f"{r['gflops']:.1f}" if "gflops" in r else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--quick", action="store_true", help="short timing budget")


def run(args) -> int:
    rows = []
    for t in [int(s) for s in str(args.threads).split(",") if s]:
        _set_threads(t)
        rows += fwd_bwd_rows(t, args.quick)
        rows.append(latency_row(t, args.quick))
    print("forward+backward per batch (float32, ReLU); last row per thread count: "
          "single-sample inference latency")
    print(table(rows))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
