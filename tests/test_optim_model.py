"""Optimizers and clipping on real nncore.nn models: the step-by-step loop vs the
NumPy reference update, the fused train_step vs the step-by-step loop, and the L1/L2
penalty in the reported loss when asked (``include_penalty=True``)."""
import numpy as np
import pytest

import nncore.losses as losses
import nncore.nn as nn
import nncore.optim as optim
import nncore.utils as utils
from nncore import reference as ref

pytestmark = pytest.mark.kernel

CASES = [
    ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("rmsprop", dict(lr=0.01, momentum=0.5, centered=True, l1=0.001)),
    ("adagrad", dict(lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1)),
    ("adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01, max_norm=1.0)),
    ("adamw", dict(lr=0.01, weight_decay=0.1, l1=0.001)),
]


def make_model(dtype, seed=0):
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(),
                         nn.Linear(8, 3), dtype=dtype, seed=seed)


def data(dtype, n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)).astype(dtype), rng.standard_normal((n, 3)).astype(dtype)


def manual_step(model, opt, loss_fn, x, y, clip_norm=None, clip_value=None):
    model.zero_grad()
    out = model.forward(x, training=True)
    loss = loss_fn(out, y)
    model.backward(loss_fn.backward())
    norm = None
    if clip_norm is not None:
        norm = utils.clip_grad_norm(model.parameters(), clip_norm)
    if clip_value is not None:
        utils.clip_grad_value(model.parameters(), clip_value)
    opt.step()
    return loss, norm


@pytest.mark.parametrize("kind,kw", CASES, ids=[c[0] for c in CASES])
def test_model_steps_match_reference_update(kind, kw, dtype, threads):
    """Given the model's own gradients, each update equals the reference's."""
    model = make_model(dtype)
    ps = model.parameters()
    opt = optim.get(kind, [{"params": [p for p in ps if not p.is_bias]},
                           {"params": [p for p in ps if p.is_bias], "weight_decay": 0.0}], **kw)
    arrays = [p.data.copy() for p in ps]
    idx_w = [i for i, p in enumerate(ps) if not p.is_bias]
    idx_b = [i for i, p in enumerate(ps) if p.is_bias]
    r = ref.RefOptimizer(kind, arrays, [dict(kw, params=idx_w),
                                        dict(kw, weight_decay=0.0, params=idx_b)],
                         [p.is_bias for p in ps])
    loss_fn = losses.MSELoss()
    x, y = data(dtype)
    for _ in range(5):
        # the reference starts from the same weights each step: compare the update alone
        for p, a in zip(ps, arrays):
            p.data[...] = a
        manual_step(model, opt, loss_fn, x, y)
        r.step([p.grad.copy() for p in ps])
        rtol, atol = (1e-12, 1e-12) if dtype == np.float64 else (2e-5, 2e-6)
        for p, a in zip(ps, arrays):
            np.testing.assert_allclose(p.data, a, rtol=rtol, atol=atol, err_msg=p.name)


