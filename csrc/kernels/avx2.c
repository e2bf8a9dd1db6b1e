/* avx2.c — the "avx2" kernel family (AVX2 + FMA, x86-64):
 *   sgemm, dgemm  register-blocked micro-kernels 4x24 (float) and 4x12
 *                 (double), 12 ymm accumulators each, and SIMD transposing
 *                 packers (contract: kernels.h); small-m kernels for 1-4 rows
 *                 with the same chains (small_kernel.h)
 *   ew            activations, losses, dropout (elementwise_tmpl.h) compiled
 *                 for AVX2 + FMA, so their loops vectorize 8 floats wide
 *   optim         the optimizer updates (optim_update_tmpl.h) compiled for
 *                 AVX2 WITHOUT FMA: every element gets the same IEEE operations
 *                 as in the ref build, so updates are the same bits in every
 *                 family (the avx512 families reuse these updates); the
 *                 gradient's sum of squares (optim_sumsq_tmpl.h), same bits too
 * The file is compiled for the baseline ISA; only these kernels carry AVX2
 * (target attributes and pragmas, never -march), and cpu.c selects the table
 * only after checking the CPU and the OS. FMA contraction makes the ew results
 * differ from the ref build in the last bits; each build is deterministic and
 * identical at any thread count.
 * Not for: the GEMM loops and portable packers (gemm.c); dispatch (cpu.c).
 */
#include "../kernels.h"
#include "../optim_internal.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "small_kernel.h"

#define NN_SFX _avx2

/* ------------------------------------------------------------ GEMM */

#define NN_AVX2 __attribute__((target("avx2,fma")))

/* Why 4x24 and not the classic 6x16: measured side by side on Zen 4, the
 * AVX2 kernel is bound by loads (B vectors + A broadcasts), not by FMAs.
 * 6x16 issues 2 + 6 = 8 loads per 12 FMAs; 4x24 issues 3 + 4 = 7, and ran
 * 7-15% faster in the full GEMM (e.g. 101 vs 88 GFLOP/s at n = 1024). Both
 * use 12 accumulators + 3 B registers + 1 broadcast = all 16 ymm registers. */

/* One k step of the 4x24 fp32 tile: 3 loads of B, 4 broadcasts of A, 12 FMAs. */
#define S_STEP(p)                                                                            \
    do {                                                                                     \
        const __m256 b0 = _mm256_load_ps(bp + (p) * 24);                                     \
        const __m256 b1 = _mm256_load_ps(bp + (p) * 24 + 8);                                 \
        const __m256 b2 = _mm256_load_ps(bp + (p) * 24 + 16);                                \
        __m256 a;                                                                            \
        a = _mm256_broadcast_ss(ap + (p) * 4 + 0);                                           \
        c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01);                 \
        c02 = _mm256_fmadd_ps(a, b2, c02);                                                   \
        a = _mm256_broadcast_ss(ap + (p) * 4 + 1);                                           \
        c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11);                 \
        c12 = _mm256_fmadd_ps(a, b2, c12);                                                   \
        a = _mm256_broadcast_ss(ap + (p) * 4 + 2);                                           \
        c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21);                 \
        c22 = _mm256_fmadd_ps(a, b2, c22);                                                   \
        a = _mm256_broadcast_ss(ap + (p) * 4 + 3);                                           \
        c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31);                 \
        c32 = _mm256_fmadd_ps(a, b2, c32);                                                   \
    } while (0)

