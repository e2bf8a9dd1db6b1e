"""nncore.reference — a pure-NumPy twin of every C kernel and of the whole network.

It is the oracle of the test suite: simple, readable, float64-friendly, and
never calls into nncore's C core.
"""
from . import _bf16, _gemm, _kernels, _network, _optim
from ._bf16 import *  # noqa: F401,F403
from ._gemm import *  # noqa: F401,F403
from ._kernels import *  # noqa: F401,F403
from ._network import *  # noqa: F401,F403
from ._optim import *  # noqa: F401,F403

__all__ = [*_bf16.__all__, *_gemm.__all__, *_kernels.__all__, *_network.__all__, *_optim.__all__]
