"""ONNX file -> nncore.nn.Sequential, for MLP-shaped graphs.

What it is for: :func:`load`. The graph is read as a chain from its one input: at each
tensor, the nodes that consume it must form one layer — ``Gemm`` or ``MatMul`` (+ ``Add``
of a bias), an activation op, an elementwise region that computes an activation (see
``_regions``), or an op that changes nothing for a (batch, features) tensor (Identity,
Cast to a float type, Dropout in inference, Flatten, Reshape to (-1, features)). The
chain ends at the graph's output, or where classifier post-processing starts (ArgMax
or p > 0.5, the label lookup, ZipMap: dropped, with a :class:`PostProcessingDropped`
warning).
Everything is checked before the model is built, so a refused file never leaves a
half-built model.
What it is not: a general importer. Any other op, a branch, a weight read by two nodes,
shapes that do not chain -> ValueError naming the node and its op.
"""
from __future__ import annotations

import os
import warnings
from typing import Any, NamedTuple

import numpy as np
import onnx
from onnx import TensorProto

from .. import _registry
from .._validate import parse_dtype
from ..io import MAX_LAYERS, MAX_ROW_VALUES
from ..nn import ACTIVATIONS, Linear, Sequential
from ._regions import REGION_OPS, Region
from ._tensors import TensorReader, attribute_map, read_model

__all__ = ["load", "PostProcessingDropped"]

_DEFAULT_DOMAINS = ("", "ai.onnx")
_FLOAT_TYPES = {TensorProto.FLOAT: np.dtype(np.float32), TensorProto.DOUBLE: np.dtype(np.float64)}
#: one op, one activation layer: op -> (nncore._registry name, attribute of its parameter,
#: the attribute's default)
_ACTIVATION_OPS = {
    "Relu": ("relu", None, None), "Sigmoid": ("sigmoid", None, None),
    "Tanh": ("tanh", None, None), "Softplus": ("softplus", None, None),
    "LeakyRelu": ("leaky_relu", "alpha", 0.01), "Elu": ("elu", "alpha", 1.0),
    "Softmax": ("softmax", None, None), "LogSoftmax": ("log_softmax", None, None),
    "Gelu": ("gelu", None, None),
}
#: classifier post-processing (skl2onnx: ArgMax, the label lookup, ZipMap, and for two
#: classes the [1 - p, p] columns; nncore.onnx.export of an estimator: ArgMax or
#: p > 0.5, and a Gather from the classes): dropped when what follows the chain is only
#: these ops and includes a class decision
_POST_OPS = {"ArgMax", "ArrayFeatureExtractor", "ZipMap", "Cast", "Reshape", "Identity",
             "Flatten", "Squeeze", "Unsqueeze", "Concat", "Sub", "LabelEncoder", "Greater",
             "Gather"}
_DECISION_OPS = {"ArgMax", "ZipMap", "Greater"}
#: where post-processing can start (the others are also layers that change nothing)
_POST_START = _POST_OPS - {"Identity", "Cast", "Flatten", "Reshape"}
MAX_POST = 64      # nodes of post-processing
MAX_REGION = 64   # nodes in one elementwise region (GELU's tanh form takes 9)


class PostProcessingDropped(UserWarning):
    """:func:`load` dropped classifier post-processing (ArgMax, label lookup, ZipMap):
    the model returns the tensor the post-processing read (the probabilities)."""


class _Linear(NamedTuple):
    weight: np.ndarray          # (out, in)
    bias: np.ndarray | None     # (out,)


class _Act(NamedTuple):
    name: str                   # an nncore._registry activation name
    param: float | None


