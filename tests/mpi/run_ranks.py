"""Run under ``mpiexec -n 2`` by tests/test_distributed.py (not collected by pytest).

    mpiexec -n 2 python tests/mpi/run_ranks.py MODE OUT_DIR

Each rank writes what it computed to ``OUT_DIR/MODE.rank<r>.npz`` (parameters, history,
gradients): the test compares them with one process's training, with the other rank
and with a second run. Modes:

- ``train``: fit (float64, no dropout) over 30 steps (on an array, and on an object
  serving rows by index arrays), train_step(distributed=True) over
  30 steps, fit with dropout, validation, sample weights and an uneven last batch, the
  API functions (broadcast_parameters, allreduce_gradients), a disagreement check,
  checkpoint + resume.
- ``bad_data``: rank 1's X has a NaN: fit must raise on every rank before any step.
- ``fail_mid``: a callback raises on rank 1 in epoch 2: the job must abort (MPI Abort).
- ``bad_step``: rank 1 passes a label out of range to train_step(distributed=True) at
  its third step: the job must abort with the label error.
- ``step_disagree``: the ranks' models differ in a hidden width at their first
  train_step(distributed=True): the job must abort naming the architecture.
- ``compute_disagree``: rank 1's model computes in bfloat16, rank 0's in float32: fit
  must raise on every rank before any step, and a first train_step(distributed=True)
  must abort the job, both naming compute_dtype.
- ``sum_loss``: fit with a sum-reduction loss (and the L2 penalty reported), 2 ranks x
  batch 8: its logged training loss is compared with one process's at batch 16.
- ``zero_weight_batch``: fit with sample weights that leave rank 1's first batch of
  every epoch weighing 0 (rank 0's does not), with TerminateOnNaN: training must not stop.
- ``diverge``: rank 1 changes its weights between steps; run with
  NNCORE_DISTRIBUTED_CHECK=1, the hash check must abort the job.
- ``callbacks``: fit with a user's ModelCheckpoint (every epoch, verbose) and a
  verbose EarlyStopping: rank 0 alone writes and prints, every rank stops together.
"""
import json
import os
import sys

import numpy as np

import nncore as nc
import nncore.distributed as dist
from nncore.callbacks import Callback


