"""Sample and class weights in the core: the weighted C losses (float and double) vs
their NumPy reference twin and finite differences; weight 2 == the row repeated,
weight 0 == the row dropped, unit weights == no weights (bit for bit); the same
weights through the loss objects, train_step, fit and evaluate; bad weights refused."""
import numpy as np
import pytest

import nncore as nc
import nncore.ops as ops
from nncore import _core, config
from nncore.reference import _kernels as ref

from test_losses_kernels import KINDS, make_case, rtol_of

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _weights(rows, seed=3):
    w = np.random.default_rng(seed).uniform(0.0, 2.0, rows)
    w[1] = 0.0  # a dropped row
    return w


@pytest.mark.kernel
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("kind", KINDS)
def test_weighted_loss_matches_reference(kind, reduction, dtype, threads, arch):
    name, out, target, prm = make_case(kind, dtype)
    w = _weights(len(out))
    value, grad = ops.loss(name, out, target, reduction, sample_weight=w, **prm)
    rv, rg = ref.loss(name, out, target, reduction, weights=w, **prm)
    assert value == pytest.approx(rv, rel=4 * rtol_of(dtype))
    np.testing.assert_allclose(grad, rg, rtol=4 * rtol_of(dtype),
                               atol=4 * rtol_of(dtype) * np.abs(rg).max())
    assert np.all(grad[1] == 0)  # weight 0: no gradient at all


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("kind", KINDS)
def test_weighted_gradient_check_float64(kind, reduction):
    name, out, target, prm = make_case(kind, np.float64, rows=5, cols=4, seed=7, scale=2.0)
    if name in ("l1", "huber"):  # keep away from the kinks
        out[np.abs(out - target) < 1e-2] += 0.1
        if name == "huber":
            out[np.abs(np.abs(out - target) - 0.7) < 1e-2] += 0.1
    w = np.array([0.5, 2.0, 0.0, 1.0, 3.0])
    _, grad = ops.loss(name, out, target, reduction, sample_weight=w, **prm)
    num = np.zeros_like(out)
    for i in np.ndindex(out.shape):
        old = out[i]
        h = 1e-6 * max(1.0, abs(old))
        out[i] = old + h
        fp = ops.loss(name, out, target, reduction, sample_weight=w, **prm)[0]
        out[i] = old - h
        fm = ops.loss(name, out, target, reduction, sample_weight=w, **prm)[0]
        out[i] = old
        num[i] = (fp - fm) / (2 * h)
    err = np.linalg.norm(grad - num) / np.linalg.norm(num)
    assert err < 1e-6, f"{kind}/{reduction}: relative gradient error {err:.2e}"


@pytest.mark.kernel
@pytest.mark.parametrize("kind", KINDS)
def test_weight_two_is_the_row_twice_and_zero_drops_it(kind, dtype):
    name, out, target, prm = make_case(kind, dtype, rows=9, cols=5, seed=2)
    w = np.ones(9)
    w[0], w[4] = 2.0, 0.0
    keep = [0, 0, 1, 2, 3, 5, 6, 7, 8]
    v, g = ops.loss(name, out, target, sample_weight=w, **prm)
    v2, g2 = ops.loss(name, out[keep], np.asarray(target)[keep], **prm)
    assert v == pytest.approx(v2, rel=4 * rtol_of(dtype))
    np.testing.assert_allclose(g[0], g2[0] + g2[1], rtol=4 * rtol_of(dtype), atol=1e-7)
    np.testing.assert_allclose(g[5:], g2[5:], rtol=4 * rtol_of(dtype), atol=1e-7)


@pytest.mark.kernel
@pytest.mark.parametrize("kind", KINDS)
def test_unit_weights_are_bit_identical_to_none(kind, dtype, arch):
    name, out, target, prm = make_case(kind, dtype)
    a = ops.loss(name, out, target, **prm)
    b = ops.loss(name, out, target, sample_weight=np.ones(len(out)), **prm)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.kernel
def test_weighted_loss_bit_identical_at_1_and_2_threads(dtype, arch):
    for kind in ("mse", "bce_logits", "ce_labels"):
        name, out, target, prm = make_case(kind, dtype, rows=3000, cols=97, seed=5)
        w = _weights(3000)
        res = []
        for t in (1, 2):
            with config.num_threads(t):
                res.append(ops.loss(name, out, target, sample_weight=w, **prm))
        assert res[0][0] == res[1][0]
        np.testing.assert_array_equal(res[0][1], res[1][1])


