/* activation_tmpl.h — elementwise activations and row-wise (log-)softmax,
 * forward and backward, written once for `real` (float or double); compiled
 * per CPU family as part of elementwise_tmpl.h (template convention:
 * internal.h). exp, expm1, log1p, tanh and erfc are the vectorizable ones of
 * vmath.h (NN_MATH(nn_vexp) ...), the rest libm's.
 *
 * Stability rules (mirrored exactly by nncore.reference):
 *   sigmoid(x) = 1/(1+e) for x >= 0, e/(1+e) for x < 0, with e = exp(-|x|);
 *   s(1-s)     = e/(1+e)^2 (no cancellation near s = 1);
 *   softplus   = max(x, 0) + log1p(exp(-|x|));
 *   x * g(x) with g -> 0 (SiLU, GELU) is 0 where g == 0, so x = -inf gives 0
 *   (g != 0, not g > 0: a NaN x keeps g NaN and gives NaN, like PyTorch);
 *   tanh'(x)   = 4e/(1+e)^2 with e = exp(-2|x|);
 *   GELU exact = x * erfc(-x/sqrt2)/2;  GELU tanh = x * sigmoid(2u),
 *                u = sqrt(2/pi) (x + 0.044715 x^3)  (= x(1+tanh u)/2).
 */

/* ---- scalar building blocks (inlined into the loops) ---- */

/* sigmoid(x) and sigmoid'(x) = s (1 - s) = e/(1+e)^2, e = exp(-|x|), as two
 * value-returning helpers (out-pointers kept some loops from vectorizing). */
NN_INLINE real NN_FN(_sigv)(real x) {
    real e = NN_MATH(nn_vexp)(-NN_MATH(fabs)(x));
    real r = (real)1 / ((real)1 + e);
    return x >= 0 ? r : e * r;
}
NN_INLINE real NN_FN(_sigd)(real x) {
    real e = NN_MATH(nn_vexp)(-NN_MATH(fabs)(x));
    real r = (real)1 / ((real)1 + e);
    return e * r * r;
}

#define NN_GELU_K ((real)0.7978845608028654)   /* sqrt(2/pi) */
#define NN_GELU_C ((real)0.044715)
#define NN_INV_SQRT2 ((real)0.7071067811865476)
#define NN_INV_SQRT_2PI ((real)0.3989422804014327)

NN_INLINE real NN_FN(_fwd1)(nn_act kind, real p, real x) {
    real s;
    switch (kind) {
    case NN_ACT_IDENTITY: return x;
    case NN_ACT_RELU: return x < 0 ? (real)0 : x; /* NaN passes through */
    case NN_ACT_LEAKY_RELU: return x > 0 ? x : x * p;
    case NN_ACT_ELU: return x > 0 ? x : p * NN_MATH(nn_vexpm1)(x);
    case NN_ACT_GELU: {
        real phi = (real)0.5 * NN_MATH(nn_verfc)(-x * NN_INV_SQRT2);
        return phi != 0 ? x * phi : (real)0; /* phi NaN (x NaN): NaN */
    }
    case NN_ACT_GELU_TANH: {
        real u = NN_GELU_K * (x + NN_GELU_C * x * x * x);
        s = NN_FN(_sigv)((real)2 * u);
        return s != 0 ? x * s : (real)0;
    }
    case NN_ACT_SILU:
        s = NN_FN(_sigv)(x);
        return s != 0 ? x * s : (real)0;
    case NN_ACT_SOFTPLUS:
        return (x > 0 ? x : (real)0) +
               NN_MATH(nn_vlog1p)(NN_MATH(nn_vexp)(-NN_MATH(fabs)(x)));
    case NN_ACT_SIGMOID: return NN_FN(_sigv)(x);
    case NN_ACT_TANH: return NN_MATH(nn_vtanh)(x);
    default: return x;
    }
}

