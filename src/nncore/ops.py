"""Low-level kernels for people who compose their own loops (matmul, activations, losses)."""
from . import _ops_gemm, _ops_kernels
from ._ops_gemm import *  # noqa: F401,F403
from ._ops_kernels import *  # noqa: F401,F403

__all__ = [*_ops_gemm.__all__, *_ops_kernels.__all__]
