"""nncore.distributed and fit / train_step(distributed=True).

In this process (no MPI needed): the ImportError naming the extra, the layering promise
(a one-process fit never starts MPI), the C split of the train step (``nn_net_train_grads``
+ ``nn_net_apply_update`` around a no-op allreduce give the fused step's bits).

Under ``mpiexec -n 2`` (tests/mpi/run_ranks.py; skipped without mpi4py and mpiexec, a
failure instead with NNCORE_REQUIRE_MPI=1, as .ci/run sets): 2 ranks x batch b equal one
process x batch 2b over the same rows (the oracle: a one-process fit here, on the order
the sampler's definition gives), the replicas stay bit-identical, two runs give the same
bits, bad data stops every rank before any step, an error on one rank aborts the job.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import nncore as nc

HERE = os.path.dirname(os.path.abspath(__file__))
RANKS = os.path.join(HERE, "mpi", "run_ranks.py")
HINT = 'pip install "nncore[mpi]"'
NO_MPI4PY = "import sys; sys.modules['mpi4py'] = None\n"   # as if it were not installed


def _run(code, **kw):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, **kw)


# ------------------------------------------------------------- without MPI

def test_import_without_mpi4py_names_the_extra():
    r = _run(NO_MPI4PY + "import nncore.distributed")
    assert r.returncode != 0
    assert "ImportError" in r.stderr and HINT in r.stderr


def test_distributed_true_without_mpi4py_names_the_extra_and_plain_fit_works():
    r = _run(NO_MPI4PY + """
import numpy as np, nncore as nc
m = nc.nn.Sequential(nc.nn.Linear(3, 2), seed=0)
X, y = np.ones((8, 3)), np.zeros(8, int)
m.fit(X, y, loss="cross_entropy", epochs=1, verbose=0)        # works as ever
for call in (lambda: m.fit(X, y, loss="cross_entropy", verbose=0, distributed=True),
             lambda: m.train_step(X, y, "cross_entropy", nc.optim.SGD(m.parameters(), lr=0.1),
                                  distributed=True)):
    try:
        call()
    except ImportError as e:
        print("IMPORTERROR", e)
""")
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stdout.splitlines() if x.startswith("IMPORTERROR")]
    assert len(lines) == 2 and all(HINT in x for x in lines), r.stdout


def test_one_process_fit_never_starts_mpi():
    pytest.importorskip("mpi4py")
    r = _run("""
import sys, numpy as np, nncore as nc
m = nc.nn.Sequential(nc.nn.Linear(3, 2), seed=0)
m.fit(np.ones((8, 3)), np.zeros(8, int), loss="cross_entropy", verbose=0)
print("mpi4py.MPI" in sys.modules)
""")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_training_fit_takes_a_communicator_not_true():
    m = nc.nn.Sequential(nc.nn.Linear(3, 2), seed=0)
    with pytest.raises(TypeError, match="model.fit"):
        nc.training.fit(m, np.ones((4, 3)), np.zeros(4, int), loss="cross_entropy",
                        distributed=True)
    with pytest.raises(TypeError, match="Communicator"):
        nc.training.fit(m, np.ones((4, 3)), np.zeros(4, int), loss="cross_entropy",
                        distributed=object())
    with pytest.raises(TypeError, match="bool"):
        m.fit(np.ones((4, 3)), np.zeros(4, int), loss="cross_entropy", distributed="yes")


def test_distributed_is_a_bool_in_fit_and_train_step_and_never_a_truthy_value():
    # "no" is true for `if distributed:` and started MPI in train_step; fit refused
    # np.bool_. Both now take exactly bool / np.bool_, in a fresh process that must not
    # start MPI for a refused value; np.True_ means True (without mpi4py: the ImportError
    # naming the extra, the same as for True)
    r = _run(NO_MPI4PY + """
