"""History: what ``fit`` records per epoch (a Callback that ``fit`` always installs).

``history.history`` maps a name to a list with one value per epoch:

- ``loss``: mean of the batch losses of the epoch (training mode: dropout on,
  weights changing during the epoch — as in Keras);
- ``accuracy`` (classification losses): on the training samples seen in the
  epoch, computed AFTER the epoch in inference mode (dropout off) by one extra
  forward pass (``train_step`` does not hand back its outputs) — so it is the
  end-of-epoch accuracy, not Keras's running average; ``fit(metrics=[])``
  skips it;
- ``val_loss``, ``val_accuracy``: on the validation data after the epoch,
  inference mode (dropout off);
- ``lr``: the first param group's learning rate used during the epoch;
- ``grad_norm``: MEAN over the epoch's batches of the global L2 gradient norm
  before clipping (``model.last_grad_norm`` after each step); ``grad_norm_max``:
  their maximum;
- ``grad_norm/<i>``: per-layer L2 norm (weight and bias together) of layer
  ``i``'s gradients after the LAST batch of the epoch (after clipping, if
  clipping is on) — the gradient-explosion diagnostic;
- ``penalty`` (only with ``fit(include_penalty=True)``): mean over the batches
  of the optimizer's L1/L2 term at each step's pre-update weights, which
  ``loss`` then includes;
- ``time``: wall-clock seconds of the epoch (training + validation).

Not here: drawing (``nncore.plotting``), the loop (``nncore.training``).
"""
from __future__ import annotations

import os
from typing import Any

from .callbacks import Callback
from .plotting import plot_history

__all__ = ["History"]


class History(Callback):
    """Per-epoch record of training.

    Attributes
    ----------
    history : dict[str, list[float]]
        One list per logged value, one entry per completed epoch.
    epoch : list[int]
        Indices (0-based) of the completed epochs.
    stopped_early : bool
        A callback set ``model.stop_training``.
    interrupted : bool
        Ctrl-C (KeyboardInterrupt) ended training; the partial epoch is not in
        ``history`` but its steps did update the model.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.stopped_early = False
        self.interrupted = False

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        n = len(self.epoch)
        self.epoch.append(epoch)
        for k, v in logs.items():
            lst = self.history.get(k)
            if lst is None:  # a key first seen now: earlier epochs lacked it
                lst = self.history[k] = [float("nan")] * n
            lst.append(v)
        for k, lst in self.history.items():
            if len(lst) == n:
                lst.append(float("nan"))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __len__(self) -> int:
        return len(self.epoch)

    def last(self) -> dict[str, Any]:
        """The values of the last completed epoch (empty dict before the first)."""
        return {k: v[-1] for k, v in self.history.items() if v}

    def plot(self, path: str | os.PathLike | None = None, **kwargs: Any) -> Any:
        """Draw the curves (loss, accuracy, lr, grad norms) with ``nncore.plotting``.

        Parameters
        ----------
        path : str, optional
            Write the figure to this file; None returns it without saving.
        """
        return plot_history(self, path, **kwargs)

    def __repr__(self) -> str:
        keys = ", ".join(self.history)
        return f"History(epochs={len(self.epoch)}, keys=[{keys}])"
