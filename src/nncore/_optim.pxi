# Bindings for optim.c: the optimizer object handed to C, gradient norm and clipping.
# Everything is validated by nncore.optim / nncore.utils before it gets here;
# these bindings still check dtypes, contiguity and bounds so no Python call
# can make C read or write outside a buffer.
from libc.stdlib cimport calloc, free
from libc.stdint cimport uintptr_t

# "sgd" -> NN_OPTIM_SGD, ...: every nn_optim_kind of the header, by its lowercased name
_OPTIM_KINDS = {k[len("NN_OPTIM_"):].lower(): v for k, v in C_ENUMS["nn_optim_kind"].items()}


cdef int _optim_dtype_code(object dt) except -1:
    import numpy as _np
    dt = _np.dtype(dt)
    if dt == _np.float32:
        return NN_F32
    if dt == _np.float64:
        return NN_F64
    raise TypeError(f"expected a float32 or float64 buffer, got dtype {dt}")


cdef void *_optim_ptr(object arr, int dtype_code, int64_t min_len, bint writable) except NULL:
    """Data pointer of a 1-D C-contiguous float buffer of at least min_len elements."""
    import numpy as _np
    if not isinstance(arr, _np.ndarray):
        raise TypeError(f"expected a NumPy array, got {type(arr).__name__}")
    if arr.ndim != 1 or not arr.flags.c_contiguous:
        raise ValueError(f"expected a 1-D contiguous buffer, got shape {arr.shape} "
                         f"(contiguous={arr.flags.c_contiguous})")
    if _optim_dtype_code(arr.dtype) != dtype_code:
        raise TypeError(f"expected a {'float32' if dtype_code == NN_F32 else 'float64'} "
                        f"buffer, got {arr.dtype}")
    if arr.shape[0] < min_len:
        raise ValueError(f"buffer has {arr.shape[0]} elements, segments need {min_len}")
    if writable and not arr.flags.writeable:
        raise ValueError("buffer is read-only")
    cdef uintptr_t addr = arr.__array_interface__["data"][0]
    if addr == 0:
        addr = 64  # empty array: never dereferenced (no segment reaches it)
    return <void *>addr


cdef nn_optim_segment *_optim_make_segments(object offsets, object lengths, object rows,
                                            object cols, object groups, int64_t *n_out,
                                            int64_t *end_out) except NULL:
    cdef int64_t n = len(offsets)
    cdef int64_t i, end = 0
    cdef nn_optim_segment *segs = <nn_optim_segment *>calloc(max(n, 1), sizeof(nn_optim_segment))
    if segs == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            segs[i].offset = offsets[i]
            segs[i].length = lengths[i]
            segs[i].rows = rows[i] if rows is not None else 1
            segs[i].cols = cols[i] if cols is not None else segs[i].length
            segs[i].group = groups[i] if groups is not None else 0
            if segs[i].offset < 0 or segs[i].length < 0:
                raise ValueError(f"segment {i}: offset {segs[i].offset}, length {segs[i].length}")
            end = max(end, segs[i].offset + segs[i].length)
    except BaseException:
        free(segs)
        raise
    n_out[0] = n
    end_out[0] = end
    return segs


