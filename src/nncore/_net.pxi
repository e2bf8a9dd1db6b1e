# Bindings for the network object (csrc/net.c): `_Net` owns one nn_net*.
#
# nncore.nn validates and prepares inputs (dtype, shape, strides) before they
# get here; these bindings still check every pointer-relevant property (dtype,
# rank, shape, strides, alignment) so that no Python call can make C read or
# write outside a buffer. The inference path `infer` is kept lean: a handful of
# C-level checks, one output allocation, one C call with the GIL released.
cimport numpy as cnp
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from libc.string cimport memcpy

cnp.import_array()

import numpy as _np_net
import threading as _net_threading

_NET_DTYPES = {NN_F32: _np_net.dtype(_np_net.float32), NN_F64: _np_net.dtype(_np_net.float64)}
# the codes a loss call may pass (a kind decides which of target / labels C reads)
_LOSS_KIND_CODES = frozenset(C_ENUMS["nn_loss_kind"].values())
_REDUCTION_CODES = frozenset(C_ENUMS["nn_reduction"].values())


class NetError(RuntimeError):
    """An error status from the C network object that no Python check caught."""


cdef inline int _net_raise(int st, str what) except -1:
    if st == NN_ERR_NOMEM or st == NN_ERR_OVERFLOW:
        raise MemoryError(f"{what}: {nn_strerror(st).decode('ascii')}")
    if st == NN_ERR_STATE:
        raise ValueError(f"{what}: {nn_strerror(st).decode('ascii')}")
    if st == NN_ERR_ARG:
        raise ValueError(f"{what}: {nn_strerror(st).decode('ascii')}")
    raise NetError(f"{what}: {nn_strerror(st).decode('ascii')} (status {st})")


def _net_human(n):
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if n < 1024 or unit == "EiB":
            return f"{n:.4g} {unit}"
        n /= 1024.0


