/* gemm_tmpl.h — the BLIS-style GEMM driver, written once for float and double.
 * Compiled for both by gemm.c (instantiate.h; see internal.h). Not for:
 * micro-kernels (csrc/kernels/) or dispatch (cpu.c).
 *
 * Loops (outer to inner): jc over N by NC | pc over K by KC -> pack B panel |
 * ic over M by MC -> pack A block | jr over NC by NR | ir over MC by MR ->
 * micro-kernel (ir outside jr for a family with blk.row_walk). Threads take
 * whole blocks of C (columns, or rows for tall and narrow C), each packing
 * what it needs. K is never split, the KC blocking
 * depends only on k, and every C element is accumulated in the same order
 * whatever the thread count, so results are bit-identical for 1, 2, ... threads.
 * A few rows (m <= NN_GEMM_SMALL_ROWS), or C one NR sliver wide, with A
 * contiguous along k go to the family's small kernel on A in place, with the
 * same KC blocks and chains: a row of C has the same bits in a product of 1
 * row or of 1000, and a narrow C the bits of the same columns of a wide one.
 * B may come packed once for many products (nn_?gemm_pack_full /
 * nn_?gemm_packed_ex: the network's inference weights).
 */

typedef struct {
    NN_GEMM_OPERANDS(real)
    NN_FN(gemm_ukr_fn) ukr;
    NN_FN(packt_fn) packt; /* may be NULL */
    NN_FN(gemm_small_fn) small; /* may be NULL */
    nn_gemm_blocking blk;
    const real *bpre; /* B already packed (gemm_pack_full), or NULL */
    int64_t npad;     /* n rounded up to nr: the width of a pre-packed panel */
} NN_FN(gemm_ctx);

/* The KC blocking of a product of depth k: blocks of kc then the rest, or with
 * blk.kc_even equal blocks (multiples of 8, at most kc: 784 as 4 x 196, not
 * 3 x 256 + 16, whose last pass over C would do little work). It depends only
 * on k and the family, never on m, n or the threads, so every C element's
 * chain over k is cut the same way on every path. */
static int64_t NN_FN(gemm_kc)(const nn_gemm_blocking *blk, int64_t k) {
    int64_t KC = blk->kc;
    if (blk->kc_even && k > KC) {
        const int64_t nkb = (k + KC - 1) / KC, even = ((k + nkb - 1) / nkb + 7) / 8 * 8;
        KC = even < KC ? even : KC;
    }
    return KC;
}

/* Full slivers [s0, s1) of width w from a source whose k steps are rows of
 * stride ld with the w values of each sliver contiguous (column-major A,
 * row-major B): walk k once, each step's values left to right, so every cache
 * line read feeds several slivers and the reads form one stream. */
static void NN_FN(gemm_pack_walk_k)(real *NN_RESTRICT dst, const real *NN_RESTRICT src,
                                    int64_t ld, int64_t kc, int64_t w, int64_t s0, int64_t s1) {
    const size_t bytes = sizeof(real) * (size_t)w;
#define NN_PACK_WALK(NB)                                                                     \
    for (int64_t p = 0; p < kc; p++) {                                                       \
        const real *row = src + p * ld;                                                      \
        for (int64_t s = s0; s < s1; s++)                                                    \
            memcpy(dst + s * w * kc + p * w, row + s * w, (NB));                             \
    }
    /* constant sizes: inlined vector moves, not a libc call per copy */
    if (bytes == 16) { NN_PACK_WALK(16) }
    else if (bytes == 32) { NN_PACK_WALK(32) }
    else if (bytes == 64) { NN_PACK_WALK(64) }
    else if (bytes == 128) { NN_PACK_WALK(128) }
    else if (bytes == 48) { NN_PACK_WALK(48) }
    else if (bytes == 96) { NN_PACK_WALK(96) }
    else { NN_PACK_WALK(bytes) }
#undef NN_PACK_WALK
}

