/* avx512_skx.c — the "avx512_skx" kernel family: AVX-512 GEMM micro-kernels
 * shaped for cores with two 512-bit FMA ports (Intel Skylake-X .. Granite
 * Rapids): sgemm 12x32 and dgemm 12x16, i.e. 12 rows of C by two zmm of B.
 * Everything else (activations, losses, dropout, optimizer) is the avx512
 * family's: the table points at its entries.
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
 * Only these functions carry target("avx512f,avx512vl,fma"); cpu.c selects the
 * table only after checking the CPU and the OS (ZMM state).
 * Not for: blocking/packing loops (gemm.c) or dispatch (cpu.c).
 * Contract: csrc/kernels.h. */
#include "../kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include <stdatomic.h>

#include "avx512_common.h"
#include "small_kernel.h"

#define NN_AVX512 __attribute__((target("avx512f,avx512vl,fma")))

/* software prefetch distance for packed A (streamed from L2), in k steps */
#ifndef NN_SKX_PF_A
#define NN_SKX_PF_A 8
#endif

/* One k step: NVEC (1 or 2) vectors of B, each of the MR A values broadcast
 * once into a register and used by NVEC FMAs; A slivers hold AS rows, B
 * slivers two vectors (the second one unused by a one-vector kernel). */
#define NN_SKX_KSTEP(MR, AS, NV, NVEC, V, LOAD, SET1, FMA)                                    \
    {                                                                                         \
        const V b0 = LOAD(bp), b1 = NVEC > 1 ? LOAD(bp + NV) : b0;                            \
        _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) {                               \
            const V a = SET1(ap[i]);                                                          \
            acc0[i] = FMA(a, b0, acc0[i]);                                                    \
            if (NVEC > 1) acc1[i] = FMA(a, b1, acc1[i]);                                      \
        }                                                                                     \
        ap += AS;                                                                             \
        bp += 2 * NV;                                                                         \
    }

/* NAME: C (MR, NVEC vectors of NV lanes) tile from the first MR rows of A
 * slivers of AS rows; ap: k x AS, bp: k x 2NV (64-byte aligned). acc0/acc1[i]
 * hold row i's two vectors (acc1 stays 0 and is masked off when NVEC is 1:
 * then nr <= NV); one chain per element. */
#define NN_UKR_SKX(NAME, real, MR, AS, NVEC, NV, V, LOAD, SET1, FMA, MUL, ZERO, LOADU_M,      \
                   STOREU_M, MASKT, LOADU, STOREU)                                            \
    NN_AVX512 static void NAME(real *c, int64_t rsc, const real *ap, const real *bp, int64_t k,       \
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
                _mm_prefetch((const char *)(ap + NN_SKX_PF_A * AS), _MM_HINT_T0);             \
                NN_SKX_KSTEP(MR, AS, NV, NVEC, V, LOAD, SET1, FMA)                            \
            }                                                                                 \
        }                                                                                     \
        for (; p < k; p++) {                                                                  \
            NN_SKX_KSTEP(MR, AS, NV, NVEC, V, LOAD, SET1, FMA)                                \
        }                                                                                     \
        NN_AVX512_STORE_2V(real, MR, NV, V, SET1, FMA, MUL, ZERO, LOADU_M, STOREU_M, MASKT,      \
                           LOADU, STOREU)                                                     \
    }

/* The 12-row tile, and 8- and 4-row ones for the last rows of an M that is
 * not a multiple of 12 (32 = 12 + 12 + 8 rows, not 36), each with one vector
 * of B when nr <= NV (an output layer of 10): the same FMA chain per element,
 * so the bits do not depend on which one computed an element. */
