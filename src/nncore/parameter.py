"""Parameter: a named weight or bias of a Sequential, a view into its flat buffers."""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Parameter"]


class Parameter:
    """One weight matrix or bias vector of a :class:`nncore.nn.Sequential`.

    ``data`` and ``grad`` are NumPy views (zero copy) into the model's ONE flat
    parameter / gradient buffer, so ``p.data[...] = w`` changes the network
    (that is how weights trained elsewhere are loaded) and ``p.grad`` shows the
    gradients the C backward pass accumulated. Taking ``p.data`` marks the
    model's weights as changed, so inference packs them again
    (:meth:`nncore.nn.Sequential.touch`); only writes through an array kept
    from before an inference call need ``model.touch()``.

    Attributes
    ----------
    name : str
        ``"<layer index>.weight"`` or ``"<layer index>.bias"``.
    data, grad : ndarray
        Shape (out_features, in_features) for a weight, (out_features,) for a bias.
    shape, size : tuple, int
    offset : int
        Element offset of this parameter in ``model.flat_params``.
    model : Sequential
        The owner.
    is_bias : bool
    rows, cols : int
        The 2-D view used by row-wise constraints: (out, in) for a weight, (1, out) for a bias.
    """

    __slots__ = ("name", "_data", "_grad", "shape", "size", "offset", "model", "is_bias",
                 "rows", "cols", "layer_index", "__weakref__")

    def __init__(self, model: Any, name: str, offset: int, shape: tuple, is_bias: bool,
                 layer_index: int) -> None:
        self.model = model
        self.name = name
        self.offset = int(offset)
        self.shape = tuple(int(s) for s in shape)
        self.size = int(np.prod(self.shape))
        self.is_bias = bool(is_bias)
        self.layer_index = int(layer_index)
        self.rows, self.cols = (1, self.shape[0]) if is_bias else self.shape
        end = self.offset + self.size
        self._data = model.flat_params[self.offset:end].reshape(self.shape)
        self._grad = model.flat_grads[self.offset:end].reshape(self.shape)

    @property
    def data(self) -> np.ndarray:
        # handing out a writable view marks the weights as changed (model.touch())
        self.model._net.touch()
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        value = np.asarray(value)
        if value.shape != self.shape:
            raise ValueError(f"{self.name}: expected an array of shape {self.shape}, "
                             f"got {value.shape}")
        self._data[...] = value
        self.model._net.touch()

    @property
    def grad(self) -> np.ndarray:
        return self._grad

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, shape={self.shape}, dtype={self._data.dtype})"