def data(n, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, rng.integers(0, k, n)


def model(dropout=0.0, seed=3, dtype="float64"):
    layers = [nc.nn.Linear(6, 16), nc.nn.Tanh()]
    if dropout:
        layers.append(nc.nn.Dropout(dropout))
    layers.append(nc.nn.Linear(16, 3))
    return nc.nn.Sequential(*layers, dtype=dtype, seed=seed)


class _Rows:
    """An array-like without __array__: rows by index array only."""

    def __init__(self, X):
        self.X = X

    def __len__(self):
        return len(self.X)

    def __getitem__(self, idx):
        assert isinstance(idx, np.ndarray) and idx.dtype == np.int64
        return self.X[idx]


def train(out, r):
    res = {}
    b, steps = 8, 30
    X, y = data(2 * b * steps)
    # 1. fit: 2 ranks x batch b, one epoch of 30 steps; rank-dependent initial weights
    #    (broadcast from rank 0 must fix them)
    m = model()
    m.flat_params[:] += 0.5 * r
    h = m.fit(X, y, loss="cross_entropy", optimizer="adam", batch_size=b, epochs=1,
              verbose=0, distributed=True)
    res["fit_params"] = m.flat_params.copy()
    res["fit_loss"] = np.array(h.history["loss"])
    res["fit_acc"] = np.array(h.history["accuracy"])
    # 1b. the same fit on an object serving rows by index arrays (no __array__)
    m = model()
    m.flat_params[:] += 0.5 * r
    m.fit(_Rows(X), y, loss="cross_entropy", optimizer="adam", batch_size=b, epochs=1,
          verbose=0, distributed=True)
    res["rows_fit_params"] = m.flat_params.copy()
    # 2. train_step(distributed=True): rank r trains on rows [j*2b + r*b, j*2b + (r+1)*b)
    m2 = model()
    m2.flat_params[:] += 0.5 * r
    opt = nc.optim.SGD(m2.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for j in range(steps):
        rows = slice(j * 2 * b + r * b, j * 2 * b + (r + 1) * b)
        losses.append(m2.train_step(X[rows], y[rows], "cross_entropy", opt, distributed=True))
    res["step_params"] = m2.flat_params.copy()
    res["step_losses"] = np.array(losses)
    # 3. validation, sample weights, a padded epoch and an uneven last batch: 124 rows,
    #    99 for training (padded to 100), 7 per rank and step; then the same with dropout
    Xo, yo = data(124, seed=1)
    w = np.random.default_rng(5).uniform(0.0, 2.0, 124)
    for name, p in (("weighted", 0.0), ("drop", 0.3)):
        m3 = model(dropout=p)
        h3 = m3.fit(Xo, yo, loss="cross_entropy", batch_size=7, epochs=3, verbose=0,
                    validation_split=0.2, sample_weight=w, distributed=True)
        res[name + "_params"] = m3.flat_params.copy()
        res[name + "_step"] = np.array(m3.dropout_step)
        for k in ("loss", "accuracy", "val_loss", "val_accuracy", "grad_norm"):
            res[name + "_" + k] = np.array(h3.history[k])
    # 4. the functions: rank r's gradient is (r + 1) * g
    m4 = model(seed=3 + r)   # the functions take any model: no agreement check
    dist.broadcast_parameters(m4, root=1)
    res["bcast_params"] = m4.flat_params.copy()
    m4.zero_grad()
    m4.backward(m4.forward(X[:b], training=True) * (r + 1))
    res["local_grads"] = m4.flat_grads.copy()
    dist.allreduce_gradients(m4, op="mean")
    res["mean_grads"] = m4.flat_grads.copy()
    # 5. the ranks disagree on the architecture: a ValueError on every rank
    m5 = nc.nn.Sequential(nc.nn.Linear(6, 8 + r), nc.nn.Linear(8 + r, 3), dtype="float64")
    try:
        m5.fit(X, y, loss="cross_entropy", epochs=1, verbose=0, distributed=True)
        res["disagree"] = np.array("no error")
    except ValueError as e:
        res["disagree"] = np.array(str(e))
    # 6. checkpoint (rank 0 writes) and resume (every rank reads): the same bits as
    #    training straight through
    ck = os.path.join(out, "ck.safetensors")
    kw = dict(loss="cross_entropy", batch_size=4, verbose=0, distributed=True)
    model().fit(X[:64], y[:64], epochs=2, checkpoint=ck, **kw)
    mb, mc = model(), model()
    mb.fit(X[:64], y[:64], epochs=4, resume=ck, **kw)
    mc.fit(X[:64], y[:64], epochs=4, **kw)
    res["resume_params"], res["straight_params"] = mb.flat_params.copy(), mc.flat_params.copy()
    res["rank"], res["size"] = np.array(dist.rank()), np.array(dist.world_size())
    np.savez(os.path.join(out, f"train.rank{r}.npz"), **res)


def bad_data(out, r):
    X, y = data(64)
    if r == 1:
        X[5, 2] = np.nan
    try:
        model().fit(X, y, loss="cross_entropy", epochs=1, verbose=0, distributed=True)
        msg = "no error"
    except ValueError as e:
        msg = str(e)
    with open(os.path.join(out, f"bad_data.rank{r}.json"), "w") as f:
        json.dump({"error": msg}, f)


class _FailOnRank1(Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if dist.rank() == 1 and epoch == 1:
            raise RuntimeError("rank 1 cannot go on: simulated failure")


def fail_mid(out, r):
    X, y = data(64)
    model().fit(X, y, loss="cross_entropy", epochs=1000, verbose=0, distributed=True,
                callbacks=[_FailOnRank1()])
    with open(os.path.join(out, f"fail_mid.rank{r}.json"), "w") as f:
        json.dump({"finished": True}, f)


def bad_step(out, r):
    X, y = data(64)
    m = model()
    opt = nc.optim.SGD(m.parameters(), lr=0.1)
    for j in range(5):
        yb = y[8 * j:8 * j + 8].copy()
        if r == 1 and j == 2:
            yb[0] = 7   # 3 classes
        m.train_step(X[8 * j:8 * j + 8], yb, "cross_entropy", opt, distributed=True)
    with open(os.path.join(out, f"bad_step.rank{r}.json"), "w") as f:
        json.dump({"finished": True}, f)


def step_disagree(out, r):
    X, y = data(16)
    m = nc.nn.Sequential(nc.nn.Linear(6, 8 + r), nc.nn.Linear(8 + r, 3), dtype="float64")
    opt = nc.optim.SGD(m.parameters(), lr=0.1)
    m.train_step(X, y, "cross_entropy", opt, distributed=True)
    with open(os.path.join(out, f"step_disagree.rank{r}.json"), "w") as f:
        json.dump({"finished": True}, f)


def compute_disagree(out, r):
    X, y = data(64)
    kw = dict(loss="cross_entropy", epochs=1, batch_size=8, verbose=0, distributed=True)
    m = model(dtype="float32")
    m.compute_dtype = "bfloat16" if r == 1 else "float32"
    try:
        m.fit(X, y, **kw)
        msg = "no error"
    except ValueError as e:
        msg = str(e)
    with open(os.path.join(out, f"compute_disagree.rank{r}.json"), "w") as f:
        json.dump({"error": msg}, f)
    m = model(dtype="float32")
    m.compute_dtype = "bfloat16" if r == 1 else "float32"
    opt = nc.optim.SGD(m.parameters(), lr=0.1)
    m.train_step(X[:8], y[:8], "cross_entropy", opt, distributed=True)
    with open(os.path.join(out, f"compute_disagree_step.rank{r}.json"), "w") as f:
        json.dump({"finished": True}, f)


def sum_loss(out, r):
    X, y = data(2 * 8 * 12)
    res = {}
    for name, pen in (("plain", False), ("penalty", True)):
        m = model()
        opt = nc.optim.SGD(m.parameters(), lr=0.01, weight_decay=0.1)
        h = m.fit(X, y, loss=nc.losses.CrossEntropyLoss(reduction="sum"), optimizer=opt,
                  batch_size=8, epochs=2, verbose=0, include_penalty=pen, distributed=True)
        res[name + "_params"] = m.flat_params.copy()
        for k in ("loss", "accuracy") + (("penalty",) if pen else ()):
            res[f"{name}_{k}"] = np.array(h.history[k])
    np.savez(os.path.join(out, f"sum_loss.rank{r}.npz"), **res)


def zero_weight_batch(out, r):
    X, y = data(2 * 8 * 6)
    w = np.ones(len(y))
    w[1:16:2] = 0.0   # no shuffle: rank 1 takes the odd rows, its first batch weighs 0
    stop = nc.callbacks.TerminateOnNaN()
    m = model()
    h = m.fit(X, y, loss="cross_entropy", batch_size=8, epochs=3, shuffle=False, verbose=0,
              sample_weight=w, callbacks=[stop], distributed=True)
    np.savez(os.path.join(out, f"zero_weight_batch.rank{r}.npz"),
             params=m.flat_params.copy(), loss=np.array(h.history["loss"]),
             stopped_epoch=np.array(stop.stopped_epoch))


def diverge(out, r):
    X, y = data(64)
    m = model()
    opt = nc.optim.SGD(m.parameters(), lr=0.1)
    for j in range(5):
        m.train_step(X[8 * j:8 * j + 8], y[8 * j:8 * j + 8], "cross_entropy", opt,
                     distributed=True)
        if r == 1 and j == 1:
            m.flat_params[0] += 1e-3
    with open(os.path.join(out, f"diverge.rank{r}.json"), "w") as f:
        json.dump({"finished": True}, f)


def callbacks(out, r):
    X, y = data(96)
    ck = nc.callbacks.ModelCheckpoint(os.path.join(out, "m-{epoch}.safetensors"), verbose=1)
    es = nc.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=1e9, verbose=1)
    m = model()
    h = m.fit(X, y, loss="cross_entropy", batch_size=8, epochs=5, verbose=0,
              distributed=True, callbacks=[ck, es])
    with open(os.path.join(out, f"callbacks.rank{r}.json"), "w") as f:
        json.dump({"saved": ck.saved, "epochs": len(h.history["loss"]),
                   "stopped_epoch": es.stopped_epoch,
                   "params": m.flat_params.tolist()}, f)


if __name__ == "__main__":
    mode, out = sys.argv[1], sys.argv[2]
    dist.init()
    modes = {"train": train, "bad_data": bad_data, "fail_mid": fail_mid, "diverge": diverge,
             "bad_step": bad_step, "callbacks": callbacks, "step_disagree": step_disagree,
             "compute_disagree": compute_disagree, "sum_loss": sum_loss,
             "zero_weight_batch": zero_weight_batch}
    modes[mode](out, dist.rank())