def test_c_refuses_bad_weights():
    o = np.zeros((2, 3))
    g = np.empty((2, 3))
    assert _core._loss(0, 0, 0.0, g, o, o, None, 2, 3, np.array([1.0, -1.0]))[0] == -1
    assert _core._loss(0, 0, 0.0, g, o, o, None, 2, 3, np.array([1.0, np.nan]))[0] == -1
    assert _core._loss(0, 0, 0.0, g, o, o, None, 2, 3, np.zeros(2))[0] == -1  # mean of none
    assert _core._loss(0, 1, 0.0, g, o, o, None, 2, 3, np.zeros(2)) == (0, 0.0)  # sum: 0


def _model(dtype="float64", seed=0, out=3):
    return nc.nn.Sequential(nc.nn.Linear(4, 6), nc.nn.Tanh(), nc.nn.Linear(6, out),
                            dtype=dtype, seed=seed)


def _data(n=20, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)), rng.integers(0, 3, n), rng.uniform(0, 2, n)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "bce"])
def test_train_step_with_weights_equals_the_unfused_steps(loss):
    X, y, w = _data()
    Y = np.eye(3)[y] if loss != "cross_entropy" else y
    a, b = _model(), _model()
    oa = nc.optim.Adam(a.parameters(), lr=0.01)
    ob = nc.optim.Adam(b.parameters(), lr=0.01)
    loss_fn = nc.losses.get(loss)
    for _ in range(3):
        va = a.train_step(X, Y, loss_fn, oa, sample_weight=w)
        b.zero_grad()
        vb = loss_fn(b.forward(X, training=True), Y, sample_weight=w)
        b.backward(loss_fn.backward())
        ob.step()
        assert va == pytest.approx(vb, rel=1e-14)
    np.testing.assert_allclose(a.flat_params, b.flat_params, rtol=1e-13, atol=1e-15)


def test_loss_object_weighted_mean_by_hand():
    X, y, w = _data()
    out = _model()(X)
    per = np.array([nc.losses.CrossEntropyLoss()(out[i:i + 1], y[i:i + 1]) for i in range(20)])
    got = nc.losses.CrossEntropyLoss()(out, y, sample_weight=w)
    assert got == pytest.approx(np.dot(w, per) / w.sum(), rel=1e-13)


def test_fit_with_weight_two_equals_repeating_rows():
    # full-batch, unshuffled: one gradient per epoch over the same multiset of rows
    X, y, _ = _data()
    w = np.ones(20)
    w[:5] = 2.0
    Xr, yr = np.r_[X, X[:5]], np.r_[y, y[:5]]
    a, b = _model(), _model()
    kw = dict(loss="cross_entropy", optimizer="sgd", epochs=5, shuffle=False, verbose=0)
    ha = a.fit(X, y, batch_size=20, sample_weight=w, **kw)
    hb = b.fit(Xr, yr, batch_size=25, **kw)
    np.testing.assert_allclose(a.flat_params, b.flat_params, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-12)
    np.testing.assert_allclose(ha.history["accuracy"], hb.history["accuracy"], rtol=1e-12)
    ea = a.evaluate(X, y, sample_weight=w)
    eb = b.evaluate(Xr, yr)
    assert ea["loss"] == pytest.approx(eb["loss"], rel=1e-12)
    assert ea["accuracy"] == pytest.approx(eb["accuracy"], rel=1e-12)


def test_fit_skips_batches_that_weigh_nothing_and_splits_weights():
    X, y, w = _data(n=30)
    w[:10] = 0.0
    a, b = _model(), _model()
    kw = dict(loss="cross_entropy", optimizer="sgd", epochs=2, shuffle=False, verbose=0,
              batch_size=10)
    a.fit(X, y, sample_weight=w, **kw)
    b.fit(X[10:], y[10:], sample_weight=w[10:], **kw)
    np.testing.assert_array_equal(a.flat_params, b.flat_params)
    h = _model().fit(X, y, sample_weight=w, validation_split=0.2, **kw)
    v = _model().fit(X[:24], y[:24], sample_weight=w[:24],
                     validation_data=(X[24:], y[24:], w[24:]), **kw)
    np.testing.assert_allclose(h.history["val_loss"], v.history["val_loss"], rtol=1e-14)


def test_class_weight_balanced_and_dict():
    X, y, _ = _data(n=40)
    y = np.where(np.arange(40) < 30, 0, 1 + np.arange(40) % 2)  # 30 / 5 / 5
    kw = dict(loss="cross_entropy", optimizer="adam", epochs=2, verbose=0, batch_size=8)
    a, b = _model(), _model()
    a.fit(X, y, class_weight="balanced", **kw)
    counts = np.bincount(y)
    b.fit(X, y, sample_weight=40 / (3 * counts[y]), **kw)
    np.testing.assert_array_equal(a.flat_params, b.flat_params)
    c, d = _model(), _model()
    c.fit(X, y, class_weight={2: 4.0}, sample_weight=np.full(40, 0.5), **kw)
    d.fit(X, y, sample_weight=np.where(y == 2, 2.0, 0.5), **kw)
    np.testing.assert_array_equal(c.flat_params, d.flat_params)