import sys, numpy as np, nncore as nc
m = nc.nn.Sequential(nc.nn.Linear(3, 2), seed=0)
X, y = np.ones((8, 3)), np.zeros(8, int)
opt = nc.optim.SGD(m.parameters(), lr=0.1)
calls = {"fit": lambda d: m.fit(X, y, loss="cross_entropy", verbose=0, distributed=d),
         "train_step": lambda d: m.train_step(X, y, "cross_entropy", opt, distributed=d)}
for name, call in calls.items():
    for bad in ("no", "", 0, 1, None, np.array(True), [True]):
        try:
            call(bad)
            print("ACCEPTED", name, repr(bad))
        except TypeError as e:
            print("TYPEERROR", name, type(bad).__name__, "|", e)
        except ImportError:   # taken as True: it went for MPI
            print("WENT FOR MPI", name, repr(bad))
    try:
        call(np.True_)
        print("ACCEPTED", name, "np.True_ without MPI")
    except ImportError as e:
        print("IMPORTERROR", name, e)
print("MPI started:", "mpi4py.MPI" in sys.modules)
""")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "MPI started: False"
    refused = [x for x in lines if x.startswith("TYPEERROR")]
    assert len(refused) == 14, r.stdout
    for x in refused:
        _, name, came, msg = x.split(" ", 3)
        assert msg == f"| distributed must be a bool (True or False), got {came}", x
    assert [x.split()[1] for x in lines if x.startswith("IMPORTERROR")] == \
        ["fit", "train_step"], r.stdout
    assert all(HINT in x for x in lines if x.startswith("IMPORTERROR"))


@pytest.mark.parametrize("flag", [False, np.False_])
def test_distributed_false_as_a_numpy_bool_trains_as_one_process(flag):
    # the oracle: the same model trained without the argument
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((24, 3)), rng.integers(0, 2, 24)
    models = [nc.nn.Sequential(nc.nn.Linear(3, 4), nc.nn.ReLU(), nc.nn.Linear(4, 2), seed=5)
              for _ in range(4)]
    kw = dict(loss="cross_entropy", epochs=2, batch_size=8, verbose=0)
    h_ref = models[0].fit(X, y, **kw).history
    h = models[1].fit(X, y, distributed=flag, **kw).history
    assert h["loss"] == h_ref["loss"]
    np.testing.assert_array_equal(models[1].flat_params, models[0].flat_params)
    opts = [nc.optim.Adam(m.parameters(), lr=0.01) for m in models[2:]]
    v_ref = models[2].train_step(X, y, "cross_entropy", opts[0])
    v = models[3].train_step(X, y, "cross_entropy", opts[1], distributed=flag)
    assert v == v_ref
    np.testing.assert_array_equal(models[3].flat_params, models[2].flat_params)


class _OneRank:
    """A communicator of one rank: the allreduce changes nothing."""
    rank, size = 0, 1

    def __init__(self):
        self.calls = 0

    def allreduce_sum(self, buf):
        self.calls += 1

    def after_step(self, model):
        pass


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("clip", [(0.0, 0.0), (0.5, 0.05)])
def test_split_step_gives_the_fused_steps_bits(dtype, clip):
    # nn_net_train_grads + nn_net_apply_update (the step split around the allreduce)
    # vs nn_net_train_step, over 5 steps with dropout, Adam, clipping and row weights
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5)).astype(dtype)
    y = rng.integers(0, 3, 40)
    w = rng.uniform(0.5, 2.0, 40).astype(dtype)
    models, opts = [], []
    for _ in range(2):
        m = nc.nn.Sequential(nc.nn.Linear(5, 12), nc.nn.ReLU(), nc.nn.Dropout(0.25),
                             nc.nn.Linear(12, 3), dtype=dtype, seed=7)
        models.append(m)
        opts.append(nc.optim.Adam(m.parameters(), lr=0.01))
    loss = nc.losses.get("cross_entropy")
    spec = loss._c_spec(True)
    comm = _OneRank()
    for j in range(5):
        rows = slice(8 * j, 8 * j + 8)
        a = models[0].train_step_prepared(X[rows], None, y[rows], spec, opts[0], *clip,
                                          w[rows])
        b = models[1].train_step_allreduced(X[rows], None, y[rows], spec, opts[1], *clip,
                                            comm, w[rows])
        assert a == b
        assert models[0].last_grad_norm == models[1].last_grad_norm
        np.testing.assert_array_equal(models[0].flat_params, models[1].flat_params)
        assert models[0].dropout_step == models[1].dropout_step == j + 1
    assert comm.calls == 5


# ------------------------------------------------------------ under mpiexec

def _mpiexec():
    """The mpiexec next to this Python (the mpich wheel puts it there), or on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.path.exists(here) else shutil.which("mpiexec")