cdef class _COptim:
    """The optimizer as the C core sees it: an `nn_optim` struct with its groups,
    segments and state buffers (NumPy arrays, flat like the parameter buffer).

    nncore.optim.Optimizer fills it (`set_groups`, `set_segments`, `set_state`);
    the network's train_step passes `&opt.c` to C. Every pointer in `c` stays
    valid while this object lives: the arrays are held here and never resized.
    """
    cdef nn_optim c
    cdef nn_optim_group *_groups
    cdef nn_optim_segment *_segs
    cdef int64_t _seg_end          # one past the highest element any segment touches
    cdef public int64_t n_elements # length of the flat buffers
    cdef object _states            # list of 3: ndarray or None
    cdef public object dtype
    cdef bint _busy                # a step runs without the GIL: no changes meanwhile

    cdef int _check_idle(self) except -1:
        if self._busy:
            raise RuntimeError("the optimizer is stepping in another thread; change it after")
        return 0

    def __cinit__(self, str kind, object dtype, int64_t n_elements):
        import numpy as _np
        if kind not in _OPTIM_KINDS:
            raise ValueError(f"unknown optimizer kind {kind!r}; expected one of {list(_OPTIM_KINDS)}")
        if n_elements < 0:
            raise ValueError(f"n_elements must be >= 0, got {n_elements}")
        self.c.kind = _OPTIM_KINDS[kind]
        self.c.dtype = <nn_dtype>_optim_dtype_code(dtype)
        self.dtype = _np.dtype(dtype)
        self.n_elements = n_elements
        self.c.n_groups = 0
        self.c.groups = NULL
        self.c.n_segments = 0
        self.c.segments = NULL
        self.c.state[0] = NULL
        self.c.state[1] = NULL
        self.c.state[2] = NULL
        self.c.step = 0
        self._groups = NULL
        self._segs = NULL
        self._seg_end = 0
        self._states = [None, None, None]
        self._busy = False

    def __dealloc__(self):
        free(self._groups)
        free(self._segs)

    def set_groups(self, list groups):
        """Fill the C groups from dicts with nn_optim_group's field names (missing = 0)."""
        cdef int32_t n = len(groups)
        cdef int32_t i
        cdef nn_optim_group *gs
        self._check_idle()
        if n != self.c.n_groups or self._groups == NULL:
            gs = <nn_optim_group *>calloc(max(n, 1), sizeof(nn_optim_group))
            if gs == NULL:
                raise MemoryError()
            free(self._groups)
            self._groups = gs
            self.c.groups = gs
            self.c.n_groups = n
        gs = self._groups
        for i in range(n):
            g = groups[i]
            gs[i].lr = g.get("lr", 0.0)
            gs[i].weight_decay = g.get("weight_decay", 0.0)
            gs[i].l1 = g.get("l1", 0.0)
            gs[i].momentum = g.get("momentum", 0.0)
            gs[i].dampening = g.get("dampening", 0.0)
            gs[i].nesterov = 1 if g.get("nesterov", False) else 0
            gs[i].alpha = g.get("alpha", 0.0)
            gs[i].centered = 1 if g.get("centered", False) else 0
            gs[i].eps = g.get("eps", 0.0)
            gs[i].beta1 = g.get("beta1", 0.0)
            gs[i].beta2 = g.get("beta2", 0.0)
            gs[i].amsgrad = 1 if g.get("amsgrad", False) else 0
            gs[i].eps_hat = 1 if g.get("eps_hat", False) else 0
            gs[i].lr_decay = g.get("lr_decay", 0.0)
            gs[i].max_norm = g.get("max_norm", 0.0)

    def set_segments(self, offsets, lengths, rows, cols, groups):
        """Segments (sequences of equal length): element offset, length, rows x cols, C group."""
        cdef int64_t n = 0, end = 0
        cdef int64_t i
        self._check_idle()
        if not (len(offsets) == len(lengths) == len(rows) == len(cols) == len(groups)):
            raise ValueError("segment arrays differ in length")
        cdef nn_optim_segment *segs = _optim_make_segments(offsets, lengths, rows, cols, groups,
                                                           &n, &end)
        if end > self.n_elements:
            free(segs)
            raise ValueError(f"segments reach element {end}, the buffer has {self.n_elements}")
        cdef int32_t bad_group
        for i in range(n):
            if segs[i].group < 0 or segs[i].group >= self.c.n_groups:
                bad_group = segs[i].group   # read before free (ASan: use after free)
                free(segs)
                raise ValueError(f"segment {i}: group {bad_group} out of range "
                                 f"[0, {self.c.n_groups})")
        free(self._segs)
        self._segs = segs
        self.c.segments = segs
        self.c.n_segments = n
        self._seg_end = end

    def set_state(self, int slot, object arr):
        """Hold `arr` (flat, n_elements, the optimizer's dtype) as state slot 0..2, or None."""
        if slot < 0 or slot > 2:
            raise ValueError(f"state slot must be 0, 1 or 2, got {slot}")
        self._check_idle()
        if arr is None:
            self.c.state[slot] = NULL
            self._states[slot] = None
            return
        if arr.shape != (self.n_elements,):
            raise ValueError(f"state buffer must have shape ({self.n_elements},), got {arr.shape}")
        self.c.state[slot] = _optim_ptr(arr, self.c.dtype, self.n_elements, True)
        self._states[slot] = arr

    def get_state(self, int slot):
        if slot < 0 or slot > 2:
            raise ValueError(f"state slot must be 0, 1 or 2, got {slot}")
        return self._states[slot]

    @property
    def step_count(self):
        return self.c.step

    @step_count.setter
    def step_count(self, value):
        if value < 0:
            raise ValueError(f"step count must be >= 0, got {value}")
        self._check_idle()
        self.c.step = value

    @property
    def n_groups(self):
        return self.c.n_groups

    @property
    def n_segments(self):
        return self.c.n_segments

    def step(self, params, grads):
        """One fused update of `params` from `grads` (flat buffers of n_elements)."""
        cdef void *p = _optim_ptr(params, self.c.dtype, self.n_elements, True)
        cdef const void *g = _optim_ptr(grads, self.c.dtype, self.n_elements, False)
        cdef int st
        self._check_idle()
        self._busy = True
        try:
            with nogil:
                st = nn_optim_step(&self.c, p, g)
        finally:
            self._busy = False
        if st != NN_OK:
            raise ValueError(f"nn_optim_step: {nn_strerror(st).decode()} "
                             f"(hyperparameters, segments or state buffers)")

    def grad_norm(self, grads):
        """Global L2 norm of `grads` over this optimizer's segments."""
        cdef const void *g = _optim_ptr(grads, self.c.dtype, self.n_elements, False)
        cdef double norm = 0.0
        cdef int st
        with nogil:
            st = nn_grad_norm(&norm, self.c.dtype, g, self.c.segments, self.c.n_segments)
        if st != NN_OK:
            raise ValueError(f"nn_grad_norm: {nn_strerror(st).decode()}")
        return norm


