"""lr = 0 after construction: constructors reject lr <= 0, but schedules and
param_groups edits may reach exactly 0 (cosine annealing to eta_min=0).

Oracles: nncore.reference's optimizer on the same gradients, and the closed
form "a step with lr = 0 leaves the parameters unchanged".
"""
import numpy as np
import pytest

import nncore.optim as optim
from nncore import reference as ref
from nncore.optim.lr_scheduler import CosineAnnealingLR

from _fake_params import FakeModel

KINDS = [("sgd", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
         ("rmsprop", dict(lr=0.01, centered=True)),
         ("adagrad", dict(lr=0.1)),
         ("adam", dict(lr=0.01, weight_decay=0.1)),
         ("adamw", dict(lr=0.01, weight_decay=0.1))]


@pytest.mark.parametrize("kind,kw", KINDS, ids=[k for k, _ in KINDS])
def test_constructor_still_rejects_lr_zero(kind, kw):
    model = FakeModel((3, 2))
    with pytest.raises(ValueError, match="invalid learning rate: 0"):
        optim.get(kind, model.parameters(), **dict(kw, lr=0))
    opt = optim.get(kind, model.parameters()[:1], **kw)
    with pytest.raises(ValueError, match="invalid learning rate: 0"):
        opt.add_param_group({"params": model.parameters()[1:], "lr": 0.0})


@pytest.mark.parametrize("kind,kw", KINDS, ids=[k for k, _ in KINDS])
def test_step_with_lr_zero_leaves_params_and_matches_reference(kind, kw):
    model = FakeModel((4, 3), dtype=np.float64)
    params = model.parameters()
    opt = optim.get(kind, params, **kw)
    arrays = [p.data.copy() for p in params]
    groups = [dict(kw, params=list(range(len(params))))]
    r = ref.RefOptimizer(kind, arrays, groups, [p.is_bias for p in params])
    rng = np.random.default_rng(3)
    for lr in (kw["lr"], 0.0, 0.0, kw["lr"]):
        opt.lr = lr  # the setter accepts 0 (a schedule's end point)
        groups[0]["lr"] = lr
        before = model.flat_params.copy()
        model.fill_grads(rng)
        r.step([p.grad.copy() for p in params])
        opt.step()
        if lr == 0.0:  # closed form: nothing moves (AdamW's decay is lr * wd too)
            np.testing.assert_array_equal(model.flat_params, before)
    for p, a in zip(params, arrays):
        np.testing.assert_allclose(p.data, a, rtol=1e-12, atol=1e-12)


def test_cosine_annealing_to_zero_runs_through_lr_zero():
    model = FakeModel((4, 3), dtype=np.float64)
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = CosineAnnealingLR(opt, T_max=4, eta_min=0.0)
    rng = np.random.default_rng(0)
    lrs = []
    for epoch in range(6):
        lrs.append(opt.lr)
        before = model.flat_params.copy()
        model.fill_grads(rng)
        opt.step()
        if epoch == 4:
            np.testing.assert_array_equal(model.flat_params, before)
        sched.step()
    want = [0.05 * (1 + np.cos(np.pi * e / 4)) for e in range(6)]
    np.testing.assert_allclose(lrs, want, rtol=0, atol=1e-15)
    assert lrs[4] == 0.0


def test_negative_or_nonfinite_lr_still_rejected_later():
    model = FakeModel((3, 2))
    opt = optim.Adam(model.parameters(), lr=0.1)
    for bad in (-1e-3, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="learning rate"):
            opt.lr = bad
        opt.param_groups[0]["lr"] = bad
        with pytest.raises(ValueError, match="learning rate"):
            opt.step()
        opt.param_groups[0]["lr"] = 0.1


def test_huge_int_hyperparameter_is_a_value_error():
    model = FakeModel((3, 2))
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD(model.parameters(), lr=10 ** 400)
