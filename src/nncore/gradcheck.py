"""check_gradients: a float64 finite-difference check of a model's backward pass."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import losses as _losses
from ._validate import finite_float
from .nn import Sequential

__all__ = ["check_gradients"]


def _float64_twin(model: Sequential) -> Sequential:
    cfg = model.get_config()
    cfg["dtype"] = "float64"
    twin = Sequential.from_config(cfg)
    twin.flat_params[...] = model.flat_params
    twin.dropout_step = model.dropout_step
    return twin


def check_gradients(model: Any, x: Any, y: Any, loss_fn: Any, eps: float = 1e-4,
                    return_all: bool = False) -> Any:
    """Worst relative error between the C backward pass and finite differences.

    Every parameter is perturbed in turn and the loss re-evaluated with the
    fourth-order central difference
    ``(f(p-2h) - 8 f(p-h) + 8 f(p+h) - f(p+2h)) / 12h``, ``h = eps * max(1, |p|)``,
    in float64 (a float32 model is checked through a float64 copy with the same
    weights). Dropout layers use the same masks in every evaluation (the dropout
    step counter is reset before each). The relative error of one parameter is
    ``|analytic - numeric| / max(|analytic|, |numeric|, 1e-3 * max|analytic|, 1e-12)``
    (components a thousand times smaller than the largest are judged against it).
    The model's parameters, gradients and dropout step are left as they were.

    Parameters
    ----------
    model : nncore.nn.Sequential
    x : array (batch, in_features)
    y : targets for `loss_fn`
    loss_fn : nncore.losses.Loss or its name
    eps : float
        Relative step. Kinks (ReLU at 0, L1, Huber at delta) within 2h of an
        evaluation point make any finite difference wrong; keep eps small then.
    return_all : bool
        Also return (analytic, numeric) gradient arrays.

    Returns
    -------
    float
        The worst relative error (< 1e-6 for a correct backward on smooth points).
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be an nncore.nn.Sequential, got {type(model).__name__}")
    eps = finite_float(eps, "eps")
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    loss_fn = _losses.get(loss_fn)
    m = model if model.dtype == np.float64 else _float64_twin(model)
    saved = (m.flat_params.copy(), m.flat_grads.copy(), m.dropout_step)
    step0 = m.dropout_step
    try:
        def f() -> float:
            m.dropout_step = step0
            return loss_fn(m.forward(x, training=True), y)

        m.zero_grad()
        f()
        m.backward(loss_fn.backward())
        g = m.flat_grads.copy()
        p = m.flat_params
        num = np.empty_like(g)
        for i in range(p.size):
            orig = float(p[i])
            h = eps * max(1.0, abs(orig))
            vals = []
            for k in (-2, -1, 1, 2):
                p[i] = orig + k * h
                vals.append(f())
            p[i] = orig
            num[i] = (vals[0] - 8.0 * vals[1] + 8.0 * vals[2] - vals[3]) / (12.0 * h)
    finally:
        m.flat_params[...] = saved[0]
        m.flat_grads[...] = saved[1]
        m.dropout_step = saved[2]
    floor = max(1e-3 * float(np.max(np.abs(g))) if g.size else 0.0, 1e-12)
    err = np.abs(g - num) / np.maximum(np.maximum(np.abs(g), np.abs(num)), floor)
    worst = float(np.max(err)) if err.size else 0.0
    if return_all:
        return worst, g, num
    return worst
