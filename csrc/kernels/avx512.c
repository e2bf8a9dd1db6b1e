/* avx512.c — the "avx512" kernel family (AVX-512F/VL, x86-64):
 *   sgemm, dgemm  micro-kernels 16x16 (float, one zmm of B per k step) and
 *                 8x16 (double, two zmm of B) in which each A element is fed
 *                 straight from memory as an embedded-broadcast ({1to16} /
 *                 {1to8}) operand of its FMA — no separate broadcast
 *                 instructions; SIMD transposing packers (contract: kernels.h).
 *                 Measured side by side against 12x32 / 8x32 fp32 and 16x8 /
 *                 12x16 fp64 variants (benchmarks/compare.py): these two won.
 *                 Small-m kernels for 1-4 rows with the same chains
 *                 (small_kernel.h): batch-invariant inference.
 *   ew            activations, losses, dropout (elementwise_tmpl.h) compiled
 *                 for AVX-512F/VL + FMA, 16 floats wide
 *   optim         the updates of the avx2 family (same bits in every family)
 *                 and the gradient's sum of squares (optim_sumsq_tmpl.h)
 *                 compiled for AVX-512F without FMA (8 doubles a lane group;
 *                 same bits as every family)
 * The file is compiled for the baseline ISA; only these kernels carry
 * AVX-512, and cpu.c selects the table only after checking the CPU and the OS
 * (ZMM state).
 * Not for: the GEMM loops and portable packers (gemm.c); dispatch (cpu.c).
 */
#include "../kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "avx512_common.h"
#include "small_kernel.h"

#define NN_SFX _avx512

/* ------------------------------------------------------------ GEMM */

#define NN_AVX512 __attribute__((target("avx512f,avx512vl,fma")))

/* software prefetch distance for packed A, in k steps */
#ifndef NN_PF_A
#define NN_PF_A 8
#endif

/* NAME: C (MR, NV lanes) tile; ap: k x MR, bp: k x NV (64-byte aligned). */
#define NN_UKR_AVX512(NAME, real, MR, NV, V, LOAD, SET1, FMA, MUL, ZERO, LOADU_M, STOREU_M,   \
                      MASKT, LOADU, STOREU)                                                  \
    NN_AVX512 void NAME(real *c, int64_t rsc, const real *ap, const real *bp, int64_t k,      \
                        int64_t mr, int64_t nr, real alpha, real beta) {                     \
        V acc[MR];                                                                           \
        _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) {                              \
            acc[i] = ZERO();                                                                 \
            if (i < mr) _mm_prefetch((const char *)(c + i * rsc), _MM_HINT_T0);              \
        }                                                                                    \
        int64_t p = 0;                                                                       \
        for (; p + 4 <= k; p += 4) {                                                         \
            _Pragma("GCC unroll 4") for (int u = 0; u < 4; u++) {                            \
                _mm_prefetch((const char *)(ap + NN_PF_A * MR), _MM_HINT_T0);                \
                if (MR * sizeof(real) > 64) /* fp64: two lines of A per k step */            \
                    _mm_prefetch((const char *)(ap + NN_PF_A * MR) + 64, _MM_HINT_T0);       \
                const V b = LOAD(bp);                                                        \
                _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) acc[i] =               \
                    FMA(SET1(ap[i]), b, acc[i]);                                             \
                ap += MR;                                                                    \
                bp += NV;                                                                    \
            }                                                                                \
        }                                                                                    \
        for (; p < k; p++) {                                                                 \
            const V b = LOAD(bp);                                                            \
            _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) acc[i] =                   \
                FMA(SET1(ap[i]), b, acc[i]);                                                 \
            ap += MR;                                                                        \
            bp += NV;                                                                        \
        }                                                                                    \
        const V va = SET1(alpha), vb = SET1(beta);                                           \
        if (mr == MR && nr == NV) { /* full tile: plain unaligned moves */                   \
            if (beta == 0) {                                                                 \
                _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++)                        \
                    STOREU(c + i * rsc, MUL(va, acc[i]));                                    \
            } else {                                                                         \
                _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) STOREU(                \
                    c + i * rsc, FMA(vb, LOADU(c + i * rsc), MUL(va, acc[i])));              \
            }                                                                                \
            return;                                                                          \
        }                                                                                    \
        const MASKT mask = (MASKT)(nr >= NV ? ~0u : (1u << nr) - 1u);                        \
        _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) {                              \
            if (i < mr) {                                                                    \
                real *r = c + i * rsc;                                                       \
                V t = MUL(va, acc[i]);                                                       \
                if (beta != 0) t = FMA(vb, LOADU_M(ZERO(), mask, r), t);                     \
                STOREU_M(r, mask, t);                                                        \
            }                                                                                \
        }                                                                                    \
    }

NN_UKR_AVX512(nn_sgemm_ukr_avx512_16x16, float, 16, 16, __m512, _mm512_load_ps, _mm512_set1_ps,
              _mm512_fmadd_ps, _mm512_mul_ps, _mm512_setzero_ps, _mm512_mask_loadu_ps,
              _mm512_mask_storeu_ps, __mmask16, _mm512_loadu_ps, _mm512_storeu_ps)

/* NAME: C (MR, 2 vectors of NV lanes) tile; ap: k x MR, bp: k x 2NV. Both FMAs
 * of an A element take it as an embedded broadcast (a second pointer hides the
 * common load from the compiler, which would otherwise emit a separate
 * vbroadcast): half the A bytes per FMA of the one-vector tile, which is what
 * fp64 needs (its 16-row A sliver is two cache lines per k step). */
