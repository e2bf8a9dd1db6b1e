"""Fused Adam on a 10M-parameter float32 buffer vs the machine's memory-copy bandwidth.

Adam reads p, g, m, v and writes p, m, v: 28 bytes per float32 parameter. The
copy (np.copyto of a large array) moves 2 x its size (read + write). Both are
timed side by side, interleaved, in one run; the target is Adam >= 80% of the
copy's GB/s. The update is verified against nncore.reference first.

Run: python benchmarks/compare.py adam [--n 10000000] [--reps 15] [--no-torch]
(or python benchmarks/_bench_adam.py with the same options).
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


def _torch_adam(p, g, fused):
    """A torch.optim.Adam stepping a copy of p (None when torch or the variant is missing)."""
    try:
        import torch
    except ImportError:
        return None
    tp = torch.from_numpy(p.copy()).requires_grad_()
    tp.grad = torch.from_numpy(g.copy())
    try:
        opt = torch.optim.Adam([tp], lr=1e-3, fused=fused)
        opt.step()
    except (RuntimeError, TypeError):
        return None
    return opt, torch.get_num_threads()


def measure(n=10_000_000, reps=15, copy_elems=None, torch_too=True):
    """Time np.copyto, fused Adam (1 thread, all threads) and torch's fused Adam
    interleaved rep by rep (side by side); slow unfused variants after. Rows of a table."""
    import nncore
    from nncore import config
    from nncore import reference as ref

    copy_elems = copy_elems or 2 * n  # 80 MB for 10M: far out of cache
    rng = np.random.default_rng(1)
    p = rng.standard_normal(n).astype(np.float32)
    g = (1e-3 * rng.standard_normal(n)).astype(np.float32)
    c, m, v = _make_adam(n)
    src = np.ones(copy_elems, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    nthreads = nncore.get_num_threads()

    def adam_at(nt):
        def f():
            with config.num_threads(nt):
                c.step(p, g)
        return f

    cands = {"np.copyto (memory copy)": (lambda: np.copyto(dst, src), 2.0 * src.nbytes)}
    for nt in sorted({1, nthreads}):
        cands[f"nncore fused Adam, {nt} thread{'s' if nt > 1 else ''}"] = (adam_at(nt), 28.0 * n)
    t = _torch_adam(p, g, fused=True) if torch_too else None
    if t is not None:
        cands[f"torch Adam (fused, {t[1]} threads)"] = (t[0].step, 28.0 * n)
    times = {k: [] for k in cands}
    for _ in range(reps):
        for k, (f, _) in cands.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)

    # slow, unfused: a few reps each
    st, pp = {}, [p.copy()]

    def numpy_adam():
        pp[0] = ref.adam_update(pp[0], g, st, len(st) and 2 or 1, lr=1e-3)

    slow = {"NumPy reference Adam (unfused)": (numpy_adam, 28.0 * n)}
    t = _torch_adam(p, g, fused=False) if torch_too else None
    if t is not None:
        slow[f"torch Adam (foreach, {t[1]} threads)"] = (t[0].step, 28.0 * n)
    for k, (f, _) in slow.items():
        times[k] = []
        for _ in range(3):
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    cands.update(slow)

    copy_name = "np.copyto (memory copy)"
    best_copy, med_copy = _best_and_median(times[copy_name])
    copy_gbs = cands[copy_name][1] / med_copy / 1e9
    copy_best_gbs = cands[copy_name][1] / best_copy / 1e9
    rows = []
    for k, (_, nbytes) in cands.items():
        best, med = _best_and_median(times[k])
        rows.append((k, med, best, nbytes / med / 1e9, nbytes / best / 1e9,
                     100.0 * nbytes / med / 1e9 / copy_gbs,
                     100.0 * nbytes / best / 1e9 / copy_best_gbs))
    return rows


def table(rows, n):
    """The result as Markdown lines."""
    out = [f"Adam step on {n / 1e6:g}M float32 parameters (28 B/param) vs memory copy "
           f"(2 x bytes copied); GB/s and % of copy from the median and from the best rep",
           "",
           f"| {'what':<38} | {'median ms':>9} | {'best ms':>8} | {'GB/s med':>8} | "
           f"{'GB/s best':>9} | {'% copy med':>10} | {'% copy best':>11} |",
           f"|{'-' * 40}|{'-' * 11}|{'-' * 10}|{'-' * 10}|{'-' * 11}|{'-' * 12}|{'-' * 13}|"]
    for name, med, best, gbs, gbs_best, pct, pct_best in rows:
        out.append(f"| {name:<38} | {med * 1e3:9.2f} | {best * 1e3:8.2f} | {gbs:8.1f} | "
                   f"{gbs_best:9.1f} | {pct:9.0f}% | {pct_best:10.0f}% |")
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `compare.py adam`."""
    p.add_argument("--n", type=int, default=10_000_000, help="parameters (float32)")
    p.add_argument("--reps", type=int, default=15, help="interleaved repetitions")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch rows")
    p.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")


def run(args) -> int:
    """Verify, measure, print the table; 1 if the verification failed."""
    try:
        verify()
    except AssertionError as e:
        print(f"VERIFY FAILED: fused Adam differs from nncore.reference\n{e}")
        return 1
    print("verified: fused Adam matches nncore.reference")
    lines = table(measure(args.n, args.reps, torch_too=not args.no_torch), args.n)
    print("\n".join(lines))
    if args.markdown:
        with open(args.markdown, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n\n")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
