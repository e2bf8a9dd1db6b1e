"""Optional peers of the tests (onnx, onnxruntime): skipped when missing, unless CI asks
for them (NNCORE_REQUIRE_ONNX=1 turns the skip into a failure)."""
import importlib
import os

import pytest


def need(module):
    """``module`` imported; the calling test module is skipped without it (an ImportError
    under NNCORE_REQUIRE_ONNX)."""
    if os.environ.get("NNCORE_REQUIRE_ONNX"):
        return importlib.import_module(module)
    return pytest.importorskip(module)
