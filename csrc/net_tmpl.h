/* net_tmpl.h — the network's forward and backward passes, written once for
 * float and double (compiled for both by net.c through instantiate.h; see
 * internal.h). Not for: allocation, validation or the public entry points
 * (net.c), nor the kernels themselves (gemm.c, activation.c, loss.c, rng.c).
 *
 * Threads only ever split independent outputs (rows of an epilogue, column
 * blocks of a bias gradient), so every result is bit-identical for any thread
 * count.
 */

/* y (rows, cols) += b (cols), then ReLU when relu != 0 (b may be NULL): the
 * epilogue of a LINEAR layer, one pass over its output right after the GEMM.
 * ReLU keeps NaN (v < 0 is false for NaN), like the reference's maximum.
 * (A per-tile epilogue inside the GEMM was tried and measured slower: on
 * 16x16 tiles with k ~ 128 the short loops cost ~9% of the step.) */
typedef struct {
    real *y;
    const real *b;
    int relu;
    int64_t rows, cols, blk;
} NN_FN(net_epi_job);

static void NN_FN(net_epilogue_rows)(void *p, int64_t rb) {
    const NN_FN(net_epi_job) *j = (const NN_FN(net_epi_job) *)p;
    const int64_t cols = j->cols;
    const int64_t i1 = (rb + 1) * j->blk < j->rows ? (rb + 1) * j->blk : j->rows;
    const real *NN_RESTRICT b = j->b;
    for (int64_t i = rb * j->blk; i < i1; i++) {
        real *NN_RESTRICT r = j->y + i * cols;
        if (b != NULL && j->relu) {
            for (int64_t c = 0; c < cols; c++) {
                real v = r[c] + b[c];
                r[c] = v < 0 ? (real)0 : v;
            }
        } else if (b != NULL) {
            for (int64_t c = 0; c < cols; c++) r[c] += b[c];
        } else {
            for (int64_t c = 0; c < cols; c++) r[c] = r[c] < 0 ? (real)0 : r[c];
        }
    }
}

static void NN_FN(net_epilogue)(real *NN_RESTRICT y, const real *NN_RESTRICT b, int relu,
                                int64_t rows, int64_t cols) {
    int nt = nn_threads_for((double)rows * (double)cols * 8.0);
    NN_FN(net_epi_job) job = {y, b, relu, rows, cols, 0};
    job.blk = nt > 1 ? (rows + 4 * nt - 1) / (4 * nt) : rows; /* ~4 row blocks per thread */
    if (job.blk < 1) job.blk = 1;
    /* the team of pool.c, like every parallel loop of the core */
    nn_pool_run(NN_FN(net_epilogue_rows), &job, (rows + job.blk - 1) / job.blk, nt);
}

/* db (cols) += column sums of d (rows, cols) (db = the sums when !accumulate).
 * Each column is summed over the rows in order, by one thread: threads take
 * whole column blocks (on the team of pool.c, like every parallel loop of
 * the core). */
typedef struct {
    real *db;
    const real *d;
    int64_t rows, cols, blk;
    int accumulate; /* 0: db = sums (db is not read) */
} NN_FN(net_colsum_job);

static void NN_FN(net_colsum_block)(void *p, int64_t jb) {
    const NN_FN(net_colsum_job) *j = (const NN_FN(net_colsum_job) *)p;
    const int64_t cols = j->cols;
    const int64_t j0 = jb * j->blk, j1 = j0 + j->blk < cols ? j0 + j->blk : cols;
    real acc[256];
    real *NN_RESTRICT db = j->db;
    for (int64_t c = j0; c < j1; c++) acc[c - j0] = j->accumulate ? db[c] : (real)0;
    for (int64_t i = 0; i < j->rows; i++) {
        const real *NN_RESTRICT r = j->d + i * cols;
        for (int64_t c = j0; c < j1; c++) acc[c - j0] += r[c];
    }
    for (int64_t c = j0; c < j1; c++) db[c] = acc[c - j0];
}

