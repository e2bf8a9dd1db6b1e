/* dropout.c — inverted dropout, float and double: kept elements are scaled by
 * 1 / (1 - p), dropped ones are 0; the mask (1 kept, 0 dropped) is returned for
 * backward. Masks come from Philox4x32-10 keyed by (seed) with counter
 * (i/4, step, layer, step >> 32) — see rng.c — so they are the same at any
 * thread count and reproducible from (seed, step, layer) alone.
 * Forward: y may alias x. Backward: dx = mask ? dy / (1 - p) : 0 (a dropped
 * element passes nothing back, even a NaN); dx may alias dy.
 * Not here: inference mode (the caller skips dropout), the RNG itself (rng.c).
 */
/* Selects (kept ? x * scale : 0) vectorize only without -ftrapping-math; see
 * activation.c. Before every include so inline helpers share the options. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "internal.h"
#include "rng_internal.h"

#define NN_DROPOUT_CHUNK 4096 /* elements per task; a multiple of 4 */

#define real float
#define NN_FN(name) nn_s##name
#define RM(fn) fn##f
#include "dropout_tmpl.h"
#undef real
#undef NN_FN
#undef RM

#define real double
#define NN_FN(name) nn_d##name
#define RM(fn) fn
#include "dropout_tmpl.h"
#undef real
#undef NN_FN
#undef RM
