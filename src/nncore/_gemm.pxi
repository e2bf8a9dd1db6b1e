# Bindings for GEMM: nn_sgemm / nn_dgemm on already-validated ndarrays
# (validation lives in nncore/_ops_gemm.py), plus the FMA-peak probe used by
# benchmarks/compare.py. Arrays are passed as raw pointer + element strides, so
# transposed, sliced, Fortran-ordered or negatively strided inputs need no copy.
cimport numpy as cnp
from libc.stdint cimport int64_t

cnp.import_array()

cdef extern from "kernels.h" nogil:
    ctypedef struct nn_gemm_blocking:
        int64_t mr, nr, kc, mc, nc
    ctypedef struct nn_sgemm_kernel:
        nn_gemm_blocking blk
    ctypedef struct nn_dgemm_kernel:
        nn_gemm_blocking blk
    const nn_sgemm_kernel *nn_sgemm_active()
    const nn_dgemm_kernel *nn_dgemm_active()

cdef extern from "gemm_internal.h" nogil:
    double nn_gemm_ukr_probe(nn_dtype dtype, int64_t kc, int64_t slivers, int64_t iters)
    double nn_fma_peak_probe(int64_t iters, int width)
    void nn_gemm_tune_blocking(nn_dtype dtype, int64_t kc, int64_t mc, int64_t nc)
    void nn_gemm_tune_threshold(double min_par_mnk)
    int nn_sgemm_ex(int64_t m, int64_t n, int64_t k, float alpha,
                    const float *a, int64_t rsa, int64_t csa,
                    const float *b, int64_t rsb, int64_t csb,
                    float beta, float *c, int64_t rsc, const float *bias)
    int nn_dgemm_ex(int64_t m, int64_t n, int64_t k, double alpha,
                    const double *a, int64_t rsa, int64_t csa,
                    const double *b, int64_t rsb, int64_t csb,
                    double beta, double *c, int64_t rsc, const double *bias)


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


cdef inline bint _extent(cnp.ndarray x, char **lo, char **hi):
    """Byte range [lo, hi) the array can touch; False if it has no elements."""
    cdef int d
    cdef char *l = <char *>cnp.PyArray_DATA(x)
    cdef char *h = l
    cdef cnp.npy_intp n, s
    for d in range(cnp.PyArray_NDIM(x)):
        n = cnp.PyArray_DIMS(x)[d]
        if n == 0:
            return False
        s = cnp.PyArray_STRIDES(x)[d] * (n - 1)
        if s < 0:
            l += s
        else:
            h += s
    lo[0] = l
    hi[0] = h + cnp.PyArray_ITEMSIZE(x)
    return True


cdef inline bint _disjoint(cnp.ndarray x, cnp.ndarray y):
    cdef char *xl
    cdef char *xh
    cdef char *yl
    cdef char *yh
    if not _extent(x, &xl, &xh) or not _extent(y, &yl, &yh):
        return True
    return xh <= yl or yh <= xl


cdef inline bint _plain(object x, int typenum):
    """x is an exact ndarray, 2-D, of typenum, native byte order, aligned."""
    if type(x) is not cnp.ndarray:
        return False
    cdef cnp.ndarray y = <cnp.ndarray>x
    return (cnp.PyArray_NDIM(y) == 2 and cnp.PyArray_TYPE(y) == typenum
            and not cnp.PyArray_ISBYTESWAPPED(y) and cnp.PyArray_ISALIGNED(y))


def _matmul_fast(object a, object b, object out, object alpha, object beta):
    """matmul for the common, unambiguous case, all checks in C; returns None
    (having done nothing) whenever anything needs the full Python validation."""
    if type(a) is not cnp.ndarray or type(alpha) is not float:
        return None
    cdef int typenum = cnp.PyArray_TYPE(<cnp.ndarray>a)
    if typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64:
        return None
    if not _plain(a, typenum) or not _plain(b, typenum):
        return None
    cdef cnp.ndarray A = <cnp.ndarray>a
    cdef cnp.ndarray B = <cnp.ndarray>b
    cdef cnp.npy_intp dims[2]
    dims[0] = cnp.PyArray_DIMS(A)[0]
    dims[1] = cnp.PyArray_DIMS(B)[1]
    if cnp.PyArray_DIMS(A)[1] != cnp.PyArray_DIMS(B)[0]:
        return None
    cdef cnp.ndarray C
    cdef double be = 0.0
    if out is None:
        C = cnp.PyArray_EMPTY(2, dims, typenum, 0)
    else:
        if type(beta) is not float or not _plain(out, typenum):
            return None
        C = <cnp.ndarray>out
        if (cnp.PyArray_DIMS(C)[0] != dims[0] or cnp.PyArray_DIMS(C)[1] != dims[1]
                or not cnp.PyArray_IS_C_CONTIGUOUS(C) or not cnp.PyArray_ISWRITEABLE(C)
                or not _disjoint(C, A) or not _disjoint(C, B)):
            return None
        be = beta
    return _matmul(A, B, C, alpha, be)


