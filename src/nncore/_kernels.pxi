# Bindings: activations, losses, Philox and dropout (csrc/activation.c, loss.c,
# rng.c, dropout.c). Callers (nncore/_ops_kernels.py) pass C-contiguous arrays
# of the right dtype and validated sizes; these functions only take pointers,
# release the GIL and return the C status code.

cdef inline object _kflat(object a):
    """a as a flat view; never a copy (a copy would silently drop the C kernel's writes)."""
    if not a.flags.c_contiguous:
        raise ValueError("nncore kernels need C-contiguous arrays")
    return a.reshape(-1)

cdef inline int _kneed(object a, int64_t n, str what) except -1:
    """Refuse an array smaller than the n elements the kernel will touch."""
    if a is not None and a.size < n:
        raise ValueError(f"{what} has {a.size} elements, the kernel needs {n}")
    return 0

cdef inline float *_kf32(object a) except NULL:
    cdef float[::1] v = _kflat(a)
    return &v[0]

cdef inline double *_kf64(object a) except NULL:
    cdef double[::1] v = _kflat(a)
    return &v[0]

# inputs: const views, so read-only arrays (np.load(mmap_mode="r"), flags.writeable=False)
# are read in place instead of refused
cdef inline const float *_kcf32(object a) except NULL:
    cdef const float[::1] v = _kflat(a)
    return &v[0]

cdef inline const double *_kcf64(object a) except NULL:
    cdef const double[::1] v = _kflat(a)
    return &v[0]

cdef inline const uint8_t *_kcu8(object a) except NULL:
    cdef const uint8_t[::1] v = _kflat(a).view("u1")
    return &v[0]

cdef inline uint8_t *_ku8(object a) except NULL:
    cdef uint8_t[::1] v = _kflat(a).view("u1")
    return &v[0]

cdef inline const int64_t *_ki64(object a) except NULL:
    cdef const int64_t[::1] v = _kflat(a)
    return &v[0]


def _act_forward(int kind, double param, y, x, int64_t rows, int64_t cols):
    """y (rows, cols) = act(x); y and x contiguous, same float dtype (may be the same array)."""
    cdef int st
    if rows * cols == 0:
        return nn_sact_forward(<nn_act>kind, <float>param, NULL, NULL, rows, cols) \
            if x.dtype.itemsize == 4 else \
            nn_dact_forward(<nn_act>kind, param, NULL, NULL, rows, cols)
    cdef float *ys
    cdef const float *xs
    cdef double *yd
    cdef const double *xd
    _kneed(y, rows * cols, "y"); _kneed(x, rows * cols, "x")
    if x.dtype.itemsize == 4:
        ys = _kf32(y); xs = _kcf32(x)
        with nogil:
            st = nn_sact_forward(<nn_act>kind, <float>param, ys, xs, rows, cols)
    else:
        yd = _kf64(y); xd = _kcf64(x)
        with nogil:
            st = nn_dact_forward(<nn_act>kind, param, yd, xd, rows, cols)
    return st


def _act_backward(int kind, double param, dx, dy, x, y, int64_t rows, int64_t cols):
    """dx = dy * act'(x); x or y may be None where the kind does not read it."""
    cdef int st
    cdef float *s0
    cdef const float *s1
    cdef const float *s2 = NULL
    cdef const float *s3 = NULL
    cdef double *d0
    cdef const double *d1
    cdef const double *d2 = NULL
    cdef const double *d3 = NULL
    if rows * cols == 0:
        return 0
    for a, nm in ((dx, "dx"), (dy, "dy"), (x, "x"), (y, "y")):
        _kneed(a, rows * cols, nm)
    if dy.dtype.itemsize == 4:
        s0 = _kf32(dx); s1 = _kcf32(dy)
        if x is not None: s2 = _kcf32(x)
        if y is not None: s3 = _kcf32(y)
        with nogil:
            st = nn_sact_backward(<nn_act>kind, <float>param, s0, s1, s2, s3, rows, cols)
    else:
        d0 = _kf64(dx); d1 = _kcf64(dy)
        if x is not None: d2 = _kcf64(x)
        if y is not None: d3 = _kcf64(y)
        with nogil:
            st = nn_dact_backward(<nn_act>kind, param, d0, d1, d2, d3, rows, cols)
    return st


