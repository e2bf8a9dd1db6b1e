"""nncore.onnx.export of nncore.sklearn's MLPClassifier / MLPRegressor.

Oracles: onnxruntime's CPUExecutionProvider runs every exported file, compared with the
estimator's own ``predict`` / ``predict_proba``; skl2onnx's export of scikit-learn's
MLPClassifier / MLPRegressor on the same data gives the output names and element types
the files must have. Skipped without onnx, onnxruntime or scikit-learn (CI sets
NNCORE_REQUIRE_ONNX=1, which turns the skip of onnx / onnxruntime into a failure).
"""
import os
import warnings

import numpy as np
import pytest
from _optional import need


onnx = need("onnx")
ort = need("onnxruntime")
need("sklearn")   # installed by CI before this step: required there too
import nncore.onnx as nxo  # noqa: E402
from nncore.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn import neural_network as sk_nn  # noqa: E402

N = 83   # rows: not a multiple of anything the kernels block by

RNG = np.random.default_rng(0)
X0 = RNG.normal(size=(N, 5))
TARGETS = {
    "int": (np.arange(N) % 3) * 7 - 4,                       # int classes, not 0..k-1
    "string": np.array(["cat", "dog", "emu", "yak"])[np.arange(N) % 4],
    "binary": np.array(["no", "yes"])[(X0[:, 0] > 0).astype(int)],
    "binary_int": (X0[:, 1] > 0.2).astype(np.int64),
    "multilabel": (X0[:, :3] + RNG.normal(size=(N, 3)) * 0.5 > 0).astype(np.int64),
}


def _quiet_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # ConvergenceWarning of the short fits
        return est.fit(X, y)


def run_ort(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: x})))


def outputs_of(proto):
    return [(o.name, o.type.tensor_type.elem_type) for o in proto.graph.output]


def _tol(dtype):
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-12,
                                                                    "atol": 1e-14}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", sorted(TARGETS))
def test_classifier_export_runs_like_predict_and_predict_proba(tmp_path, case, dtype):
    X, y = X0.astype(dtype), TARGETS[case]
    est = _quiet_fit(MLPClassifier((7, 4), max_iter=40, random_state=0), X, y)
    path = nxo.export(est, tmp_path / "c.onnx")
    got = run_ort(path, X)
    assert list(got) == ["label", "probabilities"]
    proba = est.predict_proba(X)
    assert got["probabilities"].dtype == proba.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got["probabilities"], proba, **_tol(dtype))
    labels = est.predict(X)
    assert got["label"].shape == labels.shape
    np.testing.assert_array_equal(got["label"], labels)
    if case in ("int", "binary_int", "multilabel"):
        assert got["label"].dtype == np.int64
    else:
        assert got["label"].dtype == object   # onnxruntime's strings


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss,n_outputs", [("squared_error", 1), ("squared_error", 3),
                                            ("poisson", 1), ("poisson", 2)])
def test_regressor_export_runs_like_predict(tmp_path, loss, n_outputs, dtype):
    X = X0.astype(dtype)
    Y = np.abs(X0[:, :n_outputs] * 2 + X0[:, 1:n_outputs + 1]) + 0.1
    y = Y[:, 0] if n_outputs == 1 else Y
    est = _quiet_fit(MLPRegressor(loss=loss, hidden_layer_sizes=(6,), max_iter=40,
                                  random_state=0), X, y)
    got = run_ort(nxo.export(est, tmp_path / "r.onnx"), X)
    assert list(got) == ["variable"]
    pred = est.predict(X)
    assert got["variable"].shape == (N, n_outputs)       # skl2onnx's (n, 1) for one output
    assert got["variable"].dtype == np.dtype(dtype)
    np.testing.assert_allclose(got["variable"].reshape(pred.shape), pred, **_tol(dtype))


@pytest.fixture
def skl2onnx():
    return pytest.importorskip("skl2onnx")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", sorted(TARGETS))
def test_classifier_outputs_are_named_and_typed_as_skl2onnx_writes_them(tmp_path, skl2onnx,
                                                                         case, dtype):
    X, y = X0.astype(dtype), TARGETS[case]
    ours = _quiet_fit(MLPClassifier((4,), max_iter=5, random_state=0), X, y)
    theirs = _quiet_fit(sk_nn.MLPClassifier((4,), max_iter=5, random_state=0), X, y)
    ref = skl2onnx.to_onnx(theirs, X[:1], options={"zipmap": False})
    got = onnx.load(nxo.export(ours, tmp_path / "c.onnx"))
    assert outputs_of(got) == outputs_of(ref)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_regressor_output_is_named_and_typed_as_skl2onnx_writes_it(tmp_path, skl2onnx, dtype):
    X = X0.astype(dtype)
    ours = _quiet_fit(MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0), X,
                      X0[:, 0])
    theirs = _quiet_fit(sk_nn.MLPRegressor(hidden_layer_sizes=(4,), max_iter=5,
                                           random_state=0), X, X0[:, 0])
    ref = skl2onnx.to_onnx(theirs, X[:1])
    got = onnx.load(nxo.export(ours, tmp_path / "r.onnx"))
    assert outputs_of(got) == outputs_of(ref)
    shape = [d.dim_value for d in got.graph.output[0].type.tensor_type.shape.dim]
    assert shape[1] == 1 == [d.dim_value for d in
                             ref.graph.output[0].type.tensor_type.shape.dim][1]


