"""nncore.nn's Python API: building, parameters as views, init, inputs, config,
summary, bad input, and no allocation per inference call."""
import gc
import json
import math
import threading
import tracemalloc
import weakref

import numpy as np
import pytest

import nncore.io as nio
import nncore.losses as losses
import nncore.nn as nn
import nncore.optim as optim
from nncore import _core
from nncore import reference as ref


def mlp(dtype="float32", seed=0):
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 3),
                         dtype=dtype, seed=seed)


def numpy_forward(model, x):
    """Closed form of a Linear/ReLU/Tanh/Dropout model in inference, float64."""
    h = np.asarray(x, np.float64)
    for i, layer in enumerate(model.layers):
        if isinstance(layer, nn.Linear):
            h = h @ layer.weight.data.T.astype(np.float64)
            if layer.bias is not None:
                h = h + layer.bias.data
        elif isinstance(layer, nn.ReLU):
            h = np.maximum(h, 0)
        elif isinstance(layer, nn.Tanh):
            h = np.tanh(h)
    return h


# ------------------------------------------------------------------ building

def test_attributes_and_parameters(dtype):
    m = mlp(dtype)
    assert m.loss is None and m.epochs_trained == 0 and m.stop_training is False
    assert m.dtype == np.dtype(dtype) and m.seed == 0
    assert (m.in_features, m.out_features, m.num_parameters) == (6, 3, 6 * 8 + 8 + 8 * 3 + 3)
    names = [n for n, _ in m.named_parameters()]
    assert names == ["0.weight", "0.bias", "3.weight", "3.bias"]
    shapes = [p.shape for p in m.parameters()]
    assert shapes == [(8, 6), (8,), (3, 8), (3,)]
    offsets = [p.offset for p in m.parameters()]
    assert offsets == [0, 48, 56, 80]
    w = m.parameters()[2]
    assert (w.rows, w.cols, w.is_bias, w.size, w.model) == (3, 8, False, 24, m)
    b = m.parameters()[3]
    assert (b.rows, b.cols, b.is_bias) == (1, 3, True)
    assert m.layers[3].weight is w and m.layers[3].bias is b
    # zero-copy views of the ONE flat buffer
    for p in m.parameters():
        assert np.shares_memory(p.data, m.flat_params)
        assert np.shares_memory(p.grad, m.flat_grads)
    assert m.flat_params.ctypes.data % 64 == 0
    assert m.flat_params.dtype == m.dtype and m.flat_params.shape == (m.num_parameters,)


def test_parameters_settable_from_numpy(dtype):
    m = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2), dtype=dtype)
    rng = np.random.default_rng(0)
    for p in m.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    m.parameters()[0].data = rng.standard_normal((4, 5)).T  # setter copies in
    x = rng.standard_normal((3, 4))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(m(x), numpy_forward(m, x.astype(dtype)), rtol=tol, atol=tol)
    with pytest.raises(ValueError, match="shape"):
        m.parameters()[0].data = np.zeros((4, 4))


def test_flat_params_outlive_model():
    flat = mlp().flat_params  # the model is gone; the view keeps the C buffer alive
    flat[...] = 1.0
    assert flat.sum() == flat.size


def test_size_mismatch_and_bad_layers():
    with pytest.raises(ValueError, match="layer 2 .*expects 5 input features.*gives 8"):
        nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(5, 2))
    with pytest.raises(ValueError, match="at least one Linear"):
        nn.Sequential(nn.ReLU())
    with pytest.raises(ValueError, match="at least one layer"):
        nn.Sequential()
    with pytest.raises(TypeError, match="layer 1"):
        nn.Sequential(nn.Linear(2, 2), "relu")
    with pytest.raises(ValueError, match="dtype"):
        nn.Sequential(nn.Linear(2, 2), dtype="int32")
    with pytest.raises(TypeError, match="seed"):
        nn.Sequential(nn.Linear(2, 2), seed=1.5)
    with pytest.raises(ValueError, match="seed"):
        nn.Sequential(nn.Linear(2, 2), seed=-1)
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(0, 3)
    with pytest.raises(TypeError, match="out_features"):
        nn.Linear(3, 2.0)
    for p in (-0.1, 1.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="p"):
            nn.Dropout(p)
    with pytest.raises(ValueError, match="unknown activation 'relu6'"):
        nn.activation("relu6")
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="unknown init 'glorot_fancy'"):
        nn.Linear(2, 2, init="glorot_fancy")


