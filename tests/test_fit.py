"""The fit loop: equals a hand-written loop over train_step, matches a NumPy trainer in
float64, is reproducible at 1 and 2 threads, handles Ctrl-C, and rejects bad input
before training; and the classic lessons of training, each against a closed form or an
independent computation (end of the file)."""
import copy
import math
import os
import signal

import numpy as np
import pytest

import nncore.nn as nn
from nncore import callbacks as C
from nncore import config, io, losses, optim
from nncore import reference as ref
from nncore.optim import lr_scheduler as S


def mlp(sizes, act=None, dtype="float64", seed=0, dropout=0.0):
    act = act or nn.ReLU
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, dtype=dtype, seed=seed)


def blobs(n=120, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(k, d))
    y = rng.integers(0, k, size=n)
    return centers[y] + rng.normal(size=(n, d)), y


def _copy_weights(dst, src):
    dst.flat_params[...] = src.flat_params


# ------------------------------------------------------------ the loop itself

def test_fit_equals_hand_loop_over_train_step():
    """Documented batching: last 25% held out, epoch e shuffled by
    default_rng([seed, e]).permutation, batches in order, last one smaller."""
    X, y = blobs(90)
    a, b = mlp([4, 16, 3], seed=3), mlp([4, 16, 3], seed=3)
    _copy_weights(b, a)
    opt_a = optim.Adam(a.parameters(), lr=0.01)
    opt_b = optim.Adam(b.parameters(), lr=0.01)
    seen = []

    class Rec(C.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append((logs["loss"], logs["size"], logs["grad_norm"]))

    h = a.fit(X, y, loss="cross_entropy", optimizer=opt_a, epochs=3, batch_size=16,
              validation_split=0.25, callbacks=[Rec()], verbose=0)
    split = int(90 * 0.75)
    Xt, yt, Xv, yv = X[:split], y[:split], X[split:], y[split:]
    ce = losses.CrossEntropyLoss()
    want_loss, want_gn, k = [], [], 0
    for e in range(3):
        perm = np.random.default_rng([b.seed, e]).permutation(split)
        tot, gns = 0.0, []
        for s in range(0, split, 16):
            idx = perm[s:s + 16]
            lv = b.train_step(np.ascontiguousarray(Xt[idx]), yt[idx].astype(np.int64), ce, opt_b)
            assert seen[k][0] == lv and seen[k][1] == len(idx)
            k += 1
            tot += lv * len(idx)
            gns.append(b.last_grad_norm)
        want_loss.append(tot / split)
        want_gn.append(np.mean(gns))
    assert k == len(seen) == 3 * 5   # 67 samples: 4 batches of 16 + 1 of 3
    np.testing.assert_array_equal(a.flat_params, b.flat_params)
    np.testing.assert_allclose(h.history["loss"], want_loss, rtol=1e-12)
    np.testing.assert_allclose(h.history["grad_norm"], want_gn, rtol=1e-12)
    # validation loss and accuracy: recomputed in NumPy from the outputs
    out = b.forward(Xv)
    z = out - out.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(h.history["val_loss"][-1], -logp[np.arange(len(yv)), yv].mean(),
                               rtol=1e-10)
    assert h.history["val_accuracy"][-1] == np.mean(out.argmax(1) == yv)
    # per-layer gradient norms: of the last batch's gradients
    g = {name: p.grad for name, p in a.named_parameters()}
    for layer in ("0", "2"):
        want = np.sqrt(np.sum(g[f"{layer}.weight"] ** 2) + np.sum(g[f"{layer}.bias"] ** 2))
        np.testing.assert_allclose(h.history[f"grad_norm/{layer}"][-1], want, rtol=1e-10)
    assert h.history["lr"] == [0.01] * 3 and len(h.history["time"]) == 3


def _np_mlp_train(Ws, bs, X, Y, batch, epochs, lr, betas=(0.9, 0.999), eps=1e-8):
    """Independent float64 trainer: tanh MLP, MSE (mean over elements), Adam (PyTorch's
    documented rule), contiguous batches, no shuffle."""
    Ws = [w.copy() for w in Ws]
    bs = [b.copy() for b in bs]
    params = Ws + bs
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = 0
    for _ in range(epochs):
        for s in range(0, len(X), batch):
            x, yt = X[s:s + batch], Y[s:s + batch]
            hs = [x]
            for i, (w, b) in enumerate(zip(Ws, bs)):
                z = hs[-1] @ w.T + b
                hs.append(np.tanh(z) if i < len(Ws) - 1 else z)
            d = 2.0 * (hs[-1] - yt) / yt.size
            gW, gb = [None] * len(Ws), [None] * len(Ws)
            for i in reversed(range(len(Ws))):
                gW[i] = d.T @ hs[i]
                gb[i] = d.sum(axis=0)
                if i:
                    d = (d @ Ws[i]) * (1 - hs[i] ** 2)
            t += 1
            grads = gW + gb
            for j, (p, g) in enumerate(zip(params, grads)):
                m[j] = betas[0] * m[j] + (1 - betas[0]) * g
                v[j] = betas[1] * v[j] + (1 - betas[1]) * g * g
                mh = m[j] / (1 - betas[0] ** t)
                vh = v[j] / (1 - betas[1] ** t)
                p -= lr * mh / (np.sqrt(vh) + eps)
    return Ws, bs


def test_fit_matches_numpy_trainer_float64():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3))
    Y = np.stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2]], axis=1)
    model = mlp([3, 8, 6, 2], act=nn.Tanh, seed=5)
    lin = [p for p in model.parameters()]
    Ws0 = [p.data.copy() for p in lin if not p.is_bias]
    bs0 = [p.data.copy() for p in lin if p.is_bias]
    model.fit(X, Y, loss="mse", optimizer=optim.Adam(model.parameters(), lr=0.02), epochs=4,
              batch_size=12, shuffle=False, verbose=0)
    Ws, bs = _np_mlp_train(Ws0, bs0, X, Y, 12, 4, 0.02)
    got = dict(model.named_parameters())
    for i, layer in enumerate(("0", "2", "4")):
        np.testing.assert_allclose(got[f"{layer}.weight"].data, Ws[i], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(got[f"{layer}.bias"].data, bs[i], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_seed_bit_identical_at_1_and_2_threads(dtype):
    X, y = blobs(200, d=8, k=4)
    results = []
    for t in (1, 2, 1):
        with config.num_threads(t):
            m = mlp([8, 64, 64, 4], dtype=dtype, seed=11, dropout=0.2)
            m.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=3, batch_size=32,
                  validation_split=0.1, verbose=0)
            results.append(m.flat_params.copy())
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


def test_two_fits_equal_one_longer_fit():
    X, y = blobs(64)
    a, b = mlp([4, 8, 3], seed=2), mlp([4, 8, 3], seed=2)
    oa, ob = optim.SGD(a.parameters(), lr=0.05, momentum=0.9), \
        optim.SGD(b.parameters(), lr=0.05, momentum=0.9)
    a.fit(X, y, loss="ce", optimizer=oa, epochs=5, batch_size=10, verbose=0)
    b.fit(X, y, loss="ce", optimizer=ob, epochs=3, batch_size=10, verbose=0)
    b.fit(X, y, loss="ce", optimizer=ob, epochs=2, batch_size=10, verbose=0)
    assert a.epochs_trained == b.epochs_trained == 5
    np.testing.assert_array_equal(a.flat_params, b.flat_params)


def test_validation_data_equals_split():
    X, y = blobs(80)
    a, b = mlp([4, 8, 3], seed=4), mlp([4, 8, 3], seed=4)
    ha = a.fit(X, y, loss="ce", epochs=2, validation_split=0.25, verbose=0)
    hb = b.fit(X[:60], y[:60], loss="ce", epochs=2, validation_data=(X[60:], y[60:]),
               verbose=0)
    assert ha.history["val_loss"] == hb.history["val_loss"]
    np.testing.assert_array_equal(a.flat_params, b.flat_params)


# ---------------------------------------------------------------- Ctrl-C

class _InterruptAt(C.Callback):
    def __init__(self, epoch, batch, real_signal=False):
        self.at = (epoch, batch)
        self.real = real_signal
        self.epoch = -1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            if self.real:
                os.kill(os.getpid(), signal.SIGINT)
            else:
                raise KeyboardInterrupt


@pytest.mark.parametrize("real_signal", [False, True])
def test_ctrl_c_returns_history_and_consistent_model(real_signal):
    X, y = blobs(60)
    a, b = mlp([4, 8, 3], seed=6), mlp([4, 8, 3], seed=6)
    h = a.fit(X, y, loss="ce", optimizer="sgd", epochs=5, batch_size=10, shuffle=False,
              callbacks=[_InterruptAt(1, 2, real_signal)], verbose=0)
    assert h.interrupted and len(h.history["loss"]) == 1
    # the model holds exactly the steps done: epoch 0 (6 batches) + 3 batches of epoch 1
    ob = optim.SGD(b.parameters(), lr=0.01)
    ce = losses.CrossEntropyLoss()
    for k in range(6 + 3):
        s = (k % 6) * 10
        b.train_step(X[s:s + 10], y[s:s + 10].astype(np.int64), ce, ob)
    np.testing.assert_array_equal(a.flat_params, b.flat_params)
    assert np.isfinite(a.predict(X)).all()


# ------------------------------------------------------------ inference

def test_evaluate_and_predict():
    X, y = blobs(70)
    m = mlp([4, 16, 3], seed=1)
    m.fit(X, y, loss="cross_entropy", epochs=3, verbose=0)
    out = m.predict(X, batch_size=16)
    np.testing.assert_allclose(out, m.forward(X), rtol=1e-12, atol=1e-14)
    r = m.evaluate(X, y, batch_size=7)
    z = out - out.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    assert r["loss"] == pytest.approx(-logp[np.arange(70), y].mean(), rel=1e-10)
    assert r["accuracy"] == np.mean(out.argmax(1) == y)
    np.testing.assert_array_equal(m.predict_classes(X), out.argmax(1))
    assert m.evaluate(X, y, loss="cross_entropy") == r


def test_verbose_output(capsys):
    X, y = blobs(40)
    m = mlp([4, 8, 3])
    m.fit(X, y, loss="ce", epochs=2, verbose=1)
    err = capsys.readouterr().err
    assert "Epoch 2/2" in err and "samples/s" in err and "loss=" in err
    m.fit(X, y, loss="ce", epochs=2, verbose=0)
    cap = capsys.readouterr()
    assert cap.err == "" and cap.out == ""


def test_zero_epochs_is_a_noop():
    X, y = blobs(20)
    m = mlp([4, 8, 3])
    before = m.flat_params.copy()
    h = m.fit(X, y, loss="ce", epochs=0, verbose=0)
    assert len(h) == 0
    np.testing.assert_array_equal(before, m.flat_params)


# ------------------------------------------------------------- bad input

def _bad_cases():
    X, y = blobs(30)
    other = mlp([4, 8, 3], seed=9)
    Xnan = X.copy()
    Xnan[3, 1] = np.nan
    yreg = np.zeros((30, 3))
    yreg[5, 0] = np.inf
    return [
        ("different lengths", dict(X=X, y=y[:-1], loss="ce"), ValueError, "lengths"),
        ("nan in X", dict(X=Xnan, y=y, loss="ce"), ValueError, "NaN"),
        ("inf in y", dict(X=X, y=yreg, loss="mse"), ValueError, "NaN or Inf"),
        ("non-integer labels for ce", dict(X=X, y=y + 0.5, loss="ce"), TypeError, "integer"),
        ("label out of range", dict(X=X, y=y + 1, loss="ce"), ValueError, r"\[0, 3\)"),
        ("negative label", dict(X=X, y=y - 1, loss="ce"), ValueError, r"\[0, 3\)"),
        ("batch_size 0", dict(X=X, y=y, loss="ce", batch_size=0), ValueError, "batch_size"),
        ("epochs -1", dict(X=X, y=y, loss="ce", epochs=-1), ValueError, "epochs"),
        ("split 1.0", dict(X=X, y=y, loss="ce", validation_split=1.0), ValueError,
         "validation_split"),
        ("split -0.1", dict(X=X, y=y, loss="ce", validation_split=-0.1), ValueError,
         "validation_split"),
        ("other model's optimizer", dict(X=X, y=y, loss="ce",
                                         optimizer=optim.Adam(other.parameters())),
         ValueError, "another model"),
        ("unknown loss", dict(X=X, y=y, loss="hinge-ish"), ValueError, "loss"),
        ("unknown optimizer", dict(X=X, y=y, loss="ce", optimizer="adamax9"), ValueError,
         "optimizer"),
        ("no loss", dict(X=X, y=y), TypeError, "loss"),
        ("wrong X width", dict(X=X[:, :3], y=y, loss="ce"), ValueError, "shape"),
        ("bad clip", dict(X=X, y=y, loss="ce", clip_norm=-1.0), ValueError, "clip_norm"),
        ("regression target shape", dict(X=X, y=np.zeros((30, 2)), loss="mse"), ValueError,
         "shape"),
        ("bce targets out of [0,1]", dict(X=X, y=np.full((30, 3), 2.0), loss="bce"),
         ValueError, r"\[0, 1\]"),
        ("accuracy for regression", dict(X=X, y=np.zeros((30, 3)), loss="mse",
                                         metrics=["accuracy"]), ValueError, "accuracy"),
        ("not a callback", dict(X=X, y=y, loss="ce", callbacks=[print]), TypeError, "Callback"),
        ("callbacks not a list", dict(X=X, y=y, loss="ce", callbacks="early"), TypeError,
         "list of nncore.callbacks.Callback"),
        ("shuffle not a bool", dict(X=X, y=y, loss="ce", shuffle="no"), TypeError, "shuffle"),
        ("unknown loss", dict(X=X, y=y, loss="crossentropyy"), ValueError,
         r"^unknown loss 'crossentropyy'; expected one of"),
        ("unknown optimizer", dict(X=X, y=y, loss="ce", optimizer="adamm"), ValueError,
         r"^unknown optimizer 'adamm'; expected one of"),
    ]


@pytest.mark.parametrize("case", _bad_cases(), ids=lambda c: c[0])
def test_bad_input_rejected_before_training(case):
    _, kw, exc, match = case
    m = mlp([4, 8, 3], seed=9)
    before = m.flat_params.copy()
    step = m.dropout_step
    X, y = kw.pop("X"), kw.pop("y")
    with pytest.raises(exc, match=match):
        m.fit(X, y, epochs=kw.pop("epochs", 2), verbose=0, **kw)
    np.testing.assert_array_equal(before, m.flat_params)
    assert m.dropout_step == step


@pytest.mark.parametrize("where", ["missing directory", "a directory", "an int",
                                   "resume an int"])
def test_bad_checkpoint_path_rejected_before_training(tmp_path, where):
    """A checkpoint path fit cannot write (its directory missing, a directory itself) or
    that is no path at all failed only when the first epoch's checkpoint was saved,
    after that epoch had trained; now a TypeError / ValueError naming it comes first."""
    X, y = blobs(30)
    m = mlp([4, 8, 3], seed=9)
    before, step = m.flat_params.copy(), m.dropout_step
    kw = {"missing directory": dict(checkpoint=tmp_path / "no" / "ck.safetensors"),
          "a directory": dict(checkpoint=tmp_path),
          "an int": dict(checkpoint=7),
          "resume an int": dict(resume=7)}[where]
    name = "resume" if "resume" in kw else "checkpoint"
    exc = TypeError if "int" in where else ValueError
    with pytest.raises(exc, match=name):
        m.fit(X, y, loss="ce", epochs=2, verbose=0, **kw)
    np.testing.assert_array_equal(before, m.flat_params)
    assert (m.dropout_step, m.epochs_trained) == (step, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == []   # nothing left behind


def test_early_stopping_without_validation_rejected_before_training():
    X, y = blobs(30)
    m = mlp([4, 8, 3])
    before = m.flat_params.copy()
    with pytest.raises(ValueError, match="validation"):
        m.fit(X, y, loss="ce", epochs=3, callbacks=[C.EarlyStopping()], verbose=0)
    np.testing.assert_array_equal(before, m.flat_params)


def test_evaluate_needs_a_loss_before_fit():
    X, y = blobs(10)
    with pytest.raises(ValueError, match="loss"):
        mlp([4, 8, 3]).evaluate(X, y)



# ------------------------------------------------------- checkpoint / resume

def _resume_setup(seed=8):
    m = mlp([4, 16, 3], seed=seed, dropout=0.25)
    opt = optim.Adam(m.parameters(), lr=0.01)
    sched = S.StepLR(opt, step_size=2, gamma=0.5)
    return m, opt, [C.LearningRateScheduler(sched)]


def test_resume_from_checkpoint_is_bit_identical(tmp_path):
    X, y = blobs(80)
    kw = dict(loss="ce", batch_size=16, validation_split=0.2, verbose=0)
    ref, oref, cref = _resume_setup()
    href = ref.fit(X, y, optimizer=oref, epochs=5, callbacks=cref, **kw)
    ck = tmp_path / "ck.safetensors"
    a, oa, ca = _resume_setup()
    a.fit(X, y, optimizer=oa, epochs=3, callbacks=ca, checkpoint=ck, **kw)   # "crashes" here
    b, ob, cb = _resume_setup()
    b.flat_params[...] = 0.0                # nothing of b's own state may leak through
    hb = b.fit(X, y, optimizer=ob, epochs=5, callbacks=cb, resume=ck, **kw)
    assert hb.epoch == [3, 4]
    np.testing.assert_array_equal(b.flat_params, ref.flat_params)
    assert b.dropout_step == ref.dropout_step
    assert hb.history["loss"] == href.history["loss"][3:]
    assert hb.history["lr"] == href.history["lr"][3:]


def test_resume_continues_in_the_checkpoints_compute_mode(tmp_path):
    # a bf16 run resumed into a model built without compute_dtype: "continues exactly"
    # means in bf16 (the oracle: one uninterrupted bf16 fit); it went on in float32
    X, y = blobs(80)
    kw = dict(loss="ce", batch_size=16, verbose=0)

    def setup(mode):
        m = mlp([4, 16, 3], dtype="float32", seed=8, dropout=0.25)
        m.compute_dtype = mode
        return m, optim.Adam(m.parameters(), lr=0.01)

    ref, oref = setup("bfloat16")
    href = ref.fit(X, y, optimizer=oref, epochs=4, **kw)
    ck = tmp_path / "ck.safetensors"
    a, oa = setup("bfloat16")
    a.fit(X, y, optimizer=oa, epochs=2, checkpoint=ck, **kw)
    b, ob = setup("float32")
    hb = b.fit(X, y, optimizer=ob, epochs=4, resume=ck, **kw)
    assert b.compute_dtype == "bfloat16"
    np.testing.assert_array_equal(b.flat_params, ref.flat_params)
    assert hb.history["loss"] == href.history["loss"][2:]


def test_resume_needs_same_seed(tmp_path):
    X, y = blobs(40)
    ck = tmp_path / "ck.safetensors"
    a, oa, _ = _resume_setup(seed=1)
    a.fit(X, y, loss="ce", optimizer=oa, epochs=1, checkpoint=ck, verbose=0)
    b, ob, _ = _resume_setup(seed=2)
    with pytest.raises(ValueError, match="seed"):
        b.fit(X, y, loss="ce", optimizer=ob, epochs=2, resume=ck, verbose=0)


@pytest.mark.parametrize("why", ["past epochs", "schedulers", "optimizer groups",
                                 "scheduler kind"])
def test_a_refused_resume_leaves_model_and_optimizer_untouched(tmp_path, why):
    """fit refuses a resume it cannot continue (the checkpoint is past ``epochs``, holds
    another number of lr scheduler states, or an optimizer state of other parameter
    groups) before changing anything: the model's weights, dropout step, epoch count
    and the optimizer's state stay its own (they were replaced by the checkpoint's,
    then the ValueError came)."""
    X, y = blobs(40)
    ck = tmp_path / "ck.safetensors"
    a, oa, ca = _resume_setup()
    a.fit(X, y, loss="ce", optimizer=oa, epochs=2, callbacks=ca, checkpoint=ck, verbose=0)
    b, ob, cb = _resume_setup()
    if why == "optimizer groups":   # the same class over two groups: load_state_dict refuses
        ps = b.parameters()
        ob = optim.Adam([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.1}], lr=0.01)
        cb = [C.LearningRateScheduler(S.StepLR(ob, step_size=2, gamma=0.5))]
    if why == "scheduler kind":   # the checkpoint holds a StepLR's state, not a cosine's
        cb = [C.LearningRateScheduler(S.CosineAnnealingLR(ob, T_max=4))]
    b.fit(X[:8], y[:8], loss="ce", optimizer=ob, epochs=1, verbose=0)   # a state of its own
    params, step, done = b.flat_params.copy(), b.dropout_step, b.epochs_trained
    state = copy.deepcopy(ob.state_dict())
    epochs, callbacks = (4, []) if why == "schedulers" else (1 if why == "past epochs" else 4, cb)
    match = {"past epochs": "past epochs", "schedulers": "scheduler",
             "optimizer groups": r"param(eter)? groups",
             "scheduler kind": "not the state of a CosineAnnealingLR"}[why]
    with pytest.raises(ValueError, match=match):
        b.fit(X, y, loss="ce", optimizer=ob, epochs=epochs, callbacks=callbacks, resume=ck,
              verbose=0)
    np.testing.assert_array_equal(b.flat_params, params)
    assert (b.dropout_step, b.epochs_trained) == (step, done)
    after = ob.state_dict()
    assert after["step"] == state["step"]
    assert after["param_groups"] == state["param_groups"]
    for k, v in state["state"].items():
        np.testing.assert_array_equal(after["state"][k], v)


def test_model_checkpoint_saves_best(tmp_path):
    X, y = blobs(60)
    m = mlp([4, 8, 3], seed=3)
    cb = C.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}.safetensors"), save_best_only=True)
    snaps = []

    class Snap(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snaps.append(self.model.flat_params.copy())

    h = m.fit(X, y, loss="ce", epochs=4, validation_split=0.3, callbacks=[Snap(), cb],
              verbose=0)
    val = h.history["val_loss"]
    best_so_far = [e for e in range(4) if val[e] < min(val[:e], default=np.inf)]
    assert cb.saved == [str(tmp_path / f"m-{e + 1:02d}.safetensors") for e in best_so_far]
    last = io.load(cb.saved[-1])
    np.testing.assert_array_equal(last.flat_params, snaps[best_so_far[-1]])


def test_metrics_empty_reports_no_accuracy():
    # what the training accuracy is: tests/test_fit_data_path.py
    X, y = blobs(50)
    m = mlp([4, 8, 3], seed=5, dropout=0.3)
    h = m.fit(X, y, loss="ce", epochs=2, batch_size=8, verbose=0)
    assert len(h.history["accuracy"]) == 2
    h2 = m.fit(X, y, loss="ce", epochs=1, metrics=[], verbose=0)
    assert "accuracy" not in h2.history


def test_verbose_2_prints_one_line_per_epoch(capsys):
    X, y = blobs(40)
    mlp([4, 8, 3]).fit(X, y, loss="ce", epochs=3, verbose=2, validation_split=0.25)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("Epoch")]
    assert len(lines) == 3 and "val_loss=" in lines[-1]


