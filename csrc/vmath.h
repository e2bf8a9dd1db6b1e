/* vmath.h — exp, expm1, log1p, tanh (float and double) and erfc (float) written
 * as straight-line code with selects, so loops calling them auto-vectorize at
 * -O3 on the baseline ISA (SSE2 / NEON); libm calls do not. The elementwise
 * templates reach them as NN_MATH(nn_vexp) and so on (internal.h); nn_verfc
 * (double) is libm's erfc. Their builds compile with no-trapping-math so GCC
 * may if-convert the selects.
 * Accuracy (tests/test_activations.py checks the float kernels in ulp against
 * float64): nn_vexpf <= 1 ulp, nn_vexpm1f <= 3.5 ulp, nn_vtanhf <= 2.5 ulp,
 * nn_vlog1pf <= 2.5 ulp on [0, 1] (the only range used), nn_verfcf <= 7 ulp,
 * double: nn_vexp <= 1 ulp, nn_vexpm1 <= 4 ulp, nn_vtanh <= 3 ulp, nn_vlog1p <= 2.5 ulp;
 * exact 0 / inf / NaN at -inf / +inf / NaN.
 * Not a general libm: no errno, no other ranges for log1p.
 */
#ifndef NNCORE_VMATH_H
#define NNCORE_VMATH_H

#include "internal.h"

#include <stdint.h>
#include <math.h>
#include <string.h>

