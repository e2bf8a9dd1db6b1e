"""nncore.sklearn's MLPClassifier / MLPRegressor -> ONNX, in the form skl2onnx writes
scikit-learn's own MLPs (with ``zipmap=False``).

What it is for: the graph builders of ``_export._GRAPH_BUILDERS`` for the estimators.
The network (``Gemm`` per layer with the estimator's ``coefs_`` / ``intercepts_``, the
hidden activations, Dropout -> nothing) is followed by the output activation and, for a
classifier, the label decision:

- classifier: outputs ``label`` and ``probabilities`` (the model's float type, columns in
  the order of ``classes_``). Several classes: ``Softmax`` -> probabilities, ``ArgMax``
  -> index -> ``Gather`` from the classes (an int64 or string initializer) -> label (n,).
  Two classes: ``Sigmoid`` p -> probabilities ``[1 - p, p]`` (``Sub``, ``Concat``),
  label = classes[p > 0.5] (``Greater``, ``Cast``, ``Gather``), as scikit-learn's
  ``predict`` decides. Multilabel: ``Sigmoid`` -> probabilities (n, k), label = the 0/1
  matrix ``p > 0.5`` as int64 (n, k).
- regressor: output ``variable`` (n, n_outputs): the network's output, through ``Exp``
  for ``loss='poisson'``.

What it is not: the export of a plain Sequential (``_export``). It reads only the
estimators' public fitted attributes (``model_`` for the layer sequence, ``coefs_`` /
``intercepts_`` for the weights — arrays assigned in their place count —,
``out_activation_``, ``classes_``, ``n_outputs_``) and registers them by class name: no
import of scikit-learn.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .._version import __version__
from ..nn import Dropout, Linear
from ._export import _ELEM_TYPE, _GRAPH_BUILDERS, _Graph, _layer_nodes, gemm_node

__all__ = ["classifier_model", "regressor_model"]

_OUTPUT_NAMES = {"classifier": ("label", "probabilities"), "regressor": ("variable",)}


def _fitted(est: Any) -> None:
    missing = [a for a in ("model_", "coefs_", "intercepts_", "out_activation_", "n_outputs_")
               if not hasattr(est, a)]
    if missing:
        raise ValueError(f"This {type(est).__name__} instance is not fitted yet (no "
                         f"{', '.join(missing)}): call fit before exporting it")


def _network(g: _Graph, est: Any, x: str) -> str:
    """The nodes of est.model_ with the estimator's coefs_ / intercepts_ as weights."""
    coefs, inters = list(est.coefs_), list(est.intercepts_)
    n_linear = sum(isinstance(layer, Linear) for layer in est.model_.layers)
    if len(coefs) != n_linear or len(inters) != n_linear:
        raise ValueError(f"coefs_ and intercepts_ must hold {n_linear} arrays each, got "
                         f"{len(coefs)} and {len(inters)}")
    k = 0
    for i, layer in enumerate(est.model_.layers):
        if isinstance(layer, Linear):
            w, b = np.asarray(coefs[k]), np.asarray(inters[k])
            if w.shape != (layer.in_features, layer.out_features) or b.shape != (
                    layer.out_features,):
                raise ValueError(f"coefs_[{k}] / intercepts_[{k}] have shapes {w.shape} / "
                                 f"{b.shape}, the network needs "
                                 f"({layer.in_features}, {layer.out_features}) / "
                                 f"({layer.out_features},)")
            x = gemm_node(g, str(i), x, w.T, b)
            k += 1
        elif not isinstance(layer, Dropout):
            x = _layer_nodes(g, i, layer, x)
    return x


def _classes_init(g: _Graph, classes: np.ndarray) -> str:
    """classes_ as an initializer: int64 for integer (or integral float / bool) labels,
    string for str labels; anything else is a TypeError."""
    c = np.asarray(classes)
    if c.dtype.kind in "biu":
        value = c.astype(np.int64)
    elif c.dtype.kind == "f" and np.all(np.isfinite(c)) and np.all(c == np.round(c)):
        value = c.astype(np.int64)
    elif c.dtype.kind in "UO" and all(isinstance(v, str) for v in c.tolist()):
        value = np.array(c.tolist(), dtype=object)
    else:
        raise TypeError(f"classes_ of dtype {c.dtype} have no ONNX label type (int64 or "
                        f"string labels are exported, as skl2onnx does)")
    g.inits.append(numpy_helper.from_array(value, "classes"))
    return "classes"


def _rename(g: _Graph, tensor: str, name: str) -> None:
    """Make the node writing ``tensor`` write ``name`` (and its readers read it)."""
    for node in g.nodes:
        for j, o in enumerate(node.output):
            if o == tensor:
                node.output[j] = name
        for j, o in enumerate(node.input):
            if o == tensor:
                node.input[j] = name


def _output(g: _Graph, x: str, name: str, input_name: str) -> None:
    if x == input_name or not g.nodes or x not in g.nodes[-1].output:
        g.nodes.append(helper.make_node("Identity", [x], [name], name=name))
    else:
        _rename(g, x, name)


