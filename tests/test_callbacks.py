"""Callbacks: EarlyStopping / TerminateOnNaN / LearningRateScheduler logic, hook order, History."""
import math

import numpy as np
import pytest

from nncore import callbacks as C
from nncore.history import History


class _Stub:
    """A model stand-in for unit tests of the callback logic: flat params + grad norms."""

    def __init__(self, n=4, norms=None):
        self.flat_params = np.arange(n, dtype=np.float64)
        self.stop_training = False
        self._norms = norms or {}
        self.layers = []

    def grad_norms(self):
        return dict(self._norms)


def _drive(cb, values, key="val_loss", model=None, step_params=None):
    """Run on_epoch_end over ``values``; params change each epoch (params = epoch index)."""
    model = model or _Stub()
    cb.set_model(model)
    cb.set_params({"has_validation": True})
    cb.on_train_begin()
    done = 0
    for e, v in enumerate(values):
        model.flat_params[...] = e
        cb.on_epoch_end(e, {key: v})
        done = e + 1
        if model.stop_training:
            break
    cb.on_train_end()
    return model, done


def test_early_stopping_patience_and_restore():
    es = C.EarlyStopping(patience=2)
    model, done = _drive(es, [5.0, 4.0, 3.0, 3.5, 3.2, 1.0, 0.5])
    # best 3.0 at epoch 2; epochs 3, 4 do not improve -> stop after epoch 4
    assert done == 5 and es.stopped_epoch == 4 and es.best_epoch == 2
    assert np.all(model.flat_params == 2)  # weights of epoch 2 restored


def test_early_stopping_patience_zero_and_min_delta():
    es = C.EarlyStopping(patience=0, min_delta=0.5)
    _, done = _drive(es, [5.0, 4.7, 1.0])  # 4.7 is not better by > 0.5
    assert done == 2 and es.best_epoch == 0


def test_early_stopping_max_mode_auto_for_accuracy():
    es = C.EarlyStopping(monitor="val_accuracy", patience=1)
    assert es.mode == "max"
    model, done = _drive(es, [0.5, 0.8, 0.7, 0.9], key="val_accuracy")
    assert done == 3 and np.all(model.flat_params == 1)


def test_early_stopping_restores_even_without_stopping():
    es = C.EarlyStopping(patience=10)
    model, done = _drive(es, [3.0, 1.0, 2.0])
    assert done == 3 and es.stopped_epoch == -1 and np.all(model.flat_params == 1)


def test_early_stopping_needs_validation():
    es = C.EarlyStopping()
    es.set_model(_Stub())
    es.set_params({"has_validation": False})
    with pytest.raises(ValueError, match="validation"):
        es.on_train_begin()


def test_early_stopping_bad_args():
    with pytest.raises(ValueError):
        C.EarlyStopping(patience=-1)
    with pytest.raises(ValueError):
        C.EarlyStopping(mode="sideways")
    for make in (lambda m: C.EarlyStopping(monitor=m),
                 lambda m: C.ModelCheckpoint("m.safetensors", monitor=m)):
        for bad in (3, None, ["val_loss"]):
            with pytest.raises(TypeError, match="monitor must be the name"):
                make(bad)


def test_terminate_on_nan_names_output_side_layer():
    norms = {"0.weight": 1.0, "0.bias": math.inf, "2.weight": math.nan, "2.bias": 1.0}
    model = _Stub(norms=norms)
    cb = C.TerminateOnNaN()
    cb.set_model(model)
    cb.on_train_begin()
    cb.on_epoch_begin(3)
    cb.on_batch_end(0, {"loss": 1.0, "grad_norm": 2.0})
    assert not model.stop_training
    with pytest.warns(RuntimeWarning, match="2.weight"):
        cb.on_batch_end(7, {"loss": math.nan, "grad_norm": math.nan})
    assert model.stop_training
    assert cb.layer == "2.weight" and cb.bad_parameters == ["2.weight", "0.bias"]
    assert (cb.stopped_epoch, cb.stopped_batch) == (3, 7)


