"""The fit loop: ``Sequential.fit / evaluate / predict`` (Keras-style), built on ``train_step``.

What it is: input validation (before any training happens), batching, shuffling,
validation, callbacks, history, progress bar, Ctrl-C handling and checkpoints.
Each batch is ONE call into C (``model.train_step``: forward + loss + backward
+ clipping + optimizer update, GIL released).
What it is not: the network, losses or optimizers (``nncore.nn``,
``nncore.losses``, ``nncore.optim``).

Reproducibility: epoch ``e`` (counted over every ``fit`` call on the model,
see ``model.epochs_trained``) is shuffled with
``np.random.default_rng([model.seed, e]).permutation(n_train)``, so the same
seed gives bit-identical weights after ``fit`` at any thread count, ``fit(5)``
then ``fit(5)`` equals ``fit(10)`` (same optimizer object), and resuming from
a checkpoint continues exactly.
"""
from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, Iterable

import numpy as np

from .callbacks import Callback, LearningRateScheduler, _overrides
from .history import History
from .progress import ProgressBar, format_logs
from ._validate import is_int

__all__ = ["TrainingMixin"]

_SGD_DEFAULT_LR = 0.01  # "sgd" by name: SGD has no default lr (Keras uses 0.01)


# ------------------------------------------------------------------ helpers



def _get_loss(loss: Any) -> Any:
    from . import losses
    if loss is None:
        raise TypeError("fit() needs a loss: a name ('mse', 'cross_entropy', 'bce', 'l1', "
                        "'huber') or a loss object from nncore.losses")
    return losses.get(loss)  # its ValueError/TypeError already names the choices


def _loss_kind(loss_fn: Any) -> str:
    """'ce' (cross-entropy), 'bce' or 'regression'."""
    from . import losses
    if isinstance(loss_fn, losses.CrossEntropyLoss):  # subclasses too
        return "ce"
    if isinstance(loss_fn, losses.BCEWithLogitsLoss):
        return "bce"
    if getattr(loss_fn, "is_classification", False):
        return "ce"
    return "regression"


def _get_optimizer(model: Any, optimizer: Any) -> Any:
    from . import optim
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


def _as_inputs(model: Any, X: Any, what: str = "X") -> np.ndarray:
    if hasattr(X, "__array__") or isinstance(X, (list, tuple)):
        X = np.asarray(X)
    if not isinstance(X, np.ndarray):
        raise TypeError(f"{what} must be an array, got {type(X).__name__}")
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{what} must hold numbers, got dtype {X.dtype}")
    nin = model.in_features
    if X.ndim == 1 and nin == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2 or X.shape[1] != nin:
        raise ValueError(f"{what} must have shape (n_samples, {nin}) for this model, got "
                         f"{X.shape}")
    with np.errstate(over="ignore"):  # 1e300 -> float32 inf: reported just below
        X = np.ascontiguousarray(X, dtype=model.dtype)
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{what} contains NaN or Inf (first at row {bad[0]}, column "
                         f"{bad[1]})")
    return X


def _as_targets(model: Any, y: Any, kind: str, what: str = "y") -> np.ndarray:
    y = np.asarray(y)
    nout = model.out_features
    if y.dtype.kind not in "fiub":
        raise TypeError(f"{what} must hold numbers, got dtype {y.dtype}")
    if kind == "ce":
        if y.ndim == 1:
            if y.dtype.kind not in "iub":
                raise TypeError(f"cross-entropy needs integer class labels {what} of shape "
                                f"(n,) (or probability targets (n, {nout})), got {y.dtype} "
                                f"labels of shape {y.shape}; cast with {what}.astype(int)")
            if y.size and (y.min() < 0 or y.max() >= nout):
                raise ValueError(f"class labels in {what} must be in [0, {nout}) for a model "
                                 f"with {nout} outputs, got values in [{y.min()}, {y.max()}]")
            return np.ascontiguousarray(y, dtype=np.int64)
        if y.ndim != 2 or y.shape[1] != nout:
            raise ValueError(f"cross-entropy targets {what} must be labels (n,) or "
                             f"probabilities (n, {nout}), got shape {y.shape}")
        y = np.ascontiguousarray(y, dtype=model.dtype)
        if not np.isfinite(y).all() or (y < 0).any():
            raise ValueError(f"probability targets {what} must be finite and >= 0")
        return y
    if y.ndim == 1 and nout == 1:
        y = y.reshape(-1, 1)
    if y.ndim != 2 or y.shape[1] != nout:
        raise ValueError(f"targets {what} must have shape (n, {nout}) for a model with "
                         f"{nout} outputs, got {y.shape}")
    with np.errstate(over="ignore"):  # reported just below
        y = np.ascontiguousarray(y, dtype=model.dtype)
    if not np.isfinite(y).all():
        bad = np.argwhere(~np.isfinite(y))[0]
        raise ValueError(f"{what} contains NaN or Inf (first at row {bad[0]})")
    if kind == "bce" and ((y < 0).any() or (y > 1).any()):
        raise ValueError(f"binary cross-entropy targets {what} must be in [0, 1], got values "
                         f"in [{y.min()}, {y.max()}]")
    return y


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