class _Graph:
    """One graph's nodes, who produces and who consumes each tensor, its constants."""

    def __init__(self, proto: onnx.ModelProto, path: str, allow_nonfinite: bool) -> None:
        g = proto.graph
        self.path, self.allow_nonfinite = path, allow_nonfinite
        self.nodes = list(g.node)
        self.reader = TensorReader(os.path.dirname(os.path.abspath(path)))
        if len(g.sparse_initializer):
            raise ValueError(f"{path}: sparse initializers are not supported")
        self.inits: dict[str, TensorProto] = {}
        for t in g.initializer:
            if t.name in self.inits:
                raise ValueError(f"{path}: initializer {t.name[:80]!r} given twice")
            self.inits[t.name] = t
        self.producer: dict[str, int] = {}
        self.users: dict[str, list[int]] = {}
        for i, n in enumerate(self.nodes):
            for t in n.input:
                if t:
                    readers = self.users.setdefault(t, [])
                    if not readers or readers[-1] != i:   # i grows: a repeat is the last
                        readers.append(i)
            for t in n.output:
                if t in self.producer or t in self.inits:
                    raise ValueError(f"{self.where(i)}: tensor {t[:80]!r} is produced twice")
                if t:
                    self.producer[t] = i
        # ONNX lists the nodes in topological order; the chain and region walks rely on it
        # (and an unsorted list is no graph onnx.checker or a runtime accepts)
        for i, n in enumerate(self.nodes):
            for t in n.input:
                j = self.producer.get(t, -1)
                if j >= i:
                    by = "it writes" if j == i else f"node {j} ({self.nodes[j].op_type[:40]}) " \
                        "writes after it"
                    raise ValueError(f"{self.where(i)}: reads {t[:80]!r}, which {by} (the "
                                     "nodes must be in topological order)")
        self.outputs = [o.name for o in g.output]
        self._consts: dict[str, np.ndarray | None] = {}

    def where(self, i: int) -> str:
        n = self.nodes[i]
        return f"{self.path}: node {i} {n.name[:80]!r} ({n.op_type[:40]})"

    def is_const(self, name: str) -> bool:
        if name in self.inits:
            return True
        i = self.producer.get(name)
        return i is not None and self.nodes[i].op_type == "Constant" and \
            self.nodes[i].domain in _DEFAULT_DOMAINS

    def const(self, name: str, where: str) -> np.ndarray:
        """The value of an initializer or Constant node output; NaN/inf refused (unless
        allow_nonfinite)."""
        if name not in self._consts:
            self._consts[name] = self._read_const(name, where)
        return self._consts[name]

    def _read_const(self, name: str, where: str) -> np.ndarray:
        if name in self.inits:
            value = self.reader.read(self.inits[name], f"{where}: initializer {name[:80]!r}")
        elif self.is_const(name):
            i = self.producer[name]
            value = self._constant_node(i)
        else:
            raise ValueError(f"{where}: input {name[:80]!r} must be a constant (an "
                             "initializer or a Constant node)")
        if value.dtype.kind == "f" and not self.allow_nonfinite and not np.isfinite(value).all():
            raise ValueError(f"{where}: constant {name[:80]!r} holds NaN or inf (pass "
                             "allow_nonfinite=True to load it anyway)")
        return value

    def _constant_node(self, i: int) -> np.ndarray:
        where = self.where(i)
        attrs = attribute_map(self.nodes[i], where)
        if len(attrs) != 1:
            raise ValueError(f"{where}: a Constant needs exactly one value attribute")
        (key, a), = attrs.items()
        if key == "value" and a.type == onnx.AttributeProto.TENSOR:
            return self.reader.read(a.t, f"{where}: value")
        if key == "value_float" and a.type == onnx.AttributeProto.FLOAT:
            return np.array(a.f, np.float32)
        if key == "value_floats" and a.type == onnx.AttributeProto.FLOATS:
            return np.array(a.floats, np.float32)
        if key == "value_int" and a.type == onnx.AttributeProto.INT:
            return np.array(a.i, np.int64)
        if key == "value_ints" and a.type == onnx.AttributeProto.INTS:
            return np.array(a.ints, np.int64)
        raise ValueError(f"{where}: Constant {key!r} is not a numeric value")


# ---------------------------------------------------------------- attributes

_ATTR_KINDS = {onnx.AttributeProto.INT: ("INT", "i"), onnx.AttributeProto.FLOAT: ("FLOAT", "f"),
               onnx.AttributeProto.STRING: ("STRING", "s")}


