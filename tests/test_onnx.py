"""nncore.onnx: export checked by onnxruntime, import checked against the framework that
wrote the file, the round trip bit for bit, and hostile files refused with ValueError.

Oracles: onnxruntime's CPUExecutionProvider runs every exported file; imported files are
compared with what PyTorch / scikit-learn compute (at test time when they are installed,
else the outputs recorded next to the committed files of tests/onnx_fixtures by
tests/make_onnx_fixtures.py). Skipped without onnx and onnxruntime; CI sets
NNCORE_REQUIRE_ONNX=1, which turns the skip into a failure.
"""
import glob
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

import nncore
import nncore.nn as nn
from nncore import _registry, cli
from nncore import io as nio
from _optional import need


onnx = need("onnx")
ort = need("onnxruntime")
import nncore.onnx as nxo  # noqa: E402
from nncore.onnx import _regions  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "onnx_fixtures")
CORPUS = os.path.join(HERE, "fuzz", "corpus_onnx")
OPSETS = (13, 17, 20)


def run_ort(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})


def ops_of(path):
    return [n.op_type for n in onnx.load(str(path)).graph.node]


def load_quiet(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nxo.PostProcessingDropped)
        return nxo.load(path, **kw)


# one layer of every kind the exporter writes (both GELU forms), keyed for test ids
LAYERS = {
    "relu": lambda: nn.ReLU(), "leaky_relu": lambda: nn.LeakyReLU(0.1),
    "elu": lambda: nn.ELU(0.7), "gelu": lambda: nn.GELU(), "gelu_tanh": lambda: nn.GELU("tanh"),
    "silu": lambda: nn.SiLU(), "softplus": lambda: nn.Softplus(), "sigmoid": lambda: nn.Sigmoid(),
    "tanh": lambda: nn.Tanh(), "softmax": lambda: nn.Softmax(),
    "log_softmax": lambda: nn.LogSoftmax(),
    "identity": lambda: nn.Identity(), "dropout": lambda: nn.Dropout(0.3),
}


def model_with(kind, dtype="float32", seed=0):
    """Linear -> layer -> Linear -> layer: the layer seen inside the net and at its output."""
    return nn.Sequential(nn.Linear(6, 9), LAYERS[kind](), nn.Linear(9, 5), LAYERS[kind](),
                         dtype=dtype, seed=seed)


def inputs(n, n_in=6, dtype=np.float32, seed=1):
    return (np.random.default_rng(seed).normal(size=(n, n_in)) * 2).astype(dtype)


# ------------------------------------------------------------------- export

@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_export_runs_in_onnxruntime_like_predict(tmp_path, kind, opset):
    model = model_with(kind)
    path = nxo.export(model, tmp_path / "m.onnx", opset=opset)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    for batch in (1, 257):
        x = inputs(batch)
        (got,) = run_ort(path, x)
        want = model.predict(x)
        assert got.shape == want.shape == (batch, 5) and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opset", OPSETS)
def test_gelu_forms_by_opset(tmp_path, opset):
    for approximate in ("none", "tanh"):
        model = nn.Sequential(nn.Linear(3, 4), nn.GELU(approximate))
        ops = ops_of(model.to_onnx(tmp_path / "g.onnx", opset=opset))
        if opset >= 20:
            assert ops == ["Gemm", "Gelu"]
            attr = onnx.load(str(tmp_path / "g.onnx")).graph.node[1].attribute[0]
            assert attr.name == "approximate" and attr.s.decode() == approximate
        elif approximate == "none":
            assert "Erf" in ops and "Gelu" not in ops
        else:
            assert "Erf" not in ops and "Gelu" not in ops and "Sigmoid" in ops


def test_each_layer_becomes_its_onnx_op(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.5), nn.LeakyReLU(0.2),
                          nn.ELU(), nn.SiLU(), nn.Softplus(), nn.Sigmoid(), nn.Tanh(),
                          nn.Identity(), nn.Linear(4, 2, bias=False), nn.Softmax(),
                          nn.LogSoftmax())
    m = onnx.load(model.to_onnx(tmp_path / "m.onnx", opset=17))
    assert [n.op_type for n in m.graph.node] == [
        "Gemm", "Relu", "LeakyRelu", "Elu", "Sigmoid", "Mul", "Softplus", "Sigmoid", "Tanh",
        "Gemm", "Softmax", "LogSoftmax"]
    gemm = m.graph.node[0]
    assert {a.name: a.i for a in gemm.attribute} == {"transB": 1}
    assert list(gemm.input[1:]) == ["0.weight", "0.bias"]
    assert list(m.graph.node[9].input[1:]) == ["10.weight"]     # no bias
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    np.testing.assert_array_equal(inits["0.weight"], model[0].weight.data)
    for n in m.graph.node[10:]:
        assert [(a.name, a.i) for a in n.attribute] == [("axis", -1)]


def test_every_registry_activation_has_an_onnx_form(tmp_path):
    # a new activation (one registry line) fails here until the exporter and the
    # loader know it
    for name in _registry.ACTIVATIONS:
        layer = nn.ACTIVATIONS[name]()
        model = nn.Sequential(nn.Linear(3, 4), layer, seed=3)
        path = model.to_onnx(tmp_path / f"{name}.onnx", opset=17)
        back = nxo.load(path)
        x = inputs(7, 3)
        np.testing.assert_array_equal(back.predict(x), model.predict(x))


@pytest.mark.parametrize("opset,ir", [(11, 6), (13, 7), (17, 8), (20, 9), (21, 10)])
def test_ir_version_is_the_one_the_opset_needs(tmp_path, opset, ir):
    # the table of onnx/docs/Versioning.md: newer onnx writes IR 10+ by default, which
    # older runtimes refuse even for old opsets
    m = onnx.load(nxo.export(nn.Sequential(nn.Linear(2, 2)), tmp_path / "m.onnx", opset=opset))
    assert m.ir_version == ir
    assert [(o.domain, o.version) for o in m.opset_import] == [("", opset)]


def test_softmax_before_opset_13_is_over_each_row(tmp_path):
    # opset < 13 coerces the input to 2-D at the axis: for (batch, features), rows
    model = nn.Sequential(nn.Linear(4, 6), nn.Softmax(), nn.Linear(6, 3), nn.LogSoftmax())
    x = inputs(33, 4)
    for opset in (11, 12):
        (got,) = run_ort(nxo.export(model, tmp_path / "s.onnx", opset=opset), x)
        np.testing.assert_allclose(got, model.predict(x), rtol=1e-5, atol=1e-6)


