"""The optional dependencies of nncore.sklearn, checked once with a message that says
how to get them (``pip install "nncore[sklearn]"``).

What it is for: the first import of the package (``nncore/sklearn/__init__.py``
imports this module before any other). What it is not: a version shim; the
estimators use scikit-learn's public API of version 1.6 and later.
"""
from __future__ import annotations

_HINT = 'nncore.sklearn needs scikit-learn (>= 1.6) and scipy: pip install "nncore[sklearn]"'

try:
    import scipy  # noqa: F401
    import sklearn
except ImportError as e:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(f"{_HINT} ({e})") from e

_version = tuple(int(p) for p in sklearn.__version__.split(".")[:2] if p.isdigit())
if _version < (1, 6):  # pragma: no cover - the test environments have a newer release
    raise ImportError(f"{_HINT}; found scikit-learn {sklearn.__version__}")