def _attr(attrs, name: str, kind: int, default: Any, where: str) -> Any:
    """The value of attribute `name` (of type `kind`: INT, FLOAT or STRING), or default."""
    a = attrs.get(name)
    if a is None:
        return default
    type_name, field = _ATTR_KINDS[kind]
    if a.type != kind:
        raise ValueError(f"{where}: attribute {name!r} has type {a.type}, expected {type_name}")
    return getattr(a, field)


def _decimal(v: float) -> float:
    """An ONNX float attribute (float32) as the decimal it was written from: 0.01 stored
    as float32 reads back as 0.01, not 0.009999999776, so a float64 model's LeakyReLU
    slope survives export + import unchanged."""
    return float(str(np.float32(v)))


def _only_attrs(attrs, allowed: set[str], where: str) -> None:
    extra = sorted(set(attrs) - allowed)
    if extra:
        raise ValueError(f"{where}: attribute {extra[0]!r} is not supported here")


# ------------------------------------------------------------------ the chain

class _Chain:
    """Walks the graph from its input, one layer at a time (see the module docstring)."""

    def __init__(self, g: _Graph, opset: int, width: int | None) -> None:
        self.g, self.opset, self.width = g, opset, width
        self.layers: list[_Linear | _Act] = []
        self.used: set[int] = set()

    def _node(self, i: int) -> onnx.NodeProto:
        n = self.g.nodes[i]
        if n.domain not in _DEFAULT_DOMAINS:
            raise ValueError(f"{self.g.where(i)}: op of domain {n.domain[:40]!r}; nncore reads "
                             "the default ONNX domain")
        return n

    def _inputs(self, i: int, n_min: int, n_max: int) -> list[str]:
        ins = list(self.g.nodes[i].input)
        while ins and not ins[-1]:
            ins.pop()
        if not n_min <= len(ins) <= n_max or len(self.g.nodes[i].output) < 1:
            raise ValueError(f"{self.g.where(i)}: takes {n_min}..{n_max} inputs, got {len(ins)}")
        return ins

    def _single_output(self, i: int) -> str:
        outs = [o for o in self.g.nodes[i].output if o]
        if len(outs) != 1:
            raise ValueError(f"{self.g.where(i)}: expected one output, got {len(outs)}")
        return outs[0]

    def _own(self, i: int, names: list[str]) -> None:
        """A weight or bias belongs to one layer: a tensor read by several nodes would let
        a small file ask for the same megabytes once per layer."""
        for name in names:
            readers = len(self.g.users.get(name, []))
            if readers > 1:
                raise ValueError(f"{self.g.where(i)}: the parameter {name[:80]!r} is read by "
                                 f"{readers} nodes (each weight and bias belongs to one layer)")

    def _take(self, *nodes: int) -> None:
        for i in nodes:
            if i in self.used:
                raise ValueError(f"{self.g.where(i)}: reached twice (the graph is not a chain)")
            self.used.add(i)

    # -- one step: the layer(s) made by the consumers of `cur`; returns the next tensor
    def step(self, cur: str) -> str:
        users = self.g.users.get(cur, [])
        if len(users) == 1:
            i = users[0]
            op = self._node(i).op_type
            if op in ("Gemm", "MatMul"):
                return self._linear(i, cur)
            if op in _ACTIVATION_OPS:
                return self._activation(i, cur)
            if op in ("Identity", "Cast", "Dropout", "Flatten", "Reshape"):
                return self._pass_through(i, cur)
            if op not in REGION_OPS:
                raise ValueError(f"{self.g.where(i)}: op {op[:40]} is not one nncore reads "
                                 "(Gemm, MatMul, Add, the activations, Identity, Cast, "
                                 "Dropout, Flatten, Reshape)")
        return self._region(cur)

    def _check_width(self, i: int, n_in: int) -> None:
        if self.width is not None and n_in != self.width:
            raise ValueError(f"{self.g.where(i)}: expects {n_in} input features, the tensor "
                             f"before it has {self.width} (shapes do not chain)")

    def _linear(self, i: int, cur: str) -> str:
        g, where = self.g, self.g.where(i)
        n = g.nodes[i]
        attrs = attribute_map(n, where)
        if n.op_type == "Gemm":
            _only_attrs(attrs, {"transA", "transB", "alpha", "beta"}, where)
            ins = self._inputs(i, 2, 3)
            if _attr(attrs, "transA", onnx.AttributeProto.INT, 0, where) != 0:
                raise ValueError(f"{where}: transA=1 (the data transposed) is not a layer")
            trans_b = _attr(attrs, "transB", onnx.AttributeProto.INT, 0, where)
            if trans_b not in (0, 1):
                raise ValueError(f"{where}: transB={trans_b}; expected 0 or 1")
            alpha = _attr(attrs, "alpha", onnx.AttributeProto.FLOAT, 1.0, where)
            beta = _attr(attrs, "beta", onnx.AttributeProto.FLOAT, 1.0, where)
        else:
            _only_attrs(attrs, set(), where)
            ins = self._inputs(i, 2, 2)
            trans_b, alpha, beta = 0, 1.0, 1.0
        if ins[0] != cur or ins[1] == cur:
            raise ValueError(f"{where}: the data must be the first input and only the first")
        self._own(i, ins[1:])
        b = g.const(ins[1], where)
        if b.ndim != 2 or b.dtype.kind != "f" or 0 in b.shape:
            raise ValueError(f"{where}: the weight must be a non-empty 2-D float tensor, got "
                             f"shape {b.shape} of {b.dtype}")
        w = b if trans_b else b.T      # (out, in)
        if alpha != 1.0:
            w = w * w.dtype.type(alpha)
        self._check_width(i, w.shape[1])
        bias = None
        if len(ins) == 3:
            bias = self._bias(i, ins[2], w.shape[0], w.dtype)
            if beta != 1.0:
                bias = bias * bias.dtype.type(beta)
        self._take(i)
        out = self._single_output(i)
        if bias is None:   # a bias added by the next node (MatMul + Add, Gemm + Add)
            out, bias = self._bias_add(out, w.shape[0], w.dtype)
        self.layers.append(_Linear(np.ascontiguousarray(w), bias))
        self.width = w.shape[0]
        return out

    def _bias(self, i: int, name: str, n_out: int, dtype: np.dtype) -> np.ndarray:
        c = self.g.const(name, self.g.where(i))
        if c.dtype.kind != "f" or c.shape not in ((), (1,), (n_out,), (1, n_out)):
            raise ValueError(f"{self.g.where(i)}: the bias must be a float tensor of shape "
                             f"({n_out},), (1, {n_out}) or a scalar, got {c.shape} of {c.dtype}")
        return np.broadcast_to(c.reshape(-1), (n_out,)).astype(dtype, copy=True)

    def _bias_add(self, out: str, n_out: int, dtype: np.dtype) -> tuple[str, np.ndarray | None]:
        users = self.g.users.get(out, [])
        if len(users) != 1 or out in self.g.outputs:
            return out, None
        i = users[0]
        n = self.g.nodes[i]
        if n.op_type != "Add" or n.domain not in _DEFAULT_DOMAINS:
            return out, None
        ins = self._inputs(i, 2, 2)
        other = ins[1] if ins[0] == out else ins[0]
        if other == out or not self.g.is_const(other):
            return out, None
        _only_attrs(attribute_map(n, self.g.where(i)), set(), self.g.where(i))
        self._own(i, [other])
        bias = self._bias(i, other, n_out, dtype)
        self._take(i)
        return self._single_output(i), bias

    def _activation(self, i: int, cur: str) -> str:
        n, where = self.g.nodes[i], self.g.where(i)
        self._inputs(i, 1, 1)
        name, param_attr, default = _ACTIVATION_OPS[n.op_type]
        attrs = attribute_map(n, where)
        param = None
        if n.op_type in ("Softmax", "LogSoftmax"):
            _only_attrs(attrs, {"axis"}, where)
            # before opset 13 the input is coerced to 2-D at `axis` (default 1); from 13 on
            # the op runs along `axis` (default -1): for a (batch, features) tensor, axis
            # 1 or -1 is "over each row" in both readings
            axis = _attr(attrs, "axis", onnx.AttributeProto.INT, 1 if self.opset < 13 else -1,
                         where)
            if axis not in (1, -1):
                raise ValueError(f"{where}: axis={axis}; nncore's {n.op_type} runs over each "
                                 "row (axis 1 or -1)")
        elif n.op_type == "Gelu":
            _only_attrs(attrs, {"approximate"}, where)
            if self.opset < 20:
                raise ValueError(f"{where}: Gelu is an op of opset 20 and later; the file "
                                 f"imports opset {self.opset}")
            approx = _attr(attrs, "approximate", onnx.AttributeProto.STRING, b"none", where)
            if approx not in (b"none", b"tanh"):
                raise ValueError(f"{where}: approximate={approx[:20]!r}; expected 'none' or "
                                 "'tanh'")
            name = "gelu" if approx == b"none" else "gelu_tanh"
        elif param_attr is not None:
            _only_attrs(attrs, {param_attr}, where)
            v = _attr(attrs, param_attr, onnx.AttributeProto.FLOAT, default, where)
            if not np.isfinite(v):
                raise ValueError(f"{where}: {param_attr}={v} must be finite")
            param = _decimal(v)
        else:
            _only_attrs(attrs, set(), where)
        self._take(i)
        self.layers.append(_Act(name, param))
        return self._single_output(i)

    def _pass_through(self, i: int, cur: str) -> str:
        """Ops that leave a (batch, features) tensor as it is."""
        n, where = self.g.nodes[i], self.g.where(i)
        attrs = attribute_map(n, where)
        op = n.op_type
        if op == "Identity":
            self._inputs(i, 1, 1)
            _only_attrs(attrs, set(), where)
        elif op == "Cast":
            self._inputs(i, 1, 1)
            _only_attrs(attrs, {"to", "saturate", "round_mode"}, where)
            to = _attr(attrs, "to", onnx.AttributeProto.INT, None, where)
            if to not in _FLOAT_TYPES:
                raise ValueError(f"{where}: Cast to element type {to}; only FLOAT or DOUBLE "
                                 "keeps the features (the model has one float dtype)")
        elif op == "Flatten":
            self._inputs(i, 1, 1)
            _only_attrs(attrs, {"axis"}, where)
            axis = _attr(attrs, "axis", onnx.AttributeProto.INT, 1, where)
            if axis not in (1, -1):   # on a 2-D tensor, -1 is axis 1
                raise ValueError(f"{where}: Flatten with axis={axis} mixes rows (1 or -1 "
                                 "keeps them)")
        elif op == "Dropout":
            ins = self._inputs(i, 1, 3)
            _only_attrs(attrs, {"seed", "ratio", "is_test"}, where)
            if len(ins) == 3 and bool(np.any(self.g.const(ins[2], where))):
                raise ValueError(f"{where}: Dropout in training mode")
            if any(self.g.users.get(o) or o in self.g.outputs for o in n.output[1:] if o):
                raise ValueError(f"{where}: the Dropout mask is used")
            return self._pass_on(i, n.output[0])
        else:   # Reshape
            ins = self._inputs(i, 2, 2)
            _only_attrs(attrs, {"allowzero"}, where)
            shape = self.g.const(ins[1], where)
            # 0 copies the input's dimension, unless allowzero=1 makes it a literal 0;
            # one -1 (at most) is what the other dimensions leave
            allowzero = _attr(attrs, "allowzero", onnx.AttributeProto.INT, 0, where)
            copy = () if allowzero else (0,)
            keeps = shape.dtype.kind == "i" and (
                (shape.shape == (2,) and shape[0] in (-1, *copy)
                 and (shape[1] in copy or shape[1] == -1 != shape[0]
                      or (self.width is not None and shape[1] == self.width)))
                or (shape.shape == (1,) and shape[0] == -1 and self.width == 1))
            if not keeps:
                to = shape.tolist()[:8] if shape.ndim == 1 else f"a shape of dims {shape.shape}"
                raise ValueError(f"{where}: Reshape to {to} does not keep the rows of a "
                                 f"(batch, {self.width}) tensor")
        return self._pass_on(i, self._single_output(i))

    def _pass_on(self, i: int, out: str) -> str:
        self._take(i)
        return out

    def _region(self, cur: str) -> str:
        """Grow an elementwise region from `cur` until it closes (one tensor leaves it)
        and computes an activation; see _regions."""
        g = self.g
        users = g.users.get(cur, [])
        index: dict[str, int | None] = {cur: None}   # tensor -> step producing it
        region = Region()
        nodes: list[int] = []
        for i in range(min(users), len(g.nodes)):
            n = g.nodes[i]
            if not any(t in index for t in n.input):
                continue
            where = g.where(i)
            self._node(i)
            ins = [t for t in n.input]
            arity = REGION_OPS.get(n.op_type, (None,))[0]
            if arity != len(ins) or len(nodes) >= MAX_REGION or len(n.output) != 1:
                if not nodes:
                    raise ValueError(f"{where}: op {n.op_type[:40]} (with {len(ins)} inputs) "
                                     f"after {cur[:80]!r} is not part of a layer nncore reads")
                break
            _only_attrs(attribute_map(n, where), set(), where)
            args: list[Any] = []
            for t in ins:
                if t in index:
                    args.append(index[t])
                else:
                    c = g.const(t, where)
                    # more than 2 dims would broadcast the (batch, features) data up
                    if c.size != 1 or c.ndim > 2 or c.dtype.kind not in "fi":
                        raise ValueError(f"{where}: input {t[:80]!r} is neither the data "
                                         "nor a scalar constant (shape (), (1,) or (1, 1)), "
                                         f"got shape {c.shape} of {c.dtype}")
                    args.append(float(c.reshape(-1)[0]))
            region.add(n.op_type, args)
            nodes.append(i)
            out = n.output[0]
            index[out] = len(nodes) - 1
            inside = set(nodes)
            live = [t for t in index if t in g.outputs or
                    any(u not in inside for u in g.users.get(t, []))]
            if live == [out]:
                name = region.activation()
                if name is not None:
                    self._take(*nodes)
                    if name != "identity":
                        self.layers.append(_Act(name, None))
                    return out
        ops = ", ".join(g.nodes[i].op_type for i in nodes[:12])
        raise ValueError(f"{g.where(nodes[0])}: the elementwise ops from {cur[:80]!r} on "
                         f"({ops}) compute no activation nncore has")

    # -- post-processing
    def post_processing(self, cur: str) -> list[int] | None:
        """The nodes after `cur` when they are all classifier post-processing (reading
        only `cur`, each other and constants, and including a class decision), else None."""
        g = self.g
        if not any(g.nodes[i].op_type in _POST_START for i in g.users.get(cur, [])):
            return None
        seen, todo, nodes = {cur}, [cur], set()
        while todo:
            for i in g.users.get(todo.pop(), []):
                if i in nodes:
                    continue
                if g.nodes[i].op_type not in _POST_OPS or len(nodes) >= MAX_POST:
                    return None
                nodes.add(i)
                for o in g.nodes[i].output:
                    if o and o not in seen:
                        seen.add(o)
                        todo.append(o)
        if (any(t and t not in seen and not g.is_const(t) for i in nodes for t in g.nodes[i].input)
                or not any(g.nodes[i].op_type in _DECISION_OPS for i in nodes)
                or any(o not in seen for o in g.outputs)):
            return None
        return sorted(nodes)


