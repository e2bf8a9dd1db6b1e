/* internal.h — what the C core's files share and C programs do not see.
 *
 * - One source for float and double, one template convention: a kernel is
 *   written once in a *_tmpl.h file with three names,
 *       real          float or double
 *       NN_FN(name)   everything the template defines or calls per precision:
 *                     nn_s<name> or nn_d<name>, followed by the build suffix
 *                     NN_SFX when one is defined (NN_FN(act_forward) is
 *                     nn_sact_forward_avx2 in kernels/avx2.c)
 *       NN_MATH(f)    the float or double version of math function f, by C's
 *                     naming rule (a trailing f for float): NN_MATH(sqrt) is
 *                     sqrtf or sqrt, NN_MATH(nn_vexp) is nn_vexpf or nn_vexp
 *                     (the vectorizable math of vmath.h)
 *   and compiled for both precisions by instantiate.h:
 *       #define NN_TMPL "activation_tmpl.h"
 *       #include "instantiate.h"
 *   Where a template must tell the precisions apart, sizeof(real) does.
 * - CPU-specific kernels: one table per CPU family, reached through
 *   nn_active_kernels() (kernels.h); cpu.c chooses it.
 * - Threading: every parallel loop of the core runs on the persistent team of
 *   pool.c (nn_pool_run), cut into blocks that depend only on the sizes; no
 *   file opens an OpenMP region (common.c only asks OpenMP for the default
 *   thread count).
 */
#ifndef NNCORE_INTERNAL_H
#define NNCORE_INTERNAL_H

#include "nncore.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__GNUC__) || defined(__clang__)
#define NN_INLINE static inline __attribute__((always_inline))
#define NN_RESTRICT __restrict__
#define NN_LIKELY(x) __builtin_expect(!!(x), 1)
#define NN_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define NN_INLINE static inline
#define NN_RESTRICT
#define NN_LIKELY(x) (x)
#define NN_UNLIKELY(x) (x)
#endif

/* NN_CAT3(a, b, c): the token abc, after expanding a, b and c (c may be empty). */
#define NN_CAT3_(a, b, c) a##b##c
#define NN_CAT3(a, b, c) NN_CAT3_(a, b, c)

/* Threads the user asked for (nn_set_num_threads); >= 1. */
int nn_threads(void);

/* Threads worth using for `work` elementary operations (flops or bytes
 * touched): 1 below a threshold, so tiny problems never pay for a dispatch.
 * (The network's epilogues use it; the elementwise kernels and the optimizer
 * decide by their block count, see nn_blocks below.) */
NN_INLINE int nn_threads_for(double work) {
    int t = nn_threads();
    if (work < 4.0e6) return 1;
    return t;
}

/* Runs fn(ctx, b) for b in [0, nblocks) on up to `nthreads` threads (pool.c):
 * the caller plus a persistent team; the caller never waits for a worker that
 * has not claimed a block (no barrier), so a descheduled thread costs nothing.
 * Blocks must be independent; which thread runs a block never changes its
 * bits, so a loop whose blocks depend only on the sizes gives the same result
 * at any thread count. nthreads <= 1, nblocks <= 1, another caller's job
 * running, or a build without threads: the blocks run in order on the caller. */
int nn_pool_run(void (*fn)(void *, int64_t), void *ctx, int64_t nblocks, int nthreads);

/* The calling thread's scratch buffer `slot` of at least `bytes` (thread_buffer.c):
 * 64-byte aligned, grow-only (its old contents are not kept when it grows), reused
 * by later calls on this thread, freed when the thread exits. NULL if out of memory. */
enum { NN_TB_SGEMM, NN_TB_DGEMM, NN_TB_BGEMM, NN_TB_SLOTS };
void *nn_thread_buffer(int slot, size_t bytes);

/* dst row i = src row idx[i] for i in [0, m), rows of row_bytes (gather.c), on
 * the team for batches of 64 KiB and more. The caller has checked every index
 * and that dst holds m rows; the rows must not overlap. */
void nn_gather_rows(void *dst, const void *src, size_t row_bytes, const int64_t *idx,
                    int64_t m);

/* Pool blocks for a loop over `units` work units (chunks, rows) of about
 * `unit_items` items (elements) each: runs of whole units, about even, of at
 * least `min_items` items (and one unit), so that a block's work outweighs
 * its dispatch (~1 us) and a small loop is a single block, which
 * nn_pool_run runs on the caller. Writes the units per block (the last
 * block may be shorter) and returns the block count (0 for no units).
 * Depends only on the sizes, never on the thread count.
 *   e.g. 33 chunks of 8192, min_items 32768: 7 blocks of 5 chunks (the last 3). */
NN_INLINE int64_t nn_blocks(int64_t units, int64_t unit_items, int64_t min_items,
                            int64_t *per) {
    if (units <= 0) {
        *per = 1;
        return 0;
    }
    if (unit_items < 1) unit_items = 1;
    int64_t p = (min_items + unit_items - 1) / unit_items; /* units per block, at least */
    if (p < 1) p = 1;
    int64_t nb = units / p; /* blocks of >= p units */
    if (nb < 1) nb = 1;
    p = (units + nb - 1) / nb; /* spread the remainder */
    *per = p;
    return (units + p - 1) / p;
}

/* Elements [*lo, *hi) of pool block `blk` of a loop over n elements cut into
 * chunks of `chunk`, `per` chunks to a block (see nn_blocks). */
NN_INLINE void nn_block_span(int64_t blk, int64_t per, int64_t chunk, int64_t n, int64_t *lo,
                             int64_t *hi) {
    *lo = blk * per * chunk;
    *hi = *lo + per * chunk < n ? *lo + per * chunk : n;
}

/* Checked size arithmetic: returns 0 and writes *out, or NN_ERR_OVERFLOW. */
NN_INLINE int nn_mul_size(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0) return NN_ERR_ARG;
    if (a != 0 && b > INT64_MAX / a) return NN_ERR_OVERFLOW;
    *out = a * b;
    return NN_OK;
}

/* 64-byte aligned allocation (AVX-512 friendly); NULL on failure. Free with nn_free. */
void *nn_alloc(size_t bytes);
void nn_free(void *p);

#endif /* NNCORE_INTERNAL_H */
