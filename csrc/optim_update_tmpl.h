/* optim_update_tmpl.h — the update step of every optimizer, written once for
 * `real` = float and double (template convention: internal.h) and compiled
 * per CPU family (csrc/kernels/); NN_FN(optim_update) fills the family's
 * nn_optim_kernels (kernels.h). Not for: argument checking or threading
 * policy (optim.c does those), max-norm and the gradient helpers
 * (optim_tmpl.h).
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
            v = v - a * a;     /* a variance: >= 0 but for rounding, which must */
            if (v < 0) v = 0;  /* not turn into sqrt(-tiny) = NaN (NaN stays NaN) */
        }
        real den = NN_MATH(sqrt)(v) + eps;
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
        p[i] = pi - clr * (gi / (NN_MATH(sqrt)(s) + eps));
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
        real den = NN_MATH(sqrt)(vi) / bc2_sqrt + eps;
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
    /* eps_hat: eps before the correction, sqrt(v)/sqrt(bc2) + eps/sqrt(bc2) */
    const real eps = (real)(h->eps_hat ? h->eps / sqrt(bc2) : h->eps), l1 = (real)h->l1;
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
