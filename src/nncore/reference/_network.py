"""Reference network and trainer: the whole-model oracle, in plain NumPy.

``ReferenceNetwork`` has the C network's semantics (csrc/net.c): layers from
``Sequential.get_config()["layers"]``, Linear y = x W^T + b with W (out, in),
activations through the reference activation twins, inverted dropout with the
same Philox masks (keyed by seed, step counter, layer index; the counter
advances on every training forward). ``backward`` accumulates dW = dY^T X,
db = column sums, and propagates dX = dY W.

``train_step`` composes reference forward + loss + backward + clipping + the
reference optimizer (``RefOptimizer``): the tier-3 oracle for
``Sequential.train_step`` and the "NumPy" peer in the benchmarks.
Never calls into nncore's C core; which activation a layer type means is read
from ``nncore._registry`` (names only, the formulas are the reference's own).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import _registry
from . import _bf16 as _B
from . import _kernels as _K
from . import _optim as _O

__all__ = ["ReferenceNetwork", "train_step", "reference_loss_spec"]

def _act_of(cfg: dict) -> tuple[str, float | None]:
    """(activation name, its parameter or None) of an activation layer's config."""
    a = _registry.activation_of_layer(cfg)
    if a is None:
        raise ValueError(f"unknown layer type {cfg['type']!r}")
    return a.name, (float(cfg.get(a.param, a.default)) if a.param else None)