def _matmul_bias(cnp.ndarray a, cnp.ndarray b, cnp.ndarray out, cnp.ndarray bias,
                 double alpha, double beta):
    """Internal (tests, network engine prototypes): out = alpha*a@b + beta*out + bias[None, :]
    through nn_*gemm_ex. Checks only what keeps C memory-safe; no friendly messages."""
    if a.ndim != 2 or b.ndim != 2 or out.ndim != 2 or bias.ndim != 1:
        raise ValueError("a, b, out must be 2-D and bias 1-D")
    cdef int t = cnp.PyArray_TYPE(a)
    if (t not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64) or cnp.PyArray_TYPE(b) != t
            or cnp.PyArray_TYPE(out) != t or cnp.PyArray_TYPE(bias) != t):
        raise TypeError("a, b, out, bias must share one float dtype")
    if (a.shape[1] != b.shape[0] or out.shape[0] != a.shape[0] or out.shape[1] != b.shape[1]
            or bias.shape[0] != b.shape[1]):
        raise ValueError("shapes do not agree")
    if not (cnp.PyArray_IS_C_CONTIGUOUS(out) and cnp.PyArray_IS_C_CONTIGUOUS(bias)
            and cnp.PyArray_ISALIGNED(a) and cnp.PyArray_ISALIGNED(b)):
        raise ValueError("out and bias must be C-contiguous, a and b aligned")
    cdef int64_t m = a.shape[0], k = a.shape[1], n = b.shape[1]
    cdef int64_t isz = a.itemsize
    cdef int64_t rsa = a.strides[0] // isz, csa = a.strides[1] // isz
    cdef int64_t rsb = b.strides[0] // isz, csb = b.strides[1] // isz
    cdef void *pa = cnp.PyArray_DATA(a)
    cdef void *pb = cnp.PyArray_DATA(b)
    cdef void *pc = cnp.PyArray_DATA(out)
    cdef void *pz = cnp.PyArray_DATA(bias)
    cdef int status
    with nogil:
        if isz == 4:
            status = nn_sgemm_ex(m, n, k, <float>alpha, <const float *>pa, rsa, csa,
                                 <const float *>pb, rsb, csb, <float>beta, <float *>pc, n,
                                 <const float *>pz)
        else:
            status = nn_dgemm_ex(m, n, k, alpha, <const double *>pa, rsa, csa,
                                 <const double *>pb, rsb, csb, beta, <double *>pc, n,
                                 <const double *>pz)
    if status != 0:
        raise ValueError(f"nn_gemm_ex: {nn_strerror(status).decode()} (status {status})")
    return out


def _gemm_tune_blocking(bint f64, int64_t kc=0, int64_t mc=0, int64_t nc=0):
    """Benchmark-only: override KC/MC/NC of the active kernel family (0 = default)."""
    nn_gemm_tune_blocking(NN_F64 if f64 else NN_F32, kc, mc, nc)


def _gemm_tune_threshold(double min_par_mnk=0):
    """Benchmark-only: m*n*k from which GEMM may use threads (0 = default)."""
    nn_gemm_tune_threshold(min_par_mnk)


def _fma_peak_probe(int64_t iters, int width=8):
    """Run the FMA-peak loop (24 * width * iters fp32 flops); time it from the caller.
    Returns NaN if the CPU lacks that vector width."""
    cdef double r
    with nogil:
        r = nn_fma_peak_probe(iters, width)
    return r


def _ukr_probe(int64_t iters, int64_t kc=256, int64_t slivers=1, bint f64=False):
    """Run the active family's micro-kernel `iters` times per A sliver on packed,
    cache-resident panels; returns the flops done (time it from the caller)."""
    cdef double r
    with nogil:
        r = nn_gemm_ukr_probe(NN_F64 if f64 else NN_F32, kc, slivers, iters)
    if r < 0:
        raise ValueError(f"_ukr_probe: bad arguments or no memory (kc={kc}, slivers={slivers})")
    return r


def _gemm_blocking():
    """Register tile and cache blocks of the active family:
    {"f32": (mr, nr, kc, mc, nc), "f64": (...)}."""
    cdef nn_gemm_blocking s = nn_sgemm_active().blk, d = nn_dgemm_active().blk
    return {"f32": (s.mr, s.nr, s.kc, s.mc, s.nc), "f64": (d.mr, d.nr, d.kc, d.mc, d.nc)}