def _classifier_graph(g: _Graph, est: Any, z: str, input_name: str,
                      batch: int | str) -> list[onnx.ValueInfoProto]:
    """The output activation and the label decision after the logits z; returns the
    graph outputs' value infos (label, probabilities)."""
    k = int(est.n_outputs_)
    act = est.out_activation_
    classes = np.asarray(est.classes_)
    multilabel = act == "logistic" and k > 1
    if act == "softmax":
        p = g.node("out", "Softmax", [z], axis=-1)
        _output(g, p, "probabilities", input_name)
        idx = g.node("out", "ArgMax", ["probabilities"], axis=1, keepdims=0)
        n_cols = k
    elif act == "logistic" and k == 1:
        p = g.node("out", "Sigmoid", [z])
        q = g.node("out", "Sub", [g.init("out.one", 1.0), p])
        g.nodes.append(helper.make_node("Concat", [q, p], ["probabilities"], axis=1,
                                        name="probabilities"))
        above = g.node("out", "Greater", [p, g.init("out.half", 0.5)])
        idx = g.node("out", "Reshape", [g.node("out", "Cast", [above], to=TensorProto.INT64),
                                        _int64_init(g, "out.rows", [-1])])
        n_cols = 2
    elif multilabel:
        p = g.node("out", "Sigmoid", [z])
        _output(g, p, "probabilities", input_name)
        above = g.node("out", "Greater", ["probabilities", g.init("out.half", 0.5)])
        g.nodes.append(helper.make_node("Cast", [above], ["label"], to=TensorProto.INT64,
                                        name="label"))
        n_cols = k
    else:
        raise ValueError(f"out_activation_ {act!r} is not a classifier's")
    if multilabel:
        label_elem, label_shape = TensorProto.INT64, [batch, k]
    else:
        cls = _classes_init(g, classes)
        g.nodes.append(helper.make_node("Gather", [cls, idx], ["label"], axis=0, name="label"))
        label_elem = g.inits[-1].data_type
        label_shape = [batch]
    if len(classes) != n_cols and not multilabel:
        raise ValueError(f"classes_ has {len(classes)} labels, the network's outputs "
                         f"give {n_cols} columns")
    outs = [helper.make_tensor_value_info("label", label_elem, label_shape),
            helper.make_tensor_value_info("probabilities", _ELEM_TYPE[g.dtype],
                                          [batch, n_cols])]
    return outs


def _int64_init(g: _Graph, name: str, value: list[int]) -> str:
    g.inits.append(numpy_helper.from_array(np.asarray(value, np.int64), name))
    return name


def _estimator_model(est: Any, kind: str, opset: int, batch: int | str, input_name: str,
                     output_name: str) -> onnx.ModelProto:
    _fitted(est)
    if output_name != "output":
        raise ValueError(f"an estimator's outputs are named as skl2onnx names them "
                         f"({', '.join(_OUTPUT_NAMES[kind])}); output_name must stay "
                         f"'output', got {output_name!r}")
    if input_name in _OUTPUT_NAMES[kind]:
        raise ValueError(f"input_name {input_name!r} is already the name of an output")
    model = est.model_
    g = _Graph(model.dtype, opset)
    z = _network(g, est, input_name)
    if kind == "classifier":
        outs = _classifier_graph(g, est, z, input_name, batch)
    else:
        act = est.out_activation_
        if act not in ("identity", "exp"):
            raise ValueError(f"out_activation_ {act!r} is not a regressor's")
        v = g.node("out", "Exp", [z]) if act == "exp" else z
        _output(g, v, "variable", input_name)
        outs = [helper.make_tensor_value_info("variable", _ELEM_TYPE[model.dtype],
                                              [batch, int(est.n_outputs_)])]
    taken = {t.name for t in g.inits} | {o for n in g.nodes for o in n.output}
    if input_name in taken:
        raise ValueError(f"input_name {input_name!r} is already the name of a tensor of "
                         f"the graph")
    graph = helper.make_graph(
        g.nodes, f"nncore_{type(est).__name__}",
        [helper.make_tensor_value_info(input_name, _ELEM_TYPE[model.dtype],
                                       [batch, model.in_features])],
        outs, initializer=g.inits)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="nncore",
                              producer_version=__version__,
                              doc_string=f"nncore.sklearn.{type(est).__name__} exported by "
                                         f"nncore.onnx")
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    return proto


def classifier_model(est: Any, opset: int, batch: int | str, input_name: str,
                     output_name: str) -> onnx.ModelProto:
    """The ModelProto of a fitted MLPClassifier: outputs ``label``, ``probabilities``."""
    return _estimator_model(est, "classifier", opset, batch, input_name, output_name)


def regressor_model(est: Any, opset: int, batch: int | str, input_name: str,
                    output_name: str) -> onnx.ModelProto:
    """The ModelProto of a fitted MLPRegressor: output ``variable`` (n, n_outputs)."""
    return _estimator_model(est, "regressor", opset, batch, input_name, output_name)


_GRAPH_BUILDERS["nncore.sklearn._classifier.MLPClassifier"] = classifier_model
_GRAPH_BUILDERS["nncore.sklearn._regressor.MLPRegressor"] = regressor_model