def test_float64_model_exports_double_tensors(tmp_path):
    # ops onnxruntime has double kernels for (it has none for Elu, Erf, Softplus, Gelu)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.SiLU(),
                          nn.GELU("tanh"), nn.Sigmoid(), nn.Linear(8, 3), nn.LogSoftmax(),
                          dtype="float64", seed=4)
    path = model.to_onnx(tmp_path / "d.onnx", opset=17)
    m = onnx.load(path)
    assert {t.data_type for t in m.graph.initializer} == {TensorProto.DOUBLE}
    assert m.graph.input[0].type.tensor_type.elem_type == TensorProto.DOUBLE
    x = inputs(65, 5, np.float64)
    (got,) = run_ort(path, x)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, model.predict(x), rtol=1e-12, atol=1e-13)


def test_fixed_batch_and_names(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh())
    path = nxo.export(model, tmp_path / "f.onnx", dynamic_batch=False, input_name="features",
                      output_name="scores")
    m = onnx.load(path)
    dims = [[d.dim_value or d.dim_param for d in v.type.tensor_type.shape.dim]
            for v in (m.graph.input[0], m.graph.output[0])]
    assert dims == [[1, 3], [1, 2]]
    assert (m.graph.input[0].name, m.graph.output[0].name) == ("features", "scores")
    x = inputs(1, 3)
    np.testing.assert_allclose(run_ort(path, x)[0], model.predict(x), rtol=1e-6)
    dyn = onnx.load(nxo.export(model, tmp_path / "d.onnx"))
    assert dyn.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_model_of_pass_through_layers_only_still_has_an_output(tmp_path):
    # a Linear is required by Sequential; a trailing Dropout writes no node, the Gemm
    # then produces the output itself
    model = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.5), nn.Identity())
    path = model.to_onnx(tmp_path / "p.onnx")
    assert ops_of(path) == ["Gemm"]
    x = inputs(4, 3)
    np.testing.assert_allclose(run_ort(path, x)[0], model.predict(x), rtol=1e-6)


def test_to_onnx_is_export(tmp_path):
    model = model_with("gelu")
    a = model.to_onnx(tmp_path / "a.onnx", opset=13, output_name="y")
    b = nxo.export(model, tmp_path / "b.onnx", opset=13, output_name="y")
    assert a == str(tmp_path / "a.onnx") and b == str(tmp_path / "b.onnx")
    assert open(a, "rb").read() == open(b, "rb").read()


def test_export_argument_errors(tmp_path):
    model = nn.Sequential(nn.Linear(2, 2))
    p = tmp_path / "m.onnx"
    with pytest.raises(TypeError, match="Sequential"):
        nxo.export(object(), p)
    with pytest.raises(ValueError, match=r"opset must be in \[11"):
        nxo.export(model, p, opset=10)
    with pytest.raises(ValueError, match="opset must be in"):
        nxo.export(model, p, opset=nxo.MAX_OPSET + 1)
    with pytest.raises(TypeError, match="opset must be an int"):
        nxo.export(model, p, opset=17.0)
    with pytest.raises(TypeError, match="dynamic_batch"):
        nxo.export(model, p, dynamic_batch="yes")
    with pytest.raises(ValueError, match="input_name"):
        nxo.export(model, p, input_name="")
    with pytest.raises(ValueError, match="already the name"):
        nxo.export(model, p, input_name="0.weight")
    with pytest.raises(ValueError, match="already the name"):   # an inner tensor's name
        nxo.export(nn.Sequential(nn.Linear(2, 2), nn.Tanh()), p, output_name="0.Gemm_0")
    with pytest.raises(ValueError, match="output_name"):
        nxo.export(model, p, input_name="x", output_name="x")
    with pytest.raises(TypeError, match="path"):
        nxo.export(model, 3)
    assert not os.listdir(tmp_path)


def test_checker_runs_before_anything_is_written(tmp_path, monkeypatch):
    p = tmp_path / "m.onnx"
    p.write_bytes(b"old")

    def refuse(model, full_check=False):
        raise onnx.checker.ValidationError("planted")
    monkeypatch.setattr(onnx.checker, "check_model", refuse)
    with pytest.raises(onnx.checker.ValidationError):
        nxo.export(nn.Sequential(nn.Linear(2, 2)), p)
    assert p.read_bytes() == b"old" and os.listdir(tmp_path) == ["m.onnx"]


def test_write_is_atomic(tmp_path, monkeypatch):
    # a failure while writing leaves the old file and no temporary file
    p = tmp_path / "m.onnx"
    p.write_bytes(b"old")
    real_fsync = os.fsync

    def boom(fd):
        real_fsync(fd)
        raise OSError("disk full (planted)")
    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="planted"):
        nxo.export(nn.Sequential(nn.Linear(2, 2)), p)
    assert p.read_bytes() == b"old" and os.listdir(tmp_path) == ["m.onnx"]


# --------------------------------------------------------------- round trip

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("opset", OPSETS)
def test_round_trip_is_bit_identical(tmp_path, dtype, opset):
    model = nn.Sequential(nn.Linear(6, 9), nn.LeakyReLU(0.1), nn.ELU(0.7), nn.GELU(),
                          nn.GELU("tanh"), nn.SiLU(), nn.Softplus(), nn.Sigmoid(), nn.Tanh(),
                          nn.ReLU(), nn.Dropout(0.2), nn.Linear(9, 7, bias=False), nn.Softmax(),
                          nn.Linear(7, 4), nn.LogSoftmax(), dtype=dtype, seed=5)
    back = nxo.load(model.to_onnx(tmp_path / "m.onnx", opset=opset))
    assert back.dtype == model.dtype
    # the same layers but Dropout (inference: nothing), with the same parameters
    assert [layer.get_config() for layer in back.layers] == [
        layer.get_config() for layer in model.layers if not isinstance(layer, nn.Dropout)]
    for a, b in zip(back.parameters(), model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    for batch in (1, 257):
        x = inputs(batch, 6, dtype)
        np.testing.assert_array_equal(back.predict(x), model.predict(x))


def test_a_bf16_model_exports_its_float32_weights_and_warns_the_mode_is_not_kept(tmp_path):
    # ONNX has no bf16 compute mode: the graph computes in float32; the oracle is the
    # same model switched to compute_dtype="float32" (onnxruntime within 1e-5, as for
    # any float32 model), while the bf16 outputs differ by bf16 rounding
    model = nn.Sequential(nn.Linear(6, 32), nn.GELU(), nn.Linear(32, 5), seed=3,
                          compute_dtype="bfloat16")
    x = inputs(64)
    bf16_out = model.predict(x)
    with pytest.warns(nxo.ComputeModeNotExported, match="compute_dtype='bfloat16'"):
        path = model.to_onnx(tmp_path / "m.onnx")
    (got,) = run_ort(path, x)
    assert np.abs(got - bf16_out).max() > 1e-4          # not the bf16 outputs
    model.compute_dtype = "float32"
    np.testing.assert_allclose(got, model.predict(x), rtol=1e-5, atol=1e-6)
    back = nxo.load(path)
    assert back.compute_dtype == "float32"
    for a, b in zip(back.parameters(), model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                    # a float32 model: no warning
        model.to_onnx(tmp_path / "f.onnx")


def test_load_dtype_argument(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), seed=1)
    path = model.to_onnx(tmp_path / "m.onnx")
    m64 = nxo.load(path, dtype="float64")
    assert m64.dtype == np.float64
    np.testing.assert_array_equal(m64[0].weight.data, model[0].weight.data.astype(np.float64))
    with pytest.raises(ValueError, match="float32"):
        nxo.load(path, dtype="int32")
    with pytest.raises(TypeError, match="path"):
        nxo.load(None)


def test_loaded_model_trains_and_saves(tmp_path):
    # the point of importing: fine-tune, save as safetensors, load back
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), seed=2)
    back = nxo.load(model.to_onnx(tmp_path / "m.onnx"))
    x, y = inputs(64, 4), np.arange(64) % 3
    before = back.evaluate(x, y, loss="cross_entropy")["loss"]
    back.fit(x, y, loss="cross_entropy", optimizer="adam", epochs=5, verbose=0)
    assert back.evaluate(x, y, loss="cross_entropy")["loss"] < before
    back.save(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(nio.load(tmp_path / "m.safetensors").predict(x),
                                  back.predict(x))


# ------------------------------------------- import: committed exporter files

FIXTURE_NAMES = ["torch_dynamo", "torch_legacy_opset17", "skl2onnx_classifier",
                 "skl2onnx_binary", "skl2onnx_regressor"]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_committed_exporter_files_load_and_predict_like_their_source(name):
    expected = np.load(os.path.join(FIXTURES, "expected.npz"))
    x, want = expected[f"{name}.x"], expected[f"{name}.y"]
    path = os.path.join(FIXTURES, name + ".onnx")
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always")
        model = nxo.load(path)
    post = [w for w in notes if issubclass(w.category, nxo.PostProcessingDropped)]
    assert bool(post) == (name in ("skl2onnx_classifier", "skl2onnx_binary"))
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-5, atol=1e-6)