def _need_mpi():
    missing = [] if importlib.util.find_spec("mpi4py") else ["mpi4py"]
    if _mpiexec() is None:
        missing.append("mpiexec")
    if missing:
        msg = f"needs {' and '.join(missing)}: {HINT}"
        if os.environ.get("NNCORE_REQUIRE_MPI"):
            pytest.fail(msg + " (NNCORE_REQUIRE_MPI is set)")
        pytest.skip(msg)


def _launch(mode, out, timeout=120, env=None):
    _need_mpi()
    t0 = time.perf_counter()
    r = subprocess.run([_mpiexec(), "-n", "2", sys.executable, RANKS, mode, str(out)],
                       capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **(env or {})))
    return r, time.perf_counter() - t0


@pytest.fixture(scope="module")
def train_runs(tmp_path_factory):
    """Two runs of the 'train' mode: [(rank 0 results, rank 1 results)] * 2."""
    runs = []
    for i in range(2):
        out = tmp_path_factory.mktemp(f"mpi_train{i}")
        r, _ = _launch("train", out, env={"NNCORE_DISTRIBUTED_CHECK": "3"} if i else None)
        assert r.returncode == 0, r.stderr
        runs.append(tuple(dict(np.load(out / f"train.rank{k}.npz")) for k in range(2)))
    return runs


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 6)), rng.integers(0, 3, n)


def _model(seed=3):
    return nc.nn.Sequential(nc.nn.Linear(6, 16), nc.nn.Tanh(), nc.nn.Linear(16, 3),
                            dtype="float64", seed=seed)


