"""Training-step time per batch: nncore vs a NumPy trainer vs PyTorch eager (if installed).

Three MLPs (ReLU, softmax cross-entropy with integer labels, Adam lr 1e-3, float32):
64-128-64-10 batch 32, 784-256-128-10 batch 128, 1024-2048-2048-10 batch 512.

Every implementation starts from nncore's initial weights; before timing, a few
steps on the same batches must give the same losses (float32 tolerance),
otherwise the run stops. Then the implementations are timed side by side,
interleaved in rounds, and the best round (min: robust to other load on a
shared machine) is reported in microseconds per step, with ratios to nncore.

Columns: "nncore" = ``model.train_step``; "nncore fit" = ``model.fit(...,
metrics=[])`` over the same batches, one epoch per round (the loop's overhead on
top of ``train_step``); "numpy" = a lean hand-written NumPy trainer (below);
"reference" = ``nncore.reference.train_step`` (the test oracle, float32);
"torch" = PyTorch eager, if installed. JAX is not included.

Run: python benchmarks/_bench_train.py [--quick] [--rounds 5] [--threads N]
(with --threads 1, also set OPENBLAS_NUM_THREADS=1 so NumPy runs on one core too)
(For fair NumPy numbers, unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in that command.)
"""
from __future__ import annotations

import argparse
import time

import numpy as np

CONFIGS = [((64, 128, 64, 10), 32), ((784, 256, 128, 10), 128),
           ((1024, 2048, 2048, 10), 512)]
LR = 1e-3


# --------------------------------------------------------------- nncore

def make_nncore(sizes, seed=0):
    import nncore.nn as nn
    from nncore import losses, optim

    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers, dtype="float32", seed=seed)
    opt = optim.Adam(model.parameters(), lr=LR)
    ce = losses.CrossEntropyLoss()

    def step(x, y):
        return model.train_step(x, y, ce, opt)

    return model, opt, step


def initial_weights(model):
    """[(W (out, in), b (out,)), ...] copies, layer order."""
    p = dict(model.named_parameters())
    idx = sorted({int(k.split(".")[0]) for k in p})
    return [(p[f"{i}.weight"].data.copy(), p[f"{i}.bias"].data.copy()) for i in idx]


# ---------------------------------------------------------------- NumPy

class NumpyMLP:
    """Plain NumPy float32 trainer: ReLU MLP, mean softmax CE, Adam (PyTorch's rule)."""

    def __init__(self, weights, lr=LR, betas=(0.9, 0.999), eps=1e-8):
        self.params = [a.copy() for wb in weights for a in wb]  # W0, b0, W1, b1, ...
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.lr, self.b1, self.b2, self.eps, self.t = lr, betas[0], betas[1], eps, 0

    def step(self, x, y):
        P = self.params
        nl = len(P) // 2
        hs = [x]
        for i in range(nl):
            z = hs[-1] @ P[2 * i].T + P[2 * i + 1]
            hs.append(np.maximum(z, 0) if i < nl - 1 else z)
        z = hs[-1]
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        n = len(x)
        loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(n), y]))
        d = e / s
        d[np.arange(n), y] -= 1
        d /= n
        grads = [None] * len(P)
        for i in reversed(range(nl)):
            grads[2 * i] = d.T @ hs[i]
            grads[2 * i + 1] = d.sum(axis=0)
            if i:
                d = (d @ P[2 * i]) * (hs[i] > 0)
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for p, g, m, v in zip(P, grads, self.m, self.v):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            p -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)
        return loss


def make_reference(model):
    """nncore.reference's trainer on a float32 twin of ``model`` (None if unavailable)."""
    try:
        from nncore import losses
        from nncore import reference as ref
        twin = ref.ReferenceNetwork.from_model(model, dtype=np.float32)
        params = model.parameters()
        opt = ref.RefOptimizer("adam", twin.param_list(),
                               [{"params": list(range(len(params))), "lr": LR}],
                               [p.is_bias for p in params])
    except (ImportError, AttributeError, TypeError):
        return None
    ce = losses.CrossEntropyLoss()

    def step(x, y):
        return ref.train_step(twin, x, y, ce, opt)[0]

    return step


# -------------------------------------------------------------- PyTorch