@pytest.mark.parametrize("alias, full", [("he", "he_normal"), ("kaiming", "kaiming_normal"),
                                         ("glorot", "glorot_uniform"), ("xavier", "xavier_uniform"),
                                         ("lecun", "lecun_normal")])
def test_init_family_names_pick_the_usual_variant(alias, full):
    a = nn.Sequential(nn.Linear(50, 40, init=alias), seed=3)
    b = nn.Sequential(nn.Linear(50, 40, init=full), seed=3)
    assert np.array_equal(a[0].weight.data, b[0].weight.data)


def test_list_of_layers_and_activation_names():
    m = nn.Sequential([nn.Linear(3, 4), nn.activation("leaky_relu", negative_slope=0.2),
                       nn.Linear(4, 1)])
    assert isinstance(m.layers[1], nn.LeakyReLU) and m.layers[1].negative_slope == 0.2
    assert len(m) == 3 and m[0] is m.layers[0] and list(m) == m.layers


# ---------------------------------------------------------------------- init

def test_init_reproducible_and_seeded():
    a, b, c = mlp(seed=1), mlp(seed=1), mlp(seed=2)
    np.testing.assert_array_equal(a.flat_params, b.flat_params)
    assert not np.array_equal(a.flat_params, c.flat_params)
    # documented recipe: default_rng(seed), He normal before ReLU, Glorot uniform otherwise
    rng = np.random.default_rng(1)
    w0 = rng.normal(0.0, math.sqrt(2.0) / math.sqrt(6), size=(8, 6))
    bound = math.sqrt(6.0 / (8 + 3))
    w3 = rng.uniform(-bound, bound, size=(3, 8))
    np.testing.assert_allclose(a.parameters()[0].data, w0.astype(np.float32))
    np.testing.assert_allclose(a.parameters()[2].data, w3.astype(np.float32))
    assert not a.parameters()[1].data.any()


@pytest.mark.parametrize("init,check", [
    ("he_normal", lambda w, fi, fo: abs(w.std() - math.sqrt(2 / fi)) < 0.02 * math.sqrt(2 / fi)),
    ("kaiming_uniform", lambda w, fi, fo: 0.99 * math.sqrt(6 / fi) < np.abs(w).max() <= math.sqrt(6 / fi)
     and abs(w.std() - math.sqrt(2 / fi)) < 0.02 * math.sqrt(2 / fi)),
    ("xavier_uniform", lambda w, fi, fo: np.abs(w).max() <= math.sqrt(6 / (fi + fo))
     and abs(w.std() - math.sqrt(2 / (fi + fo))) < 0.02 * math.sqrt(2 / (fi + fo))),
    ("glorot_normal", lambda w, fi, fo: abs(w.std() - math.sqrt(2 / (fi + fo))) < 0.02 * math.sqrt(2 / (fi + fo))),
    ("lecun_normal", lambda w, fi, fo: abs(w.std() - math.sqrt(1 / fi)) < 0.02 * math.sqrt(1 / fi)),
    ("lecun_uniform", lambda w, fi, fo: 0.99 * math.sqrt(3 / fi) < np.abs(w).max() <= math.sqrt(3 / fi)
     and abs(w.std() - math.sqrt(1 / fi)) < 0.02 * math.sqrt(1 / fi)),
    ("xavier_normal", lambda w, fi, fo: abs(w.mean()) < 0.01 * math.sqrt(2 / (fi + fo))
     and abs(w.std() - math.sqrt(2 / (fi + fo))) < 0.02 * math.sqrt(2 / (fi + fo))),
    ("he_uniform", lambda w, fi, fo: abs(w.std() - math.sqrt(2 / fi)) < 0.02 * math.sqrt(2 / fi)),
    ("zeros", lambda w, fi, fo: not w.any()),
])
def test_init_statistics(init, check):
    m = nn.Sequential(nn.Linear(300, 200, init=init, bias_init=0.5), nn.ReLU(), dtype="float64")
    w = m.parameters()[0].data
    assert check(w, 300, 200)
    assert np.all(m.parameters()[1].data == 0.5)


