/* gemm_internal.h — what gemm.c, cpu.c and the micro-kernels share.
 *
 * What it is: the micro-kernel contract, the per-CPU kernel table (with its
 * block sizes), and internal GEMM entry points for other C files (the network
 * engine's fused bias epilogue). What it is not: public API (see nncore.h).
 *
 * Micro-kernel contract (BLIS style), for one MR x NR tile of C:
 *     C (mr, nr) = alpha * Ap @ Bp + beta * C        mr <= MR, nr <= NR
 *   ap: packed A sliver, k steps of MR values: ap[p*MR + i] = A(i, p)
 *   bp: packed B sliver, k steps of NR values: bp[p*NR + j] = B(p, j)
 *   c : element (i, j) at c[i*rsc + j]
 * Slivers are zero-padded to MR / NR, so a kernel always runs full-width
 * arithmetic; only the write-out is clipped to (mr, nr). When beta == 0 the
 * kernel never reads C (NaN/garbage in C must not leak). Each C element is a
 * single in-order chain over p (no split accumulators), so a tile's results
 * do not depend on where the tile sits or which thread computes it.
 */
#ifndef NNCORE_GEMM_INTERNAL_H
#define NNCORE_GEMM_INTERNAL_H

#include "internal.h"

typedef void (*nn_sgemm_ukr_fn)(float *c, int64_t rsc, const float *ap, const float *bp,
                                int64_t k, int64_t mr, int64_t nr, float alpha, float beta);
typedef void (*nn_dgemm_ukr_fn)(double *c, int64_t rsc, const double *ap, const double *bp,
                                int64_t k, int64_t mr, int64_t nr, double alpha, double beta);

/* Register tile and cache blocks of one micro-kernel.
 * Blocks are L2-centric: the B panel (kc x nc) and the A block (mc x kc) both
 * fit in a 1 MB L2 with room to spare, rather than parking B in the shared L3
 * as classic BLIS does — on a shared machine a neighbour's traffic evicts L3,
 * and measured side by side this choice held up far better under load
 * (benchmarks: nncore._core._gemm_tune_blocking). */
typedef struct {
    int64_t mr, nr; /* register tile */
    int64_t kc;     /* depth of one packed panel (B sliver kc x nr stays in L1) */
    int64_t mc;     /* rows of packed A per block (mc x kc stays in L2), multiple of mr */
    int64_t nc;     /* columns of packed B per block (kc x nc in L3), multiple of nr */
    int64_t row_walk; /* 1: walk C and row-major B along rows (gemm_tmpl.h); 0: as tuned on Zen 4 */
    int64_t kc_even;  /* 1: cut k into equal blocks of at most kc; 0: blocks of kc, then the rest */
} nn_gemm_blocking;

/* Optional fast packing of a full sliver from a source contiguous along k
 * (row-major A, or transposed B such as W.T): w "rows" of kc elements, row r
 * at src + r*ld, into d[p*w + r] (a transpose). Returns 1 if it handled this
 * width, 0 to let the portable packer do it. NULL: always portable. */
typedef int (*nn_spackt_fn)(float *d, const float *src, int64_t ld, int64_t kc, int64_t w);
typedef int (*nn_dpackt_fn)(double *d, const double *src, int64_t ld, int64_t kc, int64_t w);

/* One kernel family: a name, the float and double kernels and their packers. */
typedef struct {
    const char *name;
    nn_sgemm_ukr_fn sukr;
    nn_gemm_blocking sblk;
    nn_dgemm_ukr_fn dukr;
    nn_gemm_blocking dblk;
    nn_spackt_fn spackt;
    nn_dpackt_fn dpackt;
} nn_gemm_kernels;

/* Per-core L1d and L2 sizes in bytes from cpuid (cpu_cache.c); 0 if unknown.
 * Returns 1 when both are known. */
int nn_cpu_cache_sizes(int64_t *l1d, int64_t *l2);
/* Cache blocks of a row_walk family from those sizes (the formula is in
 * cpu_cache.c); b's register tile is kept, b returned as is if the sizes are
 * unknown or implausible. */
nn_gemm_blocking nn_gemm_blocking_from_caches(nn_gemm_blocking b, size_t elem, int64_t l1d,
                                              int64_t l2);

/* The table selected by nn_select_arch (never NULL; starts as "ref"). */
const nn_gemm_kernels *nn_gemm_active(void);

/* Kernel families, defined in csrc/kernels/. */
extern const nn_gemm_kernels nn_gemm_kernels_ref;
#if defined(__x86_64__) || defined(_M_X64)
extern const nn_gemm_kernels nn_gemm_kernels_avx2;
extern const nn_gemm_kernels nn_gemm_kernels_avx512;
/* two 512-bit FMA ports; blocks sized from cpuid on first use */
const nn_gemm_kernels *nn_gemm_kernels_avx512_skx(void);
#endif

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
 * `width` lanes (8: AVX2+FMA ymm, 16: AVX-512 zmm) — 24 * width * iters flops. Returns a value depending on the result so
 * the work cannot be optimized away; NaN if the CPU lacks that width. Time it
 * from the caller to get the machine's fp32 FMA peak per core. */
double nn_fma_peak_probe(int64_t iters, int width);

/* Benchmark probe (gemm_probe.c): the active family's micro-kernel alone on
 * packed, cache-resident panels; returns the flops done (time it from the
 * caller) or -1. */
double nn_gemm_ukr_probe(nn_dtype dtype, int64_t kc, int64_t slivers, int64_t iters);

#endif /* NNCORE_GEMM_INTERNAL_H */
