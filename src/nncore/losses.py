"""Loss functions (nncore.losses): MSE, L1, Huber, BCE with logits, cross-entropy.

Each loss computes the value and the gradient with respect to the network
output in ONE fused C kernel (``nn_sloss`` / ``nn_dloss``), stable everywhere
(log-sum-exp, never log(0)). ``loss_fn(out, y)`` returns a float and keeps the
gradient; ``loss_fn.backward()`` returns it::

    loss = loss_fn(out, y)                 # out (batch, outputs)
    model.backward(loss_fn.backward())     # d loss / d out, (batch, outputs)

Targets are validated: wrong shape, NaN/Inf, out-of-range or non-integer class
labels raise ValueError/TypeError naming what was expected. Float targets are
cast to the output's dtype.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import _core, _registry
from ._validate import finite_float

__all__ = ["Loss", "MSELoss", "L1Loss", "HuberLoss", "BCEWithLogitsLoss", "CrossEntropyLoss",
           "get", "LOSSES"]

# nn_loss_kind / nn_reduction codes of nncore.h, from the bindings
_MSE, _L1, _HUBER, _BCE, _CE_LABELS, _CE_PROBS = (
    _registry.LOSS_KINDS[k] for k in ("mse", "l1", "huber", "bce_logits", "ce_labels", "ce_probs"))
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


def _float_target(y: Any, shape: tuple, dtype: np.dtype, who: str) -> np.ndarray:
    """y as a C-contiguous `dtype` array of `shape`, finite; (batch,) accepted for 1 output."""
    if not isinstance(y, np.ndarray):
        try:
            y = np.asarray(y)
        except Exception as e:  # ragged lists and the like
            raise TypeError(f"{who}: target must be array-like, got {type(y).__name__}") from e
    if y.dtype.kind not in "fiub":
        raise TypeError(f"{who}: target must be numeric, got dtype {y.dtype}")
    if y.shape != shape:
        if y.ndim == 1 and shape[1] == 1 and y.shape[0] == shape[0]:
            y = y.reshape(shape)
        else:
            raise ValueError(f"{who}: target shape {y.shape} does not match the output shape "
                             f"{shape}")
    y = np.ascontiguousarray(y, dtype=dtype)
    if not np.isfinite(y).all():
        raise ValueError(f"{who}: target contains NaN or Inf")
    return y


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

    def _prepare_target(self, y: Any, shape: tuple, dtype: np.dtype):
        """Validate y for outputs of `shape`; returns (kind, red, param, target, labels)."""
        t = _float_target(y, shape, dtype, type(self).__name__)
        kind, red, param = self._c_spec()
        return kind, red, param, t, None

    # -- public -----------------------------------------------------------------
    def __call__(self, out: Any, y: Any) -> float:
        """The loss of `out` (batch, outputs) against `y`; keeps d loss / d out for backward()."""
        out = _as_out(out)
        kind, red, param, t, labels = self._prepare_target(y, out.shape, out.dtype)
        loss, grad = _core._net_loss(kind, red, param, out, t, labels, True)
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
    is_classification = True

    def _prepare_target(self, y, shape, dtype):
        t = _float_target(y, shape, dtype, "BCEWithLogitsLoss")
        if t.size and (t.min() < 0 or t.max() > 1):
            raise ValueError("BCEWithLogitsLoss: targets must lie in [0, 1], got values in "
                             f"[{t.min()}, {t.max()}]")
        return self._kind, _REDUCTIONS[self.reduction], 0.0, t, None


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy from logits (log-sum-exp inside).

    Targets: integer class labels (batch,) in [0, classes), or probability
    rows (batch, classes) (e.g. one-hot). ``label_smoothing`` in [0, 1) mixes
    the target with the uniform distribution. Mean reduction averages over rows.
    Float labels are accepted when every value is an integer (e.g. read from CSV).
    """
    _kind = _CE_LABELS
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

    def _prepare_target(self, y, shape, dtype):
        if not isinstance(y, np.ndarray):
            try:
                y = np.asarray(y)
            except Exception as e:
                raise TypeError(f"CrossEntropyLoss: target must be array-like, got "
                                f"{type(y).__name__}") from e
        batch, classes = shape
        red = _REDUCTIONS[self.reduction]
        if y.ndim == 2 and y.shape == tuple(shape) and classes > 1:
            t = _float_target(y, shape, dtype, "CrossEntropyLoss")
            if t.min() < 0 or t.max() > 1:
                raise ValueError("CrossEntropyLoss: probability targets must lie in [0, 1], got "
                                 f"values in [{t.min()}, {t.max()}]")
            return _CE_PROBS, red, self.label_smoothing, t, None
        if y.ndim == 2 and y.shape == (batch, 1):
            y = y.reshape(batch)
        if y.ndim != 1 or y.shape[0] != batch:
            raise ValueError(f"CrossEntropyLoss: target must be class labels of shape ({batch},) "
                             f"or probabilities of shape ({batch}, {classes}), got shape {y.shape}")
        if y.dtype.kind in "iu":
            labels = y
        elif y.dtype.kind == "f":
            if not np.isfinite(y).all():
                raise ValueError("CrossEntropyLoss: labels contain NaN or Inf")
            if not np.array_equal(y, np.floor(y)):
                raise TypeError("CrossEntropyLoss: class labels must be integers, got "
                                f"non-integer values of dtype {y.dtype}")
            labels = y
        else:
            raise TypeError(f"CrossEntropyLoss: class labels must be integers, got dtype {y.dtype}")
        lo, hi = labels.min(), labels.max()
        if lo < 0 or hi >= classes:
            raise ValueError(f"CrossEntropyLoss: labels must be in [0, {classes}), got values in "
                             f"[{lo}, {hi}]")
        labels = np.ascontiguousarray(labels, dtype=np.int64)
        return _CE_LABELS, red, self.label_smoothing, None, labels


LOSSES = {
    "mse": MSELoss, "mean_squared_error": MSELoss,
    "l1": L1Loss, "mae": L1Loss,
    "huber": HuberLoss,
    "bce": BCEWithLogitsLoss, "binary_cross_entropy": BCEWithLogitsLoss,
    "bce_with_logits": BCEWithLogitsLoss,
    "cross_entropy": CrossEntropyLoss, "ce": CrossEntropyLoss,
    "categorical_cross_entropy": CrossEntropyLoss,
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


def from_config(cfg: dict) -> Loss:
    """Rebuild a loss from ``get_config()``."""
    cfg = dict(cfg)
    name = cfg.pop("type", None)
    classes = {c.__name__: c for c in (MSELoss, L1Loss, HuberLoss, BCEWithLogitsLoss,
                                       CrossEntropyLoss)}
    if name not in classes:
        raise ValueError(f"unknown loss type {name!r}; expected one of {sorted(classes)}")
    return classes[name](**cfg)
