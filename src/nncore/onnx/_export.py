"""nncore model -> ONNX file: one node (or a few) per layer, weights as initializers.

What it is for: :func:`export`, the graph of a ``Sequential`` in the form every ONNX
runtime runs (Linear -> ``Gemm`` with transB=1, activations -> their ONNX ops, Dropout ->
nothing), checked by ``onnx.checker`` and written atomically.
What it is not: a reader (``_load``), or a general converter: a layer with no line in
``_ACTIVATION_NODES`` is a TypeError naming it.

Exporting another kind of object is one entry in ``_GRAPH_BUILDERS``: the scikit-learn
estimators (``_estimators``: outputs ``label`` / ``probabilities``, ``variable`` for a
regressor, as skl2onnx writes them); any other type is a TypeError.
"""
from __future__ import annotations

import json
import math
import os
import warnings
from typing import Any, Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .. import _registry
from .._files import atomic_write
from .._validate import is_int
from .._version import __version__
from ..nn import Dropout, Layer, Linear, Sequential

__all__ = ["export", "ComputeModeNotExported", "MIN_OPSET", "MAX_OPSET", "GELU_OPSET",
           "MAX_PROTO_BYTES"]

#: Gemm's bias became optional in opset 11; Softmax's axis may be negative from 11 on.
MIN_OPSET = 11
#: the newest opset the installed ``onnx`` knows
MAX_OPSET = onnx.defs.onnx_opset_version()
#: ``Gelu`` is an op from opset 20 on; before, GELU is written out with Erf (or Tanh)
GELU_OPSET = 20
#: one protobuf message holds at most 2 GiB
MAX_PROTO_BYTES = 2 ** 31 - 1

_ELEM_TYPE = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}


class ComputeModeNotExported(UserWarning):
    """:func:`export` wrote a model in bfloat16 compute mode as a float32 graph: ONNX
    ``Gemm`` on float tensors computes in float32, so a runtime gives what
    ``model.predict`` gives with ``compute_dtype="float32"``, not the bf16 outputs."""


class _Graph:
    """The nodes and initializers of one graph being written (names made unique by a
    layer-index prefix, so ``0.weight`` is the weight of layer 0 like in a model file)."""

    def __init__(self, dtype: np.dtype, opset: int) -> None:
        self.dtype, self.opset = dtype, opset
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def init(self, name: str, value: Any) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value, self.dtype), name))
        return name

    def node(self, prefix: str, op: str, inputs: list[str], **attrs: Any) -> str:
        out = f"{prefix}.{op}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


# ------------------------------------------------------------- layer -> nodes

def _gelu_erf(g: _Graph, p: str, x: str) -> str:
    """x * 0.5 * (1 + erf(x / sqrt 2)): the exact GELU before the Gelu op existed."""
    z = g.node(p, "Div", [x, g.init(f"{p}.sqrt2", math.sqrt(2.0))])
    one_plus = g.node(p, "Add", [g.node(p, "Erf", [z]), g.init(f"{p}.one", 1.0)])
    return g.node(p, "Mul", [g.node(p, "Mul", [x, one_plus]), g.init(f"{p}.half", 0.5)])


def _gelu_tanh(g: _Graph, p: str, x: str) -> str:
    """x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)) — the tanh approximation written as
    nncore's kernel computes it (0.5 (1 + tanh u) = sigmoid(2u), with no cancellation
    for large negative x)."""
    x3 = g.node(p, "Mul", [g.node(p, "Mul", [x, x]), x])
    inner = g.node(p, "Add", [x, g.node(p, "Mul", [x3, g.init(f"{p}.c", 0.044715)])])
    two_u = g.node(p, "Mul", [inner, g.init(f"{p}.k2", 2.0 * math.sqrt(2.0 / math.pi))])
    return g.node(p, "Mul", [x, g.node(p, "Sigmoid", [two_u])])


def _gelu(approximate: str) -> Callable[[_Graph, str, str, float], str]:
    def emit(g: _Graph, p: str, x: str, param: float) -> str:
        if g.opset >= GELU_OPSET:
            return g.node(p, "Gelu", [x], approximate=approximate)
        return (_gelu_tanh if approximate == "tanh" else _gelu_erf)(g, p, x)
    return emit


def _op(op: str, **attrs: Any) -> Callable[[_Graph, str, str, float], str]:
    return lambda g, p, x, param: g.node(p, op, [x], **attrs)


def _with_alpha(op: str) -> Callable[[_Graph, str, str, float], str]:
    return lambda g, p, x, param: g.node(p, op, [x], alpha=float(param))


