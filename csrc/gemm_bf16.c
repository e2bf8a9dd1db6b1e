/* gemm_bf16.c — nn_bgemm_ex, the GEMM of the bf16 compute mode: float32
 * operands rounded to bfloat16 while they are packed, products summed in fp32.
 * Two ways, one set of loops:
 *   - a family with a bf16 micro-kernel (nn_bgemm_kernel.ukr: avx512_bf16,
 *     amx): bf16 slivers in VNNI pairs (kernels.h), that kernel;
 *   - every other family (nn_bgemm_portable, ukr NULL): fp32 slivers holding
 *     the bf16-rounded values, and the family's own fp32 micro-kernel. A
 *     product of two bf16 values is exact in fp32, so this rounds exactly as
 *     the bf16 kernels do and runs at the family's fp32 speed on any CPU.
 * BLIS loops like gemm_tmpl.h: jc over N by NC | pc over K by KC -> pack B |
 * ic over M by MC -> pack A | tiles -> micro-kernel. Threads take whole
 * blocks of C; K is never split and its blocking depends only on k, so the
 * bits do not depend on the thread count, and every m (even 1) takes the same
 * tiles, so a row's bits do not depend on the batch around it.
 * Not for: fp32/fp64 GEMM (gemm.c), micro-kernels (csrc/kernels/), choosing
 * a family (cpu.c).
 */
#include "gemm_bf16.h"
#include "gemm_split.h"
#include "kernels.h"

/* Below this many multiply-adds a GEMM runs on the calling thread (as gemm.c). */
#define NN_BGEMM_MIN_PAR_MNK 1.0e6

/* The bf16 entry of families without bf16 instructions: their fp32 micro-kernel. */
const nn_bgemm_kernel nn_bgemm_portable = {NULL, {0, 0, 0, 0, 0, 0, 0}, 1, NULL, NULL,
                                           "portable (bf16-rounded operands, fp32 micro-kernel)",
                                           NULL};

const char *nn_bgemm_name(void) { return nn_bgemm_active()->name; }

/* bf16(v) as a float, without branches (the bits of nn_bf16_round; vectorizes). */
static inline float bf16_value(float f) {
    uint32_t v;
    memcpy(&v, &f, sizeof v);
    const uint32_t r = (v + 0x7fffu + ((v >> 16) & 1u)) & 0xffff0000u;
    const uint32_t q = (v | 0x00400000u) & 0xffff0000u;
    v = (v & 0x7fffffffu) > 0x7f800000u ? q : r;
    memcpy(&f, &v, sizeof f);
    return f;
}

/* Rounds n packed fp32 values to bf16 in place. */
static void round_inplace(float *NN_RESTRICT d, int64_t n) {
    for (int64_t i = 0; i < n; i++) d[i] = bf16_value(d[i]);
}

/* fp32 mode: one sliver d[p*width + r] = bf16(element (p, r) at src[p*sk + r*sr]),
 * zero-padded to width; the family's transposing packer where it applies. */
static void pack_sliver_f32(float *NN_RESTRICT d, const float *NN_RESTRICT src, int64_t sk,
                            int64_t sr, int64_t kc, int64_t w, int64_t width,
                            nn_spackt_fn packt) {
    if (!(w == width && sk == 1 && packt && packt(d, src, sr, kc, w))) {
        for (int64_t p = 0; p < kc; p++)
            for (int64_t r = 0; r < width; r++)
                d[p * width + r] = r < w ? src[p * sk + r * sr] : 0.0f;
    }
    round_inplace(d, kc * width);
}

/* Offset of A(i, 2q + t) in an A sliver of mr rows in blocks of akb k-pairs. */
static inline int64_t a_off(int64_t q, int64_t i, int64_t t, int64_t mr, int64_t akb) {
    return (q / akb) * akb * 2 * mr + i * akb * 2 + (q % akb) * 2 + t;
}

/* Packs one sliver: `w` of `width` rows (A, layout akb) or columns (B, akb 0)
 * of the (kc, width) operand, element (p, r) at src[p*sk + r*sr], rounded to
 * bf16 and zero-padded to kp k-pairs and to width. */
