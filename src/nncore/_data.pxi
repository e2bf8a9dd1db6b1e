# Data-path helpers of the Python layer: one-pass scans behind the target checks
# (nncore._targets) and the row gather of fit's batches (nncore.training).
#
# What it is for: a target check used to cost two or three NumPy reductions per
# call (isfinite().all(), min(), max()), each a full pass plus a temporary; a
# train_step on a small batch spent more time there than in its GEMMs. These
# scans read the array once, keep no temporary, and release the GIL for large
# arrays (fit checks the whole target array once). The gather copies a batch's
# rows into a reused buffer without np.take's intermediate buffer, on the C core's
# worker team (csrc/gather.c: two threads keep twice the DRAM misses in flight).
# What it is not: the checks themselves (messages, rules): nncore._targets keeps
# those; a scan only reports what it saw.
cimport numpy as cnp
from libc.math cimport isfinite as _scan_isfinite

cnp.import_array()

cdef extern from "internal.h" nogil:
    void nn_gather_rows(void *dst, const void *src, size_t row_bytes, const int64_t *idx,
                        int64_t m)

cdef int64_t _SCAN_NOGIL_MIN = 1 << 15   # elements: below this the GIL hand-off costs more


cdef inline void *_scan_data(object arr, int typenum) except NULL:
    """Data pointer of arr if it is an aligned, C-contiguous ndarray of typenum."""
    cdef cnp.ndarray a
    if type(arr) is not cnp.ndarray:
        raise TypeError(f"expected a NumPy array, got {type(arr).__name__}")
    a = <cnp.ndarray>arr
    if (cnp.PyArray_TYPE(a) != typenum or not cnp.PyArray_IS_C_CONTIGUOUS(a)
            or not cnp.PyArray_ISBEHAVED_RO(a)):
        raise ValueError(f"expected a C-contiguous aligned array, got {arr.dtype}")
    if cnp.PyArray_SIZE(a) == 0:
        return <void *>8   # never dereferenced: n == 0
    return cnp.PyArray_DATA(a)


def _int64_range(arr):
    """(min, max) of a non-empty C-contiguous int64 array in one pass."""
    cdef int64_t n = cnp.PyArray_SIZE(arr) if type(arr) is cnp.ndarray else 0
    if n == 0:
        raise ValueError("_int64_range needs a non-empty int64 array")
    cdef const int64_t *p = <const int64_t *>_scan_data(arr, cnp.NPY_INT64)
    cdef int64_t lo = 0, hi = 0
    if n >= _SCAN_NOGIL_MIN:
        with nogil:
            _scan_i64(p, n, &lo, &hi)
    else:
        _scan_i64(p, n, &lo, &hi)
    return lo, hi


cdef inline void _scan_i64(const int64_t *p, int64_t n, int64_t *lo, int64_t *hi) noexcept nogil:
    cdef int64_t i, v, a = p[0], b = p[0]
    for i in range(1, n):
        v = p[i]
        if v < a:
            a = v
        if v > b:
            b = v
    lo[0] = a
    hi[0] = b


cdef inline int _scan_f64(const double *p, int64_t n, double *lo, double *hi) noexcept nogil:
    cdef int64_t i
    cdef double v, a = p[0], b = p[0]
    cdef int finite = 1
    for i in range(n):
        v = p[i]
        if not _scan_isfinite(v):
            finite = 0
        if v < a:
            a = v
        if v > b:
            b = v
    lo[0] = a
    hi[0] = b
    return finite


cdef inline int _scan_f32(const float *p, int64_t n, double *lo, double *hi) noexcept nogil:
    cdef int64_t i
    cdef float v, a = p[0], b = p[0]
    cdef int finite = 1
    for i in range(n):
        v = p[i]
        if not _scan_isfinite(v):
            finite = 0
        if v < a:
            a = v
        if v > b:
            b = v
    lo[0] = a
    hi[0] = b
    return finite


