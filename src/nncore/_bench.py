"""``nncore bench``: training and inference, nncore side by side with its peers.

    nncore bench train [--threads 2] [--workloads small,mnist,wide] [--quick] [--json PATH]
    nncore bench infer [--threads 2] [--quick] [--json PATH]
    nncore bench memory [--steps 10000] [--threads 2] [--json PATH]
    nncore bench --profile ARCH [--batch N] [--steps 20]   (nncore._bench_profile)

(``python benchmarks/compare.py train|infer|memory`` runs the same code.)

One process runs the same work on nncore and on every peer that is installed:
the NumPy reference trainer (``nncore.reference``), a lean hand-written NumPy
trainer, PyTorch eager (``torch.nn`` + ``torch.optim.Adam``), JAX (``jax.jit`` of
the whole step with ``optax.adam``) and scikit-learn's ``MLPClassifier``
(``partial_fit`` over an epoch). Missing peers are skipped with a note; none is
a dependency. Every contender starts from nncore's initial weights; before
anything is timed, three steps on the same batches must give the same losses
(float32 tolerance), otherwise the run stops. Then each is warmed up and timed
in interleaved rounds (a round times every contender once, so load from other
processes hits all of them alike; the order rotates from round to round, and a
0.2 s pause before each lets the previous library's spinning worker threads go to
sleep first, then one untimed block wakes the contender's own threads again, so
every library is timed warm); the table gives the median time per step,
GFLOP/s (the same nominal count for everyone: forward, dW, and dX of every layer
but the first) and each peer's time divided by nncore's (> 1: nncore is faster).

Thread count: nncore.set_num_threads, torch.set_num_threads, NumPy's OpenBLAS
via its own ``openblas_set_num_threads`` (ctypes); JAX reads its thread count at
import (XLA_FLAGS is set before the import when --threads 1 asks for one).
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import gc
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
import warnings
from contextlib import redirect_stdout
from typing import Any, Callable, Optional

import numpy as np

from . import config, losses, nn, optim, reference
from ._files import atomic_write

WORKLOADS = {
    "small": ((64, 128, 64, 10), 32),
    "mnist": ((784, 256, 128, 10), 128),
    "wide": ((1024, 2048, 2048, 10), 512),
}
LR = 1e-3
PEERS = ("reference", "numpy", "torch", "jax", "onnxruntime", "sklearn")
BF16_NAMES = ("nncore bf16", "torch autocast bf16")  # train --compute bf16


# ------------------------------------------------------------------ threads

def _openblas_set_threads(n: int) -> bool:
    """Set the thread count of the OpenBLAS NumPy loaded (via ctypes); False if not found."""
    np.ones((2, 2)) @ np.ones((2, 2))
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({ln.split()[-1] for ln in f
                            if "openblas" in os.path.basename(ln.split()[-1]).lower()})
    except OSError:
        return False
    for p in paths:
        lib = ctypes.CDLL(p)
        for name in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                     "openblas_set_num_threads64_", "openblas_set_num_threads"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn(ctypes.c_int(n))
                return True
    return False


def set_threads(n: int) -> list[str]:
    """The same thread count everywhere we can set it; returns notes."""
    notes = []
    config.set_num_threads(n)
    if not _openblas_set_threads(n):
        notes.append("could not set NumPy's BLAS thread count")
    if "jax" not in sys.modules and n == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false"
                                   " intra_op_parallelism_threads=1").strip()
    elif "jax" in sys.modules:
        notes.append("JAX was imported before: its thread count is what it was then")
    try:
        import torch
        torch.set_num_threads(n)
    except ImportError:
        pass
    return notes


# ---------------------------------------------------------------- contenders

def _nncore(sizes, seed=0):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers, dtype="float32", seed=seed)
    return model, optim.Adam(model.parameters(), lr=LR), losses.CrossEntropyLoss()


def _weights(model):
    """[(W (out, in), b (out,)), ...] copies, layer order."""
    p = dict(model.named_parameters())
    idx = sorted({int(k.split(".")[0]) for k in p})
    return [(p[f"{i}.weight"].data.copy(), p[f"{i}.bias"].data.copy()) for i in idx]


class _NumpyMLP:
    """Lean NumPy float32 trainer: ReLU MLP, mean softmax CE, Adam (PyTorch's rule)."""

    def __init__(self, weights, lr=LR, betas=(0.9, 0.999), eps=1e-8):
        self.P = [a.copy() for wb in weights for a in wb]
        self.m = [np.zeros_like(p) for p in self.P]
        self.v = [np.zeros_like(p) for p in self.P]
        self.lr, self.b1, self.b2, self.eps, self.t = lr, betas[0], betas[1], eps, 0

    def forward(self, x):
        nl = len(self.P) // 2
        h = x
        for i in range(nl):
            h = h @ self.P[2 * i].T + self.P[2 * i + 1]
            if i < nl - 1:
                np.maximum(h, 0, out=h)
        return h

    def step(self, x, y):
        P, nl, n = self.P, len(self.P) // 2, len(x)
        hs = [x]
        for i in range(nl):
            z = hs[-1] @ P[2 * i].T + P[2 * i + 1]
            hs.append(np.maximum(z, 0) if i < nl - 1 else z)
        z = hs[-1] - hs[-1].max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(n), y]))
        d = e / s
        d[np.arange(n), y] -= 1
        d /= n
        g = [None] * len(P)
        for i in reversed(range(nl)):
            g[2 * i] = d.T @ hs[i]
            g[2 * i + 1] = d.sum(axis=0)
            if i:
                d = (d @ P[2 * i]) * (hs[i] > 0)
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for p, gi, m, v in zip(P, g, self.m, self.v):
            m *= self.b1
            m += (1 - self.b1) * gi
            v *= self.b2
            v += (1 - self.b2) * gi * gi
            p -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)
        return loss