def test_leaky_relu_gain_and_callable_init():
    m = nn.Sequential(nn.Linear(400, 300), nn.LeakyReLU(0.5), dtype="float64")
    gain = math.sqrt(2 / (1 + 0.25))
    assert abs(m.parameters()[0].data.std() - gain / 20) < 0.02 * gain / 20
    m = nn.Sequential(nn.Linear(3, 2, init=lambda shape, rng: np.full(shape, 0.25)))
    assert np.all(m.parameters()[0].data == 0.25)
    with pytest.raises(ValueError, match="shape"):
        nn.Sequential(nn.Linear(3, 2, init=lambda shape, rng: np.ones((3, 2))))
    with pytest.raises(ValueError, match="non-finite"):
        nn.Sequential(nn.Linear(3, 2, init=lambda shape, rng: np.full(shape, np.nan)))


# -------------------------------------------------------------------- inputs

def test_inputs_cast_and_strided(dtype):
    m = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 2), dtype=dtype, seed=3)
    rng = np.random.default_rng(0)
    base = rng.standard_normal((8, 12))
    x = np.ascontiguousarray(base[:, 2:7]).astype(dtype)
    want = m(x)
    np.testing.assert_array_equal(m(base[:, 2:7].astype(dtype)), want)  # row stride 12
    np.testing.assert_array_equal(m(np.asfortranarray(x)), want)
    np.testing.assert_array_equal(m(x.tolist()), want)
    np.testing.assert_array_equal(m(x.astype(x.dtype.newbyteorder())), want)  # big-endian
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(m(x[::2]), want[::2], rtol=tol, atol=tol)  # 4 rows: dot path
    np.testing.assert_array_equal(m(x[::2][:, ::-1][:, ::-1]), m(np.ascontiguousarray(x[::2])))
    np.testing.assert_array_equal(m.forward(base[:, 2:7].astype(dtype), training=True), want)
    xi = rng.integers(-3, 3, (4, 5))
    np.testing.assert_array_equal(m(xi), m(xi.astype(dtype)))  # integers cast once
    assert m(x).dtype == m.dtype
    x64 = rng.standard_normal((3, 5))
    np.testing.assert_array_equal(m(x64), m(x64.astype(dtype)))  # other float dtype cast once


def test_single_sample_matches_batch(dtype):
    m = nn.Sequential(nn.Linear(9, 33), nn.ReLU(), nn.Linear(33, 4), dtype=dtype, seed=1)
    x = np.random.default_rng(2).standard_normal((12, 9)).astype(dtype)
    full = m(x)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for i in range(12):  # the dot-product path (tiny batch) vs the GEMM path
        np.testing.assert_allclose(m(x[i:i + 1]), full[i:i + 1], rtol=tol, atol=tol)
    np.testing.assert_allclose(full, numpy_forward(m, x), rtol=tol, atol=tol)


def test_bad_inputs():
    m = mlp()
    with pytest.raises(ValueError, match=r"2-D.*1-D.*reshape\(1, -1\)"):
        m(np.zeros(6))
    with pytest.raises(ValueError, match="3-D"):
        m(np.zeros((2, 3, 6)))
    with pytest.raises(ValueError, match="has 5 features, the model expects 6"):
        m(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="empty batch"):
        m(np.zeros((0, 6)))
    with pytest.raises(TypeError, match="dtype"):
        m(np.array([["a"] * 6]))
    with pytest.raises(TypeError, match="dtype"):
        m(np.zeros((2, 6), complex))
    with pytest.raises(ValueError, match="has 5 features"):
        m.forward(np.zeros((2, 5)), training=True)


def test_nan_propagates_in_inference():
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = np.array([[np.nan, 0, 0], [0, 1, 0]], np.float32)
    out = m(x)
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()


# ------------------------------------------------------------------ backward