def test_committed_files_are_what_the_issue_describes():
    # the fixtures really exercise the patterns: external data, decomposed GELU, ...
    dyn = onnx.load(os.path.join(FIXTURES, "torch_dynamo.onnx"), load_external_data=False)
    assert any(t.data_location == TensorProto.EXTERNAL for t in dyn.graph.initializer)
    assert {"Gelu", "Greater", "Where", "Softplus", "LogSoftmax"} <= {
        n.op_type for n in dyn.graph.node}
    legacy = ops_of(os.path.join(FIXTURES, "torch_legacy_opset17.onnx"))
    assert {"Erf", "Div", "Tanh", "Elu", "LeakyRelu"} <= set(legacy) and "Gelu" not in legacy
    clf = ops_of(os.path.join(FIXTURES, "skl2onnx_classifier.onnx"))
    assert {"MatMul", "Add", "Softmax", "ArgMax", "ArrayFeatureExtractor", "ZipMap"} <= set(clf)
    model = load_quiet(os.path.join(FIXTURES, "torch_dynamo.onnx"))
    assert [type(layer).__name__ for layer in model.layers] == [
        "Linear", "GELU", "Linear", "SiLU", "Linear", "Softplus", "Linear", "GELU", "Linear",
        "LogSoftmax"]
    assert model[7].approximate == "tanh"


def test_post_processing_is_reported(tmp_path):
    path = os.path.join(FIXTURES, "skl2onnx_classifier.onnx")
    with pytest.warns(nxo.PostProcessingDropped, match="ArgMax.*ZipMap.*returns"):
        model = nxo.load(path)
    assert isinstance(model.layers[-1], nn.Softmax)


# ------------------------------------------- import: exporters at test time

@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _torch_mlp(torch, wide=64):
    torch.manual_seed(0)
    t = torch.nn
    return t.Sequential(t.Linear(5, wide), t.GELU(), t.Linear(wide, 16), t.SiLU(),
                        t.Linear(16, 16), t.ELU(0.5), t.Linear(16, 16), t.Softplus(),
                        t.Linear(16, 16), t.GELU(approximate="tanh"), t.Linear(16, 16),
                        t.LeakyReLU(0.05), t.Linear(16, 16), t.Tanh(), t.Linear(16, 16),
                        t.Sigmoid(), t.Linear(16, 4), t.Softmax(dim=-1)).eval()


@pytest.mark.parametrize("dynamo,opset", [(True, 20), (True, 17), (False, 17), (False, 20)])
def test_torch_onnx_export_loads_and_matches_torch(tmp_path, torch, dynamo, opset):
    if dynamo:
        pytest.importorskip("onnxscript")
    net = _torch_mlp(torch)
    x = torch.randn(11, 5)
    path = tmp_path / "torch.onnx"
    kw = ({"dynamic_shapes": ({0: torch.export.Dim("batch")},)} if dynamo
          else {"dynamic_axes": {"input": {0: "batch"}}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(path), dynamo=dynamo, opset_version=opset,
                          input_names=["input"], output_names=["output"], **kw)
    if dynamo:   # PyTorch's default exporter puts the larger weights next to the model
        assert os.path.exists(str(path) + ".data")
    model = nxo.load(path)
    with torch.no_grad():
        want = net(x).numpy()
    np.testing.assert_allclose(model.predict(x.numpy()), want, rtol=1e-5, atol=1e-6)
    assert sum(isinstance(layer, nn.Linear) for layer in model.layers) == 9


def test_torch_softplus_with_beta_is_refused(tmp_path, torch):
    # nncore's Softplus has no beta: the region computes no nncore activation
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Softplus(beta=2.0)).eval()
    path = tmp_path / "sp.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.randn(2, 3),), str(path), dynamo=False, opset_version=17)
    with pytest.raises(ValueError, match=r"node \d+ .*\(Mul\).*compute no activation"):
        nxo.load(path)