def _reference(model):
    twin = reference.ReferenceNetwork.from_model(model, dtype=np.float32)
    params = model.parameters()
    opt = reference.RefOptimizer("adam", twin.param_list(),
                           [{"params": list(range(len(params))), "lr": LR}],
                           [p.is_bias for p in params])
    ce = losses.CrossEntropyLoss()
    return (lambda x, y: reference.train_step(twin, x, y, ce, opt)[0]), twin


def _torch_model(weights):
    import torch
    mods = []
    for i, (w, b) in enumerate(weights):
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        mods.append(lin)
        if i < len(weights) - 1:
            mods.append(torch.nn.ReLU())
    return torch.nn.Sequential(*mods)


def _torch(weights, autocast=False):
    """PyTorch eager; autocast=True: under ``torch.autocast("cpu", dtype=torch.bfloat16)``
    (the bf16 peer of ``train --compute bf16``)."""
    import torch
    model = _torch_model(weights)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    lossf = torch.nn.CrossEntropyLoss()
    ctx = ((lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if autocast
           else contextlib.nullcontext)

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        with ctx():
            loss = lossf(model(x), y)
        loss.backward()
        opt.step()
        return float(loss.item())

    return step, (lambda x, y: (torch.from_numpy(x), torch.from_numpy(y)))


def _jax_forward(params, x):
    import jax.numpy as jnp
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w.T + b
        if i < len(params) - 1:
            h = jnp.maximum(h, 0)
    return h


def _jax(weights):
    import jax
    import jax.numpy as jnp
    import optax

    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in weights]
    tx = optax.adam(LR)
    state = [params, tx.init(params)]

    def loss_fn(p, x, y):
        logits = _jax_forward(p, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def jstep(p, s, x, y):
        loss, g = jax.value_and_grad(loss_fn)(p, x, y)
        upd, s = tx.update(g, s, p)
        return optax.apply_updates(p, upd), s, loss

    def step(x, y):
        state[0], state[1], loss = jstep(state[0], state[1], x, y)
        return float(loss)

    def convert(x, y):
        return jax.device_put(x), jax.device_put(y.astype(np.int32))

    return step, convert


def _sklearn(weights, batch):
    from sklearn.neural_network import MLPClassifier
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer

    hidden = tuple(w.shape[0] for w, _ in weights[:-1])
    n_in, n_out = weights[0][0].shape[1], weights[-1][0].shape[0]
    clf = MLPClassifier(hidden_layer_sizes=hidden, activation="relu", solver="adam", alpha=0.0,
                        batch_size=batch, learning_rate_init=LR, shuffle=False, max_iter=1,
                        tol=0.0, n_iter_no_change=10 ** 9)
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.partial_fit(rng.standard_normal((batch, n_in)).astype(np.float32),
                        np.arange(batch) % n_out, classes=np.arange(n_out))
    for (w, b), cw, cb in zip(weights, clf.coefs_, clf.intercepts_):
        np.copyto(cw, w.T)
        np.copyto(cb, b)
    # sklearn adds eps to sqrt(v) before bias correction, PyTorch/optax/nncore after:
    # eps * sqrt(1 - beta2) makes the two rules agree exactly at step 1 and nearly after
    clf._optimizer = AdamOptimizer(clf.coefs_ + clf.intercepts_, LR,
                                   epsilon=1e-8 * (1 - 0.999) ** 0.5)

    def epoch(x, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.partial_fit(x, y)
        return float(clf.loss_)

    epoch.weights = lambda: [(cw.T, cb) for cw, cb in zip(clf.coefs_, clf.intercepts_)]
    return epoch


# ------------------------------------------------------------------- timing

def _onnxruntime(model, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    """The model exported by nncore.onnx, run by onnxruntime's CPUExecutionProvider
    on ``threads`` intra-op threads: the same weights, bit for bit."""
    import onnxruntime as ort
    with tempfile.TemporaryDirectory() as d:
        path = model.to_onnx(os.path.join(d, "mlp.onnx"))
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return lambda x: sess.run(None, {name: x})[0]


def _settle(seconds: float = 0.2) -> None:
    """A pause before timing the next contender, so the worker threads the previous
    one left spinning (OpenBLAS, PyTorch's OpenMP, XLA, nncore's team) go to sleep
    instead of competing with it for the two cores (OpenBLAS spins for up to
    2**28 cycles, ~0.1 s, after its last call)."""
    time.sleep(seconds)


def _median_per_call(fn: Callable[[], Any], calls: int) -> float:
    """Median wall time of `calls` calls of fn (seconds)."""
    ts = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def _flops(sizes, batch) -> float:
    macs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 2.0 * batch * (3 * sum(macs) - macs[0])


def _batches(sizes, batch, k, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((batch, sizes[0])).astype(np.float32),
             rng.integers(0, sizes[-1], size=batch).astype(np.int64)) for _ in range(k)]


def _peer_or_note(name, make, notes):
    try:
        return make()
    except ImportError as e:
        notes.append(f"{name}: not installed ({e.name or e}), skipped")
    except Exception as e:  # a peer that cannot run here is reported, not fatal
        notes.append(f"{name}: skipped ({type(e).__name__}: {e})")
    return None


def _bf16_contenders(sizes, w0, skip, notes) -> dict:
    """--compute bf16: nncore in bf16 compute mode (same initial weights) and the
    torch autocast peer, verified against each other with bf16's tolerance."""
    model, opt, ce = _nncore(sizes)
    model.compute_dtype = "bfloat16"
    out = {"nncore bf16": (lambda x, y: model.train_step(x, y, ce, opt), lambda x, y: (x, y))}
    if "torch" not in skip:
        r = _peer_or_note("torch autocast bf16", lambda: _torch(w0, autocast=True), notes)
        if r:
            out["torch autocast bf16"] = r
    return out


def bench_train(name: str, threads: int, rounds: int, skip=(), scaling=True,
                compute: str = "fp32") -> tuple[dict, list]:
    """One workload: {contender: seconds per step} and notes."""
    sizes, batch = WORKLOADS[name]
    notes: list[str] = []
    model, opt, ce = _nncore(sizes)
    w0 = _weights(model)
    impls: dict[str, tuple[Callable, Callable]] = {
        "nncore": (lambda x, y: model.train_step(x, y, ce, opt), lambda x, y: (x, y))}
    bf16 = _bf16_contenders(sizes, w0, skip, notes) if compute == "bf16" else {}
    if "reference" not in skip:
        r = _peer_or_note("reference", lambda: _reference(model)[0], notes)
        if r:
            impls["reference"] = (r, lambda x, y: (x, y))
    if "numpy" not in skip:
        impls["numpy"] = (_NumpyMLP(w0).step, lambda x, y: (x, y))
    if "torch" not in skip:
        r = _peer_or_note("torch", lambda: _torch(w0), notes)
        if r:
            impls["torch"] = r
    if "jax" not in skip:
        r = _peer_or_note("jax", lambda: _jax(w0), notes)
        if r:
            impls["jax"] = r
    sk = None
    if "sklearn" not in skip:
        sk = _peer_or_note("sklearn", lambda: _sklearn(w0, batch), notes)

    work = _flops(sizes, batch)
    steps = int(max(4, min(400, 1e9 / work)))      # >= ~10 ms per contender per round
    data = _batches(sizes, batch, max(steps, 8))

    # verify: same losses from the same weights on the same batches
    ref = [impls["nncore"][0](x, y) for x, y in data[:3]]
    w3 = _weights(model)
    for pname, (fn, conv) in list(impls.items())[1:]:
        got = [fn(*conv(x, y)) for x, y in data[:3]]
        if not np.allclose(got, ref, rtol=2e-3, atol=1e-4):
            raise SystemExit(f"verification failed for {pname} on {name}: {got} vs nncore {ref}")
    if sk is not None:
        # sklearn clips probabilities in the loss it reports (not in its gradient), so
        # where a loss is large the reported values differ: check the first loss and
        # that three updates moved the weights like nncore's (relative difference)
        got = [sk(x, y) for x, y in data[:3]]
        dw = max(float(np.linalg.norm(a - b) / max(1e-30, np.linalg.norm(b - c)))
                 for (a, _), (b, _), (c, _) in zip(sk.weights(), w3, w0))
        if not (np.isclose(got[0], ref[0], rtol=2e-3) and dw < 0.05):
            notes.append(f"sklearn: losses {got} / update difference {dw:.2g} differ from "
                         f"nncore's {ref}: not timed")
            sk = None
    for pname, (fn, conv1) in bf16.items():
        # bf16 operands: ~2^-8 relative per value, so the losses agree to about 1e-2
        got = [fn(*conv1(x, y)) for x, y in data[:3]]
        if not np.allclose(got, ref, rtol=3e-2, atol=1e-3):
            raise SystemExit(f"verification failed for {pname} on {name}: {got} vs nncore {ref}")
    impls.update(bf16)
    conv = {k: [c(x, y) for x, y in data[:steps]] for k, (_, c) in impls.items()}

    def block(fn, bs):
        def run():
            for x, y in bs:
                fn(x, y)
        return run

    cands = {k: block(impls[k][0], conv[k]) for k in impls}
    if scaling and threads > 1:
        def nn1(run=cands["nncore"]):
            config.set_num_threads(1)
            try:
                run()
            finally:
                config.set_num_threads(threads)
        cands["nncore 1 thread"] = nn1
    if sk is not None:
        X = np.concatenate([x for x, _ in data[:steps]])
        Y = np.concatenate([y for _, y in data[:steps]])
        cands["sklearn"] = lambda: sk(X, Y)
    for fn in cands.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k in cands}
    gc.disable()
    try:
        order = list(cands)
        for r in range(rounds):
            for k in order[r % len(order):] + order[:r % len(order)]:  # rotate
                fn = cands[k]
                _settle()
                fn()  # untimed: wake this contender's threads (and the vCPU) after the pause
                t0 = time.perf_counter()
                fn()
                times[k].append((time.perf_counter() - t0) / steps)
    finally:
        gc.enable()
    return {k: statistics.median(v) for k, v in times.items()}, notes


def bench_infer(threads: int, rounds: int, skip=()) -> tuple[list[dict], list]:
    """Single-sample latency (small MLP, model(x)) and batched throughput (mnist MLP, 1024)."""
    notes: list[str] = []
    rows = []
    for label, (sizes, _), batch, calls in (("latency", WORKLOADS["small"], 1, 20000),
                                             ("throughput", WORKLOADS["mnist"], 1024, 40)):
        model, _, _ = _nncore(sizes)
        w0 = _weights(model)
        x = np.random.default_rng(2).standard_normal((batch, sizes[0])).astype(np.float32)
        want = model(x).copy()
        fns: dict[str, Callable[[], Any]] = {"nncore": lambda m=model: m(x)}
        outs: dict[str, Callable[[], np.ndarray]] = {}
        if "reference" not in skip:
            tw = _peer_or_note("reference", lambda: _reference(model)[1], notes)
            if tw is not None:
                fns["reference"] = lambda tw=tw: tw.forward(x)
                outs["reference"] = fns["reference"]
        if "numpy" not in skip:
            npm = _NumpyMLP(w0)
            fns["numpy"] = lambda: npm.forward(x)
            outs["numpy"] = fns["numpy"]
        if "torch" not in skip:
            tm = _peer_or_note("torch", lambda: _torch_model(w0), notes)
            if tm is not None:
                import torch
                tx = torch.from_numpy(x)

                def tcall(tm=tm, tx=tx):
                    with torch.no_grad():
                        return tm(tx)
                fns["torch"] = tcall
                outs["torch"] = lambda f=tcall: f().numpy()
        if "jax" not in skip:
            def mk():
                import jax
                params = [(jax.device_put(w), jax.device_put(b)) for w, b in w0]
                f = jax.jit(_jax_forward)
                jx = jax.device_put(x)
                return lambda: f(params, jx).block_until_ready()
            jf = _peer_or_note("jax", mk, notes)
            if jf is not None:
                fns["jax"] = jf
                outs["jax"] = lambda f=jf: np.asarray(f())
        if "onnxruntime" not in skip:
            ox = _peer_or_note("onnxruntime", lambda: _onnxruntime(model, threads), notes)
            if ox is not None:
                fns["onnxruntime"] = lambda ox=ox: ox(x)
                outs["onnxruntime"] = fns["onnxruntime"]
        if "sklearn" not in skip:
            def mks():
                from sklearn.neural_network import MLPClassifier
                clf = MLPClassifier(hidden_layer_sizes=tuple(w.shape[0] for w, _ in w0[:-1]))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    clf.partial_fit(np.repeat(x[:1], sizes[-1], axis=0),
                                    np.arange(sizes[-1]), classes=np.arange(sizes[-1]))
                for (w, b), cw, cb in zip(w0, clf.coefs_, clf.intercepts_):
                    np.copyto(cw, w.T)
                    np.copyto(cb, b)
                return lambda: clf.predict_proba(x)
            sf = _peer_or_note("sklearn", mks, notes)
            if sf is not None:
                fns["sklearn (predict_proba)"] = sf
        for k, f in outs.items():
            got = f()
            if not np.allclose(got, want, rtol=1e-3, atol=1e-4):
                raise SystemExit(f"inference verification failed for {k} ({label})")
        n = calls if label == "throughput" else calls // 10
        for f in fns.values():
            f()
        times: dict[str, list[float]] = {k: [] for k in fns}
        gc.disable()
        try:
            order = list(fns)
            for r in range(rounds):
                for k in order[r % len(order):] + order[:r % len(order)]:  # rotate
                    f = fns[k]
                    _settle()
                    times[k].append(_median_per_call(f, n))
        finally:
            gc.enable()
        row = {"what": label, "mlp": "-".join(map(str, sizes)), "batch": batch,
               "threads": threads}
        row.update({k: statistics.median(v) for k, v in times.items()})
        rows.append(row)
    return rows, notes


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def bench_memory(steps: int = 10000, workload: str = "small") -> dict:
    """RSS before/after `steps` train steps (after a warm-up) and tracemalloc's view."""
    sizes, batch = WORKLOADS[workload]
    model, opt, ce = _nncore(sizes)
    data = _batches(sizes, batch, 8)
    for i in range(1000):  # warm-up: workspace, thread team, allocator arenas
        x, y = data[i & 7]
        model.train_step(x, y, ce, opt)
    gc.collect()
    rss0 = _rss_bytes()
    samples = []
    for i in range(steps):
        x, y = data[i & 7]
        model.train_step(x, y, ce, opt)
        if i % max(1, steps // 10) == 0:
            samples.append(_rss_bytes())
    rss1 = _rss_bytes()
    # gc.collect() empties CPython's free lists (up to 2000 tuples per size),
    # and refilling them would show up as growth (it is not): refill first
    for i in range(3000):
        x, y = data[i & 7]
        model.train_step(x, y, ce, opt)
    tracemalloc.start()
    s0 = tracemalloc.take_snapshot()
    for i in range(1000):
        x, y = data[i & 7]
        model.train_step(x, y, ce, opt)
    s1 = tracemalloc.take_snapshot()
    tracemalloc.stop()
    # the first snapshot itself is allocated between the two: leave tracemalloc out
    own = [tracemalloc.Filter(False, tracemalloc.__file__)]
    s0, s1 = s0.filter_traces(own), s1.filter_traces(own)
    grown = sum(st.size_diff for st in s1.compare_to(s0, "filename") if st.size_diff > 0)
    tail = samples[len(samples) // 5:]  # the last 80% of the steps
    return {"workload": workload, "steps": steps, "rss_start": rss0, "rss_end": rss1,
            "rss_growth_last_80pct": (rss1 - tail[0]) if tail else 0,
            "rss_growth": rss1 - rss0, "rss_samples": samples,
            "python_heap_growth_1000_steps": grown}


# ------------------------------------------------------------------ reports

def _fmt_t(t: Optional[float]) -> str:
    if t is None:
        return "-"
    if t < 1e-3:
        return f"{t * 1e6:.1f} us"
    return f"{t * 1e3:.2f} ms"


def train_table(results: dict[str, dict], threads: int) -> list[str]:
    names = ["nncore"] + [n for n in ("nncore 1 thread",) + PEERS + BF16_NAMES
                          if any(n in r for r in results.values())]
    out = [f"Training step (fp32, ReLU, softmax CE, Adam lr 1e-3), {threads} threads: median "
           f"time per step, GFLOP/s, and time / nncore's (> 1: nncore is faster)", "",
           "| workload | " + " | ".join(names) + " | fastest peer / nncore |",
           "|---|" + "---|" * (len(names) + 1)]
    for w, r in results.items():
        sizes, batch = WORKLOADS[w]
        fl = _flops(sizes, batch)
        cells = []
        for n in names:
            t = r.get(n)
            if t is None:
                cells.append("-")
            elif n == "nncore":
                cells.append(f"{_fmt_t(t)}, {fl / t / 1e9:.1f} GF/s")
            else:
                cells.append(f"{_fmt_t(t)}, {fl / t / 1e9:.1f} GF/s, x{t / r['nncore']:.2f}")
        peers = [r[n] for n in PEERS if n in r]
        fastest = f"x{min(peers) / r['nncore']:.2f}" if peers else "-"
        out.append(f"| {w} {'-'.join(map(str, sizes))} b{batch} | " + " | ".join(cells) +
                   f" | {fastest} |")
    return out


def infer_table(rows: list[dict]) -> list[str]:
    names = [n for n in ("nncore",) + PEERS + ("sklearn (predict_proba)",)
             if any(n in r for r in rows)]
    out = ["Inference through model(x) (no grad): median time per call; "
           "x = time / nncore's", "",
           "| what | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for r in rows:
        cells = []
        for n in names:
            t = r.get(n)
            if t is None:
                cells.append("-")
            else:
                s = _fmt_t(t)
                if r["what"] == "throughput":
                    s += f", {r['batch'] / t / 1e6:.2f} M samples/s"
                if n != "nncore":
                    s += f", x{t / r['nncore']:.1f}"
                cells.append(s)
        out.append(f"| {r['what']} {r['mlp']} b{r['batch']} | " + " | ".join(cells) + " |")
    return out


def header() -> str:
    buf = io.StringIO()
    with redirect_stdout(buf):
        config.show_config()
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    vers = [f"numpy {np.__version__}"]
    for mod in ("torch", "jax", "optax", "sklearn"):
        m = sys.modules.get(mod)
        if m is not None:
            vers.append(f"{mod} {getattr(m, '__version__', '?')}")
    return (f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
            f"load average {load}; {platform.machine()}, {os.cpu_count()} cores\n"
            f"peers: {', '.join(vers)}\n" + buf.getvalue().rstrip())


# --------------------------------------------------------------------- CLI

def positive_int(s: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        v = int(s)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {s!r}")
    return v


def check_json_path(path: str | None) -> None:
    """SystemExit (one line) before any benchmark runs when --json cannot be written."""
    if path is None:
        return
    where = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(where):
        raise SystemExit(f"nncore bench: cannot write --json {path}: no directory {where}")
    if os.path.isdir(path):
        raise SystemExit(f"nncore bench: cannot write --json {path}: is a directory")


def write_json(path: str, obj: Any) -> None:
    """The JSON file whole or not at all (through a temporary file renamed into place;
    through a symlink to the file it names); a device or pipe (/dev/stdout) is written
    to, never replaced."""
    text = json.dumps(obj, indent=1, default=float)
    if os.path.exists(path) and not os.path.isfile(path):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return
    atomic_write(path, [text.encode("utf-8")])   # through a symlink to the file it names


def add_arguments(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--threads", type=positive_int, default=2,
                   help="threads for every library (2)")
    p.add_argument("--rounds", type=positive_int, default=7,
                   help="interleaved rounds (median)")
    p.add_argument("--quick", action="store_true", help="3 rounds, no 'wide' workload")
    p.add_argument("--skip", default="", help="comma-separated peers to leave out")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    if what == "train":
        p.add_argument("--workloads", default="small,mnist,wide")
        p.add_argument("--compute", choices=("fp32", "bf16"), default="fp32",
                       help="bf16: also nncore in bf16 compute mode and torch autocast bf16")
        p.add_argument("--no-scaling", action="store_true",
                       help="do not time nncore at 1 thread as well")
    if what == "memory":
        p.add_argument("--steps", type=positive_int, default=10000)


def run(args, what: str) -> int:
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = sorted(skip - set(PEERS))
    if unknown:
        raise SystemExit(f"nncore bench: --skip: unknown peer {unknown[0]!r}; expected "
                         f"names from {list(PEERS)}")
    if what == "train":
        wl = [w.strip() for w in args.workloads.split(",") if w.strip()]
        for w in wl:
            if w not in WORKLOADS:
                raise SystemExit(f"unknown workload {w!r}; expected one of {list(WORKLOADS)}")
    check_json_path(args.json)
    # memory: nncore's threads only (importing torch to set its own would change the RSS)
    notes = set_threads(args.threads) if what != "memory" else []
    if what == "memory":
        config.set_num_threads(args.threads)
    rounds = 3 if args.quick else args.rounds
    result: dict[str, Any] = {"threads": getattr(args, "threads", None)}
    lines: list[str] = []
    if what == "train":
        if args.quick:
            wl = [w for w in wl if w != "wide"]
        res = {}
        for w in wl:
            res[w], n = bench_train(w, args.threads, rounds, skip, not args.no_scaling,
                                    args.compute)
            notes += [x for x in n if x not in notes]
        result["train"] = res
        lines = train_table(res, args.threads)
    elif what == "infer":
        rows, n = bench_infer(args.threads, rounds, skip)
        notes += n
        result["infer"] = rows
        lines = infer_table(rows)
    else:
        m = bench_memory(args.steps)
        result["memory"] = m
        lines = [f"RSS over {m['steps']} train steps ({m['workload']} MLP, after warm-up): "
                 f"{m['rss_start'] / 2**20:.2f} MiB -> {m['rss_end'] / 2**20:.2f} MiB "
                 f"(growth {m['rss_growth'] / 1024:.0f} KiB in all, "
                 f"{m['rss_growth_last_80pct'] / 1024:.0f} KiB over the last 80% of the steps); "
                 f"Python heap growth over 1000 more "
                 f"steps (tracemalloc): {m['python_heap_growth_1000_steps']} B"]
    text = header() + "\n\n" + "\n".join(lines)
    if notes:
        text += "\n\nnotes:\n" + "\n".join(f"- {n}" for n in notes)
    print(text)
    if args.json:
        result["header"] = header()
        result["notes"] = notes
        write_json(args.json, result)
    return 0


class _OneLineParser(argparse.ArgumentParser):
    """Argument errors as one line (SystemExit with the message), no usage block."""

    def error(self, message: str) -> None:
        raise SystemExit(f"{self.prog}: {message} (see '{self.prog} --help')")


def main(argv=None) -> int:
    parser = _OneLineParser(prog="nncore bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    for what, help_ in (("train", "training step vs peers"),
                        ("infer", "inference latency and throughput vs peers"),
                        ("memory", "RSS over 10k training steps")):
        add_arguments(sub.add_parser(what, help=help_, description=help_), what)
    args = parser.parse_args(argv)
    return run(args, args.what)


if __name__ == "__main__":
    sys.exit(main())
