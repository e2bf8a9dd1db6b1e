# cython: language_level=3
"""nncore._core — the only Cython module: typed memoryviews -> the C core, GIL released.

Each area keeps its bindings in its own .pxi (one job per file); this file only
stitches them together so that all of them share ONE copy of the C core's
global state (kernel table, thread count).
"""
include "_capi.pxi"     # cdef extern declarations of csrc/nncore.h
include "_config.pxi"   # kernel family, threads, build facts
include "_gemm.pxi"     # matmul
include "_bf16.pxi"     # the bf16 GEMM of the bf16 compute mode
include "_kernels.pxi"  # activations, losses, dropout
include "_optim.pxi"    # optimizer updates, gradient clipping
include "_net.pxi"      # the network object
include "_data.pxi"     # target-check scans, fit's row gather
