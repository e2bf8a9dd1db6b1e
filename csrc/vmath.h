/* vmath.h — float32 exp and log1p written as straight-line code, so loops that
 * call them auto-vectorize at -O3 on any x86-64/ARM baseline (libm calls do
 * not). Used by activation.c, loss.c through the RV_EXP / RV_LOG1P macros,
 * which map to libm for double. Accuracy (checked in tests/test_activations.py
 * against float64): nn_vexpf <= 2 ulp on [-87, 88], exact 0 / inf / NaN at
 * -inf / +inf / NaN; nn_vlog1pf <= 2 ulp on [0, 1] (the only range we use).
 * Not a general libm: no errno, no other ranges for log1p.
 */
#ifndef NNCORE_VMATH_H
#define NNCORE_VMATH_H

#include <stdint.h>
#include <math.h>
#include <string.h>

static inline __attribute__((always_inline)) uint32_t nn_f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static inline __attribute__((always_inline)) float nn_u2f(uint32_t u) {
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
static inline __attribute__((always_inline)) float nn_vexpf(float x) {
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
static inline __attribute__((always_inline)) float nn_vexpm1f_small(float r) {
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
static inline __attribute__((always_inline)) float nn_vexpm1f(float x) {
    float small = nn_vexpm1f_small(x);
    float big = nn_vexpf(x) - 1.0f;
    return fabsf(x) <= 0.34657359f ? small : big;
}

/* tanh(x) = sign(x) (1 - e) / (1 + e), e = e^-2|x|; for |x| <= ln2/4 through
 * expm1 instead: t = -expm1(-2|x|) / (2 + expm1(-2|x|)). Exact +-1 at +-inf. */
static inline __attribute__((always_inline)) float nn_vtanhf(float x) {
    float a = fabsf(x);
    float em = nn_vexpm1f_small(-2.0f * a);
    float e = nn_vexpf(-2.0f * a);
    float small = -em / (2.0f + em);
    float big = (1.0f - e) / (1.0f + e);
    return copysignf(a <= 0.17328680f ? small : big, x);
}

/* log(1 + e) for e in [0, 1] (NaN passes through): u = 1 + e rounded, then
 * log(u) = k ln2 + 2 atanh((m - 1)/(m + 1)) with m = u / 2^k in [0.75, 1.5),
 * plus the rounding of u corrected to first order: (e - (u - 1)) / u. */
static inline __attribute__((always_inline)) float nn_vlog1pf(float e) {
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

#endif /* NNCORE_VMATH_H */
