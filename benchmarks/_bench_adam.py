"""Fused Adam vs the machine's memory bandwidth, like with like.

One Adam step on n parameters reads p, g, m, v and writes p, m, v: 7 x itemsize bytes
per parameter (28 B in float32, 56 B in float64). The bandwidth references move the SAME
number of bytes, counted the same way (bytes read + bytes written, as STREAM counts;
neither side counts the read-for-ownership of the lines it writes), at the SAME thread
count:

- copy:     dst[:] = src, src of 3.5 n elements (read 3.5 n + write 3.5 n = 7 n elements);
- add:      a[:] = b + c (STREAM "Add"), 7/3 n elements per array (2 reads + 1 write);
- streams:  Adam's own access pattern on four arrays of n elements: p += g; m *= 1; v *= 1
            (three streaming passes that read p, g, m, v and write p, m, v: the same bytes
            AND the same footprint as the Adam step, 4 n elements, where the copy and the
            add need 7 n).

NumPy has no multi-threaded copy (np.copyto is one thread, and a BLAS call is not a copy),
so a reference at T threads is T persistent Python threads each running np.copyto /
np.add on its own contiguous slice: both release the GIL for the whole slice, so this is
T cores streaming at once (the dispatch, a few microseconds, is <0.1% of a step). Every
buffer is out of cache (>= 100 MB for the default n) and was written once before timing.

Everything is checked first (Adam vs nncore.reference, the copy and the add exactly),
then timed interleaved rep by rep in one process; GB/s from the median and the best rep.

Run: python benchmarks/compare.py adam [--n 10000000] [--reps 15] [--dtype float32]
     [--no-torch] [--markdown FILE]   (or python benchmarks/_bench_adam.py ...)
"""
from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import nncore
from nncore import _core, config
from nncore import reference as ref

from _bench_common import _cpu_name, load_average

ADAM_STREAMS = 7  # reads p, g, m, v; writes p, m, v


def _stats(times, nbytes):
    t = np.sort(np.asarray(times))
    med, best = float(np.median(t)), float(t[0])
    return med, best, nbytes / med / 1e9, nbytes / best / 1e9


