"""Learning-rate schedules acting on an optimizer's ``param_groups[i]["lr"]``.

Same names, arguments and semantics as PyTorch's ``torch.optim.lr_scheduler``
(documented behaviour, written from the formulas), so people can move between
the two:

- the constructor records ``initial_lr`` in every group and performs step 0
  (``last_epoch`` goes from -1 to 0 and the lr of epoch 0 is set);
- call :meth:`LRScheduler.step` once per epoch *after* the optimizer steps of
  that epoch; :meth:`LRScheduler.get_last_lr` returns the lrs now in effect;
- :class:`ReduceLROnPlateau` instead takes the monitored value:
  ``scheduler.step(val_loss)``.

Not here: per-batch warm restarts, cyclic and one-cycle schedules.

Any object with a ``param_groups`` list of dicts holding ``"lr"`` works as
the optimizer (the nncore optimizers read the lr from there on every step).
"""
from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from . import _checks

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "LinearLR", "LinearWarmup", "ReduceLROnPlateau"]


def _check_optimizer(optimizer: Any) -> list:
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(groups, list) or not groups or not all(
            isinstance(g, dict) and "lr" in g for g in groups):
        raise TypeError("expected an optimizer with a non-empty param_groups list of dicts "
                        f"holding 'lr', got {type(optimizer).__name__}")
    return groups


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _positive_int(name: str, v: Any) -> int:
    if not _is_int(v) or v <= 0:
        raise ValueError(f"{name} must be a positive int, got {v!r}")
    return int(v)


def _nonneg_int(name: str, v: Any) -> int:
    if not _is_int(v) or v < 0:
        raise ValueError(f"{name} must be an int >= 0, got {v!r}")
    return int(v)


class _SchedulerState:
    """What every schedule shares: the last lrs and a state dict without the optimizer."""

    optimizer: Any
    _last_lr: list[float]

    def get_last_lr(self) -> list[float]:
        """The lrs set by the last :meth:`step` (one per param group)."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Everything but the optimizer: enough to resume the schedule (a copy)."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict` (the optimizer stays the one given at construction).

        The state must come from a schedule of the same kind over as many param
        groups (it holds the same entries); anything else is a ValueError naming
        the difference, and nothing is changed.
        """
        self.check_state_dict(state)
        self.__dict__.update(copy.deepcopy({k: v for k, v in state.items() if k != "optimizer"}))

    def check_state_dict(self, state: dict) -> None:
        """Raise what :meth:`load_state_dict` would raise for ``state``, changing nothing
        (``fit(resume=...)`` checks a checkpoint's schedules before it loads anything)."""
        name = type(self).__name__
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from state_dict(), got {type(state).__name__}")
        given = {k: v for k, v in state.items() if k != "optimizer"}
        mine = set(self.__dict__) - {"optimizer"}
        missing, unexpected = sorted(mine - set(given)), sorted(set(given) - mine)
        if missing or unexpected:
            raise ValueError(f"{name}.load_state_dict: not the state of a {name} (missing "
                             f"{missing}, unexpected {unexpected}); was it saved by another "
                             f"schedule?")
        n = len(self.optimizer.param_groups)
        for k in ("base_lrs", "min_lrs", "_last_lr"):
            if k in given and (not isinstance(given[k], (list, tuple)) or len(given[k]) != n):
                got = len(given[k]) if isinstance(given[k], (list, tuple)) else repr(given[k])
                raise ValueError(f"{name}.load_state_dict: the state is for {got} param groups "
                                 f"({k}), this optimizer has {n}")


