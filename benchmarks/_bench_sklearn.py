"""nncore.sklearn.MLPClassifier vs scikit-learn's MLPClassifier: fit time and accuracy.

    python benchmarks/compare.py sklearn [--threads 2] [--rounds 2] [--workloads digits,wide]
                                         [--markdown FILE]

Same hyperparameters for both (adam, float32 data, ``tol=0`` and ``n_iter_no_change``
past the last epoch so both run every epoch), both at ``--threads`` threads (nncore's
pool and NumPy's BLAS). Workloads: the bundled digits, 64-128-64-10, batch 32, 20
epochs; 20,000 x 784 synthetic 10-class data (scikit-learn's make_classification,
seed 0) -> (256, 128) -> 10, batch 128, 5 epochs. Accuracy on a held-out 20%
(digits) or 5,000 rows (synthetic). Optional workload ``digits_lbfgs``: digits with
``solver='lbfgs'``, 100 iterations (``tol=0``; the iteration count is checked).

Verifies before it times: on a float64 slice of each workload nncore's fit must
reproduce scikit-learn's run (loss curve and weights to rtol 1e-6). Fits are
interleaved (sklearn, nncore, sklearn, ...) and the best of ``--rounds`` is kept.

A ``compare.py`` subcommand module: ``add_arguments(parser)``, ``run(args)``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import _bench_common  # noqa: E402

WORKLOADS = {
    # name: (hidden layers, batch size, epochs or lbfgs iterations)
    "digits": ((128, 64), 32, 20),
    "wide": ((256, 128), 128, 5),
    "digits_lbfgs": ((128, 64), "auto", 100),
}
SOLVER = {"digits_lbfgs": "lbfgs"}   # others: adam


def _data(name: str):
    """(X_train, y_train, X_test, y_test), float32."""
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    import nncore
    if name.startswith("digits"):
        X, y = nncore.datasets.load_digits()
        X = X / np.float32(16.0)
        return train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    X, y = make_classification(n_samples=25_000, n_features=784, n_informative=64,
                               n_redundant=0, n_classes=10, n_clusters_per_class=2,
                               class_sep=2.0, random_state=0)
    X = X.astype(np.float32)
    return X[:20_000], X[20_000:], y[:20_000], y[20_000:]


def _params(name: str) -> dict:
    hidden, batch, epochs = WORKLOADS[name]
    return dict(hidden_layer_sizes=hidden, batch_size=batch, max_iter=epochs, tol=0.0,
                n_iter_no_change=epochs + 1, solver=SOLVER.get(name, "adam"), random_state=0)


def verify(name: str, X: np.ndarray, y: np.ndarray) -> float:
    """Largest relative difference between the two runs on a float64 slice (2 epochs)."""
    from sklearn.neural_network import MLPClassifier as SK

    from nncore.sklearn import MLPClassifier as NC
    kw = dict(_params(name), max_iter=2)
    Xs, ys = X[:600].astype(np.float64), y[:600]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = SK(**kw).fit(Xs, ys), NC(**kw).fit(Xs, ys)
    if hasattr(a, "loss_curve_"):   # the stochastic solvers
        diffs = [np.max(np.abs(np.subtract(a.loss_curve_, b.loss_curve_)) /
                        np.abs(a.loss_curve_))]
    else:                           # lbfgs: its final loss
        diffs = [abs(a.loss_ - b.loss_) / abs(a.loss_)]
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        diffs.append(np.max(np.abs(p - q)) / np.max(np.abs(p)))
    return float(max(diffs))


def measure(name: str, rounds: int) -> dict:
    """Best fit time and the test accuracy of each library on workload ``name``."""
    from sklearn.neural_network import MLPClassifier as SK

    from nncore.sklearn import MLPClassifier as NC
    Xtr, Xte, ytr, yte = _data(name)
    diff = verify(name, Xtr, ytr)
    if not diff < 1e-6:
        raise AssertionError(f"{name}: nncore's run differs from scikit-learn's by {diff:.3g}")
    kw = _params(name)
    best = {"sklearn": np.inf, "nncore": np.inf}
    acc = {}
    for _ in range(rounds):
        for lib, cls in (("sklearn", SK), ("nncore", NC)):
            est = cls(**kw)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ConvergenceWarning: every epoch is wanted
                est.fit(Xtr, ytr)
            best[lib] = min(best[lib], time.perf_counter() - t0)
            if est.n_iter_ != kw["max_iter"]:
                raise AssertionError(f"{name}: {lib} stopped after {est.n_iter_} epochs")
            acc[lib] = est.score(Xte, yte)
    hidden, batch, epochs = WORKLOADS[name]
    shape = "-".join(str(s) for s in (Xtr.shape[1], *hidden, 10))
    what = (f"lbfgs, {epochs} iterations" if name in SOLVER else
            f"adam, batch {batch}, {epochs} epochs")
    return {"workload": f"{name} {shape}, {len(Xtr)} rows, {what}",
            "sklearn_s": best["sklearn"], "nncore_s": best["nncore"],
            "speedup": best["sklearn"] / best["nncore"], "sklearn_acc": acc["sklearn"],
            "nncore_acc": acc["nncore"], "verified": diff}


def table(rows: list[dict], threads: int) -> list[str]:
    out = [f"MLPClassifier.fit, float32, {threads} threads (best of interleaved rounds)",
           "",
           "| workload | sklearn s | nncore s | speedup | sklearn acc | nncore acc |",
           "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['workload']} | {r['sklearn_s']:.3f} | {r['nncore_s']:.3f} | "
                   f"{r['speedup']:.1f}x | {r['sklearn_acc']:.4f} | {r['nncore_acc']:.4f} |")
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `compare.py sklearn`."""
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2, help="interleaved fits per library")
    p.add_argument("--workloads", default="digits,wide",
                   help=f"comma-separated, of {', '.join(WORKLOADS)}")
    p.add_argument("--markdown", metavar="FILE", help="also append the table as Markdown")


def run(args) -> int:
    """Verify, measure, print the table; 1 if a verification failed."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print('compare.py sklearn needs scikit-learn: pip install "nncore[sklearn]"')
        return 1
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in names if w not in WORKLOADS]
    if unknown:
        print(f"unknown workloads {unknown}; expected some of {list(WORKLOADS)}")
        return 1
    _bench_common.set_threads(args.threads)
    text, _ = _bench_common.header()
    print(text)
    rows = []
    for name in names:
        try:
            rows.append(measure(name, args.rounds))
        except AssertionError as e:
            print(f"VERIFY FAILED: {e}")
            return 1
        print(f"verified {name}: float64 run matches scikit-learn's "
              f"(max relative difference {rows[-1]['verified']:.1e})")
    _bench_common.emit(table(rows, args.threads), args.markdown)
    return 0
