/* gemm_split.h — how a GEMM driver hands C to the threads: whole column
 * blocks (or row blocks when C is tall and narrow), cut from the sizes, run on
 * the team of pool.c; and the operands every driver's context starts with.
 * Used by gemm_tmpl.h (fp32/fp64) and gemm_bf16.c. Never splits k, so no sum
 * is reordered.
 * Not for: the blocking inside one block (the drivers' loops).
 */
#ifndef NNCORE_GEMM_SPLIT_H
#define NNCORE_GEMM_SPLIT_H

#include "internal.h"

/* The operands of C (m, n) = alpha * A @ B + beta * C + bias, as the drivers'
 * contexts hold them (first fields). */
#define NN_GEMM_OPERANDS(real)                                                               \
    int64_t m, n, k;                                                                          \
    real alpha, beta;                                                                         \
    const real *a;                                                                            \
    int64_t rsa, csa;                                                                         \
    const real *b;                                                                            \
    int64_t rsb, csb;                                                                         \
    real *c;                                                                                  \
    int64_t rsc;                                                                              \
    const real *bias;

/* C[m0:m1, n0:n1] of the GEMM described by ctx, on the calling thread. */
typedef int (*nn_gemm_block_fn)(const void *ctx, int64_t m0, int64_t m1, int64_t n0,
                                int64_t n1);

typedef struct {
    nn_gemm_block_fn block;
    const void *ctx;
    int64_t m, n, unit, units, nblocks, len;
    int by_cols;
    int status; /* first error, if any (written only on failure) */
} nn_gemm_job;

/* Block b: units [b*units/nblocks, (b+1)*units/nblocks), units of `unit` rows or
 * columns (the last one clipped to len): sizes differ by at most one unit, so
 * equal threads finish together (blocks of ceil(units/nblocks) would leave the
 * last short: 49 tiles in 4 blocks as 13+13+13+10, 26 against 23 per thread). */
static void nn_gemm_job_run(void *p, int64_t blk) {
    nn_gemm_job *j = (nn_gemm_job *)p;
    const int64_t lo = blk * j->units / j->nblocks * j->unit;
    int64_t hi = (blk + 1) * j->units / j->nblocks * j->unit;
    if (hi > j->len) hi = j->len;
    int st = j->by_cols ? j->block(j->ctx, 0, j->m, lo, hi) : j->block(j->ctx, lo, hi, 0, j->n);
    if (st != NN_OK) __atomic_store_n(&j->status, st, __ATOMIC_RELAXED);
}

/* Runs C cut into `nblocks` (<= units) near-equal blocks of whole units of
 * `unit` columns (by_cols) or rows, on up to nt threads (nt <= nblocks). */
static int nn_gemm_run_blocks(nn_gemm_block_fn block, const void *ctx, int64_t m, int64_t n,
                              int64_t unit, int64_t nblocks, int by_cols, int nt) {
    const int64_t len = by_cols ? n : m;
    nn_gemm_job job = {block, ctx, m, n, unit, (len + unit - 1) / unit, nblocks, len, by_cols,
                       NN_OK};
    nn_pool_run(nn_gemm_job_run, &job, nblocks, nt);
    return job.status;
}

/* Runs C (m, n) of register tile (mr, nr) on up to nt threads: ~4 blocks per
 * thread for balance, >= 256 rows/cols each (re-packing the shared operand
 * stays a few percent), whole rounds; block edges are multiples of the tile,
 * so the bits do not depend on nt. shared_b: B is packed already and shared,
 * so rows are split (no A packed twice) unless there are too few row tiles. */
static int nn_gemm_run_split(nn_gemm_block_fn block, const void *ctx, int64_t m, int64_t n,
                             int64_t mr, int64_t nr, int nt, int shared_b) {
    if (nt > 1) {
        const int64_t mt = (m + mr - 1) / mr, ntl = (n + nr - 1) / nr;
        const int by_cols = shared_b ? mt < 2 * nt && ntl > mt : ntl >= mt || ntl >= 4 * nt;
        const int64_t unit = by_cols ? nr : mr, len = by_cols ? n : m;
        const int64_t units = (len + unit - 1) / unit;
        int64_t per = (units + 4 * nt - 1) / (4 * nt);
        const int64_t minper = (256 + unit - 1) / unit;
        if (per < minper) per = minper;
        int64_t nblocks = (units + per - 1) / per;
        if (nblocks < nt) nblocks = units < nt ? units : nt;
        else nblocks = (nblocks + nt - 1) / nt * nt; /* whole rounds: even shares */
        if (nblocks > units) nblocks = units;
        if (nblocks > 1)
            return nn_gemm_run_blocks(block, ctx, m, n, unit, nblocks, by_cols,
                                      nt > nblocks ? (int)nblocks : nt);
    }
    return block(ctx, 0, m, 0, n);
}

#endif /* NNCORE_GEMM_SPLIT_H */