cdef class _Net:
    """A C network (nn_net). Layers are given as tuples
    ``(kind, in_features, out_features, bias, act, param)`` with the nn_layer_kind
    and nn_act codes of nncore.h."""
    cdef nn_net *net
    cdef readonly int dtype_code
    cdef readonly object dtype
    cdef int typenum
    cdef readonly int64_t n_in, n_out, n_params
    cdef readonly int64_t last_batch   # batch of the last training forward, 0 if none
    cdef object _lock                  # serializes calls that release the GIL
    cdef object _row_bytes             # about how many workspace bytes one batch row needs
    cdef object __weakref__

    def __cinit__(self, dtype_code, layers, uint64_t seed):
        cdef int n = len(layers)
        cdef int st = NN_ERR_ARG
        cdef nn_layer_spec *specs
        cdef int i
        self.net = NULL
        if dtype_code != NN_F32 and dtype_code != NN_F64:
            raise ValueError(f"dtype code must be {NN_F32} or {NN_F64}, got {dtype_code}")
        if n < 1:
            raise ValueError("a network needs at least one layer")
        specs = <nn_layer_spec *>PyMem_Malloc(n * sizeof(nn_layer_spec))
        if specs == NULL:
            raise MemoryError()
        try:
            for i in range(n):
                kind, fin, fout, bias, act, param = layers[i]
                specs[i].kind = <nn_layer_kind><int>kind
                specs[i].in_features = fin
                specs[i].out_features = fout
                specs[i].bias = 1 if bias else 0
                specs[i].act = <nn_act><int>act
                specs[i].param = param
            self.net = nn_net_create(<nn_dtype>dtype_code, specs, n, seed, &st)
        finally:
            PyMem_Free(specs)
        if self.net == NULL:
            if st == NN_ERR_NOMEM or st == NN_ERR_OVERFLOW:
                # say how much was asked: params + grads, each n_params elements
                n_par = sum(int(l[1]) * int(l[2]) + (int(l[2]) if l[3] else 0)
                            for l in layers if l[0] == NN_LAYER_LINEAR)
                esz = 4 if dtype_code == NN_F32 else 8
                raise MemoryError(
                    f"creating the network: cannot allocate {2 * n_par * esz} bytes "
                    f"({_net_human(2 * n_par * esz)}: parameters and gradients, {n_par} "
                    f"values of {esz} bytes each) ({nn_strerror(st).decode('ascii')})")
            _net_raise(st, "creating the network")
        self.dtype_code = dtype_code
        self.dtype = _NET_DTYPES[dtype_code]
        self.typenum = cnp.NPY_FLOAT32 if dtype_code == NN_F32 else cnp.NPY_FLOAT64
        self.n_in = nn_net_num_inputs(self.net)
        self.n_out = nn_net_num_outputs(self.net)
        self.n_params = nn_net_num_params(self.net)
        self.last_batch = 0
        self._lock = _net_threading.Lock()
        # per-row workspace estimate, for MemoryError messages (see nn_net_reserve)
        self._row_bytes = (sum(int(l[2]) for l in layers) + int(self.n_in)
                           + 2 * max([int(self.n_in)] + [int(l[2]) for l in layers])) * (
                               4 if dtype_code == NN_F32 else 8)

    def __dealloc__(self):
        if self.net != NULL:
            nn_net_free(self.net)
            self.net = NULL

    cdef object _view(self, void *ptr):
        """1-D NumPy view of a flat C buffer; the array keeps this object alive."""
        cdef cnp.npy_intp dims[1]
        dims[0] = self.n_params
        arr = cnp.PyArray_SimpleNewFromData(1, dims, self.typenum, ptr)
        cnp.set_array_base(arr, self)
        return arr

    # The views are made on demand and not stored here: an ndarray does not take
    # part in garbage collection, so a view held by this object (its base) would
    # form a cycle that is never freed.
    @property
    def params(self):
        """A new zero-copy view (n_params,) of the flat parameter buffer."""
        return self._view(nn_net_params(self.net))

    def touch(self):
        """Marks the parameters as written: the next inference packs the weights again."""
        nn_net_touch(self.net)

    @property
    def grads(self):
        """A new zero-copy view (n_params,) of the flat gradient buffer."""
        return self._view(nn_net_grads(self.net))

    def weight_offset(self, int layer):
        return nn_net_weight_offset(self.net, layer)

    def bias_offset(self, int layer):
        return nn_net_bias_offset(self.net, layer)

    @property
    def step(self):
        """Dropout step counter (advanced by every training forward)."""
        return nn_net_get_step(self.net)

    @step.setter
    def step(self, value):
        if value < 0 or value >= 2 ** 64:
            raise ValueError(f"step must be in [0, 2**64), got {value}")
        nn_net_set_step(self.net, <uint64_t>value)

    def set_profiling(self, bint on):
        """nn_net_set_profiling: on zeroes the record and times every following
        train_step phase by phase; off stops (the record stays readable)."""
        cdef int st
        self._enter()
        try:
            st = nn_net_set_profiling(self.net, 1 if on else 0)
        finally:
            self._lock.release()
        if st != NN_OK:
            _net_raise(st, "set_profiling")

    def profile_read(self):
        """nn_net_profile_read: (layer seconds (n_layers, NN_PROF_LAYER_SLOTS), step
        seconds (NN_PROF_STEP_SLOTS,), steps), sums over the timed steps."""
        cdef int32_t nl = nn_net_num_layers(self.net)
        cdef cnp.ndarray ls = _np_net.zeros((nl, NN_PROF_LAYER_SLOTS), dtype=_np_net.float64)
        cdef cnp.ndarray ss = _np_net.zeros(NN_PROF_STEP_SLOTS, dtype=_np_net.float64)
        cdef int64_t steps = 0
        cdef int st
        self._enter()
        try:
            st = nn_net_profile_read(self.net, <double *>cnp.PyArray_DATA(ls),
                                     <double *>cnp.PyArray_DATA(ss), &steps)
        finally:
            self._lock.release()
        if st != NN_OK:
            _net_raise(st, "profile_read (profiling was never turned on)")
        return ls, ss, steps

    @property
    def compute(self):
        """GEMM compute mode: an nn_compute code (NN_COMPUTE_FP32 or NN_COMPUTE_BF16)."""
        return <int>nn_net_get_compute(self.net)

    @compute.setter
    def compute(self, int mode):
        cdef int st = nn_net_set_compute(self.net, <nn_compute>mode)
        if st != NN_OK:
            _net_raise(st, "compute mode")

    def _raise_batch(self, int st, str what, int64_t batch):
        if st == NN_ERR_NOMEM or st == NN_ERR_OVERFLOW:
            need = int(batch) * self._row_bytes
            raise MemoryError(f"{what}: cannot allocate the workspace for a batch of {batch} "
                              f"rows: about {need} bytes ({_net_human(need)}); use smaller "
                              f"batches (e.g. predict(X, batch_size=...)) "
                              f"({nn_strerror(st).decode('ascii')})")
        _net_raise(st, what)

    cdef inline int _enter(self) except -1:
        """Take the network (another Python thread may be inside C with the GIL released:
        the workspace is shared, so calls on one network run one at a time)."""
        self._lock.acquire()
        return 0

    cdef int64_t _rows_stride(self, cnp.ndarray x) except -2:
        """Row stride (elements) of x if C can read it as is, else -1."""
        cdef cnp.npy_intp *st
        cdef int64_t isz
        if cnp.PyArray_TYPE(x) != self.typenum or cnp.PyArray_NDIM(x) != 2:
            return -1
        if not cnp.PyArray_ISBEHAVED_RO(x):  # aligned, native byte order
            return -1
        st = cnp.PyArray_STRIDES(x)
        isz = cnp.PyArray_ITEMSIZE(x)
        if cnp.PyArray_DIMS(x)[1] != self.n_in or cnp.PyArray_DIMS(x)[0] < 1:
            return -1
        if st[1] != isz and self.n_in > 1:
            return -1
        if st[0] % isz != 0 or st[0] // isz < self.n_in:
            if cnp.PyArray_DIMS(x)[0] == 1:
                return self.n_in
            return -1
        return st[0] // isz

    def readable(self, x):
        """True if x is an ndarray C reads as is (the model's dtype, 2-D, n_in columns,
        at least one row, contiguous rows with a uniform stride): what
        Sequential._prepare_x would return unchanged, told by one C-level check."""
        return type(x) is cnp.ndarray and self._rows_stride(<cnp.ndarray>x) >= 0

    def infer(self, x):
        """Inference forward. Returns a new (batch, n_out) array, or None when x
        is not an ndarray C can read as is (the caller prepares it then)."""
        cdef cnp.ndarray a
        cdef int64_t rsx, batch
        cdef int st
        cdef cnp.npy_intp dims[2]
        cdef void *xp
        cdef void *op
        if type(x) is not cnp.ndarray:
            return None
        a = <cnp.ndarray>x
        rsx = self._rows_stride(a)
        if rsx < 0:
            return None
        batch = cnp.PyArray_DIMS(a)[0]
        dims[0] = batch
        dims[1] = self.n_out
        out = cnp.PyArray_EMPTY(2, dims, self.typenum, 0)
        xp = cnp.PyArray_DATA(a)
        op = cnp.PyArray_DATA(<cnp.ndarray>out)
        self._enter()
        with nogil:
            st = nn_net_forward(self.net, op, xp, rsx, batch, 0)
        self._lock.release()
        self.last_batch = 0
        if st != NN_OK:
            self._raise_batch(st, "forward", batch)
        return out

    def forward(self, x, bint training):
        """Forward; x must be readable as is (see infer). Returns a new array."""
        cdef cnp.ndarray a
        cdef int64_t rsx, batch
        cdef int st
        cdef int tr = 1 if training else 0
        cdef cnp.npy_intp dims[2]
        cdef void *xp
        cdef void *op
        if type(x) is not cnp.ndarray:
            raise TypeError(f"expected a NumPy array, got {type(x).__name__}")
        a = <cnp.ndarray>x
        rsx = self._rows_stride(a)
        if rsx < 0:
            raise ValueError(f"x must be a 2-D {self.dtype} array with {self.n_in} columns and "
                             f"contiguous rows, got {x.dtype} of shape {x.shape}")
        batch = cnp.PyArray_DIMS(a)[0]
        dims[0] = batch
        dims[1] = self.n_out
        out = cnp.PyArray_EMPTY(2, dims, self.typenum, 0)
        xp = cnp.PyArray_DATA(a)
        op = cnp.PyArray_DATA(<cnp.ndarray>out)
        self._enter()
        with nogil:
            st = nn_net_forward(self.net, op, xp, rsx, batch, tr)
        self._lock.release()
        self.last_batch = batch if (training and st == NN_OK) else 0
        if st != NN_OK:
            self._raise_batch(st, "forward", batch)
        return out

    def backward(self, dout):
        """Accumulate gradients from dout (last_batch, n_out), C-contiguous, model dtype."""
        cdef cnp.ndarray a
        cdef int st
        cdef void *dp
        if self.last_batch == 0:
            raise ValueError("backward() needs a training forward first: call "
                             "forward(x, training=True) (an inference call in between "
                             "discards what backward needs)")
        if type(dout) is not cnp.ndarray:
            raise TypeError(f"dout must be a NumPy array, got {type(dout).__name__}")
        a = <cnp.ndarray>dout
        if (cnp.PyArray_TYPE(a) != self.typenum or cnp.PyArray_NDIM(a) != 2
                or not cnp.PyArray_IS_C_CONTIGUOUS(a) or not cnp.PyArray_ISBEHAVED_RO(a)):
            raise ValueError(f"dout must be a C-contiguous 2-D {self.dtype} array, got "
                             f"{dout.dtype} with shape {dout.shape}")
        if cnp.PyArray_DIMS(a)[0] != self.last_batch or cnp.PyArray_DIMS(a)[1] != self.n_out:
            raise ValueError(f"dout must have shape ({self.last_batch}, {self.n_out}) like the "
                             f"output of the last training forward, got {dout.shape}")
        dp = cnp.PyArray_DATA(a)
        self._enter()
        with nogil:
            st = nn_net_backward(self.net, dp)
        self._lock.release()
        if st != NN_OK:
            _net_raise(st, "backward")

    def zero_grad(self):
        self._enter()   # not while another thread's train_step writes the gradients
        with nogil:
            nn_net_zero_grad(self.net)
        self._lock.release()

    def train_step(self, x, target, labels, int kind, int red, double param, _COptim opt,
                   double clip_norm, double clip_value, weights=None, out=None,
                   bint grads_only=False):
        """nn_net_train_step: returns (loss, global grad norm before clipping).
        grads_only: nn_net_train_grads instead (forward, loss, backward; no update, the
        norm returned is 0): the first half of a data-parallel step, see apply_update.
        x as for forward; target (batch, n_out) in the model dtype for every kind but
        CE labels, which take labels int64 (batch,); row weights (batch,) in the model
        dtype or None. out, if given (C-contiguous, writable, model dtype, batch * n_out
        elements), receives the step's outputs (batch, n_out): its training forward,
        before the update (nn_net_output, copied while the lock is held, so no other
        call on this network comes in between)."""
        cdef cnp.ndarray a
        cdef int64_t rsx, batch
        cdef int st
        cdef double loss = 0.0, norm = 0.0
        cdef void *xp
        cdef void *tp = NULL
        cdef void *wp = NULL
        cdef int64_t *lp = NULL
        cdef void *op = NULL
        cdef const void *res
        cdef size_t out_bytes = 0
        if type(x) is not cnp.ndarray:
            raise TypeError(f"expected a NumPy array, got {type(x).__name__}")
        a = <cnp.ndarray>x
        rsx = self._rows_stride(a)
        if rsx < 0:
            raise ValueError(f"x must be a 2-D {self.dtype} array with {self.n_in} columns and "
                             f"contiguous rows, got {x.dtype} of shape {x.shape}")
        batch = cnp.PyArray_DIMS(a)[0]
        if kind not in _LOSS_KIND_CODES or red not in _REDUCTION_CODES:
            raise ValueError(f"unknown loss kind {kind} / reduction {red}")
        if kind == NN_LOSS_CE_LABELS:
            lp = <int64_t *>_net_ptr(labels, cnp.NPY_INT64, batch, "labels")
        else:
            tp = _net_ptr(target, self.typenum, batch * self.n_out, "target")
        if weights is not None:
            wp = _net_ptr(weights, self.typenum, batch, "weights")
        if <int>opt.c.dtype != self.dtype_code:
            raise TypeError(f"the optimizer works on {opt.dtype}, the model on {self.dtype}")
        if opt.n_elements != self.n_params or opt._seg_end > self.n_params:
            raise ValueError(f"the optimizer was built for {opt.n_elements} parameters, the "
                             f"model has {self.n_params}")
        if out is not None:
            op = _net_ptr(out, self.typenum, batch * self.n_out, "out")
            if not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>out):
                raise ValueError("out must be writable")
            out_bytes = <size_t>(batch * self.n_out) * <size_t>cnp.PyArray_ITEMSIZE(a)
        xp = cnp.PyArray_DATA(a)
        # Calls on this model queue on its lock. The optimizer's state is then updated
        # without the GIL: mark it busy so no other thread changes or steps it meanwhile
        # (that thread gets a RuntimeError instead of a data race).
        self._enter()
        try:
            opt._check_idle()
            opt._busy = True
            with nogil:
                if grads_only:
                    st = nn_net_train_grads(self.net, xp, rsx, batch, <nn_loss_kind>kind,
                                            <nn_reduction>red, param, tp, lp, wp, &loss)
                else:
                    st = nn_net_train_step(self.net, xp, rsx, batch, <nn_loss_kind>kind,
                                           <nn_reduction>red, param, tp, lp, wp, &opt.c,
                                           clip_norm, clip_value, &loss, &norm)
                if st == NN_OK and op != NULL:
                    res = nn_net_output(self.net)   # backward and update leave it intact
                    if res == NULL:
                        st = NN_ERR_STATE
                    else:
                        memcpy(op, res, out_bytes)
            opt._busy = False
        finally:
            self._lock.release()
        self.last_batch = 0
        if st != NN_OK:
            self._raise_batch(st, "train_step", batch)
        return loss, norm

    def apply_update(self, _COptim opt, double clip_norm, double clip_value):
        """nn_net_apply_update: clipping and the optimizer update of the gradients as
        they are (after train_step(..., grads_only=True) and, in data-parallel training,
        the allreduce of ``grads``); returns the global grad norm before clipping."""
        cdef int st
        cdef double norm = 0.0
        if <int>opt.c.dtype != self.dtype_code:
            raise TypeError(f"the optimizer works on {opt.dtype}, the model on {self.dtype}")
        if opt.n_elements != self.n_params or opt._seg_end > self.n_params:
            raise ValueError(f"the optimizer was built for {opt.n_elements} parameters, the "
                             f"model has {self.n_params}")
        self._enter()
        try:
            opt._check_idle()
            opt._busy = True
            with nogil:
                st = nn_net_apply_update(self.net, &opt.c, clip_norm, clip_value, &norm)
            opt._busy = False
        finally:
            self._lock.release()
        if st != NN_OK:
            _net_raise(st, "apply_update")
        return norm


