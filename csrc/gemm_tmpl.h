/* gemm_tmpl.h — the BLIS-style GEMM driver, written once for float and double.
 * Included twice by gemm.c with `real`, NN_FN(name) and NN_UKR/NN_BLK defined
 * (see internal.h). Not for: micro-kernels (csrc/kernels/) or dispatch (cpu.c).
 *
 * Loops (outer to inner): jc over N by NC | pc over K by KC -> pack B panel |
 * ic over M by MC -> pack A block | tiles (jr over NC by NR, ir over MC by MR)
 * -> micro-kernel. Threads share the packed panels: each packs a slice of the
 * slivers, then each computes a contiguous range of tiles. K is never split,
 * and every C element is accumulated in the same order whatever the thread
 * count, so results are bit-identical for 1, 2, ... threads.
 */

typedef struct {
    int64_t m, n, k;
    real alpha, beta;
    const real *a;
    int64_t rsa, csa;
    const real *b;
    int64_t rsb, csb;
    real *c;
    int64_t rsc;
    const real *bias;
    NN_UKR ukr;
    NN_PACKT packt; /* may be NULL */
    nn_gemm_blocking blk;
    real *bpack; /* kc x ceil(nc / nr) * nr */
    real *apack; /* 2 buffers of ceil(mc / mr) * mr x kc (double-buffered) */
    int64_t asize;
} NN_FN(gemm_ctx);

/* Packs slivers [s0, s1) of A (mc, kc) (rows of MR, zero-padded). */
static void NN_FN(gemm_pack_a)(real *NN_RESTRICT dst, const real *NN_RESTRICT a, int64_t rsa,
                               int64_t csa, int64_t mc, int64_t kc, int64_t mr, int64_t s0,
                               int64_t s1, NN_PACKT packt) {
    for (int64_t s = s0; s < s1; s++) {
        int64_t i0 = s * mr;
        int64_t rows = mc - i0 < mr ? mc - i0 : mr;
        real *d = dst + s * mr * kc;
        const real *src = a + i0 * rsa;
        if (rows == mr && csa == 1 && packt && packt(d, src, rsa, kc, mr)) {
            /* done by the kernel family's SIMD transpose */
        } else if (rows == mr && rsa == 1) {
            /* column-major A (e.g. x.T): each k step is MR contiguous values */
            for (int64_t p = 0; p < kc; p++) memcpy(d + p * mr, src + p * csa, sizeof(real) * mr);
        } else if (rows == mr && csa == 1) {
            /* row-major A: read rows, write strided into the sliver */
            for (int64_t i = 0; i < mr; i++) {
                const real *r = src + i * rsa;
                for (int64_t p = 0; p < kc; p++) d[p * mr + i] = r[p];
            }
        } else if (rows == mr) {
            for (int64_t p = 0; p < kc; p++) {
                const real *col = src + p * csa;
                for (int64_t i = 0; i < mr; i++) d[p * mr + i] = col[i * rsa];
            }
        } else {
            for (int64_t p = 0; p < kc; p++) {
                const real *col = src + p * csa;
                int64_t i = 0;
                for (; i < rows; i++) d[p * mr + i] = col[i * rsa];
                for (; i < mr; i++) d[p * mr + i] = 0;
            }
        }
    }
}

/* Packs slivers [s0, s1) of B (kc, nc) (columns of NR, zero-padded). */
static void NN_FN(gemm_pack_b)(real *NN_RESTRICT dst, const real *NN_RESTRICT b, int64_t rsb,
                               int64_t csb, int64_t kc, int64_t nc, int64_t nr, int64_t s0,
                               int64_t s1, NN_PACKT packt) {
    for (int64_t s = s0; s < s1; s++) {
        int64_t j0 = s * nr;
        int64_t cols = nc - j0 < nr ? nc - j0 : nr;
        real *d = dst + s * nr * kc;
        const real *src = b + j0 * csb;
        if (cols == nr && csb == 1) {
            /* fixed-size copies the compiler inlines as vector moves */
            if (nr * sizeof(real) == 64)
                for (int64_t p = 0; p < kc; p++) memcpy(d + p * nr, src + p * rsb, 64);
            else if (nr * sizeof(real) == 32)
                for (int64_t p = 0; p < kc; p++) memcpy(d + p * nr, src + p * rsb, 32);
            else
                for (int64_t p = 0; p < kc; p++) memcpy(d + p * nr, src + p * rsb, sizeof(real) * nr);
        } else if (cols == nr && rsb == 1 && packt && packt(d, src, csb, kc, nr)) {
            /* transposed B (e.g. W.T) by the kernel family's SIMD transpose */
        } else if (cols == nr && rsb == 1) {
            /* transposed B (e.g. W.T): read columns contiguously */
            for (int64_t j = 0; j < nr; j++) {
                const real *col = src + j * csb;
                for (int64_t p = 0; p < kc; p++) d[p * nr + j] = col[p];
            }
        } else {
            for (int64_t p = 0; p < kc; p++) {
                const real *r = src + p * rsb;
                int64_t j = 0;
                for (; j < cols; j++) d[p * nr + j] = r[j * csb];
                for (; j < nr; j++) d[p * nr + j] = 0;
            }
        }
    }
}

