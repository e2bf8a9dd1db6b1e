"""The data-parallel efficiency model of benchmarks/SCALING.md (used by distributed.py
--scaling): ring allreduce time against measured compute per step, with and without
overlapping the allreduce with backward.

Ring allreduce of B bytes over N ranks: t = 2 (N - 1) / N * B / bandwidth
+ 2 (N - 1) * latency. Efficiency = compute / (compute + the allreduce time the step
waits for). Compute per step grows linearly with the batch per rank (measured per row).

Overlap (a bucket per layer, started as soon as backward has written that layer's
gradients, allreduces one after another on the network): simulated per layer, the
compute split between layers by their GEMM flops (forward 2 b in out; backward 4 b in out,
2 b in out for the first layer, whose input gradient is not computed).
"""
from __future__ import annotations

NETWORKS = {   # name: (bandwidth bytes/s, latency s per message step) -- assumptions
    "10 Gb/s": (10e9 / 8, 20e-6),    # Ethernet, TCP
    "25 Gb/s": (25e9 / 8, 10e-6),    # Ethernet, TCP
    "100 Gb/s": (100e9 / 8, 2e-6),   # InfiniBand / RoCE class, RDMA
}
NODES = (2, 4, 8, 16, 32, 64, 128, 256)


def ring(nbytes: float, n: int, bw: float, lat: float) -> float:
    return 2 * (n - 1) / n * nbytes / bw + 2 * (n - 1) * lat


def layer_flops(sizes: list[int]) -> tuple[list[float], list[float]]:
    """(forward, backward) flops per row, per layer."""
    fwd = [2.0 * a * b for a, b in zip(sizes[:-1], sizes[1:])]
    bwd = [f * (1 if i == 0 else 2) for i, f in enumerate(fwd)]
    return fwd, bwd


def step_times(sizes: list[int], t_compute: float, n: int, bw: float, lat: float,
               itemsize: int = 4) -> tuple[float, float]:
    """(step time without overlap, with per-layer overlap)."""
    params = [(a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])]
    fwd, bwd = layer_flops(sizes)
    per_flop = t_compute / (sum(fwd) + sum(bwd))
    t_plain = t_compute + ring(itemsize * sum(params), n, bw, lat)
    t = sum(fwd) * per_flop          # forward done
    net_free = 0.0
    for i in reversed(range(len(sizes) - 1)):   # backward, last layer first
        t += bwd[i] * per_flop       # this layer's gradients are written
        start = max(t, net_free)
        net_free = start + ring(itemsize * params[i], n, bw, lat)
    return t_plain, max(t, net_free)


def batch_for(eff: float, sizes: list[int], per_row: float, n: int, bw: float, lat: float,
              itemsize: int = 4) -> int:
    """The smallest batch per rank with efficiency >= eff (no overlap)."""
    t_ar = ring(itemsize * sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])), n, bw,
                lat)
    # per_row * b / (per_row * b + t_ar) >= eff  <=>  b >= eff / (1 - eff) * t_ar / per_row
    return max(1, int(-(-eff / (1 - eff) * t_ar // per_row)))


def tables(name: str, sizes: list[int], batch: int, t_compute: float,
           label: str) -> list[str]:
    """Markdown: efficiency without / with overlap for N nodes x networks, and the batch
    per rank for 80%, at compute t_compute per step of `batch` rows."""
    per_row = t_compute / batch
    out = [f"#### {name}, batch {batch} per rank, compute {1e3 * t_compute:.2f} ms per step "
           f"({label})", "",
           "| N | " + " | ".join(f"{k}: eff. / with overlap / batch for 80%"
                                 for k in NETWORKS) + " |",
           "| ---: | " + " | ".join("---:" for _ in NETWORKS) + " |"]
    for n in NODES:
        cells = []
        for bw, lat in NETWORKS.values():
            plain, over = step_times(sizes, t_compute, n, bw, lat)
            b80 = batch_for(0.8, sizes, per_row, n, bw, lat)
            cells.append(f"{100 * t_compute / plain:.0f}% / {100 * t_compute / over:.0f}% / "
                         f"{b80}")
        out.append(f"| {n} | " + " | ".join(cells) + " |")
    return out + [""]
