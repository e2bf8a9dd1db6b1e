"""The fit loop: ``fit`` and ``evaluate`` (Keras-style), built on ``Sequential.train_step``.

What it is: input validation (before any training happens), batching, shuffling,
validation, callbacks, history, progress bar, Ctrl-C handling and checkpoints.
Each batch is ONE call into C (``model.train_step``: forward + loss + backward
+ clipping + optimizer update, GIL released). ``model.fit`` / ``model.evaluate``
are these functions (the methods delegate here).
What it is not: the network, losses or optimizers (``nncore.nn``,
``nncore.losses``, ``nncore.optim``), nor inference (``Sequential.predict``).

What it uses of the model is its documented interface: ``train_step_prepared``
(``train_step`` without its per-call checks: fit checks the whole data set once),
``prepare_inputs``, ``predict_into``, ``parameters``, ``grad_norms``,
``last_grad_norm``, ``loss``, ``epochs_trained``, ``stop_training``, ``seed``,
``dtype``, ``out_features``.

Reproducibility: epoch ``e`` (counted over every ``fit`` call on the model,
see ``model.epochs_trained``) is shuffled with
``np.random.default_rng([model.seed, e]).permutation(n_train)``, so the same
seed gives bit-identical weights after ``fit`` at any thread count, ``fit(5)``
then ``fit(5)`` equals ``fit(10)`` (same optimizer object), and resuming from
a checkpoint continues exactly.

Cost: ``fit`` adds little to its ``train_step`` calls. It never copies the whole
training set (each batch's rows are gathered into one reused buffer, so a
read-only ``np.memmap`` X is read a batch at a time) and runs no extra forward
pass over it: the training loss and accuracy of an epoch come from the outputs
the steps computed (see ``fit``'s Notes).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from typing import Any, Iterable

import numpy as np

from . import _core, _rows, losses, optim
from ._targets import check_sample_weight
from ._validate import is_int
from .callbacks import Callback, LearningRateScheduler, _overrides
from .history import History
from .io import load_checkpoint, read_header, save_checkpoint
from .nn import Sequential
from .progress import ProgressBar, format_logs

__all__ = ["fit", "evaluate"]

_SGD_DEFAULT_LR = 0.01  # "sgd" by name: SGD has no default lr (Keras uses 0.01)
_EVAL_BATCH = 1024      # rows per forward call of the validation pass
_ACC_BLOCK = 4096       # about how many rows of step outputs are scored at once


# ------------------------------------------------------------------ helpers

def _get_loss(loss: Any) -> losses.Loss:
    if loss is None:
        raise TypeError("fit() needs a loss: a name ('mse', 'cross_entropy', 'bce', 'l1', "
                        "'huber') or a loss object from nncore.losses")
    return losses.get(loss)  # its ValueError/TypeError already names the choices


def _get_optimizer(model: Sequential, optimizer: Any) -> Any:
    if isinstance(optimizer, str):
        kw = {"lr": _SGD_DEFAULT_LR} if optimizer.strip().lower() == "sgd" else {}
        return optim.get(optimizer, model.parameters(), **kw)  # names the choices
    if not hasattr(optimizer, "param_groups") or not hasattr(optimizer, "step"):
        raise TypeError("optimizer must be a name ('adam', 'sgd', 'adamw', 'rmsprop', "
                        "'adagrad') or an nncore.optim.Optimizer, got "
                        f"{type(optimizer).__name__}")
    owner = getattr(optimizer, "model", None)
    if owner is not model:
        raise ValueError("the optimizer was built on another model's parameters; build it "
                         "with this model's: optim.Adam(model.parameters(), ...)")
    return optimizer


def _check_model(model: Any) -> None:
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be an nncore.nn.Sequential, got {type(model).__name__}")


def _as_xy(model: Sequential, X: Any, y: Any, loss_fn: losses.Loss, xname: str = "X",
           yname: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """X checked by the model, y by the loss (the check every entry point shares)."""
    X = model.prepare_inputs(X, xname)
    if not isinstance(y, np.ndarray):
        try:
            y = np.asarray(y)
        except Exception as e:  # ragged lists and the like
            raise TypeError(f"{yname} must be array-like, got {type(y).__name__}") from e
    if y.ndim and len(y) != len(X):
        raise ValueError(f"{xname} and {yname} have different lengths: {len(X)} samples vs "
                         f"{len(y)} targets")
    return X, loss_fn.check_target(y, (len(X), model.out_features), model.dtype, yname)


def _metric_names(metrics: Any, kind: str) -> list[str]:
    if metrics is None:
        return ["accuracy"] if kind in ("ce", "bce") else []
    if isinstance(metrics, str):
        metrics = [metrics]
    out = []
    for m in metrics:
        if m in ("accuracy", "acc"):
            if kind == "regression":
                raise ValueError("metric 'accuracy' needs a classification loss "
                                 "(cross_entropy or bce)")
            out.append("accuracy")
        else:
            raise ValueError(f"unknown metric {m!r}; available: 'accuracy'")
    return out


def _row_right(out: np.ndarray, y: np.ndarray, kind: str) -> np.ndarray:
    """Per row (float64), the fraction of its predictions that are right: argmax for
    cross-entropy (labels or probabilities: 0 or 1), sign for BCE (over its outputs)."""
    if kind == "ce":
        pred = out.argmax(axis=1)
        truth = y if y.ndim == 1 else y.argmax(axis=1)
        return (pred == truth).astype(np.float64)
    return ((out > 0) == (y > 0.5)).reshape(len(out), -1).mean(axis=1)


def _accuracy(out: np.ndarray, y: np.ndarray, kind: str, w: np.ndarray | None = None) -> float:
    """Fraction right (see _row_right), rows weighted by w (n,) when given."""
    if len(out) == 0:
        return float("nan")
    right = _row_right(out, y, kind)
    if w is None:
        return float(right.sum()) / len(out)
    return float(np.dot(right, w.astype(np.float64)) / w.astype(np.float64).sum())


def _class_of_row(Y: np.ndarray, kind: str) -> np.ndarray:
    """The class index of each row of checked targets: labels, argmax of probability
    rows, or 0/1 of a single BCE output."""
    if kind == "ce":
        return Y if Y.ndim == 1 else Y.argmax(axis=1)
    if kind == "bce" and Y.shape[1] == 1:
        return (Y[:, 0] > 0.5).astype(np.int64)
    raise ValueError("class_weight needs single-label classification: cross-entropy, or BCE "
                     "with one output")


def _row_weights(model: Sequential, Y: np.ndarray, kind: str, sample_weight: Any,
                 class_weight: Any, what: str = "sample_weight") -> np.ndarray | None:
    """sample_weight (n,) times the class weights of the rows' classes, or None.

    class_weight: None, a dict {class index: weight} (others weigh 1) or 'balanced'
    (class c weighs n / (n_classes_present * count(c)), as scikit-learn defines it)."""
    w = check_sample_weight(sample_weight, len(Y), model.dtype, what)
    if class_weight is None:
        return w
    cls = _class_of_row(Y, kind)
    n_classes = model.out_features if kind == "ce" else 2
    if isinstance(class_weight, str) and class_weight == "balanced":
        counts = np.bincount(cls, minlength=n_classes).astype(np.float64)
        present = counts > 0
        per = np.ones(n_classes)
        per[present] = len(cls) / (present.sum() * counts[present])
    elif isinstance(class_weight, dict):
        per = np.ones(n_classes)
        for k, v in class_weight.items():
            if not is_int(k) or not 0 <= k < n_classes:
                raise ValueError(f"class_weight keys must be class indices in [0, {n_classes}), "
                                 f"got {k!r}")
            per[int(k)] = v
        if not (np.isfinite(per).all() and (per >= 0).all()):
            raise ValueError(f"class_weight values must be finite and >= 0, got {class_weight}")
    else:
        raise ValueError(f"class_weight must be None, 'balanced' or a dict {{class: weight}}, "
                         f"got {class_weight!r}")
    cw = per[cls].astype(model.dtype)
    return check_sample_weight(cw if w is None else w * cw, len(Y), model.dtype,
                               "sample_weight * class_weight")


def _check_positive(name: str, v: Any, allow_none: bool = True) -> float | None:
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
            or not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be None or a finite number > 0, got {v!r}")
    return float(v)


def _layer_norms(grad_norms: dict[str, float]) -> dict[str, float]:
    """Per-parameter norms -> per-layer: sqrt(sum of squares) over "i.weight", "i.bias"."""
    acc: dict[str, float] = {}
    for name, v in grad_norms.items():
        layer = name.split(".", 1)[0]
        acc[layer] = acc.get(layer, 0.0) + float(v) * float(v)
    return {f"grad_norm/{k}": math.sqrt(v) for k, v in acc.items()}


# ------------------------------------------------------------------- fit

def fit(model: Sequential, X: Any, y: Any, loss: Any = None, optimizer: Any = "adam",
        epochs: int = 1, batch_size: int = 32, shuffle: bool = True,
        validation_split: float = 0.0, validation_data: tuple | None = None,
        callbacks: Iterable[Callback] | None = None, verbose: int = 1,
        clip_norm: float | None = None, clip_value: float | None = None, metrics: Any = None,
        checkpoint: str | os.PathLike | None = None, resume: str | os.PathLike | None = None,
        include_penalty: bool = False, sample_weight: Any = None,
        class_weight: Any = None, distributed: Any = None) -> History:
    """Train ``model`` on ``(X, y)`` with minibatches; returns the :class:`History`.

    ``model.fit(X, y, ...)`` is this function.

    Parameters
    ----------
    model : nncore.nn.Sequential
    X : array (n, in_features)
        Inputs (cast once to the model's dtype). An array already of the model's
        dtype and C-contiguous, e.g. a read-only ``np.memmap``, is used in place
        and read a batch at a time (never loaded or copied whole); so is any object
        with ``__len__`` and ``__getitem__`` on int64 index arrays and no
        ``__array__`` (each batch it returns cast to the model's dtype).
    y : array
        Targets: ``(n,)`` integer labels or ``(n, classes)`` probabilities for
        cross-entropy; ``(n, out)`` (or ``(n,)`` with one output) for the others.
    loss : str or loss object
        ``"mse"``, ``"l1"``, ``"huber"``, ``"bce"``, ``"cross_entropy"`` or an
        ``nncore.losses`` object.
    optimizer : str or Optimizer
        A name (``"adam"``, ``"sgd"`` (lr 0.01), ``"adamw"``, ``"rmsprop"``,
        ``"adagrad"``; their default settings) or an ``nncore.optim`` optimizer
        built on THIS model's parameters. Pass an object to keep its state
        across ``fit`` calls or to use an lr scheduler.
    epochs : int
        Epochs to run (>= 0). With ``resume``, the total wanted: training
        continues from the checkpoint's epoch up to ``epochs``.
    batch_size : int
        Samples per step (> 0); the last batch of an epoch may be smaller.
    shuffle : bool
        Shuffle the training samples every epoch (seeded, see module doc).
    validation_split : float in [0, 1)
        Hold out the LAST fraction of ``X, y`` (before shuffling, as in Keras).
    validation_data : (X_val, y_val), optional
        Overrides ``validation_split``.
    callbacks : list of Callback
    verbose : {0, 1, 2}
        0 silent, 1 a progress bar per epoch on stderr, 2 one line per epoch.
    clip_norm, clip_value : float, optional
        Clip the global gradient norm / every gradient element (fused in C).
    metrics : list of str, optional
        ``["accuracy"]``; default: accuracy for classification losses.
    checkpoint : path, optional
        Save a training checkpoint (model, optimizer state, epoch, dropout
        step) there after every epoch (atomically); a file in an existing
        directory, checked before any step.
    resume : path, optional
        Load such a checkpoint first and continue exactly where it ended.
    include_penalty : bool
        Report the training ``loss`` with the optimizer's L1/L2 term added
        (``optimizer.penalty()`` at each batch's pre-update weights); the
        epoch mean of that term is logged as ``penalty``. Validation loss
        stays the data loss. Training itself is the same either way.
    sample_weight : array (n,), optional
        Row weights of the loss, computed in C: each batch's loss is
        ``sum_i w_i l_i / sum_i w_i`` (weight 2 counts a row twice, 0 drops it; a batch
        whose rows all weigh 0 is skipped). Split with ``validation_split`` like X;
        ``validation_data`` may carry its own as a third element. Finite, >= 0, and
        not all 0 (nor all 0 on either side of ``validation_split``).
    class_weight : dict or 'balanced', optional
        Multiplies each row's weight by its class's (classification with
        cross-entropy, or BCE with one output): ``{class index: weight}`` (others 1)
        or ``'balanced'`` (``n / (n_classes * count(class))`` over the training rows).
    distributed : bool or communicator, optional
        Data-parallel training over MPI: ``model.fit(..., distributed=True)`` (which
        passes the :class:`nncore.distributed.Communicator`; needs ``pip install
        "nncore[mpi]"``, run under ``mpiexec``). Every rank passes the same data (or a
        memory-mapped view of the same file) and arguments. Each epoch's permutation
        (as without it) is padded to a multiple of the world size W and rank r trains
        on its entries ``r::W``, ``batch_size`` rows per step per rank, so step j of
        all ranks together covers rows ``[j*W*batch_size, (j+1)*W*batch_size)`` of the
        padded permutation: what one process with ``batch_size * W`` trains on. Rank
        0's parameters are broadcast first; ONE allreduce per step averages the
        gradients (weighted by rows / sample weights); every rank applies the same
        update. Loss, accuracy and validation metrics are over all ranks (validation
        rows split between them); only rank 0 prints and writes ``checkpoint``; a
        callback's ``stop_training`` is honoured at the end of the epoch on every
        rank. Callbacks run on every rank (``params["rank"]`` / ``["world_size"]``
        tell which; ``Callback.is_chief()`` is rank 0): ModelCheckpoint writes and the
        callbacks' messages print on rank 0 alone. Epoch logs (and the history) are
        the same on every rank but ``time`` (each rank's own clock): loss, penalty,
        accuracy and validation metrics over all ranks, ``lr``, and the norms of the
        averaged gradients. Batch logs are the rank's own: ``loss`` over its rows of
        the step and ``size`` its row count (``grad_norm``, of the averaged gradients,
        is the same everywhere); a rank whose rows in a step all weigh 0 skips
        ``on_batch_end`` for it, and rank 0's progress bar shows its own running loss
        until the epoch ends. Before any step the ranks check that they
        agree on the model, dtype, data lengths and arguments (a ValueError on every rank otherwise); an error of
        one rank during training aborts the job with its message (MPI Abort).

    Returns
    -------
    History
        ``history.history`` holds per-epoch ``loss``, ``accuracy``,
        ``val_loss``, ``val_accuracy``, ``lr``, ``grad_norm``,
        ``grad_norm_max``, ``grad_norm/<layer>``, ``time`` (see
        :mod:`nncore.history`).

    Raises
    ------
    ValueError, TypeError
        For bad inputs, before any training step: X and y of different
        lengths, NaN/Inf in X or y, a ``checkpoint`` not a file in an existing
        directory, a ``resume`` past ``epochs``, targets that do not fit the loss (the
        one check of ``nncore._targets``, as in ``train_step``: e.g. non-integer
        or out-of-range class labels for cross-entropy), batch_size <= 0,
        epochs < 0, validation_split outside [0, 1), an optimizer built on
        another model, unknown loss/optimizer/metric names.

    Notes
    -----
    - The training ``loss`` and ``accuracy`` of an epoch are running means over
      its batches, as Keras reports them: each batch is judged by the outputs of
      its own step (training mode, so with dropout; the weights before that
      step's update), weighted by its size (its rows' sample weights when
      given; batches that weigh nothing are skipped). They are not the loss or accuracy
      of the end-of-epoch weights; ``val_loss`` / ``val_accuracy`` and
      :func:`evaluate` are (inference mode). Before, ``accuracy`` was a second
      inference pass over the training set after the epoch.
    - Ctrl-C (KeyboardInterrupt) stops after the current batch (each step is
      one C call, never cut in half) and returns the history of the
      completed epochs with ``history.interrupted = True``;
      ``on_train_end`` still runs (EarlyStopping restores its best weights).
    - A callback stops training with ``model.stop_training = True``; the
      current epoch is finished (validation, logs) with the batches done.
    - Reproducibility: see the module docstring (shuffle order from
      ``model.seed`` and the epoch index).
    """
    comm = _check_comm(distributed)
    error = None
    try:   # distributed: every rank checks, then they compare (Communicator.agree)
        _check_model(model)
        epochs, batch_size, clip_norm, clip_value = _check_arguments(
            epochs, batch_size, shuffle, validation_split, verbose, clip_norm, clip_value,
            include_penalty)
        loss_fn = _get_loss(loss)
        kind = losses.output_kind(loss_fn)
        metric_names = _metric_names(metrics, kind)
        opt = _get_optimizer(model, optimizer)
        resume = _check_path("resume", resume)
        checkpoint = _check_path("checkpoint", checkpoint,
                                 writes=comm is None or comm.rank == 0)
        Xt, Yt, Wt, Xv, Yv, Wv = _prepare_data(model, X, y, loss_fn, validation_split,
                                               validation_data, sample_weight)
        if class_weight is not None:
            Wt = _row_weights(model, Yt, kind, Wt, class_weight)
        n = len(Xt)
        if n == 0 and epochs > 0:
            raise ValueError("no training samples")
        n_steps = (n + batch_size - 1) // batch_size
        history, cbs = _setup_callbacks(model, callbacks, {
            "epochs": epochs, "batch_size": batch_size, "steps": n_steps, "samples": n,
            "optimizer": opt, "loss": loss_fn, "has_validation": Xv is not None,
            "verbose": verbose, "metrics": metric_names,
            "rank": comm.rank if comm else 0, "world_size": comm.size if comm else 1})
        schedulers = [cb.scheduler for cb in cbs
                      if isinstance(cb, LearningRateScheduler) and cb.scheduler is not None]
        start = 0
        if resume is not None:
            start = _load_training_checkpoint(model, opt, resume, schedulers, epochs)
    except Exception as e:
        if comm is None:
            raise
        error = e
    if comm is not None:
        comm.agree(error, {} if error else _signature(
            model, opt, loss_fn, Xt, Yt, Wt, Xv, epochs, batch_size, shuffle, clip_norm,
            clip_value, metric_names, start))
        if comm.rank != 0:
            verbose, checkpoint = 0, None
    model.loss = loss_fn
    model.stop_training = False
    # distributed: from here on an error of one rank aborts the job (the others would
    # wait for it in the next collective)
    with contextlib.nullcontext() if comm is None else comm.abort_on_error("fit"):
        run = _Epochs(model, opt, loss_fn, kind, Xt, Yt, Wt, Xv, Yv, Wv, cbs, epochs=epochs,
                      batch_size=batch_size, shuffle=shuffle, verbose=verbose,
                      clip_norm=clip_norm, clip_value=clip_value,
                      include_penalty=include_penalty, want_acc="accuracy" in metric_names,
                      epoch_base=model.epochs_trained - start, comm=comm)
        if comm is not None:
            comm.bcast(model.flat_params, 0)   # rank 0's weights on every replica
        return _run_epochs(run, history, cbs, start, checkpoint, schedulers)


def _run_epochs(run: "_Epochs", history: History, cbs: list[Callback], start: int,
                checkpoint: Any, schedulers: list) -> History:
    """fit's epochs from ``start``: callbacks, logs, progress, checkpoints, Ctrl-C."""
    model, opt, epochs, verbose, comm = run.model, run.opt, run.epochs, run.verbose, run.comm
    for cb in cbs:
        cb.on_train_begin()
    epoch = start
    try:
        for epoch in range(start, epochs):
            t0 = time.perf_counter()
            for cb in cbs:
                cb.on_epoch_begin(epoch)
            logs, bar = run.one_epoch(epoch)
            logs["time"] = time.perf_counter() - t0
            model.epochs_trained = run.epoch_base + epoch + 1
            for cb in cbs:
                cb.on_epoch_end(epoch, logs)
            if bar is not None:
                bar.close(_short_logs(logs))
            elif verbose == 2:
                print(f"Epoch {epoch + 1}/{epochs} {format_logs(_short_logs(logs))} "
                      f"{logs['time']:.2f}s", file=sys.stderr)
            if checkpoint is not None:
                _save_training_checkpoint(model, opt, checkpoint, epoch + 1, schedulers)
            if comm is not None:   # every rank stops if a callback stopped one
                model.stop_training = bool(comm.sum([float(model.stop_training)])[0])
            if model.stop_training:
                history.stopped_early = True
                break
    except KeyboardInterrupt:
        if comm is not None:   # the other ranks cannot know: never leave them waiting
            raise
        history.interrupted = True
        if verbose:
            print(f"\nfit: interrupted (Ctrl-C) during epoch {epoch + 1}; returning the "
                  f"history of {len(history.epoch)} completed epochs", file=sys.stderr)
    finally:
        model.stop_training = False
    for cb in cbs:
        cb.on_train_end()
    return history


def _check_comm(distributed: Any) -> Any:
    """fit's ``distributed``: None/False, or a communicator (nncore.distributed's,
    passed by ``model.fit(..., distributed=True)``; this module does not import it)."""
    if distributed is None or distributed is False:
        return None
    if distributed is True:
        raise TypeError("nncore.training.fit takes distributed=<communicator>; for MPI use "
                        "model.fit(..., distributed=True), which builds it from "
                        "nncore.distributed")
    for a in ("rank", "size", "allreduce_sum", "sum", "bcast", "agree", "abort_on_error",
              "after_step"):
        if not hasattr(distributed, a):
            raise TypeError(f"distributed must be an nncore.distributed.Communicator, got "
                            f"{type(distributed).__name__}")
    return distributed


def _signature(model: Sequential, opt: Any, loss_fn: losses.Loss, Xt: Any, Yt: Any, Wt: Any,
               Xv: Any, epochs: int, batch_size: int, shuffle: bool, clip_norm: Any,
               clip_value: Any, metric_names: list, start: int) -> dict:
    """What every rank of a distributed fit must agree on (compared before any step)."""
    layers = json.dumps(model.get_config()["layers"], sort_keys=True)
    return {"architecture": layers, "num_parameters": model.num_parameters,
            "dtype": model.dtype.name, "compute_dtype": model.compute_dtype,
            "seed (the shuffle order)": model.seed,
            "samples": len(Xt), "targets": tuple(Yt.shape), "validation samples":
            None if Xv is None else len(Xv), "sample weights": Wt is not None,
            "loss": repr(loss_fn), "optimizer": type(opt).__name__,
            "epochs": epochs, "batch_size": batch_size, "shuffle": bool(shuffle),
            "clip": (clip_norm, clip_value), "metrics": list(metric_names),
            "epochs_trained": model.epochs_trained, "dropout_step": model.dropout_step,
            "first epoch (resume)": start}


def _check_arguments(epochs: Any, batch_size: Any, shuffle: Any, validation_split: Any,
                     verbose: Any, clip_norm: Any, clip_value: Any, include_penalty: Any
                     ) -> tuple[int, int, float | None, float | None]:
    """fit's scalar arguments: (epochs, batch_size, clip_norm, clip_value) as numbers."""
    if not is_int(epochs) or epochs < 0:
        raise ValueError(f"epochs must be an int >= 0, got {epochs!r}")
    if not is_int(batch_size) or batch_size <= 0:
        raise ValueError(f"batch_size must be an int > 0, got {batch_size!r}")
    if isinstance(validation_split, bool) or not isinstance(
            validation_split, (int, float, np.floating)) or not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be a number in [0, 1), got "
                         f"{validation_split!r}")
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be a bool, got {type(shuffle).__name__}")
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    clip_norm = _check_positive("clip_norm", clip_norm)
    clip_value = _check_positive("clip_value", clip_value)
    if not isinstance(include_penalty, (bool, np.bool_)):
        raise TypeError(f"include_penalty must be a bool, got {type(include_penalty).__name__}")
    return int(epochs), int(batch_size), clip_norm, clip_value


def _check_batch_weights(w: np.ndarray, batch_size: int, epoch: int) -> None:
    """Each batch's weighted mean scales its gradient by 1 / sum of its weights (2 / sum
    for MSE) in the model's dtype: a batch whose weights are all subnormal would make it
    inf and the parameters NaN. Checked for the epoch's batches before its first step
    (sample_weight as a whole passed check_sample_weight)."""
    sums = np.add.reduceat(w, np.arange(0, len(w), batch_size), dtype=np.float64)
    bad = np.flatnonzero((sums > 0) & (2.0 / np.maximum(sums, 1e-300)
                                      > float(np.finfo(w.dtype).max)))
    if bad.size:
        b = int(bad[0])
        raise ValueError(f"sample_weight: batch {b} of epoch {epoch + 1} (rows "
                         f"{b * batch_size}..{min((b + 1) * batch_size, len(w)) - 1} in the "
                         f"epoch's order) weighs {float(sums[b])!r} in all, too little for "
                         f"{w.dtype}: the gradient's scale 1 / sum(weights) would overflow. "
                         "Only the ratios of the weights matter, so scale them up")


def _check_path(name: str, path: Any, writes: bool = False) -> str | None:
    """fit's ``checkpoint`` / ``resume``: None or a path (str or os.PathLike), as a str.
    One fit writes to (``writes``) must name a file in an existing directory: found
    only when the first epoch's checkpoint is saved, the error would come after that
    epoch had trained."""
    if path is None:
        return None
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"{name} must be None or a path (str or os.PathLike), got "
                        f"{type(path).__name__}") from None
    if writes:
        directory = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(path):
            raise ValueError(f"{name}={path!r} is a directory; give a file path in it "
                             "(e.g. 'ck.safetensors')")
        if not os.path.isdir(directory):
            raise ValueError(f"{name}={path!r}: the directory {directory!r} does not exist")
    return path


def _prepare_data(model: Sequential, X: Any, y: Any, loss_fn: losses.Loss,
                  validation_split: float, validation_data: Any,
                  sample_weight: Any = None) -> tuple:
    """(X_train, y_train, w_train, X_val, y_val, w_val), each cast once and checked
    before any step; the validation arrays are None without validation, the weights
    None without sample weights."""
    X, Y = _as_xy(model, X, y, loss_fn)
    W = check_sample_weight(sample_weight, len(X), model.dtype)
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise TypeError("validation_data must be a tuple (X_val, y_val) or "
                            "(X_val, y_val, sample_weight_val)")
        Xv, Yv = _as_xy(model, validation_data[0], validation_data[1], loss_fn,
                        "X_val", "y_val")
        if len(Xv) == 0:
            raise ValueError("validation_data is empty")
        Wv = (check_sample_weight(validation_data[2], len(Xv), model.dtype,
                                  "sample_weight_val") if len(validation_data) == 3 else None)
        return X, Y, W, Xv, Yv, Wv
    if validation_split > 0:
        split_at = int(len(X) * (1.0 - validation_split))
        if split_at == len(X):
            raise ValueError(f"validation_split={validation_split} leaves no validation "
                             f"samples out of {len(X)}")
        Wt, Wv = (None, None) if W is None else (W[:split_at], W[split_at:])
        if W is not None:   # checked whole: either side alone may still weigh nothing
            for side, part, rows in (("training", Wt, f"[0, {split_at})"),
                                     ("validation", Wv, f"[{split_at}, {len(X)})")):
                if len(part) and not part.sum(dtype=np.float64) > 0:
                    raise ValueError(f"sample_weight of the {side} rows {rows} (validation_"
                                     f"split={validation_split}) are all 0: nothing to "
                                     f"{'train on' if side == 'training' else 'validate on'}")
        return (_row_range(X, 0, split_at), Y[:split_at], Wt,
                _row_range(X, split_at, len(X)), Y[split_at:], Wv)
    return X, Y, W, None, None, None


def _row_range(X: Any, a: int, b: int) -> Any:
    """Rows [a, b) of X as a view: of an array, or of a RowSource (still unread)."""
    return X.rows(a, b) if isinstance(X, _rows.RowSource) else X[a:b]


def _setup_callbacks(model: Sequential, callbacks: Any, params: dict
                     ) -> tuple[History, list[Callback]]:
    """The History (always first) and the user's callbacks, each given the model and
    fit's ``params``."""
    history = History()
    cbs: list[Callback] = [history]
    if isinstance(callbacks, Callback):
        callbacks = [callbacks]
    elif callbacks is not None and not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list of nncore.callbacks.Callback, got "
                        f"{type(callbacks).__name__}")
    for cb in (callbacks or []):
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be nncore.callbacks.Callback instances, got "
                            f"{type(cb).__name__}")
        cbs.append(cb)
    for cb in cbs:
        cb.set_model(model)
        cb.set_params(params)
    return history, cbs


