/* ref.c — the portable "ref" kernel family: every entry of the table in plain
 * C for any CPU, always built. cpu.c starts with this table, and
 * NNCORE_ARCH=ref selects it, so the tests check the portable path anywhere.
 *   sgemm, dgemm  micro-kernels 4x8 (float) and 4x4 (double): C the compiler
 *                 may vectorize for the baseline ISA, no intrinsics; the
 *                 portable packers of gemm_tmpl.h; small-m kernels for 1-4
 *                 rows with the same chains (small_kernel.h)
 *   ew            activations, losses, dropout (elementwise_tmpl.h), suffix _ref
 *   optim         the optimizer updates (optim_update_tmpl.h) and the gradient's
 *                 sum of squares (optim_sumsq_tmpl.h), suffix _ref
 * Not for: speed records (avx2.c, avx512.c); the GEMM loops (gemm.c);
 * choosing a family (cpu.c).
 */
#include "../kernels.h"
#include "../optim_internal.h"

#define NN_SFX _ref

#include "small_kernel.h"

/* ------------------------------------------------------------ GEMM */

/* NAME: C (mr, nr) tile of an MR x NR micro-kernel (contract: kernels.h). */
#define NN_UKR_REF(NAME, real, MR, NR)                                                       \
    void NAME(real *c, int64_t rsc, const real *ap, const real *bp, int64_t k, int64_t mr,   \
              int64_t nr, real alpha, real beta) {                                           \
        real acc[MR * NR];                                                                   \
        for (int i = 0; i < MR * NR; i++) acc[i] = 0;                                        \
        for (int64_t p = 0; p < k; p++) {                                                    \
            const real *a = ap + p * MR;                                                     \
            const real *b = bp + p * NR;                                                     \
            for (int i = 0; i < MR; i++)                                                     \
                for (int j = 0; j < NR; j++) acc[i * NR + j] += a[i] * b[j];                 \
        }                                                                                    \
        for (int64_t i = 0; i < mr; i++) {                                                   \
            real *r = c + i * rsc;                                                           \
            const real *s = acc + i * NR;                                                    \
            if (beta == 0)                                                                   \
                for (int64_t j = 0; j < nr; j++) r[j] = alpha * s[j];                        \
            else                                                                             \
                for (int64_t j = 0; j < nr; j++) r[j] = beta * r[j] + alpha * s[j];          \
        }                                                                                    \
    }

NN_UKR_REF(nn_sgemm_ukr_ref_4x8, float, 4, 8)
NN_UKR_REF(nn_dgemm_ukr_ref_4x4, double, 4, 4)

/* Small-m kernels: the scalar chains of the ukr above (small_kernel.h), the
 * same expressions acc + a * b and beta * r + alpha * s, so the same bits. */
#define NN_REF_ZERO() 0
#define NN_REF_LOAD(p) (*(p))
#define NN_REF_SET1(x) (x)
#define NN_REF_MAC(a, b, acc) ((acc) + (a) * (b))
#define NN_REF_STORE(p, v) (*(p) = (v))
#define NN_REF_OUT(alpha, beta, r, s) ((beta) == 0 ? (alpha) * (s) : (beta) * (r) + (alpha) * (s))
NN_SMALL_KERNEL(nn_ssmall_ref, , float, 8, 1, float, NN_REF_ZERO, NN_REF_LOAD, NN_REF_SET1,
                NN_REF_MAC, NN_REF_STORE, NN_REF_OUT, 4)
NN_SMALL_KERNEL(nn_dsmall_ref, , double, 4, 1, double, NN_REF_ZERO, NN_REF_LOAD, NN_REF_SET1,
                NN_REF_MAC, NN_REF_STORE, NN_REF_OUT, 4)

/* ------------------------------------------ activations, losses, dropout */

/* the baseline ISA, without -ftrapping-math (elementwise_build.h) */
#include "../elementwise_build.h"

/* ------------------------------------------------------------- optimizer */

#define NN_TMPL "optim_update_tmpl.h"
#include "../instantiate.h"
#define NN_TMPL "optim_sumsq_tmpl.h"
#include "../instantiate.h"

/* ------------------------------------------------------------ the table */

const nn_sgemm_kernel nn_sgemm_ref = {nn_sgemm_ukr_ref_4x8, {4, 8, 256, 128, 2048}, NULL,
                                     nn_ssmall_ref};
const nn_dgemm_kernel nn_dgemm_ref = {nn_dgemm_ukr_ref_4x4, {4, 4, 256, 64, 2048}, NULL,
                                     nn_dsmall_ref};
const nn_ew_kernels nn_ew_ref = NN_EW_KERNELS(_ref);
const nn_optim_kernels nn_optim_ref = {nn_soptim_update_ref, nn_doptim_update_ref,
                                       nn_soptim_sumsq_ref, nn_doptim_sumsq_ref};

const nn_kernels nn_kernels_ref = {
    .sgemm = &nn_sgemm_ref,
    .dgemm = &nn_dgemm_ref,
    .ew = &nn_ew_ref,
    .optim = &nn_optim_ref,
};