def test_backward_errors():
    m = mlp()
    with pytest.raises(ValueError, match="training forward first"):
        m.backward(np.zeros((2, 3), np.float32))
    x = np.ones((2, 6), np.float32)
    m.forward(x, training=True)
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        m.backward(np.zeros((3, 3), np.float32))
    m.backward(np.zeros((2, 3)))  # float64 dout cast to the model dtype
    m(x)  # an inference call discards what backward needs
    with pytest.raises(ValueError, match="training forward first"):
        m.backward(np.zeros((2, 3), np.float32))


def test_zero_grad_and_grad_norms():
    m = mlp("float64")
    x = np.random.default_rng(0).standard_normal((4, 6))
    m.forward(x, training=True)
    m.backward(np.ones((4, 3)))
    norms = m.grad_norms()
    assert list(norms) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    for name, p in m.named_parameters():
        assert norms[name] == pytest.approx(np.linalg.norm(p.grad))
    assert norms["3.bias"] == pytest.approx(math.sqrt(3 * 16))  # column sums of ones
    m.zero_grad()
    assert not m.flat_grads.any()


def test_dropout_step_property():
    m = mlp()
    assert m.dropout_step == 0
    m.forward(np.ones((2, 6)), training=True)
    assert m.dropout_step == 1
    m(np.ones((2, 6)))
    assert m.dropout_step == 1  # inference does not advance it
    m.dropout_step = 2 ** 40
    assert m.dropout_step == 2 ** 40
    with pytest.raises(ValueError):
        m.dropout_step = -1


# -------------------------------------------------------------- train_step

def test_train_step_errors():
    m, other = mlp(), mlp()
    opt = optim.SGD(m.parameters(), lr=0.1)
    x, y = np.ones((4, 6)), np.array([0, 1, 2, 0])
    before = m.flat_params.copy()
    with pytest.raises(ValueError, match="another model"):
        m.train_step(x, y, "ce", optim.SGD(other.parameters(), lr=0.1))
    with pytest.raises(TypeError, match="needs an optimizer object, got the name 'adam'"):
        m.train_step(x, y, "ce", "adam")
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        m.train_step(x, y, "hinge", opt)
    with pytest.raises(ValueError, match="clip_norm"):
        m.train_step(x, y, "ce", opt, clip_norm=-1.0)
    with pytest.raises(ValueError, match="clip_value"):
        m.train_step(x, y, "ce", opt, clip_value=0.0)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        m.train_step(x, np.array([0, 1, 3, 0]), "ce", opt)
    with pytest.raises(ValueError, match="target shape"):
        m.train_step(x, np.zeros((4, 2)), "mse", opt)
    with pytest.raises(ValueError, match="NaN or Inf"):
        m.train_step(x, np.full((4, 3), np.inf), "mse", opt)
    assert np.array_equal(m.flat_params, before)  # nothing was updated by the failures
    loss = m.train_step(x, y, losses.CrossEntropyLoss(), opt)
    assert np.isfinite(loss) and m.last_grad_norm > 0
    assert not np.array_equal(m.flat_params, before)


def test_training_reduces_loss():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    m = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2), seed=1)
    opt = optim.Adam(m.parameters(), lr=0.05)
    first = m.train_step(x, y, "ce", opt)
    for _ in range(150):
        last = m.train_step(x, y, "ce", opt)
    assert last < 0.3 * first
    assert (m(x).argmax(axis=1) == y).mean() > 0.9


# ----------------------------------------------------------- config, display

