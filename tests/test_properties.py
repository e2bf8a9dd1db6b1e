"""Property tests (hypothesis) on the public Python API: random shapes, dtypes,
strides, NaN/Inf, empty arrays and wrong types into every public function.

The only allowed outcomes are a correct result (checked against nncore.reference,
NumPy or a closed form where one exists) or ValueError / TypeError. Any other
exception fails the test; a segfault kills pytest (itself a failure signal).
Arbitrary input is mostly refused, so the tests with an oracle also draw a valid
case about half the time (`valid_*` strategies): a valid case must be accepted, and
its result must match the oracle. Kept to about a minute: small examples,
max_examples per test below.
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


LAYOUTS = ("c", "T", "step", "rev", "F", "unaligned", "ro", "sub")


@st.composite
def float_arrays(draw, dtypes=FLOATS, shape=shapes, finite=False, lo=-1e4, hi=1e4,
                 layouts=LAYOUTS):
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
    return draw(views(a, layouts))


@st.composite
def views(draw, a, layouts=LAYOUTS):
    """The same values in another memory layout: transposed, strided, reversed,
    Fortran-ordered, unaligned, read-only, or an ndarray subclass."""
    kind = draw(st.sampled_from(layouts))
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


def _tol(dtype):
    """Relative tolerance of a result computed in `dtype` by another summation order."""
    return 2e-4 if np.dtype(dtype) == np.float32 else 1e-9


def _close(got, want, dtype):
    got, want = np.asarray(got), np.asarray(want)
    tol = _tol(dtype)
    scale = max(1.0, float(np.max(np.abs(want))) if want.size else 1.0)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, equal_nan=True)


def _moderate(a) -> bool:
    """A float array of finite values small enough that no intermediate overflows."""
    if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
        return False
    a = np.asarray(a)                         # np.matrix.max() takes no `initial`
    with np.errstate(all="ignore"):
        return bool(np.isfinite(a).all() and np.abs(a).max(initial=0) < 1e3)


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
    param = param if name in ("leaky_relu", "elu") else None   # the others take none
    ok, y = allowed(ops.activation, x, name, param)
    assert ok, "a valid activation call was refused"
    assert y.shape == x.shape
    if x.size:
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
    assert ok, "a valid activation_backward call was refused"
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
    assert ok, "a valid matmul was refused"
    _close(c, (np.asarray(a, np.float64) @ np.asarray(b, np.float64)).astype(dt), dt)


loss_names = st.one_of(st.sampled_from(["mse", "l1", "huber", "bce_logits", "cross_entropy"]),
                       st.text(max_size=4), junk)


@st.composite
def valid_loss_cases(draw):
    """(True, name, out, target, reduction, params): inputs every loss must accept."""
    name = draw(st.sampled_from(["mse", "l1", "huber", "bce_logits", "cross_entropy"]))
    dt = draw(st.sampled_from(FLOATS))
    n, k = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    out = draw(float_arrays([dt], (n, k), finite=True, lo=-20, hi=20))
    kw = {}
    if name == "cross_entropy":
        target = draw(hnp.arrays(np.int64, n, elements=st.integers(0, k - 1)))
        kw["label_smoothing"] = draw(st.floats(0, 0.5))
    else:
        lo, hi = (0, 1) if name == "bce_logits" else (-20, 20)    # BCE: probabilities
        target = draw(float_arrays([dt], (n, k), finite=True, lo=lo, hi=hi))
        if name == "huber":
            kw["delta"] = draw(st.floats(0.1, 3))
    return True, name, out, target, draw(st.sampled_from(["mean", "sum"])), kw


@st.composite
def any_loss_cases(draw):
    """(False, name, out, target, reduction, params): anything at all."""
    name = draw(loss_names)
    kw = {}
    if isinstance(name, str) and name == "huber":
        kw["delta"] = draw(st.one_of(st.floats(), st.just(1.0)))
    if isinstance(name, str) and name == "cross_entropy":
        kw["label_smoothing"] = draw(st.one_of(st.floats(), st.just(0.1)))
    return (False, name, draw(anything), draw(anything),
            draw(st.one_of(st.sampled_from(["mean", "sum"]), junk)), kw)


@MANY
@given(case=st.one_of(valid_loss_cases(), any_loss_cases()))
def test_loss_any_input(case):
    valid, name, out, target, reduction, kw = case
    ok, res = allowed(ops.loss, name, out, target, reduction, **kw)
    assert ok or not valid
    if ok:
        value, grad = res
        assert grad.shape == np.shape(out)
        o = np.asarray(out, np.float64)
        if np.isfinite(o).all() and np.abs(o).max(initial=0) < 1e3:
            want, wgrad = ref.loss(name, np.asarray(out), np.asarray(target), reduction, **kw)
            _close(value, want, grad.dtype)
            _close(grad, np.asarray(wgrad), grad.dtype)


valid_dropout_cases = st.tuples(
    st.just(True), float_arrays(finite=True), st.floats(0, 0.99), st.integers(0, 2 ** 64 - 1),
    st.integers(0, 2 ** 64 - 1), st.integers(0, 2 ** 32 - 1), st.booleans())
any_dropout_cases = st.tuples(
    st.just(False), anything, st.one_of(st.floats(0, 0.99), st.floats(), junk),
    st.one_of(st.integers(0, 2 ** 64 - 1), junk),
    st.one_of(st.integers(0, 2 ** 64 - 1), st.integers(-5, -1)),
    st.one_of(st.integers(0, 2 ** 32 - 1), st.integers(2 ** 32, 2 ** 40)), st.booleans())


@MANY
@given(case=st.one_of(valid_dropout_cases, any_dropout_cases))
def test_dropout_any_input(case):
    valid, x, p, seed, step, layer, training = case
    ok, res = allowed(ops.dropout, x, p, seed, step, layer, training)
    assert ok or not valid
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
    mask_t = np.asarray(mask).T                                # a strided / mismatched mask
    ok, dx = allowed(ops.dropout_backward, x, mask_t, p)
    if mask_t.shape != np.shape(x):
        assert not ok
    elif ok:
        _close(dx, ref.dropout_backward(np.asarray(x), mask_t, p), dx.dtype)


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
    # an int or junk (never a dict with a "type") is not a layer config
    assert not allowed(nn.layer_from_config, args[0] if args else None)[0]


@pytest.fixture(scope="module")
def models():
    out = {}
    for dt in ("float32", "float64"):
        out[dt] = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Dropout(0.2), nn.Linear(5, 2),
                                dtype=dt, seed=1)
    return out


model_inputs = st.one_of(
    float_arrays(shape=st.tuples(st.integers(0, 5), st.just(3)), finite=True, lo=-100, hi=100),
    float_arrays(shape=st.tuples(st.integers(0, 5), st.sampled_from([3, 3, 2, 0]))),
    float_arrays(shape=shapes), junk,
    hnp.arrays(st.sampled_from([np.int64, np.uint8, np.float16, np.bool_]),
               st.tuples(st.integers(0, 4), st.just(3))))
targets = st.one_of(
    hnp.arrays(np.int64, st.integers(0, 5), elements=st.integers(-1, 3)),
    float_arrays(shape=st.tuples(st.integers(0, 5), st.sampled_from([2, 1]))), junk)


# Sequential's inference and training calls take every layout, unaligned x and y too
# (they refused those once: test_nn.py::test_unaligned_inputs_are_read)
TRAIN_LAYOUTS = LAYOUTS


valid_inference_inputs = st.tuples(
    float_arrays(shape=st.tuples(st.integers(1, 5), st.just(3)), finite=True, lo=-100, hi=100,
                 layouts=TRAIN_LAYOUTS), st.integers(1, 4))
any_inference_inputs = st.tuples(
    model_inputs, st.one_of(st.integers(1, 4), st.integers(-2, 0), junk))


@MANY
@given(dt=st.sampled_from(["float32", "float64"]),
       inputs=st.one_of(valid_inference_inputs, any_inference_inputs),
       how=st.sampled_from(["call", "forward", "forward_train", "predict", "predict_classes"]))
def test_model_inference_any_input(models, dt, inputs, how):
    x, batch_size = inputs
    m = models[dt]
    fn = {"call": lambda: m(x), "forward": lambda: m.forward(x),
          "forward_train": lambda: m.forward(x, training=True),
          "predict": lambda: m.predict(x, batch_size=batch_size),
          "predict_classes": lambda: m.predict_classes(x, batch_size=batch_size)}[how]
    ok, out = allowed(fn)
    good_batch = how in ("call", "forward", "forward_train") or (
        type(batch_size) is int and batch_size >= 1)
    if (isinstance(x, np.ndarray) and x.ndim == 2 and x.shape[1] == 3 and len(x) >= 1
            and _moderate(x) and good_batch):
        assert ok, "a finite (n, 3) float array must be accepted"
    if not ok:
        return
    xa = np.asarray(x)
    assert len(out) == len(xa)
    # oracle: the reference network on the same weights (inference: dropout is off)
    if _moderate(xa):
        want = ref.ReferenceNetwork.from_model(m, dtype=m.dtype).forward(xa)
        if how == "predict_classes":
            want_cls = want.argmax(axis=1)
            ties = np.isclose(np.sort(want, axis=1)[:, -1], np.sort(want, axis=1)[:, -2],
                              rtol=_tol(dt), atol=_tol(dt)) if len(want) else []
            np.testing.assert_array_equal(out[~np.asarray(ties, bool)],
                                          want_cls[~np.asarray(ties, bool)])
        elif how == "forward_train":
            assert out.shape == want.shape     # dropout active: masks tested elsewhere
        else:
            _close(out, want, dt)


def _as_model_target(y, dtype):
    """y as the model sees it: float targets cast once to the model's dtype, labels as is."""
    y = np.asarray(y)
    return y.astype(dtype) if y.dtype.kind == "f" else y