# ------------------------------------------------------------------- loading

def _opset(proto: onnx.ModelProto, path: str) -> int:
    versions = [o.version for o in proto.opset_import if o.domain in _DEFAULT_DOMAINS]
    if len(versions) != 1 or versions[0] < 1:
        raise ValueError(f"{path}: the file must import the default ONNX opset once, got "
                         f"{[(o.domain[:40], o.version) for o in proto.opset_import][:8]}")
    return int(versions[0])


def _the_input(g: _Graph, proto: onnx.ModelProto) -> tuple[str, np.dtype, int | None]:
    inputs = [v for v in proto.graph.input if v.name not in g.inits]
    if len(inputs) != 1:
        raise ValueError(f"{g.path}: the graph must have one input (batch, features), got "
                         f"{len(inputs)}: {[v.name[:40] for v in inputs][:8]}")
    v = inputs[0]
    if v.name in g.producer:
        raise ValueError(f"{g.where(g.producer[v.name])}: writes the graph input "
                         f"{v.name[:80]!r}")
    t = v.type.tensor_type if v.type.HasField("tensor_type") else None
    if t is None or t.elem_type not in _FLOAT_TYPES:
        raise ValueError(f"{g.path}: input {v.name[:80]!r} must be a FLOAT or DOUBLE tensor")
    width = None
    if t.HasField("shape"):
        dims = t.shape.dim
        if len(dims) != 2:
            raise ValueError(f"{g.path}: input {v.name[:80]!r} has {len(dims)} dimensions; "
                             "expected 2 (batch, features)")
        if dims[1].HasField("dim_value"):
            width = int(dims[1].dim_value)
            if width <= 0:
                raise ValueError(f"{g.path}: input {v.name[:80]!r} has {width} features")
    return v.name, _FLOAT_TYPES[t.elem_type], width


