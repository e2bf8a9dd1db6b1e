"""Fused Adam on a 10M-parameter float32 buffer vs the machine's memory-copy bandwidth.

Adam reads p, g, m, v and writes p, m, v: 28 bytes per float32 parameter. The
copy (np.copyto of a large array) moves 2 x its size (read + write). Both are
timed side by side, interleaved, in one run; the target is Adam >= 80% of the
copy's GB/s. The update is verified against nncore.reference first.

Run: python benchmarks/_bench_adam.py [--n 10000000] [--reps 15]
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def _best_and_median(times):
    t = np.sort(np.asarray(times))
    return float(t[0]), float(np.median(t))


def _make_adam(n, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    from nncore import _core

    c = _core._COptim("adam", np.float32, n)
    c.set_groups([{"lr": lr, "beta1": betas[0], "beta2": betas[1], "eps": eps}])
    c.set_segments([0], [n], [1], [n], [0])
    m, v = np.zeros(n, np.float32), np.zeros(n, np.float32)
    c.set_state(0, m)
    c.set_state(1, v)
    return c, m, v


def verify(n=1_000_003):
    """One and two fused steps vs the NumPy reference (float32, loose)."""
    from nncore import reference as ref

    rng = np.random.default_rng(0)
    p = rng.standard_normal(n).astype(np.float32)
    c, m, v = _make_adam(n)
    rp, state = p.copy(), {}
    for t in (1, 2):
        g = rng.standard_normal(n).astype(np.float32)
        c.step(p, g)
        rp = ref.adam_update(rp, g, state, t, lr=1e-3)
    np.testing.assert_allclose(p, rp, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m, state["exp_avg"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(v, state["exp_avg_sq"], rtol=1e-5, atol=1e-9)


def run(n=10_000_000, reps=15, copy_elems=None, torch_too=True):
    """Time fused Adam (1 thread, all threads) and np.copyto side by side; rows of a table."""
    import nncore
    from nncore import config

    copy_elems = copy_elems or 2 * n  # 80 MB for 10M: far out of cache
    rng = np.random.default_rng(1)
    p = rng.standard_normal(n).astype(np.float32)
    g = (1e-3 * rng.standard_normal(n)).astype(np.float32)
    c, m, v = _make_adam(n)
    src = np.ones(copy_elems, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    nthreads = nncore.get_num_threads()

    t_copy, t_adam = [], {1: [], nthreads: []}
    for _ in range(reps):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        t_copy.append(time.perf_counter() - t0)
        for nt in t_adam:
            with config.num_threads(nt):
                t0 = time.perf_counter()
                c.step(p, g)
                t_adam[nt].append(time.perf_counter() - t0)

    copy_bytes = 2.0 * src.nbytes
    adam_bytes = 28.0 * n
    best_copy, med_copy = _best_and_median(t_copy)
    copy_gbs, copy_best_gbs = copy_bytes / med_copy / 1e9, copy_bytes / best_copy / 1e9
    rows = []

    def row(name, med, best, nbytes):
        rows.append((name, med, best, nbytes / med / 1e9, nbytes / best / 1e9,
                     100.0 * nbytes / med / 1e9 / copy_gbs,
                     100.0 * nbytes / best / 1e9 / copy_best_gbs))

    row("np.copyto (memory copy)", med_copy, best_copy, copy_bytes)
    for nt, ts in t_adam.items():
        best, med = _best_and_median(ts)
        row(f"nncore fused Adam, {nt} thread{'s' if nt > 1 else ''}", med, best, adam_bytes)

    # unfused NumPy for scale (a few reps: it is slow)
    from nncore import reference as ref
    st, pp, ts = {}, p.copy(), []
    for t in range(1, 4):
        t0 = time.perf_counter()
        pp = ref.adam_update(pp, g, st, t, lr=1e-3)
        ts.append(time.perf_counter() - t0)
    best, med = _best_and_median(ts)
    row("NumPy reference Adam (unfused)", med, best, adam_bytes)

    if torch_too:
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            tp = torch.from_numpy(p.copy()).requires_grad_()
            tp.grad = torch.from_numpy(g.copy())
            for fused in (True, False):
                try:
                    opt = torch.optim.Adam([tp], lr=1e-3, fused=fused)
                    opt.step()
                except (RuntimeError, TypeError):
                    continue
                ts = []
                for _ in range(max(3, reps // 3)):
                    t0 = time.perf_counter()
                    opt.step()
                    ts.append(time.perf_counter() - t0)
                best, med = _best_and_median(ts)
                row(f"torch Adam ({'fused' if fused else 'foreach'}, "
                    f"{torch.get_num_threads()} threads)", med, best, adam_bytes)
    return rows


def print_table(rows, n):
    print(f"Adam step on {n / 1e6:.0f}M float32 parameters (28 B/param) vs memory copy "
          f"(2 x bytes copied); GB/s and % of copy from the median and from the best rep")
    print(f"| {'what':<38} | {'median ms':>9} | {'best ms':>8} | {'GB/s med':>8} | "
          f"{'GB/s best':>9} | {'% copy med':>10} | {'% copy best':>11} |")
    print(f"|{'-' * 40}|{'-' * 11}|{'-' * 10}|{'-' * 10}|{'-' * 11}|{'-' * 12}|{'-' * 13}|")
    for name, med, best, gbs, gbs_best, pct, pct_best in rows:
        print(f"| {name:<38} | {med * 1e3:9.2f} | {best * 1e3:8.2f} | {gbs:8.1f} | "
              f"{gbs_best:9.1f} | {pct:9.0f}% | {pct_best:10.0f}% |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000, help="parameters (float32)")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch rows")
    args = ap.parse_args(argv)
    verify()
    print("verified: fused Adam matches nncore.reference")
    rows = run(args.n, args.reps, torch_too=not args.no_torch)
    print_table(rows, args.n)
    return rows


if __name__ == "__main__":
    main()