#define NN_UKR_SKX_ALL(NAME, real, NV, ...)                                                   \
    NN_UKR_SKX(NAME##_r12, real, 12, 12, 2, NV, __VA_ARGS__)                                  \
    NN_UKR_SKX(NAME##_r8, real, 8, 12, 2, NV, __VA_ARGS__)                                    \
    NN_UKR_SKX(NAME##_r4, real, 4, 12, 2, NV, __VA_ARGS__)                                    \
    NN_UKR_SKX(NAME##_r12v1, real, 12, 12, 1, NV, __VA_ARGS__)                                \
    NN_UKR_SKX(NAME##_r8v1, real, 8, 12, 1, NV, __VA_ARGS__)                                  \
    NN_UKR_SKX(NAME##_r4v1, real, 4, 12, 1, NV, __VA_ARGS__)                                  \
    void NAME(real *c, int64_t rsc, const real *ap, const real *bp, int64_t k, int64_t mr,    \
              int64_t nr, real alpha, real beta) {                                            \
        if (nr > NV) {                                                                        \
            if (mr > 8) NAME##_r12(c, rsc, ap, bp, k, mr, nr, alpha, beta);                   \
            else if (mr > 4) NAME##_r8(c, rsc, ap, bp, k, mr, nr, alpha, beta);               \
            else NAME##_r4(c, rsc, ap, bp, k, mr, nr, alpha, beta);                           \
        } else {                                                                              \
            if (mr > 8) NAME##_r12v1(c, rsc, ap, bp, k, mr, nr, alpha, beta);                 \
            else if (mr > 4) NAME##_r8v1(c, rsc, ap, bp, k, mr, nr, alpha, beta);             \
            else NAME##_r4v1(c, rsc, ap, bp, k, mr, nr, alpha, beta);                         \
        }                                                                                     \
    }

NN_UKR_SKX_ALL(nn_sgemm_ukr_avx512_12x32, float, 16, __m512, _mm512_load_ps, _mm512_set1_ps,
               _mm512_fmadd_ps, _mm512_mul_ps, _mm512_setzero_ps, _mm512_mask_loadu_ps,
               _mm512_mask_storeu_ps, __mmask16, _mm512_loadu_ps, _mm512_storeu_ps)

NN_UKR_SKX_ALL(nn_dgemm_ukr_avx512_12x16, double, 8, __m512d, _mm512_load_pd, _mm512_set1_pd,
               _mm512_fmadd_pd, _mm512_mul_pd, _mm512_setzero_pd, _mm512_mask_loadu_pd,
               _mm512_mask_storeu_pd, __mmask8, _mm512_loadu_pd, _mm512_storeu_pd)

/* NAME packs w rows (row r at src + r*ld, contiguous along k) into d[p*w + r],
 * for w = W1 (A slivers of row-major A) or W2 (B slivers of a transposed B
 * such as W.T): L x L blocks transposed in registers; a block of fewer than L
 * rows loads zeros for the missing ones and stores only its rows' lanes. */
#define NN_PACKT_SKX(NAME, real, V, L, W1, W2, LOADU, ZERO, MASKT, STOREU_M, TRANSPOSE)       \
    NN_AVX512 static int NAME(real *d, const real *src, int64_t ld, int64_t kc, int64_t w) {  \
        if (w != W1 && w != W2) return 0;                                                     \
        int64_t p = 0;                                                                        \
        for (; p + L <= kc; p += L) {                                                         \
            for (int64_t h = 0; h < w; h += L) {                                              \
                const int rows = w - h < L ? (int)(w - h) : L;                                \
                const MASKT keep = (MASKT)((1u << rows) - 1u);                                \
                V r[L];                                                                       \
                for (int i = 0; i < rows; i++) /* rows come from L3 or memory */             \
                    _mm_prefetch((const char *)(src + (h + i) * ld + p + 4 * L), _MM_HINT_T0); \
                for (int i = 0; i < L; i++)                                                   \
                    r[i] = i < rows ? LOADU(src + (h + i) * ld + p) : ZERO();                 \
                TRANSPOSE(r);                                                                 \
                for (int q = 0; q < L; q++) STOREU_M(d + (p + q) * w + h, keep, r[q]);        \
            }                                                                                 \
        }                                                                                     \
        for (; p < kc; p++)                                                                   \
            for (int64_t i = 0; i < w; i++) d[p * w + i] = src[i * ld + p];                   \
        return 1;                                                                             \
    }

NN_PACKT_SKX(spackt_skx, float, __m512, 16, 12, 32, _mm512_loadu_ps, _mm512_setzero_ps,
             __mmask16, _mm512_mask_storeu_ps, nn_transpose16_ps)
NN_PACKT_SKX(dpackt_skx, double, __m512d, 8, 12, 16, _mm512_loadu_pd, _mm512_setzero_pd,
             __mmask8, _mm512_mask_storeu_pd, nn_transpose8_pd)

/* Small-m kernels (few rows, A in place): the ukrs' chains (small_kernel.h). */
NN_SMALL_KERNEL(nn_ssmall_skx, NN_AVX512, float, 32, 16, __m512, _mm512_setzero_ps,
                _mm512_loadu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_storeu_ps,
                NN_SMALL_OUT_FMAF, 8)
/* (fp64 B slivers are 16 wide like the avx512 family's: its small kernel serves) */

/* The blocks below are the fallback when cpuid gives no cache sizes (those of a
 * 48 KiB L1d / 2 MiB L2 core); nn_kernels_avx512_skx_init() derives them
 * (cpu.c runs it before the table is first used). */
static nn_sgemm_kernel skx_sgemm = {nn_sgemm_ukr_avx512_12x32, {12, 32, 256, 252, 1024, 1, 1},
                                    spackt_skx, nn_ssmall_skx};
static nn_dgemm_kernel skx_dgemm = {nn_dgemm_ukr_avx512_12x16, {12, 16, 128, 252, 1024, 1, 1},
                                    dpackt_skx, nn_dsmall_avx512};
static atomic_int skx_state; /* 0: not sized, 1: sizing, 2: ready */

void nn_kernels_avx512_skx_init(void) {
    if (atomic_load_explicit(&skx_state, memory_order_acquire) == 2) return;
    int expected = 0;
    if (atomic_compare_exchange_strong(&skx_state, &expected, 1)) {
        int64_t l1d, l2;
        if (nn_cpu_cache_sizes(&l1d, &l2)) {
            skx_sgemm.blk = nn_gemm_blocking_from_caches(skx_sgemm.blk, sizeof(float), l1d, l2);
            skx_dgemm.blk = nn_gemm_blocking_from_caches(skx_dgemm.blk, sizeof(double), l1d, l2);
        }
        atomic_store_explicit(&skx_state, 2, memory_order_release);
    } else {
        while (atomic_load_explicit(&skx_state, memory_order_acquire) != 2) {
        }
    }
}

const nn_kernels nn_kernels_avx512_skx = {
    .sgemm = &skx_sgemm,
    .dgemm = &skx_dgemm,
    .ew = &nn_ew_avx512,     /* kernels/avx512.c */
    .optim = &nn_optim_avx512, /* kernels/avx512.c */
};
#endif /* x86-64 */