def test_lr_scheduler_callable_sets_every_group():
    class Opt:
        param_groups = [{"lr": 1.0}, {"lr": 1.0}]
    opt = Opt()
    cb = C.LearningRateScheduler(lambda e, lr: 0.5 ** e)
    cb.set_params({"optimizer": opt, "has_validation": False})
    cb.on_train_begin()
    for e in range(4):
        cb.on_epoch_begin(e)
        assert [g["lr"] for g in opt.param_groups] == [0.5 ** e] * 2
    bad = C.LearningRateScheduler(lambda e, lr: float("nan"))
    bad.set_params({"optimizer": opt})
    with pytest.raises(ValueError, match="lr"):
        bad.on_epoch_begin(0)


def test_lr_scheduler_rejects_non_schedules():
    with pytest.raises(TypeError):
        C.LearningRateScheduler(3.0)


def test_history_records_and_fills_missing_keys():
    h = History()
    h.on_epoch_end(0, {"loss": 1.0})
    h.on_epoch_end(1, {"loss": 0.5, "val_loss": 0.7})
    h.on_epoch_end(2, {"val_loss": 0.6})
    assert h.epoch == [0, 1, 2] and len(h) == 3
    np.testing.assert_equal(h.history["loss"], [1.0, 0.5, np.nan])
    np.testing.assert_equal(h.history["val_loss"], [np.nan, 0.7, 0.6])
    assert h.last() == {"loss": h["loss"][-1], "val_loss": 0.6}


def test_callback_base_is_a_noop():
    cb = C.Callback()
    cb.on_train_begin()
    cb.on_epoch_begin(0)
    cb.on_batch_begin(0)
    cb.on_batch_end(0, {})
    cb.on_epoch_end(0, {})
    cb.on_train_end()
    assert not C._overrides(cb, "on_batch_end")
    assert C._overrides(C.TerminateOnNaN(), "on_batch_end")


def test_model_checkpoint_args():
    with pytest.raises(TypeError):
        C.ModelCheckpoint(3)
    assert C.ModelCheckpoint("m.safetensors", monitor="val_accuracy").mode == "max"


def test_history_plot_writes_the_png(tmp_path):
    h = History()
    h.on_epoch_end(0, {"loss": 1.0})
    h.on_epoch_end(1, {"loss": 0.5})
    h.plot(str(tmp_path / "h.png"))
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_terminate_on_nan_names_largest_gradient_when_only_the_loss_overflows():
    # float32 MSE on an output of ~2e19: the loss (4e38) overflows, every gradient
    # (~1e20) stays finite. The callback must still point at a layer: the one whose
    # gradient norm is largest, checked against the norms computed here in float64.
    import nncore as nc
    model = nc.nn.Sequential(nc.nn.Linear(1, 4), nc.nn.ReLU(), nc.nn.Linear(4, 1),
                             dtype="float32", seed=0)
    model[0].weight.data[:] = 1e9
    model[0].bias.data[:] = 0.0
    model[2].weight.data[:] = 5e9
    x = np.full((2, 1), 1.0, np.float32)
    y = np.zeros(2, np.float32)
    cb = C.TerminateOnNaN()
    with pytest.warns(RuntimeWarning, match="every parameter gradient is finite"):
        model.fit(x, y, loss="mse", optimizer=nc.optim.SGD(model.parameters(), lr=1e-30),
                  epochs=1, batch_size=2, callbacks=[cb], verbose=0)
    norms = model.grad_norms()
    assert all(math.isfinite(v) for v in norms.values())
    assert cb.bad_parameters == []
    assert cb.layer == max(norms, key=norms.get)
    assert cb.layer_index == int(cb.layer.split(".")[0])
    assert cb.layer in cb.message and (cb.stopped_epoch, cb.stopped_batch) == (0, 0)


def test_early_stopping_baseline_still_restores_the_best_epoch_seen():
    """A baseline that is never beaten stops after `patience` epochs; the weights put
    back are those of the best epoch seen (as documented, and as Keras does), not the
    last epoch's; ``best`` is a value seen, not the baseline."""
    es = C.EarlyStopping(patience=3, baseline=0.5)
    model, done = _drive(es, [0.9, 0.7, 0.8, 0.85, 0.1])
    assert done == 3 and es.stopped_epoch == 2
    assert es.best == 0.7 and es.best_epoch == 1
    assert np.all(model.flat_params == 1)