@pytest.fixture
def sklearn_onnx():
    pytest.importorskip("sklearn")
    return pytest.importorskip("skl2onnx")


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_skl2onnx_classifier_loads_and_matches_predict_proba(tmp_path, sklearn_onnx, activation,
                                                             n_classes):
    from sklearn.neural_network import MLPClassifier
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4)).astype(np.float32)
    y = np.arange(90) % n_classes
    est = MLPClassifier((6, 5), activation=activation, max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    path = tmp_path / "c.onnx"
    path.write_bytes(sklearn_onnx.to_onnx(est, X[:1]).SerializeToString())
    with pytest.warns(nxo.PostProcessingDropped):
        model = nxo.load(path)
    proba = est.predict_proba(X)
    got = model.predict(X)
    if n_classes == 2:
        assert got.shape == (90, 1)    # P(class 1), the output before [1 - p, p]
        got = np.hstack([1 - got, got])
    np.testing.assert_allclose(got, proba, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got.argmax(1), est.predict(X))


def test_skl2onnx_regressor_loads_and_matches_predict(tmp_path, sklearn_onnx):
    from sklearn.neural_network import MLPRegressor
    rng = np.random.default_rng(1)
    X = rng.normal(size=(70, 3))
    est = MLPRegressor(hidden_layer_sizes=(8,), max_iter=60, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, X[:, 0] * 2 - X[:, 1])
    for dtype in (np.float32, np.float64):
        path = tmp_path / f"r_{np.dtype(dtype).name}.onnx"
        path.write_bytes(sklearn_onnx.to_onnx(est, X[:1].astype(dtype)).SerializeToString())
        model = nxo.load(path)
        assert model.dtype == dtype
        np.testing.assert_allclose(model.predict(X.astype(dtype))[:, 0], est.predict(X),
                                   rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


def test_skl2onnx_multi_output_regressor_reshape_is_refused(tmp_path, sklearn_onnx):
    # skl2onnx 1.20 reshapes an (n, 2) output to (-1, 1), i.e. (2n, 1): rows are mixed,
    # which no Sequential computes
    from sklearn.neural_network import MLPRegressor
    X = np.random.default_rng(2).normal(size=(40, 3)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MLPRegressor(hidden_layer_sizes=(4,), max_iter=20).fit(X, X[:, :2])
    path = tmp_path / "r2.onnx"
    path.write_bytes(sklearn_onnx.to_onnx(est, X[:1]).SerializeToString())
    with pytest.raises(ValueError, match=r"\(Reshape\): Reshape to \[-1, 1\] does not keep"):
        nxo.load(path)


# ------------------------------------------------ graphs built by hand

def _model(nodes, inits, n_in=3, n_out=None, opset=17, elem=TensorProto.FLOAT, outputs=None,
           extra_inputs=()):
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", elem, ["n", n_in]), *extra_inputs],
        outputs or [helper.make_tensor_value_info("y", elem, None)],
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def _write(tmp_path, model, name="m.onnx"):
    p = tmp_path / name
    p.write_bytes(model.SerializeToString())
    return p


W = np.arange(12, dtype=np.float32).reshape(4, 3) / 10 - 0.5
B = np.array([0.1, -0.2, 0.3, 0.0], np.float32)


@pytest.mark.parametrize("trans_b,alpha,beta,bias_shape", [
    (1, 1.0, 1.0, (4,)), (0, 0.5, 2.0, (1, 4)), (1, 1.0, 0.25, ()), (0, -1.5, 1.0, (1,))])
def test_gemm_attributes_match_onnxruntime(tmp_path, trans_b, alpha, beta, bias_shape):
    w = W if trans_b else W.T
    c = B.reshape(bias_shape) if len(bias_shape) and bias_shape[-1] == 4 else \
        B[:1].reshape(bias_shape)
    m = _model([helper.make_node("Gemm", ["x", "w", "c"], ["y"], transB=trans_b, alpha=alpha,
                                 beta=beta)], {"w": w, "c": c})
    p = _write(tmp_path, m)
    x = inputs(9, 3)
    np.testing.assert_allclose(nxo.load(p).predict(x), run_ort(p, x)[0], rtol=1e-6, atol=1e-6)


def test_matmul_add_either_order_and_gemm_plus_add(tmp_path):
    x = inputs(5, 3)
    for nodes in ([helper.make_node("MatMul", ["x", "wt"], ["h"]),
                   helper.make_node("Add", ["b", "h"], ["y"])],
                  [helper.make_node("Gemm", ["x", "w"], ["h"], transB=1),
                   helper.make_node("Add", ["h", "b"], ["y"])]):
        p = _write(tmp_path, _model(nodes, {"w": W, "wt": W.T.copy(), "b": B}))
        model = nxo.load(p)
        assert len(model.layers) == 1 and model[0].bias is not None
        np.testing.assert_allclose(model.predict(x), run_ort(p, x)[0], rtol=1e-6)


@pytest.mark.parametrize("name,nodes,consts", [
    ("silu_div", [("Neg", ["x"], "a"), ("Exp", ["a"], "b"), ("Add", ["b", "one"], "c"),
                  ("Div", ["x", "c"], "y")], {"one": 1.0}),
    ("gelu_mul_first", [("Mul", ["x", "half"], "a"), ("Mul", ["x", "rs2"], "b"),
                        ("Erf", ["b"], "c"), ("Add", ["c", "one"], "d"),
                        ("Mul", ["a", "d"], "y")],
     {"half": 0.5, "rs2": float(np.float32(1 / np.sqrt(2))), "one": 1.0}),
    ("relu_as_max", [("Max", ["x", "zero"], "y")], {"zero": 0.0}),
])
def test_elementwise_regions_are_identified(tmp_path, name, nodes, consts):
    want = {"silu_div": nn.SiLU, "gelu_mul_first": nn.GELU, "relu_as_max": nn.ReLU}[name]
    onnx_nodes = [helper.make_node("Gemm", ["x0", "w"], ["x"], transB=1)]
    onnx_nodes += [helper.make_node(op, ins, [out]) for op, ins, out in nodes]
    inits = {"w": W, **{k: np.array(v, np.float32) for k, v in consts.items()}}
    m = _model(onnx_nodes, inits)
    m.graph.input[0].name = "x0"
    p = _write(tmp_path, m)
    model = nxo.load(p)
    assert [type(layer) for layer in model.layers] == [nn.Linear, want]
    x = inputs(50, 3)
    np.testing.assert_allclose(model.predict(x), run_ort(p, x)[0], rtol=1e-5, atol=1e-6)


def test_near_miss_region_is_refused(tmp_path):
    # x * sigmoid(1.1 x) is no nncore activation: identified by value, not by shape
    nodes = [helper.make_node("Gemm", ["x0", "w"], ["x"], transB=1),
             helper.make_node("Mul", ["x", "k"], ["a"]), helper.make_node("Sigmoid", ["a"], ["s"]),
             helper.make_node("Mul", ["x", "s"], ["y"])]
    m = _model(nodes, {"w": W, "k": np.array(1.1, np.float32)})
    m.graph.input[0].name = "x0"
    with pytest.raises(ValueError, match=r"node 1 .*\(Mul\).*\(Mul, Sigmoid, Mul\) compute no"):
        nxo.load(_write(tmp_path, m))


def test_long_regions_are_identified_in_linear_time(tmp_path, monkeypatch):
    # 400 regions of 64 nodes (x * 2 thirty-two times, then * 0.5 thirty-two times: the
    # identity, the largest region there is, closed after every node), a 600 kB file:
    # each node is evaluated once, not once per node after it (that took 20 s)
    nodes, cur = [helper.make_node("Gemm", ["x0", "w"], ["h0"], transB=1)], "h0"
    for r in range(400):
        for j in range(64):
            out = f"h{r}_{j}" if (r, j) != (399, 63) else "y"
            nodes.append(helper.make_node("Mul", [cur, "two" if j < 32 else "half"], [out]))
            cur = out
    m = _model(nodes, {"w": W, "two": np.array(2.0, np.float32),
                       "half": np.array(0.5, np.float32)})
    m.graph.input[0].name = "x0"
    p = _write(tmp_path, m)
    calls = []
    evaluate = _regions._evaluate
    monkeypatch.setattr(_regions, "_evaluate",
                        lambda *a: calls.append(len(a[2])) or evaluate(*a))
    model = nxo.load(p)
    # each of the 25,600 nodes once on the quick points and at most once on the grid
    assert len(calls) <= 2 * 400 * 64
    assert sum(n == len(_regions.PROBE) for n in calls) <= 400 * 64
    assert [type(layer) for layer in model.layers] == [nn.Linear]
    x = inputs(7, 3)
    np.testing.assert_array_equal(model.predict(x), run_ort(p, x)[0])


@pytest.mark.parametrize("shape", [(), (1,), (1, 1), (1, 1, 1)])
def test_region_constants_keep_the_tensor_two_dimensional(tmp_path, shape):
    # Max(h, 0) is ReLU; a 0 of shape (1, 1, 1) broadcasts h to (1, batch, 4), which
    # onnxruntime returns: not the (batch, 4) a layer gives, so refused
    nodes = [_gemm(), helper.make_node("Max", ["h", "zero"], ["y"])]
    p = _write(tmp_path, _model(nodes, {"w": W, "b": B, "zero": np.zeros(shape, np.float32)}))
    x = inputs(5, 3)
    ref = run_ort(p, x)[0]
    if ref.shape == (5, 4):
        np.testing.assert_allclose(nxo.load(p).predict(x), ref, rtol=1e-6)
    else:
        assert len(shape) == 3
        with pytest.raises(ValueError, match=r"node 1 .*\(Max\): input 'zero' is neither the "
                                             r"data nor a scalar constant.*shape \(1, 1, 1\)"):
            nxo.load(p)


def _gemm(inp="x", out="h", w="w"):
    return helper.make_node("Gemm", [inp, w, "b"], [out], transB=1)


@pytest.mark.parametrize("case,match", [
    ("conv", r"node 1 'c' \(Conv\): op Conv is not one nncore reads"),
    ("branch", r"node \d+ .*\((Gemm|Relu)\)"),
    ("chain_shapes", r"node 1 .*\(Gemm\): expects 5 input features, the tensor before it has 4"),
    ("trans_a", r"node 0 .*\(Gemm\): transA=1"),
    ("softmax_axis0", r"node 1 .*\(Softmax\): axis=0"),
    ("loop", r"node 1 .*\(Loop\)"),
    ("other_domain", r"node 1 .*\(Relu\): op of domain 'com.example'"),
    ("weight_undefined", r"node 0 .*\(Gemm\): input 'w' must be a constant"),
    ("weight_is_input", r"must have one input \(batch, features\), got 2: \['x', 'w'\]"),
    ("two_outputs", r"graph output 'h' is also read by the next node"),
    ("dangling", r"node 2 .*\(Relu\): not on the chain"),
    ("gelu_old_opset", r"node 1 .*\(Gelu\): Gelu is an op of opset 20"),
    ("no_linear", r"no Gemm or MatMul"),
    ("cast_to_int", r"node 1 .*\(Cast\): Cast to element type 7"),
    ("bias_shape", r"node 0 .*\(Gemm\): the bias must be a float tensor of shape \(4,\)"),
    ("reshape_scalar", r"node 1 .*\(Reshape\): Reshape to a shape of dims \(\) does not keep"),
    ("reshape_2d", r"node 1 .*\(Reshape\): Reshape to a shape of dims \(1, 2\) does not"),
])
def test_unsupported_graphs_name_the_node_and_op(tmp_path, case, match):
    relu = helper.make_node("Relu", ["h"], ["y"])
    inits = {"w": W, "b": B}
    out_y = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    kw = {}
    if case == "conv":
        nodes = [_gemm(), helper.make_node("Conv", ["h", "wc"], ["y"], name="c")]
        inits["wc"] = np.ones((1, 1, 1), np.float32)
    elif case == "branch":
        nodes = [_gemm(), relu, helper.make_node("Gemm", ["h", "w2", "b2"], ["z"], transB=1),
                 helper.make_node("Add", ["y", "z"], ["s"])]
        inits.update(w2=np.ones((4, 4), np.float32), b2=B)
        kw["outputs"] = [helper.make_tensor_value_info("s", TensorProto.FLOAT, None)]
    elif case == "chain_shapes":
        nodes = [_gemm(), helper.make_node("Gemm", ["h", "w2"], ["y"], transB=1)]
        inits["w2"] = np.ones((2, 5), np.float32)
    elif case == "trans_a":
        nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transA=1, transB=1)]
    elif case == "softmax_axis0":
        nodes = [_gemm(), helper.make_node("Softmax", ["h"], ["y"], axis=0)]
    elif case == "loop":
        body = helper.make_graph([], "body", [], [])
        nodes = [_gemm(), helper.make_node("Loop", ["", "", "h"], ["y"], body=body)]
    elif case == "other_domain":
        nodes = [_gemm(), helper.make_node("Relu", ["h"], ["y"], domain="com.example")]
    elif case == "weight_undefined":
        nodes = [_gemm(), relu]
        del inits["w"]
    elif case == "weight_is_input":
        nodes = [_gemm(), relu]
        del inits["w"]
        kw["extra_inputs"] = [helper.make_tensor_value_info("w", TensorProto.FLOAT, [4, 3])]
    elif case == "two_outputs":
        nodes = [_gemm(), relu]
        kw["outputs"] = out_y + [helper.make_tensor_value_info("h", TensorProto.FLOAT, None)]
    elif case == "dangling":
        nodes = [_gemm(), relu, helper.make_node("Relu", ["u"], ["unused"])]
        inits["u"] = B
    elif case == "gelu_old_opset":
        nodes = [_gemm(), helper.make_node("Gelu", ["h"], ["y"])]
    elif case == "no_linear":
        nodes = [helper.make_node("Relu", ["x"], ["y"])]
    elif case == "cast_to_int":
        nodes = [_gemm(), helper.make_node("Cast", ["h"], ["y"], to=TensorProto.INT64)]
    elif case in ("reshape_scalar", "reshape_2d"):
        nodes = [_gemm(), helper.make_node("Reshape", ["h", "s"], ["y"])]
        inits["s"] = np.array(-1) if case == "reshape_scalar" else np.array([[-1, 4]])
    else:   # bias_shape
        nodes = [_gemm(), relu]
        inits["b"] = np.ones((2, 4), np.float32)
    p = _write(tmp_path, _model(nodes, inits, **kw))
    with pytest.raises(ValueError, match=match):
        nxo.load(p)


def test_reshape_and_identity_pass_through(tmp_path):
    nodes = [helper.make_node("Cast", ["x"], ["xc"], to=TensorProto.FLOAT),
             helper.make_node("Flatten", ["xc"], ["xf"], axis=1),
             helper.make_node("Gemm", ["xf", "w", "b"], ["h"], transB=1),
             helper.make_node("Identity", ["h"], ["i"]),
             helper.make_node("Reshape", ["i", "shape"], ["y"])]
    p = _write(tmp_path, _model(nodes, {"w": W, "b": B, "shape": np.array([-1, 4], np.int64)}))
    model = nxo.load(p)
    assert len(model.layers) == 1
    x = inputs(6, 3)
    np.testing.assert_allclose(model.predict(x), run_ort(p, x)[0], rtol=1e-6)


@pytest.mark.parametrize("op,arg,keeps", [
    ("Flatten", 1, True), ("Flatten", -1, True), ("Flatten", 0, False), ("Flatten", -2, False),
    ("Reshape", [-1, 4], True), ("Reshape", [0, -1], True), ("Reshape", [0, 0], True),
    ("Reshape", [-1, 0], True), ("Reshape", [0, 4], True), ("Reshape", [-1, -1], None),
    ("Reshape", [4, -1], False), ("Reshape", [-1, 2], False)])
def test_flatten_and_reshape_kept_as_onnxruntime_reads_them(tmp_path, op, arg, keeps):
    # on the (batch, 4) tensor, each form keeps the rows (onnxruntime gives the same
    # tensor back), mixes them, or is no valid Reshape (two -1: onnxruntime refuses it)
    if op == "Flatten":
        node, inits = helper.make_node("Flatten", ["h"], ["y"], axis=arg), {"w": W, "b": B}
    else:
        node = helper.make_node("Reshape", ["h", "s"], ["y"])
        inits = {"w": W, "b": B, "s": np.array(arg, np.int64)}
    p = _write(tmp_path, _model([_gemm(), node], inits))
    x = inputs(6, 3)
    if keeps is None:
        with pytest.raises(Exception):
            run_ort(p, x)
    else:
        ref = run_ort(p, x)[0]
        assert (ref.shape == (6, 4)) == keeps
    if keeps:
        np.testing.assert_allclose(nxo.load(p).predict(x), ref, rtol=1e-6)
    else:
        with pytest.raises(ValueError, match=rf"node 1 .*\({op}\)"):
            nxo.load(p)


def test_leaky_relu_slope_reads_back_as_the_decimal(tmp_path):
    # ONNX float attributes are float32; 0.01 comes back as 0.01, so a float64 model's
    # negative part is bit-identical after the round trip
    model = nn.Sequential(nn.Linear(3, 3), nn.LeakyReLU(), nn.ELU(0.3), dtype="float64")
    back = nxo.load(model.to_onnx(tmp_path / "l.onnx"))
    assert back[1].negative_slope == 0.01 and back[2].alpha == 0.3


# ------------------------------------------------------------ hostile files

def _ext_model(tmp_path, location, offset=0, length=None, dims=(4, 3), data=None):
    """A Gemm whose weight lies in external data; the data file (when `data` is given)
    is written as ``w.bin`` in tmp_path."""
    if data is not None:
        (tmp_path / "w.bin").write_bytes(data)
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=list(dims),
                    data_location=TensorProto.EXTERNAL)
    t.external_data.add(key="location", value=location)
    t.external_data.add(key="offset", value=str(offset))
    if length is not None:
        t.external_data.add(key="length", value=str(length))
    m = _model([_gemm("x", "y")], {"b": B})
    m.graph.initializer.append(t)
    return _write(tmp_path, m)


