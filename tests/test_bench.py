"""`nncore bench`: the harness verifies against its peers before timing, and runs end to end.

Only the NumPy peers here (torch / JAX / scikit-learn are not installed in CI);
timings are not checked, only that the run completes and reports every contender.
"""
import json

import numpy as np
import pytest

from nncore import _bench


def test_lean_numpy_trainer_matches_nncore():
    """The NumPy peer computes the same training steps as nncore (3 steps, float32)."""
    model, opt, ce = _bench._nncore((8, 16, 4))
    peer = _bench._NumpyMLP(_bench._weights(model))
    for x, y in _bench._batches((8, 16, 4), 5, 3):
        np.testing.assert_allclose(peer.step(x, y), model.train_step(x, y, ce, opt),
                                   rtol=1e-5)


def test_train_small_runs_and_writes_json(tmp_path, capsys):
    path = tmp_path / "r.json"
    rc = _bench.main(["train", "--workloads", "small", "--rounds", "1", "--threads", "1",
                      "--skip", "torch,jax,sklearn", "--json", str(path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "| small 64-128-64-10 b32 |" in out
    r = json.loads(path.read_text())["train"]["small"]
    assert set(r) >= {"nncore", "numpy", "reference"}
    assert all(v > 0 for v in r.values())


def test_infer_and_memory_run(capsys):
    assert _bench.main(["infer", "--rounds", "1", "--threads", "1",
                        "--skip", "torch,jax,sklearn"]) == 0
    assert "latency 64-128-64-10 b1" in capsys.readouterr().out
    m = _bench.bench_memory(steps=200)
    assert m["python_heap_growth_1000_steps"] < 4096


def test_unknown_workload_is_rejected():
    with pytest.raises(SystemExit):
        _bench.main(["train", "--workloads", "huge", "--skip", "torch,jax,sklearn"])
