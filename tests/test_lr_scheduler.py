"""Learning-rate schedules give the documented lr sequences (closed forms, PyTorch if present)."""
import math

import numpy as np
import pytest

from nncore.optim import lr_scheduler as S


class _Groups:
    """The smallest optimizer a scheduler needs: param_groups with an lr."""

    def __init__(self, *lrs):
        self.param_groups = [{"lr": lr, "params": []} for lr in lrs]


def _run(sched, n):
    """lrs in effect for epochs 0..n-1 (constructor sets epoch 0, step() moves on)."""
    out = [sched.get_last_lr()]
    for _ in range(n - 1):
        sched.step()
        out.append(sched.get_last_lr())
    return np.array(out)


def test_step_lr_closed_form():
    opt = _Groups(0.1, 0.02)
    got = _run(S.StepLR(opt, step_size=3, gamma=0.5), 10)
    e = np.arange(10)[:, None]
    want = np.array([0.1, 0.02]) * 0.5 ** (e // 3)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert [g["lr"] for g in opt.param_groups] == list(got[-1])


def test_multistep_lr():
    got = _run(S.MultiStepLR(_Groups(1.0), milestones=[2, 5], gamma=0.1), 7)[:, 0]
    np.testing.assert_allclose(got, [1, 1, .1, .1, .1, .01, .01], rtol=1e-13)


def test_exponential_lr_closed_form():
    got = _run(S.ExponentialLR(_Groups(0.3), gamma=0.9), 8)[:, 0]
    np.testing.assert_allclose(got, 0.3 * 0.9 ** np.arange(8), rtol=1e-13)


def test_cosine_closed_form_and_endpoints():
    T, lo, hi = 7, 0.001, 0.1
    got = _run(S.CosineAnnealingLR(_Groups(hi), T_max=T, eta_min=lo), 2 * T + 1)[:, 0]
    e = np.arange(2 * T + 1)
    want = lo + (hi - lo) * (1 + np.cos(np.pi * e / T)) / 2
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert got[0] == pytest.approx(hi) and got[T] == pytest.approx(lo)
    assert got[2 * T] == pytest.approx(hi)  # the cosine continues (period 2 T_max)


def test_linear_warmup():
    got = _run(S.LinearWarmup(_Groups(0.5), warmup_epochs=4, start_factor=0.2), 7)[:, 0]
    f = 0.2 + 0.8 * np.minimum(np.arange(7), 4) / 4
    np.testing.assert_allclose(got, 0.5 * f, rtol=1e-13)


def test_linear_lr_defaults_match_documented():
    got = _run(S.LinearLR(_Groups(0.9)), 7)[:, 0]
    f = 1 / 3 + (2 / 3) * np.minimum(np.arange(7), 5) / 5
    np.testing.assert_allclose(got, 0.9 * f, rtol=1e-13)


def test_reduce_on_plateau_rel_min():
    opt = _Groups(1.0)
    s = S.ReduceLROnPlateau(opt, factor=0.5, patience=2, threshold=0.1, cooldown=1)
    # 10 -> best; 9.5 is not 10% better: bad epochs 1, 2, 3 -> reduce after the 3rd
    lrs = []
    for v in [10, 9.5, 9.2, 9.1, 9.0, 9.0, 9.0, 9.0, 5.0]:
        s.step(v)
        lrs.append(opt.param_groups[0]["lr"])
    # 9.5, 9.2, 9.1 are bad epochs 1..3 -> reduce at the 3rd (> patience 2); the next
    # epoch is cooldown (count reset); then 3 more bad epochs -> reduce again.
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_reduce_on_plateau_max_abs_and_min_lr():
    opt = _Groups(1.0, 0.1)
    s = S.ReduceLROnPlateau(opt, mode="max", factor=0.1, patience=0, threshold=0.5,
                            threshold_mode="abs", min_lr=[0.05, 0.05])
    s.step(1.0)            # improves on -inf
    s.step(1.4)            # not > 1.5: bad 1 > 0 -> reduce
    # group 0: 1.0 -> 0.1; group 1: 0.1 * 0.1 = 0.01 is below min_lr -> 0.05
    assert s.get_last_lr() == pytest.approx([0.1, 0.05])
    s.step(2.0)            # 2.0 > 1.0 + 0.5: better
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)


