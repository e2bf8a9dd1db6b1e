/* ukr_avx512_12x32.c — the "avx512_skx" kernel family: AVX-512 micro-kernels
 * shaped for cores with two 512-bit FMA ports (Intel Skylake-X .. Granite
 * Rapids): sgemm 12x32 and dgemm 12x16, i.e. 12 rows of C by two zmm of B.
 *
 * Why this shape: per k step it loads two zmm of B and broadcasts 12 A values
 * into registers (vbroadcastss/sd, a pure load), then issues 24 independent
 * FMAs: 14 loads per 24 FMAs, against 17 per 16 for the one-vector 16x16 tile
 * of ukr_avx512.c, whose embedded broadcasts cost a load per FMA. With two
 * FMA ports the 16x16 tile is bound by the load ports (measured in L1 with
 * nncore._core._ukr_probe on a Sapphire Rapids class Xeon: ~92% of the FMA
 * peak vs ~98% for this one); with AMD Zen 4's single 512-bit FMA pipe it is
 * not, and that family stays as it is. 24 accumulators + 2 B + broadcasts
 * fit the 32 zmm registers.
 * Blocking comes from the cache sizes cpuid reports (cpu_cache.c), not constants.
 * Only these functions carry target("avx512f,avx512vl,fma"); cpu.c calls them
 * only after checking the CPU and the OS (ZMM state).
 * Not for: blocking/packing loops (gemm.c) or dispatch (cpu.c).
 * Contract: csrc/gemm_internal.h. */
#include "../gemm_internal.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include <stdatomic.h>

#include "transpose_avx512.h"

#define NN_AVX512 __attribute__((target("avx512f,avx512vl,fma")))

/* software prefetch distance for packed A (streamed from L2), in k steps */
#ifndef NN_SKX_PF_A
#define NN_SKX_PF_A 8
#endif

/* NAME: C (MR, 2 vectors of NV lanes) tile; ap: k x MR, bp: k x 2NV (64-byte
 * aligned). acc0/acc1[i] hold row i's two vectors; one chain per element. */
#define NN_UKR_SKX(NAME, real, MR, NV, V, LOAD, SET1, FMA, MUL, ZERO, LOADU_M, STOREU_M,      \
                   MASKT, LOADU, STOREU)                                                      \
    NN_AVX512 void NAME(real *c, int64_t rsc, const real *ap, const real *bp, int64_t k,       \
                        int64_t mr, int64_t nr, real alpha, real beta) {                      \
        V acc0[MR], acc1[MR];                                                                 \
        _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) {                               \
            acc0[i] = ZERO();                                                                 \
            acc1[i] = ZERO();                                                                 \
        }                                                                                     \
        int64_t p = 0;                                                                        \
        for (; p + 4 <= k; p += 4) {                                                          \
            if (p < 4 * mr) { /* C row p/4: spread over the loop, not a burst at the start */ \
                const char *r = (const char *)(c + (p >> 2) * rsc);                           \
                _mm_prefetch(r, _MM_HINT_T0);                                                 \
                _mm_prefetch(r + sizeof(real) * (2 * NV - 1), _MM_HINT_T0);                   \
            }                                                                                 \
            _Pragma("GCC unroll 4") for (int u = 0; u < 4; u++) {                             \
                _mm_prefetch((const char *)(ap + NN_SKX_PF_A * MR), _MM_HINT_T0);             \
                const V b0 = LOAD(bp), b1 = LOAD(bp + NV);                                    \
                _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) {                       \
                    const V a = SET1(ap[i]);                                                  \
                    acc0[i] = FMA(a, b0, acc0[i]);                                            \
                    acc1[i] = FMA(a, b1, acc1[i]);                                            \
                }                                                                             \
                ap += MR;                                                                     \
                bp += 2 * NV;                                                                 \
            }                                                                                 \
        }                                                                                     \
        for (; p < k; p++) {                                                                  \
            const V b0 = LOAD(bp), b1 = LOAD(bp + NV);                                        \
            _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) {                           \
                const V a = SET1(ap[i]);                                                      \
                acc0[i] = FMA(a, b0, acc0[i]);                                                \
                acc1[i] = FMA(a, b1, acc1[i]);                                                \
            }                                                                                 \
            ap += MR;                                                                         \
            bp += 2 * NV;                                                                     \
        }                                                                                     \
        const V va = SET1(alpha), vb = SET1(beta);                                            \
        if (mr == MR && nr == 2 * NV) { /* full tile: plain unaligned moves */                \
            _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) {                           \
                real *r = c + i * rsc;                                                        \
                V t0 = MUL(va, acc0[i]), t1 = MUL(va, acc1[i]);                               \
                if (beta != 0) {                                                              \
                    t0 = FMA(vb, LOADU(r), t0);                                               \
                    t1 = FMA(vb, LOADU(r + NV), t1);                                          \
                }                                                                             \
                STOREU(r, t0);                                                                \
                STOREU(r + NV, t1);                                                           \
            }                                                                                 \
            return;                                                                           \
        }                                                                                     \
        /* edge tile: rows past mr untouched, columns past nr masked off */                   \
        const int64_t n1 = nr > NV ? nr - NV : 0;                                             \
        const MASKT m0 = (MASKT)(nr >= NV ? ~0u : (1u << nr) - 1u);                           \
        const MASKT m1 = (MASKT)(n1 >= NV ? ~0u : (1u << n1) - 1u);                           \
        _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) {                               \
            if (i < mr) {                                                                     \
                real *r = c + i * rsc;                                                        \
                V t0 = MUL(va, acc0[i]), t1 = MUL(va, acc1[i]);                               \
                if (beta != 0) {                                                              \
                    t0 = FMA(vb, LOADU_M(ZERO(), m0, r), t0);                                 \
                    t1 = FMA(vb, LOADU_M(ZERO(), m1, r + NV), t1);                            \
                }                                                                             \
                STOREU_M(r, m0, t0);                                                          \
                STOREU_M(r + NV, m1, t1);                                                     \
            }                                                                                 \
        }                                                                                     \
    }