static void NN_FN(net_colsum_acc)(real *NN_RESTRICT db, const real *NN_RESTRICT d,
                                  int64_t rows, int64_t cols, int accumulate) {
    NN_FN(net_colsum_job) job = {db, d, rows, cols, 256, accumulate};
    const int64_t nblk = (cols + job.blk - 1) / job.blk;
    int nt = nn_threads_for((double)rows * (double)cols * 4.0);
    nn_pool_run(NN_FN(net_colsum_block), &job, nblk, nt);
}

/* Whether a packed copy of `elems` values for a layer of out x in weights is kept:
 * not when padding the outputs to the register tile would more than double it
 * (a 1-output layer would take 16x its weights: Linear(4M, 1) 256 MB for 16 MB).
 * Such a layer is one sliver wide, and its GEMM packs one KC block of it at a time. */
static int NN_FN(net_pack_pays)(nn_net_layer *ly, int64_t elems, void **pk) {
    if (elems <= 2 * ly->spec.out_features * ly->spec.in_features) return 1;
    nn_free(*pk); /* a copy of another family's layout, if any */
    *pk = NULL;
    return 0;
}

/* The packed W^T of LINEAR layer ly for inference (see nn_net_layer), packed
 * again when the parameters changed since (net->wver) or another GEMM family
 * or blocking is active; NULL when out of memory or not worth its memory
 * (net_pack_pays): the caller then runs the GEMM on W as is, with the same bits. */
static const real *NN_FN(net_wpack)(nn_net *net, nn_net_layer *ly) {
    const int64_t in = ly->spec.in_features, out = ly->spec.out_features;
    nn_gemm_packed lay;
    NN_FN(gemm_packed_layout)(out, in, &lay);
    if (!NN_FN(net_pack_pays)(ly, lay.elems, &ly->pk)) return NULL;
    if (ly->pk != NULL && ly->pk_ver == net->wver && memcmp(&lay, &ly->pk_lay, sizeof lay) == 0)
        return (const real *)ly->pk;
    if (ly->pk == NULL || lay.elems != ly->pk_lay.elems) {
        nn_free(ly->pk);
        ly->pk = nn_alloc((size_t)lay.elems * sizeof(real));
        if (ly->pk == NULL) return NULL;
    }
    /* B(p, j) = W[j*in + p] */
    if (NN_FN(gemm_pack_full)((real *)ly->pk, &lay, (const real *)net->params + ly->w_off, 1,
                              in) != NN_OK) {
        nn_free(ly->pk);
        ly->pk = NULL;
        return NULL;
    }
    ly->pk_lay = lay;
    ly->pk_ver = net->wver;
    return (const real *)ly->pk;
}

/* The same for bf16 compute (a float32 net): W^T rounded to bf16 and packed
 * for the active bf16 kernels (nn_bgemm_pack_full), packed again when the
 * parameters, the family or the blocking changed; NULL when out of memory or
 * not worth its memory (net_pack_pays). */
static const float *NN_FN(net_bwpack)(nn_net *net, nn_net_layer *ly) {
    const int64_t in = ly->spec.in_features, out = ly->spec.out_features;
    nn_gemm_packed lay;
    nn_bgemm_packed_layout(out, in, &lay);
    if (!NN_FN(net_pack_pays)(ly, lay.elems, &ly->bpk)) return NULL;
    if (ly->bpk != NULL && ly->bpk_ver == net->wver &&
        memcmp(&lay, &ly->bpk_lay, sizeof lay) == 0)
        return (const float *)ly->bpk;
    if (ly->bpk == NULL || lay.elems != ly->bpk_lay.elems) {
        nn_free(ly->bpk);
        ly->bpk = nn_alloc((size_t)lay.elems * sizeof(float));
        if (ly->bpk == NULL) return NULL;
    }
    ly->bpk_lay = lay; /* (re)set before packing: a failed pack leaves bpk NULL */
    if (nn_bgemm_pack_full((float *)ly->bpk, &lay, (const float *)net->params + ly->w_off, 1,
                           in) != NN_OK) {
        nn_free(ly->bpk);
        ly->bpk = NULL;
        return NULL;
    }
    ly->bpk_ver = net->wver;
    return (const float *)ly->bpk;
}

/* Every GEMM of the passes: fp32/fp64 (nn_?gemm_ex), or for a float32 net in
 * bf16 compute mode the bf16 GEMM (gemm_bf16.c) with the same arguments. */