/* Packs slivers [s0, s1) of A (mc, kc) (rows of MR, zero-padded). */
static void NN_FN(gemm_pack_a)(real *NN_RESTRICT dst, const real *NN_RESTRICT a, int64_t rsa,
                               int64_t csa, int64_t mc, int64_t kc, int64_t mr, int64_t s0,
                               int64_t s1, NN_FN(packt_fn) packt) {
    if (rsa == 1 && s1 - s0 > 1) { /* column-major A (e.g. x.T) */
        const int64_t sfull = mc / mr < s1 ? mc / mr : s1;
        if (sfull > s0) {
            NN_FN(gemm_pack_walk_k)(dst, a, csa, kc, mr, s0, sfull);
            s0 = sfull;
        }
    }
    for (int64_t s = s0; s < s1; s++) {
        int64_t i0 = s * mr;
        int64_t rows = mc - i0 < mr ? mc - i0 : mr;
        real *d = dst + s * mr * kc;
        const real *src = a + i0 * rsa;
        if (rows == mr && csa == 1 && packt && packt(d, src, rsa, kc, mr)) {
            /* done by the kernel family's SIMD transpose */
        } else if (rows == mr && rsa == 1) {
            /* column-major A (e.g. x.T): each k step is MR contiguous values */
            NN_FN(gemm_pack_walk_k)(dst, a, csa, kc, mr, s, s + 1);
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
                               int64_t s1, NN_FN(packt_fn) packt, int row_walk) {
    if (row_walk && csb == 1 && s1 - s0 > 1) {
        /* row-major B: walk k once, reading each row of the panel left to right
         * (one stream the hardware prefetcher follows) rather than a column
         * strip of kc rows per sliver (a page per row once rsb >= 4 KiB) */
        const int64_t sfull = nc / nr < s1 ? nc / nr : s1;
        if (sfull > s0) {
            NN_FN(gemm_pack_walk_k)(dst, b, rsb, kc, nr, s0, sfull);
            s0 = sfull;
        }
    }
    for (int64_t s = s0; s < s1; s++) {
        int64_t j0 = s * nr;
        int64_t cols = nc - j0 < nr ? nc - j0 : nr;
        real *d = dst + s * nr * kc;
        const real *src = b + j0 * csb;
        if (cols == nr && csb == 1) {
            NN_FN(gemm_pack_walk_k)(dst, b, rsb, kc, nr, s, s + 1);
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

/* Pack buffers of the calling thread, reused across calls (grow-only): a
 * malloc of this size would otherwise be an mmap + page faults every call.
 * The pool's workers (pool.c) keep theirs between jobs; a thread that exits
 * frees its own (thread_buffer.c). */
static real *NN_FN(gemm_workspace)(size_t elems) {
    return (real *)nn_thread_buffer(sizeof(real) == sizeof(float) ? NN_TB_SGEMM : NN_TB_DGEMM,
                                    elems * sizeof(real));
}

/* C[m0:m1, n0:n1] on the calling thread: the five BLIS loops. Block edges are
 * multiples of MR / NR, so the tile grid (and every element's arithmetic) is
 * the same whichever blocks the threads take. */
static int NN_FN(gemm_block)(const NN_FN(gemm_ctx) *x, int64_t m0, int64_t m1, int64_t n0,
                             int64_t n1) {
    const int64_t mr = x->blk.mr, nr = x->blk.nr;
    const int64_t MC = x->blk.mc, NC = x->blk.nc;
    const int64_t KC = NN_FN(gemm_kc)(&x->blk, x->k);
    const int64_t m = m1 - m0, n = n1 - n0, k = x->k;
    /* buffers only as large as this block needs */
    const int64_t kcmax = k < KC ? k : KC;
    const int64_t mcmax = m < MC ? m : MC;
    const int64_t ncmax = n < NC ? n : NC;
    const int64_t bsize =
        x->bpre ? 0 : (kcmax * ((ncmax + nr - 1) / nr) * nr + 15) & ~(int64_t)15;
    const int64_t asize = kcmax * ((mcmax + mr - 1) / mr) * mr;
    real *bpack = NN_FN(gemm_workspace)((size_t)(bsize + asize));
    if (!bpack) return NN_ERR_NOMEM;
    real *apack = bpack + bsize; /* 64-byte aligned: bsize is a multiple of 16 elements */
    const real *a = x->a + m0 * x->rsa, *b = x->b + n0 * x->csb;
    real *cb = x->c + m0 * x->rsc + n0;
    for (int64_t jc = 0; jc < n; jc += NC) {
        const int64_t nc = n - jc < NC ? n - jc : NC;
        const int64_t njs = (nc + nr - 1) / nr;
        for (int64_t pc = 0; pc < k; pc += KC) {
            const int64_t kc = k - pc < KC ? k - pc : KC;
            const real beta = pc == 0 ? x->beta : (real)1;
            const int last = pc + kc == k;
            const real *bp = bpack;
            if (x->bpre) /* panel pc of the pre-packed B, from sliver (n0 + jc) / nr */
                bp = x->bpre + pc * x->npad + (n0 + jc) * kc;
            else
                NN_FN(gemm_pack_b)(bpack, b + pc * x->rsb + jc * x->csb, x->rsb, x->csb, kc, nc,
                                   nr, 0, njs, x->packt, (int)x->blk.row_walk);
            for (int64_t ic = 0; ic < m; ic += MC) {
                const int64_t mc = m - ic < MC ? m - ic : MC;
                const int64_t nis = (mc + mr - 1) / mr;
                NN_FN(gemm_pack_a)(apack, a + ic * x->rsa + pc * x->csa, x->rsa, x->csa, mc, kc,
                                   mr, 0, nis, x->packt);
                /* tile order: A slivers inner (B sliver stays in L1, C tiles walk
                 * down a column strip), or with blk.row_walk B slivers inner (A
                 * sliver in L1, C tiles walk along rows: streams a prefetcher sees) */
                for (int64_t t = 0; t < njs * nis; t++) {
                    const int64_t js = x->blk.row_walk ? t % njs : t / nis;
                    const int64_t is = x->blk.row_walk ? t / njs : t % nis;
                    const int64_t j0 = js * nr;
                    const int64_t nrr = nc - j0 < nr ? nc - j0 : nr;
                    const int64_t i0 = is * mr;
                    const int64_t mrr = mc - i0 < mr ? mc - i0 : mr;
                    real *c = cb + (ic + i0) * x->rsc + jc + j0;
                    x->ukr(c, x->rsc, apack + is * mr * kc, bp + js * nr * kc, kc, mrr, nrr,
                           x->alpha, beta);
                    if (last && x->bias) {
                        const real *bias = x->bias + n0 + jc + j0;
                        for (int64_t i = 0; i < mrr; i++)
                            for (int64_t j = 0; j < nrr; j++) c[i * x->rsc + j] += bias[j];
                    }
                }
            }
        }
    }
    return NN_OK;
}

/* C[m0:m1, n0:n1] with the family's small kernel (A contiguous along k), for
 * a few rows (m <= NN_GEMM_SMALL_ROWS) or for C one micro-panel wide (n <= NR,
 * e.g. a 10-class output layer, where packing A would cost as much as the
 * product): A read in place, no A packing, no work on rows past m. Columns
 * in blocks of NC, k in the KC blocks of gemm_block with the same beta
 * sequence and the bias added after the last, so every element has the bits
 * the tiled path gives it. */
static int NN_FN(gemm_small_block)(const NN_FN(gemm_ctx) *x, int64_t m0, int64_t m1, int64_t n0,
                                  int64_t n1) {
    const int64_t nr = x->blk.nr, NC = x->blk.nc, k = x->k;
    const int64_t KC = NN_FN(gemm_kc)(&x->blk, k);
    real *bpack = NULL;
    if (!x->bpre) {
        const int64_t kcmax = k < KC ? k : KC, n = n1 - n0;
        const int64_t ncmax = n < NC ? n : NC;
        bpack = NN_FN(gemm_workspace)((size_t)(kcmax * ((ncmax + nr - 1) / nr) * nr));
        if (!bpack) return NN_ERR_NOMEM;
    }
    for (int64_t jc = n0; jc < n1; jc += NC) {
        const int64_t nc = n1 - jc < NC ? n1 - jc : NC;
        real *c = x->c + m0 * x->rsc + jc;
        const real *a = x->a + m0 * x->rsa;
        const int64_t m = m1 - m0;
        for (int64_t pc = 0; pc < k; pc += KC) {
            const int64_t kc = k - pc < KC ? k - pc : KC;
            const real *bp = bpack;
            if (x->bpre)
                bp = x->bpre + pc * x->npad + jc * kc;
            else
                NN_FN(gemm_pack_b)(bpack, x->b + pc * x->rsb + jc * x->csb, x->rsb, x->csb, kc,
                                   nc, nr, 0, (nc + nr - 1) / nr, x->packt,
                                   (int)x->blk.row_walk);
            /* row groups of NN_GEMM_SMALL_ROWS (one for a few rows) over the
             * packed panel, which is one sliver wide when there are many rows */
            const real beta = pc == 0 ? x->beta : (real)1;
            for (int64_t i0 = 0; i0 < m; i0 += NN_GEMM_SMALL_ROWS) {
                const int64_t rows = m - i0 < NN_GEMM_SMALL_ROWS ? m - i0 : NN_GEMM_SMALL_ROWS;
                x->small(c + i0 * x->rsc, x->rsc, a + i0 * x->rsa + pc, x->rsa, bp, kc, rows, nc,
                         x->alpha, beta);
            }
        }
        if (x->bias)
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < nc; j++) c[i * x->rsc + j] += x->bias[jc + j];
    }
    return NN_OK;
}

/* The blocks of the thread split (gemm_split.h): C[m0:m1, n0:n1] by the tiles,
 * or by the small kernel (column blocks of a few rows, row groups of a narrow C). */
static int NN_FN(gemm_block_split)(const void *x, int64_t m0, int64_t m1, int64_t n0,
                                   int64_t n1) {
    return NN_FN(gemm_block)((const NN_FN(gemm_ctx) *)x, m0, m1, n0, n1);
}

static int NN_FN(gemm_small_split)(const void *x, int64_t m0, int64_t m1, int64_t n0,
                                   int64_t n1) {
    return NN_FN(gemm_small_block)((const NN_FN(gemm_ctx) *)x, m0, m1, n0, n1);
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

/* The context of a product on the active family (B given, or pre-packed). */
static void NN_FN(gemm_setup)(NN_FN(gemm_ctx) *x, int64_t m, int64_t n, int64_t k, real alpha,
                              const real *a, int64_t rsa, int64_t csa, const real *b,
                              int64_t rsb, int64_t csb, real beta, real *c, int64_t rsc,
                              const real *bias) {
    const NN_FN(gemm_kernel) *gk = NN_FN(gemm_active)(); /* the active family's */
    x->m = m, x->n = n, x->k = k, x->alpha = alpha, x->beta = beta;
    x->a = a, x->rsa = rsa, x->csa = csa, x->b = b, x->rsb = rsb, x->csb = csb;
    x->c = c, x->rsc = rsc, x->bias = bias;
    x->ukr = gk->ukr;
    x->packt = gk->packt;
    x->small = gk->small;
    x->blk = tuned(gk->blk, sizeof(real) == sizeof(float) ? NN_F32 : NN_F64);
    x->bpre = NULL;
    x->npad = (n + x->blk.nr - 1) / x->blk.nr * x->blk.nr;
}

/* Runs the product of x (m, n, k > 0), threaded where it pays. */
static int NN_FN(gemm_run)(NN_FN(gemm_ctx) *xp) {
    NN_FN(gemm_ctx) x = *xp;
    const int64_t m = x.m, n = x.n, k = x.k;
    int64_t mnk;
    if (nn_mul_size(m, n, &mnk) || nn_mul_size(mnk, k, &mnk)) mnk = INT64_MAX;
    const int64_t mr = x.blk.mr, nr = x.blk.nr;
    /* a few rows, or C one sliver wide: the small kernel on A in place (same
     * bits as the tiles); a narrow C splits its rows among the team below */
    const int narrow = n <= nr;
    const int small = x.small && (m <= NN_GEMM_SMALL_ROWS || narrow) && x.csa == 1;

    /* Threads only where fork/join pays. Each thread computes whole blocks of C
     * (column blocks, or row blocks when C is tall and narrow) with its own
     * packing, handed out one at a time by the persistent team of pool.c:
     * no barrier, so a thread delayed by another process holds up nobody (the
     * caller takes the blocks it has not claimed). */
    int nt = 1;
    if ((double)mnk >= NN_GEMM_MIN_PAR_MNK) nt = nn_threads();
    if (small && m > NN_GEMM_SMALL_ROWS) /* narrow: row groups among the team */
        return nn_gemm_run_split(NN_FN(gemm_small_split), &x, m, n, NN_GEMM_SMALL_ROWS, nr, nt, 0);
    if (small) { /* column blocks of >= 256, on the team when the product is large */
        const int64_t units = (n + nr - 1) / nr, per0 = (256 + nr - 1) / nr;
        int64_t nblocks = nt > 1 ? (units + per0 - 1) / per0 : 1;
        if (nblocks > nt) nblocks = nt;
        if (nblocks > 1)
            return nn_gemm_run_blocks(NN_FN(gemm_small_split), &x, m, n, nr, nblocks, 1,
                                      nt < nblocks ? nt : (int)nblocks);
        return NN_FN(gemm_small_block)(&x, 0, m, 0, n);
    }
    /* a pre-packed B is shared: split rows (no A packed twice) where it can */
    return nn_gemm_run_split(NN_FN(gemm_block_split), &x, m, n, mr, nr, nt, x.bpre != NULL);
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
    NN_FN(gemm_ctx) x;
    NN_FN(gemm_setup)(&x, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, bias);
    return NN_FN(gemm_run)(&x);
}

/* ------------------------------------------- B packed once, used many times */

void NN_FN(gemm_packed_layout)(int64_t n, int64_t k, nn_gemm_packed *lay) {
    const NN_FN(gemm_kernel) *gk = NN_FN(gemm_active)();
    const nn_gemm_blocking blk = tuned(gk->blk, sizeof(real) == sizeof(float) ? NN_F32 : NN_F64);
    lay->kern = gk;
    lay->kc = NN_FN(gemm_kc)(&blk, k);
    lay->nr = blk.nr;
    lay->n = n;
    lay->k = k;
    lay->elems = (n + blk.nr - 1) / blk.nr * blk.nr * k;
}

int NN_FN(gemm_pack_full)(real *dst, const nn_gemm_packed *lay, const real *b, int64_t rsb,
                          int64_t csb) {
    nn_gemm_packed now;
    NN_FN(gemm_packed_layout)(lay->n, lay->k, &now);
    if (memcmp(&now, lay, sizeof now) != 0 || !dst || !b) return NN_ERR_ARG;
    const NN_FN(gemm_kernel) *gk = (const NN_FN(gemm_kernel) *)lay->kern;
    const nn_gemm_blocking blk = tuned(gk->blk, sizeof(real) == sizeof(float) ? NN_F32 : NN_F64);
    const int64_t npad = lay->elems / lay->k, nr = lay->nr;
    for (int64_t pc = 0; pc < lay->k; pc += lay->kc) {
        const int64_t kc = lay->k - pc < lay->kc ? lay->k - pc : lay->kc;
        NN_FN(gemm_pack_b)(dst + pc * npad, b + pc * rsb, rsb, csb, kc, lay->n, nr, 0,
                           npad / nr, gk->packt, (int)blk.row_walk);
    }
    return NN_OK;
}

int NN_FN(gemm_packed_ex)(int64_t m, const nn_gemm_packed *lay, const real *bp, const real *a,
                          int64_t rsa, real *c, int64_t rsc, const real *bias) {
    nn_gemm_packed now;
    if (m <= 0 || !lay || !bp || !a || !c) return m == 0 ? NN_OK : NN_ERR_ARG;
    NN_FN(gemm_packed_layout)(lay->n, lay->k, &now);
    if (memcmp(&now, lay, sizeof now) != 0) return NN_ERR_STATE; /* another family or blocking */
    if ((m > 1 && rsc < lay->n) || rsa < lay->k) return NN_ERR_ARG;
    NN_FN(gemm_ctx) x;
    NN_FN(gemm_setup)(&x, m, lay->n, lay->k, (real)1, a, rsa, 1, NULL, 0, 0, (real)0, c, rsc,
                      bias);
    x.bpre = bp;
    return NN_FN(gemm_run)(&x);
}

int NN_FN(gemm)(int64_t m, int64_t n, int64_t k, real alpha, const real *a, int64_t rsa,
                int64_t csa, const real *b, int64_t rsb, int64_t csb, real beta, real *c,
                int64_t rsc) {
    return NN_FN(gemm_ex)(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, NULL);
}