/* Splits [0, total) into nt nearly equal contiguous ranges; range of thread t. */
NN_INLINE void NN_FN(gemm_range)(int64_t total, int tid, int nt, int64_t *lo, int64_t *hi) {
    *lo = total * tid / nt;
    *hi = total * (tid + 1) / nt;
}

#if defined(NN_HAVE_OPENMP)
#define NN_GEMM_BARRIER(nt)                                                                  \
    do {                                                                                     \
        if ((nt) > 1) {                                                                      \
            _Pragma("omp barrier")                                                           \
        }                                                                                    \
    } while (0)
#else
#define NN_GEMM_BARRIER(nt) ((void)0)
#endif

/* The work of thread tid of nt (nt == 1: the whole product, no OpenMP). */
static void NN_FN(gemm_run)(const NN_FN(gemm_ctx) *x, int tid, int nt) {
    const int64_t mr = x->blk.mr, nr = x->blk.nr;
    const int64_t KC = x->blk.kc, MC = x->blk.mc, NC = x->blk.nc;
    const int64_t m = x->m, n = x->n, k = x->k;
    int buf = 0;
    int need_barrier = 0;
    for (int64_t jc = 0; jc < n; jc += NC) {
        const int64_t nc = n - jc < NC ? n - jc : NC;
        const int64_t njs = (nc + nr - 1) / nr;
        for (int64_t pc = 0; pc < k; pc += KC) {
            const int64_t kc = k - pc < KC ? k - pc : KC;
            const real beta = pc == 0 ? x->beta : (real)1;
            const int last = pc + kc == k;
            int64_t lo, hi;
            /* everyone must be done with the previous B panel before we overwrite it */
            if (need_barrier) NN_GEMM_BARRIER(nt);
            need_barrier = 1;
            NN_FN(gemm_range)(njs, tid, nt, &lo, &hi);
            NN_FN(gemm_pack_b)(x->bpack, x->b + pc * x->rsb + jc * x->csb, x->rsb, x->csb, kc,
                               nc, nr, lo, hi, x->packt);
            for (int64_t ic = 0; ic < m; ic += MC) {
                const int64_t mc = m - ic < MC ? m - ic : MC;
                const int64_t nis = (mc + mr - 1) / mr;
                real *ap = x->apack + buf * x->asize;
                buf ^= 1;
                NN_FN(gemm_range)(nis, tid, nt, &lo, &hi);
                NN_FN(gemm_pack_a)(ap, x->a + ic * x->rsa + pc * x->csa, x->rsa, x->csa, mc, kc,
                                   mr, lo, hi, x->packt);
                NN_GEMM_BARRIER(nt); /* packed A (and B) complete */
                /* tiles in jr-major order; this thread takes a contiguous range */
                NN_FN(gemm_range)(njs * nis, tid, nt, &lo, &hi);
                for (int64_t t = lo; t < hi; t++) {
                    const int64_t js = t / nis, is = t % nis;
                    const int64_t j0 = js * nr, i0 = is * mr;
                    const int64_t nrr = nc - j0 < nr ? nc - j0 : nr;
                    const int64_t mrr = mc - i0 < mr ? mc - i0 : mr;
                    real *c = x->c + (ic + i0) * x->rsc + jc + j0;
                    x->ukr(c, x->rsc, ap + is * mr * kc, x->bpack + js * nr * kc, kc, mrr, nrr,
                           x->alpha, beta);
                    if (last && x->bias) {
                        const real *bias = x->bias + jc + j0;
                        for (int64_t i = 0; i < mrr; i++)
                            for (int64_t j = 0; j < nrr; j++) c[i * x->rsc + j] += bias[j];
                    }
                }
                /* A is double-buffered: the barrier after the next packing
                 * orders this compute before the buffer is reused. */
            }
        }
    }
}

