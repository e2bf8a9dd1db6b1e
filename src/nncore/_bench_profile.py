"""``nncore bench --profile ARCH``: the profile of one training step of a ReLU MLP
(:meth:`nncore.nn.Sequential.profile`), printed as a table.

    nncore bench --profile 784-256-128-10 [--batch 128] [--steps 20] [--rounds 3]
                 [--threads 2] [--json PATH]

ARCH is a workload of ``nncore bench train`` (small, mnist, wide: its sizes and batch)
or layer sizes joined by '-' (input, hidden..., output), the way the benchmark
tables name them. The model is the benchmark's (float32, Linear + ReLU, softmax
cross-entropy on random labels, Adam lr 1e-3).

Not for: comparing with other libraries (``nncore bench train``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from . import _bench, config


def parse_arch(spec: str) -> tuple[tuple[int, ...], int | None]:
    """(layer sizes, the workload's batch or None) of 'mnist' or '784-256-128-10' (a
    workload's sizes spelled out give its batch too).
    ValueError naming what was expected for anything else."""
    if not isinstance(spec, str):
        raise TypeError(f"ARCH must be a str, got {type(spec).__name__}")
    if spec in _bench.WORKLOADS:
        sizes, batch = _bench.WORKLOADS[spec]
        return tuple(sizes), batch
    parts = spec.split("-")
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        sizes = ()
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"ARCH must be a workload ({', '.join(_bench.WORKLOADS)}) or layer "
                         f"sizes >= 1 joined by '-' (at least input-output, e.g. "
                         f"784-256-128-10), got {spec!r}")
    # a workload's sizes spelled out take its batch too
    return sizes, next((b for s, b in _bench.WORKLOADS.values() if tuple(s) == sizes), None)


def main(argv: Sequence[str]) -> int:
    """Run ``nncore bench --profile ...`` (argv starts with --profile); 0 on success,
    SystemExit with a one-line message on bad arguments."""
    p = _bench._OneLineParser(prog="nncore bench",
                              description="The profile of one training step of a ReLU MLP, "
                                          "layer by layer and phase by phase.")
    p.add_argument("--profile", metavar="ARCH", required=True,
                   help="workload (small, mnist, wide) or layer sizes like 784-256-128-10")
    p.add_argument("--batch", type=int, default=None,
                   help="rows per step (default: the workload's, else 128)")
    p.add_argument("--steps", type=int, default=20, help="profiled steps per round (20)")
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds of --steps; the fastest is shown (3)")
    p.add_argument("--threads", type=int, default=2, help="nncore threads (2)")
    p.add_argument("--json", metavar="PATH", help="also write prof.to_dict() as JSON")
    argv = list(argv)
    if "-h" in argv or "--help" in argv:   # also as `--profile --help` (no ARCH)
        p.print_help()
        return 0
    a = p.parse_args(argv)
    try:
        sizes, wl_batch = parse_arch(a.profile)
    except ValueError as e:
        raise SystemExit(f"nncore bench: {e}") from None
    batch = a.batch if a.batch is not None else (wl_batch or 128)
    if min(batch, a.steps, a.rounds, a.threads) < 1:
        raise SystemExit(f"nncore bench: --batch, --steps, --rounds and --threads "
                         f"must be >= 1, got {batch}, {a.steps}, {a.rounds}, {a.threads}")
    _bench.check_json_path(a.json)
    config.set_num_threads(a.threads)
    model, opt, ce = _bench._nncore(sizes)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], size=batch)
    prof = model.profile(x, y, ce, opt, steps=a.steps, rounds=a.rounds)
    print(prof)
    if a.json:
        _bench.write_json(a.json, prof.to_dict())
    return 0
