/* dropout.c — inverted dropout, float and double: kept elements are scaled by
 * 1 / (1 - p), dropped ones are 0; the mask (1 kept, 0 dropped) is returned for
 * backward. Masks come from Philox4x32-10 keyed by (seed) with counter
 * (i/4, step, layer, step >> 32) — see rng.c — so they are the same at any
 * thread count and reproducible from (seed, step, layer) alone. Threads (the
 * team of pool.c) take blocks of whole 4096-element chunks.
 * Forward: y may alias x. Backward: dx = mask ? dy / (1 - p) : 0 (a dropped
 * element passes nothing back, even a NaN); dx may alias dy.
 * The math lives once in dropout_tmpl.h. Each CPU family's file (csrc/kernels/) compiles the template for its
 * instruction set; the entry points here call the active family's build
 * (kernels.h).
 * Not here: inference mode (the caller skips dropout), the RNG itself (rng.c).
 */
#include "kernels.h"

int nn_sdropout_forward(float *y, uint8_t *mask, const float *x, int64_t n, float p,
                        uint64_t seed, uint64_t step, uint32_t layer) {
    return nn_active_kernels()->ew->sdropout_forward(y, mask, x, n, p, seed, step, layer);
}
int nn_ddropout_forward(double *y, uint8_t *mask, const double *x, int64_t n, double p,
                        uint64_t seed, uint64_t step, uint32_t layer) {
    return nn_active_kernels()->ew->ddropout_forward(y, mask, x, n, p, seed, step, layer);
}
int nn_sdropout_backward(float *dx, const float *dy, const uint8_t *mask, int64_t n, float p) {
    return nn_active_kernels()->ew->sdropout_backward(dx, dy, mask, n, p);
}
int nn_ddropout_backward(double *dx, const double *dy, const uint8_t *mask, int64_t n,
                         double p) {
    return nn_active_kernels()->ew->ddropout_backward(dx, dy, mask, n, p);
}