def test_two_ranks_equal_one_process_with_twice_the_batch(train_runs):
    r0, r1 = train_runs[0]
    assert int(r0["size"]) == 2 and {int(r0["rank"]), int(r1["rank"])} == {0, 1}
    b, steps = 8, 30
    X, y = _data(2 * b * steps)
    m = _model()   # rank 0's weights (rank 1's started elsewhere: broadcast)
    h = m.fit(X, y, loss="cross_entropy", optimizer="adam", batch_size=2 * b, epochs=1,
              verbose=0)
    np.testing.assert_allclose(r0["fit_params"], m.flat_params, rtol=1e-10, atol=1e-13)
    np.testing.assert_array_equal(r0["rows_fit_params"], r0["fit_params"])   # array-like X
    np.testing.assert_allclose(r0["fit_loss"], h.history["loss"], rtol=1e-10)
    np.testing.assert_allclose(r0["fit_acc"], h.history["accuracy"], rtol=1e-10)
    # train_step(distributed=True): rank r's rows are the r-th half of each 2b block
    m2 = _model()
    opt = nc.optim.SGD(m2.parameters(), lr=0.1, momentum=0.9)
    losses = [m2.train_step(X[2 * b * j:2 * b * (j + 1)], y[2 * b * j:2 * b * (j + 1)],
                            "cross_entropy", opt) for j in range(steps)]
    np.testing.assert_allclose(r0["step_params"], m2.flat_params, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose((r0["step_losses"] + r1["step_losses"]) / 2, losses,
                               rtol=1e-10)


def test_a_sum_loss_logs_what_one_process_with_twice_the_batch_logs(tmp_path):
    # reduction="sum": each rank's step loss is the sum over ITS rows; the step's loss
    # over both ranks is their sum (as the gradients are), logged like one process's
    r, _ = _launch("sum_loss", tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    r0 = dict(np.load(tmp_path / "sum_loss.rank0.npz"))
    X, y = _data(2 * 8 * 12)
    for name, pen in (("plain", False), ("penalty", True)):
        m = _model()
        opt = nc.optim.SGD(m.parameters(), lr=0.01, weight_decay=0.1)
        h = m.fit(X, y, loss=nc.losses.CrossEntropyLoss(reduction="sum"), optimizer=opt,
                  batch_size=16, epochs=2, verbose=0, include_penalty=pen)
        np.testing.assert_allclose(r0[name + "_params"], m.flat_params, rtol=1e-10,
                                   atol=1e-13)
        for k in ("loss", "accuracy") + (("penalty",) if pen else ()):
            np.testing.assert_allclose(r0[f"{name}_{k}"], h.history[k], rtol=1e-10,
                                       err_msg=f"{name} {k}")


def test_a_rank_whose_batch_weighs_nothing_does_not_stop_training(tmp_path):
    # a rank with no weight in a step trains on nothing (its step returns nan): like a
    # zero-weight batch of one process, it is not a batch TerminateOnNaN judges
    r, _ = _launch("zero_weight_batch", tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    X, y = _data(2 * 8 * 6)
    w = np.ones(len(y))
    w[1:16:2] = 0.0
    stop = nc.callbacks.TerminateOnNaN()
    m = _model()
    h = m.fit(X, y, loss="cross_entropy", batch_size=16, epochs=3, shuffle=False,
              verbose=0, sample_weight=w, callbacks=[stop])
    assert stop.stopped_epoch == -1 and len(h.history["loss"]) == 3
    for k in (0, 1):
        got = dict(np.load(tmp_path / f"zero_weight_batch.rank{k}.npz"))
        assert int(got["stopped_epoch"]) == -1, f"rank {k} stopped"
        np.testing.assert_allclose(got["loss"], h.history["loss"], rtol=1e-10)
        np.testing.assert_allclose(got["params"], m.flat_params, rtol=1e-10, atol=1e-13)


def test_weights_padding_validation_equal_one_process(train_runs):
    # the sampler's definition, written out: epoch e's permutation of the training rows
    # (np.random.default_rng([seed, e])), padded by repeating its start to a multiple of
    # 2; the 2 ranks' step j covers its entries [14 j, 14 (j + 1)): one process, batch 14
    r0 = train_runs[0][0]
    Xo, yo = _data(124, seed=1)
    w = np.random.default_rng(5).uniform(0.0, 2.0, 124)
    ntr = int(124 * 0.8)
    m = _model()
    opt = nc.optim.Adam(m.parameters())
    hist = {k: [] for k in ("loss", "accuracy", "val_loss", "val_accuracy")}
    for e in range(3):
        perm = np.random.default_rng([m.seed, e]).permutation(ntr)
        order = np.concatenate([perm, perm[:(-ntr) % 2]])
        h = m.fit(Xo[order], yo[order], loss="cross_entropy", optimizer=opt, batch_size=14,
                  epochs=1, shuffle=False, verbose=0, sample_weight=w[order],
                  validation_data=(Xo[ntr:], yo[ntr:], w[ntr:]))
        for k in hist:
            hist[k] += h.history[k]
    np.testing.assert_allclose(r0["weighted_params"], m.flat_params, rtol=1e-10, atol=1e-13)
    for k, v in hist.items():
        np.testing.assert_allclose(r0["weighted_" + k], v, rtol=1e-10, err_msg=k)


def test_replicas_stay_identical_and_runs_repeat_bit_for_bit(train_runs):
    (a0, a1), (b0, b1) = train_runs
    for k in a0:
        if k in ("rank", "local_grads", "step_losses"):   # per-rank by design
            continue
        np.testing.assert_array_equal(a0[k], a1[k], err_msg=f"replicas differ: {k}")
    for k in a0:   # the second run (with the hash check every 3 steps) repeats the first
        np.testing.assert_array_equal(a0[k], b0[k], err_msg=f"run 2 differs: {k}")
        np.testing.assert_array_equal(a1[k], b1[k], err_msg=f"run 2 differs: {k}")
    # dropout: a stream per rank, every step counted once on every rank
    assert int(a0["drop_step"]) == 3 * 8
    assert not np.array_equal(a0["drop_params"], a0["weighted_params"])


def test_the_functions(train_runs):
    r0, r1 = train_runs[0]
    np.testing.assert_array_equal(r0["bcast_params"], _model(seed=4).flat_params)  # root=1
    np.testing.assert_allclose(r0["mean_grads"], (r0["local_grads"] + r1["local_grads"]) / 2,
                               rtol=1e-14)
    np.testing.assert_array_equal(r0["resume_params"], r0["straight_params"])
    assert "disagree on architecture" in str(r0["disagree"])
    assert str(r0["disagree"]) == str(r1["disagree"])


def test_bad_data_on_one_rank_raises_on_every_rank(tmp_path):
    r, secs = _launch("bad_data", tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    e0, e1 = (json.load(open(tmp_path / f"bad_data.rank{k}.json"))["error"] for k in (0, 1))
    assert "NaN" in e1
    assert "rank 1" in e0 and "NaN" in e0 and "no rank trained" in e0


def test_an_error_on_one_rank_aborts_the_job(tmp_path):
    r, secs = _launch("fail_mid", tmp_path, timeout=60)   # 1000 epochs if nothing stops it
    assert r.returncode != 0
    assert "simulated failure" in r.stderr and "MPI Abort" in r.stderr
    assert not list(tmp_path.glob("fail_mid.rank*.json"))
    assert secs < 30


def test_one_rank_without_mpiexec_gives_the_one_process_bits():
    # MPI's singleton start: distributed=True with a world of 1 is plain fit, bit for bit
    pytest.importorskip("mpi4py")
    r = _run("""
import numpy as np, nncore as nc
rng = np.random.default_rng(0)
X, y = rng.standard_normal((90, 4)), rng.integers(0, 2, 90)
out = []
for d in (False, True):
    m = nc.nn.Sequential(nc.nn.Linear(4, 8), nc.nn.ReLU(), nc.nn.Dropout(0.2),
                         nc.nn.Linear(8, 2), seed=1)
    h = m.fit(X, y, loss="cross_entropy", epochs=3, batch_size=16, verbose=0,
              validation_split=0.2, distributed=d)
    out.append((m.flat_params.tobytes(), h.history["loss"], h.history["val_loss"]))
print(out[0] == out[1])
""")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "True"


def test_cli_train_distributed_saves_what_one_process_trains(tmp_path):
    # mpiexec -n 2 nncore train --data X.npy --target y.npy --distributed, batch 16 per
    # rank, vs one process with batch 32: the same model (float64, no dropout)
    _need_mpi()
    rng = np.random.default_rng(0)
    np.save(tmp_path / "X.npy", rng.standard_normal((640, 5)))
    np.save(tmp_path / "y.npy", rng.integers(0, 3, 640))
    common = ["train", "--data", str(tmp_path / "X.npy"), "--target", str(tmp_path / "y.npy"),
              "--dtype", "float64", "--epochs", "2", "--hidden", "8", "--verbose", "0",
              "--val-size", "0.125"]   # 448 training rows: no padding, 14 whole steps
    nncore_cli = [sys.executable, "-m", "nncore"]
    r = subprocess.run([_mpiexec(), "-n", "2"] + nncore_cli + common +
                       ["--batch-size", "16", "--distributed", "--out", str(tmp_path / "d.st")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("saved model") == 1   # rank 0 alone prints and saves
    r1 = subprocess.run(nncore_cli + common + ["--batch-size", "32", "--out",
                                               str(tmp_path / "one.st")],
                        capture_output=True, text=True, timeout=120)
    assert r1.returncode == 0, r1.stderr
    a, b = nc.load(tmp_path / "d.st"), nc.load(tmp_path / "one.st")
    np.testing.assert_allclose(a.flat_params, b.flat_params, rtol=1e-10, atol=1e-13)


def test_a_bad_batch_in_one_ranks_train_step_aborts_the_job(tmp_path):
    r, secs = _launch("bad_step", tmp_path, timeout=60)
    assert r.returncode != 0
    assert "train_step failed" in r.stderr and "ValueError" in r.stderr
    assert not list(tmp_path.glob("bad_step.rank*.json"))
    assert secs < 30


def test_ranks_disagreeing_on_the_model_at_their_first_train_step_abort_clearly(tmp_path):
    r, _ = _launch("step_disagree", tmp_path, timeout=60)
    assert r.returncode != 0
    assert "distributed train_step: the ranks disagree on architecture" in r.stderr
    assert "MPI Abort" in r.stderr
    assert not list(tmp_path.glob("step_disagree.rank*.json"))


def test_ranks_disagreeing_on_compute_dtype_are_refused_before_any_step(tmp_path):
    # bf16 on one rank and fp32 on the other would average gradients of two different
    # computations into one silently mixed run; compute_dtype is part of the model
    # (get_config, model files), so it is checked with the architecture
    r, _ = _launch("compute_disagree", tmp_path, timeout=60)
    e0, e1 = (json.load(open(tmp_path / f"compute_disagree.rank{k}.json"))["error"]
              for k in (0, 1))
    assert e0 == e1 and "compute_dtype" in e0, (e0, e1)
    assert r.returncode != 0   # the train_step half: the job aborts
    assert "distributed train_step: the ranks disagree on" in r.stderr
    assert "compute_dtype" in r.stderr and "MPI Abort" in r.stderr
    assert not list(tmp_path.glob("compute_disagree_step.rank*.json"))


def test_the_hash_check_catches_replicas_that_drift(tmp_path):
    r, _ = _launch("diverge", tmp_path, timeout=60, env={"NNCORE_DISTRIBUTED_CHECK": "1"})
    assert r.returncode != 0
    assert "replicas differ" in r.stderr
    assert not list(tmp_path.glob("diverge.rank*.json"))
    r, _ = _launch("diverge", tmp_path, timeout=60, env={"NNCORE_DISTRIBUTED_CHECK": "0"})
    assert r.returncode == 0, r.stderr   # unchecked, the drift goes unnoticed


def test_only_rank_0_writes_checkpoints_and_prints_callback_messages(tmp_path):
    # a user's ModelCheckpoint (verbose) and EarlyStopping (verbose, stops after epoch 2:
    # no loss beats the best by 1e9) given to fit(distributed=True) on 2 ranks
    r, _ = _launch("callbacks", tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    got = [json.load(open(tmp_path / f"callbacks.rank{k}.json")) for k in (0, 1)]
    files = sorted(p.name for p in tmp_path.glob("m-*.safetensors"))
    assert files == ["m-1.safetensors", "m-2.safetensors"]
    assert [os.path.basename(p) for p in got[0]["saved"]] == files
    assert got[1]["saved"] == []                       # rank 1 wrote nothing
    assert got[0]["epochs"] == got[1]["epochs"] == 2   # both stopped together
    assert got[0]["stopped_epoch"] == got[1]["stopped_epoch"] == 1
    assert r.stdout.count("saved the model to") == 2   # one line per epoch, not per rank
    assert r.stdout.count("EarlyStopping: stopped") == 1
    # the last file holds the replicas' parameters (EarlyStopping restored epoch 1's)
    m2 = nc.load(tmp_path / "m-2.safetensors")
    assert got[0]["params"] == got[1]["params"]
    assert not np.array_equal(m2.flat_params, np.array(got[0]["params"]))
    np.testing.assert_array_equal(nc.load(tmp_path / "m-1.safetensors").flat_params,
                                  np.array(got[0]["params"]))
