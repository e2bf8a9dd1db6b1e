"""fit's data path: the training metrics come from the steps' own outputs (a running
mean over the epoch, as Keras reports it), and X is read a batch at a time (a
read-only np.memmap is never loaded whole).

Oracles: nncore.reference's trainer (NumPy, float64, the same Philox dropout masks)
driven through fit's documented batching, whose forward outputs give the expected
per-batch predictions; the same fit on an in-memory copy for the memmap."""
import tracemalloc

import numpy as np
import pytest

import nncore.nn as nn
from nncore import callbacks as C
from nncore import _core, config, losses, optim, training
from nncore import reference as ref


def blobs(n, d=6, k=3, seed=2):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=1.5, size=(k, d))
    y = rng.integers(0, k, size=n)
    return centers[y] + rng.normal(size=(n, d)), y


def _model(nout, seed=9, dropout=0.2):
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, nout),
                         dtype="float64", seed=seed)


def _reference_run(model, X, Y, loss, epochs, batch, stop_after=None):
    """Per epoch (loss, accuracy) of the reference trainer over fit's batches: the
    running means over the batches, each judged by its own training-forward output.
    stop_after: (epoch, batches) after which training stops."""
    twin = ref.ReferenceNetwork.from_model(model)
    params = model.parameters()
    r_opt = ref.RefOptimizer("sgd", twin.param_list(),
                             [dict(lr=0.05, momentum=0.9, params=list(range(len(params))))],
                             [p.is_bias for p in params])
    kind = losses.output_kind(losses.get(loss))
    n = len(X)
    out_log = []
    for e in range(epochs):
        perm = np.random.default_rng([model.seed, e]).permutation(n)
        tot, right, judged = 0.0, 0, 0
        for b, s in enumerate(range(0, n, batch)):
            idx = perm[s:s + batch]
            v, _ = ref.train_step(twin, X[idx], Y[idx], loss, r_opt)
            out = twin._cache[-1]   # this step's training forward (before its update)
            tot += v * len(idx)
            if kind == "ce":
                truth = Y[idx] if Y.ndim == 1 else Y[idx].argmax(1)
                right += int(np.sum(out.argmax(1) == truth))
                judged += len(idx)
            else:
                right += int(np.sum((out > 0) == (Y[idx].reshape(out.shape) > 0.5)))
                judged += out.size
            if stop_after == (e, b + 1):
                out_log.append((tot / (s + len(idx)), right / judged))
                return twin, out_log
        out_log.append((tot / n, right / judged))
    return twin, out_log


