"""Data-parallel training over MPI: step time and samples/s, and the allreduce's share.

    python benchmarks/distributed.py [--steps 20] [--repeat 3] [--rounds 1]
                                     [--models mnist,wide] [--markdown FILE] [--json FILE]
    python benchmarks/distributed.py --scaling FILE.json    # the model of SCALING.md

For each MLP (mnist 784-256-128-10 at batch 128 per rank, wide 1024-2048-2048-10 at 512),
float32, Adam, one fused step per batch:

- ``1 rank x 1 thread, b``    one process, one thread, batch b (the compute per rank);
- ``1 rank x 1 thread, 2b``   the same global batch as the next two, on one core;
- ``2 ranks x 1 thread, b``   ``mpiexec -n 2``: forward+backward, ONE allreduce of the
  gradient buffer, update (``Sequential.train_step_allreduced``, what ``fit(...,
  distributed=True)`` runs), global batch 2b;
- ``1 rank x 2 threads, 2b``  one process using both cores through nncore's threads.

Correctness first (each worker exits non-zero otherwise): the 2-rank step equals one
process's step on the union of the ranks' rows (3 SGD steps, float32 rtol 1e-4), and the
replicas hold the same parameter bits after the timed steps (hash over the ranks).
Timing: the best of ``--repeat`` rounds of ``--steps`` steps after 3 warm-up steps; the
allreduce time of a step is measured around the MPI call (it includes waiting for the
slower rank); "allreduce alone" is the best of 10 allreduces of the same buffer right
after a barrier (the transport's cost without the wait). Needs ``pip install
"nncore[mpi]"`` for the 2-rank rows. Speed is this machine's; other processes share it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np

import nncore as nc
from nncore import losses

from _bench_common import header
from _scaling_model import tables

try:   # the 2-rank rows need it; importing it does not start MPI
    import nncore.distributed as dist
except ImportError:
    dist = None

MODELS = {"mnist": ([784, 256, 128, 10], 128), "wide": ([1024, 2048, 2048, 10], 512)}
HERE = os.path.abspath(__file__)


def _model(sizes: list[int]) -> nc.nn.Sequential:
    layers: list = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nc.nn.Linear(a, b), nc.nn.ReLU()]
    layers.append(nc.nn.Linear(sizes[-2], sizes[-1]))
    return nc.nn.Sequential(*layers, dtype="float32", seed=0)


def _batches(sizes: list[int], rows: int, count: int = 4):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((count * rows, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], count * rows)
    return X, y


class _Timed:
    """A communicator whose allreduce_sum is timed (seconds summed in .t)."""

    def __init__(self, comm):
        self.comm, self.rank, self.size, self.t = comm, comm.rank, comm.size, 0.0

    def allreduce_sum(self, buf):
        t0 = time.perf_counter()
        self.comm.allreduce_sum(buf)
        self.t += time.perf_counter() - t0

    def after_step(self, model):
        pass


def worker(a) -> None:
    nc.set_num_threads(a.threads)
    sizes, _ = MODELS[a.model]
    b = a.batch
    spec = losses.get("cross_entropy")._c_spec(True)
    comm = None
    if a.distributed:
        if dist is None:
            raise SystemExit('the 2-rank rows need mpi4py: pip install "nncore[mpi]"')
        comm = _Timed(dist.communicator())
    rank, size = (comm.rank, comm.size) if comm else (0, 1)
    X, y = _batches(sizes, b * size)

    def rows(j):   # rank r's rows of global batch j
        s = (j % 4) * b * size + rank * b
        return slice(s, s + b)

    def step(m, opt, j):
        r = rows(j)
        if comm is None:
            return m.train_step_prepared(X[r], None, y[r], spec, opt, 0.0, 0.0)
        return m.train_step_allreduced(X[r], None, y[r], spec, opt, 0.0, 0.0, comm, None,
                                       None, 1.0 / size)

    if comm is not None:   # correctness: 3 SGD steps vs one process on the union of the
        m, ref = _model(sizes), _model(sizes)   # rows (Adam would magnify the rounding)
        opt = nc.optim.SGD(m.parameters(), lr=0.01)
        ropt = nc.optim.SGD(ref.parameters(), lr=0.01)
        for j in range(3):
            step(m, opt, j)
            g = slice((j % 4) * b * size, (j % 4 + 1) * b * size)
            ref.train_step_prepared(X[g], None, y[g], spec, ropt, 0.0, 0.0)
        if not np.allclose(m.flat_params, ref.flat_params, rtol=1e-4, atol=1e-6):
            d = np.abs(m.flat_params - ref.flat_params).max()
            raise SystemExit(f"rank {rank}: the distributed step differs from one process's "
                             f"(max abs difference {d:.3g})")
    m = _model(sizes)
    opt = nc.optim.Adam(m.parameters(), lr=1e-3)
    for j in range(3):
        step(m, opt, j)
    best = best_ar = float("inf")
    for _ in range(a.repeat):
        if comm is not None:
            comm.comm.barrier()
            comm.t = 0.0
        t0 = time.perf_counter()
        for j in range(a.steps):
            step(m, opt, j)
        t = (time.perf_counter() - t0) / a.steps
        if t < best:
            best, best_ar = t, (comm.t / a.steps if comm else 0.0)
    res = {"step": best, "allreduce": best_ar, "params": m.num_parameters}
    if comm is not None:
        h = hashlib.blake2b(m.flat_params.tobytes(), digest_size=16).hexdigest()
        if len(set(comm.comm.allgather(h))) != 1:
            raise SystemExit("the replicas differ after the timed steps")
        g = m.flat_grads
        alone = float("inf")
        for _ in range(10):
            comm.comm.barrier()
            t0 = time.perf_counter()
            comm.comm.allreduce_sum(g)
            alone = min(alone, time.perf_counter() - t0)
        res["allreduce_alone"] = alone
    if rank == 0:
        print(json.dumps(res))


def _launch(model: str, ranks: int, threads: int, batch: int, a) -> dict:
    cmd = [sys.executable, HERE, "--worker", "--model", model, "--threads", str(threads),
           "--batch", str(batch), "--steps", str(a.steps), "--repeat", str(a.repeat)]
    if ranks > 1:
        mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
        cmd = [mpiexec if os.path.exists(mpiexec) else "mpiexec", "-n", str(ranks)] + cmd + \
            ["--distributed"]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if r.returncode != 0:
        raise SystemExit(f"worker failed ({' '.join(cmd)}):\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def scaling(path: str) -> None:
    """The model of SCALING.md on the measured 1 rank x 1 thread compute per step, and
    on a node 24x faster (a 32-core node at 75% thread efficiency, an assumption)."""
    with open(path, encoding="utf-8") as f:
        got = json.load(f)
    lines = []
    for name, runs in got.items():
        sizes, b = MODELS[name]
        t = runs[f"1 rank x 1 thread b{b}"]["step"]
        lines += tables(name, sizes, b, t, "measured: 1 core")
        lines += tables(name, sizes, b, t / 24, "a 32-core node: measured / 24")
    print("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--models", default="mnist,wide")
    p.add_argument("--rounds", type=int, default=1,
                   help="run the configurations in turn this many times, keep each one's "
                        "best (fairer on a shared machine)")
    p.add_argument("--markdown", default=None)
    p.add_argument("--json", default=None)
    p.add_argument("--scaling", default=None, metavar="JSON",
                   help="print the scaling model (SCALING.md) from a --json result")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--distributed", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", default="mnist", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=128, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a)
    if a.scaling:
        return scaling(a.scaling)
    text, _ = header()
    lines = ["## Data-parallel training over MPI (benchmarks/distributed.py)", "", "```",
             text.rstrip(), "```", ""]
    out = {}
    for name in a.models.split(","):
        sizes, b = MODELS[name]
        rows = [("1 rank x 1 thread", 1, 1, b), ("1 rank x 1 thread", 1, 1, 2 * b),
                ("2 ranks x 1 thread", 2, 1, b), ("1 rank x 2 threads", 1, 2, 2 * b)]
        res = [(label, r, t, bb, _launch(name, r, t, bb, a)) for label, r, t, bb in rows]
        for _ in range(a.rounds - 1):   # the configurations in turn again: best of rounds
            res = [(label, r, t, bb, min(x, _launch(name, r, t, bb, a),
                                         key=lambda v: v["step"]))
                   for label, r, t, bb, x in res]
        n = res[0][4]["params"]
        lines += [f"### {name} {'-'.join(map(str, sizes))}: {n} parameters "
                  f"({4 * n / 2**20:.1f} MiB of float32 gradients)", "",
                  "| configuration | batch per rank | global batch | step ms | samples/s "
                  "| allreduce ms (share) | allreduce alone ms |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for label, r, t, bb, x in res:
            ar = (f"{1e3 * x['allreduce']:.2f} ({100 * x['allreduce'] / x['step']:.0f}%)"
                  if r > 1 else "-")
            alone = f"{1e3 * x['allreduce_alone']:.2f}" if r > 1 else "-"
            lines.append(f"| {label} | {bb} | {bb * r} | {1e3 * x['step']:.2f} | "
                         f"{bb * r / x['step']:.0f} | {ar} | {alone} |")
        one, _, two_ranks, two_threads = (x for *_, x in res)
        lines += ["", f"2 ranks vs 1 rank at the same global batch: "
                  f"{res[1][4]['step'] / two_ranks['step']:.2f}x; 2 threads: "
                  f"{res[1][4]['step'] / two_threads['step']:.2f}x; "
                  f"2 ranks / 2 threads step time: "
                  f"{two_ranks['step'] / two_threads['step']:.2f}", ""]
        out[name] = {label + f" b{bb}": x for label, r, t, bb, x in res}
    print("\n".join(lines))
    if a.markdown:
        with open(a.markdown, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
