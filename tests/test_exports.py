"""Every public module says what it exports: ``__all__``, and ``from nncore.X import *``
gives exactly that — no private names, no ``annotations`` leaking from
``from __future__ import annotations`` (ops.py used to export it)."""
import importlib
import pkgutil

import pytest

import nncore

PUBLIC = ["nncore"] + sorted(
    m.name for m in pkgutil.walk_packages(nncore.__path__, "nncore.")
    if not any(part.startswith("_") for part in m.name.split(".")))


def test_the_walk_finds_the_public_modules():
    assert {"nncore.ops", "nncore.nn", "nncore.losses", "nncore.optim", "nncore.io",
            "nncore.training", "nncore.callbacks", "nncore.history", "nncore.datasets",
            "nncore.utils", "nncore.config", "nncore.gradcheck", "nncore.plotting",
            "nncore.progress", "nncore.optim.lr_scheduler", "nncore.reference"} <= set(PUBLIC)


# public modules of an optional extra -> the packages they need (skipped without them)
EXTRAS = {"nncore.onnx": ("onnx",), "nncore.sklearn": ("sklearn", "scipy"),
          "nncore.distributed": ("mpi4py",)}


@pytest.mark.parametrize("name", PUBLIC)
def test_star_import_exports_exactly_all(name):
    for package in EXTRAS.get(name, ()):
        pytest.importorskip(package)
    mod = importlib.import_module(name)
    assert isinstance(getattr(mod, "__all__", None), list), f"{name} has no __all__"
    assert len(set(mod.__all__)) == len(mod.__all__), "duplicates in __all__"
    for n in mod.__all__:
        assert hasattr(mod, n), f"{name}.__all__ names {n!r}, which it lacks"
    ns: dict = {}
    exec(f"from {name} import *", ns)
    del ns["__builtins__"]
    assert set(ns) == set(mod.__all__)
    assert "annotations" not in ns
    assert not [n for n in ns if n.startswith("_") and n != "__version__"]