def test_external_data_loads_from_the_models_folder(tmp_path):
    pad = b"\xff" * 8
    p = _ext_model(tmp_path, "w.bin", offset=8, length=48, data=pad + W.tobytes() + pad)
    model = nxo.load(p)
    np.testing.assert_array_equal(model[0].weight.data, W)
    # onnxruntime reads the same file the same way
    x = inputs(3, 3)
    np.testing.assert_allclose(model.predict(x), run_ort(p, x)[0], rtol=1e-6)
    # no length: the rest of the file from the offset
    p = _ext_model(tmp_path, "w.bin", offset=8, data=pad + W.tobytes())
    np.testing.assert_array_equal(nxo.load(p)[0].weight.data, W)
    # a symlink that stays inside the folder is fine
    os.symlink("w.bin", tmp_path / "alias.bin")
    p = _ext_model(tmp_path, "alias.bin", data=W.tobytes())
    np.testing.assert_array_equal(nxo.load(p)[0].weight.data, W)


@pytest.mark.parametrize("location,match", [
    ("/etc/passwd", "must be a file name in the model's folder"),
    ("../w.bin", "must be a file name"),
    ("sub/w.bin", "must be a file name"),
    ("sub\\w.bin", "must be a file name"),
    ("", "must be a file name"),
    ("..", "must be a file name"),
    ("link.bin", "resolves to .*outside the model's folder"),
    ("missing.bin", "No such file"),
    ("adir", "Is a directory|not a regular file"),
])
def test_external_data_location_rules(tmp_path, location, match):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "w.bin").write_bytes(W.tobytes())
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "w.bin").write_bytes(W.tobytes())
    (folder / "adir").mkdir()
    os.symlink(os.path.join("..", "outside", "w.bin"), folder / "link.bin")
    p = _ext_model(folder, location)
    with pytest.raises(ValueError, match=match):
        nxo.load(p)