@st.composite
def valid_training_cases(draw):
    """(True, x, y, loss, clip): a batch every entry point must accept for the model
    (3 inputs, 2 outputs); y is also a valid output gradient for backward."""
    n = draw(st.integers(1, 5))
    x = draw(float_arrays(shape=(n, 3), finite=True, lo=-10, hi=10, layouts=TRAIN_LAYOUTS))
    loss = draw(st.sampled_from(["mse", "ce", "l1", "huber", "bce", "cross_entropy"]))
    if loss in ("ce", "cross_entropy"):
        y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 1)))
    else:
        lo, hi = (0, 1) if loss == "bce" else (-10, 10)
        y = draw(float_arrays(shape=(n, 2), finite=True, lo=lo, hi=hi, layouts=TRAIN_LAYOUTS))
    return True, x, y, loss, draw(st.one_of(st.none(), st.floats(0.1, 10)))


any_training_cases = st.tuples(
    st.just(False), model_inputs, targets,
    st.one_of(st.sampled_from(["mse", "ce", "l1", "huber", "bce", "cross_entropy"]),
              st.text(max_size=3), junk),
    st.one_of(st.none(), st.floats(), junk))


@MANY
@given(dt=st.sampled_from(["float32", "float64"]),
       case=st.one_of(valid_training_cases(), any_training_cases),
       what=st.sampled_from(["train_step", "evaluate", "fit", "backward"]))