def test_config_round_trip():
    m = nn.Sequential(nn.Linear(3, 4, bias=False, init="lecun_normal"), nn.LeakyReLU(0.1),
                      nn.ELU(0.5), nn.GELU("tanh"), nn.SiLU(), nn.Softplus(), nn.Sigmoid(),
                      nn.Tanh(), nn.Softmax(), nn.LogSoftmax(), nn.Identity(), nn.Dropout(0.3),
                      nn.Linear(4, 2, bias_init=0.1), dtype="float64", seed=7)
    cfg = m.get_config()
    assert cfg["dtype"] == "float64" and cfg["seed"] == 7 and cfg["layers"][0]["type"] == "Linear"
    cfg = json.loads(json.dumps(cfg))
    m2 = nn.Sequential.from_config(cfg)
    assert m2.get_config() == m.get_config()
    np.testing.assert_array_equal(m2.flat_params, m.flat_params)  # same seed, same init
    for layer in m.layers:
        again = nn.layer_from_config(layer.get_config())
        assert type(again) is type(layer) and again.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="unknown layer type 'Conv2d'"):
        nn.layer_from_config({"type": "Conv2d"})
    for layers in (5, "Linear", {"type": "Linear"}):   # not a list of layer configs
        with pytest.raises(TypeError, match=r"config 'layers' must be a list of layer "
                                            rf"configs, got {type(layers).__name__}"):
            nn.Sequential.from_config({"layers": layers})


def test_summary_and_repr(capsys):
    m = mlp()
    text = m.summary()
    printed = capsys.readouterr().out
    assert text in printed
    for piece in ("Linear(6, 8)", "ReLU()", "Dropout(p=0.2)", "Linear(8, 3)", "(batch, 8)",
                  "(batch, 3)", "56", "27", "Total parameters: 83"):
        assert piece in text
    r = repr(m)
    assert r.startswith("Sequential(") and "(2): Dropout(p=0.2)" in r and "float32" in r


# ------------------------------------------------------------- allocation

def test_no_allocation_per_inference_call():
    m = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                      nn.Linear(64, 10))
    x = np.random.default_rng(0).standard_normal((32, 64)).astype(np.float32)
    for _ in range(3):
        m(x)  # warm up: workspace sized, caches filled
    tracemalloc.start()
    try:
        snap0 = tracemalloc.take_snapshot()
        outs = [m(x) for _ in range(50)]
        snap1 = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in snap1.compare_to(snap0, "filename"))
    per_call = grown / 50
    # each call's only allocation is the returned array (32 x 10 floats + header)
    assert per_call <= outs[0].nbytes + 200, per_call


# ------------------------------------------------- the C object validates too

def test_c_network_validates_everything():
    lin = (0, 3, 4, 1, 0, 0.0)
    bad_specs = [
        [lin, (0, 5, 2, 1, 0, 0.0)],            # sizes do not chain
        [lin, (2, 4, 4, 0, 0, 1.0)],            # dropout p = 1
        [lin, (2, 4, 4, 0, 0, -0.5)],           # dropout p < 0
        [(1, 3, 3, 0, 99, 0.0)],                # unknown activation
        [(1, 3, 4, 0, 1, 0.0)],                 # activation changing the size
        [(7, 3, 3, 0, 0, 0.0)],                 # unknown layer kind
        [(0, 0, 3, 1, 0, 0.0)],                 # empty layer
        [(1, 3, 3, 0, 2, float("nan"))],        # NaN parameter
    ]
    for specs in bad_specs:
        with pytest.raises(ValueError):
            _core._Net(0, specs, 0)
    with pytest.raises(ValueError):
        _core._Net(5, [lin], 0)                 # unknown dtype
    with pytest.raises(ValueError):
        _core._Net(0, [], 0)
    with pytest.raises(MemoryError):
        _core._Net(0, [(0, 2 ** 40, 2 ** 40, 1, 0, 0.0)], 0)  # byte count overflows
    with pytest.raises(MemoryError):
        nn.Sequential(nn.Linear(2 ** 33, 2 ** 33))
    net = _core._Net(0, [lin], 0)
    assert net.infer([[1.0, 2.0, 3.0]]) is None          # not an ndarray: caller prepares
    assert net.infer(np.zeros((2, 3))) is None           # float64 for a float32 net
    assert net.infer(np.zeros((2, 4), np.float32)) is None
    with pytest.raises(ValueError):
        net.forward(np.zeros((2, 3)), True)
    with pytest.raises(ValueError, match="training forward first"):
        net.backward(np.zeros((2, 4), np.float32))
    net.forward(np.zeros((2, 3), np.float32), True)
    with pytest.raises(ValueError):
        net.backward(np.zeros((2, 4), np.float64))
    with pytest.raises(ValueError):
        net.backward(np.zeros((4, 2), np.float32).T)     # not C-contiguous
    with pytest.raises(ValueError):
        _core._net_loss(0, 0, 0.0, np.zeros((2, 4), np.float32), np.zeros((2, 3), np.float32),
                        None, True)
    with pytest.raises(ValueError):
        _core._net_loss(4, 0, 0.0, np.zeros((2, 4)), None, np.array([0, 9]), True)