def test_state_dict_resume():
    a = S.StepLR(_Groups(1.0), step_size=2, gamma=0.5)
    for _ in range(3):
        a.step()
    opt_b = _Groups(a.optimizer.param_groups[0]["lr"])
    opt_b.param_groups[0]["initial_lr"] = 1.0
    b = S.StepLR(opt_b, step_size=2, gamma=0.5)
    b.load_state_dict(a.state_dict())
    for _ in range(4):
        a.step()
        b.step()
        assert a.get_last_lr() == b.get_last_lr()


@pytest.mark.parametrize("bad", [
    lambda o: S.StepLR(o, step_size=0),
    lambda o: S.CosineAnnealingLR(o, T_max=-1),
    lambda o: S.LinearLR(o, start_factor=0.0),
    lambda o: S.ExponentialLR(o, gamma=-1.0),
    lambda o: S.ReduceLROnPlateau(o, factor=1.5),
    lambda o: S.ReduceLROnPlateau(o, mode="up"),
])
def test_bad_arguments(bad):
    with pytest.raises(ValueError):
        bad(_Groups(0.1))


def test_not_an_optimizer():
    with pytest.raises(TypeError, match="param_groups"):
        S.StepLR(object(), step_size=1)


@pytest.mark.parametrize("name,kw", [
    ("StepLR", dict(step_size=3, gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.8)),
    ("CosineAnnealingLR", dict(T_max=5, eta_min=0.01)),
    ("LinearLR", dict(start_factor=0.25, end_factor=1.0, total_iters=4)),
])
def test_matches_pytorch(name, kw, torch):
    p = torch.nn.Parameter(torch.zeros(1))
    topt = torch.optim.SGD([p], lr=0.2)
    ts = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    ours = getattr(S, name)(_Groups(0.2), **kw)
    for _ in range(12):
        np.testing.assert_allclose(ours.get_last_lr(), ts.get_last_lr(), rtol=1e-12)
        topt.step()
        ts.step()
        ours.step()


def test_plateau_matches_pytorch(torch):
    p = torch.nn.Parameter(torch.zeros(1))
    topt = torch.optim.SGD([p], lr=0.2)
    kw = dict(factor=0.5, patience=1, threshold=0.05, cooldown=1, min_lr=0.01)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    opt = _Groups(0.2)
    ours = S.ReduceLROnPlateau(opt, **kw)
    rng = np.random.default_rng(0)
    vals = np.abs(rng.normal(size=30)) + np.linspace(2, 1, 30)
    for v in vals:
        ts.step(float(v))
        ours.step(float(v))
        assert math.isclose(opt.param_groups[0]["lr"], topt.param_groups[0]["lr"], rel_tol=1e-12)


def test_load_state_dict_keeps_its_optimizer_and_checks_type():
    for make in (lambda o: S.StepLR(o, step_size=2), lambda o: S.ReduceLROnPlateau(o)):
        a, b = _Groups(1.0), _Groups(1.0)
        sa, sb = make(a), make(b)
        sa.step(*([0.5] if isinstance(sa, S.ReduceLROnPlateau) else []))
        state = sa.state_dict()
        assert "optimizer" not in state
        sb.load_state_dict(dict(state, optimizer=a))
        assert sb.optimizer is b and sb.last_epoch == sa.last_epoch
        with pytest.raises(TypeError, match="state_dict"):
            sb.load_state_dict([1])


@pytest.mark.parametrize("src,dst", [
    (lambda o: S.StepLR(o, step_size=2), lambda o: S.ExponentialLR(o, gamma=0.9)),
    (lambda o: S.ExponentialLR(o, gamma=0.9), lambda o: S.StepLR(o, step_size=2)),
    (lambda o: S.MultiStepLR(o, [3]), lambda o: S.CosineAnnealingLR(o, T_max=4)),
    (lambda o: S.CosineAnnealingLR(o, T_max=4), lambda o: S.ReduceLROnPlateau(o)),
    (lambda o: S.ReduceLROnPlateau(o), lambda o: S.LinearLR(o)),
])
def test_load_state_dict_rejects_another_schedulers_state(src, dst):
    """A state of another schedule (e.g. a resumed fit whose schedule was changed) is a
    ValueError naming the difference, and leaves the scheduler as it was."""
    a, b = _Groups(1.0), _Groups(1.0)
    sa, sb = src(a), dst(b)
    before = sb.state_dict()
    with pytest.raises(ValueError, match="not the state of a"):
        sb.load_state_dict(sa.state_dict())
    assert sb.state_dict() == before


