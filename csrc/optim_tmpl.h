/* optim_tmpl.h — the optimizer updates and gradient helpers, written once for
 * `real` = float and double (included twice by optim.c; see internal.h).
 * Not for: argument checking or threading policy (optim.c does those).
 *
 * Every update is one pass over a range: p, g and the state are read once and
 * written once; arithmetic is in `real`, hyperparameters are rounded to `real`
 * once per range. Bodies are always-inline with flag arguments that are
 * constants at each call site, so the compiler emits a branch-free,
 * vectorizable loop per combination.
 */

typedef struct {
    const nn_optim *opt;
    real *p;
    const real *g;
} NN_FN(upd_ctx);

NN_INLINE real NN_FN(sgn)(real x) { return (real)((x > 0) - (x < 0)); }

/* g + weight_decay * p + l1 * sign(p): the coupled penalties. */
#define NN_PENAL(gi, pi) (pen ? (gi) + wd * (pi) + l1 * NN_FN(sgn)(pi) : (gi))

/* ---------------------------------------------------------------- SGD */

NN_INLINE void NN_FN(sgd_body)(real *NN_RESTRICT p, const real *NN_RESTRICT g,
                                real *NN_RESTRICT buf, int64_t n, real lr, real wd, real l1,
                                real mu, real damp1, const int pen, const int mom,
                                const int first, const int nesterov) {
    for (int64_t i = 0; i < n; i++) {
        real pi = p[i];
        real gi = NN_PENAL(g[i], pi);
        if (mom) {
            real b = first ? gi : mu * buf[i] + damp1 * gi;
            buf[i] = b;
            gi = nesterov ? gi + mu * b : b;
        }
        p[i] = pi - lr * gi;
    }
}

static void NN_FN(sgd_range)(const nn_optim_group *h, int64_t step, real *p, const real *g,
                             real *buf, int64_t n) {
    const real lr = (real)h->lr, wd = (real)h->weight_decay, l1 = (real)h->l1;
    const real mu = (real)h->momentum, damp1 = (real)(1.0 - h->dampening);
    const int pen = h->weight_decay != 0 || h->l1 != 0;
    if (h->momentum == 0) {
        if (pen) NN_FN(sgd_body)(p, g, buf, n, lr, wd, l1, mu, damp1, 1, 0, 0, 0);
        else     NN_FN(sgd_body)(p, g, buf, n, lr, wd, l1, mu, damp1, 0, 0, 0, 0);
        return;
    }
    const int first = step == 1;
#define NN_SGD_CASE(PEN, FIRST, NEST) \
    NN_FN(sgd_body)(p, g, buf, n, lr, wd, l1, mu, damp1, PEN, 1, FIRST, NEST)
    if (h->nesterov) {
        if (pen) { if (first) NN_SGD_CASE(1, 1, 1); else NN_SGD_CASE(1, 0, 1); }
        else     { if (first) NN_SGD_CASE(0, 1, 1); else NN_SGD_CASE(0, 0, 1); }
    } else {
        if (pen) { if (first) NN_SGD_CASE(1, 1, 0); else NN_SGD_CASE(1, 0, 0); }
        else     { if (first) NN_SGD_CASE(0, 1, 0); else NN_SGD_CASE(0, 0, 0); }
    }
#undef NN_SGD_CASE
}

/* ------------------------------------------------------------ RMSprop */

NN_INLINE void NN_FN(rmsprop_body)(real *NN_RESTRICT p, const real *NN_RESTRICT g,
                                    real *NN_RESTRICT sq, real *NN_RESTRICT gavg,
                                    real *NN_RESTRICT buf, int64_t n, real lr, real wd, real l1,
                                    real alpha, real alpha1, real eps, real mu,
                                    const int pen, const int centered, const int mom) {
    for (int64_t i = 0; i < n; i++) {
        real pi = p[i];
        real gi = NN_PENAL(g[i], pi);
        real v = alpha * sq[i] + alpha1 * (gi * gi);
        sq[i] = v;
        if (centered) {
            real a = alpha * gavg[i] + alpha1 * gi;
            gavg[i] = a;
            v = v - a * a;
        }
        real den = NN_MATH_SQRT(v) + eps;
        if (mom) {
            real b = mu * buf[i] + gi / den;
            buf[i] = b;
            p[i] = pi - lr * b;
        } else {
            p[i] = pi - lr * (gi / den);
        }
    }
}

