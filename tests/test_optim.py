"""Optimizers: N fused C steps vs nncore.reference's per-array PyTorch formulas.

Parameters come from a stand-in model (tests/_fake_params.py): a flat buffer
with Parameter views, as nncore.nn provides. The oracle is the reference.
"""
import copy
import json

import numpy as np
import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

import nncore.optim as optim
from nncore import _core, config
from nncore import reference as ref
from nncore.optim.lr_scheduler import CosineAnnealingLR

from _fake_params import FakeModel

pytestmark = pytest.mark.kernel

CASES = [
    ("sgd", dict(lr=0.1)),
    ("sgd", dict(lr=0.1, weight_decay=0.05)),
    ("sgd", dict(lr=0.1, l1=0.01)),
    ("sgd", dict(lr=0.05, momentum=0.9)),
    ("sgd", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("sgd", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01, l1=0.002)),
    ("rmsprop", dict(lr=0.01)),
    ("rmsprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1, l1=0.01)),
    ("rmsprop", dict(lr=0.01, centered=True)),
    ("rmsprop", dict(lr=0.01, momentum=0.7)),
    ("rmsprop", dict(lr=0.005, momentum=0.7, centered=True, weight_decay=0.02)),
    ("adagrad", dict(lr=0.1)),
    ("adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.3)),
    ("adagrad", dict(lr=0.1, weight_decay=0.1, l1=0.01, eps=1e-6)),
    ("adam", dict(lr=0.01)),
    ("adam", dict(lr=0.01, weight_decay=0.1)),
    ("adam", dict(lr=0.01, amsgrad=True, betas=(0.8, 0.99))),
    ("adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05, l1=0.01, eps=1e-6)),
    ("adam", dict(lr=0.01, eps=1e-3, eps_hat=True)),
    ("adam", dict(lr=0.01, eps=1e-2, eps_hat=True, weight_decay=0.05, amsgrad=True)),
    ("adamw", dict(lr=0.01)),
    ("adamw", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("adamw", dict(lr=0.01, weight_decay=0.1, l1=0.01)),
    ("adamw", dict(lr=0.01, weight_decay=0.1, eps=1e-2, eps_hat=True)),
    ("sgd", dict(lr=0.5, momentum=0.5, max_norm=1.0)),
    ("adam", dict(lr=0.2, max_norm=0.8)),
    ("rmsprop", dict(lr=0.05, max_norm=1.2, centered=True)),
    ("adagrad", dict(lr=0.5, max_norm=0.9)),
    ("adamw", dict(lr=0.1, max_norm=1.1, weight_decay=0.3)),
]
IDS = [f"{k}-" + "-".join(f"{a}={b}" for a, b in kw.items()) for k, kw in CASES]


def tolerance(dtype):
    return (1e-12, 1e-12) if dtype == np.float64 else (2e-5, 2e-6)


def run_both(kind, kw, dtype, steps=6, groups=None, model=None, seed=1):
    """steps of nncore and of the reference on the same gradients; returns both."""
    model = model or FakeModel((5, 7, 3), dtype=dtype, pad=3)
    params = model.parameters()
    if groups is None:
        opt = optim.get(kind, params, **kw)
        ref_groups = [dict(kw, params=list(range(len(params))))]
    else:  # groups: list of (param indices, overrides)
        opt = optim.get(kind, [dict(o, params=[params[i] for i in idx]) for idx, o in groups],
                        **kw)
        ref_groups = [dict(kw, **o, params=list(idx)) for idx, o in groups]
    arrays = [p.data.copy() for p in params]
    r = ref.RefOptimizer(kind, arrays, ref_groups, [p.is_bias for p in params])
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        model.fill_grads(rng)
        r.step([p.grad.copy() for p in params])
        opt.step()
    return model, opt, arrays


def assert_params_close(model, arrays, dtype):
    rtol, atol = tolerance(dtype)
    for p, a in zip(model.parameters(), arrays):
        np.testing.assert_allclose(p.data, a, rtol=rtol, atol=atol, err_msg=p.name)


@pytest.mark.parametrize("kind,kw", CASES, ids=IDS)
def test_steps_match_reference(kind, kw, dtype, threads, arch):
    model, opt, arrays = run_both(kind, kw, dtype)
    assert opt.step_count == 6
    assert_params_close(model, arrays, dtype)
    assert np.all(model.flat_params[:3] == FakeModel((5, 7, 3), dtype=dtype, pad=3).flat_params[:3])


@pytest.mark.parametrize("kind", ["sgd", "rmsprop", "adagrad", "adam", "adamw"])
def test_max_norm_bounds_weight_rows_not_biases(kind):
    model = FakeModel((6, 4, 2), dtype=np.float64)
    model.flat_params[...] *= 5.0
    opt = optim.get(kind, model.parameters(), lr=1e-3, max_norm=0.5)
    model.fill_grads(np.random.default_rng(0))
    biases_before = [p.data.copy() for p in model.parameters() if p.is_bias]
    opt.step()
    for p in model.parameters():
        if not p.is_bias:
            assert np.all(np.linalg.norm(p.data, axis=1) <= 0.5)
    biases = [p.data for p in model.parameters() if p.is_bias]
    assert any(np.linalg.norm(b) > 0.5 for b in biases)  # not constrained
    for b0, b in zip(biases_before, biases):
        assert np.allclose(b, b0, atol=0.1)


@pytest.mark.parametrize("kind", ["sgd", "rmsprop", "adagrad", "adam", "adamw"])
def test_per_group_settings(kind, dtype):
    """No decay and half the lr on biases, decay and l1 on weights."""
    kw = dict(lr=0.02, weight_decay=0.1)
    if kind == "sgd":
        kw["momentum"] = 0.9
    groups = [([0, 2], {"l1": 0.01}), ([1, 3], {"weight_decay": 0.0, "lr": 0.01})]
    model, opt, arrays = run_both(kind, kw, dtype, groups=groups)
    assert opt.param_groups[1]["weight_decay"] == 0.0
    assert_params_close(model, arrays, dtype)


def test_optimizer_on_a_subset_leaves_the_rest_alone(dtype):
    model = FakeModel((5, 7, 3), dtype=dtype)
    ps = model.parameters()
    opt = optim.Adam([ps[0], ps[2]], lr=0.1)
    before = [p.data.copy() for p in ps]
    model.fill_grads(np.random.default_rng(0))
    opt.step()
    assert np.array_equal(ps[1].data, before[1]) and np.array_equal(ps[3].data, before[3])
    assert not np.array_equal(ps[0].data, before[0])
    opt.zero_grad()
    assert np.all(ps[0].grad == 0) and np.all(ps[2].grad == 0)
    assert np.any(ps[1].grad != 0)  # not this optimizer's


@pytest.mark.parametrize("kind,kw", [
    ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01, l1=0.001, max_norm=3.0)),
    ("rmsprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01, max_norm=3.0)),
    ("adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, l1=0.001)),
    ("adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01, max_norm=3.0)),
    ("adamw", dict(lr=0.01, weight_decay=0.1, l1=0.001)),
])
@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
def test_bit_identical_at_1_and_2_threads(kind, kw, dt):
    """A > 1M-element buffer (threaded): same bits at 1 and 2 threads."""
    results = []
    for n in (1, 2):
        model = FakeModel((1030, 1000, 3), dtype=dt, seed=3)
        with config.num_threads(n):
            opt = optim.get(kind, model.parameters(), **kw)
            rng = np.random.default_rng(5)
            for _ in range(2):
                model.fill_grads(rng)
                opt.step()
        results.append((model.flat_params.copy(), opt.state_dict()["state"]))
    assert np.array_equal(results[0][0], results[1][0])
    for k in results[0][1]:
        assert np.array_equal(results[0][1][k], results[1][1][k]), k


def test_large_buffer_matches_reference():
    """The threaded path (many chunks, segments cut across threads) is the same update."""
    kw = dict(lr=0.01, amsgrad=True, weight_decay=0.01)
    model = FakeModel((700, 1500, 5), dtype=np.float64, seed=2)
    with config.num_threads(2):
        model, opt, arrays = run_both("adam", kw, np.float64, steps=2, model=model)
    assert_params_close(model, arrays, np.float64)


@pytest.mark.parametrize("kind,kw", [
    ("sgd", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("adam", dict(lr=0.01, amsgrad=True, l1=0.001, max_norm=2.0)),
])
def test_segments_straddling_chunk_boundaries(kind, kw, threads):
    """Segment sizes around the 8192-element chunks, threaded (> 2e5 elements)."""
    shapes = [(8191,), (8193, 3), (1,), (16385,), (4095, 65), (3, 7), (150001,)]
    model = FakeModel(shapes=shapes, pad=5)
    model, opt, arrays = run_both(kind, kw, np.float64, steps=3, model=model)
    assert_params_close(model, arrays, np.float64)


def test_lr_settable_between_steps(dtype):
    model = FakeModel((4, 3), dtype=dtype)
    params = model.parameters()
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    arrays = [p.data.copy() for p in params]
    groups = [dict(lr=0.1, momentum=0.9, params=[0, 1])]
    r = ref.RefOptimizer("sgd", arrays, groups)
    rng = np.random.default_rng(0)
    for lr in (0.1, 0.03, 0.2, 0.2):
        opt.lr = lr if lr != 0.2 else opt.lr
        if lr == 0.2:
            opt.param_groups[0]["lr"] = 0.2
        groups[0]["lr"] = lr
        model.fill_grads(rng)
        r.step([p.grad.copy() for p in params])
        opt.step()
    assert opt.lr == 0.2
    assert_params_close(model, arrays, dtype)
    with pytest.raises(ValueError, match="invalid learning rate: -1"):
        opt.lr = -1
    opt.param_groups[0]["lr"] = -0.5
    with pytest.raises(ValueError, match="learning rate"):
        opt.step()


@pytest.mark.parametrize("kind,kw", [
    ("sgd", dict(lr=0.1, momentum=0.9, dampening=0.1)),
    ("rmsprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.2)),
    ("adam", dict(lr=0.01, amsgrad=True)),
    ("adamw", dict(lr=0.01, weight_decay=0.1)),
])
def test_state_dict_resume_continues_identically(kind, kw, dtype):
    def grads(rng, model):
        model.fill_grads(rng)

    a = FakeModel((5, 7, 3), dtype=dtype)
    opt_a = optim.get(kind, a.parameters(), **kw)
    rng = np.random.default_rng(0)
    for _ in range(3):
        grads(rng, a)
        opt_a.step()
    sd = opt_a.state_dict()
    saved = copy.deepcopy(sd)
    params_at_3 = a.flat_params.copy()
    rng_state = copy.deepcopy(rng.bit_generator.state)
    for _ in range(3):
        grads(rng, a)
        opt_a.step()
    # the state dict holds copies: later steps did not change it
    for k in sd["state"]:
        assert np.array_equal(sd["state"][k], saved["state"][k])
    assert sd["step"] == 3

    b = FakeModel((5, 7, 3), dtype=dtype, seed=9)
    b.flat_params[...] = params_at_3
    opt_b = optim.get(kind, b.parameters(), lr=0.5)  # other settings: the state dict restores them
    opt_b.load_state_dict(sd)
    assert opt_b.lr == kw["lr"] and opt_b.step_count == 3
    rng.bit_generator.state = rng_state
    for _ in range(3):
        grads(rng, b)
        opt_b.step()
    assert np.array_equal(a.flat_params, b.flat_params)
    # loaded buffers are copies too
    sd["state"][next(iter(sd["state"]))][...] = 123.0
    assert np.array_equal(a.flat_params, b.flat_params)
    assert not any(np.any(v == 123.0) for v in opt_b.state.values())


def test_state_dict_is_json_able_apart_from_arrays():
    a = FakeModel((5, 7, 3))
    opt = optim.Adam(a.parameters(), lr=np.float32(0.01), betas=(np.float64(0.9), 0.99))
    sd = opt.state_dict()
    json.dumps({k: v for k, v in sd.items() if k != "state"}, allow_nan=False)
    assert sd["param_groups"][0]["betas"] == (0.9, 0.99)
    assert type(sd["param_groups"][0]["lr"]) is float


def test_load_state_dict_rejects_mismatches():
    a = FakeModel((5, 7, 3))
    opt = optim.Adam(a.parameters(), lr=0.01, amsgrad=True)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="for Adam, not SGD"):
        optim.SGD(a.parameters(), lr=0.1).load_state_dict(sd)
    other = FakeModel((5, 8, 3))
    with pytest.raises(ValueError, match="layout"):
        optim.Adam(other.parameters()).load_state_dict(sd)
    with pytest.raises(ValueError, match="parameter groups"):
        ps = a.parameters()
        optim.Adam([{"params": ps[:2]}, {"params": ps[2:]}]).load_state_dict(sd)
    bad = copy.deepcopy(sd)
    bad["state"]["exp_avg"] = bad["state"]["exp_avg"][:-1]
    with pytest.raises(ValueError, match="exp_avg"):
        opt.load_state_dict(bad)
    bad = copy.deepcopy(sd)
    bad["state"]["momentum_buffer"] = bad["state"]["exp_avg"]
    with pytest.raises(ValueError, match="unknown state buffer"):
        opt.load_state_dict(bad)
    bad = copy.deepcopy(sd)
    bad["param_groups"][0]["lr"] = -3
    with pytest.raises(ValueError, match="invalid learning rate: -3"):
        opt.load_state_dict(bad)
    assert opt.lr == 0.01  # nothing changed by a rejected load
    bad = copy.deepcopy(sd)
    del bad["step"]
    with pytest.raises(ValueError, match="lacks"):
        opt.load_state_dict(bad)
    with pytest.raises(TypeError):
        opt.load_state_dict([1, 2])


def _bad(ctor, **kw):
    return pytest.param(ctor, kw, id=f"{ctor}-" + "-".join(f"{k}={v}" for k, v in kw.items()))


@pytest.mark.parametrize("name,kw", [
    _bad("sgd", lr=-1), _bad("sgd", lr=0), _bad("adam", lr=float("nan")),
    _bad("adam", lr=float("inf")), _bad("sgd", lr=0.1, momentum=-0.1),
    _bad("sgd", lr=0.1, weight_decay=-1e-4), _bad("sgd", lr=0.1, nesterov=True),
    _bad("sgd", lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
    _bad("sgd", lr=0.1, l1=-0.1), _bad("sgd", lr=0.1, max_norm=0),
    _bad("sgd", lr=0.1, max_norm=-1.0), _bad("adam", betas=(1.0, 0.999)),
    _bad("adam", betas=(0.9, -0.1)), _bad("adam", betas=(0.9,)), _bad("adam", eps=-1e-8),
    _bad("adamw", weight_decay=-0.01), _bad("adamw", betas=(0.5, 1.5)),
    _bad("rmsprop", alpha=-0.5), _bad("rmsprop", eps=-1.0), _bad("rmsprop", momentum=-1),
    _bad("rmsprop", weight_decay=-1), _bad("adagrad", lr_decay=-1),
    _bad("adagrad", initial_accumulator_value=-0.1), _bad("adagrad", eps=-1),
    _bad("adam", l1=-1),
])
def test_bad_settings_raise(name, kw):
    model = FakeModel((3, 2))
    with pytest.raises(ValueError) as e:
        optim.get(name, model.parameters(), **kw)
    bad = list(kw.values())[-1]  # the message names the bad value
    if isinstance(bad, tuple):
        assert any(str(b) in str(e.value) for b in bad) or str(bad) in str(e.value)
    elif not isinstance(bad, bool):
        assert str(bad) in str(e.value)


def test_bad_types_raise():
    model = FakeModel((3, 2))
    with pytest.raises(TypeError, match="learning rate must be a real number"):
        optim.SGD(model.parameters(), lr="0.1")
    with pytest.raises(TypeError, match="amsgrad"):
        optim.Adam(model.parameters(), amsgrad="yes")


def test_bad_params_raise():
    a, b = FakeModel((3, 2)), FakeModel((3, 2))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="one model"):
        optim.Adam(a.parameters() + b.parameters())
    with pytest.raises(ValueError, match="one model"):
        optim.Adam([{"params": a.parameters()}, {"params": b.parameters()}])
    for bad in ([np.zeros(3)], [1.0], ["w"], np.zeros(3), a.parameters()[0], a, None):
        with pytest.raises(TypeError, match="Parameter"):
            optim.SGD(bad, lr=0.1)
        with pytest.raises(ValueError):  # also a ValueError
            optim.SGD(bad, lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        ps = a.parameters()
        optim.Adam([{"params": ps}, {"params": ps[:1]}])
    with pytest.raises(ValueError, match="more than once"):
        optim.Adam(a.parameters() + a.parameters()[:1])
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([{"params": []}])
    opt = optim.Adam(a.parameters())
    with pytest.raises(ValueError, match="one model"):
        opt.add_param_group({"params": b.parameters()})
    # editing a group's list by hand is checked at the next step
    opt.param_groups[0]["params"].append(b.parameters()[0])
    with pytest.raises(ValueError, match="one model"):
        opt.step()
    opt.param_groups[0]["params"][-1] = a.parameters()[0]
    with pytest.raises(ValueError, match="overlap"):
        opt.step()
    opt.param_groups[0]["params"].pop()
    opt.step()


def test_get_and_add_param_group():
    model = FakeModel((3, 4, 2))
    ps = model.parameters()
    for name, cls in [("SGD", optim.SGD), ("adam", optim.Adam), ("AdamW", optim.AdamW),
                      ("rmsprop", optim.RMSprop), ("adagrad", optim.Adagrad)]:
        opt = optim.get(name, ps, lr=0.01)
        assert type(opt) is cls and opt.model is model and opt.lr == 0.01
        assert optim.get(opt) is opt
    with pytest.raises(ValueError, match="unknown optimizer 'adamax'"):
        optim.get("adamax", ps)
    with pytest.raises(ValueError, match="another model"):
        optim.get(opt, FakeModel((3, 2)).parameters())
    with pytest.raises(TypeError):
        optim.Optimizer(ps, {"lr": 0.1})
    # a group added later starts from the defaults and steps with the rest
    opt = optim.Adam(ps[:2], lr=0.01)
    opt.add_param_group({"params": ps[2:], "lr": 0.001})
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)
    model.fill_grads(np.random.default_rng(0))
    before = model.flat_params.copy()
    opt.step()
    assert np.all(model.flat_params != before)
    assert "Parameter Group 1" in repr(opt)


def test_prepare_gives_one_struct_kept_in_sync():
    model = FakeModel((3, 4, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    c = opt._prepare()
    assert opt._prepare() is c
    assert c.n_segments == 4 and c.n_groups == 2  # weights and biases of one group
    opt.param_groups[0]["amsgrad"] = True
    opt._prepare()
    assert "max_exp_avg_sq" in opt.state
    model.fill_grads(np.random.default_rng(0))
    opt.step()
    assert c.step_count == 1 and opt.state["max_exp_avg_sq"].any()
    with pytest.raises(ValueError):
        opt.state["exp_avg"][0] = 1.0  # read-only views


def test_penalty_is_the_regularization_term():
    model = FakeModel((3, 4, 2))
    ps = model.parameters()
    opt = optim.SGD([{"params": ps[::2], "weight_decay": 0.1, "l1": 0.01},
                     {"params": ps[1::2]}], lr=0.1)
    w = [p.data.ravel() for p in ps[::2]]
    want = sum(0.05 * x @ x + 0.01 * np.abs(x).sum() for x in w)
    assert opt.penalty() == pytest.approx(want, rel=1e-12)
    assert optim.AdamW(ps, weight_decay=0.1).penalty() == 0.0


def test_c_layer_rejects_inconsistent_state():
    """The _COptim binding checks what the C core would otherwise trust."""
    from nncore import _core

    c = _core._COptim("adam", np.float64, 10)
    c.set_groups([{"lr": 0.1, "beta1": 0.9, "beta2": 0.99}])
    with pytest.raises(ValueError, match="reach element 12"):
        c.set_segments([0], [12], [1], [12], [0])
    with pytest.raises(ValueError, match="group 1 out of range"):
        c.set_segments([0], [10], [1], [10], [1])
    c.set_segments([0], [10], [1], [10], [0])
    p, g = np.zeros(10), np.ones(10)
    with pytest.raises(ValueError, match="nn_optim_step"):  # no state buffers
        c.step(p, g)
    with pytest.raises(ValueError, match="shape"):
        c.set_state(0, np.zeros(9))
    with pytest.raises(TypeError):
        c.set_state(0, np.zeros(10, np.float32))
    c.set_state(0, np.zeros(10))
    c.set_state(1, np.zeros(10))
    with pytest.raises(TypeError):
        c.step(p.astype(np.float32), g)
    with pytest.raises(ValueError):
        c.step(p[:5], g)
    c.step(p, g)
    assert c.step_count == 1 and np.allclose(p, -0.1)
    with pytest.raises(ValueError):
        _core._COptim("lamb", np.float64, 10)


def test_matches_torch(torch):
    cases = [
        ("sgd", torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.01)),
        ("sgd", torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
        ("rmsprop", torch.optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True,
                                              weight_decay=0.01)),
        ("rmsprop", torch.optim.RMSprop, dict(lr=0.01, alpha=0.9)),
        ("adagrad", torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.01,
                                              initial_accumulator_value=0.1, weight_decay=0.01)),
        ("adam", torch.optim.Adam, dict(lr=0.01, weight_decay=0.01)),
        ("adam", torch.optim.Adam, dict(lr=0.01, amsgrad=True, betas=(0.8, 0.95))),
        ("adamw", torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ]
    for name, tcls, kw in cases:
        model = FakeModel((5, 7, 3), dtype=np.float64)
        tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in model.parameters()]
        topt = tcls(tparams, **kw)
        opt = optim.get(name, model.parameters(), **kw)
        rng = np.random.default_rng(0)
        for _ in range(10):
            _step_beside_torch(model, opt, topt, tparams, rng)
        _assert_like_torch(model, tparams, f"{name} {kw}")


def _step_beside_torch(model, opt, topt, tparams, rng):
    """One step of the nncore optimizer and of its torch twin on the same new gradients."""
    model.fill_grads(rng)
    for t, p in zip(tparams, model.parameters()):
        t.grad = t.new_tensor(p.grad.copy())   # its dtype: float64 like p
    topt.step()
    opt.step()


def _assert_like_torch(model, tparams, what):
    for t, p in zip(tparams, model.parameters()):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=f"{what} {p.name}")


@pytest.mark.parametrize("kind,kw", [
    ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01, l1=0.001)),
    ("rmsprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01)),
    ("adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    ("adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    ("adamw", dict(lr=0.01, weight_decay=0.1, l1=0.001)),
])
def test_same_bits_with_every_kernel_family(kind, kw, dtype):
    """The CPU-specific build of the updates does the same IEEE operations as the portable one."""
    results = []
    for name in config.available_archs():
        model = FakeModel((300, 100, 7), dtype=dtype, seed=4)
        old = config.get_arch()
        config.set_arch(name)
        try:
            opt = optim.get(kind, model.parameters(), **kw)
            rng = np.random.default_rng(6)
            for _ in range(3):
                model.fill_grads(rng)
                opt.step()
        finally:
            config.set_arch(old)
        results.append(model.flat_params.copy())
    for r in results[1:]:
        assert np.array_equal(results[0], r)


def test_random_settings_and_layouts_match_reference():
    """Property test: any valid settings, any parameter shapes, float64 vs the reference."""
    unit = st.floats(0.0, 0.999)
    small = st.one_of(st.just(0.0), st.floats(1e-4, 0.3))
    settings = st.one_of(
        st.fixed_dictionaries({"kind": st.just("sgd"), "momentum": small, "dampening": small,
                               "nesterov": st.just(False)}),
        st.fixed_dictionaries({"kind": st.just("sgd"), "momentum": st.floats(0.1, 0.99),
                               "nesterov": st.just(True)}),
        st.fixed_dictionaries({"kind": st.just("rmsprop"), "alpha": unit, "momentum": small,
                               "centered": st.just(False), "eps": st.floats(1e-8, 1e-2)}),
        # centered: v = E[g^2] - E[g]^2 = alpha (1 - alpha) g^2 + ... cancels to rounding
        # noise as alpha -> 0 (relative error ~ eps / alpha), where no two implementations
        # agree to 1e-12; alpha = 0 is exact (v = 0), and from 0.01 the error stays < 1e-13
        st.fixed_dictionaries({"kind": st.just("rmsprop"),
                               "alpha": st.one_of(st.just(0.0), st.floats(0.01, 0.999)),
                               "momentum": small, "centered": st.just(True),
                               "eps": st.floats(1e-8, 1e-2)}),
        st.fixed_dictionaries({"kind": st.just("adagrad"), "lr_decay": small,
                               "initial_accumulator_value": small, "eps": st.floats(1e-10, 1e-2)}),
        st.fixed_dictionaries({"kind": st.sampled_from(["adam", "adamw"]),
                               "betas": st.tuples(unit, unit), "amsgrad": st.booleans(),
                               "eps": st.floats(1e-8, 1e-2)}),
    )
    common = st.fixed_dictionaries({"lr": st.floats(1e-4, 0.5), "weight_decay": small,
                                    "l1": small,
                                    "max_norm": st.one_of(st.none(), st.floats(0.5, 3.0))})
    shapes = st.lists(st.one_of(st.tuples(st.integers(1, 40)),
                                st.tuples(st.integers(1, 12), st.integers(1, 12))),
                      min_size=1, max_size=5)

    @hyp_settings(max_examples=40, deadline=None)
    @given(settings, common, shapes, st.integers(1, 4), st.integers(0, 3))
    def check(s, c, shp, steps, pad):
        kw = dict(s, **c)
        kind = kw.pop("kind")
        model = FakeModel(shapes=shp, pad=pad)
        model, opt, arrays = run_both(kind, kw, np.float64, steps=steps, model=model)
        assert_params_close(model, arrays, np.float64)

    check()


def test_set_segments_bad_group_message_no_use_after_free():
    # ASan (.ci/sanitize): heap-use-after-free in _COptim.set_segments: the error
    # message read segs[i].group after free(segs).
    c = _core._COptim("sgd", np.float32, 10)
    c.set_groups([{"lr": 0.1}])
    for g in (1, 7, -3, 2 ** 31 - 1):
        with pytest.raises(ValueError, match=f"group {g} out of range"):
            c.set_segments([0], [10], [1], [10], [g])
    c.set_segments([0], [10], [1], [10], [0])
    assert c.n_segments == 1


# -------------------------------------------------- lr = 0 reached after construction
# Constructors reject lr <= 0, but schedules and param_groups edits may reach exactly 0
# (cosine annealing to eta_min=0). Oracles: nncore.reference's optimizer on the same
# gradients, and the closed form "a step with lr = 0 leaves the parameters unchanged".

LR0_KINDS = [("sgd", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
             ("rmsprop", dict(lr=0.01, centered=True)),
             ("adagrad", dict(lr=0.1)),
             ("adam", dict(lr=0.01, weight_decay=0.1)),
             ("adamw", dict(lr=0.01, weight_decay=0.1))]


@pytest.mark.parametrize("kind,kw", LR0_KINDS, ids=[k for k, _ in LR0_KINDS])
def test_constructor_still_rejects_lr_zero(kind, kw):
    model = FakeModel((3, 2))
    with pytest.raises(ValueError, match="invalid learning rate: 0"):
        optim.get(kind, model.parameters(), **dict(kw, lr=0))
    opt = optim.get(kind, model.parameters()[:1], **kw)
    with pytest.raises(ValueError, match="invalid learning rate: 0"):
        opt.add_param_group({"params": model.parameters()[1:], "lr": 0.0})


@pytest.mark.parametrize("kind,kw", LR0_KINDS, ids=[k for k, _ in LR0_KINDS])
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


def test_centered_rmsprop_never_takes_the_root_of_a_rounding_negative_variance(dtype):
    """alpha = 0 makes v = g^2 - g^2 and, for alpha near 1e-16, rounding can leave it
    just below 0: the update clamps it (as the reference does) instead of sqrt -> NaN."""
    model = FakeModel((16, 8), dtype=dtype, seed=3)
    opt = optim.RMSprop(model.parameters(), lr=0.01, alpha=2.220446049250313e-16,
                        centered=True, eps=1e-3)
    rng = np.random.default_rng(1)
    for _ in range(3):
        model.fill_grads(rng)
        opt.step()
    assert np.isfinite(model.flat_params).all()


def test_array_betas_edited_between_steps_match_torch(torch):
    """betas given as a NumPy array and then edited in place, or replaced by another
    array, between steps: each step uses the betas then in the group, as torch does
    (an in-place edit used to be ignored, a new array to raise 'truth value ...
    ambiguous' from the change detection)."""
    model = FakeModel((5, 7, 3), dtype=np.float64)
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in model.parameters()]
    topt = torch.optim.Adam(tparams, lr=0.05, betas=np.array([0.9, 0.99]))
    opt = optim.Adam(model.parameters(), lr=0.05, betas=np.array([0.9, 0.99]))
    rng = np.random.default_rng(0)
    for step in range(6):
        if step == 2:
            opt.param_groups[0]["betas"][0] = 0.5   # torch keeps betas as a tuple
            topt.param_groups[0]["betas"] = (0.5, 0.99)
        if step == 4:
            for o in (opt, topt):
                o.param_groups[0]["betas"] = np.array([0.7, 0.9])
        _step_beside_torch(model, opt, topt, tparams, rng)
        _assert_like_torch(model, tparams, f"step {step}")
    groups = opt.state_dict()["param_groups"]
    assert json.loads(json.dumps(groups))[0]["betas"] == [0.7, 0.9]
