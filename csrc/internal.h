/* internal.h — what the C core's files share and C programs do not see.
 *
 * - One source for float and double: a kernel is written once in a *_tmpl.h
 *   file using `real` and NN_FN(name), and included twice by its .c file:
 *
 *       #define real float
 *       #define NN_FN(name) nn_s##name
 *       #include "activation_tmpl.h"
 *       #undef real
 *       #undef NN_FN
 *       #define real double
 *       #define NN_FN(name) nn_d##name
 *       #include "activation_tmpl.h"
 *
 *   Inside a template, NN_REAL_IS_FLOAT tells which one is being compiled
 *   (for expf vs exp and the like use the NN_MATH(f) helpers below).
 * - Threading helpers: how many threads a problem of a given size deserves.
 */
#ifndef NNCORE_INTERNAL_H
#define NNCORE_INTERNAL_H

#include "nncore.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#ifdef NN_HAVE_OPENMP
#include <omp.h>
#endif

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

/* Threads the user asked for (nn_set_num_threads); >= 1. */
int nn_threads(void);

/* Threads worth using for `work` elementary operations (flops or bytes
 * touched): 1 below a threshold, so tiny problems never pay for fork/join. */
NN_INLINE int nn_threads_for(double work) {
    int t = nn_threads();
    if (work < 4.0e6) return 1;
    return t;
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
