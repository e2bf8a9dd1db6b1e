"""train_step's per-call work is cached where nothing can change (the optimizer's C
mirror is rebuilt only when param_groups differ from a snapshot of the last full
pass; ready inputs skip the Python checks). Everything a user can change between
two steps must still take effect: each test changes one thing and checks the next
step against the update rule written out in NumPy (SGD: p -= lr * g) or against an
optimizer built with the changed setting from the start."""
import numpy as np
import pytest

import nncore.nn as nn
from nncore import optim
from nncore.parameter import Parameter


def _model(seed=0):
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3), dtype="float64",
                         seed=seed)


def _data(seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((16, 5)), rng.integers(0, 3, size=16)


def _sgd_step_is(model, opt, x, y, lr_of):
    """One train_step; asserts every parameter moved by -lr * grad with lr_of(param)
    (None: not updated)."""
    before = {p.name: p.data.copy() for p in model.parameters()}
    model.train_step(x, y, "cross_entropy", opt)
    for p in model.parameters():
        lr = lr_of(p)
        want = before[p.name] if lr is None else before[p.name] - lr * p.grad
        np.testing.assert_allclose(p.data, want, rtol=1e-14, atol=1e-16, err_msg=p.name)


def test_lr_changed_between_steps_is_used():
    m = _model()
    x, y = _data()
    opt = optim.SGD(m.parameters(), lr=0.1)
    _sgd_step_is(m, opt, x, y, lambda p: 0.1)
    _sgd_step_is(m, opt, x, y, lambda p: 0.1)   # the cached path
    opt.param_groups[0]["lr"] = 0.5             # edit in place
    _sgd_step_is(m, opt, x, y, lambda p: 0.5)
    opt.lr = 0.25                               # through the property
    _sgd_step_is(m, opt, x, y, lambda p: 0.25)
    opt.param_groups[0].update(lr=0.125)
    _sgd_step_is(m, opt, x, y, lambda p: 0.125)


def test_parameter_list_edited_in_place_is_used():
    m = _model()
    x, y = _data()
    opt = optim.SGD(m.parameters(), lr=0.1)
    _sgd_step_is(m, opt, x, y, lambda p: 0.1)
    dropped = opt.param_groups[0]["params"].pop()          # the last bias: frozen now
    _sgd_step_is(m, opt, x, y, lambda p: None if p is dropped else 0.1)
    opt.param_groups[0]["params"].append(dropped)          # back in
    _sgd_step_is(m, opt, x, y, lambda p: 0.1)
    # the same length, another parameter: identity, not length, decides
    ps = opt.param_groups[0]["params"]
    first = ps[0]
    ps[0] = dropped
    ps[-1] = first
    _sgd_step_is(m, opt, x, y, lambda p: 0.1)
    ps.remove(first)
    _sgd_step_is(m, opt, x, y, lambda p: None if p is first else 0.1)


def test_group_added_and_groups_replaced_are_used():
    m = _model()
    x, y = _data()
    ps = m.parameters()
    opt = optim.SGD(ps[:2], lr=0.1)
    _sgd_step_is(m, opt, x, y, lambda p: 0.1 if p in ps[:2] else None)
    opt.add_param_group({"params": ps[2:], "lr": 0.3})
    _sgd_step_is(m, opt, x, y, lambda p: 0.1 if p in ps[:2] else 0.3)
    opt.param_groups = [{**opt.param_groups[0], "lr": 0.2}, opt.param_groups[1]]
    _sgd_step_is(m, opt, x, y, lambda p: 0.2 if p in ps[:2] else 0.3)


def test_betas_list_mutated_in_place_equals_betas_replaced():
    x, y = _data()
    runs = []
    for how in ("in place", "replaced"):
        m = _model()
        opt = optim.Adam(m.parameters(), lr=0.01, betas=[0.9, 0.999])
        m.train_step(x, y, "cross_entropy", opt)
        m.train_step(x, y, "cross_entropy", opt)
        if how == "in place":
            opt.param_groups[0]["betas"][0] = 0.5
        else:
            opt.param_groups[0]["betas"] = (0.5, 0.999)
        m.train_step(x, y, "cross_entropy", opt)
        runs.append(m.flat_params.copy())
    ref_m = _model()
    ref_opt = optim.Adam(ref_m.parameters(), lr=0.01)
    for _ in range(2):
        ref_m.train_step(x, y, "cross_entropy", ref_opt)
    unchanged = ref_m.flat_params.copy()
    ref_m.train_step(x, y, "cross_entropy", ref_opt)   # what a missed edit would give
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], ref_m.flat_params)
    assert not np.array_equal(runs[0], unchanged)


