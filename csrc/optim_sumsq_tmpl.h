/* optim_sumsq_tmpl.h — the sum of squares of a gradient run, the kernel of the
 * global gradient norm (nn_grad_norm, clip_norm, model.last_grad_norm), written
 * once for `real` = float and double and compiled per CPU family (csrc/kernels/)
 * so it runs at the family's vector width: the norm is computed every step, and
 * at 2 lanes of double it was ~3% of an mnist step.
 * Not for: the cut into parts and threads (optim.c), the segments (optim_tmpl.h).
 *
 * Bits: x (n) is summed in double in NN_SUMSQ_LANES interleaved accumulators
 * (element i into lane i % NN_SUMSQ_LANES), the tail in one more, then the
 * lanes in a fixed pairwise tree: the order is the source's, whatever the vector
 * width. Contraction into FMA is switched off here (the avx512f target implies
 * FMA): the squares of doubles are rounded before the add (those of floats are
 * exact in double anyway), so every family gives the same bits.
 */

#ifndef NN_SUMSQ_LANES
#define NN_SUMSQ_LANES 32 /* 4 zmm / 8 ymm of doubles: enough adds in flight */
#endif

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
double NN_FN(optim_sumsq)(const real *NN_RESTRICT x, int64_t n) {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
    double a[NN_SUMSQ_LANES];
    for (int k = 0; k < NN_SUMSQ_LANES; k++) a[k] = 0.0;
    int64_t i = 0;
    for (; i + NN_SUMSQ_LANES <= n; i += NN_SUMSQ_LANES)
        for (int k = 0; k < NN_SUMSQ_LANES; k++) {
            const double v = (double)x[i + k];
            a[k] += v * v;
        }
    double t = 0.0;
    for (; i < n; i++) t += (double)x[i] * (double)x[i];
    for (int w = NN_SUMSQ_LANES / 2; w >= 1; w /= 2) /* lane k += lane k + w */
        for (int k = 0; k < w; k++) a[k] += a[k + w];
    return a[0] + t;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