def _optim_grad_norm(grads, offsets, lengths):
    """Global L2 norm of grads[offsets[i]:offsets[i]+lengths[i]] over all i."""
    return _optim_grad_call(0, grads, offsets, lengths, 0.0)


def _optim_clip_grad_norm(grads, offsets, lengths, double max_norm):
    """Scale the segments by min(1, max_norm / (norm + 1e-6)); returns the norm before."""
    return _optim_grad_call(1, grads, offsets, lengths, max_norm)


def _optim_clip_grad_value(grads, offsets, lengths, double clip):
    """Clamp every element of the segments to [-clip, clip]."""
    _optim_grad_call(2, grads, offsets, lengths, clip)


cdef double _optim_grad_call(int what, object grads, object offsets, object lengths,
                             double arg) except? -1.0:
    cdef int dt = _optim_dtype_code(grads.dtype)
    cdef int64_t n = 0, end = 0
    cdef nn_optim_segment *segs = _optim_make_segments(offsets, lengths, None, None, None, &n, &end)
    cdef void *g
    cdef double norm = 0.0
    cdef int st = NN_OK
    try:
        g = _optim_ptr(grads, dt, end, what != 0)
        with nogil:
            if what == 0:
                st = nn_grad_norm(&norm, <nn_dtype>dt, g, segs, n)
            elif what == 1:
                st = nn_clip_grad_norm(&norm, <nn_dtype>dt, g, segs, n, arg)
            else:
                st = nn_clip_grad_value(<nn_dtype>dt, g, segs, n, arg)
    finally:
        free(segs)
    if st != NN_OK:
        raise ValueError(f"gradient clipping: {nn_strerror(st).decode()} (argument {arg})")
    return norm
