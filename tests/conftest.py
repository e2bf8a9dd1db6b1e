"""Shared fixtures: every kernel test runs over dtype x kernel family x threads.

NNCORE_ARCH in the environment pins the kernel family (CI reruns with =ref).
Tests that take the ``torch`` fixture use PyTorch as an extra oracle and carry the
``torch`` marker: skipped where torch is not installed, unless NNCORE_REQUIRE_TORCH=1
(CI, after installing torch: ``pytest -m torch``), which makes a missing torch a failure.
"""
import importlib
import os

import numpy as np
import pytest
from hypothesis import settings

import nncore  # noqa: F401  (import errors surface here, once)
from nncore import config

# CI replays the same examples every run (no flaky reds); local runs explore new ones.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

_PINNED = os.environ.get("NNCORE_ARCH")
ARCHS = [_PINNED] if _PINNED and _PINNED != "auto" else config.available_archs()


@pytest.fixture(params=ARCHS)
def arch(request):
    """Run the test with each available micro-kernel family, then restore."""
    old = config.get_arch()
    config.set_arch(request.param)
    yield request.param
    config.set_arch(old)


@pytest.fixture(params=[1, 2], ids=["t1", "t2"])
def threads(request):
    """Run the test at 1 and 2 threads, then restore."""
    with config.num_threads(request.param):
        yield request.param


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    return request.param


@pytest.fixture
def torch():
    """The torch module (PyTorch as an oracle); see the module docstring for when it skips."""
    if os.environ.get("NNCORE_REQUIRE_TORCH") == "1":
        try:
            return importlib.import_module("torch")
        except ImportError as e:
            pytest.fail(f"NNCORE_REQUIRE_TORCH=1 but torch cannot be imported: {e}")
    return pytest.importorskip("torch")


def pytest_collection_modifyitems(items):
    for item in items:
        if "torch" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.torch)