/* f'(x) */
NN_INLINE real NN_FN(_der1)(nn_act kind, real p, real x) {
    real s, t;
    switch (kind) {
    case NN_ACT_IDENTITY: return (real)1;
    case NN_ACT_RELU: return x > 0 ? (real)1 : (real)0;
    case NN_ACT_LEAKY_RELU: return x > 0 ? (real)1 : p;
    case NN_ACT_ELU: return x > 0 ? (real)1 : p * NN_MATH(nn_vexp)(x);
    case NN_ACT_GELU: {
        real cdf = (real)0.5 * NN_MATH(nn_verfc)(-x * NN_INV_SQRT2);
        real pdf = NN_INV_SQRT_2PI * NN_MATH(nn_vexp)((real)-0.5 * x * x);
        return cdf + (pdf > 0 ? x * pdf : (real)0);
    }
    case NN_ACT_GELU_TANH: {
        real x2 = x * x;
        real u = NN_GELU_K * (x + NN_GELU_C * x2 * x);
        /* sigmoid(2u) and its s(1-s) */
        real e = NN_MATH(nn_vexp)((real)-2 * NN_MATH(fabs)(u));
        real r = (real)1 / ((real)1 + e);
        s = u >= 0 ? r : e * r;
        t = e * r * r;
        real du = (real)2 * NN_GELU_K * ((real)1 + (real)3 * NN_GELU_C * x2);
        return s + (t > 0 ? x * t * du : (real)0);
    }
    case NN_ACT_SILU: {
        real e = NN_MATH(nn_vexp)(-NN_MATH(fabs)(x));
        real r = (real)1 / ((real)1 + e);
        s = x >= 0 ? r : e * r;
        t = e * r * r;
        return s + (t > 0 ? x * t : (real)0);
    }
    case NN_ACT_SOFTPLUS: return NN_FN(_sigv)(x);
    case NN_ACT_SIGMOID: return NN_FN(_sigd)(x);
    case NN_ACT_TANH: {
        real e = NN_MATH(nn_vexp)((real)-2 * NN_MATH(fabs)(x));
        real r = (real)1 / ((real)1 + e);
        return (real)4 * e * r * r;
    }
    default: return (real)1;
    }
}

/* ---- elementwise loops: one switch per chunk, a plain loop per kind ---- */

/* The body is inlined twice: once with restrict pointers (distinct buffers),
 * once with y == x, so both cases vectorize where the math allows. */
#define NN_EW_CASES(EXPR)                                                    \
    switch (kind) {                                                          \
    case NN_ACT_IDENTITY: for (int64_t i = 0; i < n; i++) { EXPR(NN_ACT_IDENTITY); } break; \
    case NN_ACT_RELU: for (int64_t i = 0; i < n; i++) { EXPR(NN_ACT_RELU); } break;         \
    case NN_ACT_LEAKY_RELU: for (int64_t i = 0; i < n; i++) { EXPR(NN_ACT_LEAKY_RELU); } break; \
    case NN_ACT_ELU: for (int64_t i = 0; i < n; i++) { EXPR(NN_ACT_ELU); } break;           \
    case NN_ACT_GELU: for (int64_t i = 0; i < n; i++) { EXPR(NN_ACT_GELU); } break;         \
    case NN_ACT_GELU_TANH: for (int64_t i = 0; i < n; i++) { EXPR(NN_ACT_GELU_TANH); } break; \
    case NN_ACT_SILU: for (int64_t i = 0; i < n; i++) { EXPR(NN_ACT_SILU); } break;         \
    case NN_ACT_SOFTPLUS: for (int64_t i = 0; i < n; i++) { EXPR(NN_ACT_SOFTPLUS); } break; \
    case NN_ACT_SIGMOID: for (int64_t i = 0; i < n; i++) { EXPR(NN_ACT_SIGMOID); } break;   \
    case NN_ACT_TANH: for (int64_t i = 0; i < n; i++) { EXPR(NN_ACT_TANH); } break;         \
    default: break;                                                          \
    }

#define NN_FWD_EXPR(K) y[i] = NN_FN(_fwd1)(K, p, x[i])
#define NN_BWD_EXPR(K) dx[i] = dy[i] * NN_FN(_der1)(K, p, x[i])

static void NN_FN(_ew_fwd_r)(nn_act kind, real p, real *NN_RESTRICT y,
                             const real *NN_RESTRICT x, int64_t n) {
    NN_EW_CASES(NN_FWD_EXPR)
}
static void NN_FN(_ew_fwd_i)(nn_act kind, real p, real *y, int64_t n) {
    const real *x = y;
    NN_EW_CASES(NN_FWD_EXPR)
}
static void NN_FN(_ew_bwd_r)(nn_act kind, real p, real *NN_RESTRICT dx,
                             const real *NN_RESTRICT dy, const real *NN_RESTRICT x, int64_t n) {
    NN_EW_CASES(NN_BWD_EXPR)
}
static void NN_FN(_ew_bwd_i)(nn_act kind, real p, real *dx, const real *NN_RESTRICT x,
                             int64_t n) {
    const real *dy = dx;
    NN_EW_CASES(NN_BWD_EXPR)
}

