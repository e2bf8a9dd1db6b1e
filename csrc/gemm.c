/* gemm.c — placeholder: a correct, slow, strided triple loop so the rest of the
 * core can build and be tested. Replaced by the BLIS-style engine. */
#include "internal.h"

#define GEMM_NAIVE(NAME, real)                                                    \
    int NAME(int64_t m, int64_t n, int64_t k, real alpha, const real *a,          \
             int64_t rsa, int64_t csa, const real *b, int64_t rsb, int64_t csb,   \
             real beta, real *c, int64_t rsc) {                                   \
        if (m < 0 || n < 0 || k < 0) return NN_ERR_ARG;                           \
        for (int64_t i = 0; i < m; i++)                                           \
            for (int64_t j = 0; j < n; j++) {                                     \
                real s = 0;                                                       \
                for (int64_t p = 0; p < k; p++) s += a[i * rsa + p * csa] * b[p * rsb + j * csb]; \
                c[i * rsc + j] = beta == 0 ? alpha * s : alpha * s + beta * c[i * rsc + j]; \
            }                                                                     \
        return NN_OK;                                                             \
    }

GEMM_NAIVE(nn_sgemm, float)
GEMM_NAIVE(nn_dgemm, double)