#: nncore._registry activation name -> (graph, prefix, x, param) -> output tensor.
#: Softmax / LogSoftmax take axis=-1; on the (batch, features) input every opset reads
#: that as "over each row" (before opset 13 the input is coerced to 2-D at the axis,
#: which for a 2-D input is the same thing).
_ACTIVATION_NODES: dict[str, Callable[[_Graph, str, str, float], str]] = {
    "identity": lambda g, p, x, param: x,
    "relu": _op("Relu"),
    "leaky_relu": _with_alpha("LeakyRelu"),
    "elu": _with_alpha("Elu"),
    "gelu": _gelu("none"),
    "gelu_tanh": _gelu("tanh"),
    "silu": lambda g, p, x, param: g.node(p, "Mul", [x, g.node(p, "Sigmoid", [x])]),
    "softplus": _op("Softplus"),
    "sigmoid": _op("Sigmoid"),
    "tanh": _op("Tanh"),
    "softmax": _op("Softmax", axis=-1),
    "log_softmax": _op("LogSoftmax", axis=-1),
}


def gemm_node(g: _Graph, p: str, x: str, weight: np.ndarray, bias: np.ndarray | None) -> str:
    """``x @ weight.T + bias`` as one ``Gemm`` (transB=1), weight (out, in) and bias (out,)
    as initializers ``{p}.weight`` / ``{p}.bias``; returns its output tensor."""
    inputs = [x, g.init(f"{p}.weight", weight)]
    if bias is not None:
        inputs.append(g.init(f"{p}.bias", bias))
    return g.node(p, "Gemm", inputs, transB=1)


def _layer_nodes(g: _Graph, i: int, layer: Layer, x: str) -> str:
    """Append the nodes of layer ``i`` reading tensor ``x``; returns its output tensor."""
    p = str(i)
    if isinstance(layer, Linear):
        return gemm_node(g, p, x, layer.weight.data,
                         None if layer.bias is None else layer.bias.data)
    if isinstance(layer, Dropout):
        return x   # inference: the identity
    act = _registry.activation_of_layer(layer.get_config())
    if act is None or act.name not in _ACTIVATION_NODES:
        raise TypeError(f"layer {i} ({layer!r}) has no ONNX form (a line of "
                        "_ACTIVATION_NODES in nncore/onnx/_export.py)")
    param = layer.get_config().get(act.param, act.default) if act.param else 0.0
    return _ACTIVATION_NODES[act.name](g, p, x, param)


def _sequential_graph(model: Sequential, opset: int, batch: int | str, input_name: str,
                      output_name: str) -> onnx.GraphProto:
    g = _Graph(model.dtype, opset)
    x = input_name
    for i, layer in enumerate(model.layers):
        x = _layer_nodes(g, i, layer, x)
    if x == input_name:   # only pass-through layers: the graph still has to produce an output
        g.nodes.append(helper.make_node("Identity", [x], [output_name], name="output"))
    else:
        g.nodes[-1].output[0] = output_name
    taken = {t.name for t in g.inits} | {o for n in g.nodes[:-1] for o in n.output}
    for what, name in (("input_name", input_name), ("output_name", output_name)):
        if name in taken or (what == "output_name" and name == input_name):
            raise ValueError(f"{what} {name!r} is already the name of a tensor of the graph")
    elem = _ELEM_TYPE[model.dtype]
    return helper.make_graph(
        g.nodes, "nncore_sequential",
        [helper.make_tensor_value_info(input_name, elem, [batch, model.in_features])],
        [helper.make_tensor_value_info(output_name, elem, [batch, model.out_features])],
        initializer=g.inits)


def _sequential_model(model: Sequential, opset: int, batch: int | str, input_name: str,
                      output_name: str) -> onnx.ModelProto:
    if model.compute_dtype != "float32":
        warnings.warn(f"the ONNX graph computes in float32: the model's compute_dtype="
                      f"{model.compute_dtype!r} is not part of it (runtimes give what "
                      f"predict gives with compute_dtype='float32')",
                      ComputeModeNotExported, stacklevel=3)
    graph = _sequential_graph(model, opset, batch, input_name, output_name)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="nncore",
                              producer_version=__version__,
                              doc_string="nncore.nn.Sequential exported by nncore.onnx")
    # what the opset needs, not the newest IR the installed onnx writes: an older runtime
    # refuses an IR version newer than it knows even when every op is one it runs
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    helper.set_model_props(proto, {"nncore.config": json.dumps(model.get_config())})
    return proto


