"""Loss kernels (csrc/loss.c) vs nncore.reference, closed forms, finite
differences, thread-count determinism and bad input."""
import math

import numpy as np
import pytest

import nncore.ops as ops
from nncore import _core, config
from nncore.reference import _kernels as ref

pytestmark = [pytest.mark.kernel, pytest.mark.filterwarnings("ignore::RuntimeWarning")]


def rtol_of(dtype):
    return 2e-6 if dtype == np.float32 else 1e-13


def make_case(kind, dtype, rows=40, cols=7, seed=0, scale=3.0):
    """(name, out, target, params) for one of the test cases."""
    rng = np.random.default_rng(seed)
    out = (rng.standard_normal((rows, cols)) * scale).astype(dtype)
    if kind in ("mse", "l1"):
        return kind, out, rng.standard_normal((rows, cols)), {}
    if kind == "huber":
        return kind, out, rng.standard_normal((rows, cols)), {"delta": 0.7}
    if kind == "bce_logits":
        t = rng.uniform(0, 1, (rows, cols))
        t[:, 0] = 0
        t[:, 1] = 1
        return kind, out, t, {}
    if kind == "poisson":   # out: log rates; counts with zeros (no log(0) may be met)
        t = rng.poisson(np.exp(out.astype(np.float64) * 0.3)).astype(np.float64)
        t[:, 0] = 0
        return kind, out, t, {}
    if kind == "ce_labels":
        return "cross_entropy", out, rng.integers(0, cols, rows), {}
    if kind == "ce_labels_smooth":
        return "cross_entropy", out, rng.integers(0, cols, rows), {"label_smoothing": 0.1}
    if kind == "ce_probs":
        t = rng.uniform(0, 1, (rows, cols))
        t[:, 0] = 0  # zero target probability must not meet log(0)
        return "cross_entropy", out, t / t.sum(1, keepdims=True), {}
    if kind == "ce_probs_smooth":
        t = rng.uniform(0, 1, (rows, cols))
        return "cross_entropy", out, t / t.sum(1, keepdims=True), {"label_smoothing": 0.25}
    raise AssertionError(kind)


KINDS = ["mse", "l1", "huber", "bce_logits", "ce_labels", "ce_labels_smooth", "ce_probs",
         "ce_probs_smooth", "poisson"]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("kind", KINDS)