class _Epochs:
    """One epoch of ``fit`` at a time: shuffle, the batches (one ``train_step`` each,
    with the per-batch callbacks and the progress bar), then the epoch's logs.

    Holds what stays fixed across epochs: the data, the reused buffers (one batch of
    inputs, the epoch's shuffled targets, a block of step outputs for the training
    accuracy, the validation outputs), the per-batch callbacks, the settings.

    The inputs are never copied whole: each batch's rows are gathered by index into
    ONE (batch_size, in_features) buffer (so a np.memmap X is read a batch at a
    time); the targets, small next to them, are shuffled once per epoch. The batches
    hold the same rows in the same order as a whole shuffled copy would, so the
    weights keep their bits."""

    def __init__(self, model: Sequential, opt: Any, loss_fn: losses.Loss, kind: str,
                 Xt: np.ndarray, Yt: np.ndarray, Wt: np.ndarray | None, Xv: np.ndarray | None,
                 Yv: np.ndarray | None, Wv: np.ndarray | None, cbs: list[Callback], *,
                 epochs: int,
                 batch_size: int, shuffle: bool, verbose: int, clip_norm: float | None,
                 clip_value: float | None, include_penalty: bool, want_acc: bool,
                 epoch_base: int, comm: Any = None) -> None:
        self.model, self.opt, self.loss_fn, self.kind = model, opt, loss_fn, kind
        self.comm = comm  # distributed: a communicator (see fit), else None
        self.Xt, self.Yt, self.Xv, self.Yv = Xt, Yt, Xv, Yv
        self.Wt, self.Wv = Wt, Wv  # row weights, or None
        self.epochs, self.batch_size, self.verbose = epochs, batch_size, verbose
        self.shuffle = self.shuffle_all = shuffle and len(Xt) > 0
        self.n_local = len(Xt)
        if comm is not None:   # this rank's share of the padded epoch (see _shard)
            self.n_local = -(-len(Xt) // comm.size)
            self.shuffle = self.n_local > 0
        self.clip_norm = 0.0 if clip_norm is None else clip_norm
        self.clip_value = 0.0 if clip_value is None else clip_value
        self.include_penalty, self.want_acc = include_penalty, want_acc
        self.epoch_base = epoch_base  # shuffle index = epoch_base + epoch
        self.n_steps = (self.n_local + batch_size - 1) // batch_size
        self.batch_begin = [cb for cb in cbs if _overrides(cb, "on_batch_begin")]
        self.batch_end = [cb for cb in cbs if _overrides(cb, "on_batch_end")]
        # _as_xy gives class labels as (n,) int64, every other target as (n, out)
        self.labels = Yt.ndim == 1
        rows = min(batch_size, self.n_local)
        if self.shuffle:
            self.bufX = np.empty((rows, Xt.shape[1]), Xt.dtype)
            self.bufY = np.empty((self.n_local,) + Yt.shape[1:], Yt.dtype)
            self.bufW = None if Wt is None else np.empty(self.n_local, Wt.dtype)
        else:
            self.bufX, self.bufY, self.bufW = None, Yt, Wt
        # the step outputs, for the training accuracy: a block of whole batches
        per_block = max(1, _ACC_BLOCK // batch_size) * batch_size
        self.out_block = (np.empty((min(per_block, self.n_local), model.out_features),
                                   model.dtype) if want_acc and self.n_local else None)
        self.val_out = (None if Xv is None
                        else np.empty((len(Xv), model.out_features), model.dtype))

    def one_epoch(self, epoch: int) -> tuple[dict[str, float], ProgressBar | None]:
        """Train one epoch; returns its logs (all but ``time``) and the open progress
        bar (None unless verbose=1), which the caller closes after the callbacks."""
        model, opt, loss_fn, comm = self.model, self.opt, self.loss_fn, self.comm
        n, batch_size, n_steps = self.n_local, self.batch_size, self.n_steps
        Xt, bufX, bufY, bufW = self.Xt, self.bufX, self.bufY, self.bufW
        out_block = self.out_block
        include_penalty, batch_begin, batch_end = (self.include_penalty, self.batch_begin,
                                                   self.batch_end)
        lr = float(opt.param_groups[0]["lr"])
        perm = share = None
        sum_loss = loss_fn.reduction == "sum"   # its gradients add up over the ranks
        if comm is not None:
            perm, share = self._shard(epoch)
        elif self.shuffle:
            perm = np.random.default_rng([model.seed, self.epoch_base + epoch]).permutation(n)
        if perm is not None:
            np.take(self.Yt, perm, axis=0, out=bufY)
            if bufW is not None:
                np.take(self.Wt, perm, axis=0, out=bufW)
        if bufW is not None:
            _check_batch_weights(bufW, batch_size, epoch)
        bar = ProgressBar(n_steps, epoch + 1, self.epochs) if self.verbose == 1 else None
        step = model.train_step_prepared
        gather = _core._gather_rows if isinstance(Xt, np.ndarray) else _rows.gather_rows
        spec = loss_fn._c_spec(self.labels)
        labels = self.labels
        cn, cv = self.clip_norm, self.clip_value
        loss_sum = 0.0
        weight_sum = 0.0  # of the rows trained on: rows, or their sample weights
        trained = 0       # batches trained (all-zero-weight batches are skipped)
        pen_sum = 0.0
        gn_sum = 0.0
        gn_max = 0.0
        acc = _RunningAccuracy(self.kind, out_block, bufY, bufW)
        batch_logs: dict = {}
        b = 0
        for b in range(n_steps):
            s = b * batch_size
            e = min(s + batch_size, n)
            k = e - s
            for cb in batch_begin:
                cb.on_batch_begin(b, batch_logs)
            wb = None if bufW is None else bufW[s:e]
            m = float(k) if wb is None else float(wb.sum(dtype=np.float64))
            if share is None:
                if m == 0:  # every row of this batch weighs 0: nothing to learn from it
                    continue
            elif share[b] == 0:   # distributed: no rank has weight in this step
                continue
            if perm is None:
                xb = Xt[s:e]
            else:   # np.take(..., out=) would copy through a buffer of its own
                xb = gather(bufX if k == batch_size else bufX[:k], Xt, perm[s:e])
            yb = bufY[s:e]
            if include_penalty:
                pen = opt.penalty()
                pen_sum += pen * m
            slot = None if out_block is None or m == 0 else acc.slot(s, k)
            if share is None:
                lval = step(xb, None if labels else yb, yb if labels else None, spec, opt,
                            cn, cv, wb, slot)
            else:   # one allreduce of the gradients between backward and the update
                lval = model.train_step_allreduced(
                    xb if m else None, None if labels else yb, yb if labels else None, spec,
                    opt, cn, cv, comm, wb, slot, 1.0 if sum_loss else m / share[b])
            data_loss = lval
            if include_penalty:
                lval += pen
            if share is not None and sum_loss:
                # distributed with a sum loss: the step's loss is the sum of the ranks'
                # (as its gradient is), weighed like one process's by the step's weight
                loss_sum += (data_loss * share[b] + (pen * m if include_penalty else 0.0)
                             if m else 0.0)
            else:
                loss_sum += lval * m if m else 0.0
            gn = model.last_grad_norm
            weight_sum += m
            trained += 1
            gn_sum += gn
            if gn > gn_max or gn != gn:
                gn_max = gn
            if batch_end and m:   # a rank whose rows weigh 0 trained on nothing (nan)
                batch_logs["loss"] = lval
                batch_logs["grad_norm"] = gn
                batch_logs["size"] = k
                for cb in batch_end:
                    cb.on_batch_end(b, batch_logs)
            if bar is not None:
                bar.update(b + 1, e, loss=loss_sum / weight_sum if weight_sum else 0.0)
            if model.stop_training and comm is None:   # distributed: at the epoch's end
                break
        nb = trained
        nan = float("nan")
        if comm is not None:   # the epoch over every rank (rows / weights summed)
            acc.result()
            loss_sum, weight_sum, pen_sum, acc.right, acc.total = map(float, comm.sum(
                [loss_sum, weight_sum, pen_sum, acc.right, acc.total]))
        logs: dict[str, float] = {"loss": loss_sum / weight_sum if weight_sum else nan}
        if include_penalty:
            logs["penalty"] = pen_sum / weight_sum if weight_sum else nan
        if self.want_acc and weight_sum:
            logs["accuracy"] = acc.result()
        if self.Xv is not None and comm is not None:
            logs.update(self._validate_shard())
        elif self.Xv is not None:
            model.predict_into(self.Xv, self.val_out, _EVAL_BATCH)
            logs["val_loss"] = float(loss_fn(self.val_out, self.Yv, self.Wv))
            if self.want_acc:
                logs["val_accuracy"] = _accuracy(self.val_out, self.Yv, self.kind, self.Wv)
        logs["lr"] = lr
        logs["grad_norm"] = gn_sum / nb if nb else nan
        logs["grad_norm_max"] = gn_max
        if nb:
            logs.update(_layer_norms(model.grad_norms()))
        return logs, bar

    def _shard(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """Distributed: this rank's rows of the epoch and, per step, the weight of the
        step's rows over every rank (rows, or their sample weights).

        The epoch's permutation (the one-process order, or 0..n-1 without shuffle) is
        padded to a multiple of the world size W by repeating its start, and rank r
        takes entries ``r::W``, like PyTorch's DistributedSampler; step j of all ranks
        covers entries ``[j*W*b, (j+1)*W*b)`` of it, every rank knows their weights."""
        comm, n, size = self.comm, len(self.Xt), self.comm.size
        order = (np.random.default_rng([self.model.seed, self.epoch_base + epoch]).permutation(n)
                 if self.shuffle_all else np.arange(n))
        padded = np.resize(order, self.n_local * size)   # repeats the start cyclically
        mine = np.ascontiguousarray(padded[comm.rank::size])
        per_row = (np.ones(len(padded)) if self.Wt is None
                   else self.Wt[padded].astype(np.float64))
        edges = np.arange(0, len(padded), self.batch_size * size)
        total = np.add.reduceat(per_row, edges) if len(padded) else np.zeros(0)
        return mine, total

    def _validate_shard(self) -> dict[str, float]:
        """Distributed: val_loss / val_accuracy over every rank, each computing a
        contiguous part of the validation rows (sums of weight * value, then divided)."""
        comm, Xv, Yv, Wv = self.comm, self.Xv, self.Yv, self.Wv
        nv = len(Xv)
        lo, hi = comm.rank * nv // comm.size, (comm.rank + 1) * nv // comm.size
        lsum = wsum = right = 0.0
        if hi > lo:
            out = self.model.predict_into(_row_range(Xv, lo, hi), self.val_out[lo:hi],
                                          _EVAL_BATCH)
            w = None if Wv is None else Wv[lo:hi]
            wsum = float(hi - lo) if w is None else float(w.sum(dtype=np.float64))
            if wsum:
                lsum = float(self.loss_fn(out, Yv[lo:hi], w))
                lsum *= 1.0 if self.loss_fn.reduction == "sum" else wsum
                if self.want_acc:
                    right = _accuracy(out, Yv[lo:hi], self.kind, w) * wsum
        lsum, wsum, right = map(float, comm.sum([lsum, wsum, right]))
        if self.loss_fn.reduction == "sum":   # the sum over every row, as one process
            wsum = 1.0 if wsum else 0.0
        logs = {"val_loss": lsum / wsum if wsum else float("nan")}
        if self.want_acc:
            logs["val_accuracy"] = right / wsum if wsum else float("nan")
        return logs


class _RunningAccuracy:
    """The epoch's training accuracy as Keras reports it: the running mean over the
    batches trained so far, each batch judged by the outputs its own step computed
    (training mode, the weights before that step's update); rows weighted by their
    sample weights when fit has them.

    The steps write their outputs into consecutive rows of ``block`` (whole batches);
    when the next batch does not fit or does not follow (a batch skipped for weighing
    0), the block is scored at once against the matching rows of the epoch's targets
    ``Y`` (and weights ``W``) and reused. No second forward pass."""

    def __init__(self, kind: str, block: np.ndarray | None, Y: np.ndarray,
                 W: np.ndarray | None) -> None:
        self.kind, self.block, self.Y, self.W = kind, block, Y, W
        self.rows = 0 if block is None else len(block)
        self.start = 0      # epoch row of block[0]
        self.fill = 0       # rows of block holding outputs
        self.right = 0.0    # right predictions (weighted) in the scored blocks
        self.total = 0.0    # rows (weights) scored

    def slot(self, s: int, m: int) -> np.ndarray:
        """The rows of the block that the step of epoch rows [s, s + m) writes into."""
        f = self.fill
        if f and (f + m > self.rows or s != self.start + f):
            self._score()
            f = 0
        if not f:
            self.start = s
        self.fill = f + m
        return self.block[f:f + m]

    def _score(self) -> None:
        if not self.fill:
            return
        rows = slice(self.start, self.start + self.fill)
        right = _row_right(self.block[:self.fill], self.Y[rows], self.kind)
        if self.W is None:
            self.right += float(right.sum())
            self.total += self.fill
        else:
            w = self.W[rows].astype(np.float64)
            self.right += float(np.dot(right, w))
            self.total += float(w.sum())
        self.fill = 0

    def result(self) -> float:
        self._score()
        return self.right / self.total if self.total else float("nan")


# ---------------------------------------------------------------- evaluate

def evaluate(model: Sequential, X: Any, y: Any, loss: Any = None,
             batch_size: int = 1024, sample_weight: Any = None) -> dict[str, float]:
    """Loss (and accuracy for classification) of ``model`` on ``(X, y)``, inference mode.

    ``model.evaluate(X, y, ...)`` is this function.

    Parameters
    ----------
    model : nncore.nn.Sequential
    X : array (n, in_features), or an object served by index arrays as for :func:`fit`
    y : array — targets as for :func:`fit`
    loss : str or loss object, optional
        Defaults to ``model.loss`` (the loss of the last ``fit``).
    batch_size : int
    sample_weight : array (n,), optional
        Row weights: the weighted mean loss ``sum_i w_i l_i / sum_i w_i`` and the
        weighted accuracy.

    Returns
    -------
    dict
        ``{"loss": float}`` plus ``"accuracy"`` for classification losses.
    """
    _check_model(model)
    if loss is None:
        loss_fn = model.loss
        if loss_fn is None:
            raise ValueError("evaluate() needs loss= (the model has not been fit yet)")
    else:
        loss_fn = _get_loss(loss)
    kind = losses.output_kind(loss_fn)
    if not is_int(batch_size) or batch_size <= 0:
        raise ValueError(f"batch_size must be an int > 0, got {batch_size!r}")
    X, Y = _as_xy(model, X, y, loss_fn)
    if len(X) == 0:
        raise ValueError("evaluate() got no samples")
    W = check_sample_weight(sample_weight, len(X), model.dtype)
    return _evaluate(model, X, Y, loss_fn, kind, int(batch_size), W)


def _evaluate(model: Sequential, X: np.ndarray, Y: np.ndarray, loss_fn: losses.Loss,
              kind: str, batch_size: int, W: np.ndarray | None = None) -> dict[str, float]:
    """evaluate on data already checked (``_as_xy``) and not empty; rows weighted by W."""
    out = np.empty((len(X), model.out_features), model.dtype)
    model.predict_into(X, out, batch_size)
    res = {"loss": float(loss_fn(out, Y, W))}
    if kind in ("ce", "bce"):
        res["accuracy"] = _accuracy(out, Y, kind, W)
    return res


def _short_logs(logs: dict) -> dict:
    return {k: v for k, v in logs.items()
            if k in ("loss", "accuracy", "val_loss", "val_accuracy", "lr")}


# ------------------------------------------------------------- checkpoints

def _jsonable(v: Any) -> Any:
    """Scheduler state -> JSON-safe (non-finite floats become tagged strings)."""
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (float, np.floating)) and not math.isfinite(v):
        return {"__float__": repr(float(v))}
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def _unjsonable(v: Any) -> Any:
    if isinstance(v, dict):
        if set(v) == {"__float__"}:
            return float(v["__float__"])
        return {k: _unjsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_unjsonable(x) for x in v]
    return v


def _save_training_checkpoint(model: Sequential, opt: Any, path: Any, epoch: int,
                              schedulers: list) -> None:
    """Weights, optimizer state, dropout step (saved by io), epoch, the shuffle position
    and the state of lr schedulers given to LearningRateScheduler callbacks."""
    save_checkpoint(path, model, opt, epoch=epoch,
                    extra={"epochs_trained": model.epochs_trained,
                           "seed": model.seed,
                           "schedulers": [_jsonable(s.state_dict()) for s in schedulers]})


def _load_training_checkpoint(model: Sequential, opt: Any, path: Any, schedulers: list,
                              epochs: int) -> int:
    """Load a training checkpoint into model, opt and the schedulers; returns its epoch.

    What the header tells (the seed, the epoch, the number of scheduler states) is
    checked first: a resume fit refuses leaves the model and optimizer as they were."""
    meta_seed, meta_epoch, meta_scheds = _checkpoint_header(path)
    n_scheds = None if meta_scheds is None else len(meta_scheds)
    if meta_seed is not None and meta_seed != model.seed:
        raise ValueError(f"the checkpoint {path!s} was made by a model with seed={meta_seed}; "
                         f"this one has seed={model.seed} (the seed fixes the shuffle order "
                         "and dropout masks): build the model with the same seed to resume")
    if meta_epoch is not None and meta_epoch > epochs:
        raise ValueError(f"the checkpoint {path!s} is at epoch {meta_epoch}, past "
                         f"epochs={epochs}")
    if n_scheds is not None:
        _check_scheduler_count(path, n_scheds, schedulers)
        for sched, st in zip(schedulers, meta_scheds):   # another schedule's state
            check = getattr(sched, "check_state_dict", None)
            if check is not None:
                check(_unjsonable(st))
    info = load_checkpoint(path, model, opt)   # sets weights, optimizer, dropout_step
    extra = info.get("extra") or {}
    epoch = int(info.get("epoch", 0))
    saved = extra.get("schedulers") or []
    _check_scheduler_count(path, len(saved), schedulers)
    if epoch > epochs:
        raise ValueError(f"the checkpoint {path!s} is at epoch {epoch}, past epochs={epochs}")
    model.epochs_trained = int(extra.get("epochs_trained", epoch))
    for sched, st in zip(schedulers, saved):
        sched.load_state_dict(_unjsonable(st))
    return epoch


def _check_scheduler_count(path: Any, saved: int, schedulers: list) -> None:
    if saved != len(schedulers):
        raise ValueError(f"the checkpoint {path!s} holds {saved} lr scheduler states, "
                         f"fit has {len(schedulers)} LearningRateScheduler callbacks with "
                         "scheduler objects")


def _checkpoint_header(path: Any) -> tuple[int | None, int | None, list | None]:
    """(model seed, epoch, the lr scheduler states) from a checkpoint's header, each None
    if not found (load_checkpoint then reports the real problem)."""
    try:
        meta = read_header(path)[0]
    except Exception:
        return None, None, None
    found: list[Any] = []
    for get in (lambda: int(json.loads(meta["config"])["seed"]), lambda: int(meta["epoch"]),
                lambda: list(json.loads(meta["extra"]).get("schedulers") or [])):
        try:
            found.append(get())
        except Exception:
            found.append(None)
    return found[0], found[1], found[2]
