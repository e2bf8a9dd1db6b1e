/* dropout.c — inverted dropout, float and double: kept elements are scaled by
 * 1 / (1 - p), dropped ones are 0; the mask (1 kept, 0 dropped) is returned for
 * backward. Masks come from Philox4x32-10 keyed by (seed) with counter
 * (i/4, step, layer, step >> 32) — see rng.c — so they are the same at any
 * thread count and reproducible from (seed, step, layer) alone. Threads (the
 * team of pool.c) take blocks of whole 4096-element chunks.
 * Forward: y may alias x. Backward: dx = mask ? dy / (1 - p) : 0 (a dropped
 * element passes nothing back, even a NaN); dx may alias dy.
 * Built here portably (suffix _port); on x86-64 also for AVX2 / AVX-512 in
 * kernels/elementwise_x86.c, the public functions below picking the build at
 * run time (elementwise_internal.h).
 * Not here: inference mode (the caller skips dropout), the RNG itself (rng.c).
 */
/* Selects (kept ? x * scale : 0) vectorize only without -ftrapping-math; see
 * activation.c. Before every include so inline helpers share the options. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "elementwise_internal.h"
#include "rng_internal.h"
#include "vmath.h"

#define NN_SFX _port
#define NN_INST_DROPOUT
#include "elementwise_inst.h"

int nn_sdropout_forward(float *y, uint8_t *mask, const float *x, int64_t n, float p,
                        uint64_t seed, uint64_t step, uint32_t layer) {
    NN_EW_DISPATCH(nn_sdropout_forward, y, mask, x, n, p, seed, step, layer)
    return nn_sdropout_forward_port(y, mask, x, n, p, seed, step, layer);
}
int nn_ddropout_forward(double *y, uint8_t *mask, const double *x, int64_t n, double p,
                        uint64_t seed, uint64_t step, uint32_t layer) {
    NN_EW_DISPATCH(nn_ddropout_forward, y, mask, x, n, p, seed, step, layer)
    return nn_ddropout_forward_port(y, mask, x, n, p, seed, step, layer);
}
int nn_sdropout_backward(float *dx, const float *dy, const uint8_t *mask, int64_t n, float p) {
    NN_EW_DISPATCH(nn_sdropout_backward, dx, dy, mask, n, p)
    return nn_sdropout_backward_port(dx, dy, mask, n, p);
}
int nn_ddropout_backward(double *dx, const double *dy, const uint8_t *mask, int64_t n,
                         double p) {
    NN_EW_DISPATCH(nn_ddropout_backward, dx, dy, mask, n, p)
    return nn_ddropout_backward_port(dx, dy, mask, n, p);
}