@pytest.mark.parametrize("block", [None, 40])      # 40 rows: scored every 2 batches of 16
@pytest.mark.parametrize("target", ["labels", "probabilities", "bce"])
def test_train_accuracy_is_running_mean_of_step_outputs(block, target, monkeypatch):
    if block is not None:
        monkeypatch.setattr(training, "_ACC_BLOCK", block)
    X, y = blobs(90)
    if target == "labels":
        Y, loss, nout = y, "cross_entropy", 3
    elif target == "probabilities":
        Y, loss, nout = np.eye(3)[y] * 0.8 + 0.2 / 3, "cross_entropy", 3
    else:
        Y, loss, nout = (y == 1).astype(float), "bce", 1
    model = _model(nout)
    twin, want = _reference_run(model, X, Y, loss, epochs=3, batch=16)
    h = model.fit(X, Y, loss=loss, optimizer=optim.SGD(model.parameters(), lr=0.05,
                                                        momentum=0.9),
                  epochs=3, batch_size=16, verbose=0)
    np.testing.assert_allclose(model.flat_params, twin.flat_params(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h.history["loss"], [w[0] for w in want], rtol=1e-10)
    assert h.history["accuracy"] == [w[1] for w in want]
    # not the end-of-epoch inference accuracy any more (dropout, moving weights)
    assert model.dropout_step == twin.step


def test_stopped_epoch_reports_the_batches_it_trained():
    X, y = blobs(90)
    model = _model(3, seed=4)
    twin, want = _reference_run(model, X, y, "cross_entropy", epochs=2, batch=16,
                                stop_after=(1, 3))

    class StopAfterThree(C.Callback):
        def on_batch_end(self, batch, logs=None):
            if self.model.epochs_trained == 1 and batch == 2:
                self.model.stop_training = True

    h = model.fit(X, y, loss="cross_entropy",
                  optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                  epochs=2, batch_size=16, verbose=0, callbacks=[StopAfterThree()])
    assert h.stopped_early and len(h.history["loss"]) == 2
    np.testing.assert_allclose(h.history["loss"], [w[0] for w in want], rtol=1e-10)
    assert h.history["accuracy"] == [w[1] for w in want]
    np.testing.assert_allclose(model.flat_params, twin.flat_params(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("block", [None, 40])
@pytest.mark.parametrize("shuffle", [False, True])
def test_weighted_train_accuracy_skips_batches_that_weigh_nothing(block, shuffle, monkeypatch):
    """Sample weights: the running accuracy weighs each row like the loss does; a batch
    whose rows all weigh 0 trains nothing and counts nothing. Oracle: a NumPy forward
    of the weights before each step of a hand loop of train_step (float64, no dropout)."""
    if block is not None:
        monkeypatch.setattr(training, "_ACC_BLOCK", block)
    X, y = blobs(90)
    w = np.random.default_rng(7).uniform(0.0, 3.0, size=90)
    w[32:48] = 0.0            # unshuffled: the third batch of 16 weighs nothing
    a, b = _model(3, dropout=0.0), _model(3, dropout=0.0)
    h = a.fit(X, y, loss="cross_entropy", optimizer=optim.SGD(a.parameters(), lr=0.05),
              epochs=2, batch_size=16, shuffle=shuffle, sample_weight=w, verbose=0)
    opt = optim.SGD(b.parameters(), lr=0.05)
    want = []
    for e in range(2):
        order = (np.random.default_rng([b.seed, e]).permutation(90) if shuffle
                 else np.arange(90))
        right = total = 0.0
        for s in range(0, 90, 16):
            idx = order[s:s + 16]
            if w[idx].sum() == 0:
                continue
            W0, b0, W1, b1 = (p.data for p in b.parameters())
            out = np.maximum(X[idx] @ W0.T + b0, 0.0) @ W1.T + b1
            right += float(np.dot(out.argmax(1) == y[idx], w[idx]))
            total += float(w[idx].sum())
            b.train_step(X[idx], y[idx], "cross_entropy", opt, sample_weight=w[idx])
        want.append(right / total)
    np.testing.assert_array_equal(a.flat_params, b.flat_params)
    np.testing.assert_allclose(h.history["accuracy"], want, rtol=1e-12)


@pytest.mark.parametrize("shuffle", [True, False])
def test_memmap_X_is_read_a_batch_at_a_time(tmp_path, shuffle):
    """A read-only np.memmap trains to the same bits as the array in memory, and fit's
    Python allocations (tracemalloc sees NumPy's) stay far below the data size."""
    n, d = 16000, 128   # 8 MB
    rng = np.random.default_rng(0)
    data = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.integers(0, 10, size=n)
    path = tmp_path / "X.f32"
    data.tofile(path)
    del data
    X = np.memmap(path, dtype=np.float32, mode="r", shape=(n, d))

    def model():
        return nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, 10), seed=1)

    m = model()
    opt = optim.Adam(m.parameters())
    tracemalloc.start()
    try:
        h = m.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=2, batch_size=64,
                  shuffle=shuffle, validation_split=0.1, verbose=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 8, f"fit allocated {peak} bytes for {X.nbytes} bytes of X"
    twin = model()
    h2 = twin.fit(np.array(X), y, loss="cross_entropy", optimizer=optim.Adam(twin.parameters()),
                  epochs=2, batch_size=64, shuffle=shuffle, validation_split=0.1, verbose=0)
    np.testing.assert_array_equal(m.flat_params, twin.flat_params)
    assert h.history["loss"] == h2.history["loss"]
    assert h.history["accuracy"] == h2.history["accuracy"]
    assert h.history["val_loss"] == h2.history["val_loss"]


def test_nan_in_a_late_block_of_X_is_found_with_its_row():
    """The NaN/Inf check of X reads it in blocks; the message still names the row."""
    m = nn.Sequential(nn.Linear(300, 2), seed=0)
    X = np.zeros((5000, 300), dtype=np.float32)   # about 6 blocks of 1 MiB
    X[4321, 17] = np.inf
    with pytest.raises(ValueError, match=r"row 4321, column 17"):
        m.fit(X, np.zeros(5000, dtype=np.int64), loss="cross_entropy", verbose=0)
    with pytest.raises(ValueError, match=r"row 4321, column 17"):
        m.predict(X)


# ------------------------------------------------- the C helpers behind the path

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gather_rows_equals_fancy_indexing(dtype):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((50, 7)).astype(dtype)
    out = np.full((16, 7), np.nan, dtype)
    idx = rng.permutation(50)[:11]
    got = _core._gather_rows(out, X, idx)
    assert got is out
    np.testing.assert_array_equal(out[:11], X[idx])
    assert np.isnan(out[11:]).all()            # rows past len(idx) untouched


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("width, dtype", [(784, np.float32), (7, np.float64), (1, np.float32)])
def test_gather_rows_on_the_team_equals_fancy_indexing(threads, width, dtype):
    # batches of 64 KiB and more are cut into blocks of rows for the worker team;
    # every block boundary and the short last block must land where NumPy puts them
    rng = np.random.default_rng(width)
    X = rng.standard_normal((3000, width)).astype(dtype)
    m = 2500 if width < 100 else 301                 # 301 rows: uneven blocks
    idx = np.concatenate([rng.permutation(3000)[:m - 3], [0, 2999, 0]])  # ends, repeats
    out = np.full((m + 2, width), np.nan, dtype)
    with config.num_threads(threads):
        got = _core._gather_rows(out, X, idx)
    assert got is out
    np.testing.assert_array_equal(out[:m], X[idx])
    assert np.isnan(out[m:]).all()


@pytest.mark.parametrize("bad, exc", [
    (dict(idx=np.array([0, 50])), IndexError),
    (dict(idx=np.array([-1, 2])), IndexError),
    (dict(idx=np.arange(17)), ValueError),                       # more rows than out has
    (dict(out=np.empty((16, 6), np.float32)), ValueError),       # other width
    (dict(out=np.empty((16, 7), np.float64)), ValueError),       # other dtype
    (dict(out=np.empty((7, 16), np.float32).T), ValueError),     # not C-contiguous
    (dict(idx=np.array([0, 1], dtype=np.int32)), ValueError),    # indices not int64
    (dict(X=[[0.0] * 7]), TypeError),
])
def test_gather_rows_refuses_what_it_cannot_copy(bad, exc):
    args = dict(out=np.zeros((16, 7), np.float32), X=np.ones((50, 7), np.float32),
                idx=np.array([3, 4]))
    args.update(bad)
    before = args["out"].copy() if isinstance(args["out"], np.ndarray) else None
    with pytest.raises(exc):
        _core._gather_rows(args["out"], args["X"], args["idx"])
    np.testing.assert_array_equal(args["out"], before)


@pytest.mark.parametrize("n", [1, 5, 1 << 16])   # the large one releases the GIL
def test_scans_equal_numpy_reductions(n):
    rng = np.random.default_rng(n)
    a = rng.integers(-(2 ** 62), 2 ** 62, size=n)
    assert _core._int64_range(a) == (a.min(), a.max())
    for dtype in (np.float32, np.float64):
        f = rng.standard_normal(n).astype(dtype)
        assert _core._finite_range(f) == (True, f.min(), f.max())
        for bad in (np.nan, np.inf, -np.inf):
            g = f.copy()
            g[n // 2] = bad
            assert _core._finite_range(g)[0] is False
    with pytest.raises(ValueError):
        _core._int64_range(np.zeros(0, np.int64))
    with pytest.raises(ValueError):
        _core._finite_range(np.zeros(3, np.float16))


def test_labels_fast_path_only_takes_what_the_full_check_accepts_as_is():
    y = np.array([0, 2, 1, 2])
    assert _core._labels_ready(y, 4, 3) is y
    for other in (y.astype(np.int32), y.reshape(4, 1), np.repeat(y, 2)[::2],
                  y.view(np.ndarray).view(type("Sub", (np.ndarray,), {})),
                  y.astype(">i8"), [0, 2, 1, 2]):
        assert _core._labels_ready(other, 4, 3) is None
    assert _core._labels_ready(np.array([0, 3, 1, 2]), 4, 3) is None    # out of range
    assert _core._labels_ready(np.array([0, -1, 1, 2]), 4, 3) is None
    assert _core._labels_ready(y, 5, 3) is None                          # other batch
    assert _core._labels_ready(np.zeros(0, np.int64), 0, 3) is None
    # and the full check still answers for those (the one check of nncore._targets)
    ce = losses.CrossEntropyLoss()
    with pytest.raises(ValueError, match=r"class labels must be in \[0, 3\), got 3"):
        ce.check_target(np.array([0, 3, 1, 2]), (4, 3), np.float32, "y")
    got = ce.check_target(np.repeat(y, 2)[::2], (4, 3), np.float32, "y")
    assert got.flags.c_contiguous and got.tolist() == y.tolist()


def test_train_step_reads_ready_x_in_place_and_prepares_the_rest():
    """train_step's one C-level check (readable) passes exactly the arrays _prepare_x
    returns unchanged; every other x is prepared and trains the same."""
    rng = np.random.default_rng(0)
    wide = rng.standard_normal((8, 12)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    m0 = nn.Sequential(nn.Linear(6, 3), seed=0)
    for x in (wide[:, :6], np.ascontiguousarray(wide[:, :6]), wide[:1, :6]):
        assert m0._net.readable(x) and m0._prepare_x(x) is x
    for x in (wide[::-1, :6], wide[:, :6].astype(np.float64), wide[:, :12:2],
              np.asfortranarray(wide[:, :6]), wide[:, :6].tolist(), wide[:0, :6]):
        assert not m0._net.readable(x)
    spread = np.zeros((8, 12), np.float32)
    spread[:, ::2] = wide[:, :6]                 # the same values, columns 2 apart
    results = []
    for x in (np.ascontiguousarray(wide[:, :6]), wide[:, :6], wide[:, :6].astype(np.float64),
              np.asfortranarray(wide[:, :6]), wide[:, :6].tolist(), spread[:, ::2]):
        m = nn.Sequential(nn.Linear(6, 3), seed=0)
        opt = optim.SGD(m.parameters(), lr=0.1)
        results.append((m.train_step(x, y, "cross_entropy", opt), m.flat_params.copy()))
    for value, params in results[1:]:
        assert value == results[0][0]
        np.testing.assert_array_equal(params, results[0][1])