def _labels_ready(y, int64_t batch, int64_t classes):
    """y itself if it is class labels as the C loss reads them: an ndarray (not a
    subclass), 1-D, C-contiguous, aligned, int64, batch > 0 values all in
    [0, classes); else None, and the full check (nncore._targets) decides."""
    cdef cnp.ndarray a
    cdef int64_t lo = 0, hi = 0
    if type(y) is not cnp.ndarray or batch <= 0:
        return None
    a = <cnp.ndarray>y
    if (cnp.PyArray_TYPE(a) != cnp.NPY_INT64 or cnp.PyArray_NDIM(a) != 1
            or cnp.PyArray_DIMS(a)[0] != batch or not cnp.PyArray_IS_C_CONTIGUOUS(a)
            or not cnp.PyArray_ISBEHAVED_RO(a)):
        return None
    _scan_i64(<const int64_t *>cnp.PyArray_DATA(a), batch, &lo, &hi)
    return y if lo >= 0 and hi < classes else None


def _finite_range(arr):
    """(all finite, min, max) of a non-empty C-contiguous float32/float64 array in one
    pass; min and max are meaningless when not all finite."""
    cdef int64_t n = cnp.PyArray_SIZE(arr) if type(arr) is cnp.ndarray else 0
    cdef double lo = 0.0, hi = 0.0
    cdef int finite
    cdef const void *p
    if n == 0:
        raise ValueError("_finite_range needs a non-empty float array")
    cdef bint f32 = cnp.PyArray_TYPE(<cnp.ndarray>arr) == cnp.NPY_FLOAT32
    p = _scan_data(arr, cnp.NPY_FLOAT32 if f32 else cnp.NPY_FLOAT64)
    if n >= _SCAN_NOGIL_MIN:
        with nogil:
            finite = _scan_float(p, f32, n, &lo, &hi)
    else:
        finite = _scan_float(p, f32, n, &lo, &hi)
    return bool(finite), lo, hi


cdef inline int _scan_float(const void *p, bint f32, int64_t n, double *lo,
                            double *hi) noexcept nogil:
    if f32:
        return _scan_f32(<const float *>p, n, lo, hi)
    return _scan_f64(<const double *>p, n, lo, hi)


def _gather_rows(out, X, idx):
    """out[i] = X[idx[i]] for every i: rows of a C-contiguous 2-D X into the first
    len(idx) rows of out (C-contiguous, X's dtype and width, writable); idx int64.
    IndexError (nothing copied) if an index is outside [0, len(X))."""
    cdef cnp.ndarray xa, oa, ia
    if type(X) is not cnp.ndarray or type(out) is not cnp.ndarray or type(idx) is not cnp.ndarray:
        raise TypeError("_gather_rows takes NumPy arrays")
    xa, oa, ia = <cnp.ndarray>X, <cnp.ndarray>out, <cnp.ndarray>idx
    if (cnp.PyArray_NDIM(xa) != 2 or cnp.PyArray_NDIM(oa) != 2
            or not cnp.PyArray_IS_C_CONTIGUOUS(xa) or not cnp.PyArray_IS_C_CONTIGUOUS(oa)
            or cnp.PyArray_TYPE(xa) != cnp.PyArray_TYPE(oa)
            or cnp.PyArray_DIMS(xa)[1] != cnp.PyArray_DIMS(oa)[1]
            or not cnp.PyArray_ISWRITEABLE(oa)):
        raise ValueError(f"_gather_rows: X {X.dtype} {X.shape} and out {out.dtype} {out.shape} "
                         "must be C-contiguous 2-D of one dtype and width, out writable")
    cdef int64_t m = cnp.PyArray_SIZE(ia)
    cdef int64_t n = cnp.PyArray_DIMS(xa)[0]
    if m > cnp.PyArray_DIMS(oa)[0]:
        raise ValueError(f"_gather_rows: {m} indices for {out.shape[0]} rows of out")
    if m == 0:
        return out
    cdef const int64_t *ip = <const int64_t *>_scan_data(idx, cnp.NPY_INT64)
    cdef int64_t lo = 0, hi = 0, i
    _scan_i64(ip, m, &lo, &hi)
    if lo < 0 or hi >= n:
        raise IndexError(f"_gather_rows: index {lo if lo < 0 else hi} out of range [0, {n})")
    cdef size_t row = <size_t>cnp.PyArray_ITEMSIZE(xa) * <size_t>cnp.PyArray_DIMS(xa)[1]
    cdef const char *src = <const char *>cnp.PyArray_DATA(xa)
    cdef char *dst = <char *>cnp.PyArray_DATA(oa)
    with nogil:
        nn_gather_rows(dst, src, row, ip, m)
    return out
