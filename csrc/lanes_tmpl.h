/* lanes_tmpl.h — row reductions with 8 fixed lanes, written once for `real`
 * (included by activation_tmpl.h and loss_tmpl.h). Fixed lanes let GCC
 * vectorize them without -ffast-math, and the summation order depends only on
 * the row length: never on threads. Max ignores NaN (the NaN then poisons the
 * exp-sum, so the row still comes out NaN). */

NN_INLINE real NN_FN(_rowmax)(const real *x, int64_t n) {
    real m[8];
    for (int k = 0; k < 8; k++) m[k] = -INFINITY;
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) m[k] = x[j + k] > m[k] ? x[j + k] : m[k];
    real r = -INFINITY;
    for (int k = 0; k < 8; k++) r = m[k] > r ? m[k] : r;
    for (; j < n; j++) r = x[j] > r ? x[j] : r;
    return r;
}

NN_INLINE real NN_FN(_lanesum)(const real *v, int64_t n) {
    real a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) a[k] += v[j + k];
    real r = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    for (; j < n; j++) r += v[j];
    return r;
}

NN_INLINE real NN_FN(_lanedot)(const real *u, const real *v, int64_t n) {
    real a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) a[k] += u[j + k] * v[j + k];
    real r = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    for (; j < n; j++) r += u[j] * v[j];
    return r;
}

/* sum_j exp(x_j - m), in the lane order of _lanesum: exps go to a small buffer
 * in one vectorizable loop per 256 elements, then into the lanes (256 is a
 * multiple of 8, so the order is the same as one pass over the row). */
NN_INLINE real NN_FN(_lanesumexp)(const real *x, real m, int64_t n) {
    real buf[256];
    real a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j0 = 0, len = 0, j = 0;
    for (; j0 < n; j0 += 256) {
        len = n - j0 < 256 ? n - j0 : 256;
        for (j = 0; j < len; j++) buf[j] = NN_MATH(nn_vexp)(x[j0 + j] - m);
        for (j = 0; j + 8 <= len; j += 8)
            for (int k = 0; k < 8; k++) a[k] += buf[j + k];
    }
    real r = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    for (; j < len; j++) r += buf[j]; /* the tail of the last block, as in _lanesum */
    return r;
}
