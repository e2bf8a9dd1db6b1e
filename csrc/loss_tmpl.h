/* loss_tmpl.h — the losses of loss.c, written once for `real` (float or double).
 * Compiled per CPU family as part of elementwise_tmpl.h (template convention:
 * internal.h).
 *
 * Per-element terms are computed in `real` and summed in double: per block of
 * NN_LOSS_BLOCK elements (elementwise kinds) or per row (cross-entropy), then
 * the block/row partials are added in index order. Blocks and rows never
 * depend on the thread count (the pool's blocks are runs of them, and only
 * decide who computes a partial), so the loss is bit-identical for any count.
 *
 * Row weights w (rows) or NULL (every row weighs 1): a row's terms and gradients
 * are multiplied by w_r, and the mean divides by the weighted count, sum(w) * cols
 * (elementwise kinds) or sum(w) (cross-entropy): sum_r w_r l_r / sum_r w_r.
 * sum(w) is added in row order, in double.
 *
 * Formulas (mirrored by nncore.reference.loss), d = out - target, s = scale
 * (1/N for mean, 1 for sum):
 *   mse    l = d^2                         g = d * (2 s)
 *   l1     l = |d|                         g = sign(d) * s
 *   huber  l = |d| <= D ? d^2/2 : D (|d| - D/2)   g = clamp(d, -D, D) * s
 *   bce    l = log1p(e) + [t>0] t max(-x,0) + [t<1] (1-t) max(x,0), e = exp(-|x|)
 *          g = (sigmoid(x) - t) * s    (no inf - inf at x = +-inf, no log(0))
 *   poisson l = exp(x) - t x + [t>0] t (log t - 1)   g = (exp(x) - t) * s
 *          (x = log of the rate: half the Poisson deviance, 0 at exp(x) = t; the
 *          gradient is PyTorch's PoissonNLLLoss(log_input=True), whose value lacks
 *          the target-only term t (log t - 1))
 *   ce     lp = x - m - log(sum exp(x - m)), m = row max; q = smoothed target;
 *          l = -sum_j [q_j != 0] q_j lp_j,  g = (p_j * sum_k q_k - q_j) * s, p = softmax(x)
 *          (labels: l = -(qy - qo) lp_y - qo sum_j lp_j, the same sum regrouped)
 */

/* one block (n <= NN_LOSS_BLOCK) of elementwise terms: the terms go to a local
 * buffer in one vectorizable loop, then are summed in double over 8 lanes. */
NN_INLINE double NN_FN(_ew_block)(nn_loss_kind kind, real delta, real gs, real *grad,
                                  const real *out, const real *tgt, const real *wt, int64_t n) {
    real term[NN_LOSS_BLOCK], scratch[NN_LOSS_BLOCK];
    real *NN_RESTRICT gd = grad ? grad : scratch; /* unconditional stores vectorize */
    for (int64_t j = 0; j < n; j++) {
        real l, g;
        switch (kind) {
        case NN_LOSS_MSE: {
            real d = out[j] - tgt[j];
            l = d * d;
            g = d * gs; /* gs = 2 s */
            break;
        }
        case NN_LOSS_L1: {
            real d = out[j] - tgt[j];
            l = NN_MATH(fabs)(d);
            g = d > 0 ? gs : (d < 0 ? -gs : (real)0);
            break;
        }
        case NN_LOSS_HUBER: {
            real d = out[j] - tgt[j];
            real ad = NN_MATH(fabs)(d);
            l = ad <= delta ? (real)0.5 * d * d : delta * (ad - (real)0.5 * delta);
            real c = d > delta ? delta : (d < -delta ? -delta : d);
            g = c * gs;
            break;
        }
        case NN_LOSS_POISSON: {
            real x = out[j], t = tgt[j];
            real e = NN_MATH(nn_vexp)(x);
            l = e - t * x + (t > 0 ? t * (NN_MATH(log)(t) - (real)1) : (real)0);
            g = (e - t) * gs;
            break;
        }
        default: { /* NN_LOSS_BCE_LOGITS */
            real x = out[j], t = tgt[j];
            real e = NN_MATH(nn_vexp)(-NN_MATH(fabs)(x));
            real r = (real)1 / ((real)1 + e);
            real sg = x >= 0 ? r : e * r;
            real pos = x > 0 ? x : (real)0, neg = x < 0 ? -x : (real)0;
            l = NN_MATH(nn_vlog1p)(e) + (t > 0 ? t * neg : (real)0) +
                (t < 1 ? ((real)1 - t) * pos : (real)0);
            g = (sg - t) * gs;
            break;
        }
        }
        term[j] = l;
        gd[j] = g;
    }
    if (wt) /* one weight per element: its row's */
        for (int64_t j = 0; j < n; j++) {
            term[j] *= wt[j];
            gd[j] *= wt[j];
        }
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) a[k] += (double)term[j + k];
    double r = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    for (; j < n; j++) r += (double)term[j];
    return r;
}

