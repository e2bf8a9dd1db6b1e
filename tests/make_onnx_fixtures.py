"""Write the committed ONNX files of the tests (deterministic for given library versions).

    python tests/make_onnx_fixtures.py       # needs nncore, onnx, torch (+ onnxscript),
                                             # scikit-learn and skl2onnx

tests/onnx_fixtures/   files real exporters wrote, so nncore.onnx.load is tested on them
                       where those exporters are not installed; ``expected.npz`` holds,
                       for each, an input ``<name>.x`` and what the SOURCE framework
                       computed on it, ``<name>.y`` (torch's forward, sklearn's
                       predict_proba / predict): the oracle of tests/test_onnx.py.
    torch_dynamo.onnx (+ .onnx.data)  torch.onnx.export(dynamo=True), opset 20: Gemm, Gelu
                       (both forms), Sigmoid+Mul, Softplus+Greater+Where, LogSoftmax; the
                       larger weights in the external data file
    torch_legacy_opset17.onnx  dynamo=False, opset 17: GELU as Div/Erf/Add/Mul/Mul and
                       its tanh form as Mul/Add/Tanh, ELU, LeakyRelu, Softmax
    skl2onnx_classifier.onnx   sklearn MLPClassifier, 3 classes (Cast, MatMul, Add, Tanh,
                       Softmax, ArgMax, ArrayFeatureExtractor, ZipMap)
    skl2onnx_binary.onnx       2 classes: a Sigmoid output and [1 - p, p] (Sub, Concat)
    skl2onnx_regressor.onnx    MLPRegressor (Relu, final Reshape to (-1, 1))
tests/fuzz/corpus_onnx/  the seeds of the ONNX fuzz target: ``valid_*`` files load,
                       ``bad_*`` files raise ValueError (tests/test_onnx.py replays them)
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "onnx_fixtures")
CORPUS = os.path.join(HERE, "fuzz", "corpus_onnx")
sys.path.insert(0, os.path.join(HERE, "fuzz"))
from fuzz_python import onnx_external_data  # noqa: E402


def _torch_models(out: dict) -> None:
    import torch
    torch.manual_seed(0)
    nn = torch.nn
    x = torch.randn(9, 6)
    dyn = nn.Sequential(nn.Linear(6, 64), nn.GELU(), nn.Linear(64, 16), nn.SiLU(),
                        nn.Linear(16, 8), nn.Softplus(), nn.Linear(8, 8),
                        nn.GELU(approximate="tanh"), nn.Linear(8, 3),
                        nn.LogSoftmax(dim=-1)).eval()
    legacy = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.Linear(8, 8),
                           nn.GELU(approximate="tanh"), nn.Linear(8, 8), nn.ELU(0.5),
                           nn.Linear(8, 8), nn.LeakyReLU(0.2), nn.Linear(8, 4),
                           nn.Softmax(dim=1)).eval()
    with torch.no_grad():
        out["torch_dynamo"] = (x.numpy(), dyn(x).numpy())
        out["torch_legacy_opset17"] = (x.numpy(), legacy(x).numpy())
    torch.onnx.export(dyn, (x,), os.path.join(FIXTURES, "torch_dynamo.onnx"), dynamo=True,
                      input_names=["input"], output_names=["output"],
                      dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.onnx.export(legacy, (x,), os.path.join(FIXTURES, "torch_legacy_opset17.onnx"),
                      dynamo=False, opset_version=17, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "batch"}})


def _sklearn_models(out: dict) -> None:
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from skl2onnx import to_onnx
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 5)).astype(np.float32)
    y3 = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    cases = {
        "skl2onnx_classifier": (MLPClassifier((7,), activation="tanh", max_iter=300,
                                              random_state=0), y3, "predict_proba"),
        "skl2onnx_binary": (MLPClassifier((6,), max_iter=300, random_state=0),
                            (X[:, 2] > 0).astype(int), "predict_proba"),
        "skl2onnx_regressor": (MLPRegressor(hidden_layer_sizes=(6, 4), max_iter=300,
                                            random_state=0), X[:, 0] - X[:, 3], "predict"),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # ConvergenceWarning: a few iterations are enough
        for name, (est, y, method) in cases.items():
            est.fit(X, y)
            x = X[:9]
            want = getattr(est, method)(x).astype(np.float32)
            if name == "skl2onnx_binary":
                want = want[:, 1:]        # nncore's model returns P(class 1), (n, 1)
            out[name] = (x, want.reshape(len(x), -1))
            model = to_onnx(est, X[:1])
            with open(os.path.join(FIXTURES, name + ".onnx"), "wb") as f:
                f.write(model.SerializeToString())


def _external_seed() -> bytes:
    """A valid model whose weight (4, 3) and bias (4,) lie in m.onnx.data (the fuzz
    target's external data file) at offsets 64 and 128."""
    data = onnx_external_data()

    def ext(name, dims, offset):
        t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims,
                        data_location=TensorProto.EXTERNAL)
        n = int(np.prod(dims)) * 4
        assert offset + n <= len(data)
        for k, v in (("location", "m.onnx.data"), ("offset", str(offset)), ("length", str(n))):
            t.external_data.add(key=k, value=v)
        return t
    g = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1),
         helper.make_node("Relu", ["h"], ["y"])], "ext",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])],
        initializer=[ext("w", [4, 3], 64), ext("b", [4], 128)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)],
                             ir_version=8).SerializeToString()