/* C (4, 24) tile; ap: k x 4, bp: k x 24 (32-byte aligned packed slivers). */
NN_AVX2 void nn_sgemm_ukr_avx2_4x24(float *c, int64_t rsc, const float *ap, const float *bp,
                                    int64_t k, int64_t mr, int64_t nr, float alpha,
                                    float beta) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c02 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps(), c12 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c22 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c32 = _mm256_setzero_ps();
    for (int64_t p = 0; p < k; p++) {
        S_STEP(0);
        ap += 4;
        bp += 24;
    }
    /* write-out through a small buffer for every tile: vector alpha/beta
     * registers alive around the loop made the compiler fold B loads into
     * the FMAs (10 loads per k step instead of 7) and cost ~8%. */
    float buf[96] __attribute__((aligned(32)));
    _mm256_store_ps(buf + 0, c00); _mm256_store_ps(buf + 8, c01); _mm256_store_ps(buf + 16, c02);
    _mm256_store_ps(buf + 24, c10); _mm256_store_ps(buf + 32, c11); _mm256_store_ps(buf + 40, c12);
    _mm256_store_ps(buf + 48, c20); _mm256_store_ps(buf + 56, c21); _mm256_store_ps(buf + 64, c22);
    _mm256_store_ps(buf + 72, c30); _mm256_store_ps(buf + 80, c31); _mm256_store_ps(buf + 88, c32);
    for (int64_t i = 0; i < mr; i++) {
        float *r = c + i * rsc;
        const float *s = buf + i * 24;
        if (beta != 0)
            for (int64_t j = 0; j < nr; j++) r[j] = __builtin_fmaf(beta, r[j], alpha * s[j]);
        else
            for (int64_t j = 0; j < nr; j++) r[j] = alpha * s[j];
    }
}

/* One k step of the 4x12 fp64 tile: 3 loads of B, 4 broadcasts of A, 12 FMAs. */
#define D_STEP(p)                                                                            \
    do {                                                                                     \
        const __m256d b0 = _mm256_load_pd(bp + (p) * 12);                                    \
        const __m256d b1 = _mm256_load_pd(bp + (p) * 12 + 4);                                \
        const __m256d b2 = _mm256_load_pd(bp + (p) * 12 + 8);                                \
        __m256d a;                                                                           \
        a = _mm256_broadcast_sd(ap + (p) * 4 + 0);                                           \
        c00 = _mm256_fmadd_pd(a, b0, c00); c01 = _mm256_fmadd_pd(a, b1, c01);                 \
        c02 = _mm256_fmadd_pd(a, b2, c02);                                                   \
        a = _mm256_broadcast_sd(ap + (p) * 4 + 1);                                           \
        c10 = _mm256_fmadd_pd(a, b0, c10); c11 = _mm256_fmadd_pd(a, b1, c11);                 \
        c12 = _mm256_fmadd_pd(a, b2, c12);                                                   \
        a = _mm256_broadcast_sd(ap + (p) * 4 + 2);                                           \
        c20 = _mm256_fmadd_pd(a, b0, c20); c21 = _mm256_fmadd_pd(a, b1, c21);                 \
        c22 = _mm256_fmadd_pd(a, b2, c22);                                                   \
        a = _mm256_broadcast_sd(ap + (p) * 4 + 3);                                           \
        c30 = _mm256_fmadd_pd(a, b0, c30); c31 = _mm256_fmadd_pd(a, b1, c31);                 \
        c32 = _mm256_fmadd_pd(a, b2, c32);                                                   \
    } while (0)