/* one row of softmax cross-entropy; label >= 0 selects the labels form,
 * otherwise tgt is the probability row. eps = label smoothing. */
static double NN_FN(_ce_row)(real eps, real gs, real *grad, const real *x, const real *tgt,
                             int64_t label, int64_t n) {
    real m = NN_FN(_rowmax)(x, n);
    /* with a gradient row apart from x, the exps wait in it for the gradient
     * pass: one exp per element instead of two, the same values and sum order
     * (_lanesum is _lanesumexp's order), so the same bits */
    const int keep = grad != NULL && (grad + n <= x || x + n <= grad);
    real s;
    if (keep) {
        for (int64_t j = 0; j < n; j++) grad[j] = NN_MATH(nn_vexp)(x[j] - m);
        s = NN_FN(_lanesum)(grad, n);
    } else {
        s = NN_FN(_lanesumexp)(x, m, n);
    }
    real logs = NN_MATH(log)(s);
    real qo = eps / (real)n;        /* smoothing mass of every class */
    real qy = ((real)1 - eps) + qo; /* labels form: the true class */
    real ce = (real)1 - eps;
    double loss;
    real qs = 1;
    if (label >= 0) {
        /* -sum_j q_j lp_j = -(qy - qo) lp_y - qo sum_j lp_j */
        real lpy = (x[label] - m) - logs;
        loss = -(double)((qy - qo) * lpy);
        if (qo != 0) {
            double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            int64_t j = 0;
            for (; j + 8 <= n; j += 8)
                for (int k = 0; k < 8; k++) a[k] += (double)((x[j + k] - m) - logs);
            double r = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
            for (; j < n; j++) r += (double)((x[j] - m) - logs);
            loss -= (double)qo * r;
        }
    } else {
        double a[8] = {0, 0, 0, 0, 0, 0, 0, 0}, b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t j = 0;
        for (; j + 8 <= n; j += 8)
            for (int k = 0; k < 8; k++) {
                real q = ce * tgt[j + k] + qo;
                real lp = (x[j + k] - m) - logs;
                a[k] += (double)(q != 0 ? q * lp : (real)0);
                b[k] += (double)q;
            }
        double r = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
        double qsd = ((b[0] + b[1]) + (b[2] + b[3])) + ((b[4] + b[5]) + (b[6] + b[7]));
        for (; j < n; j++) {
            real q = ce * tgt[j] + qo;
            real lp = (x[j] - m) - logs;
            r += (double)(q != 0 ? q * lp : (real)0);
            qsd += (double)q;
        }
        qs = (real)qsd;
        loss = -r;
    }
    if (grad) {
        if (keep && label >= 0) {
            const real ey = grad[label];
            for (int64_t j = 0; j < n; j++) grad[j] = (grad[j] / s - qo) * gs;
            grad[label] = (ey / s - qy) * gs;
        } else if (keep) {
            for (int64_t j = 0; j < n; j++)
                grad[j] = (grad[j] / s * qs - (ce * tgt[j] + qo)) * gs;
        } else if (label >= 0) {
            for (int64_t j = 0; j < n; j++)
                grad[j] = (NN_MATH(nn_vexp)(x[j] - m) / s - qo) * gs;
            grad[label] = (NN_MATH(nn_vexp)(x[label] - m) / s - qy) * gs;
        } else {
            for (int64_t j = 0; j < n; j++)
                grad[j] = (NN_MATH(nn_vexp)(x[j] - m) / s * qs - (ce * tgt[j] + qo)) * gs;
        }
    }
    return loss;
}