class ReferenceNetwork:
    """A NumPy twin of the C network.

    Parameters
    ----------
    layers : list of dict
        Layer configs (``Sequential.get_config()["layers"]``).
    params : dict, optional
        ``{layer index: {"weight": W (out, in), "bias": b (out,)}}``; zeros if omitted.
    seed, step : int
        Dropout key (model seed) and step counter.
    dtype : numpy dtype
        Arithmetic dtype (float64 for a tight oracle).
    mask_dtype : numpy dtype, optional
        The model dtype the dropout threshold p is rounded to (default `dtype`).
    compute_dtype : "float32" or "bfloat16"
        "bfloat16": every GEMM is :func:`matmul_bf16` (operands rounded to bf16,
        the result float32; use dtype float32 to twin a bf16-compute model).
    """

    def __init__(self, layers: list[dict], params: dict | None = None, seed: int = 0,
                 step: int = 0, dtype: Any = np.float64, mask_dtype: Any = None,
                 compute_dtype: str = "float32") -> None:
        self.layers = [dict(c) for c in layers]
        if compute_dtype not in ("float32", "bfloat16"):
            raise ValueError(f"compute_dtype must be 'float32' or 'bfloat16', "
                             f"got {compute_dtype!r}")
        self.compute_dtype = compute_dtype
        self.dtype = np.dtype(dtype)
        self.mask_dtype = np.dtype(mask_dtype if mask_dtype is not None else dtype)
        self.seed, self.step = int(seed), int(step)
        self.params: dict[int, dict[str, np.ndarray]] = {}
        self.grads: dict[int, dict[str, np.ndarray]] = {}
        for i, c in enumerate(self.layers):
            if c["type"] != "Linear":
                continue
            given = (params or {}).get(i, {})
            w = given.get("weight", np.zeros((c["out_features"], c["in_features"])))
            self.params[i] = {"weight": np.array(w, dtype=self.dtype)}
            if c.get("bias", True):
                b = given.get("bias", np.zeros(c["out_features"]))
                self.params[i]["bias"] = np.array(b, dtype=self.dtype)
        self.zero_grad()
        self._cache: list[np.ndarray] | None = None
        self._masks: dict[int, np.ndarray] = {}

    @classmethod
    def from_model(cls, model: Any, dtype: Any = np.float64) -> "ReferenceNetwork":
        """A twin of an nncore Sequential with a copy of its weights and dropout step."""
        params: dict[int, dict[str, np.ndarray]] = {}
        for name, p in model.named_parameters():
            i, kind = name.split(".")
            params.setdefault(int(i), {})[kind] = np.array(p.data, dtype=dtype)
        return cls(model.get_config()["layers"], params, seed=model.seed,
                   step=model.dropout_step, dtype=dtype, mask_dtype=model.dtype)

    # ----------------------------------------------------------- buffers
    def param_list(self) -> list[np.ndarray]:
        """The parameter arrays in the C layout order (W, b per Linear)."""
        return [a for i in sorted(self.params) for a in self.params[i].values()]

    def grad_list(self) -> list[np.ndarray]:
        return [a for i in sorted(self.grads) for a in self.grads[i].values()]

    def flat_params(self) -> np.ndarray:
        return np.concatenate([a.ravel() for a in self.param_list()])

    def flat_grads(self) -> np.ndarray:
        return np.concatenate([a.ravel() for a in self.grad_list()])

    def zero_grad(self) -> None:
        self.grads = {i: {k: np.zeros_like(v) for k, v in d.items()}
                      for i, d in self.params.items()}

    # ------------------------------------------------------------- passes
    def _mm(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """a @ b in the compute mode (bf16: the reference bf16 GEMM), in self.dtype."""
        if self.compute_dtype == "bfloat16":
            return _B.matmul_bf16(a, b).astype(self.dtype)
        return a @ b

    def mask(self, layer: int, shape: tuple) -> np.ndarray:
        """Keep-mask (bool, `shape`) the C network uses for dropout layer `layer` now."""
        p = float(self.layers[layer]["p"])
        n = int(np.prod(shape))
        return _K.dropout_mask(n, p, self.seed, self.step, layer, self.mask_dtype).reshape(shape)

    def forward(self, x: Any, training: bool = False,
                masks: dict[int, np.ndarray] | None = None) -> np.ndarray:
        """out (batch, out_features); training enables dropout (masks from the Philox twin
        unless given as {layer index: bool mask}) and advances the step counter."""
        h = np.asarray(x, dtype=self.dtype)
        cache = [h]
        used: dict[int, np.ndarray] = {}
        for i, c in enumerate(self.layers):
            t = c["type"]
            if t == "Linear":
                h = self._mm(h, self.params[i]["weight"].T)
                if "bias" in self.params[i]:
                    h = h + self.params[i]["bias"]
            elif t == "Dropout":
                if training:
                    m = masks[i] if masks is not None and i in masks else self.mask(i, h.shape)
                    used[i] = np.asarray(m, dtype=bool)
                    h = np.where(used[i], h / (1.0 - float(c["p"])), 0.0).astype(self.dtype)
            else:
                name, param = _act_of(c)
                h = _K.activation(h, name, param)
            cache.append(h)
        if training:
            self._cache, self._masks = cache, used
            self.step += 1
        return h

    def backward(self, dout: Any) -> np.ndarray:
        """Accumulate gradients from dout (batch, out_features); returns d loss / d x."""
        if self._cache is None:
            raise ValueError("backward needs a training forward first")
        d = np.asarray(dout, dtype=self.dtype)
        for i in range(len(self.layers) - 1, -1, -1):
            c, x_in, y = self.layers[i], self._cache[i], self._cache[i + 1]
            t = c["type"]
            if t == "Linear":
                self.grads[i]["weight"] += self._mm(d.T, x_in)
                if "bias" in self.grads[i]:
                    self.grads[i]["bias"] += d.sum(axis=0)
                d = self._mm(d, self.params[i]["weight"])
            elif t == "Dropout":
                d = np.where(self._masks[i], d / (1.0 - float(c["p"])), 0.0).astype(self.dtype)
            else:
                name, param = _act_of(c)
                d = _K.activation_backward(d, x_in, y, name, param)
        return d


def reference_loss_spec(loss: Any) -> tuple[str, str, dict]:
    """(reference loss name, reduction, params) from an nncore loss object or a name."""
    if isinstance(loss, str):
        name = {"ce": "cross_entropy", "bce": "bce_logits", "binary_cross_entropy": "bce_logits",
                "mae": "l1"}.get(loss, loss)
        return name, "mean", {}
    cfg = loss.get_config()
    name = {"MSELoss": "mse", "L1Loss": "l1", "HuberLoss": "huber",
            "BCEWithLogitsLoss": "bce_logits", "CrossEntropyLoss": "cross_entropy",
            "PoissonLoss": "poisson"}[cfg["type"]]
    params = {k: v for k, v in cfg.items() if k in ("delta", "label_smoothing")}
    return name, cfg.get("reduction", "mean"), params


def train_step(net: ReferenceNetwork, x: Any, y: Any, loss: Any, optimizer: "_O.RefOptimizer",
               clip_norm: float | None = None, clip_value: float | None = None
               ) -> tuple[float, float]:
    """One reference training step: zero_grad, forward (training), loss, backward,
    clip (global norm, then value), optimizer update of ``net.param_list()``.

    ``optimizer`` must be a ``RefOptimizer`` over ``net.param_list()``.
    Returns (loss, global gradient norm before clipping).
    """
    name, red, params = reference_loss_spec(loss)
    net.zero_grad()
    out = net.forward(x, training=True)
    target = np.asarray(y)
    if name != "cross_entropy" and target.ndim == 1:
        target = target.reshape(out.shape)
    value, g = _K.loss(name, out, target, red, **params)
    net.backward(g)
    grads = net.grad_list()
    if clip_norm is not None and clip_norm > 0:
        norm, grads = _O.clip_grad_norm(grads, clip_norm)
    else:
        norm = _O.grad_norm(grads)
    if clip_value is not None and clip_value > 0:
        grads = _O.clip_grad_value(grads, clip_value)
    optimizer.step(grads)
    return float(value), float(norm)
