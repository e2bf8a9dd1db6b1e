"""L1/L2 penalties "show in the reported loss when asked" (train_step / fit
``include_penalty=True``). Oracle: the data loss from nncore.reference on the
pre-update weights plus the closed-form penalty wd/2 * ||w||^2 + l1 * |w|_1
computed here with NumPy, per parameter group.
"""
import numpy as np
import pytest

import nncore as nc
from nncore import reference as ref


def _model():
    return nc.nn.Sequential(nc.nn.Linear(3, 5), nc.nn.Tanh(), nc.nn.Linear(5, 2),
                            dtype="float64", seed=4)


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
    model = _model()
    opt = nc.optim.SGD(_groups(model, wd, l1), lr=0.1)
    for _ in range(3):
        data_loss, _ = ref.loss("mse", model(x), y)
        want = data_loss + _closed_form_penalty(model, wd, l1)
        got = model.train_step(x, y, "mse", opt, include_penalty=True)
        assert got == pytest.approx(want, rel=1e-12)

    # the update is the same with and without reporting the penalty
    a, b = _model(), _model()
    oa = nc.optim.SGD(_groups(a, wd, l1), lr=0.1)
    ob = nc.optim.SGD(_groups(b, wd, l1), lr=0.1)
    la = a.train_step(x, y, "mse", oa, include_penalty=True)
    lb = b.train_step(x, y, "mse", ob)
    np.testing.assert_array_equal(a.flat_params, b.flat_params)
    assert la > lb


def test_fit_logs_penalty_in_loss():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    wd, l1 = 0.2, 0.01
    model = _model()
    opt = nc.optim.SGD(_groups(model, wd, l1), lr=0.05)
    pen0 = _closed_form_penalty(model, wd, l1)
    data0, _ = ref.loss("mse", model(x), y)
    h = model.fit(x, y, loss="mse", optimizer=opt, epochs=1, batch_size=8, shuffle=False,
                  verbose=0, include_penalty=True)
    # one full batch: the epoch loss is the step's loss at the initial weights
    assert h.history["penalty"][0] == pytest.approx(pen0, rel=1e-12)
    assert h.history["loss"][0] == pytest.approx(data0 + pen0, rel=1e-12)
    with pytest.raises(TypeError, match="include_penalty"):
        model.fit(x, y, loss="mse", optimizer=opt, verbose=0, include_penalty="yes")