def test_loss_matches_reference(kind, reduction, dtype, threads, arch):
    name, out, target, prm = make_case(kind, dtype)
    value, grad = ops.loss(name, out, target, reduction, **prm)
    rv, rg = ref.loss(name, out, target, reduction, **prm)
    assert isinstance(value, float)
    assert grad.dtype == dtype and grad.shape == out.shape
    assert value == pytest.approx(rv, rel=4 * rtol_of(dtype))
    np.testing.assert_allclose(grad, rg, rtol=4 * rtol_of(dtype),
                               atol=4 * rtol_of(dtype) * np.abs(rg).max())


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "poisson"])   # exp(1e4) is inf
def test_loss_stable_at_extreme_logits(kind, dtype, arch):
    name, out, target, prm = make_case(kind, dtype, rows=12, cols=5, seed=3, scale=1e4)
    out[0, :] = 1e4
    if name in ("bce_logits", "cross_entropy"):  # logits up to the dtype's limit
        out[1, 0] = np.finfo(dtype).max
        out[2, 2] = -np.finfo(dtype).max
    value, grad = ops.loss(name, out, target, **prm)
    rv, rg = ref.loss(name, out, target, **prm)
    assert np.isfinite(grad).all()
    assert not math.isnan(value)  # may be +inf in float64: the true loss exceeds 1.8e308
    assert value == pytest.approx(rv, rel=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(grad, rg, rtol=1e-5, atol=1e-6 * np.abs(rg).max())


def test_bce_infinite_logits_give_exact_limits(dtype, arch):
    x = np.array([[np.inf, -np.inf, np.inf, -np.inf, np.inf]], dtype=dtype)
    t = np.array([[1, 0, 0, 1, 0.5]], dtype=dtype)
    value, grad = ops.loss("bce_logits", x[:, :2], t[:, :2], "sum")
    assert value == 0.0 and not np.isnan(grad).any()
    value, grad = ops.loss("bce_logits", x, t, "sum")
    assert value == np.inf and not np.isnan(grad).any()
    np.testing.assert_array_equal(grad, [[0, 0, 1, -1, 0.5]])


def test_cross_entropy_impossible_class(dtype):
    """A -inf logit for a class with zero target mass is fine (no log(0), no NaN)."""
    x = np.array([[0.0, -np.inf, 1.0], [2.0, 0.5, -np.inf]], dtype=dtype)
    value, grad = ops.loss("cross_entropy", x, np.array([0, 1]))
    assert math.isfinite(value) and np.isfinite(grad).all()
    value, grad = ops.loss("cross_entropy", x, np.array([0, 1]), label_smoothing=0.1)
    assert value == np.inf  # smoothing puts mass on the impossible class: true loss is inf


def test_closed_forms(dtype):
    rows, cols = 6, 10
    zero = np.zeros((rows, cols), dtype)
    labels = np.arange(rows) % cols
    v, g = ops.loss("cross_entropy", zero, labels)
    assert v == pytest.approx(math.log(cols), rel=rtol_of(dtype))
    expect = (np.full((rows, cols), 1 / cols) - np.eye(cols)[labels]) / rows
    np.testing.assert_allclose(g, expect, rtol=4 * rtol_of(dtype), atol=1e-7)
    v, g = ops.loss("bce_logits", zero, np.ones_like(zero), "sum")
    assert v == pytest.approx(rows * cols * math.log(2), rel=rtol_of(dtype))
    o = np.arange(12, dtype=dtype).reshape(3, 4)
    v, g = ops.loss("mse", o, np.zeros_like(o))
    assert v == pytest.approx(np.mean(np.arange(12.0) ** 2), rel=rtol_of(dtype))
    np.testing.assert_allclose(g, 2 * o / 12, rtol=rtol_of(dtype))
    v, _ = ops.loss("huber", o, np.zeros_like(o), "sum", delta=2.0)
    assert v == pytest.approx(0.5 + 0.5 * 2**2 + sum(2 * (k - 1) for k in range(3, 12)),
                              rel=rtol_of(dtype))
    v, g = ops.loss("l1", o, np.full_like(o, 5), "sum")
    assert v == pytest.approx(np.abs(np.arange(12) - 5).sum(), rel=rtol_of(dtype))
    np.testing.assert_array_equal(g, np.sign(np.arange(12) - 5).reshape(3, 4))


def test_elementwise_losses_take_any_shape(dtype):
    rng = np.random.default_rng(1)
    o = rng.standard_normal((2, 3, 4)).astype(dtype)
    t = rng.standard_normal((2, 3, 4))
    v, g = ops.loss("mse", o, t)
    rv, rg = ref.loss("mse", o, t)
    assert g.shape == o.shape and v == pytest.approx(rv, rel=4 * rtol_of(dtype))
    v1, _ = ops.loss("mse", o[0, 0], t[0, 0])
    assert v1 == pytest.approx(ref.loss("mse", o[0, 0], t[0, 0])[0], rel=4 * rtol_of(dtype))
    # integer and bool targets are cast to out's dtype
    ops.loss("bce_logits", o, (t > 0))
    ops.loss("mse", o, np.ones(o.shape, dtype=np.int32))


# ---------------------------------------------------------------- gradients

@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("kind", KINDS)
def test_gradient_check_float64(kind, reduction):
    name, out, target, prm = make_case(kind, np.float64, rows=5, cols=4, seed=7, scale=2.0)
    if name in ("l1", "huber"):  # keep away from the kinks
        d = out - target
        out[np.abs(d) < 1e-2] += 0.1
        if name == "huber":
            out[np.abs(np.abs(out - target) - 0.7) < 1e-2] += 0.1
    _, grad = ops.loss(name, out, target, reduction, **prm)
    num = np.zeros_like(out)
    for i in np.ndindex(out.shape):
        old = out[i]
        h = 1e-6 * max(1.0, abs(old))
        out[i] = old + h
        fp = ops.loss(name, out, target, reduction, **prm)[0]
        out[i] = old - h
        fm = ops.loss(name, out, target, reduction, **prm)[0]
        out[i] = old
        num[i] = (fp - fm) / (2 * h)
    err = np.linalg.norm(grad - num) / np.linalg.norm(num)
    assert err < 1e-6, f"{kind}/{reduction}: relative gradient error {err:.2e}"


# --------------------------------------------------------------- threading

@pytest.mark.parametrize("kind", ["mse", "huber", "bce_logits", "ce_labels", "ce_probs_smooth",
                                  "poisson"])
def test_bit_identical_at_1_and_2_threads(kind, dtype, arch):
    name, out, target, prm = make_case(kind, dtype, rows=3000, cols=97, seed=5)
    res = []
    for t in (1, 2):
        with config.num_threads(t):
            res.append(ops.loss(name, out, target, **prm))
    assert res[0][0] == res[1][0]
    np.testing.assert_array_equal(res[0][1], res[1][1])


# --------------------------------------------------------------- bad input

def test_bad_input_raises_clear_errors():
    o = np.zeros((3, 4))
    t = np.zeros((3, 4))
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        ops.loss("hinge", o, t)
    with pytest.raises(ValueError, match="reduction"):
        ops.loss("mse", o, t, reduction="none")
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.loss("mse", np.zeros((3, 4), dtype=np.int64), t)
    with pytest.raises(ValueError, match="shape of out"):
        ops.loss("mse", o, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="finite"):
        ops.loss("mse", o, np.full((3, 4), np.nan))
    with pytest.raises(ValueError, match="finite"):
        ops.loss("l1", o, np.full((3, 4), np.inf))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        ops.loss("bce_logits", o, np.full((3, 4), 2.0))
    with pytest.raises(ValueError, match="delta"):
        ops.loss("huber", o, t, delta=0.0)
    with pytest.raises(ValueError, match="delta"):
        ops.loss("huber", o, t, delta=-1)
    with pytest.raises(TypeError, match="unexpected parameter"):
        ops.loss("mse", o, t, delta=1.0)
    with pytest.raises(ValueError, match="label_smoothing"):
        ops.loss("cross_entropy", o, np.array([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"class labels must be in \[0, 4\), got 4"):
        ops.loss("cross_entropy", o, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"got -1"):
        ops.loss("cross_entropy", o, np.array([0, -1, 1]))
    with pytest.raises(TypeError, match="class labels must be integers"):
        ops.loss("cross_entropy", o, np.array([0.0, 1.5, 2.0]))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        ops.loss("cross_entropy", o, np.array([0, 1]))
    with pytest.raises(ValueError, match="rows, classes"):
        ops.loss("cross_entropy", np.zeros(4), np.array([0]))
    with pytest.raises(ValueError, match="finite"):
        ops.loss("cross_entropy", o, np.full((3, 4), np.nan))
    with pytest.raises(ValueError, match="empty"):
        ops.loss("mse", np.zeros((0, 4)), np.zeros((0, 4)))
    with pytest.raises(TypeError, match="numeric"):
        ops.loss("mse", o, np.full((3, 4), "a"))


def test_c_rejects_bad_arguments():
    o = np.zeros((2, 3))
    g = np.empty((2, 3))
    lab = np.array([0, 3], dtype=np.int64)
    assert _core._loss(4, 0, 0.0, g, o, None, lab, 2, 3)[0] == -1   # label out of range
    assert _core._loss(4, 0, 0.0, g, o, None, None, 2, 3)[0] == -1  # no labels
    assert _core._loss(2, 0, 0.0, g, o, o, None, 2, 3)[0] == -1     # huber delta 0
    assert _core._loss(5, 0, 1.5, g, o, o, None, 2, 3)[0] == -1     # smoothing > 1
    assert _core._loss(9, 0, 0.0, g, o, o, None, 2, 3)[0] == -1     # unknown kind
    assert _core._loss(0, 7, 0.0, g, o, o, None, 2, 3)[0] == -1     # unknown reduction
    assert _core._loss(0, 0, 0.0, g, o, None, None, 2, 3)[0] == -1  # no target
    assert _core._loss(0, 0, 0.0, g, o, o, None, -2, 3)[0] == -1    # negative size
    st, v = _core._loss(0, 0, 0.0, None, o, o, None, 2, 3)            # grad is optional
    assert st == 0 and v == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", [0, 4])                              # mse, ce on labels
def test_c_refuses_weights_whose_gradient_scale_overflows(dtype, kind):
    # subnormal weights: 1 / sum(w) does not fit the dtype; the gradient would be inf
    o = np.zeros((2, 3), dtype)
    g = np.zeros((2, 3), dtype)
    lab = np.array([0, 2], dtype=np.int64)
    sub = np.full(2, np.finfo(dtype).tiny / 64, dtype)
    t = None if kind == 4 else o
    assert _core._loss(kind, 0, 0.0, g, o, t, lab if kind == 4 else None, 2, 3, sub)[0] == -1
    assert not g.any()                                                 # nothing written
    # the smallest normal weights still train: a finite gradient equal to unweighted's
    tiny = np.full(2, np.finfo(dtype).tiny, dtype)
    g1 = np.zeros((2, 3), dtype)
    o1 = np.arange(6, dtype=dtype).reshape(2, 3) / 7
    t1 = None if kind == 4 else np.zeros((2, 3), dtype)
    st, v = _core._loss(kind, 0, 0.0, g, o1, t1, lab if kind == 4 else None, 2, 3, tiny)
    st1, v1 = _core._loss(kind, 0, 0.0, g1, o1, t1, lab if kind == 4 else None, 2, 3)
    assert st == st1 == 0 and np.isfinite(g).all()
    np.testing.assert_allclose(g, g1, rtol=1e-6)
    np.testing.assert_allclose(v, v1, rtol=1e-6)


def test_torch_oracle(dtype, torch):
    F = torch.nn.functional
    tol = dict(rel=1e-5 if dtype == np.float32 else 1e-12)
    for kind in KINDS:
        name, out, target, prm = make_case(kind, dtype, seed=9)
        o = torch.from_numpy(out.copy()).requires_grad_(True)
        tt = torch.from_numpy(np.asarray(target, dtype=np.int64 if target.dtype.kind == "i"
                                         else dtype))
        for red in ("mean", "sum"):
            f = {"mse": lambda: F.mse_loss(o, tt, reduction=red),
                 "l1": lambda: F.l1_loss(o, tt, reduction=red),
                 "huber": lambda: F.huber_loss(o, tt, reduction=red, delta=0.7),
                 "bce_logits": lambda: F.binary_cross_entropy_with_logits(o, tt, reduction=red),
                 "cross_entropy": lambda: F.cross_entropy(
                     o, tt, reduction=red, label_smoothing=prm.get("label_smoothing", 0.0)),
                 # PyTorch leaves out the target-only term t (log t - 1) of the deviance
                 "poisson": lambda: F.poisson_nll_loss(o, tt, log_input=True, full=False,
                                                       reduction=red)
                 + getattr(torch, red)(torch.special.xlogy(tt, tt) - tt)}[name]
            o.grad = None
            tl = f()
            tl.backward()
            v, g = ops.loss(name, out, target, red, **prm)
            assert v == pytest.approx(tl.item(), **tol), (kind, red)
            np.testing.assert_allclose(g, o.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=kind)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_poisson_closed_forms_and_range(dtype):
    # exp(out) = t: loss 0 and gradient 0; t = 0: loss exp(out), gradient exp(out) / n
    t = np.array([[0.0, 1.0, 2.5], [7.0, 0.0, 0.25]])
    out = np.log(np.where(t > 0, t, 1.0)).astype(dtype)
    v, g = ops.loss("poisson", out, np.where(t > 0, t, 1.0), "sum")
    assert abs(v) < 1e-6 and np.abs(g).max() < 1e-6
    z = np.array([[-800.0, -3.0, 0.0, 5.0, 80.0]]).astype(dtype)   # exp underflows to 0
    v, g = ops.loss("poisson", z, np.zeros_like(z), "mean")
    e = np.exp(z.astype(np.float64))
    assert v == pytest.approx(e.mean(), rel=rtol_of(dtype))
    np.testing.assert_allclose(g, e / z.size, rtol=4 * rtol_of(dtype))
    with pytest.raises(ValueError, match="Poisson targets .* must be >= 0"):
        ops.loss("poisson", z, -np.ones_like(z))
