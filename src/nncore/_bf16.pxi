# Bindings for the bf16 GEMM (csrc/gemm_bf16.c): the GEMM every layer runs in
# bf16 compute mode, exposed for tests and benchmarks on validated ndarrays
# (as _gemm.pxi's _matmul: raw pointer + element strides, no copies).
cdef extern from "gemm_bf16.h" nogil:
    int nn_bgemm_ex(int64_t m, int64_t n, int64_t k, float alpha,
                    const float *a, int64_t rsa, int64_t csa,
                    const float *b, int64_t rsb, int64_t csb,
                    float beta, float *c, int64_t rsc, const float *bias)
    const char *nn_bgemm_name()


def _bmatmul(cnp.ndarray a, cnp.ndarray b, cnp.ndarray out, double alpha, double beta,
             bias=None):
    """out = alpha * bf16(a) @ bf16(b) + beta * out (+ bias), fp32 sums. Caller
    guarantees: 2-D float32, shapes agree, strides whole elements, out C-contiguous
    and not overlapping, bias None or a C-contiguous float32 (n,)."""
    cdef int64_t m = a.shape[0], k = a.shape[1], n = b.shape[1]
    cdef int64_t rsa = a.strides[0] // 4, csa = a.strides[1] // 4
    cdef int64_t rsb = b.strides[0] // 4, csb = b.strides[1] // 4
    cdef const float *pa = <const float *>cnp.PyArray_DATA(a)
    cdef const float *pb = <const float *>cnp.PyArray_DATA(b)
    cdef float *pc = <float *>cnp.PyArray_DATA(out)
    cdef const float *pbias = NULL
    cdef int status
    cdef cnp.ndarray bias_arr
    if (cnp.PyArray_TYPE(a) != cnp.NPY_FLOAT32 or cnp.PyArray_TYPE(b) != cnp.NPY_FLOAT32
            or cnp.PyArray_TYPE(out) != cnp.NPY_FLOAT32):
        raise TypeError("bf16 matmul: float32 operands expected, got "
                        f"{a.dtype}, {b.dtype}, {out.dtype}")
    if bias is not None:
        bias_arr = bias
        if (cnp.PyArray_TYPE(bias_arr) != cnp.NPY_FLOAT32 or bias_arr.ndim != 1
                or bias_arr.shape[0] != n or not cnp.PyArray_IS_C_CONTIGUOUS(bias_arr)):
            raise ValueError(f"bf16 matmul: bias must be C-contiguous float32 ({n},)")
        pbias = <const float *>cnp.PyArray_DATA(bias_arr)
    with nogil:
        status = nn_bgemm_ex(m, n, k, <float>alpha, pa, rsa, csa, pb, rsb, csb, <float>beta,
                             pc, n, pbias)
    if status != 0:
        if status == NN_ERR_NOMEM:
            raise MemoryError("nncore bf16 matmul: could not allocate the packing buffers")
        raise ValueError(f"nncore bf16 matmul: {nn_strerror(status).decode()} (status {status})")
    return out


def _bgemm_name():
    """The active bf16 micro-kernel, e.g. 'avx512_bf16 16x16'."""
    return nn_bgemm_name().decode("ascii")