/* C (4, 12) tile; ap: k x 4, bp: k x 12. */
NN_AVX2 void nn_dgemm_ukr_avx2_4x12(double *c, int64_t rsc, const double *ap,
                                    const double *bp, int64_t k, int64_t mr, int64_t nr,
                                    double alpha, double beta) {
    __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd(), c02 = _mm256_setzero_pd();
    __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd(), c12 = _mm256_setzero_pd();
    __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd(), c22 = _mm256_setzero_pd();
    __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd(), c32 = _mm256_setzero_pd();
    for (int64_t p = 0; p < k; p++) {
        D_STEP(0);
        ap += 4;
        bp += 12;
    }
    double buf[48] __attribute__((aligned(32)));
    _mm256_store_pd(buf + 0, c00); _mm256_store_pd(buf + 4, c01); _mm256_store_pd(buf + 8, c02);
    _mm256_store_pd(buf + 12, c10); _mm256_store_pd(buf + 16, c11); _mm256_store_pd(buf + 20, c12);
    _mm256_store_pd(buf + 24, c20); _mm256_store_pd(buf + 28, c21); _mm256_store_pd(buf + 32, c22);
    _mm256_store_pd(buf + 36, c30); _mm256_store_pd(buf + 40, c31); _mm256_store_pd(buf + 44, c32);
    for (int64_t i = 0; i < mr; i++) {
        double *r = c + i * rsc;
        const double *s = buf + i * 12;
        if (beta != 0)
            for (int64_t j = 0; j < nr; j++) r[j] = __builtin_fma(beta, r[j], alpha * s[j]);
        else
            for (int64_t j = 0; j < nr; j++) r[j] = alpha * s[j];
    }
}

/* Small-m kernels (few rows, A in place): the ukrs' chains (small_kernel.h). */
NN_SMALL_KERNEL(nn_ssmall_avx2, NN_AVX2, float, 24, 8, __m256, _mm256_setzero_ps, _mm256_loadu_ps,
                _mm256_set1_ps, _mm256_fmadd_ps, _mm256_storeu_ps, NN_SMALL_OUT_FMAF, 4)
NN_SMALL_KERNEL(nn_dsmall_avx2, NN_AVX2, double, 12, 4, __m256d, _mm256_setzero_pd,
                _mm256_loadu_pd, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_storeu_pd,
                NN_SMALL_OUT_FMA, 4)

/* Transposing packers for full slivers from a source contiguous along k
 * (row-major A, transposed B such as W.T), in 8x8 fp32 / 4x4 fp64 blocks:
 * widths that are multiples of 8 floats / 4 doubles; others return 0 and
 * use the portable packer. */
/* 4 rows (the A sliver of the 4x24 kernel): 4x8 blocks -> 8 columns of 4. */
NN_AVX2 static void spackt4_avx2(float *d, const float *src, int64_t ld, int64_t kc) {
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) {
        __m256 r0 = _mm256_loadu_ps(src + p), r1 = _mm256_loadu_ps(src + ld + p);
        __m256 r2 = _mm256_loadu_ps(src + 2 * ld + p), r3 = _mm256_loadu_ps(src + 3 * ld + p);
        __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
        __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
        /* u_c, 128-bit lane l: column 4l + c (rows 0..3) */
        __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
        __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
        _mm256_storeu_ps(d + p * 4 + 0, _mm256_permute2f128_ps(u0, u1, 0x20));
        _mm256_storeu_ps(d + p * 4 + 8, _mm256_permute2f128_ps(u2, u3, 0x20));
        _mm256_storeu_ps(d + p * 4 + 16, _mm256_permute2f128_ps(u0, u1, 0x31));
        _mm256_storeu_ps(d + p * 4 + 24, _mm256_permute2f128_ps(u2, u3, 0x31));
    }
    for (; p < kc; p++)
        for (int i = 0; i < 4; i++) d[p * 4 + i] = src[i * ld + p];
}

NN_AVX2 static int spackt_avx2(float *d, const float *src, int64_t ld, int64_t kc, int64_t w) {
    if (w == 4) {
        spackt4_avx2(d, src, ld, kc);
        return 1;
    }
    if (w % 8 != 0) return 0;
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) {
        for (int64_t h = 0; h < w; h += 8) {
            __m256 r[8], t[8], u[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + (h + i) * ld + p);
            for (int i = 0; i < 4; i++) {
                t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
                t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
            }
            /* u[4j + c], 128-bit lane l: column 4l + c of rows 4j..4j+3 */
            for (int j = 0; j < 2; j++) {
                u[4 * j + 0] = _mm256_shuffle_ps(t[4 * j + 0], t[4 * j + 2], 0x44);
                u[4 * j + 1] = _mm256_shuffle_ps(t[4 * j + 0], t[4 * j + 2], 0xEE);
                u[4 * j + 2] = _mm256_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0x44);
                u[4 * j + 3] = _mm256_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0xEE);
            }
            for (int c = 0; c < 4; c++) {
                _mm256_storeu_ps(d + (p + c) * w + h, _mm256_permute2f128_ps(u[c], u[4 + c], 0x20));
                _mm256_storeu_ps(d + (p + 4 + c) * w + h,
                                 _mm256_permute2f128_ps(u[c], u[4 + c], 0x31));
            }
        }
    }
    for (; p < kc; p++)
        for (int64_t i = 0; i < w; i++) d[p * w + i] = src[i * ld + p];
    return 1;
}