def test_optimizer_of_other_dtype_rejected():
    m32, m64 = mlp("float32"), mlp("float64")
    opt64 = optim.SGD(m64.parameters(), lr=0.1)
    x, y = np.ones((2, 6)), np.array([0, 1])
    k, r, p, t, labels = losses.CrossEntropyLoss()._prepare_target(y, (2, 3), m32.dtype)
    with pytest.raises(TypeError, match="float64"):
        m32._net.train_step(x.astype(np.float32), t, labels, k, r, p, opt64._prepare(), 0.0, 0.0)


def test_calls_from_several_threads_are_serialized():
    m = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 10))
    xs = {b: np.random.default_rng(b).standard_normal((b, 256)).astype(np.float32)
          for b in (1, 40, 300)}
    want = {b: m(x) for b, x in xs.items()}
    bad = []

    def work(b):
        for _ in range(30):
            if not np.array_equal(m(xs[b]), want[b]):
                bad.append(b)  # list.append is atomic under the GIL

    threads = [threading.Thread(target=work, args=(b,)) for b in xs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == []


def test_model_memory_is_freed():
    m = mlp()
    opt = optim.Adam(m.parameters(), lr=1e-3)
    m.train_step(np.ones((4, 6)), np.array([0, 1, 2, 0]), "ce", opt)
    views = (m.flat_params, m.parameters()[0].grad)
    net = weakref.ref(m._net)
    del m, opt
    gc.collect()
    assert net() is not None  # the views still use the C buffers
    del views
    gc.collect()
    assert net() is None  # the C network (and its buffers) is gone


def test_a_linear_layer_belongs_to_one_model():
    shared = nn.Linear(3, 3)
    nn.Sequential(shared, nn.ReLU(), nn.Linear(3, 1))
    with pytest.raises(ValueError, match="layer 0 .* already belongs to a model"):
        nn.Sequential(shared, nn.Linear(3, 1))
    twice = nn.Linear(3, 3)
    with pytest.raises(ValueError, match="layer 2 .* already belongs to a model"):
        nn.Sequential(twice, nn.Tanh(), twice)


# -------------------------------------------------------------- predict_proba

def _blobs(n=40, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    return rng.standard_normal((n, 4)) + 2.0 * np.eye(k, 4)[y], y


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-5), ("float64", 1e-12)])
def test_predict_proba_is_the_softmax_of_the_logits_for_cross_entropy(dtype, rtol):
    X, y = _blobs()
    m = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3), dtype=dtype, seed=1)
    m.fit(X, y, loss="cross_entropy", epochs=3, verbose=0)
    p = m.predict_proba(X)
    logits = ref.ReferenceNetwork.from_model(m).forward(X)
    want = ref.activation(logits, "softmax")
    assert p.shape == (40, 3) and p.dtype == m.dtype
    np.testing.assert_allclose(p, want, rtol=rtol, atol=rtol * 1e-2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=rtol)
    np.testing.assert_allclose(m.predict_proba(X, batch_size=7), p, rtol=rtol, atol=rtol * 1e-2)
    assert np.array_equal(p.argmax(axis=1), m.predict_classes(X))


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-5), ("float64", 1e-12)])
def test_predict_proba_is_the_sigmoid_of_each_output_for_bce(dtype, rtol):
    X, y = _blobs(k=2)
    m = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 1), dtype=dtype, seed=2)
    m.fit(X, y.astype(float), loss="bce", epochs=3, verbose=0)
    p = m.predict_proba(X)
    want = ref.activation(ref.ReferenceNetwork.from_model(m).forward(X), "sigmoid")
    assert p.shape == (40, 1) and p.dtype == m.dtype
    np.testing.assert_allclose(p, want, rtol=rtol, atol=rtol * 1e-2)
    assert np.array_equal((p[:, 0] > 0.5).astype(np.int64), m.predict_classes(X))