def _make_adam(n, dtype, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    c = _core._COptim("adam", dtype, n)
    c.set_groups([{"lr": lr, "beta1": betas[0], "beta2": betas[1], "eps": eps}])
    c.set_segments([0], [n], [1], [n], [0])
    m, v = np.zeros(n, dtype), np.zeros(n, dtype)
    c.set_state(0, m)
    c.set_state(1, v)
    return c, m, v


def verify(n=1_000_003, dtype=np.float32):
    """Two fused steps vs the NumPy reference (loose for float32)."""
    rng = np.random.default_rng(0)
    p = rng.standard_normal(n).astype(dtype)
    c, m, v = _make_adam(n, dtype)
    rp, state = p.copy(), {}
    for t in (1, 2):
        g = rng.standard_normal(n).astype(dtype)
        c.step(p, g)
        rp = ref.adam_update(rp, g, state, t, lr=1e-3)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(p, rp, **tol)
    np.testing.assert_allclose(m, state["exp_avg"], **tol)
    np.testing.assert_allclose(v, state["exp_avg_sq"], rtol=tol["rtol"], atol=1e-9)


class Streams:
    """copy and STREAM add, each moving `nbytes` (read + written), on 1..T Python threads
    that each take one contiguous slice (NumPy releases the GIL inside np.copyto and
    np.add). The same buffers serve every thread count."""

    def __init__(self, nbytes, dtype, pool):
        self.pool = pool
        isz = np.dtype(dtype).itemsize
        rng = np.random.default_rng(2)
        n = nbytes // (ADAM_STREAMS * isz)                      # Adam's pattern: 4 arrays
        self.p, self.g, self.m, self.v = (rng.standard_normal(n).astype(dtype) for _ in range(4))
        self.g *= 1e-3
        self.one = np.asarray(1, dtype)
        self.src = rng.standard_normal(nbytes // (2 * isz)).astype(dtype)   # read + write
        self.dst = np.empty_like(self.src)
        k = nbytes // (3 * isz)                                            # 2 reads + write
        self.b = rng.standard_normal(k).astype(dtype)
        self.c = rng.standard_normal(k).astype(dtype)
        self.a = np.empty_like(self.b)
        self.copy_bytes = self.src.nbytes + self.dst.nbytes
        self.add_bytes = self.a.nbytes + self.b.nbytes + self.c.nbytes
        self.streams_bytes = ADAM_STREAMS * self.p.nbytes

    def _run(self, fn, n, threads):
        cuts = np.linspace(0, n, threads + 1).astype(int)
        if threads == 1:
            fn(0, n)
            return
        for f in [self.pool.submit(fn, lo, hi) for lo, hi in zip(cuts[:-1], cuts[1:])]:
            f.result()

    def copy(self, threads):
        self._run(lambda lo, hi: np.copyto(self.dst[lo:hi], self.src[lo:hi]), len(self.src),
                  threads)

    def add(self, threads):
        self._run(lambda lo, hi: np.add(self.b[lo:hi], self.c[lo:hi], out=self.a[lo:hi]),
                  len(self.a), threads)

    def adam_streams(self, threads):
        def part(lo, hi):
            np.add(self.p[lo:hi], self.g[lo:hi], out=self.p[lo:hi])
            np.multiply(self.m[lo:hi], self.one, out=self.m[lo:hi])
            np.multiply(self.v[lo:hi], self.one, out=self.v[lo:hi])
        self._run(part, len(self.p), threads)

    def check(self, threads):
        self.dst[:] = 0
        self.a[:] = 0
        p0, m0 = self.p.copy(), self.m.copy()
        self.copy(threads)
        self.add(threads)
        self.adam_streams(threads)
        assert np.array_equal(self.dst, self.src)
        assert np.array_equal(self.a, self.b + self.c)
        assert np.array_equal(self.p, p0 + self.g) and np.array_equal(self.m, m0)


def _torch_adam(p, g, fused):
    """A torch.optim.Adam stepping a copy of p, or None without torch / the variant."""
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


def measure(n=10_000_000, reps=15, dtype=np.float32, torch_too=True):
    """Rows (what, threads, bytes, median s, best s, GB/s med, GB/s best, % of the copy and
    % of Adam's streams at the same thread count, from the medians)."""
    dtype = np.dtype(dtype)
    nbytes = ADAM_STREAMS * dtype.itemsize * n
    rng = np.random.default_rng(1)
    p = rng.standard_normal(n).astype(dtype)
    g = (1e-3 * rng.standard_normal(n)).astype(dtype)
    c, m, v = _make_adam(n, dtype)
    nthreads = nncore.get_num_threads()
    counts = sorted({1, nthreads})
    pool = ThreadPoolExecutor(max_workers=max(counts))
    streams = Streams(nbytes, dtype, pool)
    for t in counts:
        streams.check(t)

    def adam_at(nt):
        def f():
            with config.num_threads(nt):
                c.step(p, g)
        return f

    def at(fn, t):
        return lambda: fn(t)

    cands = {}  # name -> (fn, threads, bytes)
    for t in counts:
        sfx = f"{t} thread{'s' * (t > 1)}"
        cands[f"copy, np.copyto ({sfx})"] = (at(streams.copy, t), t, streams.copy_bytes)
        cands[f"STREAM add, a = b + c ({sfx})"] = (at(streams.add, t), t, streams.add_bytes)
        cands[f"Adam's streams, 3 NumPy passes ({sfx})"] = (
            at(streams.adam_streams, t), t, streams.streams_bytes)
        cands[f"nncore fused Adam ({sfx})"] = (adam_at(t), t, nbytes)
    tt = _torch_adam(p, g, fused=True) if torch_too else None
    if tt is not None:
        cands[f"torch Adam, fused ({tt[1]} threads)"] = (tt[0].step, tt[1], nbytes)
    for f, _, _ in cands.values():  # warm: first touch, thread start-up
        f()
    times = {k: [] for k in cands}
    for _ in range(reps):
        for k, (f, _, _) in cands.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)

    # slow, unfused: a few reps each
    st, pp, step = {}, [p.copy()], [0]

    def numpy_adam():
        step[0] += 1
        pp[0] = ref.adam_update(pp[0], g, st, step[0], lr=1e-3)

    slow = {"NumPy reference Adam": (numpy_adam, 1, nbytes)}
    tt = _torch_adam(p, g, fused=False) if torch_too else None
    if tt is not None:
        slow[f"torch Adam, foreach ({tt[1]} threads)"] = (tt[0].step, tt[1], nbytes)
    for k, (f, _, _) in slow.items():
        times[k] = []
        for _ in range(3):
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    cands.update(slow)
    pool.shutdown()

    base = {}  # (reference, threads) -> GB/s from the median
    for k, (_, t, b) in cands.items():
        for what in ("copy", "Adam's streams"):
            if k.startswith(what):
                base[what, t] = _stats(times[k], b)[2]
    rows = []
    for k, (_, t, b) in cands.items():
        med, best, gbs, gbs_best = _stats(times[k], b)
        tr = t if t in counts else max(counts)
        rows.append((k, t, b, med, best, gbs, gbs_best, 100.0 * gbs / base["copy", tr],
                     100.0 * gbs / base["Adam's streams", tr]))
    return rows


def table(rows, n, dtype):
    """The result as Markdown lines."""
    dtype = np.dtype(dtype)
    out = [f"Adam step on {n / 1e6:g}M {dtype.name} parameters ({ADAM_STREAMS * dtype.itemsize}"
           f" B/param: reads p, g, m, v, writes p, m, v) against references moving the same "
           f"bytes at the same thread count; {_cpu_name()}, load average {load_average()}; "
           f"% columns from the medians",
           "",
           "| what | threads | MB moved | median ms | best ms | GB/s (median) | "
           "GB/s (best) | % of copy | % of Adam's streams |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, t, b, med, best, gbs, gbs_best, pct, pct_s in rows:
        out.append(f"| {name} | {t} | {b / 1e6:.0f} | {med * 1e3:.2f} | {best * 1e3:.2f} | "
                   f"{gbs:.1f} | {gbs_best:.1f} | {pct:.0f}% | {pct_s:.0f}% |")
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `compare.py adam`."""
    p.add_argument("--n", type=int, default=10_000_000, help="parameters")
    p.add_argument("--reps", type=int, default=15, help="interleaved repetitions")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch rows")
    p.add_argument("--markdown", metavar="FILE", help="also append the table as Markdown")


def run(args) -> int:
    """Verify, measure, print the table; 1 if a verification failed."""
    dtype = np.dtype(args.dtype)
    try:
        verify(dtype=dtype.type)
    except AssertionError as e:
        print(f"VERIFY FAILED: fused Adam differs from nncore.reference\n{e}")
        return 1
    print("verified: fused Adam matches nncore.reference; the references checked exactly")
    lines = table(measure(args.n, args.reps, dtype, torch_too=not args.no_torch), args.n, dtype)
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
