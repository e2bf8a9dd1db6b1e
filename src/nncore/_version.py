"""The package version: a leaf every module may import (``nncore.__version__`` reads it)."""
from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
