/* optim_tmpl.h — the max-norm constraint and the gradient helpers (sum of
 * squares, scaling, clamping) of optim.c, written once for `real` = float and
 * double (compiled for both by optim.c through instantiate.h; see internal.h).
 * Not for: the updates and the sum-of-squares kernel (optim_update_tmpl.h,
 * optim_sumsq_tmpl.h: built per CPU family), argument
 * checking or threading policy (optim.c).
 */

/* ----------------------------------------------------------- max-norm */

/* Rows of max-norm segments are numbered across segments in order; a pool
 * block is a run of rows (how many depends only on the sizes), each row is
 * summed by one thread in a fixed order. */
typedef struct {
    const nn_optim *opt;
    real *params;
    int64_t total_rows, per;
} NN_FN(maxnorm_job);

static void NN_FN(maxnorm_block)(void *p, int64_t blk) {
    const NN_FN(maxnorm_job) *j = (const NN_FN(maxnorm_job) *)p;
    const nn_optim *opt = j->opt;
    const int64_t r0 = blk * j->per;
    const int64_t r1 = r0 + j->per < j->total_rows ? r0 + j->per : j->total_rows;
    int64_t base = 0; /* max-norm rows before segment s */
    for (int64_t s = 0; s < opt->n_segments && base < r1; s++) {
        const nn_optim_segment *seg = &opt->segments[s];
        const double mx = opt->groups[seg->group].max_norm;
        if (!(mx > 0)) continue;
        int64_t a = r0 - base, b = r1 - base;
        if (a < 0) a = 0;
        if (b > seg->rows) b = seg->rows;
        for (int64_t r = a; r < b; r++) {
            real *row = j->params + seg->offset + r * seg->cols;
            double ss = 0.0;
            for (int64_t c = 0; c < seg->cols; c++) ss += (double)row[c] * (double)row[c];
            const double norm = sqrt(ss);
            if (norm > mx) {
                const real f = (real)(mx / (norm + NN_MAXNORM_EPS));
                for (int64_t c = 0; c < seg->cols; c++) row[c] *= f;
            }
        }
        base += seg->rows;
    }
}

void NN_FN(optim_max_norm)(const nn_optim *opt, real *params) {
    int64_t total_rows = 0, total_elems = 0;
    for (int64_t s = 0; s < opt->n_segments; s++) {
        const nn_optim_segment *seg = &opt->segments[s];
        if (opt->groups[seg->group].max_norm > 0) {
            total_rows += seg->rows;
            total_elems += seg->length;
        }
    }
    if (total_rows == 0) return;
    NN_FN(maxnorm_job) job = {opt, params, total_rows, 1};
    /* runs of rows (of the average length) of >= NN_OPTIM_BLOCK elements */
    const int64_t nblocks =
        nn_blocks(total_rows, total_elems / total_rows, NN_OPTIM_BLOCK, &job.per);
    nn_pool_run(NN_FN(maxnorm_block), &job, nblocks, nn_threads());
}

/* ------------------------------------------------------- grad helpers */

/* Sum of squares of elements [lo, hi) of the concatenated segments, each
 * contiguous piece by the family's kernel (optim_sumsq_tmpl.h), in order. */
double NN_FN(sumsq_span)(const real *x, const nn_optim_segment *segs, int64_t n_segments,
                         int64_t lo, int64_t hi, double (*sumsq)(const real *, int64_t)) {
    double acc = 0.0;
    int64_t base = 0;
    for (int64_t s = 0; s < n_segments && base < hi; s++) {
        const int64_t len = segs[s].length;
        int64_t a = lo - base, b = hi - base;
        if (a < 0) a = 0;
        if (b > len) b = len;
        if (a < b) acc += sumsq(x + segs[s].offset + a, b - a);
        base += len;
    }
    return acc;
}

typedef struct {
    real *x;
    const nn_optim_segment *segs;
    real v;
} NN_FN(elem_ctx);

static void NN_FN(scale_range)(void *vctx, int64_t s, int64_t start, int64_t end) {
    const NN_FN(elem_ctx) *c = (const NN_FN(elem_ctx) *)vctx;
    real *NN_RESTRICT x = c->x + c->segs[s].offset + start;
    const real f = c->v;
    for (int64_t i = 0; i < end - start; i++) x[i] *= f;
}

static void NN_FN(clamp_range)(void *vctx, int64_t s, int64_t start, int64_t end) {
    const NN_FN(elem_ctx) *c = (const NN_FN(elem_ctx) *)vctx;
    real *NN_RESTRICT x = c->x + c->segs[s].offset + start;
    const real hi = c->v, lo = -c->v;
    for (int64_t i = 0; i < end - start; i++) {
        real t = x[i];
        t = t > hi ? hi : t;
        x[i] = t < lo ? lo : t; /* NaN stays NaN */
    }
}

void NN_FN(scale_segments)(real *x, const nn_optim_segment *segs, int64_t n_segments, real f) {
    NN_FN(elem_ctx) c = {x, segs, f};
    nn_optim_for_ranges(segs, n_segments, NN_FN(scale_range), &c);
}

void NN_FN(clamp_segments)(real *x, const nn_optim_segment *segs, int64_t n_segments, real v) {
    NN_FN(elem_ctx) c = {x, segs, v};
    nn_optim_for_ranges(segs, n_segments, NN_FN(clamp_range), &c);
}
