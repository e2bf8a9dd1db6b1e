"""Property tests (hypothesis) on the public Python API: random shapes, dtypes,
strides, NaN/Inf, empty arrays and wrong types into every public function.

The only allowed outcomes are a correct result (checked against nncore.reference,
NumPy or a closed form where one exists) or ValueError / TypeError. Any other
exception fails the test; a segfault kills pytest (itself a failure signal).
Kept to about a minute: small examples, max_examples per test below.
"""
from __future__ import annotations

import os
import tempfile
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import nncore
import nncore.nn as nn
import nncore.optim as optim
from nncore import datasets as ds, io as nio, losses, ops, reference as ref, utils

pytestmark = pytest.mark.kernel

OK = (ValueError, TypeError)
FEW = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
MANY = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def allowed(fn, *args, **kw):
    """fn(*args, **kw), or None if it raised ValueError/TypeError (anything else fails)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return True, fn(*args, **kw)
        except OK:
            return False, None


# ---------------------------------------------------------------- strategies

FLOATS = [np.float32, np.float64]
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6)


@st.composite
def float_arrays(draw, dtypes=FLOATS, shape=shapes, finite=False, lo=-1e4, hi=1e4):
    dt = np.dtype(draw(st.sampled_from(dtypes)))
    width = 32 if dt == np.float32 else 64
    if finite:
        el = st.floats(lo, hi, width=width, allow_subnormal=True)
    else:
        el = st.one_of(st.floats(lo, hi, width=width),
                       st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40,
                                        float(np.finfo(dt).max), float(np.finfo(dt).tiny)]))
    a = draw(hnp.arrays(dt, draw(shape) if isinstance(shape, st.SearchStrategy) else shape,
                        elements=el))
    return draw(views(a))


@st.composite
def views(draw, a):
    """The same values in another memory layout: transposed, strided, reversed,
    Fortran-ordered, unaligned, read-only, or an ndarray subclass."""
    kind = draw(st.sampled_from(["c", "T", "step", "rev", "F", "unaligned", "ro", "sub"]))
    if kind == "T" and a.ndim >= 2:
        return np.ascontiguousarray(a.T).T
    if kind == "step" and a.ndim >= 1:
        big = np.zeros((a.shape[0] * 2,) + a.shape[1:], a.dtype)
        big[::2] = a
        return big[::2]
    if kind == "rev" and a.ndim >= 1:
        return np.ascontiguousarray(a[::-1])[::-1]
    if kind == "F":
        return np.asfortranarray(a)
    if kind == "unaligned" and a.size:
        buf = np.zeros(a.nbytes + 1, np.uint8)
        u = np.frombuffer(buf.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
        u[...] = a
        return u
    if kind == "ro":
        b = a.copy()
        b.flags.writeable = False
        return b
    if kind == "sub":
        if draw(st.booleans()) or a.ndim != 2:
            return a.view(np.ma.MaskedArray)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            return np.matrix(a)
    return a


junk = st.one_of(
    st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(),
    st.text(max_size=4), st.binary(max_size=4), st.lists(st.integers(-3, 3), max_size=4),
    st.lists(st.lists(st.floats(-2, 2), min_size=2, max_size=2), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    hnp.arrays(st.sampled_from([np.int32, np.int64, np.uint8, np.bool_, np.complex64,
                                np.float16, np.dtype("U2"), np.dtype(object)]), shapes),
    st.just(np.float32(1.5)), st.just(object()),
)
anything = st.one_of(float_arrays(), junk)
act_names = st.one_of(st.sampled_from(ops.ACTIVATIONS), st.text(max_size=5), junk)
params = st.one_of(st.none(), st.floats(-3, 3), st.floats(), junk)


def _close(got, want, dtype):
    tol = 2e-4 if np.dtype(dtype) == np.float32 else 1e-9
    scale = max(1.0, float(np.max(np.abs(want))) if want.size else 1.0)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, equal_nan=True)


# ------------------------------------------------------------------- ops

@MANY
@given(x=anything, name=act_names, param=params)
def test_activation_any_input(x, name, param):
    ok, y = allowed(ops.activation, x, name, param)
    if ok:
        assert y.shape == np.shape(x)


@MANY
@given(x=float_arrays(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=6),
                     finite=True, lo=-30, hi=30), name=st.sampled_from(ops.ACTIVATIONS),
       param=st.one_of(st.none(), st.floats(0.01, 2)))
def test_activation_correct(x, name, param):
    ok, y = allowed(ops.activation, x, name, param)
    if not ok or x.size == 0:
        assume(False)
    _close(y, ref.activation(np.asarray(x), name, param), x.dtype)


@MANY
@given(dy=anything, x=st.one_of(st.none(), anything), y=st.one_of(st.none(), anything),
       name=act_names, param=params)
def test_activation_backward_any_input(dy, x, y, name, param):
    ok, dx = allowed(ops.activation_backward, dy, x, y, name, param)
    if ok:
        assert dx.shape == np.shape(dy)


@FEW
@given(data=st.data(), name=st.sampled_from(ops.ACTIVATIONS))
def test_activation_backward_correct(data, name):
    x = data.draw(float_arrays(shape=hnp.array_shapes(min_dims=1, max_dims=2, min_side=1,
                                                      max_side=5), finite=True, lo=-20, hi=20))
    dy = data.draw(hnp.arrays(x.dtype, x.shape, elements=st.floats(-2, 2, width=32)))
    ok, dx = allowed(ops.activation_backward, dy, x, None, name)
    if not ok:
        assume(False)
    y = ref.activation(np.asarray(x), name)
    _close(dx, ref.activation_backward(dy, np.asarray(x), y, name), x.dtype)


@MANY
@given(a=anything, b=anything, alpha=st.one_of(st.just(1.0), st.floats(-2, 2), junk),
       beta=st.one_of(st.just(0.0), st.floats(-2, 2), junk),
       with_out=st.booleans())
def test_matmul_any_input(a, b, alpha, beta, with_out):
    out = None
    if with_out and isinstance(a, np.ndarray) and isinstance(b, np.ndarray) \
            and a.ndim == 2 and b.ndim == 2:
        out = np.ones((a.shape[0], b.shape[1]), a.dtype)
    before = None if out is None else out.copy()
    ok, c = allowed(ops.matmul, a, b, out, alpha=alpha, beta=beta)
    if ok:
        af, bf = np.asarray(a, np.float64), np.asarray(b, np.float64)
        want = float(alpha) * (af @ bf)
        if out is not None:
            want = want + float(beta) * before.astype(np.float64)
        fin = np.isfinite(af).all() and np.isfinite(bf).all() and abs(float(alpha)) < 1e30
        if fin and np.isfinite(want).all():
            _close(c, want.astype(c.dtype), c.dtype)


@MANY
@given(data=st.data())
def test_matmul_correct_any_strides(data):
    dt = data.draw(st.sampled_from(FLOATS))
    m, k, n = (data.draw(st.integers(0, 9)) for _ in range(3))
    a = data.draw(float_arrays([dt], (m, k), finite=True, lo=-10, hi=10))
    b = data.draw(float_arrays([dt], (k, n), finite=True, lo=-10, hi=10))
    ok, c = allowed(ops.matmul, a, b)
    if not ok:
        assume(False)
    _close(c, (np.asarray(a, np.float64) @ np.asarray(b, np.float64)).astype(dt), dt)


loss_names = st.one_of(st.sampled_from(["mse", "l1", "huber", "bce_logits", "cross_entropy"]),
                       st.text(max_size=4), junk)


@MANY
@given(name=loss_names, out=anything, target=anything,
       reduction=st.one_of(st.sampled_from(["mean", "sum"]), junk),
       delta=st.one_of(st.floats(), st.just(1.0)), smooth=st.one_of(st.floats(), st.just(0.1)))
def test_loss_any_input(name, out, target, reduction, delta, smooth):
    kw = {}
    if isinstance(name, str) and name == "huber":
        kw["delta"] = delta
    if isinstance(name, str) and name == "cross_entropy":
        kw["label_smoothing"] = smooth
    ok, res = allowed(ops.loss, name, out, target, reduction, **kw)
    if ok:
        value, grad = res
        assert grad.shape == np.shape(out)
        o = np.asarray(out, np.float64)
        if np.isfinite(o).all() and np.abs(o).max(initial=0) < 1e3:
            want, wgrad = ref.loss(name, np.asarray(out), np.asarray(target), reduction, **kw)
            assert np.isclose(value, want, rtol=1e-3, atol=1e-5)
            _close(grad, np.asarray(wgrad), grad.dtype)


@MANY
@given(x=anything, p=st.one_of(st.floats(0, 0.99), st.floats(), junk),
       seed=st.one_of(st.integers(0, 2 ** 64 - 1), junk),
       step=st.one_of(st.integers(0, 2 ** 64 - 1), st.integers(-5, -1)),
       layer=st.one_of(st.integers(0, 2 ** 32 - 1), st.integers(2 ** 32, 2 ** 40)),
       training=st.booleans())
def test_dropout_any_input(x, p, seed, step, layer, training):
    ok, res = allowed(ops.dropout, x, p, seed, step, layer, training)
    if not ok:
        return
    y, mask = res
    assert y.shape == np.shape(x) and mask.shape == np.shape(x)
    if training:
        wy, wmask = ref.dropout(np.asarray(x), p, seed, step, layer)
        assert np.array_equal(mask, wmask)
        _close(y, wy, y.dtype)
        ok, dx = allowed(ops.dropout_backward, y, mask, p)
        assert ok and dx.shape == y.shape
    allowed(ops.dropout_backward, x, np.asarray(mask).T, p)   # a strided / mismatched mask


@FEW
@given(ctr=st.one_of(st.tuples(*[st.integers(-1, 2 ** 33)] * 4), junk),
       key=st.one_of(st.tuples(*[st.integers(-1, 2 ** 33)] * 2), junk))
def test_philox_any_input(ctr, key):
    ok, words = allowed(ops.philox4x32, ctr, key)
    if ok:
        want = ref.philox4x32(np.array(ctr, np.uint64).astype(np.uint32), key)
        assert [int(w) for w in words] == [int(w) for w in np.ravel(want)]


# -------------------------------------------------------------- layers, models

layer_ctors = [nn.Linear, nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Softplus,
               nn.Sigmoid, nn.Tanh, nn.Softmax, nn.LogSoftmax, nn.Dropout]


@MANY
@given(ctor=st.sampled_from(layer_ctors), args=st.lists(st.one_of(st.integers(-3, 5), junk),
                                                          max_size=3))
def test_layer_constructors_any_args(ctor, args):
    ok, layer = allowed(ctor, *args)
    if ok:
        cfg = layer.get_config()
        assert nn.layer_from_config(cfg).get_config() == cfg
    allowed(nn.layer_from_config, args[0] if args else None)


@pytest.fixture(scope="module")
def models():
    out = {}
    for dt in ("float32", "float64"):
        out[dt] = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Dropout(0.2), nn.Linear(5, 2),
                                dtype=dt, seed=1)
    return out


model_inputs = st.one_of(
    float_arrays(shape=st.tuples(st.integers(0, 5), st.sampled_from([3, 3, 2, 0]))),
    float_arrays(shape=shapes), junk,
    hnp.arrays(st.sampled_from([np.int64, np.uint8, np.float16, np.bool_]),
               st.tuples(st.integers(0, 4), st.just(3))))
targets = st.one_of(
    hnp.arrays(np.int64, st.integers(0, 5), elements=st.integers(-1, 3)),
    float_arrays(shape=st.tuples(st.integers(0, 5), st.sampled_from([2, 1]))), junk)


@MANY
@given(dt=st.sampled_from(["float32", "float64"]), x=model_inputs,
       how=st.sampled_from(["call", "forward", "forward_train", "predict", "predict_classes"]),
       batch_size=st.one_of(st.integers(1, 4), st.integers(-2, 0), junk))
def test_model_inference_any_input(models, dt, x, how, batch_size):
    m = models[dt]
    fn = {"call": lambda: m(x), "forward": lambda: m.forward(x),
          "forward_train": lambda: m.forward(x, training=True),
          "predict": lambda: m.predict(x, batch_size=batch_size),
          "predict_classes": lambda: m.predict_classes(x, batch_size=batch_size)}[how]
    ok, out = allowed(fn)
    if not ok:
        return
    xa = np.asarray(x)
    assert len(out) == len(xa)
    if how in ("call", "forward", "predict") and len(xa) > 4:
        xc = np.ascontiguousarray(xa, dtype=m.dtype)
        assert np.array_equal(out, m(xc), equal_nan=True)


@MANY
@given(dt=st.sampled_from(["float32", "float64"]), x=model_inputs, y=targets,
       loss=st.one_of(st.sampled_from(["mse", "ce", "l1", "huber", "bce", "cross_entropy"]),
                      st.text(max_size=3), junk),
       clip=st.one_of(st.none(), st.floats(), junk), what=st.sampled_from(
           ["train_step", "evaluate", "fit", "backward"]))
def test_model_training_any_input(dt, x, y, loss, clip, what):
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), dtype=dt, seed=0)
    opt = optim.SGD(m.parameters(), lr=0.01)
    before = m.flat_params.copy()
    if what == "train_step":
        ok, v = allowed(m.train_step, x, y, loss, opt, clip_norm=clip)
    elif what == "evaluate":
        ok, v = allowed(m.evaluate, x, y, loss=loss)
    elif what == "fit":
        ok, v = allowed(m.fit, x, y, loss=loss, optimizer=opt, epochs=1, batch_size=2,
                        clip_value=clip, verbose=0)
    else:
        ok, v = allowed(m.forward, x, training=True)
        if ok:
            ok, v = allowed(m.backward, y)
    if not ok and what in ("train_step", "fit"):
        # a refused call changes nothing
        assert m.flat_params.tobytes() == before.tobytes()


@FEW
@given(cls=st.sampled_from([losses.MSELoss, losses.L1Loss, losses.HuberLoss,
                            losses.BCEWithLogitsLoss, losses.CrossEntropyLoss]),
       arg=st.one_of(st.just(None), junk, st.floats()), out=anything, y=anything)
def test_loss_objects_any_input(cls, arg, out, y):
    ok, fn = allowed(cls) if arg is None else allowed(cls, arg)
    if not ok:
        return
    ok, v = allowed(fn, out, y)
    if ok:
        assert isinstance(v, float)
        ok, g = allowed(fn.backward)
        assert ok and g.shape == np.shape(out)
    allowed(losses.get, arg)


opt_ctors = [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad]


@MANY
@given(ctor=st.sampled_from(opt_ctors),
       kw=st.dictionaries(st.sampled_from(["lr", "momentum", "weight_decay", "eps", "betas",
                                           "alpha", "l1", "max_norm", "nesterov", "amsgrad",
                                           "centered", "lr_decay", "dampening"]),
                          st.one_of(st.floats(), st.integers(-2, 2), junk,
                                    st.tuples(st.floats(), st.floats())), max_size=3),
       params_kind=st.sampled_from(["list", "groups", "junk", "empty"]))
def test_optimizers_any_hyperparameters(ctor, kw, params_kind):
    m = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1), seed=0)
    ps = {"list": m.parameters(), "groups": [{"params": m.parameters()[:2]},
                                             {"params": m.parameters()[2:], "lr": 0.1}],
          "junk": [1, 2], "empty": []}[params_kind]
    ok, opt = allowed(ctor, ps, **kw)
    if not ok:
        return
    X = np.ones((4, 2), np.float32)
    ok, _ = allowed(m.train_step, X, np.ones((4, 1), np.float32), "mse", opt)
    ok2, _ = allowed(opt.step)
    if ok and ok2 and not kw:
        # (with eps=0, Adam-family updates of exactly-zero gradients are 0/0 = NaN,
        # as in PyTorch, which also accepts eps=0: not checked here)
        assert np.isfinite(m.flat_params).all()
    allowed(opt.load_state_dict, kw)


@MANY
@given(value=st.one_of(st.floats(), st.integers(-3, 3), junk),
       params_kind=st.sampled_from(["params", "junk", "empty", "one"]))
def test_clip_any_input(value, params_kind):
    m = nn.Sequential(nn.Linear(2, 3), seed=0)
    m.flat_grads[:] = np.arange(m.num_parameters, dtype=np.float32) - 4
    g0 = m.flat_grads.astype(np.float64)
    ps = {"params": m.parameters(), "junk": [value], "empty": [],
          "one": m.parameters()[0]}[params_kind]
    ok, norm = allowed(utils.clip_grad_norm, ps, value)
    if ok and params_kind == "params":
        assert np.isclose(norm, np.sqrt((g0 ** 2).sum()), rtol=1e-6)
    m.flat_grads[:] = g0
    ok, _ = allowed(utils.clip_grad_value, ps, value)
    if ok and params_kind == "params":
        np.testing.assert_array_equal(m.flat_grads, np.clip(g0, -value, value)
                                      .astype(np.float32))


# ------------------------------------------------------------- files, datasets

_tmp = tempfile.mkdtemp(prefix="nncore-prop-")


def _file(data: bytes, name: str) -> str:
    p = os.path.join(_tmp, name)
    with open(p, "wb") as f:
        f.write(data)
    return p


@MANY
@given(data=st.one_of(st.binary(max_size=300),
                      st.builds(lambda n, b: n.to_bytes(8, "little") + b,
                                st.integers(0, 2 ** 64 - 1), st.binary(max_size=200))))
def test_io_load_random_bytes(data):
    ok, m = allowed(nio.load, _file(data, "m.safetensors"))
    if ok:
        assert isinstance(m, nn.Sequential)


@FEW
@given(path=junk)
def test_io_load_wrong_path_types(path):
    allowed(nio.load, path if not isinstance(path, str) else os.path.join(_tmp, "no", path))
    allowed(nncore.load, path if not isinstance(path, str) else os.path.join(_tmp, "x" + path))


@MANY
@given(text=st.one_of(st.text(alphabet="0123456789.,-e\n abxyn", max_size=80),
                      st.binary(max_size=60).map(lambda b: b.decode("latin-1"))),
       target=st.one_of(st.integers(-3, 3), st.none(), st.text(max_size=2), junk),
       header=st.one_of(st.booleans(), junk), delimiter=st.one_of(st.just(","), junk),
       dtype=st.one_of(st.sampled_from([np.float32, np.float64]), junk))
def test_load_csv_any_input(text, target, header, delimiter, dtype):
    p = _file(text.encode("utf-8", "surrogatepass"), "d.csv")
    ok, res = allowed(ds.load_csv, p, target=target, header=header, delimiter=delimiter,
                      dtype=dtype)
    if ok:
        X, y = res
        assert X.ndim == 2 and np.isfinite(X).all()
        assert y is None or len(y) == len(X)


@MANY
@given(x=anything, y=st.one_of(st.none(), anything),
       xk=st.one_of(st.none(), st.text(max_size=2)), dtype=st.one_of(
           st.sampled_from([np.float32, np.float64]), junk))
def test_load_npz_any_content(x, y, xk, dtype):
    p = os.path.join(_tmp, "d.npz")
    arrays = {"X": np.asarray(x) if isinstance(x, np.ndarray) else np.array(0)}
    if isinstance(y, np.ndarray):
        arrays["y"] = y
    try:
        np.savez(p, **arrays)
    except Exception:
        assume(False)
    ok, res = allowed(ds.load_npz, p, x_key=xk, dtype=dtype)
    if ok:
        X, yy = res
        assert X.ndim == 2 and np.isfinite(X).all()


@MANY
@given(fn=st.sampled_from([ds.make_xor, ds.make_spirals, ds.make_circles,
                           ds.make_regression]),
       args=st.lists(st.one_of(st.integers(-2, 50), st.floats(), junk), max_size=3),
       seed=st.one_of(st.integers(0, 10), junk))
def test_generators_any_args(fn, args, seed):
    ok, res = allowed(fn, *args, seed=seed)
    if ok:
        X, y = res
        assert len(X) == len(y) and np.isfinite(X).all()


@MANY
@given(X=anything, y=st.one_of(st.none(), anything),
       test_size=st.one_of(st.floats(), st.integers(-2, 8), junk),
       seed=st.one_of(st.integers(0, 5), junk), stratify=st.booleans())
def test_split_and_scaler_any_input(X, y, test_size, seed, stratify):
    kw = {"stratify": y} if stratify else {}
    ok, res = allowed(ds.train_test_split, X, y, test_size=test_size, seed=seed, **kw)
    if ok:
        n = len(np.asarray(X))
        parts = [r for r in res if r is not None]
        assert sum(len(p) for p in parts[:2]) == n
    sc = ds.StandardScaler()
    ok, Z = allowed(sc.fit_transform, X) if hasattr(sc, "fit_transform") else (False, None)
    if ok:
        assert np.shape(Z) == np.shape(X)
