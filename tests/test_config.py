"""Configuration: kernel selection, threads, show_config; the default thread count
follows OMP_NUM_THREADS, else the core count (oracle: the environment and
os.sched_getaffinity, in fresh interpreters: the default is read at import)."""
import os
import re
import subprocess
import sys

import pytest

import nncore
from nncore import config

pytestmark = pytest.mark.kernel


def test_show_config_reports_build_and_runtime(capsys):
    cfg = nncore.show_config()
    out = capsys.readouterr().out
    assert cfg["version"] == nncore.__version__
    assert cfg["arch"] in cfg["archs_available"]
    assert "ref" in cfg["archs_available"]
    assert cfg["num_threads"] == nncore.get_num_threads() >= 1
    assert isinstance(cfg["openmp"], bool)
    for key in cfg.keys() - {"num_threads"}:      # printed as the `threads` line
        assert re.search(rf"^{key} +: ", out, re.M), key


def _threads_line(n, openmp):
    if openmp:
        return f"{n} (nncore worker team; OMP_NUM_THREADS honoured)"
    return f"{n} (built without OpenMP: every loop on the calling thread)"


@pytest.mark.parametrize("n", [1, 2])
def test_show_config_says_what_runs_the_threads(capsys, n):
    openmp = config.show_config(print_out=False)["openmp"]
    with config.num_threads(n):
        cfg = nncore.show_config()
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("threads ")]
    n_eff = n if openmp else 1
    assert cfg["num_threads"] == n_eff
    assert cfg["threads"] == _threads_line(n_eff, openmp)
    assert len(lines) == 1 and re.fullmatch(r"threads +: (.*)", lines[0])[1] == cfg["threads"]


def test_set_num_threads_roundtrip_and_errors():
    old = nncore.get_num_threads()
    try:
        nncore.set_num_threads(1)
        assert nncore.get_num_threads() == 1
        if config.show_config(print_out=False)["openmp"]:
            nncore.set_num_threads(2)
            assert nncore.get_num_threads() == 2
    finally:
        nncore.set_num_threads(old)
    for bad in (0, -3, 10**30):
        with pytest.raises(ValueError, match="between 1 and"):
            nncore.set_num_threads(bad)
    with pytest.raises(TypeError):
        nncore.set_num_threads(1.5)


def test_unknown_arch_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown kernel family"):
        config.set_arch("sparc")


def test_nncore_arch_env_unknown_fails_at_import():
    env = dict(os.environ, NNCORE_ARCH="sparc")
    r = subprocess.run([sys.executable, "-c", "import nncore"], env=env,
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert "NNCORE_ARCH=sparc" in r.stderr


def test_nncore_arch_env_ref_is_honoured():
    env = dict(os.environ, NNCORE_ARCH="ref")
    r = subprocess.run([sys.executable, "-c", "import nncore; print(nncore.config.get_arch())"],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ref"


SRC = os.path.dirname(os.path.dirname(nncore.__file__))


def _fresh_threads(env_updates, drop=()):
    """Thread count, OpenMP flag and printed `threads` line of a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_updates)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c",
                        "import nncore; c = nncore.show_config(print_out=False); "
                        "print(nncore.get_num_threads(), int(c['openmp'])); print(c['threads'])"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    first, line = r.stdout.splitlines()
    n, omp = map(int, first.split())
    assert line == _threads_line(n, bool(omp))
    return n, bool(omp)


def _cores():
    return len(os.sched_getaffinity(0)) if sys.platform.startswith("linux") else os.cpu_count()


@pytest.mark.parametrize("value", ["1", "2"])
def test_default_follows_omp_num_threads(value):
    n, omp = _fresh_threads({"OMP_NUM_THREADS": value})
    assert n == (int(value) if omp else 1)


def test_default_without_omp_num_threads_is_the_core_count():
    n, omp = _fresh_threads({}, drop=("OMP_NUM_THREADS",))
    assert n == (_cores() if omp else 1)