cdef inline void *_net_ptr(object arr, int typenum, int64_t n, str what) except NULL:
    """Data pointer of a C-contiguous aligned array of `typenum` with n elements."""
    cdef cnp.ndarray a
    if type(arr) is not cnp.ndarray:
        raise TypeError(f"{what} must be a NumPy array, got {type(arr).__name__}")
    a = <cnp.ndarray>arr
    if (cnp.PyArray_TYPE(a) != typenum or not cnp.PyArray_IS_C_CONTIGUOUS(a)
            or not cnp.PyArray_ISBEHAVED_RO(a)):
        raise ValueError(f"{what} must be C-contiguous with the model's dtype, got {arr.dtype}")
    if cnp.PyArray_SIZE(a) != n:
        raise ValueError(f"{what} must have {n} elements, got {cnp.PyArray_SIZE(a)}")
    return cnp.PyArray_DATA(a)


def _net_loss(int kind, int red, double param, out, target, labels, bint want_grad,
              weights=None):
    """(loss, grad or None) of nn_?loss for out (rows, cols); target (rows, cols) in
    out's dtype or labels int64 (rows,); row weights (rows,) in out's dtype or None."""
    cdef cnp.ndarray o
    cdef int64_t rows, cols
    cdef int typenum, st
    cdef double loss = 0.0
    cdef void *op
    cdef void *tp = NULL
    cdef int64_t *lp = NULL
    cdef void *gp = NULL
    cdef void *wp = NULL
    if type(out) is not cnp.ndarray or cnp.PyArray_NDIM(<cnp.ndarray>out) != 2:
        raise ValueError("out must be a 2-D NumPy array")
    o = <cnp.ndarray>out
    typenum = cnp.PyArray_TYPE(o)
    if typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64:
        raise TypeError(f"out must be float32 or float64, got {out.dtype}")
    rows = cnp.PyArray_DIMS(o)[0]
    cols = cnp.PyArray_DIMS(o)[1]
    if rows < 1 or cols < 1:
        raise ValueError(f"out must be non-empty, got shape {out.shape}")
    if kind not in _LOSS_KIND_CODES or red not in _REDUCTION_CODES:
        raise ValueError(f"unknown loss kind {kind} / reduction {red}")
    op = _net_ptr(o, typenum, rows * cols, "out")
    if kind == NN_LOSS_CE_LABELS:
        lp = <int64_t *>_net_ptr(labels, cnp.NPY_INT64, rows, "labels")
    else:
        tp = _net_ptr(target, typenum, rows * cols, "target")
    if weights is not None:
        wp = _net_ptr(weights, typenum, rows, "weights")
    grad = None
    if want_grad:
        grad = cnp.PyArray_EMPTY(2, cnp.PyArray_DIMS(o), typenum, 0)
        gp = cnp.PyArray_DATA(<cnp.ndarray>grad)
    with nogil:
        if typenum == cnp.NPY_FLOAT32:
            st = nn_sloss(<nn_loss_kind>kind, <nn_reduction>red, param, &loss, <float *>gp,
                          <const float *>op, <const float *>tp, lp, <const float *>wp,
                          rows, cols)
        else:
            st = nn_dloss(<nn_loss_kind>kind, <nn_reduction>red, param, &loss, <double *>gp,
                          <const double *>op, <const double *>tp, lp, <const double *>wp,
                          rows, cols)
    if st != NN_OK:
        _net_raise(st, "loss")
    return loss, grad