NN_INLINE uint32_t nn_f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
NN_INLINE float nn_u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* e^x: x = n ln2 + r, |r| <= ln2/2 (Cody-Waite two-part ln2, exact n*ln2_hi),
 * e^r by a degree-7 polynomial (Cephes' expf coefficients), times 2^n built in
 * two halves so that n in [-159, 129] needs no branch. Out-of-range x is fixed
 * by two selects at the end (x > 89: inf, x < -110: 0; NaN passes through);
 * selects, not a clamp at the start, so the compiler cannot fold the clamped
 * constants into branches and the loop vectorizes. */
NN_INLINE float nn_vexpf(float x) {
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float t = x * 1.44269504088896341f + magic;
    uint32_t n = nn_f2u(t) - nn_f2u(magic); /* two's complement n, garbage if |x| huge */
    float nf = t - magic;
    float r = x - nf * 0.693359375f;
    r = r - nf * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    uint32_t n1 = (uint32_t)((int32_t)n >> 1), n2 = n - n1; /* 2^n1, 2^n2 normal */
    float s1 = nn_u2f((n1 + 127u) << 23);
    float s2 = nn_u2f((n2 + 127u) << 23);
    float y = p * s1 * s2;
    y = x > 89.0f ? (float)INFINITY : y;
    y = x < -110.0f ? 0.0f : y;
    return y;
}

/* e^r - 1 for |r| <= ln2/2 by the same polynomial, without the cancelling 1. */
NN_INLINE float nn_vexpm1f_small(float r) {
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    return p * (r * r) + r;
}

/* e^x - 1: the polynomial near 0, e^x - 1 elsewhere (|e^x - 1| >= 0.29 there,
 * so the subtraction loses at most a bit). */
NN_INLINE float nn_vexpm1f(float x) {
    float small = nn_vexpm1f_small(x);
    float big = nn_vexpf(x) - 1.0f;
    return fabsf(x) <= 0.34657359f ? small : big;
}

/* tanh(x) = sign(x) (1 - e) / (1 + e), e = e^-2|x|; for |x| <= ln2/4 through
 * expm1 instead: t = -expm1(-2|x|) / (2 + expm1(-2|x|)). Exact +-1 at +-inf. */
NN_INLINE float nn_vtanhf(float x) {
    float a = fabsf(x);
    float em = nn_vexpm1f_small(-2.0f * a);
    float e = nn_vexpf(-2.0f * a);
    float small = -em / (2.0f + em);
    float big = (1.0f - e) / (1.0f + e);
    return copysignf(a <= 0.17328680f ? small : big, x);
}

/* erfc(z) in float, <= 7 ulp where the result is a normal float (0 below).
 * |z| < 0.75: 1 - z P(z^2), P a degree-5 least-squares fit of erf(z)/z.
 * |z| >= 0.75: exp(-z^2) G(t), t = 1/(1 + z/2), G a degree-8 least-squares fit
 * of erfc(z) exp(z^2) on [0.75, 10.1] (both fitted for nncore; relative error
 * of the fits < 2e-8). z^2 is split as zh^2 + (z - zh)(z + zh), zh = z with
 * its low 12 mantissa bits cleared, so exp(-z^2) keeps its accuracy in the
 * tail. erfc(-z) = 2 - erfc(z). */
NN_INLINE float nn_verfcf(float z) {
    float a = fabsf(z);
    float w = a * a;
    float pa = -6.775750224e-04f;
    pa = pa * w + 5.118289370e-03f;
    pa = pa * w + -2.683675197e-02f;
    pa = pa * w + 1.128342555e-01f;
    pa = pa * w + -3.761262310e-01f;
    pa = pa * w + 1.128379166e+00f;
    float near = 1.0f - a * pa;
    float t = 1.0f / (1.0f + 0.5f * a);
    float g = 6.396273051e-02f;
    g = g * t + -1.313255020e-01f;
    g = g * t + -4.731724609e-02f;
    g = g * t + 1.593323390e-01f;
    g = g * t + 1.336962288e-01f;
    g = g * t + 2.597536487e-01f;
    g = g * t + 2.798497291e-01f;
    g = g * t + 2.823051847e-01f;
    g = g * t + -8.244300192e-06f;
    float ah = nn_u2f(nn_f2u(a) & 0xFFFFF000u);
    float far = nn_vexpf(-(ah * ah)) * nn_vexpf(-((a - ah) * (a + ah))) * g;
    float r = a < 0.75f ? near : far;
    r = a > 10.1f ? 0.0f : r;
    return z < 0 ? 2.0f - r : r;
}

/* log(1 + e) for e in [0, 1] (NaN passes through): u = 1 + e rounded, then
 * log(u) = k ln2 + 2 atanh((m - 1)/(m + 1)) with m = u / 2^k in [0.75, 1.5),
 * plus the rounding of u corrected to first order: (e - (u - 1)) / u. */
NN_INLINE float nn_vlog1pf(float e) {
    float u = 1.0f + e;
    float c = (e - (u - 1.0f)) / u;
    int big = u >= 1.5f;
    float m = big ? 0.5f * u : u;
    float k = big ? 0.693147180559945309f : 0.0f;
    float s = (m - 1.0f) / (m + 1.0f);
    float z = s * s;
    float q = 1.0f / 11.0f;
    q = q * z + 1.0f / 9.0f;
    q = q * z + 1.0f / 7.0f;
    q = q * z + 1.0f / 5.0f;
    q = q * z + 1.0f / 3.0f;
    return k + (2.0f * s + 2.0f * s * z * q) + c;
}

NN_INLINE uint64_t nn_d2u(double f) {
    uint64_t u;
    memcpy(&u, &f, 8);
    return u;
}
NN_INLINE double nn_u2d(uint64_t u) {
    double f;
    memcpy(&f, &u, 8);
    return f;
}

/* e^x in double, same scheme as nn_vexpf: x = n ln2 + r with fdlibm's two-part
 * ln2 (n*ln2_hi exact), e^r by its Taylor polynomial to degree 13 (remainder
 * < 5e-18 on |r| <= ln2/2), 2^n in two halves; x > 709.79: inf, x < -746: 0. */
NN_INLINE double nn_vexp(double x) {
    const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
    double t = x * 1.4426950408889634 + magic;
    uint64_t n = nn_d2u(t) - nn_d2u(magic);
    double nf = t - magic;
    double r = x - nf * 6.93147180369123816490e-01;
    r = r - nf * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0; /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * (r * r) + r + 1.0;
    uint64_t n1 = (uint64_t)((int64_t)n >> 1), n2 = n - n1;
    double s1 = nn_u2d((n1 + 1023u) << 52);
    double s2 = nn_u2d((n2 + 1023u) << 52);
    double y = p * s1 * s2;
    y = x > 709.79 ? (double)INFINITY : y;
    y = x < -746.0 ? 0.0 : y;
    return y;
}

/* e^r - 1 for |r| <= ln2/2 (the Taylor polynomial of nn_vexp without the 1). */
NN_INLINE double nn_vexpm1_small(double r) {
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    return p * (r * r) + r;
}

/* e^x - 1 in double: as nn_vexpm1f. */
NN_INLINE double nn_vexpm1(double x) {
    double small = nn_vexpm1_small(x);
    double big = nn_vexp(x) - 1.0;
    return fabs(x) <= 0.34657359027997264 ? small : big;
}

/* tanh in double: as nn_vtanhf. */
NN_INLINE double nn_vtanh(double x) {
    double a = fabs(x);
    double em = nn_vexpm1_small(-2.0 * a);
    double e = nn_vexp(-2.0 * a);
    double small = -em / (2.0 + em);
    double big = (1.0 - e) / (1.0 + e);
    return copysign(a <= 0.17328679513998632 ? small : big, x);
}

/* log(1 + e) for e in [0, 1] in double: as nn_vlog1pf, with the atanh series
 * to s^25 (|s| <= 0.2, so the first omitted term is < 1e-19 relative). */
NN_INLINE double nn_vlog1p(double e) {
    double u = 1.0 + e;
    double c = (e - (u - 1.0)) / u;
    int big = u >= 1.5;
    double m = big ? 0.5 * u : u;
    double k = big ? 0.69314718055994530942 : 0.0;
    double s = (m - 1.0) / (m + 1.0);
    double z = s * s;
    double q = 1.0 / 25.0;
    q = q * z + 1.0 / 23.0;
    q = q * z + 1.0 / 21.0;
    q = q * z + 1.0 / 19.0;
    q = q * z + 1.0 / 17.0;
    q = q * z + 1.0 / 15.0;
    q = q * z + 1.0 / 13.0;
    q = q * z + 1.0 / 11.0;
    q = q * z + 1.0 / 9.0;
    q = q * z + 1.0 / 7.0;
    q = q * z + 1.0 / 5.0;
    q = q * z + 1.0 / 3.0;
    return k + (2.0 * s + 2.0 * s * z * q) + c;
}

/* erfc for double is libm's (GELU only; not vectorized): the name lets the
 * templates write NN_MATH(nn_verfc) for both precisions. */
NN_INLINE double nn_verfc(double x) { return erfc(x); }

#endif /* NNCORE_VMATH_H */
