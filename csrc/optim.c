/* optim.c — optimizer steps (SGD, RMSprop, Adagrad, Adam, AdamW with L1/L2
 * penalties and an optional max-norm row constraint) over the flat parameter
 * buffer, and global gradient-norm / clipping helpers.
 * The update itself (optim_update_tmpl.h) is compiled per CPU family and
 * called through the active family's table (kernels.h); max-norm and the
 * gradient helpers (optim_tmpl.h) are compiled here.
 * Not for: choosing hyperparameters or allocating state (the caller owns the
 * state buffers: see optim_internal.h for their layout), the network (net.c).
 *
 * Threading: every loop is a job on the persistent team of pool.c
 * (nn_pool_run). The segments are cut into fixed chunks and a pool block
 * is a run of chunks whose length depends only on the sizes; every update is
 * elementwise, so any thread count gives the same bits. The gradient norm is
 * a sum over a cut that depends only on the sizes (NN_NORM_PARTS parts, a
 * block being a run of parts), the parts added in order afterwards: also the
 * same bits at any count.
 */
#include "kernels.h"
#include "optim_internal.h"

#include <math.h>

/* ------------------------------------------------------------ threading */

/* A job of nn_optim_for_ranges: pool block b covers chunks [b*per, (b+1)*per)
 * of the concatenated segments (chunks never straddle two segments). */
typedef struct {
    const nn_optim_segment *segs;
    int64_t n_segments;
    int64_t total_chunks, per;
    nn_optim_range_fn fn;
    void *ctx;
} optim_ranges_job;

static void optim_ranges_block(void *p, int64_t blk) {
    const optim_ranges_job *j = (const optim_ranges_job *)p;
    const int64_t c0 = blk * j->per;
    const int64_t c1 = c0 + j->per < j->total_chunks ? c0 + j->per : j->total_chunks;
    int64_t base = 0; /* chunks before segment s */
    for (int64_t s = 0; s < j->n_segments && base < c1; s++) {
        const int64_t len = j->segs[s].length;
        const int64_t nc = (len + NN_OPTIM_CHUNK - 1) / NN_OPTIM_CHUNK;
        int64_t a = c0 - base, b = c1 - base;
        if (a < 0) a = 0;
        if (b > nc) b = nc;
        if (a < b) {
            int64_t end = b * NN_OPTIM_CHUNK;
            if (end > len) end = len;
            j->fn(j->ctx, s, a * NN_OPTIM_CHUNK, end);
        }
        base += nc;
    }
}

void nn_optim_for_ranges(const nn_optim_segment *segs, int64_t n_segments,
                         nn_optim_range_fn fn, void *ctx) {
    int64_t total_chunks = 0, total_elems = 0;
    for (int64_t s = 0; s < n_segments; s++) {
        total_chunks += (segs[s].length + NN_OPTIM_CHUNK - 1) / NN_OPTIM_CHUNK;
        total_elems += segs[s].length;
    }
    if (total_chunks == 0) return;
    optim_ranges_job job = {segs, n_segments, total_chunks, 1, fn, ctx};
    /* runs of >= NN_OPTIM_BLOCK elements, counting chunks at their mean length
     * (many short segments, e.g. biases, make short chunks) */
    const int64_t nblocks =
        nn_blocks(total_chunks, total_elems / total_chunks, NN_OPTIM_BLOCK, &job.per);
    nn_pool_run(optim_ranges_block, &job, nblocks, nn_threads());
}

/* ------------------------------------------------------------ templates */

#define NN_TMPL "optim_tmpl.h" /* max-norm and the gradient helpers */
#include "instantiate.h"

/* ------------------------------------------------------------ checks */

static int finite_nonneg(double x) { return isfinite(x) && x >= 0; }