#define NN_UKR_AVX512_2V(NAME, real, MR, NV, V, LOAD, SET1, FMA, MUL, ZERO, LOADU_M, STOREU_M, \
                         MASKT, LOADU, STOREU)                                               \
    NN_AVX512 void NAME(real *c, int64_t rsc, const real *ap, const real *bp, int64_t k,      \
                        int64_t mr, int64_t nr, real alpha, real beta) {                     \
        V acc0[MR], acc1[MR];                                                                \
        _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) {                              \
            acc0[i] = ZERO();                                                                \
            acc1[i] = ZERO();                                                                \
            if (i < mr) _mm_prefetch((const char *)(c + i * rsc), _MM_HINT_T0);              \
        }                                                                                    \
        _Pragma("GCC unroll 2") for (int64_t p = 0; p < k; p++) {                           \
            const real *ap2 = ap;                                                            \
            __asm__("" : "+r"(ap2));                                                         \
            _mm_prefetch((const char *)(ap + NN_PF_A * MR), _MM_HINT_T0);                    \
            const V b0 = LOAD(bp), b1 = LOAD(bp + NV);                                       \
            _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) {                          \
                acc0[i] = FMA(SET1(ap[i]), b0, acc0[i]);                                     \
                acc1[i] = FMA(SET1(ap2[i]), b1, acc1[i]);                                    \
            }                                                                                \
            ap += MR;                                                                        \
            bp += 2 * NV;                                                                    \
        }                                                                                    \
        NN_AVX512_STORE_2V(real, MR, NV, V, SET1, FMA, MUL, ZERO, LOADU_M, STOREU_M, MASKT,     \
                           LOADU, STOREU)                                                    \
    }

NN_UKR_AVX512_2V(nn_dgemm_ukr_avx512_8x16, double, 8, 8, __m512d, _mm512_load_pd,
                 _mm512_set1_pd, _mm512_fmadd_pd, _mm512_mul_pd, _mm512_setzero_pd,
                 _mm512_mask_loadu_pd, _mm512_mask_storeu_pd, __mmask8, _mm512_loadu_pd,
                 _mm512_storeu_pd)

/* Packs 16 rows (row r at src + r*ld, contiguous along k) into d[p*16 + r]. */
NN_AVX512 static int spackt_avx512(float *d, const float *src, int64_t ld, int64_t kc,
                                   int64_t w) {
    if (w != 16) return 0;
    int64_t p = 0;
    for (; p + 16 <= kc; p += 16) {
        __m512 r[16];
        for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * ld + p);
        nn_transpose16_ps(r);
        for (int q = 0; q < 16; q++) _mm512_store_ps(d + (p + q) * 16, r[q]);
    }
    for (; p < kc; p++)
        for (int i = 0; i < 16; i++) d[p * 16 + i] = src[i * ld + p];
    return 1;
}

/* Packs w = 8 or 16 rows (row r at src + r*ld, contiguous along k) into d[p*w + r]. */
NN_AVX512 static int dpackt_avx512(double *d, const double *src, int64_t ld, int64_t kc,
                                   int64_t w) {
    if (w != 8 && w != 16) return 0;
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) {
        for (int64_t h = 0; h < w; h += 8) {
            __m512d r[8];
            for (int i = 0; i < 8; i++) r[i] = _mm512_loadu_pd(src + (h + i) * ld + p);
            nn_transpose8_pd(r);
            for (int q = 0; q < 8; q++) _mm512_store_pd(d + (p + q) * w + h, r[q]);
        }
    }
    for (; p < kc; p++)
        for (int64_t i = 0; i < w; i++) d[p * w + i] = src[i * ld + p];
    return 1;
}

/* Small-m kernels (few rows, A in place): the ukrs' chains (small_kernel.h). */
NN_SMALL_KERNEL(nn_ssmall_avx512, NN_AVX512, float, 16, 16, __m512, _mm512_setzero_ps,
                _mm512_loadu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_storeu_ps,
                NN_SMALL_OUT_FMAF, 8)
NN_SMALL_KERNEL(nn_dsmall_avx512, NN_AVX512, double, 16, 8, __m512d, _mm512_setzero_pd,
                _mm512_loadu_pd, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_storeu_pd,
                NN_SMALL_OUT_FMA, 8)

/* ------------------------------------------ activations, losses, dropout */

/* AVX-512F/VL + FMA, without -ftrapping-math (elementwise_build.h) */
#define NN_EW_TARGET "avx512f,avx512vl,avx2,fma"
#include "../elementwise_build.h"

/* ------------------------------------------------------------- optimizer */

/* AVX-512F, deliberately no FMA: the same bits as the ref build. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f")
#endif
#define NN_TMPL "optim_sumsq_tmpl.h"
#include "../instantiate.h"
#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

/* ------------------------------------------------------------ the table */

const nn_sgemm_kernel nn_sgemm_avx512 = {nn_sgemm_ukr_avx512_16x16, {16, 16, 384, 128, 512},
                                         spackt_avx512, nn_ssmall_avx512};
const nn_dgemm_kernel nn_dgemm_avx512 = {nn_dgemm_ukr_avx512_8x16, {8, 16, 384, 64, 384},
                                         dpackt_avx512, nn_dsmall_avx512};
const nn_ew_kernels nn_ew_avx512 = NN_EW_KERNELS(_avx512);
const nn_optim_kernels nn_optim_avx512 = {nn_soptim_update_avx2, nn_doptim_update_avx2,
                                          nn_soptim_sumsq_avx512, nn_doptim_sumsq_avx512};

const nn_kernels nn_kernels_avx512 = {
    .sgemm = &nn_sgemm_avx512,
    .dgemm = &nn_dgemm_avx512,
    .ew = &nn_ew_avx512,
    .optim = &nn_optim_avx512,
};

#endif /* x86-64 */