def test_predict_proba_needs_a_known_classification_loss(tmp_path):
    X, y = _blobs()
    m = nn.Sequential(nn.Linear(4, 3), seed=3)
    with pytest.raises(ValueError, match="loss"):
        m.predict_proba(X)                     # never fit, no loss= given
    m.fit(X, y, loss="ce", epochs=1, verbose=0)
    assert isinstance(m.loss, losses.CrossEntropyLoss)
    m.save(tmp_path / "m.safetensors")
    loaded = nio.load(tmp_path / "m.safetensors")
    assert loaded.loss is None
    with pytest.raises(ValueError, match="loss"):
        loaded.predict_proba(X)
    np.testing.assert_array_equal(loaded.predict_proba(X, loss="cross_entropy"),
                                  m.predict_proba(X))
    loaded.loss = "ce"                         # or set it once
    np.testing.assert_array_equal(loaded.predict_proba(X), m.predict_proba(X))
    with pytest.raises(ValueError, match="classification loss"):
        m.predict_proba(X, loss="mse")
    with pytest.raises(ValueError, match="unknown loss"):
        m.loss = "hinge"
    with pytest.raises(ValueError, match="batch_size"):
        m.predict_proba(X, batch_size=0)


def _unaligned(a):
    buf = np.zeros(a.nbytes + 1, np.uint8)
    u = np.frombuffer(buf.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    u[...] = a
    return u


# Found by tests/test_properties.py: an unaligned C-contiguous x, y or dout was refused
# (np.ascontiguousarray keeps it unaligned); it is now copied into an aligned buffer, and
# only then (an aligned input is read in place).
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("call", ["call", "predict", "train_step", "backward"])
def test_unaligned_inputs_are_read(dtype, call):
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), dtype=dtype, seed=0)
    twin = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), dtype=dtype, seed=0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 3)).astype(dtype), rng.normal(size=(5, 2)).astype(dtype)
    if call == "call":
        assert m(_unaligned(x)).tobytes() == twin(x).tobytes()
    elif call == "predict":
        assert m.predict(_unaligned(x)).tobytes() == twin.predict(x).tobytes()
    elif call == "train_step":
        a = m.train_step(_unaligned(x), _unaligned(y), "mse", optim.SGD(m.parameters(), lr=0.1))
        b = twin.train_step(x, y, "mse", optim.SGD(twin.parameters(), lr=0.1))
        assert a == b and m.flat_params.tobytes() == twin.flat_params.tobytes()
    else:
        m.forward(x, training=True)
        twin.forward(x, training=True)
        m.backward(_unaligned(y))
        twin.backward(y)
        assert m.flat_grads.tobytes() == twin.flat_grads.tobytes()


# Found by tests/test_properties.py: LeakyReLU's init gain computed negative_slope ** 2,
# an OverflowError for |slope| > ~1.3e154.
@pytest.mark.parametrize("slope", [0.01, 0.2, -3.0, 1.3407807929942597e154, -1e300])
def test_leaky_relu_gain_for_any_finite_slope(slope):
    layer = nn.LeakyReLU(slope)
    assert layer.negative_slope == slope
    # closed form sqrt(2 / (1 + a^2)), exact in float64 where a^2 does not overflow
    want = (math.sqrt(2.0 / (1.0 + slope ** 2)) if abs(slope) < 1e150
            else math.sqrt(2.0) / abs(slope))
    assert math.isclose(layer._relu_gain, want, rel_tol=1e-15)


def test_init_values_beyond_float32_are_refused_not_stored_as_inf():
    # nn_init.run checks finiteness in float64; 1e300 passed and became inf in a float32 model
    big = lambda shape, rng: np.full(shape, 1e300)
    with pytest.raises(ValueError, match="float32"):
        nn.Sequential(nn.Linear(2, 3, init=big), dtype="float32")
    m = nn.Sequential(nn.Linear(2, 3, init=big), dtype="float64")
    assert np.all(m[0].weight.data == 1e300)