def _accuracy(out: np.ndarray, y: np.ndarray, kind: str) -> float:
    """Fraction right: argmax for cross-entropy (labels or probabilities), sign for BCE."""
    if len(out) == 0:
        return float("nan")
    if kind == "ce":
        pred = out.argmax(axis=1)
        truth = y if y.ndim == 1 else y.argmax(axis=1)
        return float(np.count_nonzero(pred == truth)) / len(out)
    return float(np.count_nonzero((out > 0) == (y > 0.5))) / out.size


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


# ------------------------------------------------------------------- mixin

class TrainingMixin:
    """``fit``, ``evaluate``, ``predict`` for :class:`nncore.nn.Sequential`.

    Relies on the model's ``train_step``, ``forward``, ``parameters``,
    ``grad_norms``, ``last_grad_norm``, ``flat_params``, ``dtype``, ``seed``,
    ``in_features``, ``out_features``, ``dropout_step``.
    """

    stop_training: bool = False

    @property
    def epochs_trained(self) -> int:
        """Epochs completed by ``fit`` on this model (all calls); picks the shuffle order."""
        return int(getattr(self, "_nc_epochs_trained", 0))

    @epochs_trained.setter
    def epochs_trained(self, v: int) -> None:
        self._nc_epochs_trained = int(v)

    # -------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any, loss: Any = None, optimizer: Any = "adam", epochs: int = 1,
            batch_size: int = 32, shuffle: bool = True, validation_split: float = 0.0,
            validation_data: tuple | None = None, callbacks: Iterable[Callback] | None = None,
            verbose: int = 1, clip_norm: float | None = None, clip_value: float | None = None,
            metrics: Any = None, checkpoint: str | os.PathLike | None = None,
            resume: str | os.PathLike | None = None, include_penalty: bool = False) -> History:
        """Train the model on ``(X, y)`` with minibatches; returns the :class:`History`.

        Parameters
        ----------
        X : array (n, in_features)
            Inputs (cast once to the model's dtype).
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
            step) there after every epoch.
        resume : path, optional
            Load such a checkpoint first and continue exactly where it ended.
        include_penalty : bool
            Report the training ``loss`` with the optimizer's L1/L2 term added
            (``optimizer.penalty()`` at each batch's pre-update weights); the
            epoch mean of that term is logged as ``penalty``. Validation loss
            stays the data loss. Training itself is the same either way.

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
            lengths, NaN/Inf in X or y, labels that do not fit the loss (floats
            or out-of-range classes for cross-entropy), batch_size <= 0,
            epochs < 0, validation_split outside [0, 1), an optimizer built on
            another model, unknown loss/optimizer/metric names.

        Notes
        -----
        - Ctrl-C (KeyboardInterrupt) stops after the current batch (each step is
          one C call, never cut in half) and returns the history of the
          completed epochs with ``history.interrupted = True``;
          ``on_train_end`` still runs (EarlyStopping restores its best weights).
        - A callback stops training with ``model.stop_training = True``; the
          current epoch is finished (validation, logs) with the batches done.
        - Reproducibility: see the module docstring (shuffle order from
          ``model.seed`` and the epoch index).
        """
        # ---- scalar arguments
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
        epochs, batch_size = int(epochs), int(batch_size)

        # ---- loss, optimizer, metrics
        loss_fn = _get_loss(loss)
        kind = _loss_kind(loss_fn)
        metric_names = _metric_names(metrics, kind)
        opt = _get_optimizer(self, optimizer)

        # ---- data (cast once; errors before any step)
        X = _as_inputs(self, X)
        Y = _as_targets(self, y, kind)
        if len(X) != len(Y):
            raise ValueError(f"X and y have different lengths: {len(X)} samples vs "
                             f"{len(Y)} targets")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a tuple (X_val, y_val)")
            Xv = _as_inputs(self, validation_data[0], "X_val")
            Yv = _as_targets(self, validation_data[1], kind, "y_val")
            if len(Xv) != len(Yv):
                raise ValueError(f"X_val and y_val have different lengths: {len(Xv)} vs "
                                 f"{len(Yv)}")
            if len(Xv) == 0:
                raise ValueError("validation_data is empty")
            Xt, Yt = X, Y
        elif validation_split > 0:
            split_at = int(len(X) * (1.0 - validation_split))
            if split_at == len(X):
                raise ValueError(f"validation_split={validation_split} leaves no validation "
                                 f"samples out of {len(X)}")
            Xt, Yt, Xv, Yv = X[:split_at], Y[:split_at], X[split_at:], Y[split_at:]
        else:
            Xt, Yt, Xv, Yv = X, Y, None, None
        n = len(Xt)
        if n == 0 and epochs > 0:
            raise ValueError("no training samples")

        # ---- callbacks
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
        n_steps = (n + batch_size - 1) // batch_size
        params = {"epochs": epochs, "batch_size": batch_size, "steps": n_steps,
                  "samples": n, "optimizer": opt, "loss": loss_fn,
                  "has_validation": Xv is not None, "verbose": verbose,
                  "metrics": metric_names}
        for cb in cbs:
            cb.set_model(self)
            cb.set_params(params)
        batch_begin = [cb for cb in cbs if _overrides(cb, "on_batch_begin")]
        batch_end = [cb for cb in cbs if _overrides(cb, "on_batch_end")]

        # ---- checkpoint / resume
        start = 0
        schedulers = [cb.schedule for cb in cbs
                      if isinstance(cb, LearningRateScheduler) and cb._is_scheduler()]
        if resume is not None:
            start = _load_training_checkpoint(self, opt, resume, schedulers)
            if start > epochs:
                raise ValueError(f"the checkpoint {resume!s} is at epoch {start}, past "
                                 f"epochs={epochs}")
        if checkpoint is not None:
            _check_checkpoint_support()

        self._nc_fit_loss = loss_fn
        self._nc_fit_kind = kind
        self.stop_training = False
        want_acc = "accuracy" in metric_names

        # reused buffers: the epoch's shuffled copy of the training data
        if shuffle and n > 0:
            bufX = np.empty_like(Xt)
            bufY = np.empty_like(Yt)
        else:
            bufX, bufY = Xt, Yt
        val_out = None if Xv is None else np.empty((len(Xv), self.out_features), self.dtype)
        epoch_base = self.epochs_trained - start  # shuffle index = epoch_base + epoch

        train_step = self.train_step
        for cb in cbs:
            cb.on_train_begin()
        epoch = start
        try:
            for epoch in range(start, epochs):
                t0 = time.perf_counter()
                for cb in cbs:
                    cb.on_epoch_begin(epoch)
                lr = float(opt.param_groups[0]["lr"])
                if shuffle and n > 0:
                    perm = np.random.default_rng([self.seed, epoch_base + epoch]).permutation(n)
                    np.take(Xt, perm, axis=0, out=bufX)
                    np.take(Yt, perm, axis=0, out=bufY)
                bar = (ProgressBar(n_steps, epoch + 1, epochs) if verbose == 1 else None)
                loss_sum = 0.0
                pen_sum = 0.0
                gn_sum = 0.0
                gn_max = 0.0
                seen = 0
                batch_logs: dict = {}
                b = 0
                for b in range(n_steps):
                    s = b * batch_size
                    e = min(s + batch_size, n)
                    for cb in batch_begin:
                        cb.on_batch_begin(b, batch_logs)
                    yb = bufY[s:e]
                    if include_penalty:
                        pen = opt.penalty()
                        pen_sum += pen * (e - s)
                    lval = train_step(bufX[s:e], yb, loss_fn, opt, clip_norm, clip_value)
                    if include_penalty:
                        lval += pen
                    gn = self.last_grad_norm
                    m = e - s
                    seen = e
                    loss_sum += lval * m
                    gn_sum += gn
                    if gn > gn_max or gn != gn:
                        gn_max = gn
                    if batch_end:
                        batch_logs["loss"] = lval
                        batch_logs["grad_norm"] = gn
                        batch_logs["size"] = m
                        for cb in batch_end:
                            cb.on_batch_end(b, batch_logs)
                    if bar is not None:
                        bar.update(b + 1, e, loss=loss_sum / seen)
                    if self.stop_training:
                        break
                nb = b + 1 if n_steps else 0
                logs: dict[str, float] = {"loss": loss_sum / seen if seen else float("nan")}
                if include_penalty:
                    logs["penalty"] = pen_sum / seen if seen else float("nan")
                if want_acc and seen:
                    # one inference pass over the epoch's training samples (train_step
                    # does not hand back its outputs); metrics=[] skips it
                    logs["accuracy"] = self.evaluate(bufX[:seen], bufY[:seen], loss_fn,
                                                     batch_size=1024,
                                                     _validated=True)["accuracy"]
                if Xv is not None:
                    self._forward_into(Xv, val_out, 1024)
                    logs["val_loss"] = float(loss_fn(val_out, Yv))
                    if want_acc:
                        logs["val_accuracy"] = _accuracy(val_out, Yv, kind)
                logs["lr"] = lr
                logs["grad_norm"] = gn_sum / nb if nb else float("nan")
                logs["grad_norm_max"] = gn_max
                if nb:
                    logs.update(_layer_norms(self.grad_norms()))
                logs["time"] = time.perf_counter() - t0
                self.epochs_trained = epoch_base + epoch + 1
                for cb in cbs:
                    cb.on_epoch_end(epoch, logs)
                if bar is not None:
                    bar.close(_short_logs(logs))
                elif verbose == 2:
                    print(f"Epoch {epoch + 1}/{epochs} {format_logs(_short_logs(logs))} "
                          f"{logs['time']:.2f}s", file=sys.stderr)
                if checkpoint is not None:
                    _save_training_checkpoint(self, opt, checkpoint, epoch + 1, schedulers)
                if self.stop_training:
                    history.stopped_early = True
                    break
        except KeyboardInterrupt:
            history.interrupted = True
            if verbose:
                print(f"\nfit: interrupted (Ctrl-C) during epoch {epoch + 1}; returning the "
                      f"history of {len(history.epoch)} completed epochs", file=sys.stderr)
        finally:
            self.stop_training = False
        for cb in cbs:
            cb.on_train_end()
        return history

    # --------------------------------------------------------- inference
    def _forward_into(self, X: np.ndarray, out: np.ndarray, batch_size: int) -> np.ndarray:
        fwd = self.forward
        for s in range(0, len(X), batch_size):
            e = min(s + batch_size, len(X))
            out[s:e] = fwd(X[s:e], training=False)
        return out

    def predict(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """Network outputs in inference mode (dropout off), computed in batches.

        Parameters
        ----------
        X : array (n, in_features)
        batch_size : int

        Returns
        -------
        ndarray (n, out_features), the model's dtype
            Raw outputs (logits for cross-entropy / BCE models): take
            ``argmax(axis=1)`` for classes, or use :meth:`predict_classes`.
        """
        if not is_int(batch_size) or batch_size <= 0:
            raise ValueError(f"batch_size must be an int > 0, got {batch_size!r}")
        X = _as_inputs(self, X)
        out = np.empty((len(X), self.out_features), self.dtype)
        return self._forward_into(X, out, int(batch_size))

    def predict_classes(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """Predicted class per sample (n,) int64: argmax of the outputs, or
        ``output > 0`` for a single-output (BCE) model."""
        out = self.predict(X, batch_size)
        if out.shape[1] == 1:
            return (out[:, 0] > 0).astype(np.int64)
        return out.argmax(axis=1).astype(np.int64)

    def evaluate(self, X: Any, y: Any, loss: Any = None, batch_size: int = 1024,
                 _validated: bool = False) -> dict[str, float]:
        """Loss (and accuracy for classification) on ``(X, y)``, inference mode.

        Parameters
        ----------
        X : array (n, in_features)
        y : array — targets as for :meth:`fit`
        loss : str or loss object, optional
            Defaults to the loss of the last ``fit``.
        batch_size : int

        Returns
        -------
        dict
            ``{"loss": float}`` plus ``"accuracy"`` for classification losses.
        """
        if loss is None:
            loss_fn = getattr(self, "_nc_fit_loss", None)
            if loss_fn is None:
                raise ValueError("evaluate() needs loss= (the model has not been fit yet)")
        else:
            loss_fn = _get_loss(loss)
        kind = _loss_kind(loss_fn)
        if not is_int(batch_size) or batch_size <= 0:
            raise ValueError(f"batch_size must be an int > 0, got {batch_size!r}")
        if not _validated:
            X = _as_inputs(self, X)
            y = _as_targets(self, y, kind)
            if len(X) != len(y):
                raise ValueError(f"X and y have different lengths: {len(X)} vs {len(y)}")
        if len(X) == 0:
            raise ValueError("evaluate() got no samples")
        out = np.empty((len(X), self.out_features), self.dtype)
        self._forward_into(X, out, int(batch_size))
        res = {"loss": float(loss_fn(out, y))}
        if kind in ("ce", "bce"):
            res["accuracy"] = _accuracy(out, y, kind)
        return res


def _short_logs(logs: dict) -> dict:
    return {k: v for k, v in logs.items()
            if k in ("loss", "accuracy", "val_loss", "val_accuracy", "lr")}


# ------------------------------------------------------------- checkpoints

def _check_checkpoint_support() -> None:
    try:
        from . import io
        io.save_checkpoint, io.load_checkpoint  # noqa: B018
    except (ImportError, AttributeError):
        raise NotImplementedError(
            "fit(checkpoint=/resume=) needs nncore.io.save_checkpoint/load_checkpoint, which "
            "this build lacks") from None


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


def _save_training_checkpoint(model: Any, opt: Any, path: Any, epoch: int,
                              schedulers: list) -> None:
    """Weights, optimizer state, dropout step (saved by io), epoch, the shuffle position
    and the state of lr schedulers given to LearningRateScheduler callbacks."""
    _check_checkpoint_support()
    from . import io
    io.save_checkpoint(path, model, opt, epoch=epoch,
                       extra={"epochs_trained": model.epochs_trained,
                              "seed": model.seed,
                              "schedulers": [_jsonable(s.state_dict()) for s in schedulers]})


def _load_training_checkpoint(model: Any, opt: Any, path: Any, schedulers: list) -> int:
    _check_checkpoint_support()
    from . import io
    meta_seed = _checkpoint_seed(io, path)
    if meta_seed is not None and meta_seed != model.seed:
        raise ValueError(f"the checkpoint {path!s} was made by a model with seed={meta_seed}; "
                         f"this one has seed={model.seed} (the seed fixes the shuffle order "
                         "and dropout masks): build the model with the same seed to resume")
    info = io.load_checkpoint(path, model, opt)   # sets weights, optimizer, dropout_step
    extra = info.get("extra") or {}
    epoch = int(info.get("epoch", 0))
    model.epochs_trained = int(extra.get("epochs_trained", epoch))
    saved = extra.get("schedulers") or []
    if len(saved) != len(schedulers):
        raise ValueError(f"the checkpoint {path!s} holds {len(saved)} lr scheduler states, "
                         f"fit has {len(schedulers)} LearningRateScheduler callbacks with "
                         "scheduler objects")
    for sched, st in zip(schedulers, saved):
        sched.load_state_dict(_unjsonable(st))
    return epoch


def _checkpoint_seed(io: Any, path: Any) -> int | None:
    """The model seed stored in a checkpoint's config, or None if not found."""
    import json
    try:
        meta = io.read_header(path)[0]
        return int(json.loads(meta["config"])["seed"])
    except Exception:  # unreadable here: load_checkpoint reports the real problem
        return None