def test_load_state_dict_rejects_another_group_count():
    sa = S.StepLR(_Groups(1.0, 0.5), step_size=2)
    sa.step()
    sb = S.StepLR(_Groups(1.0), step_size=2)
    with pytest.raises(ValueError, match="2 param groups.*1"):
        sb.load_state_dict(sa.state_dict())
    assert sb.last_epoch == 0 and sb.base_lrs == [1.0]
    pa = S.ReduceLROnPlateau(_Groups(1.0, 0.5), min_lr=[0.1, 0.2])
    pb = S.ReduceLROnPlateau(_Groups(1.0))
    with pytest.raises(ValueError, match="param groups"):
        pb.load_state_dict(pa.state_dict())


def test_state_dict_is_a_copy_both_ways():
    sa = S.MultiStepLR(_Groups(1.0), milestones=[2, 4])
    state = sa.state_dict()
    state["milestones"].append(1)
    state["base_lrs"][0] = 7.0
    assert sa.milestones == [2, 4] and sa.base_lrs == [1.0]
    sb = S.MultiStepLR(_Groups(1.0), milestones=[9])
    state = sa.state_dict()
    sb.load_state_dict(state)
    state["milestones"].append(1)
    assert sb.milestones == [2, 4]


@pytest.mark.parametrize("chain", [
    # (name, kwargs) of schedulers stepped one after the other on the same optimizer
    [("LinearLR", dict(start_factor=0.25, total_iters=4)), ("ExponentialLR", dict(gamma=0.9))],
    [("ExponentialLR", dict(gamma=0.8)), ("LinearLR", dict(start_factor=0.5, end_factor=0.1,
                                                          total_iters=5))],
    [("LinearLR", dict(start_factor=0.1, total_iters=3)), ("MultiStepLR", dict(milestones=[2, 6]))],
    # warmup and cosine annealing, both orders (the cosine used to overwrite the warmup,
    # or the warmup's ratio lifted the cosine's lr above the base lr)
    [("LinearLR", dict(start_factor=0.1, total_iters=3)), ("CosineAnnealingLR", dict(T_max=5))],
    [("CosineAnnealingLR", dict(T_max=4, eta_min=0.001)), ("LinearLR", dict(start_factor=0.1,
                                                                          total_iters=3))],
    [("CosineAnnealingLR", dict(T_max=3)), ("StepLR", dict(step_size=2, gamma=0.5))],
])
def test_chained_schedules_match_pytorch(chain, torch):
    """Schedulers stepped back to back compose (each scales the lr the previous one left),
    as in PyTorch; a warmup (LinearLR) then keeps a decay running beside it."""
    lrs = (0.2, 0.05)
    topt = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr}
                            for lr in lrs], lr=1.0)
    opt = _Groups(*lrs)
    ts = [getattr(torch.optim.lr_scheduler, n)(topt, **kw) for n, kw in chain]
    ours = [getattr(S, n)(opt, **kw) for n, kw in chain]
    for epoch in range(12):
        np.testing.assert_allclose([g["lr"] for g in opt.param_groups],
                                   [g["lr"] for g in topt.param_groups], rtol=1e-12,
                                   err_msg=f"epoch {epoch}")
        topt.step()
        for s in ts + ours:
            s.step()