static int NN_FN(net_gemm)(const nn_net *net, int64_t m, int64_t n, int64_t k, const real *a,
                           int64_t rsa, int64_t csa, const real *b, int64_t rsb, int64_t csb,
                           real beta, real *c, int64_t rsc, const real *bias) {
    if (sizeof(real) == sizeof(float) && net->compute == NN_COMPUTE_BF16)
        return nn_bgemm_ex(m, n, k, 1.0f, (const float *)a, rsa, csa, (const float *)b, rsb,
                           csb, (float)beta, (float *)c, rsc, (const float *)bias);
    return NN_FN(gemm_ex)(m, n, k, (real)1, a, rsa, csa, b, rsb, csb, beta, c, rsc, bias);
}

/* Forward through every layer. x (batch, n_in) with row stride rsx; rows must
 * be contiguous (net.c copies x when a non-LINEAR first layer needs that).
 * The workspace must already hold `batch` rows (nn_net_reserve). */
int NN_FN(net_fwd)(nn_net *net, const real *x, int64_t rsx, int64_t batch, int training) {
    const real *params = (const real *)net->params;
    const real *cur = x;
    int64_t rs = rsx;
    int cur_ws = 0; /* cur lies in the workspace (not the caller's x) */
    int st;
    net->trained = 0;
    for (int32_t l = 0; l < net->n_layers; l++) {
        nn_net_layer *ly = &net->layers[l];
        int64_t in = ly->spec.in_features, out = ly->spec.out_features;
        NN_PROF_START(net);
        switch (ly->spec.kind) {
        case NN_LAYER_LINEAR: {
            /* y (batch, out) = cur (batch, in) @ W^T, W (out, in): B(p, j) = W[j*in + p] */
            real *y = (real *)ly->slot;
            const real *b = ly->b_off >= 0 ? params + ly->b_off : NULL;
            /* the GEMM adds the bias in its epilogue, on the tile still in cache;
             * a few rows take its small kernel, with the same bits per row, so
             * a row's output does not depend on the batch around it.
             * fp32/fp64 inference reuses W^T packed once (net_wpack), bf16
             * inference W^T rounded and packed once (net_bwpack); training
             * packs in the GEMM (net_gemm). */
            const int bf = sizeof(real) == sizeof(float) && net->compute == NN_COMPUTE_BF16;
            const real *wp = training || bf ? NULL : NN_FN(net_wpack)(net, ly);
            const float *bwp = !training && bf ? NN_FN(net_bwpack)(net, ly) : NULL;
            if (bwp != NULL)
                st = nn_bgemm_packed_ex(batch, &ly->bpk_lay, bwp, (const float *)cur, rs,
                                        (float *)y, out, (const float *)b);
            else if (wp != NULL)
                st = NN_FN(gemm_packed_ex)(batch, &ly->pk_lay, wp, cur, rs, y, out, b);
            else
                st = NN_FN(net_gemm)(net, batch, out, in, cur, rs, 1, params + ly->w_off, 1,
                                     in, (real)0, y, out, b);
            if (st != NN_OK) return st;
            NN_PROF_LAP(net, l, NN_PROF_FWD);
            if (ly->fuse_relu) NN_FN(net_epilogue)(y, NULL, 1, batch, out);
            NN_PROF_LAP(net, l, NN_PROF_FWD_EPI);
            cur = y;
            rs = out;
            cur_ws = 1;
            break;
        }
        case NN_LAYER_ACT: {
            if (ly->fuse_relu) break; /* done in the LINEAR's epilogue; cur is its output */
            /* training keeps the input for backward; inference works in place */
            real *y = (training || !cur_ws) ? (real *)ly->slot : (real *)cur;
            st = NN_FN(act_forward)(ly->spec.act, (real)ly->spec.param, y, cur, batch, in);
            if (st != NN_OK) return st;
            cur = y;
            rs = in;
            cur_ws = 1;
            break;
        }
        case NN_LAYER_DROPOUT: {
            if (!training) break; /* identity in inference */
            real *y = (real *)ly->slot;
            st = NN_FN(dropout_forward)(y, ly->mask, cur, batch * in, (real)ly->spec.param,
                                        net->seed, net->step, (uint32_t)l);
            if (st != NN_OK) return st;
            cur = y;
            rs = in;
            cur_ws = 1;
            break;
        }
        default:
            return NN_ERR_ARG;
        }
        NN_PROF_LAP(net, l, NN_PROF_FWD);
        ly->y = cur;
    }
    if (!cur_ws) { /* nothing wrote into the workspace (e.g. only dropout, inference) */
        real *y = (real *)net->layers[net->n_layers - 1].slot;
        int64_t n = net->n_out;
        for (int64_t i = 0; i < batch; i++)
            for (int64_t j = 0; j < n; j++) y[i * n + j] = cur[i * rs + j];
        cur = y;
        net->layers[net->n_layers - 1].y = y;
    }
    net->out = cur;
    net->batch = batch;
    if (training) {
        net->x = x;
        net->rsx = rsx;
        net->trained = 1;
        net->step++;
    }
    return NN_OK;
}

