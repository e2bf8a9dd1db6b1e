/* gemm_probe.c — benchmark-only: runs the active family's GEMM micro-kernel
 * alone on packed panels that stay in cache, so its speed can be compared
 * with the FMA peak (nn_fma_peak_probe) without packing or memory traffic.
 * Not for: anything the library computes (results are thrown away).
 */
#include "gemm_internal.h"
#include "kernels.h"

#include <string.h>

/* One B sliver (kc x NR) and `slivers` A slivers (MR x kc each), all packed;
 * `iters` rounds of one kernel call per A sliver into a small C tile
 * (alpha 1, beta 0). Returns the flops done (2 * MR * NR * kc per call), or
 * -1 on bad arguments or no memory. Time it from the caller. */
double nn_gemm_ukr_probe(nn_dtype dtype, int64_t kc, int64_t slivers, int64_t iters) {
    if (kc < 1 || slivers < 1 || iters < 0 || (dtype != NN_F32 && dtype != NN_F64)) return -1;
    const nn_sgemm_kernel *sk = nn_sgemm_active();
    const nn_dgemm_kernel *dk = nn_dgemm_active();
    const nn_gemm_blocking blk = dtype == NN_F32 ? sk->blk : dk->blk;
    const size_t elem = dtype == NN_F32 ? sizeof(float) : sizeof(double);
    const int64_t na = slivers * blk.mr * kc, nb = kc * blk.nr, nc = blk.mr * blk.nr;
    unsigned char *buf = (unsigned char *)nn_alloc((size_t)(na + nb + nc + 16) * elem);
    if (!buf) return -1;
    unsigned char *a = buf, *b = buf + (size_t)na * elem;
    b = (unsigned char *)(((uintptr_t)b + 63) & ~(uintptr_t)63); /* kernels load B aligned */
    unsigned char *c = b + (size_t)nb * elem;
    for (int64_t i = 0; i < na + nb; i++) { /* small values: no overflow, no denormals */
        const double v = 0.25 + (double)(i % 7) / 16;
        if (dtype == NN_F32) ((float *)(i < na ? a : b))[i < na ? i : i - na] = (float)v;
        else ((double *)(i < na ? a : b))[i < na ? i : i - na] = v;
    }
    for (int64_t it = 0; it < iters; it++)
        for (int64_t s = 0; s < slivers; s++) {
            if (dtype == NN_F32)
                sk->ukr((float *)c, blk.nr, (const float *)a + s * blk.mr * kc,
                         (const float *)b, kc, blk.mr, blk.nr, 1.0f, 0.0f);
            else
                dk->ukr((double *)c, blk.nr, (const double *)a + s * blk.mr * kc,
                         (const double *)b, kc, blk.mr, blk.nr, 1.0, 0.0);
        }
    nn_free(buf);
    return 2.0 * (double)blk.mr * (double)blk.nr * (double)kc * (double)slivers * (double)iters;
}
