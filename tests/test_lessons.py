"""The classic lessons of training, each checked against a closed form or an independent
computation: XOR, noisy linear regression vs least squares, overfitting cured by L2 and
dropout, early stopping restoring the best weights, a diverging learning rate caught by
TerminateOnNaN, clipping bounding the gradient norm, schedules driving the lr."""
import math

import numpy as np
import pytest

import nncore.nn as nn
from nncore import callbacks as C
from nncore import optim
from nncore.optim import lr_scheduler as S


def test_xor_learned_by_2_4_1_tanh():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([[0], [1], [1], [0]], dtype=float)
    m = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), dtype="float64", seed=0)
    h = m.fit(X, y, loss="bce", optimizer=optim.Adam(m.parameters(), lr=0.05), epochs=600,
              batch_size=4, verbose=0)
    np.testing.assert_array_equal(m.predict_classes(X), [0, 1, 1, 0])
    assert h.history["loss"][-1] < 0.05 < h.history["loss"][0]
    assert h.history["accuracy"][-1] == 1.0


def test_noisy_linear_regression_reaches_least_squares():
    rng = np.random.default_rng(0)
    n, d = 400, 5
    X = rng.normal(size=(n, d))
    w, b = rng.normal(size=d), 0.7
    y = X @ w + b + 0.3 * rng.normal(size=n)
    A = np.hstack([X, np.ones((n, 1))])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    mse_ls = np.mean((A @ coef - y) ** 2)          # the best any linear model can do
    m = nn.Sequential(nn.Linear(d, 1), dtype="float64", seed=1)
    m.fit(X, y, loss="mse", optimizer=optim.Adam(m.parameters(), lr=0.05), epochs=60,
          batch_size=40, verbose=0)
    m.fit(X, y, loss="mse", optimizer=optim.SGD(m.parameters(), lr=0.05), epochs=40,
          batch_size=n, shuffle=False, verbose=0)   # full batch: converge to the optimum
    mse = m.evaluate(X, y)["loss"]
    assert mse_ls <= mse < mse_ls * 1.001
    p = dict(m.named_parameters())
    np.testing.assert_allclose(p["0.weight"].data[0], coef[:d], atol=2e-3)
    np.testing.assert_allclose(p["0.bias"].data[0], coef[d], atol=2e-3)
    assert mse == pytest.approx(0.09, rel=0.2)   # the noise variance


def _overfit_task():
    # 30 noisy samples of a linear target in 20 dimensions (3 of them relevant)
    rng = np.random.default_rng(42)
    d = 20
    w = np.zeros(d)
    w[:3] = [1.0, -2.0, 0.5]
    Xtr = rng.normal(size=(30, d))
    Xva = rng.normal(size=(100, d))
    ytr = Xtr @ w + 0.5 * rng.normal(size=30)
    yva = Xva @ w + 0.5 * rng.normal(size=100)
    return Xtr, ytr, Xva, yva


def _train_overfit(weight_decay=0.0, dropout=0.0):
    """A 20-128-1 ReLU net (2800 parameters for 30 samples), full batch Adam, 300 epochs."""
    Xtr, ytr, Xva, yva = _overfit_task()
    layers = [nn.Linear(20, 128), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers += [nn.Linear(128, 1)]
    m = nn.Sequential(*layers, dtype="float64", seed=7)
    opt = optim.Adam(m.parameters(), lr=3e-3, weight_decay=weight_decay)
    h = m.fit(Xtr, ytr, loss="mse", optimizer=opt, epochs=300, batch_size=30,
              validation_data=(Xva, yva), verbose=0)
    return h.history["loss"][-1], h.history["val_loss"][-1]


@pytest.fixture(scope="module")
def unregularized():
    return _train_overfit()


def test_overfitting_without_regularization(unregularized):
    tr0, va0 = unregularized
    assert tr0 < 1e-3 and va0 > 1.0      # memorized the 30 samples, generalizes poorly


@pytest.mark.parametrize("cure", [dict(weight_decay=0.03), dict(dropout=0.5)],
                         ids=["l2", "dropout"])
def test_overfitting_reduced_by_l2_and_dropout(unregularized, cure):
    tr0, va0 = unregularized
    tr, va = _train_overfit(**cure)
    assert va < 0.8 * va0 and tr > tr0   # worse fit of the noise, better validation


def test_early_stopping_restores_the_best_epoch_weights():
    # train on y = x, validate on y = 0.5 x: val loss falls, then rises again
    rng = np.random.default_rng(3)
    X = rng.normal(size=(64, 1))
    m = nn.Sequential(nn.Linear(1, 1), dtype="float64", seed=0)
    m.flat_params[...] = 0.0
    snaps = []

    class Snap(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snaps.append(self.model.flat_params.copy())

    es = C.EarlyStopping(patience=3)
    h = m.fit(X, X, loss="mse", optimizer=optim.SGD(m.parameters(), lr=0.01), epochs=100,
              batch_size=16, validation_data=(X, 0.5 * X), callbacks=[Snap(), es], verbose=0)
    val = np.array(h.history["val_loss"])
    best = int(np.argmin(val))
    assert h.stopped_early and 0 < best and len(val) == best + 1 + 3
    assert es.best_epoch == best
    np.testing.assert_array_equal(m.flat_params, snaps[best])
    # and the restored model scores the best validation loss
    assert m.evaluate(X, 0.5 * X, loss="mse")["loss"] == pytest.approx(val[best], rel=1e-12)


def test_terminate_on_nan_fires_on_diverging_lr_and_names_the_layer():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)) * 3
    y = rng.normal(size=(64, 1)) * 10
    m = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                      nn.Linear(32, 1), dtype="float32", seed=0)
    cb = C.TerminateOnNaN()
    with pytest.warns(RuntimeWarning, match="non-finite"):
        h = m.fit(X, y, loss="mse", optimizer=optim.SGD(m.parameters(), lr=5.0), epochs=50,
                  batch_size=8, callbacks=[cb], verbose=0)
    assert cb.stopped_epoch >= 0 and len(h) == cb.stopped_epoch + 1 < 50
    bad = [name for name, p in m.named_parameters() if not np.isfinite(p.grad).all()]
    assert bad and set(cb.bad_parameters) == set(bad)
    out_side = max(bad, key=lambda n: int(n.split(".")[0]))
    assert cb.layer.split(".")[0] == out_side.split(".")[0]
    assert cb.layer in cb.message and "layer" in cb.message