@pytest.mark.parametrize("kind,kw", [("sgd", dict(lr=0.05, momentum=0.9)),
                                     ("adamw", dict(lr=0.01, weight_decay=0.1))])
def test_fit_matches_reference_trainer_with_dropout_and_clipping(kind, kw):
    """fit (shuffle, validation split, dropout, clipping) vs nncore.reference's trainer
    driven through the documented batching, float64."""
    X, y = blobs(70, d=6, k=3, seed=2)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3),
                          dtype="float64", seed=9)
    twin = ref.ReferenceNetwork.from_model(model)
    params = model.parameters()
    r_opt = ref.RefOptimizer(kind, twin.param_list(), [dict(kw, params=list(range(len(params))))],
                             [p.is_bias for p in params])
    h = model.fit(X, y, loss="cross_entropy", optimizer=optim.get(kind, params, **kw), epochs=3,
                  batch_size=16, validation_split=0.2, clip_norm=0.5, verbose=0)
    n = int(70 * 0.8)
    ce = losses.CrossEntropyLoss()
    want = []
    for e in range(3):
        perm = np.random.default_rng([9, e]).permutation(n)
        tot = 0.0
        for s in range(0, n, 16):
            idx = perm[s:s + 16]
            v, _ = ref.train_step(twin, X[idx], y[idx], ce, r_opt, clip_norm=0.5)
            tot += v * len(idx)
        want.append(tot / n)
    np.testing.assert_allclose(model.flat_params, twin.flat_params(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h.history["loss"], want, rtol=1e-10)
    assert model.dropout_step == twin.step


def test_predict_and_evaluate_bad_input():
    X, y = blobs(20)
    m = mlp([4, 8, 3])
    with pytest.raises(ValueError, match="shape"):
        m.predict(X[:, :2])
    with pytest.raises(ValueError, match="batch_size"):
        m.predict(X, batch_size=0)
    with pytest.raises(ValueError, match="lengths"):
        m.evaluate(X, y[:5], loss="ce")
    with pytest.raises(TypeError, match="integer"):
        m.evaluate(X, y + 0.5, loss="ce")


def test_callback_hook_order_and_params():
    X, y = blobs(25)
    calls = []

    class Rec(C.Callback):
        def on_train_begin(self, logs=None):
            calls.append(("train_begin", self.params["steps"], self.params["samples"]))

        def on_epoch_begin(self, epoch, logs=None):
            calls.append(("epoch_begin", epoch))

        def on_batch_begin(self, batch, logs=None):
            calls.append(("batch_begin", batch))

        def on_batch_end(self, batch, logs=None):
            calls.append(("batch_end", batch))

        def on_epoch_end(self, epoch, logs=None):
            calls.append(("epoch_end", epoch, "val_loss" in logs))

        def on_train_end(self, logs=None):
            calls.append(("train_end",))

    mlp([4, 8, 3]).fit(X, y, loss="ce", epochs=2, batch_size=10, validation_split=0.2,
                       callbacks=[Rec()], verbose=0)
    epoch = lambda e: [("epoch_begin", e), ("batch_begin", 0), ("batch_end", 0),  # noqa: E731
                       ("batch_begin", 1), ("batch_end", 1), ("epoch_end", e, True)]
    assert calls == [("train_begin", 2, 20)] + epoch(0) + epoch(1) + [("train_end",)]


def _targets(kind, rng, n, k):
    if kind == "labels":
        return rng.integers(0, k, n)
    if kind == "probs":
        p = rng.uniform(0, 1, (n, k))
        return p / p.sum(axis=1, keepdims=True)
    if kind == "binary":
        return rng.integers(0, 2, (n, k))        # integer 0/1 targets are fine for BCE
    return rng.standard_normal((n, k))


@pytest.mark.parametrize("loss,kind", [("mse", "real"), ("l1", "real"), ("huber", "real"),
                                       ("bce", "binary"), ("cross_entropy", "labels"),
                                       ("cross_entropy", "probs")])
def test_fit_every_loss_matches_reference(loss, kind):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((40, 5))
    y = _targets(kind, rng, 40, 3)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3), dtype="float64", seed=1)
    twin = ref.ReferenceNetwork.from_model(model)
    params = model.parameters()
    r_opt = ref.RefOptimizer("adam", twin.param_list(),
                             [{"params": list(range(len(params))), "lr": 0.01}],
                             [p.is_bias for p in params])
    h = model.fit(X, y, loss=loss, optimizer=optim.Adam(params, lr=0.01), epochs=2,
                  batch_size=16, shuffle=False, verbose=0)
    lf = losses.get(loss)
    yr = y.astype(np.float64) if kind == "binary" else y
    for _ in range(2):
        for s in range(0, 40, 16):
            ref.train_step(twin, X[s:s + 16], yr[s:s + 16], lf, r_opt)
    np.testing.assert_allclose(model.flat_params, twin.flat_params(), rtol=1e-10, atol=1e-12)
    assert ("accuracy" in h.history) == (kind != "real")


def test_single_callback_and_loss_subclass():
    """A lone Callback works like [Callback]; a CrossEntropyLoss subclass is still
    cross-entropy (integer labels accepted, accuracy reported): the loss equals
    nncore.reference's cross-entropy of the model's outputs."""
    class MyCE(losses.CrossEntropyLoss):
        pass

    X, y = blobs(30)
    m = mlp([4, 8, 3], seed=2)
    seen = []

    class Count(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    h = m.fit(X, y, loss=MyCE(), optimizer="sgd", epochs=2, verbose=0, callbacks=Count())
    assert seen == [0, 1] and "accuracy" in h.history
    want, _ = ref.loss("cross_entropy", m.predict(X).astype(np.float64), y)
    assert m.evaluate(X, y, loss=MyCE())["loss"] == pytest.approx(want, rel=1e-5)


# ------------------------------------------------------ the classic lessons of training
# XOR, noisy linear regression vs least squares, overfitting cured by L2 and dropout,
# early stopping restoring the best weights, a diverging learning rate caught by
# TerminateOnNaN, clipping bounding the gradient norm, schedules driving the lr.

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