def test_model_training_any_input(dt, case, what):
    valid, x, y, loss, clip = case
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), dtype=dt, seed=0)
    opt = optim.SGD(m.parameters(), lr=0.01)
    before = m.flat_params.copy()
    twin = ref.ReferenceNetwork.from_model(m, dtype=m.dtype)   # the oracle, same weights
    if what == "train_step":
        ok, v = allowed(m.train_step, x, y, loss, opt, clip_norm=clip)
        if ok and _moderate(np.asarray(x)):
            r_opt = ref.RefOptimizer("sgd", twin.param_list(),
                                     [{"lr": 0.01, "params": list(range(4))}])
            want, _ = ref.train_step(twin, np.asarray(x), _as_model_target(y, dt),
                                     losses.get(loss), r_opt, clip_norm=clip)
            _close(v, want, dt)
            _close(m.flat_params, twin.flat_params(), dt)
    elif what == "evaluate":
        ok, v = allowed(m.evaluate, x, y, loss=loss)
        if ok and _moderate(np.asarray(x)):
            name, red, prm = ref.reference_loss_spec(losses.get(loss))
            out = twin.forward(np.asarray(x))
            t = _as_model_target(y, dt)
            want, _ = ref.loss(name, out, t.reshape(out.shape) if name != "cross_entropy"
                               and t.ndim == 1 else t, red, **prm)
            _close(v["loss"], want, dt)
    elif what == "fit":
        ok, v = allowed(m.fit, x, y, loss=loss, optimizer=opt, epochs=1, batch_size=2,
                        clip_value=clip, verbose=0)
        if ok:
            assert len(v.history["loss"]) == 1 and v.epoch == [0]
    else:
        ok, v = allowed(m.forward, x, training=True)
        if ok:
            ok, v = allowed(m.backward, y)
        if ok and _moderate(np.asarray(x)) and np.size(x):
            twin.forward(np.asarray(x), training=True)
            dout = np.asarray(y, dtype=m.dtype).reshape(len(np.asarray(x)), -1)
            twin.backward(dout)
            _close(m.flat_grads, twin.flat_grads(), dt)
    if valid and what != "backward":          # (backward takes y as dout (n, 2): CE labels are not)
        assert ok, f"{what} refused a valid batch"
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
    ok, got = allowed(losses.get, arg)      # None, junk or a float: never a loss name
    assert not ok, got


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
    # the accepted hyperparameters are stored unchanged in every group (but where the
    # group sets its own: the "groups" case gives the second group lr=0.1)
    own = [set(g) for g in ps] if params_kind == "groups" else [set()] * len(opt.param_groups)
    for key, value in kw.items():
        for g, mine in zip(opt.param_groups, own):
            if key in mine:
                continue
            assert g[key] == value or (key == "betas" and tuple(g[key]) == tuple(value)), key
    # hyperparameters are not a state dict (no "state" / "param_groups")
    assert not allowed(opt.load_state_dict, kw)[0]


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
    # a str or bytes path names no regular file (under a missing directory): ValueError;
    # anything else is not a path: TypeError
    if isinstance(path, (str, bytes)):
        d = os.path.join(_tmp, "no") if isinstance(path, str) else os.path.join(_tmp, "no").encode()
        path, want = os.path.join(d, path), ValueError
    else:
        want = TypeError
    with pytest.raises(want):
        nio.load(path)
    with pytest.raises(want):
        nncore.load(path)


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


