/* kernels/optim_avx2.c — the optimizer updates of csrc/optim_tmpl.h compiled for
 * AVX2 (8 floats / 4 doubles per instruction). Picked at run time by optim.c
 * when the selected kernel family is avx2 or avx512.
 * Not for: anything but the elementwise updates (max-norm, norms and clipping
 * stay in optim.c). FMA is deliberately NOT enabled: without contraction each
 * element gets the same IEEE operations as the portable build, so results are
 * the same bits whichever build runs, at any thread count.
 */
#include "../optim_internal.h"

#if NN_OPTIM_HAVE_AVX2

#include <math.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2")
#endif

#define NN_OPTIM_UPDATE_ONLY 1

#define real float
#define NN_FN(name) nn_s##name##_avx2
#define NN_MATH_SQRT sqrtf
#include "../optim_tmpl.h"
#undef real
#undef NN_FN
#undef NN_MATH_SQRT

#define real double
#define NN_FN(name) nn_d##name##_avx2
#define NN_MATH_SQRT sqrt
#include "../optim_tmpl.h"
#undef real
#undef NN_FN
#undef NN_MATH_SQRT

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif /* NN_OPTIM_HAVE_AVX2 */