@pytest.mark.parametrize("offset,length,size,match", [
    (100, None, 48, r"offset 100 \+ length 0 runs past the end of the file \(48 bytes\)"),
    (0, 52, 48, r"offset 0 \+ length 52 runs past the end"),
    (8, 48, 48, r"offset 8 \+ length 48 runs past the end"),
    (2 ** 62, 48, 48, "runs past the end"),
    (0, 44, 48, r"dims \[4, 3\] need 48 bytes, the external data has 44"),
    ("-1", 48, 48, "offset must be a non-negative integer"),
    (0, "1e3", 48, "length must be a non-negative integer"),
])
def test_external_offsets_are_checked_against_the_file(tmp_path, offset, length, size, match):
    p = _ext_model(tmp_path, "w.bin", offset=offset, length=length, data=b"\0" * size)
    with pytest.raises(ValueError, match=match):
        nxo.load(p)


def test_external_ranges_may_not_overlap(tmp_path):
    # two weights on the same bytes: a small data file must not feed many large tensors
    (tmp_path / "w.bin").write_bytes(W.tobytes())
    tensors = []
    for name in ("w", "w2"):
        t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=[4, 3],
                        data_location=TensorProto.EXTERNAL)
        t.external_data.add(key="location", value="w.bin")
        tensors.append(t)
    m = _model([_gemm("x", "h"), helper.make_node("Gemm", ["h", "w2t"], ["y"], transB=0)],
               {"b": B})
    tensors[1].dims[:] = [4, 3]
    tensors[1].name = "w2t"   # (4, 3) read as (in=4, out=3) with transB=0
    m.graph.initializer.extend(tensors)
    with pytest.raises(ValueError, match="add up to 96 bytes, more than the file holds "
                                         r"\(48\): their ranges overlap"):
        nxo.load(_write(tmp_path, m))


