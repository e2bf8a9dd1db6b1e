"""Low-level kernels for people who compose their own loops (matmul, activations, losses)."""
from __future__ import annotations

from ._ops_gemm import *  # noqa: F401,F403
from ._ops_kernels import *  # noqa: F401,F403
