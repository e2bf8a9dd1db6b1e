/* gemm_bf16.h — the bf16 GEMM of the bf16 compute mode of float32 networks
 * (gemm_bf16.c), for net.c and the bindings, and the software rounding every
 * portable path shares.
 * Not for: the micro-kernel contract (kernels.h) or the fp32/fp64 GEMM
 * (gemm_internal.h).
 */
#ifndef NNCORE_GEMM_BF16_H
#define NNCORE_GEMM_BF16_H

#include "gemm_internal.h"
#include "internal.h"

#include <string.h>

/* float -> bfloat16 (its high 16 bits), rounding to nearest even; NaN stays a
 * (quiet) NaN with its sign, +-inf stays inf, finite values past the largest
 * bf16 round to inf, subnormals are kept (no flush). */
NN_INLINE uint16_t nn_bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* bfloat16 -> float (exact). */
NN_INLINE float nn_bf16_widen(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* C (m, n) = alpha * bf16(A) (m, k) @ bf16(B) (k, n) + beta * C + bias[None, :]:
 * the operands rounded to bfloat16 (nearest even) while packing, the products
 * accumulated in fp32 by the active family's bf16 micro-kernel (kernels.h).
 * Strides, beta == 0 (C not read), k == 0 and bias (NULL: none) as in
 * nn_sgemm_ex (gemm_internal.h). Bit-identical at any thread count within a
 * family; families may differ in the order of the fp32 sums (and the hardware
 * ones flush subnormal operands to zero). Returns NN_OK, NN_ERR_ARG or NN_ERR_NOMEM. */
int nn_bgemm_ex(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t rsa,
                int64_t csa, const float *b, int64_t rsb, int64_t csb, float beta, float *c,
                int64_t rsc, const float *bias);

/* B (k, n) rounded to bf16 and packed once for the active bf16 kernels (the
 * network's W^T in bf16 inference): nn_gemm_packed as for fp32
 * (gemm_internal.h), kern the bf16 kernel entry (the fp32 one for the
 * portable families), elems in floats (a bf16 kernel's pairs take half). */
void nn_bgemm_packed_layout(int64_t n, int64_t k, nn_gemm_packed *lay);
/* Packs B(p, j) = b[p*rsb + j*csb] into dst (lay->elems floats, 64-byte
 * aligned). NN_ERR_ARG if lay is not the active kernels'. */
int nn_bgemm_pack_full(float *dst, const nn_gemm_packed *lay, const float *b, int64_t rsb,
                       int64_t csb);
/* C (m, n) = bf16(A) (m, k; rows contiguous along k, stride rsa) @ packed B +
 * bias[None, :] (C not read): bit for bit nn_bgemm_ex with alpha 1, beta 0 on
 * the unpacked B, at any m and thread count. NN_ERR_STATE if lay is not the
 * active kernels' (the owner packs again). */
int nn_bgemm_packed_ex(int64_t m, const nn_gemm_packed *lay, const float *bp, const float *a,
                       int64_t rsa, float *c, int64_t rsc, const float *bias);

/* Name of the active bf16 micro-kernel, e.g. "avx512_bf16 16x16" (show_config). */
const char *nn_bgemm_name(void);

#endif /* NNCORE_GEMM_BF16_H */