static void pack_sliver(uint16_t *NN_RESTRICT d, const float *NN_RESTRICT src, int64_t sk,
                        int64_t sr, int64_t kc, int64_t kp, int64_t w, int64_t width,
                        int64_t akb, nn_bpack_fn packt, nn_bpack_fn packn) {
    const int a = akb > 0;
    if (w == width && kc == 2 * kp) {
        if (sk == 1 && packt && packt(d, src, sr, kc, w, a)) return;
        if (sr == 1 && packn && packn(d, src, sk, kc, w, a)) return;
    }
    for (int64_t q = 0; q < kp; q++)
        for (int64_t t = 0; t < 2; t++) {
            const int64_t p = 2 * q + t;
            for (int64_t r = 0; r < width; r++) {
                const uint16_t v = (p < kc && r < w) ? nn_bf16_round(src[p * sk + r * sr]) : 0;
                d[a ? a_off(q, r, t, width, akb) : q * 2 * width + 2 * r + t] = v;
            }
        }
}

/* Packs the slivers of a block of `len` rows (A) or columns (B) of width
 * `width`, `kpad` (padded) k steps each. bf16 mode: the full slivers whose
 * source rows run along the block (sr == 1) in one packn call (one pass over
 * each source row), the rest one by one. */
static void pack_block(void *d, const float *src, int64_t sk, int64_t sr, int64_t kc,
                       int64_t kpad, int64_t len, int64_t width, int64_t akb,
                       const nn_bgemm_kernel *gk, const nn_sgemm_kernel *fk) {
    const int64_t ns = (len + width - 1) / width;
    int64_t s0 = 0;
    if (!gk->ukr) {
        for (int64_t s = 0; s < ns; s++) {
            const int64_t r0 = s * width, w = len - r0 < width ? len - r0 : width;
            pack_sliver_f32((float *)d + s * kpad * width, src + r0 * sr, sk, sr, kc, w, width,
                            fk->packt);
        }
        return;
    }
    uint16_t *h = (uint16_t *)d;
    if (sr == 1 && gk->packn && kc == kpad && len / width > 1 &&
        gk->packn(h, src, sk, kc, len / width * width, akb > 0))
        s0 = len / width;
    for (int64_t s = s0; s < ns; s++) {
        const int64_t r0 = s * width, w = len - r0 < width ? len - r0 : width;
        pack_sliver(h + s * kpad * width, src + r0 * sr, sk, sr, kc, kpad / 2, w, width, akb,
                    gk->packt, gk->packn);
    }
}

typedef struct {
    NN_GEMM_OPERANDS(float)
    const nn_bgemm_kernel *gk;
    const nn_sgemm_kernel *fk; /* the family's fp32 kernel (fp32 mode: gk->ukr NULL) */
    nn_gemm_blocking blk;      /* of gk, or of fk in fp32 mode */
    const char *bpre;          /* B packed whole (nn_bgemm_pack_full), or NULL */
    int64_t nsl;               /* slivers of the whole B (bpre) */
} bgemm_ctx;

/* The k steps of a packed panel: blk.kc rounded down to a multiple of kq (the
 * k steps one A block of the kernel spans), at least kq. */
static int64_t bgemm_kc(const nn_gemm_blocking *blk, int64_t kq) {
    return blk->kc / kq * kq > 0 ? blk->kc / kq * kq : kq;
}

/* Pack buffers of the calling thread, reused across calls (grow-only), freed
 * when the thread exits (thread_buffer.c). */
static char *workspace(size_t bytes) { return (char *)nn_thread_buffer(NN_TB_BGEMM, bytes); }