NN_UKR_SKX(nn_sgemm_ukr_avx512_12x32, float, 12, 16, __m512, _mm512_load_ps, _mm512_set1_ps,
           _mm512_fmadd_ps, _mm512_mul_ps, _mm512_setzero_ps, _mm512_mask_loadu_ps,
           _mm512_mask_storeu_ps, __mmask16, _mm512_loadu_ps, _mm512_storeu_ps)

NN_UKR_SKX(nn_dgemm_ukr_avx512_12x16, double, 12, 8, __m512d, _mm512_load_pd, _mm512_set1_pd,
           _mm512_fmadd_pd, _mm512_mul_pd, _mm512_setzero_pd, _mm512_mask_loadu_pd,
           _mm512_mask_storeu_pd, __mmask8, _mm512_loadu_pd, _mm512_storeu_pd)

/* Packs w rows (row r at src + r*ld, contiguous along k) into d[p*w + r], for
 * w = 12 (A slivers of row-major A) or 32 (B slivers of a transposed B such as
 * W.T): 16x16 blocks transposed in registers; a block of fewer than 16 rows
 * loads zeros for the missing ones and stores only w lanes per column. */
NN_AVX512 static int spackt_skx(float *d, const float *src, int64_t ld, int64_t kc, int64_t w) {
    if (w != 12 && w != 32) return 0;
    int64_t p = 0;
    for (; p + 16 <= kc; p += 16) {
        for (int64_t h = 0; h < w; h += 16) {
            const int rows = w - h < 16 ? (int)(w - h) : 16;
            const __mmask16 keep = (__mmask16)((1u << rows) - 1u);
            __m512 r[16];
            for (int i = 0; i < rows; i++) /* rows of A come from L3 or memory */
                _mm_prefetch((const char *)(src + (h + i) * ld + p + 64), _MM_HINT_T0);
            for (int i = 0; i < 16; i++)
                r[i] = i < rows ? _mm512_loadu_ps(src + (h + i) * ld + p) : _mm512_setzero_ps();
            nn_transpose16_ps(r);
            for (int q = 0; q < 16; q++) _mm512_mask_storeu_ps(d + (p + q) * w + h, keep, r[q]);
        }
    }
    for (; p < kc; p++)
        for (int64_t i = 0; i < w; i++) d[p * w + i] = src[i * ld + p];
    return 1;
}

/* As spackt_skx for doubles, w = 12 (A slivers) or 16 (B slivers): 8x8 blocks. */
NN_AVX512 static int dpackt_skx(double *d, const double *src, int64_t ld, int64_t kc,
                                int64_t w) {
    if (w != 12 && w != 16) return 0;
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) {
        for (int64_t h = 0; h < w; h += 8) {
            const int rows = w - h < 8 ? (int)(w - h) : 8;
            const __mmask8 keep = (__mmask8)((1u << rows) - 1u);
            __m512d r[8];
            for (int i = 0; i < rows; i++)
                _mm_prefetch((const char *)(src + (h + i) * ld + p + 32), _MM_HINT_T0);
            for (int i = 0; i < 8; i++)
                r[i] = i < rows ? _mm512_loadu_pd(src + (h + i) * ld + p) : _mm512_setzero_pd();
            nn_transpose8_pd(r);
            for (int q = 0; q < 8; q++) _mm512_mask_storeu_pd(d + (p + q) * w + h, keep, r[q]);
        }
    }
    for (; p < kc; p++)
        for (int64_t i = 0; i < w; i++) d[p * w + i] = src[i * ld + p];
    return 1;
}

/* Blocks here are the fallback when cpuid gives no cache sizes (those of a
 * 48 KiB L1d / 2 MiB L2 core); nn_gemm_kernels_avx512_skx() derives them. */
static const nn_gemm_kernels skx_base = {
    "avx512_skx",
    nn_sgemm_ukr_avx512_12x32, {12, 32, 256, 252, 1024, 1},
    nn_dgemm_ukr_avx512_12x16, {12, 16, 128, 252, 1024, 1},
    spackt_skx, dpackt_skx,
};

static nn_gemm_kernels skx_sized;
static atomic_int skx_state; /* 0: not sized, 1: sizing, 2: ready */

const nn_gemm_kernels *nn_gemm_kernels_avx512_skx(void) {
    if (atomic_load_explicit(&skx_state, memory_order_acquire) == 2) return &skx_sized;
    int expected = 0;
    if (atomic_compare_exchange_strong(&skx_state, &expected, 1)) {
        int64_t l1d, l2;
        skx_sized = skx_base;
        if (nn_cpu_cache_sizes(&l1d, &l2)) {
            skx_sized.sblk = nn_gemm_blocking_from_caches(skx_base.sblk, sizeof(float), l1d, l2);
            skx_sized.dblk = nn_gemm_blocking_from_caches(skx_base.dblk, sizeof(double), l1d, l2);
        }
        atomic_store_explicit(&skx_state, 2, memory_order_release);
    } else {
        while (atomic_load_explicit(&skx_state, memory_order_acquire) != 2) {
        }
    }
    return &skx_sized;
}
#endif
