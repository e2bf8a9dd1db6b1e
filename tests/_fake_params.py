"""A stand-in for nncore.nn's Parameters, for testing the optimizers on their own.

FakeModel holds ONE flat parameter buffer and ONE flat gradient buffer; each
FakeParameter is a view of a slice with the attributes of nncore.parameter.Parameter
that the optimizers read (.data, .grad, .offset, .size, .shape, .rows, .cols, .is_bias,
.model, .name).
The tests' oracle is nncore.reference, never this file.
"""
import numpy as np


class FakeParameter:
    def __init__(self, model, name, offset, shape, is_bias):
        self.model = model
        self.name = name
        self.offset = offset
        self.shape = tuple(shape)
        self.size = int(np.prod(shape))
        self.is_bias = is_bias
        self.rows, self.cols = (1, shape[0]) if is_bias else (shape[0], shape[1])

    @property
    def data(self):
        return self.model.flat_params[self.offset:self.offset + self.size].reshape(self.shape)

    @property
    def grad(self):
        return self.model.flat_grads[self.offset:self.offset + self.size].reshape(self.shape)


class FakeModel:
    """Linear layers of the given sizes: weight (out, in) then bias (out) per layer."""

    def __init__(self, sizes=(5, 7, 3), dtype=np.float64, seed=0, bias=True, pad=0, shapes=None):
        if shapes is not None:  # explicit parameter shapes: 1-D = bias, 2-D = weight
            shapes = [(f"{i}.{'bias' if len(s) == 1 else 'weight'}", tuple(s), len(s) == 1)
                      for i, s in enumerate(shapes)]
        else:
            shapes = []
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
                shapes.append((f"{i}.weight", (b, a), False))
                if bias:
                    shapes.append((f"{i}.bias", (b,), True))
        n = sum(int(np.prod(s)) for _, s, _ in shapes) + pad
        self.dtype = np.dtype(dtype)
        self.flat_params = np.zeros(n, self.dtype)
        self.flat_grads = np.zeros(n, self.dtype)
        self._params = []
        off = pad  # a leading gap: offsets need not start at 0
        for name, shape, is_bias in shapes:
            self._params.append(FakeParameter(self, name, off, shape, is_bias))
            off += int(np.prod(shape))
        rng = np.random.default_rng(seed)
        self.flat_params[...] = rng.standard_normal(n)

    def parameters(self):
        return list(self._params)

    def named_parameters(self):
        return [(p.name, p) for p in self._params]

    def fill_grads(self, rng, scale=1.0):
        self.flat_grads[...] = scale * rng.standard_normal(self.flat_grads.shape[0])