@pytest.mark.parametrize("bad,match", [
    (-np.ones(20), "Negative"), (np.full(20, np.nan), "NaN"), (np.ones(19), "shape"),
    (np.ones((20, 1)), "1D"), (np.zeros(20), "non-zero"), (np.array(["a"] * 20), "numbers"),
    (np.full(20, 1e-320), "sums to 2e-319, too small for float64")])
def test_bad_weights_are_refused_everywhere(bad, match):
    X, y, _ = _data()
    m = _model()
    opt = nc.optim.SGD(m.parameters(), lr=0.1)
    err = TypeError if match == "numbers" else ValueError
    with pytest.raises(err, match=match):
        nc.losses.CrossEntropyLoss()(m(X), y, sample_weight=bad)
    with pytest.raises(err, match=match):
        ops.loss("cross_entropy", m(X), y, sample_weight=bad)
    with pytest.raises(err, match=match):
        m.train_step(X, y, "cross_entropy", opt, sample_weight=bad)
    with pytest.raises(err, match=match):
        m.fit(X, y, loss="cross_entropy", sample_weight=bad, verbose=0)
    with pytest.raises(err, match=match):
        m.evaluate(X, y, loss="cross_entropy", sample_weight=bad)


def test_bad_class_weight():
    X, y, _ = _data()
    with pytest.raises(ValueError, match="class_weight"):
        _model().fit(X, y, loss="cross_entropy", class_weight="inverse", verbose=0)
    with pytest.raises(ValueError, match="class indices"):
        _model().fit(X, y, loss="cross_entropy", class_weight={7: 2.0}, verbose=0)
    with pytest.raises(ValueError, match="single-label"):
        _model().fit(X, X[:, :3], loss="mse", class_weight="balanced", verbose=0)


@pytest.mark.parametrize("zero", ["train", "validation"])
def test_split_weights_that_leave_one_side_weightless_are_refused_before_training(zero):
    """validation_split cuts checked weights in two; a side whose weights are all 0 is
    refused before any step (the training side would train on nothing and log a nan
    loss; the validation side failed after the first epoch's steps had changed the
    model)."""
    X, y, _ = _data(n=20)
    w = np.ones(20)
    w[:15 if zero == "train" else 15:] = 0.0   # validation_split=0.25: rows 15.. held out
    m = _model()
    before = m.flat_params.copy()
    with pytest.raises(ValueError, match=f"{zero}.*all 0"):
        m.fit(X, y, loss="cross_entropy", optimizer="sgd", sample_weight=w,
              validation_split=0.25, epochs=1, verbose=0)
    np.testing.assert_array_equal(m.flat_params, before)
    assert m.epochs_trained == 0


def test_weights_too_small_for_the_models_dtype_are_refused_before_training():
    # 1e-40 is a normal float64 but a subnormal float32: the float32 model's gradient
    # scale 1 / sum(w) would overflow to inf and the weights would turn NaN
    X, y, _ = _data()
    m = _model("float32")
    before = m.flat_params.copy()
    with pytest.raises(ValueError, match=r"sums to .*too small for float32"):
        m.fit(X, y, loss="cross_entropy", sample_weight=np.full(20, 1e-40), verbose=0)
    np.testing.assert_array_equal(m.flat_params, before)
    # a few subnormal weights beside normal ones are fine (decaying weights reach them)
    w = np.r_[np.full(10, 1e-30), np.full(10, 1e-44)]
    h = m.fit(X, y, loss="cross_entropy", sample_weight=w, verbose=0, batch_size=20)
    assert np.isfinite(m.flat_params).all() and np.isfinite(h.history["loss"]).all()


def test_a_batch_too_light_for_the_dtype_is_an_error_not_nan_weights():
    # the whole sums fine, but a batch of subnormal weights alone would scale its
    # gradient to inf (before, the weights turned NaN): fit refuses the epoch before its
    # first step, train_step the batch
    X, y, _ = _data()
    m = _model("float32")
    w = np.r_[np.ones(10), np.full(10, 1e-44)]
    before = m.flat_params.copy()
    with pytest.raises(ValueError, match=r"batch 1 of epoch 1 \(rows 10..19 .*too little "
                                         r"for float32"):
        m.fit(X, y, loss="cross_entropy", sample_weight=w, batch_size=10, shuffle=False,
              verbose=0)
    np.testing.assert_array_equal(m.flat_params, before)   # refused before the first step
    opt = nc.optim.SGD(m.parameters(), lr=0.1)          # and one step of that batch alone
    with pytest.raises(ValueError, match="too small for float32"):
        m.train_step(X[10:], y[10:], "cross_entropy", opt, sample_weight=w[10:])