static int check_group(nn_optim_kind kind, const nn_optim_group *h) {
    if (!(isfinite(h->lr) && h->lr >= 0)) return NN_ERR_ARG;
    if (!finite_nonneg(h->weight_decay) || !finite_nonneg(h->l1)) return NN_ERR_ARG;
    if (!(h->max_norm >= 0)) return NN_ERR_ARG; /* 0 = off; NaN rejected */
    switch (kind) {
    case NN_OPTIM_SGD:
        if (!finite_nonneg(h->momentum) || !isfinite(h->dampening)) return NN_ERR_ARG;
        if (h->nesterov && (h->momentum <= 0 || h->dampening != 0)) return NN_ERR_ARG;
        break;
    case NN_OPTIM_RMSPROP:
        if (!finite_nonneg(h->momentum) || !finite_nonneg(h->alpha)) return NN_ERR_ARG;
        if (!finite_nonneg(h->eps)) return NN_ERR_ARG;
        break;
    case NN_OPTIM_ADAGRAD:
        if (!finite_nonneg(h->lr_decay) || !finite_nonneg(h->eps)) return NN_ERR_ARG;
        break;
    case NN_OPTIM_ADAM:
    case NN_OPTIM_ADAMW:
        if (!(h->beta1 >= 0 && h->beta1 < 1 && h->beta2 >= 0 && h->beta2 < 1)) return NN_ERR_ARG;
        if (!finite_nonneg(h->eps)) return NN_ERR_ARG;
        break;
    default: return NN_ERR_ARG;
    }
    return NN_OK;
}

/* Segments: sane sizes and group indices; max-norm segments must be rows x cols. */
static int check_segments(const nn_optim_segment *segs, int64_t n, int32_t n_groups,
                          const nn_optim_group *groups) {
    if (n < 0 || (n > 0 && segs == NULL)) return NN_ERR_ARG;
    for (int64_t s = 0; s < n; s++) {
        const nn_optim_segment *g = &segs[s];
        if (g->offset < 0 || g->length < 0 || g->offset > INT64_MAX - g->length) return NN_ERR_ARG;
        if (groups != NULL) {
            if (g->group < 0 || g->group >= n_groups) return NN_ERR_ARG;
            if (groups[g->group].max_norm > 0) {
                int64_t rc;
                if (g->rows < 0 || g->cols < 0 || nn_mul_size(g->rows, g->cols, &rc) != NN_OK ||
                    rc != g->length)
                    return NN_ERR_ARG;
            }
        }
    }
    return NN_OK;
}

/* The state slots this optimizer's groups need (optim_internal.h). */
static int check_state(const nn_optim *opt) {
    int need[3] = {0, 0, 0};
    for (int32_t i = 0; i < opt->n_groups; i++) {
        const nn_optim_group *h = &opt->groups[i];
        switch (opt->kind) {
        case NN_OPTIM_SGD: need[0] |= h->momentum != 0; break;
        case NN_OPTIM_RMSPROP:
            need[0] = 1;
            need[1] |= h->centered != 0;
            need[2] |= h->momentum > 0;
            break;
        case NN_OPTIM_ADAGRAD: need[0] = 1; break;
        case NN_OPTIM_ADAM:
        case NN_OPTIM_ADAMW:
            need[0] = need[1] = 1;
            need[2] |= h->amsgrad != 0;
            break;
        }
    }
    for (int k = 0; k < 3; k++)
        if (need[k] && opt->state[k] == NULL) return NN_ERR_ARG;
    return NN_OK;
}

/* ------------------------------------------------------------ public */

int nn_optim_step(nn_optim *opt, void *params, const void *grads) {
    if (opt == NULL || params == NULL || grads == NULL) return NN_ERR_ARG;
    if (opt->dtype != NN_F32 && opt->dtype != NN_F64) return NN_ERR_ARG;
    if ((unsigned)opt->kind > (unsigned)NN_OPTIM_ADAMW) return NN_ERR_ARG;
    if (opt->n_groups < 0 || (opt->n_groups > 0 && opt->groups == NULL)) return NN_ERR_ARG;
    if (opt->step < 0 || opt->step == INT64_MAX) return NN_ERR_ARG;
    for (int32_t i = 0; i < opt->n_groups; i++) {
        int st = check_group(opt->kind, &opt->groups[i]);
        if (st != NN_OK) return st;
    }
    int st = check_segments(opt->segments, opt->n_segments, opt->n_groups, opt->groups);
    if (st != NN_OK) return st;
    if (opt->n_segments > 0 && opt->n_groups == 0) return NN_ERR_ARG;
    st = check_state(opt);
    if (st != NN_OK) return st;

    opt->step += 1;
    const nn_optim_kernels *k = nn_active_kernels()->optim; /* the active family's build */
    if (opt->dtype == NN_F32) {
        k->supdate(opt, (float *)params, (const float *)grads);
        nn_soptim_max_norm(opt, (float *)params);
    } else {
        k->dupdate(opt, (double *)params, (const double *)grads);
        nn_doptim_max_norm(opt, (double *)params);
    }
    return NN_OK;
}