/* C[m0:m1, n0:n1] on the calling thread. */
static int bgemm_block(const void *ctx, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    const bgemm_ctx *x = (const bgemm_ctx *)ctx;
    const nn_bgemm_kernel *gk = x->gk;
    const int bf = gk->ukr != NULL;          /* bf16 slivers, else fp32 ones */
    const size_t es = bf ? sizeof(uint16_t) : sizeof(float);
    const int64_t mr = x->blk.mr, nr = x->blk.nr, akb = bf ? gk->akb : 0;
    const int64_t MC = x->blk.mc, NC = x->blk.nc;
    const int64_t kq = bf ? 2 * akb : 1; /* k steps a panel is padded to a multiple of */
    const int64_t KC = bgemm_kc(&x->blk, kq);
    const int64_t m = m1 - m0, n = n1 - n0, k = x->k;
    const int64_t kcmax = k < KC ? k : KC;
    const int64_t kpmax = (kcmax + kq - 1) / kq * kq; /* padded k steps of the largest panel */
    const int64_t mcmax = m < MC ? m : MC, ncmax = n < NC ? n : NC;
    const int64_t bsize =
        x->bpre ? 0 : (kpmax * ((ncmax + nr - 1) / nr) * nr + 31) & ~(int64_t)31;
    const int64_t asize = kpmax * ((mcmax + mr - 1) / mr) * mr;
    char *bpack = workspace((size_t)(bsize + asize) * es);
    if (!bpack) return NN_ERR_NOMEM;
    char *apack = bpack + (size_t)bsize * es; /* 64-byte aligned: bsize is a multiple of 32 */
    const float *a = x->a + m0 * x->rsa, *b = x->b + n0 * x->csb;
    float *cb = x->c + m0 * x->rsc + n0;
    for (int64_t jc = 0; jc < n; jc += NC) {
        const int64_t nc = n - jc < NC ? n - jc : NC;
        const int64_t njs = (nc + nr - 1) / nr;
        for (int64_t pc = 0; pc < k; pc += KC) {
            const int64_t kc = k - pc < KC ? k - pc : KC;
            const int64_t kpad = (kc + kq - 1) / kq * kq;
            const float beta = pc == 0 ? x->beta : 1.0f;
            const int last = pc + kc == k;
            /* B's panel: a slice of the whole packed B (its slivers start at
             * multiples of nr: n0 is one, NC too), or packed here */
            const char *bp = bpack;
            if (x->bpre) {
                if ((n0 + jc) % nr) return NN_ERR_STATE;
                bp = x->bpre + (size_t)(pc * x->nsl * nr + (n0 + jc) / nr * kpad * nr) * es;
            } else {
                pack_block(bpack, b + pc * x->rsb + jc * x->csb, x->rsb, x->csb, kc, kpad, nc,
                           nr, 0, gk, x->fk);
            }
            for (int64_t ic = 0; ic < m; ic += MC) {
                const int64_t mc = m - ic < MC ? m - ic : MC;
                const int64_t nis = (mc + mr - 1) / mr;
                pack_block(apack, a + ic * x->rsa + pc * x->csa, x->csa, x->rsa, kc, kpad, mc, mr,
                           akb, gk, x->fk);
                /* B slivers inner: the A sliver stays in L1, C tiles walk along rows */
                for (int64_t is = 0; is < nis; is++)
                    for (int64_t js = 0; js < njs; js++) {
                        const int64_t j0 = js * nr, nrr = nc - j0 < nr ? nc - j0 : nr;
                        const int64_t i0 = is * mr, mrr = mc - i0 < mr ? mc - i0 : mr;
                        float *c = cb + (ic + i0) * x->rsc + jc + j0;
                        const size_t ao = (size_t)(is * kpad * mr) * es;
                        const size_t bo = (size_t)(js * kpad * nr) * es;
                        if (bf)
                            gk->ukr(c, x->rsc, (const uint16_t *)(apack + ao),
                                    (const uint16_t *)(bp + bo), kpad / 2, mrr, nrr, x->alpha,
                                    beta);
                        else
                            x->fk->ukr(c, x->rsc, (const float *)(apack + ao),
                                       (const float *)(bp + bo), kc, mrr, nrr, x->alpha, beta);
                        if (last && x->bias) {
                            const float *bias = x->bias + n0 + jc + j0;
                            for (int64_t i = 0; i < mrr; i++)
                                for (int64_t j = 0; j < nrr; j++) c[i * x->rsc + j] += bias[j];
                        }
                    }
            }
        }
    }
    return NN_OK;
}

