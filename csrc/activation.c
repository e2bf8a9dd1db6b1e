/* activation.c — activation kernels, forward and backward, float and double:
 * identity, ReLU, LeakyReLU, ELU, GELU (erf and tanh forms), SiLU, Softplus,
 * Sigmoid, Tanh (elementwise) and Softmax / LogSoftmax (row-wise).
 *
 * The math lives once in activation_tmpl.h. What backward reads:
 *   elementwise kinds read x only (y may be NULL; identity reads neither);
 *   softmax kinds read y only (x may be NULL).
 * Threads split chunks of 4096 elements (elementwise) or rows (softmax);
 * every output depends on one chunk/row only, so results are bit-identical
 * for any thread count.
 * Not here: the dense layer (net.c), losses (loss.c), dropout (dropout.c).
 */
/* Loops with selects (x > 0 ? a : b) only vectorize when GCC may evaluate both
 * sides, which -ftrapping-math (the default) forbids. nncore never reads FP
 * exception flags, so allow it here; results are unchanged (no reassociation).
 * Placed before every include so inline helpers get the same options. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "internal.h"
#include "vmath.h"

/* rough cost per element, in "simple flops", for nn_threads_for */
#define NN_ACT_COST_EXP 20.0

static double nn_act_cost(nn_act kind) {
    switch (kind) {
    case NN_ACT_IDENTITY:
    case NN_ACT_RELU:
    case NN_ACT_LEAKY_RELU: return 1.0;
    default: return NN_ACT_COST_EXP;
    }
}

/* Validates kind, param and sizes; writes n = rows * cols. */
static int nn_act_check(nn_act kind, double param, int64_t rows, int64_t cols, int64_t *n) {
    if ((int)kind < NN_ACT_IDENTITY || (int)kind > NN_ACT_LOG_SOFTMAX) return NN_ERR_ARG;
    if (rows < 0 || cols < 0) return NN_ERR_ARG;
    if ((kind == NN_ACT_LEAKY_RELU || kind == NN_ACT_ELU) && !isfinite(param)) return NN_ERR_ARG;
    return nn_mul_size(rows, cols, n);
}

#define real float
#define NN_FN(name) nn_s##name
#define RM(fn) fn##f
#define RV_EXP(v) nn_vexpf(v)
#define RV_LOG1P(v) nn_vlog1pf(v)
#define RV_EXPM1(v) nn_vexpm1f(v)
#define RV_TANH(v) nn_vtanhf(v)
#define RV_ERFC(v) nn_verfcf(v)
#include "activation_tmpl.h"
#undef real
#undef NN_FN
#undef RM
#undef RV_EXP
#undef RV_LOG1P
#undef RV_EXPM1
#undef RV_TANH
#undef RV_ERFC

#define real double
#define NN_FN(name) nn_d##name
#define RM(fn) fn
#define RV_EXP(v) nn_vexp(v)
#define RV_LOG1P(v) log1p(v)
#define RV_EXPM1(v) expm1(v)
#define RV_TANH(v) tanh(v)
#define RV_ERFC(v) erfc(v)
#include "activation_tmpl.h"
#undef real
#undef NN_FN
#undef RM
#undef RV_EXP
#undef RV_LOG1P
#undef RV_EXPM1
#undef RV_TANH
#undef RV_ERFC
