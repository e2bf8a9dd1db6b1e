/* avx512_bf16.c — the "avx512_bf16" kernel family (AVX512-BF16, e.g. AMD
 * Zen 4, Intel Cooper Lake): the "avx512" family's tables plus
 *   bgemm   a 16x16 bf16 micro-kernel on vdpbf16ps (each instruction adds two
 *           bf16 products per fp32 lane: one k pair of 16 columns), A fed as
 *           a 32-bit broadcast of one row's k pair; and packers that round
 *           fp32 to bf16 with vcvtne2ps2bf16 (nearest even) while they
 *           interleave k pairs (VNNI layout, kernels.h).
 * Compiled for the baseline ISA; only these functions carry AVX512-BF16 (target
 * attributes), and cpu.c selects the table only where cpuid reports it.
 * Not for: the bf16 loops and portable packers (gemm_bf16.c); dispatch (cpu.c).
 */
#include "../kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "avx512_common.h"

#define NN_BF16 __attribute__((target("avx512f,avx512vl,avx512bw,avx512bf16,fma")))

#define MR 16
#define NR 16

/* C (mr, nr) tile; ap: kp x 16 pairs, bp: kp x 16 pairs (akb = 1). */
NN_BF16 static void bgemm_ukr_avx512_bf16_16x16(float *c, int64_t rsc, const uint16_t *ap,
                                                const uint16_t *bp, int64_t kp, int64_t mr,
                                                int64_t nr, float alpha, float beta) {
    __m512 acc[MR];
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {
        acc[i] = _mm512_setzero_ps();
        if (i < mr) _mm_prefetch((const char *)(c + i * rsc), _MM_HINT_T0);
    }
    const int32_t *a32 = (const int32_t *)ap; /* one k pair of one row = 32 bits */
    _Pragma("GCC unroll 4") for (int64_t q = 0; q < kp; q++) {
        _mm_prefetch((const char *)(a32 + 8 * MR), _MM_HINT_T0);
        const __m512bh b = (__m512bh)_mm512_load_si512((const void *)(bp + q * 2 * NR));
        /* A's pair as an embedded broadcast ({1to16}) operand: one instruction
         * per product pair, no separate vpbroadcastd (the intrinsic gives two) */
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)
            __asm__("vdpbf16ps %[m]%{1to16%}, %[b], %[acc]"
                    : [acc] "+v"(acc[i])
                    : [b] "v"(b), [m] "m"(a32[i]));
        a32 += MR;
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    const __mmask16 mask = (__mmask16)(nr >= NR ? 0xffffu : (1u << nr) - 1u);
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {
        if (i < mr) {
            float *r = c + i * rsc;
            __m512 t = _mm512_mul_ps(va, acc[i]);
            if (beta != 0) t = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask, r), t);
            _mm512_mask_storeu_ps(r, mask, t);
        }
    }
}

/* 32 k steps of 16 values (rows lo = k 2q, hi = 2q+1 ... as two fp32 vectors
 * of one k pair) -> 16 interleaved pairs: out[2j + t] = (t ? hi : lo)[j]. */
NN_BF16 static inline __m512i pair_interleave(__m512 lo, __m512 hi) {
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9,
                                         24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1,
                                         16, 0);
    return _mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

/* k steps p at src + p*ld, w = 16 * ns values contiguous -> ns 16-wide slivers
 * (A or B), sliver s at d + s*kc*16: each k pair of rows is read left to right once. */
NN_BF16 static int bpackn_avx512_bf16(uint16_t *d, const float *src, int64_t ld, int64_t kc,
                                      int64_t w, int a) {
    (void)a; /* akb = 1: A and B slivers share the layout */
    if (w % 16 || kc % 2) return 0;
    for (int64_t p = 0; p < kc; p += 2)
        for (int64_t s = 0; s < w / 16; s++)
            _mm512_store_si512((void *)(d + s * kc * 16 + p * 16),
                               pair_interleave(_mm512_loadu_ps(src + p * ld + 16 * s),
                                               _mm512_loadu_ps(src + (p + 1) * ld + 16 * s)));
    return 1;
}

