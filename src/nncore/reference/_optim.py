"""Reference optimizers and gradient clipping: PyTorch's documented update rules,
one parameter array at a time, in plain NumPy.

Each ``*_update`` takes a parameter array ``p``, its gradient ``g``, a ``state``
dict (filled on first use, like PyTorch's per-parameter state), the step
number ``t`` (1 on the first update) and the group's hyperparameters; it
returns the new parameter array and updates ``state`` in place. Penalties
(``weight_decay`` coupled, ``l1``) are added to the gradient from ``p`` before
the update; AdamW decays ``p`` directly instead. The optional max-norm
constraint rescales rows of 2-D weights afterwards.
"""
from __future__ import annotations

import numpy as np

__all__ = ["sgd_update", "rmsprop_update", "adagrad_update", "adam_update", "adamw_update",
           "max_norm_rows", "grad_norm", "clip_grad_norm", "clip_grad_value",
           "optimizer_update", "RefOptimizer"]


def _penalized(p, g, weight_decay=0.0, l1=0.0):
    if weight_decay != 0:
        g = g + weight_decay * p
    if l1 != 0:
        g = g + l1 * np.sign(p)
    return g


def sgd_update(p, g, state, t, lr, momentum=0.0, dampening=0.0, nesterov=False,
               weight_decay=0.0, l1=0.0):
    """SGD with momentum / dampening / Nesterov (PyTorch's torch.optim.SGD).

    ``state["momentum_buffer"]`` is set to the gradient on the first step.
    """
    d = _penalized(p, g, weight_decay, l1)
    if momentum != 0:
        if t == 1 or "momentum_buffer" not in state:
            buf = d.copy()
        else:
            buf = momentum * state["momentum_buffer"] + (1 - dampening) * d
        state["momentum_buffer"] = buf
        d = d + momentum * buf if nesterov else buf
    return p - lr * d


def rmsprop_update(p, g, state, t, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                   centered=False, l1=0.0):
    """RMSprop (PyTorch's torch.optim.RMSprop): eps added outside the square root."""
    d = _penalized(p, g, weight_decay, l1)
    sq = alpha * state.get("square_avg", np.zeros_like(p)) + (1 - alpha) * (d * d)
    state["square_avg"] = sq
    v = sq
    if centered:
        a = alpha * state.get("grad_avg", np.zeros_like(p)) + (1 - alpha) * d
        state["grad_avg"] = a
        v = np.maximum(sq - a * a, 0)   # a variance: rounding must not make it negative
    den = np.sqrt(v) + eps
    if momentum > 0:
        buf = momentum * state.get("momentum_buffer", np.zeros_like(p)) + d / den
        state["momentum_buffer"] = buf
        return p - lr * buf
    return p - lr * (d / den)


def adagrad_update(p, g, state, t, lr, lr_decay=0.0, weight_decay=0.0,
                   initial_accumulator_value=0.0, eps=1e-10, l1=0.0):
    """Adagrad (PyTorch's torch.optim.Adagrad): clr = lr / (1 + (t - 1) lr_decay)."""
    d = _penalized(p, g, weight_decay, l1)
    if "sum" not in state:
        state["sum"] = np.full_like(p, initial_accumulator_value)
    s = state["sum"] + d * d
    state["sum"] = s
    clr = lr / (1 + (t - 1) * lr_decay)
    return p - clr * (d / (np.sqrt(s) + eps))


def adam_update(p, g, state, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                amsgrad=False, l1=0.0, decoupled=False, eps_hat=False):
    """Adam (PyTorch's torch.optim.Adam); ``decoupled=True`` is AdamW.

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    (v replaced by its running maximum with amsgrad). ``eps_hat=True``: Kingma & Ba's
    efficient form (scikit-learn's Adam), eps before the bias correction:
    p -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps).
    """
    b1, b2 = betas
    if decoupled:
        d = _penalized(p, g, 0.0, l1)
        p = p * (1 - lr * weight_decay)
    else:
        d = _penalized(p, g, weight_decay, l1)
    m = b1 * state.get("exp_avg", np.zeros_like(p)) + (1 - b1) * d
    v = b2 * state.get("exp_avg_sq", np.zeros_like(p)) + (1 - b2) * (d * d)
    state["exp_avg"], state["exp_avg_sq"] = m, v
    if amsgrad:
        v = np.maximum(state.get("max_exp_avg_sq", np.zeros_like(p)), v)
        state["max_exp_avg_sq"] = v
    if eps_hat:
        return p - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * (m / (np.sqrt(v) + eps))
    step_size = lr / (1 - b1 ** t)
    den = np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps
    return p - step_size * (m / den)


