"""Loss functions (nncore.losses): MSE, L1, Huber, BCE with logits, cross-entropy, Poisson.

Each loss computes the value and the gradient with respect to the network
output in ONE fused C kernel (``nn_sloss`` / ``nn_dloss``), stable everywhere
(log-sum-exp, never log(0)). ``loss_fn(out, y)`` returns a float and keeps the
gradient; ``loss_fn.backward()`` returns it::

    loss = loss_fn(out, y)                 # out (batch, outputs)
    model.backward(loss_fn.backward())     # d loss / d out, (batch, outputs)

Targets are validated by ``nncore._targets.check_target``, the one check shared
with ``ops.loss``, ``train_step``, ``fit`` and ``evaluate``: wrong shape, NaN/Inf,
out-of-range or non-integer class labels raise ValueError/TypeError naming what
was expected. Float targets are cast to the output's dtype.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import _core, _registry
from ._targets import check_sample_weight, check_target
from ._validate import finite_float

__all__ = ["Loss", "MSELoss", "L1Loss", "HuberLoss", "BCEWithLogitsLoss", "CrossEntropyLoss",
           "PoissonLoss", "get", "from_config", "output_kind", "LOSSES"]

# nn_loss_kind / nn_reduction codes of nncore.h, from the bindings
_MSE, _L1, _HUBER, _BCE, _CE_LABELS, _CE_PROBS, _POISSON = (
    _registry.LOSS_KINDS[k] for k in ("mse", "l1", "huber", "bce_logits", "ce_labels", "ce_probs",
                                      "poisson"))
_REDUCTIONS = _registry.REDUCTIONS




def _as_out(out: Any) -> np.ndarray:
    if not isinstance(out, np.ndarray):
        out = np.asarray(out)
    if out.dtype not in (np.float32, np.float64):
        if out.dtype.kind not in "fiu":
            raise TypeError(f"network output must be a float array, got dtype {out.dtype}")
        out = out.astype(np.float64)
    if out.ndim != 2:
        raise ValueError(f"network output must be 2-D (batch, outputs), got shape {out.shape}")
    if out.shape[0] == 0 or out.shape[1] == 0:
        raise ValueError(f"network output is empty: shape {out.shape}")
    return np.ascontiguousarray(out)


class Loss:
    """Base class: ``loss_fn(out, y) -> float``, then ``loss_fn.backward() -> d loss / d out``.

    Parameters
    ----------
    reduction : {"mean", "sum"}
        Mean over all elements (MSE, L1, Huber, BCE) or over rows (cross-entropy);
        or the plain sum.
    """

    is_classification = False
    _kind = -1
    _target_kind = "values"  # how check_target reads targets: "values", "bce", "ce", "counts"

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction
        self._grad: np.ndarray | None = None

    # -- what train_step needs -------------------------------------------------
    def _param(self) -> float:
        return 0.0

    def _c_spec(self, labels: bool = False) -> tuple[int, int, float]:
        """(nn_loss_kind, nn_reduction, param) codes for the C kernels."""
        return self._kind, _REDUCTIONS[self.reduction], self._param()

    def _prepare_target(self, y: Any, shape: tuple, dtype: np.dtype, what: str | None = None):
        """Validate y for outputs of `shape`; returns (kind, red, param, target, labels)."""
        t, labels = check_target(y, shape, dtype, self._target_kind,
                                 what or f"{type(self).__name__} target")
        kind, red, param = self._c_spec(labels is not None)
        return kind, red, param, t, labels

    def check_target(self, y: Any, shape: tuple, dtype: Any, what: str | None = None
                     ) -> np.ndarray:
        """``y`` as this loss reads it for outputs of ``shape`` (batch, outputs) and ``dtype``:
        class labels (batch,) int64 (cross-entropy with labels), else a C-contiguous
        ``dtype`` array of ``shape``. The same check as every call of the loss, ``train_step``,
        ``fit`` and ``evaluate``; ``what`` names ``y`` in error messages."""
        t, labels = self._prepare_target(y, shape, dtype, what)[3:]
        return t if labels is None else labels

    # -- public -----------------------------------------------------------------
    def __call__(self, out: Any, y: Any, sample_weight: Any = None) -> float:
        """The loss of `out` (batch, outputs) against `y`; keeps d loss / d out for backward().

        ``sample_weight`` (batch,): row weights, the mean becomes
        ``sum_i w_i l_i / sum_i w_i`` (weight 2 counts a row twice, 0 drops it)."""
        out = _as_out(out)
        kind, red, param, t, labels = self._prepare_target(y, out.shape, out.dtype)
        w = check_sample_weight(sample_weight, out.shape[0], out.dtype)
        loss, grad = _core._net_loss(kind, red, param, out, t, labels, True, w)
        self._grad = grad
        return float(loss)

    def backward(self) -> np.ndarray:
        """d loss / d out of the last call, shape (batch, outputs), the output's dtype."""
        if self._grad is None:
            raise ValueError(f"{type(self).__name__}.backward() needs a call loss_fn(out, y) first")
        return self._grad

    def get_config(self) -> dict:
        cfg = {"type": type(self).__name__, "reduction": self.reduction}
        cfg.update(self._extra_config())
        return cfg

    def _extra_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        args = [f"{k}={v!r}" for k, v in self._extra_config().items()]
        if self.reduction != "mean":
            args.append(f"reduction={self.reduction!r}")
        return f"{type(self).__name__}({', '.join(args)})"