@pytest.mark.parametrize("kind,kw", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("clip", [(None, None), (0.5, None), (None, 0.05), (0.5, 0.05)],
                         ids=["noclip", "norm", "value", "both"])
def test_train_step_equals_step_by_step(kind, kw, clip, dtype):
    """train_step (one C call using this optimizer's struct) == the Python loop, bit for bit."""
    x, y = data(dtype)
    a, b = make_model(dtype), make_model(dtype)
    opt_a, opt_b = optim.get(kind, a.parameters(), **kw), optim.get(kind, b.parameters(), **kw)
    loss_fn = losses.MSELoss()
    for _ in range(4):
        la = a.train_step(x, y, loss_fn, opt_a, clip_norm=clip[0], clip_value=clip[1])
        lb, nb = manual_step(b, opt_b, loss_fn, x, y, clip_norm=clip[0], clip_value=clip[1])
        assert la == lb
        if nb is not None:
            assert a.last_grad_norm == nb
    assert np.array_equal(a.flat_params, b.flat_params)
    sa, sb = opt_a.state_dict(), opt_b.state_dict()
    assert sa["step"] == sb["step"] == 4
    for k in sa["state"]:
        assert np.array_equal(sa["state"][k], sb["state"][k])


def test_clipping_bounds_the_global_norm_of_a_model(dtype):
    model = make_model(dtype)
    x, y = data(dtype)
    loss_fn = losses.MSELoss()
    model.zero_grad()
    loss_fn(model.forward(x, training=True), 100 * y)
    model.backward(loss_fn.backward())
    norms = model.grad_norms()
    want = float(np.sqrt(sum(v * v for v in norms.values())))
    got = utils.clip_grad_norm(model.parameters(), 1.0)
    assert got == pytest.approx(want, rel=1e-6 if dtype == np.float32 else 1e-12)
    assert utils.grad_norm(model) <= 1.0 + 1e-6


def test_state_dict_resume_on_a_model(dtype):
    x, y = data(dtype)
    loss_fn = losses.MSELoss()
    a = make_model(dtype)
    opt_a = optim.Adam(a.parameters(), lr=0.01)
    for _ in range(3):
        a.train_step(x, y, loss_fn, opt_a)
    sd, w = opt_a.state_dict(), a.flat_params.copy()
    for _ in range(3):
        a.train_step(x, y, loss_fn, opt_a)
    b = make_model(dtype, seed=5)
    b.flat_params[...] = w
    opt_b = optim.Adam(b.parameters())
    opt_b.load_state_dict(sd)
    for _ in range(3):
        b.train_step(x, y, loss_fn, opt_b)
    assert np.array_equal(a.flat_params, b.flat_params)


def test_optimizer_rejects_another_models_parameters():
    a, b = make_model(np.float64), make_model(np.float64)
    with pytest.raises(ValueError, match="one model"):
        optim.SGD(a.parameters() + b.parameters(), lr=0.1)
    opt = optim.SGD(a.parameters(), lr=0.1)
    x, y = data(np.float64)
    with pytest.raises(ValueError, match="another model"):
        b.train_step(x, y, "mse", opt)


# ---------------------------------------------- L1/L2 penalty in the reported loss
# "Penalties show in the reported loss when asked" (train_step / fit include_penalty=True).
# Oracle: the data loss from nncore.reference on the pre-update weights plus the closed-form
# penalty wd/2 * ||w||^2 + l1 * |w|_1 computed here with NumPy, per parameter group.

def _penalty_model():
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2), dtype="float64", seed=4)


def _groups(model, wd, l1):
    ws = [p for n, p in model.named_parameters() if n.endswith("weight")]
    bs = [p for n, p in model.named_parameters() if n.endswith("bias")]
    return [{"params": ws, "weight_decay": wd, "l1": l1},
            {"params": bs, "weight_decay": 0.0, "l1": 0.0}]  # no decay on biases


def _closed_form_penalty(model, wd, l1):
    tot = 0.0
    for name, p in model.named_parameters():
        if name.endswith("weight"):
            w = p.data.astype(np.float64)
            tot += 0.5 * wd * np.sum(w * w) + l1 * np.sum(np.abs(w))
    return tot


def test_train_step_reports_loss_plus_penalty():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))
    wd, l1 = 0.3, 0.05
    model = _penalty_model()
    opt = optim.SGD(_groups(model, wd, l1), lr=0.1)
    for _ in range(3):
        data_loss, _ = ref.loss("mse", model(x), y)
        want = data_loss + _closed_form_penalty(model, wd, l1)
        got = model.train_step(x, y, "mse", opt, include_penalty=True)
        assert got == pytest.approx(want, rel=1e-12)

    # the update is the same with and without reporting the penalty
    a, b = _penalty_model(), _penalty_model()
    oa = optim.SGD(_groups(a, wd, l1), lr=0.1)
    ob = optim.SGD(_groups(b, wd, l1), lr=0.1)
    la = a.train_step(x, y, "mse", oa, include_penalty=True)
    lb = b.train_step(x, y, "mse", ob)
    np.testing.assert_array_equal(a.flat_params, b.flat_params)
    assert la > lb


def test_fit_logs_penalty_in_loss():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    wd, l1 = 0.2, 0.01
    model = _penalty_model()
    opt = optim.SGD(_groups(model, wd, l1), lr=0.05)
    pen0 = _closed_form_penalty(model, wd, l1)
    data0, _ = ref.loss("mse", model(x), y)
    h = model.fit(x, y, loss="mse", optimizer=opt, epochs=1, batch_size=8, shuffle=False,
                  verbose=0, include_penalty=True)
    # one full batch: the epoch loss is the step's loss at the initial weights
    assert h.history["penalty"][0] == pytest.approx(pen0, rel=1e-12)
    assert h.history["loss"][0] == pytest.approx(data0 + pen0, rel=1e-12)
    with pytest.raises(TypeError, match="include_penalty"):
        model.fit(x, y, loss="mse", optimizer=opt, verbose=0, include_penalty="yes")