#: the types export() takes -> (object, opset, batch, input_name, output_name) -> ModelProto.
#: A key is a class or the "module.QualName" of one: the scikit-learn estimators register
#: by name (``_estimators``), so exporting needs no import of scikit-learn.
_GRAPH_BUILDERS: dict[type | str, Callable[..., onnx.ModelProto]] = {
    Sequential: _sequential_model}


def _builder(model: Any) -> Callable[..., onnx.ModelProto]:
    for cls in type(model).__mro__:
        for key in (cls, f"{cls.__module__}.{cls.__qualname__}"):
            if key in _GRAPH_BUILDERS:
                return _GRAPH_BUILDERS[key]
    known = " or ".join(c if isinstance(c, str) else f"{c.__module__}.{c.__name__}"
                        for c in _GRAPH_BUILDERS)
    raise TypeError(f"nncore.onnx.export takes {known}, got {type(model).__name__}")


def _check_name(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{what} must not be empty")
    return value


def export(model: Any, path: str | os.PathLike, *, opset: int = 17, dynamic_batch: bool = True,
           input_name: str = "input", output_name: str = "output") -> str:
    """Write ``model`` as an ONNX file; returns ``path``.

    Layers: Linear -> ``Gemm`` (transB=1, weight (out, in) and bias as initializers named
    like in a model file, ``0.weight``), ReLU / Sigmoid / Tanh / LeakyReLU / ELU / Softplus
    / Softmax / LogSoftmax -> their ops (Softmax / LogSoftmax with axis=-1), SiLU ->
    ``Sigmoid`` + ``Mul``, GELU -> ``Gelu`` (with ``approximate``) from opset 20, before it
    the exact Erf form or the tanh form written with ``Sigmoid``, Dropout and Identity ->
    nothing (inference). The tensors have the model's dtype (float32 or float64).

    A model in bfloat16 compute mode (``compute_dtype="bfloat16"``) is written as its
    float32 weights (the master weights, bit for bit) in a float32 graph: ONNX has no
    "round the Gemm operands to bfloat16" mode, so runtimes compute in float32 and give
    what ``model.predict`` gives with ``compute_dtype="float32"``; a
    :class:`ComputeModeNotExported` warning says so. The file's ``nncore.config``
    metadata records the model's config (``compute_dtype`` included) for reference;
    :func:`nncore.onnx.load` builds from the graph alone, in float32 compute mode.

    Parameters
    ----------
    model : nncore.nn.Sequential, or a fitted nncore.sklearn.MLPClassifier / MLPRegressor
        An estimator is written as skl2onnx writes scikit-learn's (``zipmap=False``):
        outputs ``label`` (int64 or string) and ``probabilities``, or ``variable``
        (n, n_outputs) for a regressor; ``output_name`` must then stay at its default.
    path : str or path-like
        Written to a temporary file in the same folder, then renamed over ``path``.
    opset : int
        The ai.onnx opset, MIN_OPSET (11) to MAX_OPSET (the installed onnx's newest). The
        file's ``ir_version`` is the lowest that opset needs (opset 17: IR 8), so older
        runtimes read it.
    dynamic_batch : bool
        True: the batch dimension is the symbol ``"batch"`` (any number of rows). False:
        a fixed batch of 1 (for runtimes that want static shapes, one sample per call).
    input_name, output_name : str
        Names of the graph's input (batch, in_features) and output (batch, out_features).

    Returns
    -------
    str
        ``path`` (as a str).

    Raises
    ------
    TypeError
        ``model`` is not a Sequential (or a type with an ONNX form), or an argument has
        the wrong type.
    ValueError
        ``opset`` out of range, empty or clashing tensor names, a model over 2 GiB.
    """
    builder = _builder(model)
    if not is_int(opset):
        raise TypeError(f"opset must be an int, got {type(opset).__name__}")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"opset must be in [{MIN_OPSET}, {MAX_OPSET}] (the installed onnx "
                         f"knows up to {MAX_OPSET}), got {opset}")
    if not isinstance(dynamic_batch, (bool, np.bool_)):
        raise TypeError(f"dynamic_batch must be a bool, got {type(dynamic_batch).__name__}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like, got {type(path).__name__}")
    _check_name(input_name, "input_name")
    _check_name(output_name, "output_name")
    proto = builder(model, int(opset), "batch" if dynamic_batch else 1, input_name,
                    output_name)
    size = proto.ByteSize()
    if size > MAX_PROTO_BYTES:
        raise ValueError(f"the model needs {size:,} bytes, more than one ONNX protobuf file "
                         f"holds ({MAX_PROTO_BYTES:,})")
    onnx.checker.check_model(proto, full_check=True)
    path = os.fspath(path)
    atomic_write(path, [proto.SerializeToString()])
    return path