def _nncore_seeds() -> dict[str, bytes]:
    import nncore.nn as nn
    import nncore.onnx as nxo
    models = {
        "nncore_every_layer_f32": nn.Sequential(
            nn.Linear(3, 4), nn.LeakyReLU(0.1), nn.ELU(0.5), nn.GELU(), nn.GELU("tanh"),
            nn.SiLU(), nn.Softplus(), nn.Sigmoid(), nn.Tanh(), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4, 3), nn.Softmax(), nn.LogSoftmax(), seed=1),
        "nncore_mlp_f64": nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1, bias=False),
                                        dtype="float64", seed=2),
    }
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in models.items():
            for opset in (13, 20):
                p = nxo.export(model, os.path.join(tmp, "m.onnx"), opset=opset)
                with open(p, "rb") as f:
                    out[f"{name}_opset{opset}"] = f.read()
    return out


def _broken(raw: bytes) -> dict[str, bytes]:
    """Variants of a valid model (nncore's f32 MLP) that load must refuse."""
    m = onnx.ModelProto()
    m.ParseFromString(raw)
    out = {"empty": b"", "truncated_half": raw[: len(raw) // 2],
           "truncated_tail": raw[:-7], "random": np.random.default_rng(7).bytes(300)}

    def mut(name, fn):
        c = onnx.ModelProto()
        c.CopyFrom(m)
        fn(c)
        out[name] = c.SerializeToString()

    w = "0.weight"

    def init(c):
        return next(t for t in c.graph.initializer if t.name == w)

    def set_ext(loc, offset="0", length=None):
        def fn(c):
            t = init(c)
            nbytes = len(t.raw_data)
            t.ClearField("raw_data")
            t.data_location = TensorProto.EXTERNAL
            t.external_data.add(key="location", value=loc)
            t.external_data.add(key="offset", value=offset)
            t.external_data.add(key="length", value=str(nbytes) if length is None else length)
        return fn

    mut("ext_absolute", set_ext("/etc/passwd"))
    mut("ext_dotdot", set_ext("../m.onnx.data"))
    mut("ext_subdir", set_ext("sub/m.onnx.data"))
    mut("ext_symlink_outside", set_ext("outside.data"))
    mut("ext_missing", set_ext("nothing.data"))
    mut("ext_offset_past_end", set_ext("m.onnx.data", offset=str(10 ** 6)))
    mut("ext_length_past_end", set_ext("m.onnx.data", offset="1000", length="48"))
    mut("ext_offset_not_int", set_ext("m.onnx.data", offset="-4"))
    mut("dims_disagree", lambda c: init(c).dims.__setitem__(0, init(c).dims[0] + 1))
    mut("dims_overflow", lambda c: (init(c).ClearField("dims"),
                                    init(c).dims.extend([2 ** 40, 2 ** 40])))
    mut("dims_negative", lambda c: init(c).dims.__setitem__(0, -4))
    mut("nan_weight", lambda c: init(c).__setattr__(
        "raw_data", np.full(len(init(c).raw_data) // 4, np.nan, "<f4").tobytes()))
    mut("conv_op", lambda c: c.graph.node[0].__setattr__("op_type", "Conv"))
    mut("no_opset", lambda c: c.ClearField("opset_import"))
    mut("two_inputs", lambda c: c.graph.input.append(c.graph.input[0]))
    return out


def write() -> dict[str, int]:
    os.makedirs(FIXTURES, exist_ok=True)
    expected: dict = {}
    _torch_models(expected)
    _sklearn_models(expected)
    np.savez(os.path.join(FIXTURES, "expected.npz"),
             **{f"{k}.{part}": v for k, (x, y) in expected.items()
                for part, v in (("x", x), ("y", y))})
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    os.makedirs(CORPUS)
    seeds = {f"valid_{k}": v for k, v in _nncore_seeds().items()}
    seeds["valid_external_data"] = _external_seed()
    for name in ("torch_legacy_opset17", "skl2onnx_classifier", "skl2onnx_binary",
                 "skl2onnx_regressor"):
        with open(os.path.join(FIXTURES, name + ".onnx"), "rb") as f:
            seeds[f"valid_{name}"] = f.read()
    seeds.update({f"bad_{k}": v for k, v in
                  _broken(seeds["valid_nncore_every_layer_f32_opset13"]).items()})
    for name, data in seeds.items():
        with open(os.path.join(CORPUS, name + ".onnx"), "wb") as f:
            f.write(data)
    return {"fixtures": len(expected), "corpus_onnx": len(seeds)}


if __name__ == "__main__":
    print(write())
