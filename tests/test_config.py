"""Configuration: kernel selection, threads, show_config."""
import os
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
    for key in cfg:
        assert key in out


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