@st.composite
def valid_npz_contents(draw):
    """(True, X, y, x_key, dtype): an archive load_npz must accept."""
    n = draw(st.integers(0, 5))
    X = draw(float_arrays(shape=(n, draw(st.integers(1, 4))), finite=True, lo=-100, hi=100))
    y = draw(st.one_of(st.none(), hnp.arrays(np.int64, n, elements=st.integers(0, 3))))
    return True, X, y, draw(st.sampled_from([None, "X"])), draw(st.sampled_from(FLOATS))


any_npz_contents = st.tuples(
    st.just(False), anything, st.one_of(st.none(), anything),
    st.one_of(st.none(), st.text(max_size=2)),
    st.one_of(st.sampled_from([np.float32, np.float64]), junk))


@MANY
@given(case=st.one_of(valid_npz_contents(), any_npz_contents))
def test_load_npz_any_content(case):
    valid, x, y, xk, dtype = case
    p = os.path.join(_tmp, "d.npz")
    arrays = {"X": np.asarray(x) if isinstance(x, np.ndarray) else np.array(0)}
    if isinstance(y, np.ndarray):
        arrays["y"] = np.asarray(y)
    for k, a in arrays.items():  # object arrays are pickled: keep them, with picklable items
        if a.dtype == object:
            arrays[k] = np.empty(a.shape, dtype=object)
    np.savez(p, **arrays)
    ok, res = allowed(ds.load_npz, p, x_key=xk, dtype=dtype)
    if any(a.dtype == object for a in arrays.values()):
        assert not ok                       # reading one would need unpickling
    assert ok or not valid
    if ok:
        X, yy = res
        assert X.ndim == 2 and np.isfinite(X).all()
        # oracle: NumPy's own reader (load_npz never unpickles, so no object arrays here)
        with np.load(p, allow_pickle=False) as z:
            np.testing.assert_array_equal(X, z[xk or "X"].astype(X.dtype))  # "" is the default
            if yy is not None:
                assert len(yy) == len(X)


@MANY
@given(fn=st.sampled_from([ds.make_xor, ds.make_spirals, ds.make_circles,
                           ds.make_regression]),
       args=st.lists(st.one_of(st.integers(-2, 50), st.floats(), junk), max_size=3),
       seed=st.one_of(st.integers(0, 10), junk))
def test_generators_any_args(fn, args, seed):
    # huge sample counts are legitimate requests (MemoryError, or gigabytes): not here
    assume(not any(isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                   and abs(a) > 10 ** 4 for a in args))
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
    ok, Z = allowed(sc.fit_transform, X)
    if ok:
        # closed form: (X - mean) / std per column, std 1 where the column is constant
        X64 = np.asarray(X, np.float64)
        with np.errstate(over="ignore"):     # values near 1e308: the variance is inf
            std = X64.std(axis=0)
        assert np.shape(Z) == np.shape(X)
        np.testing.assert_allclose(sc.mean_, X64.mean(axis=0), rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(sc.var_, std ** 2, rtol=1e-9, atol=1e-300)
        varying = sc.scale_ != 1.0
        np.testing.assert_allclose(sc.scale_[varying], std[varying], rtol=1e-12)