/* The loops on the threads; bpre: B packed whole for the active kernels (b unused). */
static int bgemm_run(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t rsa,
                     int64_t csa, const float *b, int64_t rsb, int64_t csb, float beta,
                     float *c, int64_t rsc, const float *bias, const char *bpre) {
    const nn_bgemm_kernel *gk = nn_bgemm_active();
    const nn_sgemm_kernel *fk = nn_sgemm_active();
    bgemm_ctx x = {m,  n, k,    alpha, beta, a,  rsa,
                   csa, b, rsb,  csb,   c,    rsc, bias,
                   gk, fk, gk->ukr ? gk->blk : fk->blk, bpre, 0};
    const int64_t mr = x.blk.mr, nr = x.blk.nr;
    x.nsl = (n + nr - 1) / nr;
    /* threads as in gemm_tmpl.h (gemm_split.h): whole column (or row) blocks of C */
    const int nt = (double)m * (double)n * (double)k >= NN_BGEMM_MIN_PAR_MNK ? nn_threads() : 1;
    return nn_gemm_run_split(bgemm_block, &x, m, n, mr, nr, nt, bpre != NULL);
}

void nn_bgemm_packed_layout(int64_t n, int64_t k, nn_gemm_packed *lay) {
    const nn_bgemm_kernel *gk = nn_bgemm_active();
    const nn_sgemm_kernel *fk = nn_sgemm_active();
    const nn_gemm_blocking *blk = gk->ukr ? &gk->blk : &fk->blk;
    const int64_t kq = gk->ukr ? 2 * gk->akb : 1;
    const int64_t kpad = (k + kq - 1) / kq * kq; /* the panels' padded k steps, summed */
    const int64_t vals = kpad * ((n + blk->nr - 1) / blk->nr) * blk->nr;
    memset(lay, 0, sizeof *lay);
    lay->kern = gk->ukr ? (const void *)gk : (const void *)fk;
    lay->kc = bgemm_kc(blk, kq);
    lay->nr = blk->nr;
    lay->n = n;
    lay->k = k;
    lay->elems = gk->ukr ? (vals + 1) / 2 : vals;
}

/* lay is what nn_bgemm_packed_layout gives now (the active kernels and blocking). */
static int bgemm_layout_current(const nn_gemm_packed *lay) {
    nn_gemm_packed now;
    nn_bgemm_packed_layout(lay->n, lay->k, &now);
    return memcmp(&now, lay, sizeof now) == 0;
}

int nn_bgemm_pack_full(float *dst, const nn_gemm_packed *lay, const float *b, int64_t rsb,
                       int64_t csb) {
    if (!dst || !b || !lay || lay->n <= 0 || lay->k <= 0 || !bgemm_layout_current(lay))
        return NN_ERR_ARG;
    const nn_bgemm_kernel *gk = nn_bgemm_active();
    const nn_sgemm_kernel *fk = nn_sgemm_active();
    const int bf = gk->ukr != NULL;
    const size_t es = bf ? sizeof(uint16_t) : sizeof(float);
    const int64_t kq = bf ? 2 * gk->akb : 1, KC = lay->kc, nr = lay->nr;
    const int64_t nsl = (lay->n + nr - 1) / nr;
    for (int64_t pc = 0; pc < lay->k; pc += KC) {
        const int64_t kc = lay->k - pc < KC ? lay->k - pc : KC;
        const int64_t kpad = (kc + kq - 1) / kq * kq;
        pack_block((char *)dst + (size_t)(pc * nsl * nr) * es, b + pc * rsb, rsb, csb, kc, kpad,
                   lay->n, nr, 0, gk, fk);
    }
    return NN_OK;
}

/* A few rows on the packed B with the family's small kernel (bf16: nn_bsmall_fn;
 * portable: the fp32 one on the rounded rows), k in the tiles' KC blocks, bias
 * after the last: every element the tiles' chain. 0 if there is none. */