def test_early_stopping_baseline_patience_counts_until_beaten():
    # improving on the best but not on the baseline still counts towards patience
    es = C.EarlyStopping(patience=3, baseline=0.5)
    _, done = _drive(es, [0.9, 0.8, 0.7, 0.6])
    assert done == 3 and es.best == 0.7 and es.best_epoch == 2
    # once beaten, patience counts from the best epoch
    es = C.EarlyStopping(patience=2, baseline=0.5, min_delta=0.05)
    model, done = _drive(es, [0.9, 0.47, 0.4, 0.39, 0.38, 0.2])
    # 0.47 beats the best (0.9) but not baseline - min_delta (0.45): wait 2 -> stop
    assert done == 2 and es.best == 0.47 and np.all(model.flat_params == 1)
    es = C.EarlyStopping(patience=2, baseline=0.5, min_delta=0.05)
    model, done = _drive(es, [0.9, 0.4, 0.39, 0.38, 0.2])
    # 0.4 beats the baseline; 0.39, 0.38 are not better by > 0.05 -> stop after epoch 3
    assert done == 4 and es.best_epoch == 1 and np.all(model.flat_params == 1)


@pytest.mark.parametrize("bad", ["0.5", math.nan, True, [0.5]])
def test_early_stopping_rejects_a_bad_baseline(bad):
    with pytest.raises(ValueError, match="baseline"):
        C.EarlyStopping(baseline=bad)


def test_early_stopping_min_delta_numpy_scalar_and_bool():
    es = C.EarlyStopping(patience=0, min_delta=np.float32(0.5))
    _, done = _drive(es, [5.0, 4.7, 1.0])  # as with the Python float 0.5
    assert done == 2 and es.best_epoch == 0
    for bad in (True, math.nan, -0.1, "0.1"):
        with pytest.raises(ValueError, match="min_delta"):
            C.EarlyStopping(min_delta=bad)


def test_model_checkpoint_save_best_only_names_an_absent_monitor(tmp_path):
    class Saver(_Stub):
        def save(self, path):
            raise AssertionError("nothing to save")
    cb = C.ModelCheckpoint(str(tmp_path / "m.safetensors"), monitor="val_acc",
                           save_best_only=True)
    cb.set_model(Saver())
    cb.set_params({"has_validation": True})
    cb.on_train_begin()
    with pytest.raises(KeyError, match="'val_acc' is not in the epoch logs.*val_accuracy"):
        cb.on_epoch_end(0, {"loss": 1.0, "val_loss": 1.0, "val_accuracy": 0.5})


def test_plateau_schedule_monitoring_validation_needs_validation():
    """Caught before the first epoch (as EarlyStopping does), not after it trained."""
    from nncore.optim.lr_scheduler import ReduceLROnPlateau

    class Opt:
        param_groups = [{"lr": 1.0}]
    opt = Opt()
    cb = C.LearningRateScheduler(ReduceLROnPlateau(opt), monitor="val_loss")
    cb.set_params({"optimizer": opt, "has_validation": False})
    with pytest.raises(ValueError, match="validation"):
        cb.on_train_begin()


def test_plateau_default_monitor_is_chosen_per_fit():
    from nncore.optim.lr_scheduler import ReduceLROnPlateau

    class Opt:
        param_groups = [{"lr": 1.0}]
    opt = Opt()
    cb = C.LearningRateScheduler(ReduceLROnPlateau(opt, patience=0))
    cb.set_params({"optimizer": opt, "has_validation": True})
    cb.on_train_begin()
    assert cb.monitor == "val_loss"
    cb.set_params({"optimizer": opt, "has_validation": False})   # a second fit
    cb.on_train_begin()
    assert cb.monitor == "loss"
    cb.on_epoch_end(0, {"loss": 1.0})
    cb.on_epoch_end(1, {"loss": 2.0})
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