@pytest.mark.parametrize("opset", [11, 13, 17, 20])   # 11: MIN_OPSET
@pytest.mark.parametrize("activation", ["tanh", "logistic", "gelu", "leaky_relu"])
def test_hidden_activations_dropout_and_opsets(tmp_path, activation, opset):
    # float32: onnxruntime has no float64 Erf (GELU's form before opset 20)
    X, y = X0.astype(np.float32), TARGETS["string"]
    est = _quiet_fit(MLPClassifier((6, 5), activation=activation, dropout=0.2, max_iter=20,
                                   random_state=0), X, y)
    got = run_ort(nxo.export(est, tmp_path / "c.onnx", opset=opset), X)
    np.testing.assert_allclose(got["probabilities"], est.predict_proba(X), **_tol("float32"))
    np.testing.assert_array_equal(got["label"], est.predict(X))
    model = onnx.load(str(tmp_path / "c.onnx"))
    assert model.opset_import[0].version == opset
    assert "Dropout" not in [n.op_type for n in model.graph.node]


def test_assigned_coefs_are_what_is_exported(tmp_path):
    est = _quiet_fit(MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0), X0,
                     X0[:, 0])
    est.coefs_[0] = np.ones_like(est.coefs_[0])        # a new array, not an in-place edit
    est.intercepts_[1] = est.intercepts_[1] + 3.0
    got = run_ort(nxo.export(est, tmp_path / "r.onnx"), X0)
    np.testing.assert_allclose(got["variable"][:, 0], est.predict(X0), rtol=1e-12)


def test_fixed_batch_and_input_name(tmp_path):
    est = _quiet_fit(MLPClassifier((4,), max_iter=5, random_state=0), X0, TARGETS["int"])
    path = nxo.export(est, tmp_path / "c.onnx", dynamic_batch=False, input_name="X")
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].name == "X" and sess.get_inputs()[0].shape == [1, 5]
    label, proba = sess.run(None, {"X": X0[:1]})
    np.testing.assert_array_equal(label, est.predict(X0[:1]))


def test_estimator_export_errors(tmp_path):
    with pytest.raises(ValueError, match="not fitted yet.*call fit"):
        nxo.export(MLPClassifier(), tmp_path / "a.onnx")
    est = _quiet_fit(MLPClassifier((4,), max_iter=5, random_state=0), X0, TARGETS["int"])
    with pytest.raises(ValueError, match="label, probabilities.*output_name must stay"):
        nxo.export(est, tmp_path / "a.onnx", output_name="y")
    with pytest.raises(ValueError, match="input_name 'label' is already"):
        nxo.export(est, tmp_path / "a.onnx", input_name="label")
    est.classes_ = np.array([0.5, 1.5, 2.5])   # no fit makes these (y must be labels)
    with pytest.raises(TypeError, match="classes_ of dtype float64 have no ONNX label type"):
        nxo.export(est, tmp_path / "a.onnx")
    assert not os.path.exists(tmp_path / "a.onnx")


def test_integral_float_classes_are_int64_labels(tmp_path):
    y = (np.arange(N) % 3).astype(np.float64) - 1.0
    est = _quiet_fit(MLPClassifier((4,), max_iter=5, random_state=0), X0, y)
    got = run_ort(nxo.export(est, tmp_path / "c.onnx"), X0)
    assert got["label"].dtype == np.int64
    np.testing.assert_array_equal(got["label"], est.predict(X0))


@pytest.mark.parametrize("case", sorted(TARGETS))
def test_exported_classifier_loads_back_as_its_probabilities(tmp_path, case):
    # nncore.onnx.load reads what nncore.onnx.export writes for a classifier: the label
    # decision (ArgMax or p > 0.5, Gather from the classes) is the post-processing it
    # drops, and the model returns the probabilities (two classes: P(class 1), (n, 1),
    # as for skl2onnx's binary files)
    X, y = X0, TARGETS[case]
    est = _quiet_fit(MLPClassifier((7, 4), max_iter=40, random_state=0), X, y)
    path = nxo.export(est, tmp_path / "c.onnx")
    with pytest.warns(nxo.PostProcessingDropped):
        model = nxo.load(path)
    want = run_ort(path, X)["probabilities"]
    if case in ("binary", "binary_int"):
        want = want[:, 1:]
    np.testing.assert_allclose(model.predict(X), want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.predict(X), est.predict_proba(X)[:, -want.shape[1]:],
                               rtol=1e-12, atol=1e-14)