def test_a_weight_read_by_two_layers_is_refused(tmp_path):
    # 30 Gemms on one 4x4 initializer: a 200-byte weight would become 30 layers' worth
    nodes = [helper.make_node("Gemm", ["x", "w3"], ["h0"], transB=1)]
    nodes += [helper.make_node("Gemm", [f"h{k}", "w4"], [f"h{k + 1}"], transB=1)
              for k in range(30)]
    nodes.append(helper.make_node("Identity", ["h30"], ["y"]))
    m = _model(nodes, {"w3": np.ones((4, 3), np.float32), "w4": np.eye(4, dtype=np.float32)})
    with pytest.raises(ValueError, match=r"node 1 .*\(Gemm\): the parameter 'w4' is read by "
                                         "30 nodes"):
        nxo.load(_write(tmp_path, m))


def test_a_tensor_read_by_many_nodes_is_refused_in_time(tmp_path):
    # 150,000 nodes reading the input (a 3 MB file): refused in about a second; the
    # reader bookkeeping must not be quadratic in the fan-out (it took minutes). Speed
    # is not timed in tests: a regression shows as this test taking minutes
    nodes = [helper.make_node("Relu", ["x"], [f"y{k}" if k else "y"]) for k in range(150_000)]
    p = _write(tmp_path, _model(nodes, {}))
    with pytest.raises(ValueError, match=r"node 0 .*\(Relu\)"):   # a quadratic
        nxo.load(p)                                          # fan-out: minutes here


def test_nodes_out_of_topological_order_are_refused(tmp_path):
    # ONNX lists nodes in topological order (onnx.checker refuses this graph too); an
    # unsorted list made the region search quadratic: 8,000 SiLUs as Sigmoid, ..., Sigmoid,
    # Mul, ..., Mul (400 kB) took a minute
    k = 3
    nodes = [helper.make_node("Gemm", ["x", "w"], ["h0"], transB=1)]
    nodes += [helper.make_node("Sigmoid", [f"h{j}"], [f"s{j}"]) for j in range(k)]
    nodes += [helper.make_node("Mul", [f"h{j}", f"s{j}"], [f"h{j + 1}" if j < k - 1 else "y"])
              for j in range(k)]
    m = _model(nodes, {"w": W},
               outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])])
    with pytest.raises(onnx.checker.ValidationError, match="topologically sorted"):
        onnx.checker.check_model(m)
    with pytest.raises(ValueError, match=r"node 2 .*\(Sigmoid\): reads 'h1', which node 4 "
                                         r"\(Mul\) writes after it"):
        nxo.load(_write(tmp_path, m))
    # a node reading its own output is the shortest such loop
    m = _model([helper.make_node("Gemm", ["x", "w"], ["h"], transB=1),
                helper.make_node("Add", ["h", "a"], ["a"]),
                helper.make_node("Relu", ["a"], ["y"])], {"w": W})
    with pytest.raises(ValueError, match=r"node 1 .*\(Add\): reads 'a', which it writes"):
        nxo.load(_write(tmp_path, m))


def _weight(tmp_path, tensor):
    m = _model([_gemm("x", "y")], {"b": B})
    m.graph.initializer.append(tensor)
    return _write(tmp_path, m)


@pytest.mark.parametrize("case,match", [
    ("raw_short", r"dims \[4, 3\] need 48 bytes of float32, raw_data has 44"),
    ("raw_long", r"raw_data has 52"),
    ("typed_short", r"need 12 values, float_data has 11"),
    ("dims_overflow", r"declare more than 2,147,483,648 elements"),
    ("dims_negative", "negative dimension"),
    ("dims_too_many", r"initializer 'w': 72 dimensions, more than 32"),
    ("two_sources", "more than one place"),
    ("string_type", "element type STRING"),
    ("unknown_type", "element type 999"),
    ("segment", "segmented"),
])
def test_initializer_dims_must_agree_with_data(tmp_path, case, match):
    t = numpy_helper.from_array(W, "w")
    if case == "raw_short":
        t.raw_data = t.raw_data[:-4]
    elif case == "raw_long":
        t.raw_data += b"\0" * 4
    elif case == "typed_short":
        t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 3])
        t.float_data.extend(W.ravel()[:11].tolist())
    elif case == "dims_overflow":
        del t.dims[:]
        t.dims.extend([2 ** 31, 2 ** 31, 2 ** 31])
    elif case == "dims_negative":
        t.dims[0] = -4
    elif case == "dims_too_many":   # NumPy arrays have at most 32 (NumPy 1) or 64 axes
        t.dims[:0] = [1] * 70
    elif case == "two_sources":
        t.float_data.extend(W.ravel().tolist())
    elif case == "string_type":
        t = helper.make_tensor("w", TensorProto.STRING, [1], [b"a"])
    elif case == "unknown_type":
        t.data_type = 999
    else:
        t.segment.begin = 0
    with pytest.raises(ValueError, match=match):
        nxo.load(_weight(tmp_path, t))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_weights_are_refused_unless_allowed(tmp_path, bad):
    w = W.copy()
    w[2, 1] = bad
    p = _weight(tmp_path, numpy_helper.from_array(w, "w"))
    with pytest.raises(ValueError, match="NaN or inf.*allow_nonfinite=True"):
        nxo.load(p)
    model = nxo.load(p, allow_nonfinite=True)
    np.testing.assert_array_equal(model[0].weight.data, w)


def test_float64_weights_overflowing_float32_are_refused(tmp_path):
    w = W.astype(np.float64)
    w[0, 0] = 1e300
    p = _weight(tmp_path, numpy_helper.from_array(w, "w"))
    with pytest.raises(ValueError, match="overflow float32"):
        nxo.load(p)
    assert nxo.load(p, dtype="float64")[0].weight.data[0, 0] == 1e300