#undef NN_FWD_EXPR
#undef NN_BWD_EXPR
#undef NN_EW_CASES

/* ---- row-wise softmax / log-softmax (8 fixed lanes: vectorizable, and the
 * summation order depends only on cols, never on the thread count) ---- */

/* one row: y (n) = softmax(x) or log_softmax(x); y may alias x */
static void NN_FN(_softmax_row)(int logsm, real *y, const real *x, int64_t n) {
    real m = NN_FN(_rowmax)(x, n);
    if (logsm) {
        real lse = NN_MATH(log)(NN_FN(_lanesumexp)(x, m, n));
        for (int64_t j = 0; j < n; j++) y[j] = (x[j] - m) - lse;
    } else {
        for (int64_t j = 0; j < n; j++) y[j] = NN_MATH(nn_vexp)(x[j] - m);
        real s = NN_FN(_lanesum)(y, n);
        for (int64_t j = 0; j < n; j++) y[j] = y[j] / s;
    }
}

/* one row: dx = y (dy - <dy, y>)  or  dx = dy - exp(y) sum(dy); dx may alias dy */
static void NN_FN(_softmax_row_bwd)(int logsm, real *dx, const real *dy, const real *y,
                                    int64_t n) {
    if (logsm) {
        real s = NN_FN(_lanesum)(dy, n);
        for (int64_t j = 0; j < n; j++) dx[j] = dy[j] - NN_MATH(nn_vexp)(y[j]) * s;
    } else {
        real d = NN_FN(_lanedot)(dy, y, n);
        for (int64_t j = 0; j < n; j++) dx[j] = y[j] * (dy[j] - d);
    }
}

/* ---- pool jobs (pool.c): a block is a run of whole chunks / rows ---- */

/* Elementwise: the loops run over chunks of NN_ACT_CHUNK elements (chunk c
 * starts at element c*NN_ACT_CHUNK), a block is `per` chunks. out/x for
 * forward (in place when out == x), out/a/x = dx/dy/x for backward (in place
 * when dx == dy). */
typedef struct {
    nn_act kind;
    real param;
    real *out;
    const real *a, *x; /* forward: a = x; backward: a = dy */
    int64_t n, per;
} NN_FN(_ew_job);

static void NN_FN(_ew_fwd_block)(void *p, int64_t blk) {
    const NN_FN(_ew_job) *j = (const NN_FN(_ew_job) *)p;
    int64_t lo, hi;
    nn_block_span(blk, j->per, NN_ACT_CHUNK, j->n, &lo, &hi);
    for (; lo < hi; lo += NN_ACT_CHUNK) {
        int64_t len = hi - lo < NN_ACT_CHUNK ? hi - lo : NN_ACT_CHUNK;
        if (j->out == j->x)
            NN_FN(_ew_fwd_i)(j->kind, j->param, j->out + lo, len);
        else
            NN_FN(_ew_fwd_r)(j->kind, j->param, j->out + lo, j->x + lo, len);
    }
}

static void NN_FN(_ew_bwd_block)(void *p, int64_t blk) {
    const NN_FN(_ew_job) *j = (const NN_FN(_ew_job) *)p;
    int64_t lo, hi;
    nn_block_span(blk, j->per, NN_ACT_CHUNK, j->n, &lo, &hi);
    for (; lo < hi; lo += NN_ACT_CHUNK) {
        int64_t len = hi - lo < NN_ACT_CHUNK ? hi - lo : NN_ACT_CHUNK;
        if (j->out == j->a)
            NN_FN(_ew_bwd_i)(j->kind, j->param, j->out + lo, j->x + lo, len);
        else
            NN_FN(_ew_bwd_r)(j->kind, j->param, j->out + lo, j->a + lo, j->x + lo, len);
    }
}

/* Row-wise: a block is `per` rows of cols; forward y = f(x), backward
 * dx = f'(dy, y). */
typedef struct {
    int logsm;
    real *out;
    const real *a, *y; /* forward: a = x; backward: a = dy */
    int64_t rows, cols, per;
} NN_FN(_sm_job);

