"""Issue 2: the default thread count follows OMP_NUM_THREADS, else the core count.
Oracle: the environment itself and os.sched_getaffinity / os.cpu_count, in fresh
interpreters (the default is read at import)."""
import os
import subprocess
import sys

import pytest

import nncore

SRC = os.path.dirname(os.path.dirname(nncore.__file__))


def _threads(env_updates, drop=()):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_updates)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c",
                        "import nncore; c = nncore.show_config(print_out=False); "
                        "print(nncore.get_num_threads(), int(c['openmp']))"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    n, omp = map(int, r.stdout.split())
    return n, bool(omp)


def _cores():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@pytest.mark.parametrize("value", ["1", "2"])
def test_default_follows_omp_num_threads(value):
    n, omp = _threads({"OMP_NUM_THREADS": value})
    assert n == (int(value) if omp else 1)


def test_default_without_omp_num_threads_is_the_core_count():
    n, omp = _threads({}, drop=("OMP_NUM_THREADS",))
    assert n == (_cores() if omp else 1)