class MSELoss(Loss):
    """Mean squared error: mean((out - y)^2). Target shape (batch, outputs)."""
    _kind = _MSE


class L1Loss(Loss):
    """Mean absolute error: mean(|out - y|); gradient sign(out - y) (0 at 0)."""
    _kind = _L1


class HuberLoss(Loss):
    """Huber: 0.5 d^2 for |d| <= delta, else delta (|d| - 0.5 delta); d = out - y."""
    _kind = _HUBER

    def __init__(self, delta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        d = finite_float(delta, "delta")
        if d <= 0:
            raise ValueError(f"delta must be > 0, got {d}")
        self.delta = d

    def _param(self) -> float:
        return self.delta

    def _extra_config(self) -> dict:
        return {"delta": self.delta}


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy from logits (sigmoid inside, stable). Targets in [0, 1]."""
    _kind = _BCE
    _target_kind = "bce"
    is_classification = True


class PoissonLoss(Loss):
    """Poisson regression on log rates: half the Poisson deviance of rate exp(out).

    ``l = exp(out) - y out + y (log y - 1)`` (the last term 0 for y = 0): 0 where
    exp(out) = y, and scikit-learn's ``MLPRegressor(loss='poisson')`` loss (its
    ``HalfPoissonLoss``) summed over outputs then averaged over rows times
    1 / outputs. Gradient ``exp(out) - y``, the same as PyTorch's
    ``PoissonNLLLoss(log_input=True)``, whose value leaves out ``y (log y - 1)``.
    Targets: counts or rates, finite and >= 0. Computed in C like the other losses.
    """
    _kind = _POISSON
    _target_kind = "counts"


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy from logits (log-sum-exp inside).

    Targets: integer class labels (batch,) in [0, classes), or probability
    rows (batch, classes) (e.g. one-hot). ``label_smoothing`` in [0, 1) mixes
    the target with the uniform distribution. Mean reduction averages over rows.
    Float labels are accepted when every value is an integer (e.g. read from CSV).
    """
    _kind = _CE_LABELS
    _target_kind = "ce"
    is_classification = True

    def __init__(self, label_smoothing: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        s = finite_float(label_smoothing, "label_smoothing")
        if not 0.0 <= s < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {s}")
        self.label_smoothing = s

    def _param(self) -> float:
        return self.label_smoothing

    def _extra_config(self) -> dict:
        return {"label_smoothing": self.label_smoothing}

    def _c_spec(self, labels: bool = True) -> tuple[int, int, float]:
        return (_CE_LABELS if labels else _CE_PROBS), _REDUCTIONS[self.reduction], self.label_smoothing


LOSSES = {
    "mse": MSELoss, "mean_squared_error": MSELoss,
    "l1": L1Loss, "mae": L1Loss,
    "huber": HuberLoss,
    "bce": BCEWithLogitsLoss, "binary_cross_entropy": BCEWithLogitsLoss,
    "bce_with_logits": BCEWithLogitsLoss,
    "cross_entropy": CrossEntropyLoss, "ce": CrossEntropyLoss,
    "categorical_cross_entropy": CrossEntropyLoss,
    "poisson": PoissonLoss,
}


def get(loss: Any) -> Loss:
    """A loss object from a name ("mse", "l1", "huber", "bce", "cross_entropy"/"ce"), a Loss
    subclass or an instance (returned as is)."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, type) and issubclass(loss, Loss):
        return loss()
    if isinstance(loss, str):
        key = loss.lower()
        if key in LOSSES:
            return LOSSES[key]()
        raise ValueError(f"unknown loss {loss!r}; expected one of {sorted(LOSSES)} or a Loss object")
    raise TypeError(f"loss must be a name or a nncore.losses.Loss, got {type(loss).__name__}")


def output_kind(loss: Loss) -> str:
    """What a network trained with ``loss`` outputs: ``"ce"`` (class logits: softmax gives
    probabilities, argmax the class; cross-entropy and other classification losses),
    ``"bce"`` (independent logits: sigmoid, ``> 0``) or ``"regression"`` (values)."""
    if isinstance(loss, CrossEntropyLoss):  # subclasses too
        return "ce"
    if isinstance(loss, BCEWithLogitsLoss):
        return "bce"
    if getattr(loss, "is_classification", False):
        return "ce"
    return "regression"


def from_config(cfg: dict) -> Loss:
    """Rebuild a loss from ``get_config()``."""
    cfg = dict(cfg)
    name = cfg.pop("type", None)
    classes = {c.__name__: c for c in (MSELoss, L1Loss, HuberLoss, BCEWithLogitsLoss,
                                       CrossEntropyLoss, PoissonLoss)}
    if name not in classes:
        raise ValueError(f"unknown loss type {name!r}; expected one of {sorted(classes)}")
    return classes[name](**cfg)
