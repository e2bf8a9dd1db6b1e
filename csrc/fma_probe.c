/* fma_probe.c — nn_fma_peak_probe, the benchmarks' measure of the fp32 FMA
 * peak of one core (gemm_internal.h): 12 independent FMA chains of 8 (AVX2
 * ymm) or 16 (AVX-512 zmm) lanes, timed by the caller.
 * Not a kernel: nothing of the library's own work runs here, and it asks the
 * CPU itself (no kernel family involved).
 */
#include "gemm_internal.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include <string.h>

#define NN_AVX2 __attribute__((target("avx2,fma")))

/* 12 independent chains hide the FMA latency (4 cycles x 2 pipes needs >= 8);
 * named variables so they stay in registers. */
#define NN_PROBE_BODY(T, FMA, SET1, ADD)                                                     \
    T x0 = SET1(0.f), x1 = SET1(1.f), x2 = SET1(2.f), x3 = SET1(3.f), x4 = SET1(4.f);          \
    T x5 = SET1(5.f), x6 = SET1(6.f), x7 = SET1(7.f), x8 = SET1(8.f), x9 = SET1(9.f);          \
    T x10 = SET1(10.f), x11 = SET1(11.f);                                                    \
    const T m = SET1(0.999999f), a = SET1(1e-7f);                                            \
    for (int64_t t = 0; t < iters; t++) {                                                    \
        x0 = FMA(x0, m, a); x1 = FMA(x1, m, a); x2 = FMA(x2, m, a); x3 = FMA(x3, m, a);       \
        x4 = FMA(x4, m, a); x5 = FMA(x5, m, a); x6 = FMA(x6, m, a); x7 = FMA(x7, m, a);       \
        x8 = FMA(x8, m, a); x9 = FMA(x9, m, a); x10 = FMA(x10, m, a); x11 = FMA(x11, m, a);   \
    }                                                                                        \
    T s = ADD(ADD(ADD(x0, x1), ADD(x2, x3)), ADD(ADD(x4, x5), ADD(x6, x7)));                 \
    s = ADD(s, ADD(ADD(x8, x9), ADD(x10, x11)));                                             \
    float out[16];                                                                           \
    memcpy(out, &s, sizeof(float) * 4);                                                      \
    return out[0];

NN_AVX2 static double fma_probe_avx2(int64_t iters) {
    NN_PROBE_BODY(__m256, _mm256_fmadd_ps, _mm256_set1_ps, _mm256_add_ps)
}

__attribute__((target("avx512f"))) static double fma_probe_avx512(int64_t iters) {
    NN_PROBE_BODY(__m512, _mm512_fmadd_ps, _mm512_set1_ps, _mm512_add_ps)
}

double nn_fma_peak_probe(int64_t iters, int width) {
    __builtin_cpu_init();
    if (width == 8 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return fma_probe_avx2(iters);
    if (width == 16 && __builtin_cpu_supports("avx512f")) return fma_probe_avx512(iters);
    return NAN;
}

#else /* not x86-64 */
double nn_fma_peak_probe(int64_t iters, int width) {
    (void)iters;
    (void)width;
    return NAN;
}
#endif