static void NN_FN(rmsprop_range)(const nn_optim_group *h, real *p, const real *g, real *sq,
                                 real *gavg, real *buf, int64_t n) {
    const real lr = (real)h->lr, wd = (real)h->weight_decay, l1 = (real)h->l1;
    const real alpha = (real)h->alpha, alpha1 = (real)(1.0 - h->alpha);
    const real eps = (real)h->eps, mu = (real)h->momentum;
    const int pen = h->weight_decay != 0 || h->l1 != 0;
    const int cen = h->centered != 0, mom = h->momentum > 0;
#define NN_RMS_CASE(PEN, CEN, MOM) \
    NN_FN(rmsprop_body)(p, g, sq, gavg, buf, n, lr, wd, l1, alpha, alpha1, eps, mu, PEN, CEN, MOM)
    if (pen) {
        if (cen) { if (mom) NN_RMS_CASE(1, 1, 1); else NN_RMS_CASE(1, 1, 0); }
        else     { if (mom) NN_RMS_CASE(1, 0, 1); else NN_RMS_CASE(1, 0, 0); }
    } else {
        if (cen) { if (mom) NN_RMS_CASE(0, 1, 1); else NN_RMS_CASE(0, 1, 0); }
        else     { if (mom) NN_RMS_CASE(0, 0, 1); else NN_RMS_CASE(0, 0, 0); }
    }
#undef NN_RMS_CASE
}

/* ------------------------------------------------------------ Adagrad */

NN_INLINE void NN_FN(adagrad_body)(real *NN_RESTRICT p, const real *NN_RESTRICT g,
                                    real *NN_RESTRICT sum, int64_t n, real clr, real wd,
                                    real l1, real eps, const int pen) {
    for (int64_t i = 0; i < n; i++) {
        real pi = p[i];
        real gi = NN_PENAL(g[i], pi);
        real s = sum[i] + gi * gi;
        sum[i] = s;
        p[i] = pi - clr * (gi / (NN_MATH_SQRT(s) + eps));
    }
}

static void NN_FN(adagrad_range)(const nn_optim_group *h, int64_t step, real *p, const real *g,
                                 real *sum, int64_t n) {
    const real clr = (real)(h->lr / (1.0 + (double)(step - 1) * h->lr_decay));
    const real wd = (real)h->weight_decay, l1 = (real)h->l1, eps = (real)h->eps;
    if (h->weight_decay != 0 || h->l1 != 0) NN_FN(adagrad_body)(p, g, sum, n, clr, wd, l1, eps, 1);
    else                                    NN_FN(adagrad_body)(p, g, sum, n, clr, wd, l1, eps, 0);
}

/* --------------------------------------------------------- Adam, AdamW */

NN_INLINE void NN_FN(adam_body)(real *NN_RESTRICT p, const real *NN_RESTRICT g,
                                 real *NN_RESTRICT m, real *NN_RESTRICT v,
                                 real *NN_RESTRICT vmax, int64_t n, real wd, real l1,
                                 real decay, real b1, real b1c, real b2, real b2c,
                                 real step_size, real bc2_sqrt, real eps,
                                 const int pen, const int decoupled, const int ams) {
    for (int64_t i = 0; i < n; i++) {
        real pi = p[i];
        real gi = NN_PENAL(g[i], pi);
        if (decoupled) pi = pi * decay;
        real mi = b1 * m[i] + b1c * gi;
        real vi = b2 * v[i] + b2c * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        if (ams) {
            real w = vmax[i];
            vi = w > vi ? w : vi;
            vmax[i] = vi;
        }
        real den = NN_MATH_SQRT(vi) / bc2_sqrt + eps;
        p[i] = pi - step_size * (mi / den);
    }
}

