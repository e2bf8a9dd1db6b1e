"""Which activation a small elementwise subgraph computes, found by evaluating it.

Exporters write one activation as several nodes, and each in its own way: PyTorch's
``dynamo=False`` writes GELU as ``Div, Erf, Add, Mul, Mul`` and its tanh form with
``Mul``s, the dynamo exporter writes the same with ``Pow`` and a different order, SiLU
is ``Sigmoid`` + ``Mul``, Softplus with its threshold is ``Softplus, Greater, Where``.
Rather than one pattern per exporter version, :func:`identify` takes such a region (nodes
of elementwise ops whose other inputs are scalar constants, from one tensor to one
tensor), evaluates it in float64 on a fixed grid of inputs and returns the nncore
activation it equals there (relative error below 1e-6; GELU's erf and tanh forms differ
by 1e-4, so they are told apart). :class:`Region` does the same for a region grown one
node at a time, evaluating each node once (first on a few of the grid's points, the whole
grid only when those match an activation): a file of long regions costs time linear in
its size.
What it is not: a general ONNX evaluator: only the ops of ``REGION_OPS``, elementwise,
with scalar constants. Nor a proof: a region is judged on the grid (every 0.01 over
[-20, 20], and far out); a graph crafted to agree with an activation there and differ
between grid points (a bump of Relu/Max terms narrower than 0.01) would be read as that
activation. Exporters write smooth forms; such a file can make nncore's model differ
from the graph on those inputs, not run anything or allocate more.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from .. import _registry
from ..reference import activation as _reference_activation

__all__ = ["REGION_OPS", "identify", "Region", "CANDIDATES", "PROBE"]

_erf = np.frompyfunc(math.erf, 1, 1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return _reference_activation(x, "sigmoid")


def _softplus(x: np.ndarray) -> np.ndarray:
    return _reference_activation(x, "softplus")


#: op -> (number of inputs, function on float64 arrays / scalars)
REGION_OPS: dict[str, tuple[int, Callable[..., np.ndarray]]] = {
    "Add": (2, np.add), "Sub": (2, np.subtract), "Mul": (2, np.multiply),
    "Div": (2, np.divide), "Pow": (2, np.power), "Max": (2, np.maximum),
    "Min": (2, np.minimum), "Neg": (1, np.negative), "Abs": (1, np.abs), "Exp": (1, np.exp),
    "Log": (1, np.log), "Sqrt": (1, np.sqrt), "Reciprocal": (1, np.reciprocal),
    "Tanh": (1, np.tanh), "Erf": (1, lambda x: _erf(x).astype(np.float64)),
    "Sigmoid": (1, _sigmoid), "Softplus": (1, _softplus),
    "Relu": (1, lambda x: np.maximum(x, 0.0)), "Identity": (1, lambda x: x),
    "Greater": (2, np.greater), "Less": (2, np.less), "GreaterOrEqual": (2, np.greater_equal),
    "LessOrEqual": (2, np.less_equal),
    "Where": (3, lambda c, a, b: np.where(np.asarray(c, bool), a, b)),
}

#: the activations a region may turn out to be: the elementwise ones with no parameter
CANDIDATES = tuple(n for n, a in _registry.ACTIVATIONS.items() if not a.rowwise and a.param is None)

#: inputs the region is evaluated at: every 0.01 over [-20, 20] (thresholds such as
#: Softplus's at 20 included), and far out where saturation shows
PROBE = np.concatenate([np.linspace(-20.0, 20.0, 4001), [-60.0, -30.0, 30.0, 60.0]])
_RTOL = 1e-6
_EXPECTED = {n: _reference_activation(PROBE, n) for n in CANDIDATES}


#: every 100th grid point and the far ones: a region is compared there first, and on the
#: whole grid only when it matches an activation at these 45 points
_QUICK = np.concatenate([np.arange(0, 4001, 100), np.arange(4001, PROBE.size)])
_NAMES = tuple(_EXPECTED)
_EXPECTED_QUICK = np.stack([_EXPECTED[n][_QUICK] for n in _NAMES])   # (candidates, 45)


def _close(out: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Where ``out`` equals ``want`` to _RTOL (relative, absolute below 1), over the last
    axis."""
    return np.all(np.abs(out - want) <= _RTOL * np.maximum(1.0, np.abs(want)), axis=-1)


def _evaluate(op: str, inputs: Sequence[object], x: np.ndarray,
              values: Sequence[np.ndarray]) -> np.ndarray:
    args = [x if a is None else values[a] if isinstance(a, int) else np.float64(a)
            for a in inputs]
    with np.errstate(all="ignore"):
        return np.broadcast_to(np.asarray(REGION_OPS[op][1](*args), np.float64), x.shape)


class Region:
    """A region grown one step at a time: ``add(op, inputs)``, then ``activation()``
    whenever it closes. Each step is evaluated once on the quick points and at most once
    on the whole grid, however often the region is asked."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, Sequence[object]]] = []
        self._quick: list[np.ndarray] = []
        self._full: list[np.ndarray] = []

    def add(self, op: str, inputs: Sequence[object]) -> None:
        """Append a step (``inputs`` as in :func:`identify`)."""
        self._quick.append(_evaluate(op, inputs, PROBE[_QUICK], self._quick))
        self.steps.append((op, inputs))

    def activation(self) -> str | None:
        """The activation the last step's output equals on the grid, or None."""
        if not self.steps:
            return None
        matches = _close(self._quick[-1], _EXPECTED_QUICK)
        if not matches.any():
            return None
        for op, inputs in self.steps[len(self._full):]:
            self._full.append(_evaluate(op, inputs, PROBE, self._full))
        out = self._full[-1]
        for name, hit in zip(_NAMES, matches):
            if hit and _close(out, _EXPECTED[name]):
                return name
        return None


def identify(steps: Sequence[tuple[str, Sequence[object]]]) -> str | None:
    """The activation (an nncore._registry name) a region computes, or None.

    Parameters
    ----------
    steps : [(op, inputs)], in order
        Each input is ``None`` for the region's input tensor, an int ``j`` for the output
        of step ``j``, or a float for a scalar constant. The last step's output is the
        region's output.
    """
    region = Region()
    for op, inputs in steps:
        region.add(op, inputs)
    return region.activation()