/* Pool jobs (pool.c): a block is a run of `per` rows (cross-entropy) or
 * `per` NN_LOSS_BLOCK blocks (elementwise kinds); part[i] gets row / block i's
 * sum, the parts are added in order by the caller. */
typedef struct {
    nn_loss_kind kind;
    real param, gs; /* delta or label smoothing; gradient scale */
    real *grad;
    const real *out, *target;
    const int64_t *labels;
    const real *weights; /* (rows) or NULL */
    int64_t rows, cols, n, nparts, per;
    double *part;
} NN_FN(_loss_job);

static void NN_FN(_ce_block)(void *p, int64_t blk) {
    const NN_FN(_loss_job) *j = (const NN_FN(_loss_job) *)p;
    const int64_t cols = j->cols;
    const int64_t r1 = (blk + 1) * j->per < j->rows ? (blk + 1) * j->per : j->rows;
    for (int64_t r = blk * j->per; r < r1; r++) {
        const real w = j->weights ? j->weights[r] : (real)1;
        double l = NN_FN(_ce_row)(j->param, j->gs * w, j->grad ? j->grad + r * cols : NULL,
                                  j->out + r * cols,
                                  j->kind == NN_LOSS_CE_PROBS ? j->target + r * cols : NULL,
                                  j->kind == NN_LOSS_CE_LABELS ? j->labels[r] : -1, cols);
        j->part[r] = j->weights ? (double)w * l : l;
    }
}

/* wt[0..n) = the row weight of each element lo..lo+n of a (rows, cols) array */
NN_INLINE void NN_FN(_row_weights)(real *wt, const real *w, int64_t lo, int64_t n,
                                   int64_t cols) {
    int64_t r = lo / cols, c = lo - r * cols;
    for (int64_t j = 0; j < n; r++, c = 0) {
        int64_t len = cols - c < n - j ? cols - c : n - j;
        for (int64_t k = 0; k < len; k++) wt[j + k] = w[r];
        j += len;
    }
}

static void NN_FN(_ew_loss_block)(void *p, int64_t blk) {
    const NN_FN(_loss_job) *j = (const NN_FN(_loss_job) *)p;
    const real delta = j->param, gs = j->gs;
    const real *out = j->out, *target = j->target;
    const int64_t b1 = (blk + 1) * j->per < j->nparts ? (blk + 1) * j->per : j->nparts;
    for (int64_t b = blk * j->per; b < b1; b++) {
        int64_t lo = b * NN_LOSS_BLOCK;
        int64_t len = j->n - lo < NN_LOSS_BLOCK ? j->n - lo : NN_LOSS_BLOCK;
        real *g = j->grad ? j->grad + lo : NULL;
        double *part = j->part;
        real wbuf[NN_LOSS_BLOCK];
        const real *wt = NULL;
        if (j->weights) {
            NN_FN(_row_weights)(wbuf, j->weights, lo, len, j->cols);
            wt = wbuf;
        }
        switch (j->kind) { /* constant kinds: each case compiles its own loop */
        case NN_LOSS_MSE:
            part[b] = NN_FN(_ew_block)(NN_LOSS_MSE, delta, gs, g, out + lo, target + lo, wt, len);
            break;
        case NN_LOSS_L1:
            part[b] = NN_FN(_ew_block)(NN_LOSS_L1, delta, gs, g, out + lo, target + lo, wt, len);
            break;
        case NN_LOSS_HUBER:
            part[b] = NN_FN(_ew_block)(NN_LOSS_HUBER, delta, gs, g, out + lo, target + lo, wt,
                                       len);
            break;
        case NN_LOSS_POISSON:
            part[b] = NN_FN(_ew_block)(NN_LOSS_POISSON, delta, gs, g, out + lo, target + lo,
                                       wt, len);
            break;
        default:
            part[b] = NN_FN(_ew_block)(NN_LOSS_BCE_LOGITS, delta, gs, g, out + lo,
                                       target + lo, wt, len);
            break;
        }
    }
}

