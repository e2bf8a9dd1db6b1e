"""The ``nncore`` command line: demo, train, evaluate, predict, info, bench, export, import.

What it is for: using nncore without writing Python — train an MLP on the bundled digits
or the user's CSV/NPZ file, save it, evaluate it, predict with it, inspect a model file.
What it is not: a configuration system. Every option maps to one argument of the Python
API (``Sequential``, ``fit``, ``nncore.io``, ``nncore.datasets``).

Errors (bad arguments, missing or broken files) print ONE line on stderr and exit with
status 2; no traceback.

Preprocessing: features are standardized with statistics of the training split, and the
standardization is then folded into the first Linear layer (``W' = W / s``,
``b' = b - W' m``), so the saved model takes raw features — in Python and from C alike.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
import tempfile
import time
import warnings
from typing import Any, Sequence

import numpy as np

from . import _bench, _bench_profile, _delegates, _registry, datasets as ds, io as nio, nn, optim
from ._files import atomic_write, open_regular
from ._version import __version__
from .config import num_threads
from .plotting import MATPLOTLIB_HINT

__all__ = ["main"]

_OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad")
DEMO_MODEL = "nncore_digits.safetensors"
DEMO_PLOT = "nncore_digits_curve.png"
DEFAULT_VAL_SIZE = 0.1   # of the training part; the test set never steers training


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage block
        raise CLIError(f"{message} (see '{self.prog} --help')")


# ------------------------------------------------------------------ parsing

def _positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {s!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {s!r}")
    return v


def _nonneg_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {s!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {s!r}")
    return v


def _float_in(lo: float, hi: float, lo_open: bool = False, hi_open: bool = True):
    def conv(s: str) -> float:
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {s!r}") from None
        ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
        if not ok:
            raise argparse.ArgumentTypeError(
                f"expected a number in {'(' if lo_open else '['}{lo}, {hi}"
                f"{')' if hi_open else ']'}, got {s!r}")
        return v
    return conv


def _hidden(s: str) -> list[int]:
    if s.strip() in ("", "none"):
        return []
    try:
        sizes = [int(x) for x in s.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer sizes like 128,64, got {s!r}") from None
    if any(v <= 0 for v in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be > 0, got {s!r}")
    if any(v >= 2 ** 63 for v in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be < 2**63, got {s!r}")
    return sizes


def _target(s: str) -> int | str:
    try:
        return int(s)
    except ValueError:
        return s


def _add_threads(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="threads for the C core (default: nncore's setting)")


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", type=_target, default=None,
                   help="label column of a CSV (name or index; default: the last column)")
    p.add_argument("--no-header", action="store_true", help="the CSV has no header row")


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="nncore", description="nncore: train, evaluate and use small neural "
                "networks on the CPU.")
    p.add_argument("--version", action="version", version=f"nncore {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    d = sub.add_parser("demo", help="train an MLP on the bundled handwritten digits")
    d.add_argument("--epochs", type=_positive_int, default=30)
    d.add_argument("--out-dir", default=".", help="where to write the model and the plot")
    d.add_argument("--seed", type=_nonneg_int, default=0)
    d.add_argument("--plot", default=None, metavar="PNG",
                   help="where to write the training curves (default: OUT_DIR/%s)" % DEMO_PLOT)
    d.add_argument("--no-plot", action="store_true")
    _add_threads(d)
    d.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)

    t = sub.add_parser("train", help="train an MLP on digits, a CSV or an NPZ file")
    t.add_argument("--data", required=True,
                   help="'digits', FILE.csv, FILE.npz or FILE.npy (memory-mapped; the "
                        "targets from --target Y.npy)")
    t.add_argument("--mmap", action="store_true",
                   help="memory-map the data (always for .npy; an uncompressed .npz): read "
                        "a batch at a time; test/validation rows are the file's last ones, "
                        "features not standardized")
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel over MPI: mpiexec -n N nncore train ... (needs "
                        "nncore[mpi]); rank 0 prints and saves")
    _add_data_options(t)
    t.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                   help="auto: classification for integer labels, regression otherwise")
    t.add_argument("--hidden", type=_hidden, default=[128, 64],
                   help="hidden layer sizes, comma-separated (default 128,64)")
    t.add_argument("--activation", choices=sorted(_registry.HIDDEN_ACTIVATIONS),
                   default="relu")
    t.add_argument("--dropout", type=_float_in(0.0, 1.0), default=0.0)
    t.add_argument("--optimizer", choices=_OPTIMIZERS, default="adam")
    t.add_argument("--lr", type=_float_in(0.0, float("inf"), lo_open=True), default=1e-3)
    t.add_argument("--epochs", type=_positive_int, default=30)
    t.add_argument("--batch-size", type=_positive_int, default=32)
    t.add_argument("--weight-decay", type=_float_in(0.0, float("inf")), default=0.0)
    t.add_argument("--test-size", type=_float_in(0.0, 1.0, lo_open=True), default=0.2,
                   help="fraction held out as the test set, scored once after training")
    t.add_argument("--val-size", type=_float_in(0.0, 1.0), default=DEFAULT_VAL_SIZE,
                   help="fraction of the training part held out for the per-epoch "
                        f"validation metrics (0: none; default {DEFAULT_VAL_SIZE})")
    t.add_argument("--seed", type=_nonneg_int, default=0)
    t.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    t.add_argument("--no-standardize", action="store_true")
    t.add_argument("--out", default="model.safetensors")
    t.add_argument("--plot", default=None, help="write the training curves to this PNG")
    _add_threads(t)
    t.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)

    e = sub.add_parser("evaluate", help="loss and accuracy of a saved model on data")
    e.add_argument("model")
    e.add_argument("data", help="'digits' (the test split), FILE.csv or FILE.npz")
    _add_data_options(e)
    _add_threads(e)

    r = sub.add_parser("predict", help="predictions of a saved model, one per line")
    r.add_argument("model")
    r.add_argument("data", help="'digits', FILE.csv or FILE.npz (a label column is ignored)")
    _add_data_options(r)
    r.add_argument("--out", default=None, help="write predictions to this CSV (default stdout)")
    _add_threads(r)

    i = sub.add_parser("info", help="architecture, parameter count and version of a model file")
    i.add_argument("model")

    b = sub.add_parser("bench", help="benchmark nncore against the other libraries installed")
    b.add_argument("args", nargs=argparse.REMAINDER,
                   help="passed to the benchmark: train, infer, memory, or --profile ARCH")

    x = sub.add_parser("export", help="write a model file as ONNX (needs nncore[onnx])")
    x.add_argument("model", help="an nncore model file (.safetensors)")
    x.add_argument("--to", required=True, metavar="ONNX", help="the ONNX file to write")
    x.add_argument("--opset", type=_positive_int, default=17, help="ai.onnx opset (default 17)")

    m = sub.add_parser("import", help="read an MLP from an ONNX file into a model file "
                       "(needs nncore[onnx])")
    m.add_argument("onnx", metavar="ONNX", help="the ONNX file (PyTorch, skl2onnx, nncore)")
    m.add_argument("--out", required=True, help="the nncore model file to write (.safetensors)")
    m.add_argument("--dtype", choices=("float32", "float64"), default=None,
                   help="the model's dtype (default: the ONNX input's)")
    return p


# --------------------------------------------------------------------- data

def _load_xy(spec: str, target: Any, header: bool, dtype: str, split: dict | None = None,
             need_y: bool = True, n_features: int | None = None):
    """X, y (y None when absent) from 'digits', a CSV or an NPZ file."""
    if spec == "digits":
        if split is not None:
            _, X, _, y = ds.load_digits_split(test_size=split.get("test_size", 0.2),
                                              seed=split.get("seed", 0), dtype=dtype)
            return X, y
        return ds.load_digits(dtype=dtype)
    ext = os.path.splitext(spec)[1].lower()
    if not os.path.exists(spec):
        raise CLIError(f"no such data file: {spec}")
    if ext == ".csv":
        if n_features is not None and not need_y:
            # predict: one column more than the model's inputs is the label column
            # (--target, the column trained on, else the last; it may hold text)
            if _csv_columns(spec) == n_features + 1:
                X, y = ds.load_csv(spec, target=-1 if target is None else target,
                                   header=header, dtype=dtype)
                return X, y
            X, _ = ds.load_csv(spec, target=None, header=header, dtype=dtype)
            return X, None
        X, y, names = ds.load_csv(spec, target=-1 if target is None else target,
                                  header=header, dtype=dtype, return_classes=True)
        if names is not None:   # text labels: back to the names, mapped by the caller
            y = np.array(names, dtype=object)[y]
        return X, y
    if ext == ".npz":
        X, y = ds.load_npz(spec, y_key=target if isinstance(target, str) else None, dtype=dtype)
        if need_y and y is None:
            raise CLIError(f"{spec}: no target array (expected y, labels or target)")
        return X, y
    raise CLIError(f"unknown data {spec!r}: expected 'digits', a .csv or a .npz file")


def _csv_columns(path: str) -> int | None:
    """Fields in the first non-empty row of a CSV file; None when unreadable (then
    ``load_csv`` says why)."""
    try:
        with open_regular(path, "r", newline="", encoding="utf-8-sig") as f:
            return next((len(r) for r in csv.reader(f) if r and any(c.strip() for c in r)),
                        None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def _load_mapped(spec: str, target: Any, dtype: str):
    """X memory-mapped (``open_npy`` / ``open_npz``), y read into memory: --mmap data."""
    ext = os.path.splitext(spec)[1].lower()
    if not os.path.exists(spec):
        raise CLIError(f"no such data file: {spec}")
    if ext == ".npy":
        if not (isinstance(target, str) and target.lower().endswith(".npy")):
            raise CLIError(f"{spec}: a .npy file holds X only; give the targets as "
                           f"--target Y.npy")
        X, y = ds.open_npy(spec), np.asarray(ds.open_npy(target))
    elif ext == ".npz":
        try:
            arrays = ds.open_npz(spec)
        except ValueError as e:   # compressed, or a member at an unaligned offset
            raise CLIError(f"{e}; without --mmap, nncore train reads the .npz into "
                           "memory") from None
        xk = next((k for k in ds._X_KEYS if k in arrays), None)
        yk = target if isinstance(target, str) else next(
            (k for k in ds._Y_KEYS if k in arrays), None)
        if xk is None or yk not in arrays:
            raise CLIError(f"{spec}: expected arrays X and "
                           f"{repr(yk) if isinstance(target, str) else 'y (or --target NAME)'}"
                           f", found {sorted(arrays)}")
        X, y = arrays[xk], np.asarray(arrays[yk])
    else:
        raise CLIError(f"--mmap needs a .npy or .npz file, got {spec!r}")
    if X.ndim != 2 or y.ndim not in (1, 2) or len(y) != len(X):
        raise CLIError(f"{spec}: X must be (samples, features) and y (samples,) or "
                       f"(samples, k); got {X.shape} and {y.shape}")
    if X.dtype != np.dtype(dtype):
        print(f"note: {spec} holds {X.dtype}, the model is {dtype}: the data is cast (copied "
              f"into memory) once; pass --dtype {X.dtype} to read it in place")
    if y.dtype.kind in "iub":
        y = y.astype(np.int64)
    return X, y


def _fold_scaler(model, scaler) -> None:
    """Make the model take raw features: fold (x - mean) / scale into the first Linear."""
    name, w = model.named_parameters()[0]
    if not name.endswith(".weight"):
        raise CLIError("cannot fold standardization: the first layer is not Linear")
    W = w.data.astype(np.float64)
    Wf = W / scaler.scale_[None, :]
    w.data[...] = Wf
    params = dict(model.named_parameters())
    bname = name[: -len("weight")] + "bias"
    if bname in params:
        b = params[bname]
        b.data[...] = b.data.astype(np.float64) - Wf @ scaler.mean_
    elif np.any(scaler.mean_ != 0):
        raise CLIError("cannot fold standardization into a Linear layer without bias")


def _model_meta(path: str) -> dict:
    meta = nio.load_metadata(path)
    out = {}
    for k in ("task", "classes", "split", "data", "target"):
        if k in meta:
            try:
                out[k] = json.loads(meta[k])
            except ValueError:
                out[k] = meta[k]
    return out


def _labels_to_index(y: np.ndarray, classes: list | None) -> np.ndarray:
    if classes is None:
        return y
    if y.dtype != object:   # numeric labels in the file, class names may be numbers
        y = y.astype(object)
    index = {c: i for i, c in enumerate(classes)}
    try:
        return np.array([index[v] for v in y.tolist()], dtype=np.int64)
    except KeyError as e:
        raise CLIError(f"label {e.args[0]!r} is not one of the model's classes {classes}") \
            from None


# ----------------------------------------------------------------- commands

def _train(X, y, *, task, hidden, activation, dropout, optimizer, lr, epochs, batch_size,
           weight_decay, test_size, val_size, seed, dtype, standardize, verbose, out, plot,
           data_name, target, split_for_digits=None, mapped=False, distributed=False) -> dict:
    if y is None:
        raise CLIError("the data has no target column")
    if task == "auto":
        task = ("classification" if y.ndim == 1 and (y.dtype == np.int64 or y.dtype == object)
                else "regression")
    if y.dtype == object and task != "classification":
        raise CLIError("text labels need --task classification")
    classes = None
    if task == "classification":
        if y.ndim != 1:
            raise CLIError(f"classification needs one label column, got targets of shape "
                           f"{y.shape}")
        uniq = np.unique(y)
        if uniq.size < 2:
            raise CLIError(f"classification needs at least 2 classes, found {uniq.tolist()}")
        if y.dtype != np.int64 or not np.array_equal(uniq, np.arange(uniq.size)):
            classes = uniq.tolist()
            y = _labels_to_index(y, classes)
        y = y.astype(np.int64)
        n_out = int(uniq.size)
        loss = "cross_entropy"
    else:
        y = y.astype(dtype)
        n_out = 1 if y.ndim == 1 else y.shape[1]
        loss = "mse"

    def split(X, y, size, what):   # mapped data: views of the file, by position
        return (_split_tail(X, y, size, what) if mapped
                else _split(X, y, size, seed, task, what))

    standardize = standardize and not mapped   # a scaled copy would load the file
    Xtr, Xte, ytr, yte = split(X, y, test_size, "test")
    # the validation rows (the epoch lines' val_ metrics) come out of the training
    # part; the test rows are scored once, after training
    Xval = yval = None
    if val_size > 0:
        Xtr, Xval, ytr, yval = split(Xtr, ytr, val_size, "validation")
    print(f"data: {len(ytr)} training, {0 if yval is None else len(yval)} validation, "
          f"{len(yte)} test samples")
    scaler = ds.StandardScaler().fit(Xtr) if standardize else None
    Ztr = scaler.transform(Xtr) if scaler else Xtr
    val_data = None
    if Xval is not None:
        val_data = (scaler.transform(Xval) if scaler else Xval, yval)

    layers: list = []
    width = X.shape[1]
    for h in hidden:
        layers.append(nn.Linear(width, h))
        layers.append(nn.activation(activation))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, n_out))
    model = nn.Sequential(*layers, dtype=dtype, seed=seed)
    opt = optim.get(optimizer, model.parameters(), lr=lr, weight_decay=weight_decay)

    t0 = time.perf_counter()
    history = model.fit(Ztr, ytr, loss=loss, optimizer=opt, epochs=epochs,
                        batch_size=batch_size, validation_data=val_data, verbose=verbose,
                        distributed=distributed)
    seconds = time.perf_counter() - t0
    if scaler is not None:
        _fold_scaler(model, scaler)
    result = model.evaluate(Xte, yte, loss=loss)   # the saved model, on raw features

    meta = {"task": json.dumps(task), "data": json.dumps(data_name),
            "target": json.dumps(target)}
    if classes is not None:
        meta["classes"] = json.dumps(classes)
    if split_for_digits is not None:
        meta["split"] = json.dumps(split_for_digits)
    plot_msg = None
    if out is None:   # a distributed rank but 0: rank 0 saves
        return {"result": result, "seconds": seconds, "n_test": len(yte), "task": task,
                "plot": None, "model": model}
    out = _check_out_dir(out, "the model")
    nio.save(model, out, metadata=meta)
    if plot:
        try:
            history.plot(plot)
            plot_msg = f"saved training curves to {os.path.abspath(plot)}"
        except ImportError as e:
            plot_msg = f"no plot: {e}"
    return {"result": result, "seconds": seconds, "n_test": len(yte), "task": task,
            "plot": plot_msg, "model": model}


def _split(X, y, size: float, seed: int, task: str, what: str):
    """X_keep, X_out, y_keep, y_out: `size` of the rows held out, by class for
    classification, reproducibly from `seed`."""
    strat = y if task == "classification" else None
    try:
        return ds.train_test_split(X, y, test_size=size, seed=seed, stratify=strat)
    except ValueError as e:
        raise CLIError(f"cannot hold out a {what} set of {size:g} of {len(y)} samples"
                       f"{' by class' if strat is not None else ''} ({e})") from None


def _split_tail(X, y, size: float, what: str):
    """X_keep, X_out, y_keep, y_out: the LAST `size` of the rows held out (views)."""
    n = len(y)
    k = int(round(size * n))
    if not 0 < k < n:
        raise CLIError(f"cannot hold out a {what} set of {size:g} of {n} samples")
    return X[:n - k], X[n - k:], y[:n - k], y[n - k:]


def _report(res: dict, out: str) -> None:
    r = res["result"]
    if "accuracy" in r:
        print(f"test accuracy: {100 * r['accuracy']:.2f}%  (loss {r['loss']:.4f}, "
              f"{res['n_test']} held-out samples)")
    else:
        print(f"test loss (mse): {r['loss']:.6g}  ({res['n_test']} held-out samples)")
    print(f"training time: {res['seconds']:.2f} s")
    print(f"saved model to {os.path.abspath(out)}")
    if res["plot"]:
        print(res["plot"])


def _cmd_demo(a) -> int:
    out_dir = a.out_dir
    if not os.path.isdir(out_dir):
        raise CLIError(f"--out-dir {out_dir!r} is not a directory")
    X, y = ds.load_digits()
    out = os.path.join(out_dir, DEMO_MODEL)
    if a.plot is not None and a.no_plot:
        raise CLIError("--plot and --no-plot exclude each other")
    out = _check_out_dir(out, "the model")
    if a.plot is not None:
        a.plot = _check_out_dir(a.plot, "the plot")
    plot = None
    if not a.no_plot:
        try:
            import matplotlib  # noqa: F401
            plot = a.plot if a.plot is not None else os.path.join(out_dir, DEMO_PLOT)
        except ImportError:
            plot = None
    if plot is not None and a.plot is None:   # the default plot path (--plot: checked)
        plot = _check_out_dir(plot, "the plot")
    print(f"nncore demo: 64-128-64-10 MLP on the UCI handwritten digits "
          f"({len(y)} images of 8x8 pixels, 10 classes), {a.epochs} epochs")
    res = _train(X, y, task="classification", hidden=[128, 64], activation="relu",
                 dropout=0.1, optimizer="adam", lr=1e-3, epochs=a.epochs, batch_size=32,
                 weight_decay=0.0, test_size=0.2, val_size=DEFAULT_VAL_SIZE, seed=a.seed,
                 dtype="float32",
                 standardize=True, verbose=a.verbose, out=out, plot=plot, data_name="digits",
                 target=None, split_for_digits={"test_size": 0.2, "seed": a.seed})
    _report(res, out)
    if plot is None and not a.no_plot:
        print(f"no plot: {MATPLOTLIB_HINT}")
    print(f"try: nncore info {out}   |   nncore evaluate {out} digits")
    return 0


def _check_out_dir(path: str, what: str) -> str:
    """`path`, or fail before any work when `what` cannot be written there: no such
    directory, one that takes no new file, a directory, or an existing file that is not
    a regular file. The saves (atomic_write) refuse the last two as well and write
    through a symlink; this only says so before training."""
    if os.path.isdir(path):
        raise CLIError(f"cannot save {what}: {path} is a directory (expected a file name)")
    if os.path.exists(path) and not os.path.isfile(path):   # also /dev/stdout, a link
        raise CLIError(f"cannot save {what}: {path} is not a regular file (a device, FIFO "
                       f"or socket); expected a file name")
    # where the temporary file goes: the directory of the file a symlink names
    out_dir = os.path.dirname(os.path.realpath(path))
    if not os.path.isdir(out_dir):
        raise CLIError(f"cannot save {what}: no directory {out_dir}")
    try:   # the temp file a save renames into place: can it be made there at all?
        fd, probe = tempfile.mkstemp(prefix=".nncore-", suffix=".probe", dir=out_dir)
    except OSError as e:   # read-only or virtual file systems, permissions
        raise CLIError(f"cannot save {what}: cannot create a file in {out_dir} "
                       f"({e.strerror or e})") from None
    os.close(fd)
    os.unlink(probe)
    return path


def _check_target_option(a) -> None:
    if a.data == "digits" and a.target is not None:
        raise CLIError("--target names a column of a CSV/NPZ file; the bundled digits "
                       "data has its own labels (drop --target)")
    if a.data.lower().endswith(".npz") and isinstance(a.target, int):
        a.target = str(a.target)   # an .npz names its arrays: '3' is a name, not an index


def _cmd_train(a) -> int:
    _check_target_option(a)
    a.out = _check_out_dir(a.out, "the model")
    if a.plot:
        a.plot = _check_out_dir(a.plot, "the plot")
    rank = _delegates.communicator().rank if a.distributed else 0   # ImportError: the extra
    mapped = a.mmap or a.data.lower().endswith(".npy")
    with contextlib.ExitStack() as quiet:
        if rank:   # rank 0 prints and saves
            quiet.enter_context(contextlib.redirect_stdout(
                quiet.enter_context(open(os.devnull, "w"))))
        if mapped:
            X, y = _load_mapped(a.data, a.target, a.dtype)
        else:
            X, y = _load_xy(a.data, a.target, not a.no_header, a.dtype)
        split = {"test_size": a.test_size, "seed": a.seed} if a.data == "digits" else None
        res = _train(X, y, task=a.task, hidden=a.hidden, activation=a.activation,
                     dropout=a.dropout, optimizer=a.optimizer, lr=a.lr, epochs=a.epochs,
                     batch_size=a.batch_size, weight_decay=a.weight_decay,
                     test_size=a.test_size, val_size=a.val_size,
                     seed=a.seed, dtype=a.dtype, standardize=not a.no_standardize,
                     verbose=a.verbose if rank == 0 else 0, out=None if rank else a.out,
                     plot=None if rank else a.plot, data_name=a.data, target=a.target,
                     split_for_digits=split, mapped=mapped, distributed=a.distributed)
        if not rank:
            _report(res, a.out)
    return 0


def _load_model(path: str):
    if not os.path.exists(path):
        raise CLIError(f"no such model file: {path}")
    return nio.load(path), _model_meta(path)


def _check_meta(meta: dict, model, path: str) -> None:
    """The metadata evaluate and predict use is what `nncore train` writes, or one line
    naming the key (the file may have been edited or come from elsewhere)."""
    def shown(v: Any) -> str:
        r = repr(v)
        return r if len(r) <= 60 else r[:57] + "..."

    def scalar(v: Any) -> bool:
        return isinstance(v, (str, int, float))   # bool is an int: labels may be bools

    task = meta.get("task")
    if task is not None and task not in ("classification", "regression"):
        raise CLIError(f"{path}: metadata 'task' must be 'classification' or 'regression', "
                       f"got {shown(task)}")
    classes = meta.get("classes")
    if classes is not None:
        n = model.out_features
        if not (isinstance(classes, list) and len(classes) == n
                and all(scalar(c) for c in classes)):
            raise CLIError(f"{path}: metadata 'classes' must be a list of {n} names (one "
                           f"per output), got {shown(classes)}")
        if len(set(classes)) != n:
            raise CLIError(f"{path}: metadata 'classes' must be distinct, got "
                           f"{shown(classes)}")
    split = meta.get("split")
    if split is not None and not (
            isinstance(split, dict)
            and isinstance(split.get("test_size"), (int, float))
            and not isinstance(split.get("test_size"), bool)
            and isinstance(split.get("seed"), int) and not isinstance(split.get("seed"), bool)):
        raise CLIError(f"{path}: metadata 'split' must be {{\"test_size\": number, \"seed\": "
                       f"integer}}, got {shown(split)}")


def _cmd_evaluate(a) -> int:
    _check_target_option(a)
    model, meta = _load_model(a.model)
    _check_meta(meta, model, a.model)
    X, y = _load_xy(a.data, _default_target(a, meta), not a.no_header, model.dtype.name, split=meta.get("split"))
    _check_features(X, model, a.data)
    if y is None:
        raise CLIError(f"{a.data}: no target values to evaluate against")
    task = meta.get("task") or ("classification" if y.dtype in (np.int64, object)
                                and y.ndim == 1 and model.out_features > 1 else "regression")
    if task == "classification":
        if y.dtype == object and meta.get("classes") is None:
            raise CLIError(f"{a.data}: text labels, but the model has no class names")
        y = _labels_to_index(y, meta.get("classes"))
        if y.ndim != 1 or (len(y) and (y.min() < 0 or y.max() >= model.out_features)):
            raise CLIError(f"labels must be integers in [0, {model.out_features}) for this "
                           "model")
        r = model.evaluate(X, y, loss="cross_entropy")
        print(f"accuracy: {100 * r['accuracy']:.2f}%")
        print(f"loss (cross-entropy): {r['loss']:.6g}")
    else:
        r = model.evaluate(X, y.astype(model.dtype), loss="mse")
        print(f"loss (mse): {r['loss']:.6g}")
    print(f"samples: {len(X)}")
    return 0


def _default_target(a, meta: dict) -> Any:
    """--target, else the column the model was trained on (stored in the file)."""
    if a.target is not None:
        return a.target
    t = meta.get("target")
    return t if isinstance(t, (int, str)) and not isinstance(t, bool) else None


def _check_features(X: np.ndarray, model, data: str) -> None:
    if X.shape[1] != model.in_features:
        raise CLIError(f"{data}: {X.shape[1]} feature columns, the model expects "
                       f"{model.in_features}")


def _cmd_predict(a) -> int:
    _check_target_option(a)
    if a.out:
        a.out = _check_out_dir(a.out, "the predictions")
    model, meta = _load_model(a.model)
    _check_meta(meta, model, a.model)
    X, _ = _load_xy(a.data, _default_target(a, meta), not a.no_header, model.dtype.name,
                    split=meta.get("split"), need_y=False, n_features=model.in_features)
    _check_features(X, model, a.data)
    out = model.predict(X)
    task = meta.get("task") or ("classification" if model.out_features > 1 else "regression")
    if task == "classification":
        idx = model.predict_classes(X) if hasattr(model, "predict_classes") else out.argmax(1)
        classes = meta.get("classes")
        lines = [_csv_field(str(classes[i])) if classes else str(int(i)) for i in idx]
        head = "class"
    else:
        # digits enough to read back the same value: 9 for float32, shortest repr for float64
        fmt = (lambda v: f"{v:.9g}") if out.dtype == np.float32 else (lambda v: repr(float(v)))
        lines = [",".join(fmt(v) for v in row) for row in out]
        head = "prediction" if out.shape[1] == 1 else ",".join(
            f"prediction{j}" for j in range(out.shape[1]))
    text = "\n".join(lines) + ("\n" if lines else "")
    if a.out:
        atomic_write(a.out, [(head + "\n" + text).encode()])
        print(f"wrote {len(lines)} predictions to {a.out}")
    else:
        sys.stdout.write(text)
    return 0


def _csv_field(s: str) -> str:
    """`s` as one CSV field: quoted (quotes doubled) when it holds a comma, quote or
    line break, as the csv module writes it."""
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\r\n') else s


def _cmd_info(a) -> int:
    model, meta = _load_model(a.model)
    raw = nio.load_metadata(a.model)
    print(f"file: {a.model} ({os.path.getsize(a.model):,} bytes, safetensors)")
    print(f"saved by: nncore {raw.get('nncore_version', '?')}")
    if "task" in meta:
        extra = f", classes {meta['classes']}" if "classes" in meta else ""
        print(f"task: {meta['task']}{extra}")
    if "data" in meta:
        print(f"trained on: {meta['data']}")
    print(f"inputs: {model.in_features}, outputs: {model.out_features}, "
          f"parameters: {model.num_parameters:,}")
    print(f"dtype: {model.dtype}, compute_dtype: {model.compute_dtype}")
    model.summary()
    return 0


def _cmd_bench(a) -> int:
    try:
        if a.args[:1] and a.args[0].split("=")[0] == "--profile":
            return int(_bench_profile.main(a.args) or 0)
        return int(_bench.main(a.args) or 0)
    except SystemExit as e:  # argument errors and failed verifications: one line
        if isinstance(e.code, str):
            raise CLIError(e.code) from None
        raise


def _cmd_export(a) -> int:
    nxo = _delegates.onnx_module()   # ImportError naming the extra when it is missing
    model, _ = _load_model(a.model)
    a.to = _check_out_dir(a.to, "the ONNX file")
    nxo.export(model, a.to, opset=a.opset)
    print(f"wrote {a.to}: ONNX opset {a.opset}, input (batch, {model.in_features}) -> "
          f"output (batch, {model.out_features}), {model.dtype}")
    return 0


def _cmd_import(a) -> int:
    nxo = _delegates.onnx_module()
    if not os.path.exists(a.onnx):
        raise CLIError(f"no such ONNX file: {a.onnx}")
    a.out = _check_out_dir(a.out, "the model")
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always", nxo.PostProcessingDropped)
        model = nxo.load(a.onnx, a.dtype)
    for w in notes:
        print(f"nncore: note: {w.message}", file=sys.stderr)
    model.save(a.out)
    print(f"wrote {a.out}: {len(model.layers)} layers, input (batch, {model.in_features}) -> "
          f"output (batch, {model.out_features}), {model.num_parameters:,} parameters, "
          f"{model.dtype}")
    return 0


_COMMANDS = {"demo": _cmd_demo, "train": _cmd_train, "evaluate": _cmd_evaluate,
             "predict": _cmd_predict, "info": _cmd_info, "bench": _cmd_bench,
             "export": _cmd_export, "import": _cmd_import}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``nncore`` command line; returns the exit status (0 ok, 2 on errors)."""
    parser = _build_parser()
    try:
        args = list(sys.argv[1:] if argv is None else argv)
        if args[:1] == ["bench"] and args[1:2] not in (["-h"], ["--help"]):
            # everything after 'bench' belongs to the benchmark's own options
            return _cmd_bench(argparse.Namespace(args=args[1:]))
        a = parser.parse_args(args)
        if a.command is None:
            parser.print_help()
            return 2
        if getattr(a, "threads", None) is not None:
            with num_threads(a.threads):
                return _COMMANDS[a.command](a)
        return _COMMANDS[a.command](a)
    except SystemExit as e:          # --version / --help
        return e.code if isinstance(e.code, int) else 0
    except KeyboardInterrupt:
        print("nncore: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:          # e.g. `nncore predict ... | head`: stop quietly
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    except (CLIError, ValueError, TypeError, OSError, ImportError, NotImplementedError,
            MemoryError, OverflowError) as e:   # MemoryError: the core names the size
        msg = " ".join(str(e).split()) or type(e).__name__
        if isinstance(e, OSError) and e.filename and str(e.filename) not in msg:
            msg = f"{e.filename}: {msg}"
        print(f"nncore: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