def _walk(g: _Graph, opset: int, start: str, width: int | None) -> tuple[list, str, list[int]]:
    chain = _Chain(g, opset, width)
    cur, post = start, []
    while True:
        if len(chain.layers) > MAX_LAYERS:
            raise ValueError(f"{g.path}: more than {MAX_LAYERS:,} layers")
        if not g.users.get(cur):
            break
        found = chain.post_processing(cur)
        if found is not None:
            post = found
            chain.used.update(post)
            break
        if cur in g.outputs:
            raise ValueError(f"{g.path}: graph output {cur[:80]!r} is also read by the "
                             "next node (a branch)")
        cur = chain.step(cur)
    if not post and g.outputs != [cur]:
        others = [o[:80] for o in g.outputs if o != cur]
        raise ValueError(f"{g.path}: the chain from the input ends at {cur[:80]!r}, but the "
                         f"graph's outputs are {[o[:80] for o in g.outputs][:8]}"
                         + (f" ({others[0]!r} is not on it)" if others else ""))
    for i, n in enumerate(g.nodes):
        if i not in chain.used and not g.is_const(n.output[0] if n.output else ""):
            raise ValueError(f"{g.where(i)}: not on the chain from the input to the output "
                             "(a branch, or a node nncore cannot place)")
    return chain.layers, cur, post