/* C = beta * C (+ bias) for k == 0; C is not read when beta == 0. */
static void NN_FN(gemm_scale)(real *c, int64_t rsc, int64_t m, int64_t n, real beta,
                              const real *bias) {
    for (int64_t i = 0; i < m; i++) {
        real *r = c + i * rsc;
        if (beta == 0)
            for (int64_t j = 0; j < n; j++) r[j] = 0;
        else
            for (int64_t j = 0; j < n; j++) r[j] = beta * r[j];
        if (bias)
            for (int64_t j = 0; j < n; j++) r[j] += bias[j];
    }
}

/* Pack buffers of the calling thread, reused across calls (grow-only): a
 * malloc of this size would otherwise be an mmap + page faults every call. */
static _Thread_local real *NN_FN(gemm_tl_buf) = NULL;
static _Thread_local size_t NN_FN(gemm_tl_cap) = 0;

static real *NN_FN(gemm_workspace)(size_t elems) {
    if (elems > NN_FN(gemm_tl_cap)) {
        nn_free(NN_FN(gemm_tl_buf));
        NN_FN(gemm_tl_cap) = 0;
        NN_FN(gemm_tl_buf) = (real *)nn_alloc(elems * sizeof(real));
        if (!NN_FN(gemm_tl_buf)) return NULL;
        NN_FN(gemm_tl_cap) = elems;
    }
    return NN_FN(gemm_tl_buf);
}

int NN_FN(gemm_ex)(int64_t m, int64_t n, int64_t k, real alpha, const real *a, int64_t rsa,
                   int64_t csa, const real *b, int64_t rsb, int64_t csb, real beta, real *c,
                   int64_t rsc, const real *bias) {
    if (m < 0 || n < 0 || k < 0) return NN_ERR_ARG;
    if (m == 0 || n == 0) return NN_OK;
    if (!c || (m > 1 && rsc < n)) return NN_ERR_ARG;
    if (k == 0) {
        NN_FN(gemm_scale)(c, rsc, m, n, beta, bias);
        return NN_OK;
    }
    if (!a || !b) return NN_ERR_ARG;
    int64_t mnk;
    if (nn_mul_size(m, n, &mnk) || nn_mul_size(mnk, k, &mnk)) mnk = INT64_MAX;

    const nn_gemm_kernels *kt = nn_gemm_active();
    NN_FN(gemm_ctx) x;
    x.m = m, x.n = n, x.k = k, x.alpha = alpha, x.beta = beta;
    x.a = a, x.rsa = rsa, x.csa = csa, x.b = b, x.rsb = rsb, x.csb = csb;
    x.c = c, x.rsc = rsc, x.bias = bias;
    x.ukr = kt->NN_UKR_FIELD;
    x.packt = kt->NN_PACKT_FIELD;
    x.blk = kt->NN_BLK_FIELD;
    const int64_t mr = x.blk.mr, nr = x.blk.nr;
    /* buffers only as large as this problem needs */
    const int64_t kc = k < x.blk.kc ? k : x.blk.kc;
    const int64_t mc = m < x.blk.mc ? m : x.blk.mc;
    const int64_t nc = n < x.blk.nc ? n : x.blk.nc;
    const int64_t bsize = kc * ((nc + nr - 1) / nr) * nr;
    x.asize = kc * ((mc + mr - 1) / mr) * mr;
    real *ws = NN_FN(gemm_workspace)((size_t)(bsize + 2 * x.asize + 64 / sizeof(real)));
    if (!ws) return NN_ERR_NOMEM;
    x.bpack = ws;
    x.apack = ws + ((bsize + 15) & ~(int64_t)15); /* keep 64-byte alignment */

    /* Threads only where fork/join pays: enough flops and at least one tile each. */
    int nt = 1;
#if defined(NN_HAVE_OPENMP)
    int64_t tiles = ((m + mr - 1) / mr) * ((n + nr - 1) / nr);
    if ((double)mnk >= NN_GEMM_MIN_PAR_MNK && tiles >= 2) {
        nt = nn_threads();
        if (nt > tiles) nt = (int)tiles;
    }
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        NN_FN(gemm_run)(&x, omp_get_thread_num(), omp_get_num_threads());
        return NN_OK;
    }
#endif
    NN_FN(gemm_run)(&x, 0, nt);
    return NN_OK;
}

int NN_FN(gemm)(int64_t m, int64_t n, int64_t k, real alpha, const real *a, int64_t rsa,
                int64_t csa, const real *b, int64_t rsb, int64_t csb, real beta, real *c,
                int64_t rsc) {
    return NN_FN(gemm_ex)(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, NULL);
}