def make_torch(weights, threads):
    import torch

    torch.set_num_threads(threads)
    mods = []
    for i, (w, b) in enumerate(weights):
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        mods.append(lin)
        if i < len(weights) - 1:
            mods.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*mods)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    lossf = torch.nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(x), y)
        loss.backward()
        opt.step()
        return float(loss.item())

    def convert(x, y):
        return torch.from_numpy(x), torch.from_numpy(y)

    return step, convert


# ----------------------------------------------------------------- main

def _batches(sizes, batch, k, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((batch, sizes[0])).astype(np.float32),
             rng.integers(0, sizes[-1], size=batch).astype(np.int64)) for _ in range(k)]


def bench_config(sizes, batch, rounds, steps, threads):
    model, _, nstep = make_nncore(sizes)
    w0 = initial_weights(model)
    impls = {"nncore": (nstep, lambda x, y: (x, y))}
    npm = NumpyMLP(w0)
    impls["numpy"] = (npm.step, lambda x, y: (x, y))
    rstep = make_reference(model)
    if rstep is not None:
        impls["reference"] = (rstep, lambda x, y: (x, y))
    try:
        tstep, tconv = make_torch(w0, threads)
        impls["torch"] = (tstep, tconv)
    except ImportError:
        pass

    # verify: same losses for a few steps from the same weights
    data = _batches(sizes, batch, max(steps, 3))
    ref = None
    for name, (fn, conv) in impls.items():
        losses = [fn(*conv(x, y)) for x, y in data[:3]]
        if ref is None:
            ref = losses
        elif not np.allclose(losses, ref, rtol=2e-3, atol=1e-4):
            raise SystemExit(f"verification failed for {name} on {sizes} b{batch}: "
                             f"{losses} vs nncore {ref}")

    converted = {name: [conv(x, y) for x, y in data[:steps]]
                 for name, (_, conv) in impls.items()}
    times: dict[str, list[float]] = {name: [] for name in impls}
    times["nncore fit"] = []
    Xfit = np.concatenate([x for x, _ in data[:steps]])
    yfit = np.concatenate([y for _, y in data[:steps]])
    fmodel, fopt, _ = make_nncore(sizes)
    for _ in range(rounds):
        for name, (fn, _) in impls.items():
            bs = converted[name]
            t0 = time.perf_counter()
            for x, y in bs:
                fn(x, y)
            times[name].append((time.perf_counter() - t0) / len(bs))
        t0 = time.perf_counter()
        fmodel.fit(Xfit, yfit, loss="cross_entropy", optimizer=fopt, epochs=1,
                   batch_size=batch, shuffle=False, metrics=[], verbose=0)
        times["nncore fit"].append((time.perf_counter() - t0) / steps)
    return {k: float(np.min(v)) * 1e6 for k, v in times.items()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="first two MLPs, 3 rounds")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for nncore and torch (default: nncore's current count; "
                         "NumPy's BLAS follows its own settings)")
    args = ap.parse_args(argv)
    import nncore

    if args.threads is not None:
        nncore.set_num_threads(args.threads)
    threads = nncore.get_num_threads()
    configs = CONFIGS[:2] if args.quick else CONFIGS
    rounds = 3 if args.quick else args.rounds
    print(f"nncore {nncore.__version__}, arch {nncore.config.get_arch()}, {threads} threads; "
          f"best of {rounds} interleaved rounds, us per train step (ratio = time / nncore)")
    rows = []
    for sizes, batch in configs:
        work = sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) * batch
        steps = max(5, min(200, int(2e9 / (6 * work))))
        r = bench_config(sizes, batch, rounds, steps, threads)
        rows.append(("-".join(map(str, sizes)) + f" b{batch}", r))
    names = ["nncore", "nncore fit", "numpy", "reference", "torch"]
    names = [n for n in names if any(n in r for _, r in rows)]
    ratios = [n for n in names if n != "nncore"]
    head = f"| {'MLP':<24} |" + "".join(f" {n + ' us':>14} |" for n in names) + "".join(
        f" {n + '/nncore':>18} |" for n in ratios)
    print(head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    for label, r in rows:
        line = f"| {label:<24} |" + "".join(
            f" {r[n]:>14.1f} |" if n in r else f" {'-':>14} |" for n in names)
        line += "".join(f" {r[n] / r['nncore']:>18.2f} |" if n in r else f" {'-':>18} |"
                        for n in ratios)
        print(line)


if __name__ == "__main__":
    main()
