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

/* B (k, n) packed once in the active family's panel layout and used by many
 * products (the network's weights in inference): every KC block of k holds
 * ceil(n / nr) slivers of the micro-kernel. The layout belongs to one family
 * and blocking (kern, kc): nn_?gemm_packed_ex refuses it with NN_ERR_STATE
 * once another family is active, and the owner packs again. */
typedef struct {
    const void *kern;  /* the family's GEMM entry it was packed for */
    int64_t kc, nr;    /* its KC block for this k, and its tile width */
    int64_t n, k;
    int64_t elems;     /* size of the packed B in elements */
} nn_gemm_packed;

/* The layout of B (k, n) for the active family (fills lay; never fails). */
void nn_sgemm_packed_layout(int64_t n, int64_t k, nn_gemm_packed *lay);
void nn_dgemm_packed_layout(int64_t n, int64_t k, nn_gemm_packed *lay);
/* Packs B(p, j) = b[p*rsb + j*csb] into dst (lay->elems elements, 64-byte
 * aligned). NN_ERR_ARG if lay is not the active family's. */
int nn_sgemm_pack_full(float *dst, const nn_gemm_packed *lay, const float *b, int64_t rsb,
                       int64_t csb);
int nn_dgemm_pack_full(double *dst, const nn_gemm_packed *lay, const double *b, int64_t rsb,
                       int64_t csb);
/* C (m, n) = A (m, k; row-major, row stride rsa) @ B + bias[None, :] from the
 * packed B (C not read): bit for bit what nn_?gemm_ex gives, at any m and
 * thread count. NN_ERR_STATE if lay is not the active family's. */
int nn_sgemm_packed_ex(int64_t m, const nn_gemm_packed *lay, const float *bp, const float *a,
                       int64_t rsa, float *c, int64_t rsc, const float *bias);
int nn_dgemm_packed_ex(int64_t m, const nn_gemm_packed *lay, const double *bp, const double *a,
                       int64_t rsa, double *c, int64_t rsc, const double *bias);

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