def _loss(int kind, int red, double param, grad, out, target, labels, int64_t rows,
          int64_t cols, weights=None):
    """Returns (status, loss). grad (rows, cols) or None; target, labels and the row
    weights (rows) may be None."""
    cdef int st
    cdef double lossv = 0.0
    cdef float *sg = NULL
    cdef const float *so = NULL
    cdef const float *st_ = NULL
    cdef const float *sw = NULL
    cdef double *dg = NULL
    cdef const double *do_ = NULL
    cdef const double *dt = NULL
    cdef const double *dw = NULL
    cdef const int64_t *lab = NULL
    cdef bint empty = rows * cols == 0
    _kneed(out, rows * cols, "out"); _kneed(grad, rows * cols, "grad")
    _kneed(target, rows * cols, "target"); _kneed(labels, rows, "labels")
    _kneed(weights, rows, "weights")
    if not empty and labels is not None:
        lab = _ki64(labels)
    if out.dtype.itemsize == 4:
        if not empty:
            so = _kcf32(out)
            if grad is not None: sg = _kf32(grad)
            if target is not None: st_ = _kcf32(target)
            if weights is not None: sw = _kcf32(weights)
        with nogil:
            st = nn_sloss(<nn_loss_kind>kind, <nn_reduction>red, param, &lossv, sg, so, st_,
                          lab, sw, rows, cols)
    else:
        if not empty:
            do_ = _kcf64(out)
            if grad is not None: dg = _kf64(grad)
            if target is not None: dt = _kcf64(target)
            if weights is not None: dw = _kcf64(weights)
        with nogil:
            st = nn_dloss(<nn_loss_kind>kind, <nn_reduction>red, param, &lossv, dg, do_, dt,
                          lab, dw, rows, cols)
    return st, lossv


def _philox4x32(ctr, key):
    """The 4 Philox4x32-10 words for counter (4 ints) and key (2 ints)."""
    cdef uint32_t c[4]
    cdef uint32_t k[2]
    cdef uint32_t o[4]
    for i in range(4):
        c[i] = <uint32_t>ctr[i]
    k[0] = <uint32_t>key[0]
    k[1] = <uint32_t>key[1]
    nn_philox4x32(o, c, k)
    return (o[0], o[1], o[2], o[3])


def _dropout_forward(y, mask, x, int64_t n, double p, uint64_t seed, uint64_t step,
                     uint32_t layer):
    """y, x (n) float; mask (n) uint8/bool. Returns the status code."""
    cdef int st
    cdef float *sy
    cdef const float *sx
    cdef double *dy_
    cdef const double *dx_
    cdef uint8_t *m
    if n == 0:
        return nn_ddropout_forward(NULL, NULL, NULL, 0, p, seed, step, layer)
    _kneed(y, n, "y"); _kneed(x, n, "x"); _kneed(mask, n, "mask")
    m = _ku8(mask)
    if x.dtype.itemsize == 4:
        sy = _kf32(y); sx = _kcf32(x)
        with nogil:
            st = nn_sdropout_forward(sy, m, sx, n, <float>p, seed, step, layer)
    else:
        dy_ = _kf64(y); dx_ = _kcf64(x)
        with nogil:
            st = nn_ddropout_forward(dy_, m, dx_, n, p, seed, step, layer)
    return st


def _dropout_backward(dx, dy, mask, int64_t n, double p):
    cdef int st
    cdef float *s0
    cdef const float *s1
    cdef double *d0
    cdef const double *d1
    cdef const uint8_t *m
    if n == 0:
        return nn_ddropout_backward(NULL, NULL, NULL, 0, p)
    _kneed(dx, n, "dx"); _kneed(dy, n, "dy"); _kneed(mask, n, "mask")
    m = _kcu8(mask)
    if dy.dtype.itemsize == 4:
        s0 = _kf32(dx); s1 = _kcf32(dy)
        with nogil:
            st = nn_sdropout_backward(s0, s1, m, n, <float>p)
    else:
        d0 = _kf64(dx); d1 = _kcf64(dy)
        with nogil:
            st = nn_ddropout_backward(d0, d1, m, n, p)
    return st
