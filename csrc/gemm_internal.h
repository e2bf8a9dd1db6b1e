/* gemm_internal.h — GEMM entry points for other C files and the bindings:
 * the fused bias epilogue of the network engine, the benchmarks' tuning hooks
 * and FMA-peak probe. What it is not: public API (see nncore.h), nor the
 * micro-kernel contract and the per-family kernels (kernels.h).
 */
#ifndef NNCORE_GEMM_INTERNAL_H
#define NNCORE_GEMM_INTERNAL_H

#include "internal.h"

/* GEMM with a fused epilogue, for the network engine (net.c):
 *   C (m, n) = alpha * A (m, k) @ B (k, n) + beta * C + bias[None, :]
 * A, B, C and their strides as in nn_sgemm (nncore.h). bias (n) is added to
 * every row after the product, while the tile is still in cache; NULL means no
 * bias. Same determinism promise as nn_sgemm (identical bits at any thread
 * count). Returns NN_OK, NN_ERR_ARG or NN_ERR_NOMEM. */
int nn_sgemm_ex(int64_t m, int64_t n, int64_t k, float alpha,
                const float *a, int64_t rsa, int64_t csa,
                const float *b, int64_t rsb, int64_t csb,
                float beta, float *c, int64_t rsc, const float *bias);
int nn_dgemm_ex(int64_t m, int64_t n, int64_t k, double alpha,
                const double *a, int64_t rsa, int64_t csa,
                const double *b, int64_t rsb, int64_t csb,
                double beta, double *c, int64_t rsc, const double *bias);

/* Tuning hook (benchmarks only): override the cache blocks of the active
 * family for one dtype; 0 keeps that field's default. kc, mc, nc are rounded
 * to multiples of the register tile. Not thread-safe against running GEMMs. */
void nn_gemm_tune_blocking(nn_dtype dtype, int64_t kc, int64_t mc, int64_t nc);
/* Tuning hook (benchmarks only): m*n*k from which a GEMM may use threads (<= 0: default). */
void nn_gemm_tune_threshold(double min_par_mnk);

/* Benchmark probe: `iters` rounds of 12 independent fp32 FMA chains of
 * `width` lanes (8: AVX2+FMA ymm, 16: AVX-512 zmm) — 24 * width * iters flops
 * (fma_probe.c). Returns a value depending on the result so the work cannot
 * be optimized away; NaN if the CPU lacks that width. Time it from the caller
 * to get the machine's fp32 FMA peak per core. */
double nn_fma_peak_probe(int64_t iters, int width);

/* Benchmark probe (gemm_probe.c): the active family's micro-kernel alone on
 * packed, cache-resident panels; returns the flops done (time it from the
 * caller) or -1. */
double nn_gemm_ukr_probe(nn_dtype dtype, int64_t kc, int64_t slivers, int64_t iters);

#endif /* NNCORE_GEMM_INTERNAL_H */