def adamw_update(p, g, state, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, l1=0.0, eps_hat=False):
    """AdamW (PyTorch's torch.optim.AdamW): p *= 1 - lr * weight_decay, then Adam."""
    return adam_update(p, g, state, t, lr, betas, eps, weight_decay, amsgrad, l1, decoupled=True,
                       eps_hat=eps_hat)


_UPDATES = {"sgd": sgd_update, "rmsprop": rmsprop_update, "adagrad": adagrad_update,
            "adam": adam_update, "adamw": adamw_update}
_HPARAMS = {
    "sgd": ("lr", "momentum", "dampening", "nesterov", "weight_decay", "l1"),
    "rmsprop": ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "l1"),
    "adagrad": ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "l1"),
    "adam": ("lr", "betas", "eps", "weight_decay", "amsgrad", "l1", "eps_hat"),
    "adamw": ("lr", "betas", "eps", "weight_decay", "amsgrad", "l1", "eps_hat"),
}


def max_norm_rows(w, max_norm):
    """Rescale rows of w (rows, cols) whose L2 norm exceeds max_norm by max_norm / (norm + 1e-7)."""
    w = np.array(w, copy=True)
    w2 = w.reshape(w.shape[0], -1) if w.ndim > 1 else w.reshape(1, -1)
    norms = np.sqrt(np.sum(w2.astype(np.float64) ** 2, axis=1))
    for r in np.nonzero(norms > max_norm)[0]:
        w2[r] *= w.dtype.type(max_norm / (norms[r] + 1e-7))
    return w


def optimizer_update(kind, p, g, state, t, group, is_bias=False):
    """One update of array p by the optimizer `kind` with the hyperparameters in `group`.

    ``group`` may hold more keys than the optimizer uses (and ``max_norm``:
    applied to 2-D non-bias parameters after the update).
    """
    hp = {k: group[k] for k in _HPARAMS[kind] if k in group}
    out = _UPDATES[kind](p, g, state, t, **hp)
    mx = group.get("max_norm")
    if mx is not None and mx > 0 and not is_bias:
        out = max_norm_rows(out, mx)
    return np.asarray(out, dtype=p.dtype)


def grad_norm(grads):
    """Global L2 norm of a list of arrays, in float64."""
    return float(np.sqrt(sum(np.sum(np.asarray(g, np.float64) ** 2) for g in grads)))


def clip_grad_norm(grads, max_norm):
    """PyTorch's clip_grad_norm_: scale every array by min(1, max_norm / (norm + 1e-6)).

    Returns (norm before clipping, list of clipped arrays).
    """
    norm = grad_norm(grads)
    coef = max_norm / (norm + 1e-6)
    if coef < 1 or np.isnan(coef):
        grads = [np.asarray(g) * np.asarray(g).dtype.type(coef) for g in grads]
    else:
        grads = [np.array(g, copy=True) for g in grads]
    return norm, grads


def clip_grad_value(grads, clip):
    """Clamp every element to [-clip, clip]; returns new arrays."""
    return [np.clip(g, -clip, clip) for g in grads]


class RefOptimizer:
    """Runs an optimizer over a list of arrays, the way nncore.optim does over a model.

    Parameters
    ----------
    kind : {"sgd", "rmsprop", "adagrad", "adam", "adamw"}
    params : list of ndarray
        Updated in place by `step`.
    groups : list of dict
        Each ``{"params": [indices into params], <hyperparameters>}``.
    is_bias : list of bool, optional
        Biases are exempt from max_norm.
    """

    def __init__(self, kind, params, groups, is_bias=None):
        self.kind = kind
        self.params = params
        self.groups = groups
        self.is_bias = is_bias or [p.ndim == 1 for p in params]
        self.state = [dict() for _ in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        for grp in self.groups:
            for i in grp["params"]:
                self.params[i][...] = optimizer_update(self.kind, self.params[i], grads[i],
                                                       self.state[i], self.t, grp,
                                                       self.is_bias[i])
