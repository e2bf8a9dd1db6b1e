/* loss.c — losses with their gradient w.r.t. the network output, float and double:
 * MSE, L1, Huber(delta), binary cross-entropy from logits, softmax cross-entropy
 * from logits with int64 labels or probability targets (label smoothing as
 * PyTorch defines it: q = (1 - eps) * target + eps / cols).
 *
 * Math once in loss_tmpl.h. Reductions: mean (over all elements for
 * MSE/L1/Huber/BCE, over rows for CE) or sum. An empty input gives NaN (mean) or
 * 0 (sum). The loss is a fixed-order sum of fixed blocks: bit-identical at any
 * thread count. Not here: activations (activation.c), whole-network training
 * (net.c).
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

#define NN_LOSS_BLOCK 2048

static int nn_loss_check(nn_loss_kind kind, nn_reduction red, double param, double *loss,
                         int64_t rows, int64_t cols, int64_t *n) {
    if ((int)kind < NN_LOSS_MSE || (int)kind > NN_LOSS_CE_PROBS) return NN_ERR_ARG;
    if (red != NN_REDUCE_MEAN && red != NN_REDUCE_SUM) return NN_ERR_ARG;
    if (loss == NULL || rows < 0 || cols < 0) return NN_ERR_ARG;
    if (kind == NN_LOSS_HUBER && !(param > 0 && isfinite(param))) return NN_ERR_ARG;
    if ((kind == NN_LOSS_CE_LABELS || kind == NN_LOSS_CE_PROBS) &&
        (!(param >= 0 && param <= 1) || (rows > 0 && cols == 0)))
        return NN_ERR_ARG;
    return nn_mul_size(rows, cols, n);
}

#define real float
#define NN_FN(name) nn_s##name
#define RM(fn) fn##f
#define RV_EXP(v) nn_vexpf(v)
#define RV_LOG1P(v) nn_vlog1pf(v)
#define RV_EXPM1(v) nn_vexpm1f(v)
#define RV_TANH(v) nn_vtanhf(v)
#include "loss_tmpl.h"
#undef real
#undef NN_FN
#undef RM
#undef RV_EXP
#undef RV_LOG1P
#undef RV_EXPM1
#undef RV_TANH

#define real double
#define NN_FN(name) nn_d##name
#define RM(fn) fn
#define RV_EXP(v) nn_vexp(v)
#define RV_LOG1P(v) log1p(v)
#define RV_EXPM1(v) expm1(v)
#define RV_TANH(v) tanh(v)
#include "loss_tmpl.h"
#undef real
#undef NN_FN
#undef RM
#undef RV_EXP
#undef RV_LOG1P
#undef RV_EXPM1
#undef RV_TANH