def test_clipping_bounds_the_global_norm():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(64, 6)) * 5
    y = rng.normal(size=(64, 2)) * 50
    m = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 2), dtype="float64", seed=0)
    seen = []

    class Norms(C.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append((logs["grad_norm"], float(np.linalg.norm(self.model.flat_grads))))

    m.fit(X, y, loss="mse", optimizer=optim.SGD(m.parameters(), lr=1e-3), epochs=2,
          batch_size=16, clip_norm=1.0, callbacks=[Norms()], verbose=0)
    before = np.array([s[0] for s in seen])
    after = np.array([s[1] for s in seen])
    assert (before > 1.0).all()                    # the raw gradients were large...
    assert (after <= 1.0 + 1e-9).all()             # ...and what the optimizer used is bounded
    np.testing.assert_allclose(after, 1.0 * before / (before + 1e-6), rtol=1e-9)


def test_schedules_drive_the_lr_during_fit():
    X = np.random.default_rng(0).normal(size=(32, 3))
    y = X.sum(axis=1)
    m = nn.Sequential(nn.Linear(3, 1), dtype="float64", seed=0)
    opt = optim.SGD(m.parameters(), lr=0.1)
    cb = C.LearningRateScheduler(S.StepLR(opt, step_size=2, gamma=0.5))
    h = m.fit(X, y, loss="mse", optimizer=opt, epochs=7, batch_size=8, callbacks=[cb],
              verbose=0)
    np.testing.assert_allclose(h.history["lr"], 0.1 * 0.5 ** (np.arange(7) // 2), rtol=1e-12)
    opt2 = optim.SGD(m.parameters(), lr=0.1)
    cos = C.LearningRateScheduler(lambda e, lr: 0.01 + 0.05 * (1 + math.cos(math.pi * e / 6)))
    h2 = m.fit(X, y, loss="mse", optimizer=opt2, epochs=7, batch_size=8, callbacks=[cos],
               verbose=0)
    np.testing.assert_allclose(h2.history["lr"],
                               0.01 + 0.05 * (1 + np.cos(np.pi * np.arange(7) / 6)), rtol=1e-12)


def test_reduce_on_plateau_during_fit():
    X = np.random.default_rng(0).normal(size=(32, 3))
    y = X.sum(axis=1)
    m = nn.Sequential(nn.Linear(3, 1), dtype="float64", seed=0)
    opt = optim.SGD(m.parameters(), lr=0.2)
    plateau = S.ReduceLROnPlateau(opt, factor=0.5, patience=0, threshold=0.5)
    h = m.fit(X, y, loss="mse", optimizer=opt, epochs=6, batch_size=32,
              callbacks=[C.LearningRateScheduler(plateau)], verbose=0)
    # replay the documented rule on the recorded losses
    lr, best, want = 0.2, math.inf, []
    for v in h.history["loss"]:
        want.append(lr)
        if v < best * 0.5:
            best = v
        else:
            lr *= 0.5
    np.testing.assert_allclose(h.history["lr"], want, rtol=1e-12)