static int bgemm_packed_small(int64_t m, const nn_gemm_packed *lay, const char *bp,
                              const float *a, int64_t rsa, float *c, int64_t rsc,
                              const float *bias, int *st) {
    const nn_bgemm_kernel *gk = nn_bgemm_active();
    const nn_sgemm_kernel *fk = nn_sgemm_active();
    const int bf = gk->ukr != NULL;
    if (m > NN_GEMM_SMALL_ROWS || (bf ? !gk->small : !fk->small)) return 0;
    const int64_t n = lay->n, k = lay->k, KC = lay->kc, nr = lay->nr, kq = bf ? 2 * gk->akb : 1;
    const int64_t nsl = (n + nr - 1) / nr, kall = (k + kq - 1) / kq * kq;
    /* the rounded rows (bf16: m * kall halves, then one block's pair words) */
    float *ws = (float *)workspace((size_t)m * (size_t)kall * sizeof(float));
    *st = NN_ERR_NOMEM;
    if (!ws) return 1;
    uint16_t *h = (uint16_t *)ws;
    uint32_t *pairs = (uint32_t *)(ws + (size_t)m * (size_t)kall / 2);
    for (int64_t i = 0; i < m; i++)
        for (int64_t p = 0; p < kall; p++) {
            const float v = p < k ? a[i * rsa + p] : 0.0f;
            if (bf) h[i * kall + p] = nn_bf16_round(v);
            else ws[i * kall + p] = bf16_value(v);
        }
    for (int64_t pc = 0; pc < k; pc += KC) {
        const int64_t kc = k - pc < KC ? k - pc : KC, kpad = (kc + kq - 1) / kq * kq;
        const float beta = pc == 0 ? 0.0f : 1.0f;
        if (bf) {
            /* block pc of each row as kpad / 2 pair words */
            for (int64_t i = 0; i < m; i++)
                memcpy(pairs + i * (kpad / 2), h + i * kall + pc, (size_t)kpad * 2);
            gk->small(c, rsc, pairs, (const uint16_t *)bp + pc * nsl * nr, kpad / 2, m, n, 1.0f,
                      beta);
        } else {
            fk->small(c, rsc, ws + pc, kall, (const float *)bp + pc * nsl * nr, kc, m, n, 1.0f,
                      beta);
        }
    }
    if (bias)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) c[i * rsc + j] += bias[j];
    *st = NN_OK;
    return 1;
}

int nn_bgemm_packed_ex(int64_t m, const nn_gemm_packed *lay, const float *bp, const float *a,
                       int64_t rsa, float *c, int64_t rsc, const float *bias) {
    if (!lay || !bp || !a || !c || m < 0 || (m > 1 && (rsc < lay->n || rsa < lay->k)))
        return NN_ERR_ARG;
    if (!bgemm_layout_current(lay)) return NN_ERR_STATE;
    if (m == 0) return NN_OK;
    int st;
    if (bgemm_packed_small(m, lay, (const char *)bp, a, rsa, c, rsc, bias, &st)) return st;
    return bgemm_run(m, lay->n, lay->k, 1.0f, a, rsa, 1, NULL, 0, 0, 0.0f, c, rsc, bias,
                     (const char *)bp);
}

int nn_bgemm_ex(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t rsa,
                int64_t csa, const float *b, int64_t rsb, int64_t csb, float beta, float *c,
                int64_t rsc, const float *bias) {
    if (m < 0 || n < 0 || k < 0) return NN_ERR_ARG;
    if (m == 0 || n == 0) return NN_OK;
    if (!c || (m > 1 && rsc < n)) return NN_ERR_ARG;
    if (k == 0) {
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                float *r = c + i * rsc + j;
                *r = (beta == 0 ? 0.0f : beta * *r) + (bias ? bias[j] : 0.0f);
            }
        return NN_OK;
    }
    if (!a || !b) return NN_ERR_ARG;
    /* every m takes the tiles (no few-row shortcut): each C element is the
     * same chain over k whatever the batch around its row (batch invariance) */
    return bgemm_run(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, bias, NULL);
}