/* A job of nn_grad_norm: pool block b sums parts [b*per, (b+1)*per) into
 * partial[k], part k being elements [total*k/parts, total*(k+1)/parts). */
typedef struct {
    nn_dtype dtype;
    const void *grads;
    const nn_optim_segment *segs;
    int64_t n_segments, total, parts, per;
    double *partial;
    const nn_optim_kernels *k; /* the active family's sum of squares */
} norm_job;

static void norm_block(void *p, int64_t blk) {
    const norm_job *j = (const norm_job *)p;
    const int64_t k1 = (blk + 1) * j->per < j->parts ? (blk + 1) * j->per : j->parts;
    for (int64_t k = blk * j->per; k < k1; k++) {
        const int64_t lo = j->total * k / j->parts, hi = j->total * (k + 1) / j->parts;
        j->partial[k] =
            j->dtype == NN_F32
                ? nn_ssumsq_span((const float *)j->grads, j->segs, j->n_segments, lo, hi,
                                 j->k->ssumsq)
                : nn_dsumsq_span((const double *)j->grads, j->segs, j->n_segments, lo, hi,
                                 j->k->dsumsq);
    }
}

int nn_grad_norm(double *norm, nn_dtype dtype, const void *grads,
                 const nn_optim_segment *segments, int64_t n_segments) {
    if (norm == NULL || (grads == NULL && n_segments > 0)) return NN_ERR_ARG;
    if (dtype != NN_F32 && dtype != NN_F64) return NN_ERR_ARG;
    int st = check_segments(segments, n_segments, 0, NULL);
    if (st != NN_OK) return st;
    int64_t total = 0;
    for (int64_t s = 0; s < n_segments; s++) total += segments[s].length;

    int64_t parts = (total + NN_NORM_MIN_PART - 1) / NN_NORM_MIN_PART;
    if (parts > NN_NORM_PARTS) parts = NN_NORM_PARTS;
    double partial[NN_NORM_PARTS];
    norm_job job = {dtype,   grads, segments, n_segments, total,
                    parts,   1,     partial,  nn_active_kernels()->optim};
    /* pool blocks: runs of whole parts, of >= NN_OPTIM_BLOCK elements */
    const int64_t nblocks =
        nn_blocks(parts, parts > 0 ? total / parts : 1, NN_OPTIM_BLOCK, &job.per);
    nn_pool_run(norm_block, &job, nblocks, nn_threads());
    double ss = 0.0;
    for (int64_t k = 0; k < parts; k++) ss += partial[k];
    *norm = sqrt(ss);
    return NN_OK;
}

int nn_clip_grad_norm(double *norm, nn_dtype dtype, void *grads,
                      const nn_optim_segment *segments, int64_t n_segments, double max_norm) {
    if (!(max_norm >= 0)) return NN_ERR_ARG;
    double total;
    int st = nn_grad_norm(&total, dtype, grads, segments, n_segments);
    if (st != NN_OK) return st;
    if (norm != NULL) *norm = total;
    const double coef = max_norm / (total + NN_CLIPNORM_EPS);
    /* like PyTorch: scale by min(1, coef); a NaN norm makes the gradients NaN */
    if (coef < 1.0 || isnan(coef)) {
        if (dtype == NN_F32) nn_sscale_segments((float *)grads, segments, n_segments, (float)coef);
        else nn_dscale_segments((double *)grads, segments, n_segments, coef);
    }
    return NN_OK;
}

int nn_clip_grad_value(nn_dtype dtype, void *grads, const nn_optim_segment *segments,
                       int64_t n_segments, double clip) {
    if (!(clip >= 0) || (grads == NULL && n_segments > 0)) return NN_ERR_ARG;
    if (dtype != NN_F32 && dtype != NN_F64) return NN_ERR_ARG;
    int st = check_segments(segments, n_segments, 0, NULL);
    if (st != NN_OK) return st;
    if (dtype == NN_F32) nn_sclamp_segments((float *)grads, segments, n_segments, (float)clip);
    else nn_dclamp_segments((double *)grads, segments, n_segments, clip);
    return NN_OK;
}
