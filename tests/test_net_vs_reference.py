"""Tier 3: the C network against the NumPy reference network and trainer.

Whole-network forward / backward (with dropout sharing the Philox masks),
train_step against the step-by-step API (bit for bit) and against the
reference trainer, bit-identical results at 1 and 2 threads.
"""
import numpy as np
import pytest

import nncore.losses as losses
import nncore.nn as nn
import nncore.optim as optim
import nncore.utils as utils
from nncore import config
from nncore import reference as ref
from _targets import random_targets

pytestmark = pytest.mark.kernel


def arch_layers(name):
    if name == "relu_tanh":
        return [nn.Linear(7, 16), nn.ReLU(), nn.Linear(16, 12), nn.Tanh(), nn.Linear(12, 5)]
    if name == "every_activation":
        return [nn.Linear(6, 10), nn.LeakyReLU(0.1), nn.Linear(10, 10), nn.ELU(0.7),
                nn.Linear(10, 9), nn.GELU(), nn.Linear(9, 9), nn.GELU("tanh"),
                nn.Linear(9, 8), nn.SiLU(), nn.Linear(8, 8), nn.Softplus(),
                nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 6), nn.Softmax(),
                nn.Linear(6, 6), nn.Identity(), nn.Linear(6, 5), nn.LogSoftmax()]
    if name == "dropout":
        return [nn.Linear(7, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 16), nn.Sigmoid(),
                nn.Dropout(0.5), nn.Linear(16, 4)]
    if name == "act_first_nobias":
        return [nn.Tanh(), nn.Linear(5, 6), nn.Dropout(0.2), nn.ReLU(),
                nn.Linear(6, 3, bias=False)]
    if name == "dropout_first":
        return [nn.Dropout(0.25), nn.Linear(5, 4), nn.ReLU()]
    raise KeyError(name)


ARCHS = ["relu_tanh", "every_activation", "dropout", "act_first_nobias", "dropout_first"]


def close(a, b, dtype, what):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    scale = max(1.0, float(np.max(np.abs(b))) if b.size else 1.0)
    tol = 1e-11 if dtype == np.float64 else 2e-5
    err = float(np.max(np.abs(a - b))) if a.size else 0.0
    assert err <= tol * scale, f"{what}: max abs error {err:.3g} > {tol * scale:.3g}"


@pytest.mark.parametrize("name", ARCHS)
def test_forward_backward_vs_reference(name, dtype, threads, arch):
    model = nn.Sequential(*arch_layers(name), dtype=dtype, seed=3)
    model.dropout_step = 5
    twin = ref.ReferenceNetwork.from_model(model)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((9, model.in_features)).astype(dtype)

    close(model(x), twin.forward(x), dtype, "inference")
    for _ in range(2):  # two training forwards: the step counter moves the masks
        out = model.forward(x, training=True)
        close(out, twin.forward(x, training=True), dtype, "training forward")
    assert model.dropout_step == twin.step == 7
    dout = rng.standard_normal(out.shape).astype(dtype)
    model.zero_grad()
    model.backward(dout)
    model.backward(dout)  # accumulates
    twin.zero_grad()
    twin.backward(dout)
    twin.backward(dout)
    close(model.flat_grads, twin.flat_grads(), dtype, "gradients")


def test_dropout_statistics_and_masks(dtype):
    model = nn.Sequential(nn.Linear(50, 400, init="zeros", bias_init=1.0), nn.Dropout(0.3),
                          dtype=dtype, seed=11)
    x = np.ones((50, 50), dtype)
    out = model.forward(x, training=True)
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(out[kept], 1.0 / (1.0 - np.asarray(0.3, dtype)), rtol=1e-6)
    again = model.forward(x, training=True)
    assert not np.array_equal(kept, again != 0)  # next step, new mask
    model.dropout_step = 0
    np.testing.assert_array_equal(model.forward(x, training=True), out)  # same step, same mask
    twin = nn.Sequential(nn.Linear(50, 400, init="zeros", bias_init=1.0), nn.Dropout(0.3),
                         dtype=dtype, seed=11)
    np.testing.assert_array_equal(twin.forward(x, training=True), out)  # same seed
    np.testing.assert_array_equal(model(x), np.ones((50, 400), dtype))  # inference: identity


def big_model(dtype, seed=0):
    return nn.Sequential(nn.Linear(96, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 192),
                         nn.Tanh(), nn.Linear(192, 10), dtype=dtype, seed=seed)


def run_big(dtype):
    model = big_model(dtype)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 96)).astype(dtype)
    y = rng.integers(0, 10, 300)
    inf = model(x)
    out = model.forward(x, training=True)
    loss_fn = losses.CrossEntropyLoss()
    loss_fn(out, y)
    model.backward(loss_fn.backward())
    grads = model.flat_grads.copy()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    vals = [model.train_step(x, y, "ce", opt, clip_norm=0.5) for _ in range(2)]
    return inf, out, grads, model.flat_params.copy(), vals


def test_bit_identical_at_1_and_2_threads(dtype, arch):
    with config.num_threads(1):
        a = run_big(dtype)
    with config.num_threads(2):
        b = run_big(dtype)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


OPTS = [("sgd", dict(lr=0.1, momentum=0.9)), ("adam", dict(lr=1e-2, weight_decay=1e-3)),
        ("adamw", dict(lr=1e-2)), ("rmsprop", dict(lr=1e-2, centered=True)),
        ("adagrad", dict(lr=0.1))]


