"""Callbacks: code that ``fit`` runs at the start/end of training, epochs and batches.

What it is: the :class:`Callback` base class and the classic ones —
:class:`EarlyStopping`, :class:`TerminateOnNaN`, :class:`LearningRateScheduler`,
:class:`ModelCheckpoint`. What it is not: the loop itself (``nncore.training``).

A callback asks ``fit`` to stop by setting ``self.model.stop_training = True``;
``fit`` stops after the current batch (distributed: at the end of the epoch, every
rank together). ``logs`` dicts passed to ``on_epoch_end`` hold the epoch's values
(``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ``lr``, ``grad_norm``,
``grad_norm/<layer>``, ``time``); ``on_batch_end`` gets ``loss`` and ``grad_norm`` of
that batch (the dict is reused between batches: copy it to keep it).

In a distributed fit (``fit(..., distributed=True)``) every rank runs the callbacks on
the same epoch logs (over all ranks, but ``time``; batch logs are the rank's own), so
their epoch-end decisions agree, and a stop asked on any rank stops all. What touches
the outside world happens on rank 0 alone (:meth:`Callback.is_chief`):
:class:`ModelCheckpoint` writes files there only, and the callbacks' ``verbose``
messages are printed there only.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np

from .optim.lr_scheduler import ReduceLROnPlateau

__all__ = ["Callback", "EarlyStopping", "TerminateOnNaN", "LearningRateScheduler",
           "ModelCheckpoint"]


class Callback:
    """Base class: override the hooks you need; ``self.model`` is the model being fit,
    ``self.params`` a dict with ``epochs``, ``batch_size``, ``steps``, ``samples``,
    ``optimizer``, ``loss``, ``has_validation``, ``verbose``, ``metrics``, ``rank`` and
    ``world_size`` (0 and 1 unless the fit is distributed)."""

    model: Any = None
    params: dict = {}

    def is_chief(self) -> bool:
        """Whether this process is rank 0 of the fit (always, unless distributed): the
        one that writes files and prints."""
        return self.params.get("rank", 0) == 0

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Before the first epoch (raise here to reject a configuration)."""

    def on_train_end(self, logs: dict | None = None) -> None:
        """After the last epoch, also after early stopping or Ctrl-C."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Before epoch ``epoch`` (0-based)."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """After the epoch's batches and validation; ``logs`` has the epoch's values."""

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Before batch ``batch`` of the current epoch."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """After batch ``batch``: ``logs["loss"]``, ``logs["grad_norm"]``."""


def _overrides(cb: Callback, name: str) -> bool:
    """True if ``cb`` defines hook ``name`` itself (fit calls per-batch hooks only then)."""
    return getattr(type(cb), name) is not getattr(Callback, name)


def _resolve_mode(mode: str, monitor: str) -> str:
    if not isinstance(monitor, str):
        raise TypeError(f"monitor must be the name of a logged value (str) such as "
                        f"'val_loss', got {type(monitor).__name__}")
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
    return mode


def _monitored(cb_name: str, monitor: str, logs: dict) -> Any:
    """``logs[monitor]``, or a KeyError naming the keys there are."""
    if monitor not in logs:
        raise KeyError(f"{cb_name}: {monitor!r} is not in the epoch logs "
                       f"(available: {sorted(logs)})")
    return logs[monitor]


def _require_monitor(cb_name: str, monitor: str, params: dict) -> None:
    if monitor.startswith("val_") and not params.get("has_validation", False):
        raise ValueError(f"{cb_name} monitors {monitor!r} but fit has no validation data; "
                         f"pass validation_split= or validation_data=, or monitor="
                         f"{monitor[4:]!r}")


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str
        A key of the epoch logs, e.g. ``"val_loss"`` (default), ``"loss"``,
        ``"val_accuracy"``.
    patience : int
        Stop after this many epochs in a row without improvement (0 and 1 both
        stop at the first one, as in Keras).
    min_delta : float
        An improvement must beat the best value by more than this.
    restore_best_weights : bool
        When training ends (stopped early or not), put back the parameters of
        the best epoch seen. Only the weights: optimizer state is not rewound.
    mode : {"auto", "min", "max"}
        ``auto``: ``max`` for names containing "acc", else ``min``.
    baseline : float, optional
        Stop if the monitored value does not beat this within ``patience`` epochs:
        an epoch resets the count only when it improves on both the best so far
        and the baseline (by ``min_delta``). ``best`` and the weights restored
        are still those of the best epoch seen, as in Keras.

    Attributes
    ----------
    best, best_epoch, stopped_epoch (-1 when it did not stop), wait.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0,
                 restore_best_weights: bool = True, mode: str = "auto",
                 baseline: float | None = None, verbose: int = 0) -> None:
        if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) \
                or patience < 0:
            raise ValueError(f"patience must be an int >= 0, got {patience!r}")
        if isinstance(min_delta, bool) or not isinstance(
                min_delta, (int, float, np.integer, np.floating)) or not min_delta >= 0:
            raise ValueError(f"min_delta must be a number >= 0, got {min_delta!r}")
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.restore_best_weights = bool(restore_best_weights)
        self.mode = _resolve_mode(mode, monitor)
        if baseline is not None and (isinstance(baseline, bool) or not isinstance(
                baseline, (int, float, np.integer, np.floating)) or math.isnan(baseline)):
            raise ValueError(f"baseline must be None or a number, got {baseline!r}")
        self.baseline = None if baseline is None else float(baseline)
        self.verbose = verbose
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = -1
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = -1
        self.best_weights: np.ndarray | None = None

    def _improved(self, value: float, reference: float | None = None) -> bool:
        ref = self.best if reference is None else reference
        if self.mode == "min":
            return value < ref - self.min_delta
        return value > ref + self.min_delta

    def on_train_begin(self, logs: dict | None = None) -> None:
        _require_monitor("EarlyStopping", self.monitor, self.params)
        self._reset()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = float(_monitored("EarlyStopping", self.monitor, logs or {}))
        if math.isfinite(value) and self._improved(value):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                if self.best_weights is None:
                    self.best_weights = np.array(self.model.flat_params, copy=True)
                else:
                    self.best_weights[...] = self.model.flat_params
            if self.baseline is None or self._improved(value, self.baseline):
                self.wait = 0
                return
        self.wait += 1
        if self.wait >= max(self.patience, 1):
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.flat_params[...] = self.best_weights
        if self.stopped_epoch >= 0 and self.verbose and self.is_chief():
            print(f"EarlyStopping: stopped after epoch {self.stopped_epoch + 1}; best "
                  f"{self.monitor}={self.best:.6g} at epoch {self.best_epoch + 1}")


class TerminateOnNaN(Callback):
    """Stop as soon as a batch's loss or gradient norm is NaN or infinite,
    and say which layer's gradients went non-finite.

    Gradients are computed from the output layer backwards, so the message names
    the non-finite parameter closest to the output first (where the blow-up
    entered the backward pass), then lists the others. The check per batch
    reads two floats the step already produced (loss, global gradient norm);
    the per-parameter norms (``model.grad_norms()``) are read only when it fires.

    Attributes
    ----------
    stopped_epoch, stopped_batch : int (-1 if it never fired)
    bad_parameters : list of str — parameter names with non-finite gradients,
        output side first.
    layer : str or None — the first of them, e.g. ``"2.weight"``; when every
        gradient is finite (the loss itself overflowed), the parameter with the
        largest gradient norm.
    layer_index : int or None — the index in the model of ``layer``'s layer.
    message : str or None
    """

    def __init__(self) -> None:
        self.stopped_epoch = -1
        self.stopped_batch = -1
        self.bad_parameters: list[str] = []
        self.layer: str | None = None
        self.layer_index: int | None = None
        self.message: str | None = None
        self._epoch = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.__init__()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        loss = logs.get("loss", 0.0)
        gnorm = logs.get("grad_norm", 0.0)
        if math.isfinite(loss) and math.isfinite(gnorm):
            return
        norms = self.model.grad_norms()
        bad = [name for name, v in norms.items() if not math.isfinite(v)]
        # backward order: the last layer's parameters get their gradients first
        bad.sort(key=lambda n: -_layer_index(n))
        self.bad_parameters = bad
        self.stopped_epoch, self.stopped_batch = self._epoch, batch
        where = f"epoch {self._epoch + 1}, batch {batch + 1}"
        if bad:
            self.layer = bad[0]
            self.message = (f"TerminateOnNaN: {where}: loss={loss}, grad_norm={gnorm}; "
                            f"gradients first went non-finite in {self.layer} "
                            f"({_describe(self.model, self.layer)}); "
                            f"non-finite: {', '.join(bad)}")
        else:
            # The loss (or the sum of squares in the global norm) overflowed while every
            # gradient is still finite: the largest gradient shows where it is blowing up.
            self.layer = max(norms, key=lambda n: norms[n]) if norms else None
            largest = (f"; the largest gradient is in {self.layer} "
                       f"({_describe(self.model, self.layer)}, norm {norms[self.layer]:.3g})"
                       if self.layer is not None else "")
            self.message = (f"TerminateOnNaN: {where}: loss={loss}, grad_norm={gnorm}; "
                            "every parameter gradient is finite (the loss or the norm "
                            f"overflowed){largest}")
        self.layer_index = _layer_index(self.layer) if self.layer is not None else None
        warnings.warn(self.message, RuntimeWarning, stacklevel=2)
        self.model.stop_training = True


def _layer_index(name: str) -> int:
    head = name.split(".", 1)[0]
    return int(head) if head.isdigit() else -1


def _describe(model: Any, pname: str | None) -> str:
    if pname is None:
        return ""
    i = _layer_index(pname)
    layers = getattr(model, "layers", None)
    if layers is None or not 0 <= i < len(layers):
        return pname
    layer = layers[i]
    fin = getattr(layer, "in_features", None)
    fout = getattr(layer, "out_features", None)
    shape = f" {fin}->{fout}" if fin is not None and fout is not None else ""
    return f"layer {i}: {type(layer).__name__}{shape}"


class LearningRateScheduler(Callback):
    """Set the learning rate every epoch.

    Parameters
    ----------
    schedule
        Either a callable ``schedule(epoch, lr) -> new_lr`` called before each
        epoch (Keras style; ``lr`` is the current rate of the first group, the
        result is set on every group), or a scheduler object from
        ``nncore.optim.lr_scheduler`` built on the optimizer being used: its
        ``step()`` is called after each epoch (PyTorch style);
        ``ReduceLROnPlateau.step`` gets ``logs[monitor]``.
    monitor : str
        Value given to ``ReduceLROnPlateau`` (default ``"val_loss"``, or
        ``"loss"`` when fit has no validation data).
    """

    def __init__(self, schedule: Callable[[int, float], float] | Any,
                 monitor: str | None = None, verbose: int = 0) -> None:
        if not (callable(schedule) or hasattr(schedule, "step")):
            raise TypeError("schedule must be a callable (epoch, lr) -> lr or an lr "
                            f"scheduler with .step(), got {type(schedule).__name__}")
        self.schedule = schedule
        self.monitor = monitor
        self._monitor_given = monitor
        self.verbose = verbose

    @property
    def scheduler(self) -> Any:
        """The lr scheduler object when ``schedule`` is one (PyTorch style: it has
        ``step`` and ``optimizer``; ``fit`` saves its state in checkpoints), else None."""
        if hasattr(self.schedule, "step") and hasattr(self.schedule, "optimizer"):
            return self.schedule
        return None

    def on_train_begin(self, logs: dict | None = None) -> None:
        opt = self.params.get("optimizer")
        if self.scheduler is not None and opt is not None and self.schedule.optimizer is not opt:
            raise ValueError("LearningRateScheduler: the scheduler was built on a different "
                             "optimizer than the one fit uses; pass that optimizer object "
                             "to fit(optimizer=...)")
        self.monitor = self._monitor_given   # the default is chosen again for each fit
        if self.monitor is None:
            self.monitor = "val_loss" if self.params.get("has_validation") else "loss"
        if isinstance(self.schedule, ReduceLROnPlateau):
            _require_monitor("LearningRateScheduler", self.monitor, self.params)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.scheduler is not None:
            return
        opt = self.params["optimizer"]
        lr = float(opt.param_groups[0]["lr"])
        new = self.schedule(epoch, lr)
        try:
            new = float(new)
        except (TypeError, ValueError):
            raise TypeError(f"the schedule returned {new!r}; expected a float") from None
        if not (math.isfinite(new) and new >= 0):
            raise ValueError(f"the schedule returned lr={new} at epoch {epoch}; expected a "
                             "finite lr >= 0")
        for g in opt.param_groups:
            g["lr"] = new
        if self.verbose and self.is_chief():
            print(f"Epoch {epoch + 1}: LearningRateScheduler sets lr to {new:.6g}")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.scheduler is None:
            return
        if isinstance(self.schedule, ReduceLROnPlateau):
            self.schedule.step(_monitored("LearningRateScheduler", self.monitor, logs or {}))
        else:
            self.schedule.step()


class ModelCheckpoint(Callback):
    """Save the model (``model.save``, the file ``nncore.io.load`` reads) after epochs.

    Parameters
    ----------
    path : str
        File path; may hold ``{epoch}`` (1-based) and log keys, e.g.
        ``"ckpt-{epoch:03d}-{val_loss:.3f}.safetensors"``.
    monitor : str
        Value deciding what "best" is when ``save_best_only``.
    save_best_only : bool
        Save only when ``monitor`` improved on the best so far.
    mode : {"auto", "min", "max"}

    Attributes
    ----------
    saved : list of str — paths written, in order; best, best_epoch.

    Notes
    -----
    In a distributed fit only rank 0 writes (``saved`` stays empty on the other
    ranks; ``best`` and ``best_epoch`` are the same on all of them).
    """

    def __init__(self, path: str, monitor: str = "val_loss", save_best_only: bool = False,
                 mode: str = "auto", verbose: int = 0) -> None:
        if not isinstance(path, (str, bytes)) and not hasattr(path, "__fspath__"):
            raise TypeError(f"path must be a str or path-like, got {type(path).__name__}")
        self.path = str(path)
        self.monitor = monitor
        self.save_best_only = bool(save_best_only)
        self.mode = _resolve_mode(mode, monitor)
        self.verbose = verbose
        self.saved: list[str] = []
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = -1

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.save_best_only:
            _require_monitor("ModelCheckpoint", self.monitor, self.params)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self.save_best_only:
            v = float(_monitored("ModelCheckpoint", self.monitor, logs))
            better = v < self.best if self.mode == "min" else v > self.best
            if not (math.isfinite(v) and better):
                return
            self.best, self.best_epoch = v, epoch
        if not self.is_chief():   # distributed: rank 0 alone writes the replicas' model
            return
        path = self.path.format(epoch=epoch + 1, **logs)
        self.model.save(path)
        self.saved.append(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved the model to {path}")