def _build(layers: list, dtype: np.dtype, width: int | None, path: str,
           allow_nonfinite: bool) -> Sequential:
    """Check every weight in the model's dtype, then build (nothing is built before)."""
    if not any(isinstance(s, _Linear) for s in layers):
        raise ValueError(f"{path}: no Gemm or MatMul layer (a model needs one)")
    n = width or next(s.weight.shape[1] for s in layers if isinstance(s, _Linear))
    row = 0
    weights = []
    for k, s in enumerate(layers):
        if isinstance(s, _Linear):
            with np.errstate(over="ignore"):
                w = s.weight.astype(dtype)
                b = None if s.bias is None else s.bias.astype(dtype)
            if not allow_nonfinite and not (np.isfinite(w).all() and
                                            (b is None or np.isfinite(b).all())):
                raise ValueError(f"{path}: the weights of layer {k} overflow {dtype} (pass "
                                 "allow_nonfinite=True to load them anyway)")
            weights.append((w, b))
            n = w.shape[0]
        row += n
    if row > MAX_ROW_VALUES and os.path.getsize(path) < row:
        raise ValueError(f"{path}: the layers need {row:,} values per input row, more than a "
                         f"file of its size is allowed to ask for ({MAX_ROW_VALUES:,})")
    nn_layers = []
    for s in layers:
        if isinstance(s, _Linear):
            nn_layers.append(Linear(s.weight.shape[1], s.weight.shape[0], bias=s.bias is not None))
        else:
            a = _registry.ACTIVATIONS[s.name]
            kwargs = {a.param: s.param} if a.param and s.param is not None else {}
            nn_layers.append(ACTIVATIONS[s.name](**kwargs))
    model = Sequential(*nn_layers, dtype=dtype)
    lin = [layer for layer in model.layers if isinstance(layer, Linear)]
    for layer, (w, b) in zip(lin, weights):
        layer.weight.data[...] = w
        if b is not None:
            layer.bias.data[...] = b
    return model


