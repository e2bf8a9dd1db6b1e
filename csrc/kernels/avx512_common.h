/* avx512_common.h — what the AVX-512 kernel files (avx512.c, avx512_skx.c)
 * share: the write-out of a tile of MR rows by two
 * vectors, and the in-register transposes of their packers (16x16 fp32, 8x8
 * fp64). Include after <immintrin.h>. Not for: the k loops or packing loops
 * (each family keeps its own). */
#ifndef NNCORE_AVX512_COMMON_H
#define NNCORE_AVX512_COMMON_H

/* Tail of a micro-kernel whose row i is in (acc0[i], acc1[i]) (2 vectors of NV
 * lanes): C (mr, nr) = alpha * acc + beta * C, C read only when beta != 0;
 * full tiles with plain moves (then return), edge tiles with rows past mr
 * untouched and columns past nr masked off. Uses c, rsc, mr, nr, alpha, beta. */
#define NN_AVX512_STORE_2V(real, MR, NV, V, SET1, FMA, MUL, ZERO, LOADU_M, STOREU_M, MASKT, \
                           LOADU, STOREU)                                                      \
        const V va = SET1(alpha), vb = SET1(beta);                                             \
        if (mr == MR && nr == 2 * NV) { /* full tile: plain unaligned moves */                 \
            _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) {                            \
                real *r = c + i * rsc;                                                         \
                V t0 = MUL(va, acc0[i]), t1 = MUL(va, acc1[i]);                                \
                if (beta != 0) {                                                               \
                    t0 = FMA(vb, LOADU(r), t0);                                                \
                    t1 = FMA(vb, LOADU(r + NV), t1);                                           \
                }                                                                              \
                STOREU(r, t0);                                                                 \
                STOREU(r + NV, t1);                                                            \
            }                                                                                  \
            return;                                                                            \
        }                                                                                      \
        const int64_t n1 = nr > NV ? nr - NV : 0;                                              \
        const MASKT m0 = (MASKT)(nr >= NV ? ~0u : (1u << nr) - 1u);                            \
        const MASKT m1 = (MASKT)(n1 >= NV ? ~0u : (1u << n1) - 1u);                            \
        _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) {                                \
            if (i < mr) {                                                                      \
                real *r = c + i * rsc;                                                         \
                V t0 = MUL(va, acc0[i]), t1 = MUL(va, acc1[i]);                                \
                if (beta != 0) {                                                               \
                    t0 = FMA(vb, LOADU_M(ZERO(), m0, r), t0);                                  \
                    t1 = FMA(vb, LOADU_M(ZERO(), m1, r + NV), t1);                             \
                }                                                                              \
                STOREU_M(r, m0, t0);                                                           \
                STOREU_M(r + NV, m1, t1);                                                      \
            }                                                                                  \
        }

#define NN_TRANSPOSE_AVX512 static inline __attribute__((target("avx512f,avx512vl,fma")))

/* 16x16 fp32 transpose: r[i] holds row i (16 columns) -> o[q] holds column q. */
NN_TRANSPOSE_AVX512 void nn_transpose16_ps(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* u[4j + c], 128-bit lane l: column 4l + c of rows 4j..4j+3 */
    for (int j = 0; j < 4; j++) {
        u[4 * j + 0] = _mm512_shuffle_ps(t[4 * j + 0], t[4 * j + 2], 0x44);
        u[4 * j + 1] = _mm512_shuffle_ps(t[4 * j + 0], t[4 * j + 2], 0xEE);
        u[4 * j + 2] = _mm512_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0x44);
        u[4 * j + 3] = _mm512_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0xEE);
    }
    /* 4x4 transpose of 128-bit lanes for each c */
    for (int c = 0; c < 4; c++) {
        __m512 x0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44);
        __m512 x1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
        __m512 x2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
        __m512 x3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
        r[0 + c] = _mm512_shuffle_f32x4(x0, x2, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(x0, x2, 0xDD);
        r[8 + c] = _mm512_shuffle_f32x4(x1, x3, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(x1, x3, 0xDD);
    }
}

/* 8x8 fp64 transpose: r[i] holds row i (8 columns) -> r[q] holds column q. */
NN_TRANSPOSE_AVX512 void nn_transpose8_pd(__m512d r[8]) {
    __m512d t[8];
    /* t[2i + c], 128-bit lane l: column 2l + c of rows 2i, 2i+1 */
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
    }
    for (int c = 0; c < 2; c++) {
        __m512d x0 = _mm512_shuffle_f64x2(t[c], t[2 + c], 0x44);
        __m512d x1 = _mm512_shuffle_f64x2(t[c], t[2 + c], 0xEE);
        __m512d x2 = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0x44);
        __m512d x3 = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0xEE);
        r[0 + c] = _mm512_shuffle_f64x2(x0, x2, 0x88);
        r[2 + c] = _mm512_shuffle_f64x2(x0, x2, 0xDD);
        r[4 + c] = _mm512_shuffle_f64x2(x1, x3, 0x88);
        r[6 + c] = _mm512_shuffle_f64x2(x1, x3, 0xDD);
    }
}

#endif /* NNCORE_AVX512_COMMON_H */