def test_truncated_and_random_bytes_are_value_errors(tmp_path):
    raw = open(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).to_onnx(
        tmp_path / "ok.onnx"), "rb").read()
    p = tmp_path / "bad.onnx"
    rng = np.random.default_rng(0)
    cuts = sorted(set(rng.integers(1, len(raw), 40).tolist()) | {0, 1, len(raw) - 1})
    for cut in cuts:
        p.write_bytes(raw[:cut])
        with pytest.raises(ValueError):
            nxo.load(p)
    for i in range(40):
        p.write_bytes(rng.bytes(int(rng.integers(1, 400))))
        with pytest.raises(ValueError):
            nxo.load(p)


def test_not_a_regular_file(tmp_path):
    with pytest.raises(IsADirectoryError):
        nxo.load(tmp_path)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OSError, match="not a regular file"):
        nxo.load(tmp_path / "fifo")


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(CORPUS, "*.onnx"))),
                         ids=os.path.basename)
def test_fuzz_seed_corpus_outcomes(path):
    # the fuzz target's seeds, replayed with its folder (m.onnx.data beside the file,
    # outside.data a symlink out of it): valid_* load and run, bad_* raise ValueError
    sys.path.insert(0, os.path.join(HERE, "fuzz"))
    try:
        import fuzz_python
    finally:
        sys.path.pop(0)
    fuzz_python._modules("onnx")
    target = fuzz_python._PATH["onnx"]
    with open(path, "rb") as f, open(target, "wb") as out:
        out.write(f.read())
    if os.path.basename(path).startswith("valid_"):
        model = load_quiet(target)
        out = model.predict(np.linspace(-1, 1, 3 * model.in_features).reshape(3, -1))
        assert out.shape == (3, model.out_features) and np.isfinite(out).all()
    else:
        with pytest.raises(ValueError):
            nxo.load(target)


def test_corpus_has_both_kinds():
    names = [os.path.basename(p) for p in glob.glob(os.path.join(CORPUS, "*.onnx"))]
    assert sum(n.startswith("valid_") for n in names) >= 5
    assert sum(n.startswith("bad_") for n in names) >= 10


# ---------------------------------------------------------------------- CLI

def _cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_export_and_import(tmp_path, capsys):
    model = nn.Sequential(nn.Linear(4, 6), nn.GELU(), nn.Linear(6, 3), seed=3)
    model.save(tmp_path / "m.safetensors")
    code, out, err = _cli(capsys, "export", tmp_path / "m.safetensors", "--to",
                          tmp_path / "m.onnx", "--opset", "13")
    assert code == 0 and "opset 13" in out and not err
    assert onnx.load(str(tmp_path / "m.onnx")).opset_import[0].version == 13
    x = inputs(10, 4)
    np.testing.assert_allclose(run_ort(tmp_path / "m.onnx", x)[0], model.predict(x),
                               rtol=1e-5, atol=1e-6)
    code, out, err = _cli(capsys, "import", tmp_path / "m.onnx", "--out",
                          tmp_path / "back.safetensors")
    assert code == 0 and "3 layers" in out
    np.testing.assert_array_equal(nio.load(tmp_path / "back.safetensors").predict(x),
                                  model.predict(x))


def test_cli_import_reports_post_processing(tmp_path, capsys):
    code, out, err = _cli(capsys, "import", os.path.join(FIXTURES, "skl2onnx_classifier.onnx"),
                          "--out", tmp_path / "c.safetensors", "--dtype", "float64")
    assert code == 0 and "note: " in err and "ArgMax" in err
    assert nio.load(tmp_path / "c.safetensors").dtype == np.float64


@pytest.mark.parametrize("argv,match", [
    (["import", "{bad}", "--out", "{tmp}/x.safetensors"], "not an ONNX model"),
    (["import", "{tmp}/none.onnx", "--out", "{tmp}/x.safetensors"], "no such ONNX file"),
    (["import", "{conv}", "--out", "{tmp}/x.safetensors"], r"\(Conv\)"),
    (["import", "{ok}", "--out", "{tmp}/no/dir/x.safetensors"], "no directory"),
    (["export", "{bad}", "--to", "{tmp}/x.onnx"], "safetensors"),
    (["export", "{tmp}/none.safetensors", "--to", "{tmp}/x.onnx"], "no such model file"),
    (["export", "{st}", "--to", "{tmp}/x.onnx", "--opset", "9"], r"opset must be in \[11"),
    (["export", "{st}"], "--to"),
])
def test_cli_bad_files_exit_2_with_one_line(tmp_path, capsys, argv, match):
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07garbage\xff\xff")
    nn.Sequential(nn.Linear(2, 2)).save(tmp_path / "m.safetensors")
    nxo.export(nn.Sequential(nn.Linear(2, 2)), tmp_path / "ok.onnx")
    fmt = {"tmp": tmp_path, "bad": tmp_path / "bad.onnx", "st": tmp_path / "m.safetensors",
           "ok": tmp_path / "ok.onnx",
           "conv": os.path.join(CORPUS, "bad_conv_op.onnx")}
    code, out, err = _cli(capsys, *[a.format(**fmt) for a in argv])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("nncore: error: "), err
    assert re.search(match, lines[0]), lines[0]
    assert not os.path.exists(tmp_path / "x.safetensors")
    assert not os.path.exists(tmp_path / "x.onnx")


# -------------------------------------------------------- without the extra

_NO_ONNX = "import sys; sys.modules['onnx'] = None\n"


def _python(code):
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(nncore.__file__))
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", _NO_ONNX + code], capture_output=True,
                          text=True, env=env, timeout=300)


def test_import_without_onnx_names_the_extra():
    r = _python("import nncore.onnx")
    assert r.returncode != 0
    assert 'ImportError: nncore.onnx needs the onnx package: pip install "nncore[onnx]"' in r.stderr


def test_fit_works_and_to_onnx_names_the_extra_without_onnx():
    r = _python(
        "import numpy as np, nncore.nn as nn\n"
        "m = nn.Sequential(nn.Linear(2, 2))\n"
        "h = m.fit(np.ones((8, 2)), np.arange(8) % 2, loss='cross_entropy', epochs=1, verbose=0)\n"
        "print('fit ok', len(h.history['loss']))\n"
        "try:\n    m.to_onnx('never.onnx')\n"
        "except ImportError as e:\n    print('to_onnx:', e)\n")
    assert r.returncode == 0, r.stderr
    assert "fit ok 1" in r.stdout
    assert 'to_onnx: nncore.onnx needs the onnx package: pip install "nncore[onnx]"' in r.stdout


def test_cli_without_onnx_exits_2_naming_the_extra(tmp_path):
    nn.Sequential(nn.Linear(2, 2)).save(tmp_path / "m.safetensors")
    r = _python(f"from nncore import cli; import sys; sys.exit(cli.main(['export', "
                f"{str(tmp_path / 'm.safetensors')!r}, '--to', {str(tmp_path / 'm.onnx')!r}]))")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        'nncore: error: nncore.onnx needs the onnx package: pip install "nncore[onnx]" '
        "(import of onnx halted; None in sys.modules)"]
