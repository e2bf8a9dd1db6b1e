/* ukr_avx512.c — the "avx512" kernel family (AVX-512F/VL, x86-64): sgemm
 * 16x16 and dgemm 16x8 micro-kernels with one zmm of B per k step and each A
 * element fed straight from memory as an embedded broadcast ({1to16}) operand
 * of its FMA — no separate broadcast instructions, 1 vector load per 16 FMAs.
 * Only these functions carry target("avx512f,avx512vl,fma"); cpu.c calls them
 * only after checking the CPU and the OS (ZMM state).
 * Not for: blocking/packing (gemm.c) or dispatch (cpu.c).
 * Contract: csrc/gemm_internal.h. */
#include "../gemm_internal.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#define NN_AVX512 __attribute__((target("avx512f,avx512vl,fma")))

/* NAME: C (MR, NV lanes) tile; ap: k x MR, bp: k x NV (64-byte aligned). */
#define NN_UKR_AVX512(NAME, real, MR, NV, V, LOAD, SET1, FMA, MUL, ZERO, LOADU_M, STOREU_M,   \
                      MASKT)                                                                 \
    NN_AVX512 void NAME(real *c, int64_t rsc, const real *ap, const real *bp, int64_t k,      \
                        int64_t mr, int64_t nr, real alpha, real beta) {                     \
        V acc[MR];                                                                           \
        _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) acc[i] = ZERO();               \
        for (int64_t p = 0; p < k; p++) {                                                    \
            const V b = LOAD(bp);                                                            \
            _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) acc[i] =                   \
                FMA(SET1(ap[i]), b, acc[i]);                                                 \
            ap += MR;                                                                        \
            bp += NV;                                                                        \
        }                                                                                    \
        const V va = SET1(alpha), vb = SET1(beta);                                           \
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
              _mm512_mask_storeu_ps, __mmask16)
NN_UKR_AVX512(nn_dgemm_ukr_avx512_16x8, double, 16, 8, __m512d, _mm512_load_pd, _mm512_set1_pd,
              _mm512_fmadd_pd, _mm512_mul_pd, _mm512_setzero_pd, _mm512_mask_loadu_pd,
              _mm512_mask_storeu_pd, __mmask8)

const nn_gemm_kernels nn_gemm_kernels_avx512 = {
    "avx512",
    nn_sgemm_ukr_avx512_16x16, {16, 16, 256, 128, 4096},
    nn_dgemm_ukr_avx512_16x8, {16, 8, 256, 64, 4096},
};
#endif
