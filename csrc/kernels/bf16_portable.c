/* bf16_portable.c — the portable bf16 GEMM micro-kernel (nn_bgemm_portable),
 * the bf16 entry of every family that has no bf16 instructions (ref, avx2,
 * avx512, avx512_skx: their tables leave .bgemm NULL). Plain C for any CPU:
 * operands are already bf16 (rounded by gemm_bf16.c's packers), each product
 * of two bf16 values is exact in fp32, and every C element sums its k
 * products in fp32 in k order (one chain), so `compute_dtype="bfloat16"`
 * rounds exactly like the hardware families and differs from them only in
 * the order of the fp32 sums.
 * Not for: speed (kernels/avx512_bf16.c, kernels/amx.c); the loops and packers
 * (gemm_bf16.c).
 */
#include "../gemm_bf16.h"
#include "../kernels.h"

#define MR 4
#define NR 16

/* C (mr, nr) tile; ap: kp x (MR pairs), bp: kp x (NR pairs) (layout akb = 1, kernels.h). */
static void bgemm_ukr_portable_4x16(float *c, int64_t rsc, const uint16_t *ap,
                                    const uint16_t *bp, int64_t kp, int64_t mr, int64_t nr,
                                    float alpha, float beta) {
    float acc[MR][NR];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = 0.0f;
    for (int64_t q = 0; q < kp; q++) {
        const uint16_t *a = ap + q * 2 * MR, *b = bp + q * 2 * NR;
        for (int t = 0; t < 2; t++) { /* k = 2q, then 2q + 1 */
            float bw[NR];
            for (int j = 0; j < NR; j++) bw[j] = nn_bf16_widen(b[2 * j + t]);
            for (int i = 0; i < MR; i++) {
                const float av = nn_bf16_widen(a[2 * i + t]);
                for (int j = 0; j < NR; j++) {
                    /* the product is exact: a separate multiply and add (or a
                     * fused one) give the same bits */
                    const float prod = av * bw[j];
                    acc[i][j] = acc[i][j] + prod;
                }
            }
        }
    }
    for (int64_t i = 0; i < mr; i++)
        for (int64_t j = 0; j < nr; j++) {
            float *r = c + i * rsc + j;
            *r = beta == 0 ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *r;
        }
}

const nn_bgemm_kernel nn_bgemm_portable = {
    bgemm_ukr_portable_4x16, {MR, NR, 256, 64, 512, 1, 0}, 1, NULL, NULL, "portable 4x16"};