NN_AVX2 static int dpackt_avx2(double *d, const double *src, int64_t ld, int64_t kc, int64_t w) {
    if (w % 4 != 0) return 0;
    int64_t p = 0;
    for (; p + 4 <= kc; p += 4) {
        for (int64_t h = 0; h < w; h += 4) {
            __m256d r0 = _mm256_loadu_pd(src + (h + 0) * ld + p);
            __m256d r1 = _mm256_loadu_pd(src + (h + 1) * ld + p);
            __m256d r2 = _mm256_loadu_pd(src + (h + 2) * ld + p);
            __m256d r3 = _mm256_loadu_pd(src + (h + 3) * ld + p);
            /* t0/t1, 128-bit lane l: column 2l / 2l+1 of rows 0,1; t2/t3 rows 2,3 */
            __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
            __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
            _mm256_storeu_pd(d + (p + 0) * w + h, _mm256_permute2f128_pd(t0, t2, 0x20));
            _mm256_storeu_pd(d + (p + 1) * w + h, _mm256_permute2f128_pd(t1, t3, 0x20));
            _mm256_storeu_pd(d + (p + 2) * w + h, _mm256_permute2f128_pd(t0, t2, 0x31));
            _mm256_storeu_pd(d + (p + 3) * w + h, _mm256_permute2f128_pd(t1, t3, 0x31));
        }
    }
    for (; p < kc; p++)
        for (int64_t i = 0; i < w; i++) d[p * w + i] = src[i * ld + p];
    return 1;
}

/* ------------------------------------------ activations, losses, dropout */

/* AVX2 + FMA, without -ftrapping-math (elementwise_build.h) */
#define NN_EW_TARGET "avx2,fma"
#include "../elementwise_build.h"

/* ------------------------------------------------------------- optimizer */

/* AVX2, deliberately no FMA: the same bits as the ref build (see the top). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2")
#endif
#define NN_TMPL "optim_update_tmpl.h"
#include "../instantiate.h"
#define NN_TMPL "optim_sumsq_tmpl.h"
#include "../instantiate.h"
#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

/* ------------------------------------------------------------ the table */

const nn_sgemm_kernel nn_sgemm_avx2 = {nn_sgemm_ukr_avx2_4x24, {4, 24, 256, 144, 504},
                                       spackt_avx2, nn_ssmall_avx2};
const nn_dgemm_kernel nn_dgemm_avx2 = {nn_dgemm_ukr_avx2_4x12, {4, 12, 256, 72, 384},
                                       dpackt_avx2, nn_dsmall_avx2};
const nn_ew_kernels nn_ew_avx2 = NN_EW_KERNELS(_avx2);
const nn_optim_kernels nn_optim_avx2 = {nn_soptim_update_avx2, nn_doptim_update_avx2,
                                        nn_soptim_sumsq_avx2, nn_doptim_sumsq_avx2};

const nn_kernels nn_kernels_avx2 = {
    .sgemm = &nn_sgemm_avx2,
    .dgemm = &nn_dgemm_avx2,
    .ew = &nn_ew_avx2,
    .optim = &nn_optim_avx2,
};

#endif /* x86-64 */
