/* rng_internal.h — the Philox4x32-10 block function, inlined by rng.c (the
 * public nn_philox4x32) and dropout.c (mask generation). See rng.c for how
 * nncore maps (seed, step, layer, element) onto Philox keys and counters. */
#ifndef NNCORE_RNG_INTERNAL_H
#define NNCORE_RNG_INTERNAL_H

#include "internal.h"

#include <stdint.h>

#define NN_PHILOX_M0 0xD2511F53u
#define NN_PHILOX_M1 0xCD9E8D57u
#define NN_PHILOX_W0 0x9E3779B9u
#define NN_PHILOX_W1 0xBB67AE85u

/* out = Philox4x32 with 10 rounds of counter (c0..c3) under key (k0, k1). */
NN_INLINE void
nn_philox4x32_10(uint32_t out[4], uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                 uint32_t k0, uint32_t k1) {
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)NN_PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)NN_PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += NN_PHILOX_W0;
        k1 += NN_PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

#endif /* NNCORE_RNG_INTERNAL_H */