def test_bad_hyperparameter_set_between_steps_is_refused_every_time():
    m = _model()
    x, y = _data()
    opt = optim.SGD(m.parameters(), lr=0.1)
    m.train_step(x, y, "cross_entropy", opt)
    opt.param_groups[0]["lr"] = -1.0
    before = m.flat_params.copy()
    for _ in range(2):   # no snapshot of a refused state
        with pytest.raises(ValueError, match="learning rate"):
            m.train_step(x, y, "cross_entropy", opt)
    np.testing.assert_array_equal(m.flat_params, before)
    opt.param_groups[0]["lr"] = 0.1
    _sgd_step_is(m, opt, x, y, lambda p: 0.1)


class _EqParameter(Parameter):
    """A Parameter type whose == says every two are equal: a snapshot compared with ==
    could not see one replaced by another, so the optimizer must take its full pass."""
    __slots__ = ()

    def __eq__(self, other):
        return isinstance(other, Parameter)

    __hash__ = Parameter.__hash__


def test_parameter_type_with_its_own_eq_takes_the_full_pass():
    m = _model()
    x, y = _data()
    w0, b0, w2, b2 = [_EqParameter(m, p.name, p.offset, p.shape, p.is_bias, p.layer_index)
                      for p in m.parameters()]
    opt = optim.SGD([w0, b0], lr=0.1)
    assert opt._snapshot() is None
    names = {w0.name, b0.name}
    _sgd_step_is(m, opt, x, y, lambda p: 0.1 if p.name in names else None)
    opt.param_groups[0]["params"][1] = b2           # "==" b0, another slice
    names = {w0.name, b2.name}
    _sgd_step_is(m, opt, x, y, lambda p: 0.1 if p.name in names else None)


def test_labels_of_another_dtype_or_layout_train_the_same():
    x, y = _data()
    results = []
    for labels in (y, y.astype(np.int32), y.astype(np.uint8), y.astype(float),
                   y.reshape(-1, 1), np.repeat(y, 2)[::2], list(y)):
        m = _model()
        opt = optim.SGD(m.parameters(), lr=0.1)
        results.append((m.train_step(x, labels, "cross_entropy", opt), m.flat_params.copy()))
    for value, params in results[1:]:
        assert value == results[0][0]
        np.testing.assert_array_equal(params, results[0][1])
    m = _model()
    with pytest.raises(ValueError, match=r"class labels must be in \[0, 3\), got 3"):
        m.train_step(x, np.where(y == 0, 3, y), "cross_entropy",
                     optim.SGD(m.parameters(), lr=0.1))


def test_training_and_include_penalty_flags_must_be_bools():
    # the str "no" is truthy: forward(x, training="no") ran a training forward (dropout
    # on, step counter advanced) and train_step(include_penalty="no") added the penalty
    import nncore as nc
    m = nc.nn.Sequential(nc.nn.Linear(3, 8), nc.nn.Dropout(0.5), nc.nn.Linear(8, 2), seed=0)
    x = np.ones((4, 3), np.float32)
    step = m.dropout_step
    for bad in ("no", "False", 1, None):
        with pytest.raises(TypeError, match="training must be a bool"):
            m.forward(x, training=bad)
    assert m.dropout_step == step
    assert np.array_equal(m.forward(x, training=np.bool_(False)), m(x))
    opt = nc.optim.SGD(m.parameters(), lr=0.1, weight_decay=0.5)
    before = m.flat_params.copy()
    with pytest.raises(TypeError, match="include_penalty must be a bool"):
        m.train_step(x, np.array([0, 1, 0, 1]), "ce", opt, include_penalty="no")
    assert m.dropout_step == step and np.array_equal(m.flat_params, before)
