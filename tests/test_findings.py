"""Regression tests for bugs found by the hardening tools (sanitizers, fuzzers,
thread tests). Each names the tool and the bug. The loader findings are in
tests/test_hostile_data.py. Run under .ci/sanitize these also fail loudly if the
bug comes back; in a normal build they check the visible symptom."""
import numpy as np
import pytest

from nncore import _core

pytestmark = pytest.mark.kernel


def test_set_segments_bad_group_message_no_use_after_free():
    # ASan (.ci/sanitize): heap-use-after-free in _COptim.set_segments — the error
    # message read segs[i].group after free(segs).
    c = _core._COptim("sgd", np.float32, 10)
    c.set_groups([{"lr": 0.1}])
    for g in (1, 7, -3, 2 ** 31 - 1):
        with pytest.raises(ValueError, match=f"group {g} out of range"):
            c.set_segments([0], [10], [1], [10], [g])
    c.set_segments([0], [10], [1], [10], [0])
    assert c.n_segments == 1


def test_train_step_marks_optimizer_busy():
    # Thread review: train_step ran nn_optim_step without the GIL but did not set the
    # optimizer's busy flag, so another thread could resize its groups/segments mid-step.
    import threading
    import nncore.nn as nn
    import nncore.optim as optim
    m = nn.Sequential(nn.Linear(128, 512), nn.ReLU(), nn.Linear(512, 128), seed=0)
    X = np.ones((256, 128), np.float32)
    opt = optim.SGD(m.parameters(), lr=1e-3)
    c = opt._prepare()
    seen = []
    done = threading.Event()

    def poke():
        while not done.is_set():
            try:
                c.set_groups([{"lr": 1e-3}, {"lr": 1e-3}])
            except RuntimeError:
                seen.append(1)

    t = threading.Thread(target=poke)
    t.start()
    try:
        for _ in range(20):
            m.train_step(X, X, "mse", opt)
    finally:
        done.set()
        t.join()
    assert seen