/* Backward from dout (batch, n_out) of the last training forward: accumulates
 * dW = dY^T X and db = colsum(dY) into the gradient buffer (or overwrites it
 * when accumulate == 0: every parameter belongs to a LINEAR layer at or after
 * first_param, so every gradient is written); dX = dY W only
 * where an earlier layer has parameters. Element-wise backwards run in place
 * in the two scratch buffers. */
int NN_FN(net_bwd)(nn_net *net, const real *dout, int accumulate) {
    if (!net->trained) return NN_ERR_STATE;
    const real *params = (const real *)net->params;
    real *grads = (real *)net->grads;
    real *s0 = (real *)net->scratch[0], *s1 = (real *)net->scratch[1];
    int64_t batch = net->batch;
    const real *d = dout;
    int st;
    for (int32_t l = net->n_layers - 1; l >= net->first_param; l--) {
        nn_net_layer *ly = &net->layers[l];
        int64_t in = ly->spec.in_features, out = ly->spec.out_features;
        const real *xin = l == 0 ? (const real *)net->x : (const real *)net->layers[l - 1].y;
        int64_t rsin = l == 0 ? net->rsx : in;
        real *dst = d == s1 ? s1 : s0; /* in place when d is already scratch */
        NN_PROF_START(net);
        switch (ly->spec.kind) {
        case NN_LAYER_LINEAR: {
            /* dW (out, in) += dY^T (out, batch) @ X (batch, in): A(i, p) = dY[p*out + i] */
            st = NN_FN(net_gemm)(net, out, in, batch, d, 1, out, xin, rsin, 1,
                                 accumulate ? (real)1 : (real)0, grads + ly->w_off, in, NULL);
            if (st != NN_OK) return st;
            NN_PROF_LAP(net, l, NN_PROF_BWD_DW);
            if (ly->b_off >= 0)
                NN_FN(net_colsum_acc)(grads + ly->b_off, d, batch, out, accumulate);
            NN_PROF_LAP(net, l, NN_PROF_BWD_DB);
            if (l > net->first_param) {
                /* dX (batch, in) = dY (batch, out) @ W (out, in) */
                real *dx = d == s0 ? s1 : s0;
                st = NN_FN(net_gemm)(net, batch, in, out, d, out, 1, params + ly->w_off, in,
                                     1, (real)0, dx, in, NULL);
                if (st != NN_OK) return st;
                d = dx;
            }
            break;
        }
        case NN_LAYER_ACT: {
            const real *y = (const real *)ly->y;
            if (ly->fuse_relu) /* the input is gone; ReLU's y > 0 iff x > 0 */
                st = NN_FN(act_backward)(NN_ACT_RELU, (real)0, dst, d, y, y, batch, in);
            else
                st = NN_FN(act_backward)(ly->spec.act, (real)ly->spec.param, dst, d, xin, y,
                                         batch, in);
            if (st != NN_OK) return st;
            d = dst;
            break;
        }
        case NN_LAYER_DROPOUT:
            st = NN_FN(dropout_backward)(dst, d, ly->mask, batch * in, (real)ly->spec.param);
            if (st != NN_OK) return st;
            d = dst;
            break;
        default:
            return NN_ERR_ARG;
        }
        NN_PROF_LAP(net, l, NN_PROF_BWD_DX);
    }
    return NN_OK;
}