class LRScheduler(_SchedulerState):
    """Base class: a schedule computing each group's lr from ``last_epoch``.

    Parameters
    ----------
    optimizer
        The optimizer whose ``param_groups[i]["lr"]`` are set.
    last_epoch : int
        Index of the last epoch done; -1 starts afresh (and stores
        ``initial_lr`` in each group). To resume, pass the saved
        ``last_epoch`` with groups that already hold ``initial_lr`` —
        or better, use :meth:`state_dict` / :meth:`load_state_dict`.
    """

    def __init__(self, optimizer: Any, last_epoch: int = -1) -> None:
        groups = _check_optimizer(optimizer)
        if not _is_int(last_epoch) or last_epoch < -1:
            raise ValueError(f"last_epoch must be an int >= -1, got {last_epoch!r}")
        last_epoch = int(last_epoch)
        self.optimizer = optimizer
        if last_epoch == -1:
            for g in groups:
                g.setdefault("initial_lr", g["lr"])
        else:
            for i, g in enumerate(groups):
                if "initial_lr" not in g:
                    raise KeyError(f"param_groups[{i}] has no 'initial_lr' while resuming "
                                   f"with last_epoch={last_epoch}")
        self.base_lrs = [float(g["initial_lr"]) for g in groups]
        self.last_epoch = last_epoch
        self._last_lr = [float(g["lr"]) for g in groups]
        self._constructing = True   # get_lr may tell the constructor's step (not saved)
        try:
            self.step()
        finally:
            del self._constructing

    _constructing = False

    # subclasses implement one of these two
    def get_lr(self) -> list[float]:
        """The lrs for ``self.last_epoch``, given the lrs of the previous epoch (chainable)."""
        return self._closed_form_lr()

    def _closed_form_lr(self) -> list[float]:
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and write the new lr into every group."""
        self.last_epoch += 1
        lrs = self.get_lr()
        for g, lr in zip(self.optimizer.param_groups, lrs):
            g["lr"] = float(lr)
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr})"


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs.

    In closed form (no other lr changes): ``lr = base_lr * gamma ** (epoch // step_size)``.
    """

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.step_size = _positive_int("step_size", step_size)
        self.gamma = _checks.nonneg(gamma, "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lrs = [g["lr"] for g in self.optimizer.param_groups]
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return lrs
        return [lr * self.gamma for lr in lrs]

    def _closed_form_lr(self) -> list[float]:
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each epoch listed in ``milestones``."""

    def __init__(self, optimizer: Any, milestones: list[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        if not hasattr(milestones, "__iter__") or not all(_is_int(m) for m in milestones):
            raise TypeError(f"milestones must be a list of int epochs, got {milestones!r}")
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = _checks.nonneg(gamma, "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        k = self.milestones.count(self.last_epoch)
        return [g["lr"] * self.gamma ** k for g in self.optimizer.param_groups]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch: ``lr = base_lr * gamma ** epoch``."""

    def __init__(self, optimizer: Any, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = _checks.positive(gamma, "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lrs = [g["lr"] for g in self.optimizer.param_groups]
        if self.last_epoch == 0:
            return lrs
        return [lr * self.gamma for lr in lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from ``base_lr`` to ``eta_min`` over ``T_max`` epochs.

    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``
    (SGDR's formula without restarts; after ``T_max`` the cosine continues, so
    the lr rises again over the next ``T_max`` epochs, as in PyTorch).
    Chainable like PyTorch's: each step carries the current lr along the cosine,
    ``lr = eta_min + (lr - eta_min) * (1 + cos(pi e / T_max)) / (1 + cos(pi (e - 1)
    / T_max))`` (leaving a trough, where that ratio is 0/0: ``lr + (base_lr -
    eta_min) * (1 - cos(pi / T_max)) / 2``), so a warmup or another schedule
    stepped beside it, or a manual lr change, keeps its effect; alone, this is
    the closed form above. Built with ``last_epoch >= 0`` (resuming), the first
    lr is the closed form's. With ``eta_min=0`` the lr reaches exactly 0 at
    epoch ``T_max``; the optimizers accept that (only their constructors demand
    lr > 0).
    """

    def __init__(self, optimizer: Any, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        self.T_max = _positive_int("T_max", T_max)
        self.eta_min = _checks.nonneg(eta_min, "eta_min")
        super().__init__(optimizer, last_epoch)

    def _closed_form_lr(self) -> list[float]:
        c = (1.0 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2.0
        return [self.eta_min + (b - self.eta_min) * c for b in self.base_lrs]

    def get_lr(self) -> list[float]:
        e, T, lo = self.last_epoch, self.T_max, self.eta_min
        lrs = [g["lr"] for g in self.optimizer.param_groups]
        if e == 0:
            return lrs
        if self._constructing:   # resuming at last_epoch + 1
            return self._closed_form_lr()
        if (e - 1 - T) % (2 * T) == 0:   # epoch e - 1 was a trough: 1 + cos = 0 there
            up = (1.0 - math.cos(math.pi / T)) / 2.0
            return [lr + (b - lo) * up for lr, b in zip(lrs, self.base_lrs)]
        ratio = (1.0 + math.cos(math.pi * e / T)) / (1.0 + math.cos(math.pi * (e - 1) / T))
        return [lo + (lr - lo) * ratio for lr in lrs]


class LinearLR(LRScheduler):
    """Scale the lr by a factor going linearly from ``start_factor`` to ``end_factor``.

    ``lr = base_lr * f(epoch)``, ``f(e) = start + (end - start) * min(e, total_iters) /
    total_iters``; after ``total_iters`` epochs the factor stays at ``end_factor``.
    PyTorch's LinearLR (same defaults), chainable like it: epoch 0 scales the current
    lr by ``f(0)``, each later step by ``f(e) / f(e - 1)``, so a schedule stepped
    beside it (e.g. ExponentialLR after a warmup) keeps its effect; alone, this is
    the closed form above.
    """

    def __init__(self, optimizer: Any, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        _checks.number(start_factor, "start_factor")
        _checks.number(end_factor, "end_factor")
        if not 0.0 < start_factor <= 1.0:
            raise ValueError(f"start_factor must be in (0, 1], got {start_factor!r}")
        if not 0.0 <= end_factor <= 1.0:
            raise ValueError(f"end_factor must be in [0, 1], got {end_factor!r}")
        self.start_factor = float(start_factor)
        self.end_factor = float(end_factor)
        self.total_iters = _positive_int("total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def _factor(self) -> float:
        t = min(self.last_epoch, self.total_iters) / self.total_iters
        return self.start_factor + (self.end_factor - self.start_factor) * t

    def _closed_form_lr(self) -> list[float]:
        f = self._factor()
        return [b * f for b in self.base_lrs]

    def get_lr(self) -> list[float]:
        lrs = [g["lr"] for g in self.optimizer.param_groups]
        e = self.last_epoch
        if e == 0:
            return [lr * self.start_factor for lr in lrs]
        if e > self.total_iters:
            return lrs
        # f(e - 1) > 0: start_factor > 0 and e - 1 < total_iters
        d = self.end_factor - self.start_factor
        ratio = (self.start_factor + d * e / self.total_iters) / \
            (self.start_factor + d * (e - 1) / self.total_iters)
        return [lr * ratio for lr in lrs]


class LinearWarmup(LinearLR):
    """Linear warmup: the lr rises from ``start_factor * base_lr`` to ``base_lr``
    over ``warmup_epochs`` epochs (or steps, if you call :meth:`step` per batch),
    then stays there. A LinearLR with ``end_factor = 1``.
    """

    def __init__(self, optimizer: Any, warmup_epochs: int, start_factor: float = 0.1,
                 last_epoch: int = -1) -> None:
        super().__init__(optimizer, start_factor=start_factor, end_factor=1.0,
                         total_iters=warmup_epochs, last_epoch=last_epoch)


class ReduceLROnPlateau(_SchedulerState):
    """Reduce the lr by ``factor`` when a monitored value stops improving.

    ``step(value)`` once per epoch. The value improves when (``mode="min"``,
    ``threshold_mode="rel"``) ``value < best * (1 - threshold)``; ``"abs"``:
    ``value < best - threshold``; ``mode="max"`` mirrors both. After more than
    ``patience`` epochs without improvement each group's lr becomes
    ``max(lr * factor, min_lr)`` (skipped when the change is below ``eps``),
    then ``cooldown`` epochs pass before bad epochs are counted again.
    """

    def __init__(self, optimizer: Any, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | list[float] = 0.0,
                 eps: float = 1e-8) -> None:
        groups = _check_optimizer(optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        if not 0.0 <= _checks.number(factor, "factor") < 1.0:
            raise ValueError(f"factor must be in [0, 1), got {factor!r}")
        patience = _nonneg_int("patience", patience)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(groups):
                raise ValueError(f"expected {len(groups)} min_lrs, got {len(min_lr)}")
            self.min_lrs = [_checks.nonneg(m, "min_lr") for m in min_lr]
        else:
            self.min_lrs = [_checks.nonneg(min_lr, "min_lr")] * len(groups)
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, float(factor), patience
        self.threshold = _checks.nonneg(threshold, "threshold")
        self.threshold_mode = threshold_mode
        self.cooldown = _nonneg_int("cooldown", cooldown)
        self.eps = _checks.nonneg(eps, "eps")
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [float(g["lr"]) for g in groups]

    def is_better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return a < best * (1.0 - self.threshold)
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (1.0 + self.threshold)
        return a > best + self.threshold

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def step(self, metrics: float) -> None:
        """Record this epoch's monitored value; maybe reduce the lr."""
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for g, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(g["lr"])
                new = max(old * self.factor, min_lr)
                if old - new > self.eps:
                    g["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]

    def __repr__(self) -> str:
        return (f"ReduceLROnPlateau(mode={self.mode!r}, factor={self.factor}, "
                f"patience={self.patience}, best={self.best}, lr={self._last_lr})")
