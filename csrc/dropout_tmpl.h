/* dropout_tmpl.h — inverted dropout, forward and backward, written once for
 * `real`; included twice by dropout.c. Element i is kept iff
 * (word_i >> 8) >= ceil(p * 2^24), which is exactly u_i >= p for
 * u_i = (word_i >> 8) * 2^-24 (an integer compare: vectorizes, no rounding). */

/* elements [lo, lo + len) of the stream; lo is a multiple of 4 */
static void NN_FN(_dropout_chunk)(real *y, uint8_t *mask, const real *x, int64_t lo,
                                  int64_t len, uint32_t thr, real scale, uint32_t k0,
                                  uint32_t k1, uint32_t s0, uint32_t s1, uint32_t layer) {
    uint32_t words[NN_DROPOUT_CHUNK];
    int64_t nblk = (len + 3) / 4;
    uint32_t b0 = (uint32_t)(lo / 4);
    for (int64_t b = 0; b < nblk; b++) {
        uint32_t w[4];
        nn_philox4x32_10(w, b0 + (uint32_t)b, s0, layer, s1, k0, k1);
        words[4 * b + 0] = w[0];
        words[4 * b + 1] = w[1];
        words[4 * b + 2] = w[2];
        words[4 * b + 3] = w[3];
    }
    for (int64_t j = 0; j < len; j++) {
        real v = x[lo + j] * scale; /* unconditional load: the select vectorizes */
        int keep = (words[j] >> 8) >= thr;
        mask[lo + j] = (uint8_t)keep;
        y[lo + j] = keep ? v : (real)0;
    }
}

int NN_FN(dropout_forward)(real *y, uint8_t *mask, const real *x, int64_t n, real p,
                           uint64_t seed, uint64_t step, uint32_t layer) {
    if (n < 0 || n > ((int64_t)1 << 34) || !(p >= 0 && p < 1)) return NN_ERR_ARG;
    if (n == 0) return NN_OK;
    if (y == NULL || mask == NULL || x == NULL) return NN_ERR_ARG;
    /* p * 2^24 is exact in float and double; ceil gives the integer threshold */
    uint32_t thr = (uint32_t)RM(ceil)(p * (real)16777216.0);
    real scale = (real)1 / ((real)1 - p);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    uint32_t s0 = (uint32_t)step, s1 = (uint32_t)(step >> 32);
    int64_t nchunks = (n + NN_DROPOUT_CHUNK - 1) / NN_DROPOUT_CHUNK;
    int nt = nn_threads_for((double)n * 16.0);
    if (nt > nchunks) nt = (int)nchunks;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t c = 0; c < nchunks; c++) {
        int64_t lo = c * NN_DROPOUT_CHUNK;
        int64_t len = n - lo < NN_DROPOUT_CHUNK ? n - lo : NN_DROPOUT_CHUNK;
        NN_FN(_dropout_chunk)(y, mask, x, lo, len, thr, scale, k0, k1, s0, s1, layer);
    }
    return NN_OK;
}

int NN_FN(dropout_backward)(real *dx, const real *dy, const uint8_t *mask, int64_t n, real p) {
    if (n < 0 || !(p >= 0 && p < 1)) return NN_ERR_ARG;
    if (n == 0) return NN_OK;
    if (dx == NULL || dy == NULL || mask == NULL) return NN_ERR_ARG;
    real scale = (real)1 / ((real)1 - p);
    int nt = nn_threads_for((double)n);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t i = 0; i < n; i++) {
        real v = dy[i] * scale;
        dx[i] = mask[i] ? v : (real)0;
    }
    return NN_OK;
}