static void NN_FN(_sm_fwd_block)(void *p, int64_t blk) {
    const NN_FN(_sm_job) *j = (const NN_FN(_sm_job) *)p;
    const int64_t r1 = (blk + 1) * j->per < j->rows ? (blk + 1) * j->per : j->rows;
    for (int64_t r = blk * j->per; r < r1; r++)
        NN_FN(_softmax_row)(j->logsm, j->out + r * j->cols, j->a + r * j->cols, j->cols);
}

static void NN_FN(_sm_bwd_block)(void *p, int64_t blk) {
    const NN_FN(_sm_job) *j = (const NN_FN(_sm_job) *)p;
    const int64_t r1 = (blk + 1) * j->per < j->rows ? (blk + 1) * j->per : j->rows;
    for (int64_t r = blk * j->per; r < r1; r++)
        NN_FN(_softmax_row_bwd)(j->logsm, j->out + r * j->cols, j->a + r * j->cols,
                                j->y + r * j->cols, j->cols);
}

/* ---- public entry points ---- */

int NN_FN(act_forward)(nn_act kind, real param, real *y, const real *x,
                       int64_t rows, int64_t cols) {
    int64_t n;
    int st = nn_act_check(kind, (double)param, rows, cols, &n);
    if (st != NN_OK) return st;
    if (n == 0) return NN_OK;
    if (y == NULL || x == NULL) return NN_ERR_ARG;
    if (kind == NN_ACT_SOFTMAX || kind == NN_ACT_LOG_SOFTMAX) {
        NN_FN(_sm_job) job = {kind == NN_ACT_LOG_SOFTMAX, y, x, NULL, rows, cols, 1};
        int64_t nb = nn_blocks(rows, cols, nn_ew_block_items(NN_ACT_COST_EXP), &job.per);
        nn_pool_run(NN_FN(_sm_fwd_block), &job, nb, nn_threads());
        return NN_OK;
    }
    if (kind == NN_ACT_IDENTITY) {
        if (y != x) memcpy(y, x, (size_t)n * sizeof(real));
        return NN_OK;
    }
    NN_FN(_ew_job) job = {kind, param, y, x, x, n, 1};
    int64_t nb = nn_blocks((n + NN_ACT_CHUNK - 1) / NN_ACT_CHUNK, NN_ACT_CHUNK,
                           nn_ew_block_items(nn_act_cost(kind)), &job.per);
    nn_pool_run(NN_FN(_ew_fwd_block), &job, nb, nn_threads());
    return NN_OK;
}

int NN_FN(act_backward)(nn_act kind, real param, real *dx, const real *dy,
                        const real *x, const real *y, int64_t rows, int64_t cols) {
    int64_t n;
    int st = nn_act_check(kind, (double)param, rows, cols, &n);
    if (st != NN_OK) return st;
    if (n == 0) return NN_OK;
    if (dx == NULL || dy == NULL) return NN_ERR_ARG;
    if (kind == NN_ACT_SOFTMAX || kind == NN_ACT_LOG_SOFTMAX) {
        if (y == NULL) return NN_ERR_ARG;
        const int logsm = kind == NN_ACT_LOG_SOFTMAX;
        NN_FN(_sm_job) job = {logsm, dx, dy, y, rows, cols, 1};
        int64_t nb = nn_blocks(rows, cols, nn_ew_block_items(NN_ACT_COST_EXP), &job.per);
        nn_pool_run(NN_FN(_sm_bwd_block), &job, nb, nn_threads());
        return NN_OK;
    }
    if (kind == NN_ACT_IDENTITY) {
        if (dx != dy) memcpy(dx, dy, (size_t)n * sizeof(real));
        return NN_OK;
    }
    if (x == NULL) return NN_ERR_ARG;
    NN_FN(_ew_job) job = {kind, param, dx, dy, x, n, 1};
    int64_t nb = nn_blocks((n + NN_ACT_CHUNK - 1) / NN_ACT_CHUNK, NN_ACT_CHUNK,
                           nn_ew_block_items(nn_act_cost(kind)), &job.per);
    nn_pool_run(NN_FN(_ew_bwd_block), &job, nb, nn_threads());
    return NN_OK;
}

#undef NN_GELU_K
#undef NN_GELU_C
#undef NN_INV_SQRT2
#undef NN_INV_SQRT_2PI