int NN_FN(loss)(nn_loss_kind kind, nn_reduction red, double param, double *loss, real *grad,
                const real *out, const real *target, const int64_t *labels,
                const real *weights, int64_t rows, int64_t cols) {
    int64_t n;
    int st = nn_loss_check(kind, red, param, loss, rows, cols, &n);
    if (st != NN_OK) return st;
    int ce = kind == NN_LOSS_CE_LABELS || kind == NN_LOSS_CE_PROBS;
    double count = (double)(ce ? rows : n);
    if (weights != NULL && n > 0) {
        double wsum = 0.0; /* in row order: the same bits at any thread count */
        for (int64_t r = 0; r < rows; r++) {
            if (!(weights[r] >= 0) || !isfinite(weights[r])) return NN_ERR_ARG;
            wsum += (double)weights[r];
        }
        if (red == NN_REDUCE_MEAN && !(wsum > 0)) return NN_ERR_ARG;
        count = ce ? wsum : wsum * (double)cols;
    }
    if (n == 0) {
        *loss = red == NN_REDUCE_MEAN ? NAN : 0.0;
        return NN_OK;
    }
    if (out == NULL) return NN_ERR_ARG;
    if (kind == NN_LOSS_CE_LABELS) {
        if (labels == NULL) return NN_ERR_ARG;
        for (int64_t r = 0; r < rows; r++)
            if (labels[r] < 0 || labels[r] >= cols) return NN_ERR_ARG;
    } else if (target == NULL) {
        return NN_ERR_ARG;
    }
    double scale = red == NN_REDUCE_MEAN ? 1.0 / count : 1.0;
    /* the gradient's scale in `real`: weights summing below the smallest normal
     * number (subnormal weights) would make it inf, and every gradient inf or NaN */
    const real gscale = (real)(kind == NN_LOSS_MSE ? 2.0 * scale : scale);
    if (!isfinite(gscale)) return NN_ERR_ARG;

    int64_t nparts = ce ? rows : (n + NN_LOSS_BLOCK - 1) / NN_LOSS_BLOCK;
    double stackbuf[256];
    double *part = stackbuf;
    if (nparts > 256) {
        part = (double *)nn_alloc((size_t)nparts * sizeof(double));
        if (part == NULL) return NN_ERR_NOMEM;
    }
    const double cost = (kind == NN_LOSS_BCE_LOGITS || kind == NN_LOSS_POISSON || ce)
                            ? NN_LOSS_COST_EXP : NN_LOSS_COST;
    NN_FN(_loss_job) job = {kind, (real)param, gscale, grad,  out,    target, labels,
                            weights, rows, cols, n, nparts, 1, part};
    int64_t nb = nn_blocks(nparts, ce ? cols : NN_LOSS_BLOCK, nn_ew_block_items(cost), &job.per);
    nn_pool_run(ce ? NN_FN(_ce_block) : NN_FN(_ew_loss_block), &job, nb, nn_threads());

    double total = 0;
    for (int64_t i = 0; i < nparts; i++) total += part[i];
    if (part != stackbuf) nn_free(part);
    *loss = red == NN_REDUCE_MEAN ? total / count : total;
    return NN_OK;
}
