"""The output layer of the estimators: scikit-learn's output activations and losses,
and how they map onto nncore's fused C losses.

What it is for: given the network's raw outputs ``z`` (batch, n_outputs), the
probabilities / predictions (``activate``), the loss value exactly as scikit-learn
reports it (``loss_value``: its probability clipping, its sums and means) and the
gradient it back-propagates, d loss / d z = w * (act(z) - y) / sum(w) (the canonical
link of each pair: softmax + cross-entropy, sigmoid + binary cross-entropy,
identity + half squared error, exp + half Poisson deviance). What it is not: the
training loop (``_stochastic``) or the network (``nncore.nn``).

Each pair is one of nncore's C losses up to constant factors, so the fused C
``train_step`` does the work; ``grad_scale`` is the factor between the C gradient and
scikit-learn's (the solvers absorb it into their hyperparameters) and ``value_scale``
the one between the values::

    softmax  + CrossEntropyLoss(mean over rows)         grad x 1      value x 1
    logistic + BCEWithLogitsLoss(mean over n * k)       grad x 1/k    value x k
    identity + MSELoss(mean over n * k)                 grad x 2/k    value x 1/2
    exp      + PoissonLoss(mean over n * k)             grad x 1/k    value x k
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, xlogy

from .. import losses

__all__ = ["OutputSpec", "output_spec", "activate", "loss_value", "log_loss_clips"]


def activate(name: str, z: np.ndarray) -> np.ndarray:
    """The output activation ``name`` of raw outputs z (n, k), in place; returns z."""
    if name == "softmax":
        z -= z.max(axis=1)[:, None]
        np.exp(z, out=z)
        z /= z.sum(axis=1)[:, None]
    elif name == "logistic":
        expit(z, out=z)
    elif name == "exp":
        np.exp(z, out=z)
    elif name != "identity":
        raise ValueError(f"unknown output activation {name!r}")
    return z


def _average(a: np.ndarray, sw: np.ndarray | None) -> np.ndarray:
    """Mean over rows of a (n, k), weighted by sw (n,) when given: (k,)."""
    return np.average(a, weights=sw, axis=0)


def loss_value(name: str, y: np.ndarray, p: np.ndarray, sw: np.ndarray | None) -> float:
    """scikit-learn's data loss of predictions p (n, k) (after the output activation)
    against y (n, k), rows weighted by sw (n,) or not.

    softmax: -sum_k avg_n y log p (p clipped to [eps, 1 - eps]); logistic: the binary
    form summed over outputs; identity: 0.5 * mean over outputs of avg_n (y - p)^2;
    exp: sum over outputs of avg_n (y log(y / p) - y + p).
    """
    if name in ("softmax", "logistic"):
        eps = np.finfo(p.dtype).eps
        q = np.clip(p, eps, 1 - eps)
        if name == "softmax" and q.shape[1] > 1:
            return float(-_average(xlogy(y, q), sw).sum())
        return float(-_average(xlogy(y, q) + xlogy(1 - y, 1 - q), sw).sum())
    if name == "identity":
        return float(0.5 * _average((y - p) ** 2, sw).mean())
    if name == "exp":
        return float(_average(xlogy(y, y / p) - y + p, sw).sum())
    raise ValueError(f"unknown output activation {name!r}")


def log_loss_clips(name: str, z: np.ndarray) -> bool:
    """Whether scikit-learn's clipping of probabilities to [eps, 1 - eps] can change the
    log loss of the raw outputs z (n, k) by more than rounding, i.e. some probability
    of a target may be below eps (a loss above -log(eps): 36 in float64, 16 in float32).
    A cheap bound, never a false "no": -log p <= (max z - min z) + log k for softmax
    (the same bound over all rows) and <= |z| + log 2 for the logistic output. The
    other side (p > 1 - eps) moves a loss by at most eps."""
    if name not in ("softmax", "logistic") or not z.size:
        return False
    limit = -np.log(np.finfo(z.dtype).eps)
    hi, lo = float(z.max()), float(z.min())
    if name == "softmax":
        return hi - lo + np.log(z.shape[1]) > limit
    return max(hi, -lo) + np.log(2.0) > limit


@dataclass(frozen=True)
class OutputSpec:
    """How an output activation trains.

    Attributes
    ----------
    name : str
        scikit-learn's ``out_activation_``: 'softmax', 'logistic', 'identity' or 'exp'.
    c_loss : nncore.losses.Loss
        The fused C loss with scikit-learn's gradient up to ``grad_scale``.
    labels : bool
        The C loss reads class labels (n,) int64 rather than rows of y.
    grad_scale, value_scale : float
        C gradient = grad_scale * scikit-learn's; scikit-learn's value = value_scale * C's.
    """
    name: str
    c_loss: losses.Loss
    labels: bool
    grad_scale: float
    value_scale: float


def output_spec(name: str, n_outputs: int) -> OutputSpec:
    """The :class:`OutputSpec` of output activation ``name`` with ``n_outputs`` outputs."""
    k = float(n_outputs)
    if name == "softmax":
        return OutputSpec(name, losses.CrossEntropyLoss(), True, 1.0, 1.0)
    if name == "logistic":
        return OutputSpec(name, losses.BCEWithLogitsLoss(), False, 1.0 / k, k)
    if name == "identity":
        return OutputSpec(name, losses.MSELoss(), False, 2.0 / k, 0.5)
    if name == "exp":
        return OutputSpec(name, losses.PoissonLoss(), False, 1.0 / k, k)
    raise ValueError(f"unknown output activation {name!r}")