static void NN_FN(adam_range)(const nn_optim_group *h, int64_t step, int decoupled, real *p,
                              const real *g, real *m, real *v, real *vmax, int64_t n) {
    const double bc1 = 1.0 - pow(h->beta1, (double)step);
    const double bc2 = 1.0 - pow(h->beta2, (double)step);
    const real step_size = (real)(h->lr / bc1), bc2_sqrt = (real)sqrt(bc2);
    const real b1 = (real)h->beta1, b1c = (real)(1.0 - h->beta1);
    const real b2 = (real)h->beta2, b2c = (real)(1.0 - h->beta2);
    const real eps = (real)h->eps, l1 = (real)h->l1;
    /* AdamW: the decay multiplies p; only l1 remains a gradient term */
    const real wd = decoupled ? (real)0 : (real)h->weight_decay;
    const real decay = (real)(1.0 - h->lr * h->weight_decay);
    const int pen = (!decoupled && h->weight_decay != 0) || h->l1 != 0;
    const int dec = decoupled && h->weight_decay != 0;
    const int ams = h->amsgrad != 0;
#define NN_ADAM_CASE(PEN, DEC, AMS)                                                       \
    NN_FN(adam_body)(p, g, m, v, vmax, n, wd, l1, decay, b1, b1c, b2, b2c, step_size,     \
                     bc2_sqrt, eps, PEN, DEC, AMS)
    if (ams) {
        if (pen) { if (dec) NN_ADAM_CASE(1, 1, 1); else NN_ADAM_CASE(1, 0, 1); }
        else     { if (dec) NN_ADAM_CASE(0, 1, 1); else NN_ADAM_CASE(0, 0, 1); }
    } else {
        if (pen) { if (dec) NN_ADAM_CASE(1, 1, 0); else NN_ADAM_CASE(1, 0, 0); }
        else     { if (dec) NN_ADAM_CASE(0, 1, 0); else NN_ADAM_CASE(0, 0, 0); }
    }
#undef NN_ADAM_CASE
}

#undef NN_PENAL

/* ------------------------------------------------------ the dispatcher */

static void NN_FN(update_range)(void *vctx, int64_t s, int64_t start, int64_t end) {
    const NN_FN(upd_ctx) *ctx = (const NN_FN(upd_ctx) *)vctx;
    const nn_optim *opt = ctx->opt;
    const nn_optim_segment *seg = &opt->segments[s];
    const nn_optim_group *h = &opt->groups[seg->group];
    const int64_t o = seg->offset + start, n = end - start;
    real *p = ctx->p + o;
    const real *g = ctx->g + o;
    real *s0 = opt->state[0] ? (real *)opt->state[0] + o : NULL;
    real *s1 = opt->state[1] ? (real *)opt->state[1] + o : NULL;
    real *s2 = opt->state[2] ? (real *)opt->state[2] + o : NULL;
    switch (opt->kind) {
    case NN_OPTIM_SGD: NN_FN(sgd_range)(h, opt->step, p, g, s0, n); break;
    case NN_OPTIM_RMSPROP: NN_FN(rmsprop_range)(h, p, g, s0, s1, s2, n); break;
    case NN_OPTIM_ADAGRAD: NN_FN(adagrad_range)(h, opt->step, p, g, s0, n); break;
    case NN_OPTIM_ADAM: NN_FN(adam_range)(h, opt->step, 0, p, g, s0, s1, s2, n); break;
    case NN_OPTIM_ADAMW: NN_FN(adam_range)(h, opt->step, 1, p, g, s0, s1, s2, n); break;
    }
}

void NN_FN(optim_update)(const nn_optim *opt, real *params, const real *grads) {
    NN_FN(upd_ctx) ctx = {opt, params, grads};
    nn_optim_for_ranges(opt->segments, opt->n_segments, NN_FN(update_range), &ctx);
}

#ifndef NN_OPTIM_UPDATE_ONLY /* the AVX2 build (kernels/optim_avx2.c) stops here */

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

/* x (n): sum of x^2 in double, 8 interleaved accumulators in a fixed order. */
static double NN_FN(sumsq)(const real *NN_RESTRICT x, int64_t n) {
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) a[k] += (double)x[i + k] * (double)x[i + k];
    double t = 0.0;
    for (; i < n; i++) t += (double)x[i] * (double)x[i];
    return (((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))) + t;
}

double NN_FN(sumsq_span)(const real *x, const nn_optim_segment *segs, int64_t n_segments,
                         int64_t lo, int64_t hi) {
    double acc = 0.0;
    int64_t base = 0;
    for (int64_t s = 0; s < n_segments && base < hi; s++) {
        const int64_t len = segs[s].length;
        int64_t a = lo - base, b = hi - base;
        if (a < 0) a = 0;
        if (b > len) b = len;
        if (a < b) acc += NN_FN(sumsq)(x + segs[s].offset + a, b - a);
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

#endif /* NN_OPTIM_UPDATE_ONLY */
