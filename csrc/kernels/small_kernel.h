/* small_kernel.h — the small-m GEMM kernel of a family (contract: kernels.h,
 * nn_sgemm_small_fn), written once as macros that each family file expands
 * under its own instruction set with its own multiply-add, so that every C
 * element is the same chain as in that family's micro-kernel: zero, then one
 * multiply-add per k step in order, then alpha * acc (+ beta * C) as the ukr
 * writes its tile. Batch-invariant inference rests on this (a row of C has the
 * same bits whether 1 or 1000 rows were multiplied).
 *
 * A is read in place (rows contiguous along k), B from the packed slivers of
 * the GEMM; G slivers are computed at once so that G * m independent chains
 * hide the FMA latency.
 * Not for: the tiled path (the micro-kernels) or the k / column loops around
 * this kernel (gemm_tmpl.h).
 */
#ifndef NNCORE_SMALL_KERNEL_H
#define NNCORE_SMALL_KERNEL_H

/* One group of GC slivers starting at sliver s, M rows, vectors V of L lanes
 * (NV = NR / L per sliver row). FMA(a, b, acc) is the ukr's multiply-add,
 * OUT(alpha, beta, r, s) its scalar write-out of one element. */
#define NN_SMALL_GROUP(real, NR, L, V, ZERO, LOADU, SET1, FMA, STOREU, OUT, M, GC)            \
    {                                                                                         \
        V acc[GC][M][NR / L];                                                                 \
        _Pragma("GCC unroll 64") for (int g = 0; g < GC; g++)                                \
            _Pragma("GCC unroll 64") for (int i = 0; i < M; i++)                             \
                _Pragma("GCC unroll 64") for (int v = 0; v < NR / L; v++)                    \
                    acc[g][i][v] = ZERO();                                                    \
        const real *b = bp + s * NR * k;                                                      \
        for (int64_t p = 0; p < k; p++) {                                                     \
            _Pragma("GCC unroll 64") for (int g = 0; g < GC; g++)                            \
                _Pragma("GCC unroll 64") for (int v = 0; v < NR / L; v++) {                  \
                    const V bv = LOADU(b + g * NR * k + p * NR + v * L);                      \
                    _Pragma("GCC unroll 64") for (int i = 0; i < M; i++)                     \
                        acc[g][i][v] = FMA(SET1(a[i * rsa + p]), bv, acc[g][i][v]);           \
                }                                                                             \
        }                                                                                     \
        _Pragma("GCC unroll 64") for (int g = 0; g < GC; g++) {                              \
            const int64_t j0 = (s + g) * NR;                                                  \
            const int64_t w = n - j0 < NR ? n - j0 : NR;                                      \
            _Pragma("GCC unroll 64") for (int i = 0; i < M; i++) {                           \
                real buf[NR];                                                                 \
                _Pragma("GCC unroll 64") for (int v = 0; v < NR / L; v++)                    \
                    STOREU(buf + v * L, acc[g][i][v]);                                        \
                real *r = c + i * rsc + j0;                                                   \
                for (int64_t j = 0; j < w; j++) r[j] = OUT(alpha, beta, r[j], buf[j]);        \
            }                                                                                 \
        }                                                                                     \
    }

/* NAME##_m<M>: M rows, groups of G slivers, then of 4 and 2, then single ones. */
#define NN_SMALL_ROWS_FN(NAME, ATTR, real, NR, L, V, ZERO, LOADU, SET1, FMA, STOREU, OUT, M, G) \
    ATTR static void NAME##_m##M(real *c, int64_t rsc, const real *a, int64_t rsa,            \
                                 const real *bp, int64_t k, int64_t n, real alpha,             \
                                 real beta) {                                                  \
        const int64_t ns = (n + NR - 1) / NR;                                                  \
        int64_t s = 0;                                                                         \
        for (; s + (G) <= ns; s += (G))                                                        \
            NN_SMALL_GROUP(real, NR, L, V, ZERO, LOADU, SET1, FMA, STOREU, OUT, M, G)          \
        if ((G) > 4 && s + 4 <= ns) {                                                          \
            NN_SMALL_GROUP(real, NR, L, V, ZERO, LOADU, SET1, FMA, STOREU, OUT, M, 4)          \
            s += 4;                                                                            \
        }                                                                                      \
        if ((G) > 2 && s + 2 <= ns) {                                                          \
            NN_SMALL_GROUP(real, NR, L, V, ZERO, LOADU, SET1, FMA, STOREU, OUT, M, 2)          \
            s += 2;                                                                            \
        }                                                                                      \
        for (; s < ns; s++)                                                                    \
            NN_SMALL_GROUP(real, NR, L, V, ZERO, LOADU, SET1, FMA, STOREU, OUT, M, 1)          \
    }

/* NAME: the nn_?gemm_small_fn of a family (an external symbol, so that a
 * family with the same tile width can reuse it); G1 slivers at once for one
 * row (fewer for more rows, to stay within the vector registers). */
#define NN_SMALL_KERNEL(NAME, ATTR, real, NR, L, V, ZERO, LOADU, SET1, FMA, STOREU, OUT, G1)   \
    NN_SMALL_ROWS_FN(NAME, ATTR, real, NR, L, V, ZERO, LOADU, SET1, FMA, STOREU, OUT, 1, G1)    \
    NN_SMALL_ROWS_FN(NAME, ATTR, real, NR, L, V, ZERO, LOADU, SET1, FMA, STOREU, OUT, 2,        \
                     ((G1) / 2 > 0 ? (G1) / 2 : 1))                                             \
    NN_SMALL_ROWS_FN(NAME, ATTR, real, NR, L, V, ZERO, LOADU, SET1, FMA, STOREU, OUT, 3,        \
                     ((G1) / 3 > 0 ? (G1) / 3 : 1))                                             \
    NN_SMALL_ROWS_FN(NAME, ATTR, real, NR, L, V, ZERO, LOADU, SET1, FMA, STOREU, OUT, 4,        \
                     ((G1) / 4 > 0 ? (G1) / 4 : 1))                                             \
    ATTR void NAME(real *c, int64_t rsc, const real *a, int64_t rsa, const real *bp,           \
                          int64_t k, int64_t m, int64_t n, real alpha, real beta) {            \
        switch (m) {                                                                           \
        case 1: NAME##_m1(c, rsc, a, rsa, bp, k, n, alpha, beta); break;                       \
        case 2: NAME##_m2(c, rsc, a, rsa, bp, k, n, alpha, beta); break;                       \
        case 3: NAME##_m3(c, rsc, a, rsa, bp, k, n, alpha, beta); break;                       \
        default: NAME##_m4(c, rsc, a, rsa, bp, k, n, alpha, beta); break;                      \
        }                                                                                      \
    }

/* The write-out of the FMA families' micro-kernels: alpha * acc, then
 * beta * C fused onto it when beta != 0 (C not read when beta == 0). */
#define NN_SMALL_OUT_FMAF(alpha, beta, r, s) ((beta) != 0 ? __builtin_fmaf((beta), (r), (alpha) * (s)) : (alpha) * (s))
#define NN_SMALL_OUT_FMA(alpha, beta, r, s) ((beta) != 0 ? __builtin_fma((beta), (r), (alpha) * (s)) : (alpha) * (s))

#endif /* NNCORE_SMALL_KERNEL_H */