def load(path: str | os.PathLike, dtype: Any = None, *,
         allow_nonfinite: bool = False) -> Sequential:
    """Read an MLP-shaped ONNX graph into a new ``nncore.nn.Sequential``.

    Reads a chain from the graph's one input (batch, features) of: ``Gemm`` (transA=0, any
    transB, alpha, beta; weight and bias constants) or ``MatMul`` (+ ``Add`` of a constant
    bias); ``Relu``, ``LeakyRelu``, ``Elu``, ``Gelu``, ``Sigmoid``, ``Tanh``, ``Softplus``,
    ``Softmax`` / ``LogSoftmax`` over each row; elementwise subgraphs that compute one of
    nncore's activations (the several-node GELU, SiLU and Softplus forms of PyTorch's
    exporters); and ops that change nothing here (Identity, Cast to float, Dropout in
    inference, Flatten, Reshape to (-1, features)). Classifier post-processing after the
    chain (skl2onnx's ArgMax, label lookup, ZipMap; the label decision
    :func:`nncore.onnx.export` writes for an MLPClassifier) is dropped with a
    :class:`PostProcessingDropped` warning: the model returns the probabilities (two
    classes: P(class 1), one column).

    Parameters
    ----------
    path : str or path-like
        The ``.onnx`` file. Its external data (PyTorch's exporter writes weights to
        ``model.onnx.data``) is read only from regular files in the same folder.
    dtype : "float32", "float64" or None
        The model's dtype; None: the graph input's (FLOAT -> float32, DOUBLE -> float64).
    allow_nonfinite : bool
        Load NaN / inf weights instead of refusing them.

    Returns
    -------
    nncore.nn.Sequential
        ``model.predict(x)`` gives what the graph computes (up to rounding; an
        nncore-exported file round-trips bit for bit).

    Raises
    ------
    ValueError
        Not an ONNX file (truncated, random bytes), a graph that is not such a chain (the
        message names the node and its op), a tensor whose dims disagree with its data or
        declare more than 2**31 elements, external data outside the model's folder or
        past the end of its file, NaN / inf weights.
    OSError
        The file cannot be opened.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like, got {type(path).__name__}")
    if not isinstance(allow_nonfinite, (bool, np.bool_)):
        raise TypeError(f"allow_nonfinite must be a bool, got {type(allow_nonfinite).__name__}")
    want = None
    if dtype is not None:
        want = parse_dtype(dtype)
        if want not in (np.float32, np.float64):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {want}")
    path = os.fspath(path)
    proto = read_model(path)
    opset = _opset(proto, path)
    g = _Graph(proto, path, bool(allow_nonfinite))
    start, in_dtype, width = _the_input(g, proto)
    layers, end, post = _walk(g, opset, start, width)
    model = _build(layers, want or in_dtype, width, path, bool(allow_nonfinite))
    if post:
        ops = sorted({g.nodes[i].op_type for i in post})
        warnings.warn(f"{path}: dropped classifier post-processing ({', '.join(ops)}); the "
                      f"model returns {end!r}, shape (batch, {model.out_features})",
                      PostProcessingDropped, stacklevel=2)
    return model
