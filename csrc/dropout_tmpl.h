/* dropout_tmpl.h — inverted dropout, forward and backward, written once for
 * `real`; compiled per CPU family as part of elementwise_tmpl.h. Element i is
 * kept iff (word_i >> 8) >= ceil(p * 2^24), which is exactly u_i >= p for
 * u_i = (word_i >> 8) * 2^-24 (an integer compare: vectorizes, no rounding). */

/* elements [lo, lo + len) of the stream; lo is a multiple of 4 */
static void NN_FN(_dropout_chunk)(real *y, uint8_t *mask, const real *x, int64_t lo,
                                  int64_t len, uint32_t thr, real scale, uint32_t k0,
                                  uint32_t k1, uint32_t s0, uint32_t s1, uint32_t layer) {
    uint32_t words[NN_DROPOUT_CHUNK];
    int64_t nblk = (len + 3) / 4;
    uint32_t base = (uint32_t)(lo / 4);
    /* 64 Philox blocks side by side (structure of arrays): the inner loops over
     * g are plain 32x32->64-bit multiplies and xors, which vectorize (with 16,
     * GCC unrolls them completely and then does not). */
    for (int64_t b0 = 0; b0 < nblk; b0 += 64) {
        uint32_t c0[64], c1[64], c2[64], c3[64];
        for (int g = 0; g < 64; g++) {
            c0[g] = base + (uint32_t)b0 + (uint32_t)g;
            c1[g] = s0;
            c2[g] = layer;
            c3[g] = s1;
        }
        uint32_t r0 = k0, r1 = k1;
        for (int r = 0; r < 10; r++) {
            for (int g = 0; g < 64; g++) {
                uint64_t p0 = (uint64_t)NN_PHILOX_M0 * c0[g];
                uint64_t p1 = (uint64_t)NN_PHILOX_M1 * c2[g];
                uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[g] ^ r0;
                uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[g] ^ r1;
                c1[g] = (uint32_t)p1;
                c3[g] = (uint32_t)p0;
                c0[g] = n0;
                c2[g] = n2;
            }
            r0 += NN_PHILOX_W0;
            r1 += NN_PHILOX_W1;
        }
        int64_t gn = nblk - b0 < 64 ? nblk - b0 : 64;
        for (int64_t g = 0; g < gn; g++) {
            words[4 * (b0 + g) + 0] = c0[g];
            words[4 * (b0 + g) + 1] = c1[g];
            words[4 * (b0 + g) + 2] = c2[g];
            words[4 * (b0 + g) + 3] = c3[g];
        }
    }
    for (int64_t j = 0; j < len; j++) {
        real v = x[lo + j] * scale; /* unconditional load: the select vectorizes */
        int keep = (words[j] >> 8) >= thr;
        mask[lo + j] = (uint8_t)keep;
        y[lo + j] = keep ? v : (real)0;
    }
}

/* Pool jobs (pool.c). Forward: a block is `per` chunks of
 * NN_DROPOUT_CHUNK elements (chunk c is elements [c*CHUNK, ...)); the mask of
 * element i depends on (seed, step, layer, i) only. Backward: a block is `per`
 * NN_DROPOUT_CHUNK runs of the plain elementwise loop. */
typedef struct {
    real *y;
    uint8_t *mask;
    const real *x;
    int64_t n, per;
    uint32_t thr;
    real scale;
    uint32_t k0, k1, s0, s1, layer;
} NN_FN(_dropout_job);

static void NN_FN(_dropout_fwd_block)(void *p, int64_t blk) {
    const NN_FN(_dropout_job) *j = (const NN_FN(_dropout_job) *)p;
    int64_t lo, hi;
    nn_block_span(blk, j->per, NN_DROPOUT_CHUNK, j->n, &lo, &hi);
    for (; lo < hi; lo += NN_DROPOUT_CHUNK) {
        int64_t len = hi - lo < NN_DROPOUT_CHUNK ? hi - lo : NN_DROPOUT_CHUNK;
        NN_FN(_dropout_chunk)(j->y, j->mask, j->x, lo, len, j->thr, j->scale, j->k0, j->k1,
                              j->s0, j->s1, j->layer);
    }
}

typedef struct {
    real *dx;
    const real *dy;
    const uint8_t *mask;
    int64_t n, per;
    real scale;
} NN_FN(_dropout_bwd_job);

static void NN_FN(_dropout_bwd_block)(void *p, int64_t blk) {
    const NN_FN(_dropout_bwd_job) *j = (const NN_FN(_dropout_bwd_job) *)p;
    int64_t lo, hi;
    nn_block_span(blk, j->per, NN_DROPOUT_CHUNK, j->n, &lo, &hi);
    real *dx = j->dx; /* may alias dy */
    const real *dy = j->dy;
    const uint8_t *mask = j->mask;
    const real scale = j->scale;
    for (int64_t i = lo; i < hi; i++) {
        real v = dy[i] * scale;
        dx[i] = mask[i] ? v : (real)0;
    }
}

int NN_FN(dropout_forward)(real *y, uint8_t *mask, const real *x, int64_t n, real p,
                           uint64_t seed, uint64_t step, uint32_t layer) {
    if (n < 0 || n > ((int64_t)1 << 34) || !(p >= 0 && p < 1)) return NN_ERR_ARG;
    if (n == 0) return NN_OK;
    if (y == NULL || mask == NULL || x == NULL) return NN_ERR_ARG;
    /* p * 2^24 is exact in float and double; ceil gives the integer threshold */
    NN_FN(_dropout_job) job;
    job.y = y, job.mask = mask, job.x = x, job.n = n, job.per = 1;
    job.thr = (uint32_t)NN_MATH(ceil)(p * (real)16777216.0);
    job.scale = (real)1 / ((real)1 - p);
    job.k0 = (uint32_t)seed, job.k1 = (uint32_t)(seed >> 32);
    job.s0 = (uint32_t)step, job.s1 = (uint32_t)(step >> 32);
    job.layer = layer;
    int64_t nb = nn_blocks((n + NN_DROPOUT_CHUNK - 1) / NN_DROPOUT_CHUNK, NN_DROPOUT_CHUNK,
                           nn_ew_block_items(NN_DROPOUT_COST), &job.per);
    nn_pool_run(NN_FN(_dropout_fwd_block), &job, nb, nn_threads());
    return NN_OK;
}

int NN_FN(dropout_backward)(real *dx, const real *dy, const uint8_t *mask, int64_t n, real p) {
    if (n < 0 || !(p >= 0 && p < 1)) return NN_ERR_ARG;
    if (n == 0) return NN_OK;
    if (dx == NULL || dy == NULL || mask == NULL) return NN_ERR_ARG;
    NN_FN(_dropout_bwd_job) job = {dx, dy, mask, n, 1, (real)1 / ((real)1 - p)};
    int64_t nb = nn_blocks((n + NN_DROPOUT_CHUNK - 1) / NN_DROPOUT_CHUNK, NN_DROPOUT_CHUNK,
                           nn_ew_block_items(NN_DROPOUT_BWD_COST), &job.per);
    nn_pool_run(NN_FN(_dropout_bwd_block), &job, nb, nn_threads());
    return NN_OK;
}
