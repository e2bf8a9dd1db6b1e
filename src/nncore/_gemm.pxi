# Bindings for GEMM: nn_sgemm / nn_dgemm on already-validated ndarrays
# (validation lives in nncore/_ops_gemm.py), plus the FMA-peak probe used by
# benchmarks/compare.py. Arrays are passed as raw pointer + element strides, so
# transposed, sliced, Fortran-ordered or negatively strided inputs need no copy.
cimport numpy as cnp
from libc.stdint cimport int64_t

cnp.import_array()

cdef extern from "gemm_internal.h" nogil:
    double nn_fma_peak_probe(int64_t iters, int width)


def _matmul(cnp.ndarray a, cnp.ndarray b, cnp.ndarray out, double alpha, double beta):
    """out = alpha * a @ b + beta * out. Caller guarantees: 2-D, same float dtype,
    shapes agree, strides are whole elements, out C-contiguous and not overlapping."""
    cdef int64_t m = a.shape[0], k = a.shape[1], n = b.shape[1]
    cdef int64_t isz = a.itemsize
    cdef int64_t rsa = a.strides[0] // isz, csa = a.strides[1] // isz
    cdef int64_t rsb = b.strides[0] // isz, csb = b.strides[1] // isz
    cdef int64_t rsc = n
    cdef void *pa = cnp.PyArray_DATA(a)
    cdef void *pb = cnp.PyArray_DATA(b)
    cdef void *pc = cnp.PyArray_DATA(out)
    cdef int status
    if isz == 4:
        with nogil:
            status = nn_sgemm(m, n, k, <float>alpha, <const float *>pa, rsa, csa,
                              <const float *>pb, rsb, csb, <float>beta, <float *>pc, rsc)
    else:
        with nogil:
            status = nn_dgemm(m, n, k, alpha, <const double *>pa, rsa, csa,
                              <const double *>pb, rsb, csb, beta, <double *>pc, rsc)
    if status != 0:
        if status == NN_ERR_NOMEM:
            raise MemoryError("nncore matmul: could not allocate the packing buffers")
        raise ValueError(f"nncore matmul: {nn_strerror(status).decode()} (status {status})")
    return out


def _fma_peak_probe(int64_t iters, int width=8):
    """Run the FMA-peak loop (24 * width * iters fp32 flops); time it from the caller.
    Returns NaN if the CPU lacks that vector width."""
    cdef double r
    with nogil:
        r = nn_fma_peak_probe(iters, width)
    return r