/* 16 rows at src + r*ld, contiguous along k -> the 16-wide sliver: each row's
 * 32 k values become 16 pairs (32-bit words), then a 16x16 transpose of words. */
NN_BF16 static int bpackt_avx512_bf16(uint16_t *d, const float *src, int64_t ld, int64_t kc,
                                      int64_t w, int a) {
    (void)a;
    if (w != 16 || kc % 2) return 0;
    for (int64_t p = 0; p < kc; p += 32) {
        const int64_t left = kc - p < 32 ? kc - p : 32; /* even */
        const __mmask16 m0 = (__mmask16)(left >= 16 ? 0xffffu : (1u << left) - 1u);
        const int64_t hi = left - 16 > 0 ? left - 16 : 0;
        const __mmask16 m1 = (__mmask16)(left >= 32 ? 0xffffu : (1u << hi) - 1u);
        __m512 r[16];
        for (int i = 0; i < 16; i++) {
            const float *row = src + i * ld + p;
            r[i] = (__m512)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, row + 16),
                                               _mm512_maskz_loadu_ps(m0, row));
        }
        nn_transpose16_ps(r); /* r[q]: pair q of rows 0..15 */
        for (int64_t q = 0; q < left / 2; q++)
            _mm512_store_ps((float *)(d + (p / 2 + q) * 32), r[q]);
    }
    return 1;
}

/* A few rows on packed B slivers (contract: nn_bsmall_fn in kernels.h): per
 * sliver and row the ukr's chain (vdpbf16ps from zero, q in order), written
 * out as it writes its tile. */
NN_BF16 static void bsmall_avx512_bf16(float *c, int64_t rsc, const uint32_t *ap,
                                       const uint16_t *bp, int64_t kp, int64_t m, int64_t n,
                                       float alpha, float beta) {
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int64_t j0 = 0; j0 < n; j0 += NR) {
        const uint16_t *b = bp + j0 * kp * 2;
        __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                         _mm512_setzero_ps()};
        for (int64_t q = 0; q < kp; q++) {
            const __m512bh bv = (__m512bh)_mm512_load_si512((const void *)(b + q * 2 * NR));
            for (int64_t i = 0; i < m; i++)
                acc[i] = _mm512_dpbf16_ps(acc[i], (__m512bh)_mm512_set1_epi32((int)ap[i * kp + q]),
                                          bv);
        }
        const int64_t w = n - j0 < NR ? n - j0 : NR;
        const __mmask16 mask = (__mmask16)(w >= NR ? 0xffffu : (1u << w) - 1u);
        for (int64_t i = 0; i < m; i++) {
            float *r = c + i * rsc + j0;
            __m512 t = _mm512_mul_ps(va, acc[i]);
            if (beta != 0) t = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask, r), t);
            _mm512_mask_storeu_ps(r, mask, t);
        }
    }
}

const nn_bgemm_kernel nn_bgemm_avx512_bf16 = {bgemm_ukr_avx512_bf16_16x16,
                                              {MR, NR, 768, 96, 512, 1, 0},
                                              1,
                                              bpackt_avx512_bf16,
                                              bpackn_avx512_bf16,
                                              "avx512_bf16 16x16",
                                              bsmall_avx512_bf16};

const nn_kernels nn_kernels_avx512_bf16 = {
    .sgemm = &nn_sgemm_avx512, /* kernels/avx512.c */
    .dgemm = &nn_dgemm_avx512,
    .ew = &nn_ew_avx512,
    .optim = &nn_optim_avx512, /* kernels/avx512.c */
    .bgemm = &nn_bgemm_avx512_bf16,
};

#endif /* x86-64 */