@pytest.mark.parametrize("kind,kw", OPTS, ids=[o[0] for o in OPTS])
@pytest.mark.parametrize("clip", [None, "norm", "value"])
def test_train_step_equals_step_by_step(kind, kw, clip, dtype, threads):
    layers = lambda: [nn.Linear(12, 24), nn.ReLU(), nn.Dropout(0.25), nn.Linear(24, 4)]  # noqa: E731
    m1 = nn.Sequential(*layers(), dtype=dtype, seed=5)
    m2 = nn.Sequential(*layers(), dtype=dtype, seed=5)
    o1 = optim.get(kind, m1.parameters(), **kw)
    o2 = optim.get(kind, m2.parameters(), **kw)
    loss_fn = losses.CrossEntropyLoss(label_smoothing=0.1)
    rng = np.random.default_rng(2)
    cn = 0.3 if clip == "norm" else None
    cv = 0.01 if clip == "value" else None
    for _ in range(4):
        x = rng.standard_normal((16, 12))
        y = rng.integers(0, 4, 16)
        l1 = m1.train_step(x, y, loss_fn, o1, clip_norm=cn, clip_value=cv)
        m2.zero_grad()
        out = m2.forward(x, training=True)
        l2 = loss_fn(out, y)
        m2.backward(loss_fn.backward())
        norm = utils.grad_norm(m2.parameters())
        if cn:
            norm = utils.clip_grad_norm(m2.parameters(), cn)
        if cv:
            utils.clip_grad_value(m2.parameters(), cv)
        o2.step()
        assert l1 == l2
        assert m1.last_grad_norm == norm
        np.testing.assert_array_equal(m1.flat_params, m2.flat_params)
        np.testing.assert_array_equal(m1.flat_grads, m2.flat_grads)
    assert m1.dropout_step == m2.dropout_step == 4



@pytest.mark.parametrize("batch", [5, 700])  # 700 > the GEMM's K block: dW in two K passes
def test_train_step_overwrites_stale_gradients(batch, dtype, threads):
    # train_step writes the gradients instead of zeroing then accumulating them:
    # whatever backward() left in the buffer must not leak into the step
    layers = lambda: [nn.Linear(9, 20), nn.ReLU(), nn.Linear(20, 3)]  # noqa: E731
    m1 = nn.Sequential(*layers(), dtype=dtype, seed=3)
    m2 = nn.Sequential(*layers(), dtype=dtype, seed=3)
    o1, o2 = optim.Adam(m1.parameters(), lr=1e-2), optim.Adam(m2.parameters(), lr=1e-2)
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((batch, 9)), rng.integers(0, 3, batch)
    loss_fn = losses.CrossEntropyLoss()
    m1.forward(x[:4] * 3, training=True)  # stale gradients, never zeroed
    m1.backward(np.ones((4, 3)))
    assert np.abs(m1.flat_grads).max() > 0
    l1 = m1.train_step(x, y, loss_fn, o1)
    m2.zero_grad()
    l2 = loss_fn(m2.forward(x, training=True), y)
    m2.backward(loss_fn.backward())
    o2.step()
    assert l1 == l2
    np.testing.assert_array_equal(m1.flat_grads, m2.flat_grads)
    np.testing.assert_array_equal(m1.flat_params, m2.flat_params)

LOSS_CASES = [
    (losses.MSELoss(), "reg"), (losses.L1Loss(reduction="sum"), "reg"),
    (losses.HuberLoss(delta=0.5), "reg"), (losses.BCEWithLogitsLoss(), "bin"),
    (losses.CrossEntropyLoss(), "labels"), (losses.CrossEntropyLoss(label_smoothing=0.2), "probs"),
    (losses.PoissonLoss(), "counts"),
]


@pytest.mark.parametrize("kind,kw", OPTS, ids=[o[0] for o in OPTS])
@pytest.mark.parametrize("loss_fn,target", LOSS_CASES, ids=[repr(c[0]) for c in LOSS_CASES])
def test_train_steps_vs_reference_trainer(kind, kw, loss_fn, target, dtype, threads):
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 12),
                          nn.Tanh(), nn.Linear(12, 3), dtype=dtype, seed=9)
    twin = ref.ReferenceNetwork.from_model(model)
    opt = optim.get(kind, model.parameters(), **kw)
    params = model.parameters()
    r_opt = ref.RefOptimizer(kind, twin.param_list(), [dict(kw, params=list(range(len(params))))],
                             [p.is_bias for p in params])
    rng = np.random.default_rng(4)
    for step in range(5):
        x = rng.standard_normal((10, 6))
        y = random_targets(target, rng, 10, 3)
        cn = 0.5 if step % 2 else None
        value = model.train_step(x, y, loss_fn, opt, clip_norm=cn)
        r_value, r_norm = ref.train_step(twin, x.astype(dtype), y, loss_fn, r_opt, clip_norm=cn)
        rtol = 1e-10 if dtype == np.float64 else 1e-4
        assert value == pytest.approx(r_value, rel=rtol, abs=rtol)
        assert model.last_grad_norm == pytest.approx(r_norm, rel=rtol, abs=rtol)
    close(model.flat_params, twin.flat_params(), dtype, "parameters after 5 steps")
