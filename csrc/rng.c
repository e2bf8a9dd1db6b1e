/* rng.c — nncore's counter-based random numbers: Philox4x32-10 (Salmon et al.,
 * "Parallel random numbers: as easy as 1, 2, 3", SC'11), checked against the
 * Random123 known-answer vectors in tests/test_dropout.py.
 *
 * How nncore uses it (dropout.c; nncore.reference mirrors this exactly):
 *   key     k0 = low 32 bits of seed,  k1 = high 32 bits of seed
 *   counter c0 = i / 4 (element i, so n <= 2^34 elements per call),
 *           c1 = low 32 bits of step,  c2 = layer,  c3 = high 32 bits of step
 *           (so the counter is (i/4, step, layer, 0) for any step < 2^32)
 *   element i takes word i % 4 of its block: u_i = (word >> 8) * 2^-24 in [0, 1).
 * A stream is a pure function of (seed, step, layer, i): any thread can make
 * any element, so masks are identical for every thread count and chunking.
 * Not here: the dropout kernels themselves (dropout.c).
 */
#include "internal.h"
#include "rng_internal.h"

void nn_philox4x32(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]) {
    if (out == NULL || ctr == NULL || key == NULL) return;
    nn_philox4x32_10(out, ctr[0], ctr[1], ctr[2], ctr[3], key[0], key[1]);
}