@pytest.mark.parametrize("make,exc,match", [
    (lambda o: S.StepLR(o, 2, gamma=math.nan), ValueError, "gamma"),
    (lambda o: S.StepLR(o, 2, gamma=-0.5), ValueError, "gamma"),
    (lambda o: S.StepLR(o, 2, gamma="0.5"), TypeError, "gamma"),
    (lambda o: S.MultiStepLR(o, [2], gamma=math.inf), ValueError, "gamma"),
    (lambda o: S.MultiStepLR(o, [1.5, 3]), TypeError, "milestones"),
    (lambda o: S.MultiStepLR(o, ["2"]), TypeError, "milestones"),
    (lambda o: S.MultiStepLR(o, 3), TypeError, "milestones"),
    (lambda o: S.ExponentialLR(o, "0.9"), TypeError, "gamma"),
    (lambda o: S.ExponentialLR(o, math.inf), ValueError, "gamma"),
    (lambda o: S.CosineAnnealingLR(o, 3, eta_min=math.nan), ValueError, "eta_min"),
    (lambda o: S.CosineAnnealingLR(o, 3, eta_min=-0.01), ValueError, "eta_min"),
    (lambda o: S.CosineAnnealingLR(o, 3, eta_min="0"), TypeError, "eta_min"),
    (lambda o: S.LinearLR(o, start_factor="0.5"), TypeError, "start_factor"),
    (lambda o: S.StepLR(o, 2, last_epoch=-5), ValueError, "last_epoch"),
    (lambda o: S.StepLR(o, 2, last_epoch=1.5), ValueError, "last_epoch"),
    (lambda o: S.ReduceLROnPlateau(o, min_lr=math.nan), ValueError, "min_lr"),
    (lambda o: S.ReduceLROnPlateau(o, min_lr=[-1.0]), ValueError, "min_lr"),
    (lambda o: S.ReduceLROnPlateau(o, cooldown=-1), ValueError, "cooldown"),
    (lambda o: S.ReduceLROnPlateau(o, cooldown=1.5), ValueError, "cooldown"),
    (lambda o: S.ReduceLROnPlateau(o, threshold=math.nan), ValueError, "threshold"),
    (lambda o: S.ReduceLROnPlateau(o, factor="0.5"), TypeError, "factor"),
])
def test_bad_hyperparameters_are_named_at_construction(make, exc, match):
    """A NaN / negative / non-numeric setting is refused when the schedule is built, not
    epochs later as an invalid lr in the optimizer (or never, as a silent truncation)."""
    with pytest.raises(exc, match=match):
        make(_Groups(0.1))


def test_numpy_integers_are_ints():
    s = S.StepLR(_Groups(1.0), step_size=np.int64(2), gamma=np.float32(0.5))
    p = S.ReduceLROnPlateau(_Groups(1.0), patience=np.int32(1), cooldown=np.int64(0))
    m = S.MultiStepLR(_Groups(1.0), milestones=np.array([2, 3]))
    assert s.step_size == 2 and p.patience == 1 and m.milestones == [2, 3]
    np.testing.assert_allclose(_run(s, 5)[:, 0], [1, 1, .5, .5, .25], rtol=1e-7)


def test_cosine_keeps_a_manual_lr_change_like_pytorch(torch):
    """Between steps the user halves the lr: the cosine goes on from there (PyTorch's
    recursive form), through the trough and the restart branch."""
    topt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
    ts = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=3, eta_min=0.01)
    opt = _Groups(0.3)
    ours = S.CosineAnnealingLR(opt, T_max=3, eta_min=0.01)
    for epoch in range(14):
        assert math.isclose(opt.param_groups[0]["lr"], topt.param_groups[0]["lr"],
                            rel_tol=1e-12), epoch
        if epoch == 1:
            opt.param_groups[0]["lr"] /= 2
            topt.param_groups[0]["lr"] /= 2
        topt.step()
        ts.step()
        ours.step()


def test_cosine_resumed_with_last_epoch_starts_from_the_closed_form():
    opt = _Groups(0.05)   # whatever the lr now: the schedule restarts from its formula
    opt.param_groups[0]["initial_lr"] = 0.1
    s = S.CosineAnnealingLR(opt, T_max=8, eta_min=0.0, last_epoch=2)
    got = _run(s, 5)[:, 0]
    want = 0.05 * (1 + np.cos(np.pi * np.arange(3, 8) / 8))
    np.testing.assert_allclose(got, want, rtol=1e-13)
