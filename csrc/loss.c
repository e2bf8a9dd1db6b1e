/* loss.c — losses with their gradient w.r.t. the network output, float and double:
 * MSE, L1, Huber(delta), binary cross-entropy from logits, softmax cross-entropy
 * from logits with int64 labels or probability targets (label smoothing as
 * PyTorch defines it: q = (1 - eps) * target + eps / cols).
 *
 * Math once in loss_tmpl.h. Reductions: mean (over all elements for
 * MSE/L1/Huber/BCE, over rows for CE) or sum. An empty input gives NaN (mean) or
 * 0 (sum). The loss is a fixed-order sum of fixed blocks: bit-identical at any
 * thread count (threads, the team of pool.c, only decide who computes
 * which partial sums).
 * Built here portably (suffix _port); on x86-64 also for AVX2 / AVX-512 in
 * kernels/elementwise_x86.c, the public functions below picking the build at
 * run time (elementwise_internal.h).
 * Not here: activations (activation.c), whole-network training
 * (net.c).
 */
/* Loops with selects (x > 0 ? a : b) only vectorize when GCC may evaluate both
 * sides, which -ftrapping-math (the default) forbids. nncore never reads FP
 * exception flags, so allow it here; results are unchanged (no reassociation).
 * Placed before every include so inline helpers get the same options. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "elementwise_internal.h"
#include "vmath.h"

#define NN_SFX _port
#define NN_INST_LOSS
#include "elementwise_inst.h"

int nn_sloss(nn_loss_kind kind, nn_reduction red, double param, double *loss, float *grad,
             const float *out, const float *target, const int64_t *labels, int64_t rows,
             int64_t cols) {
    NN_EW_DISPATCH(nn_sloss, kind, red, param, loss, grad, out, target, labels, rows, cols)
    return nn_sloss_port(kind, red, param, loss, grad, out, target, labels, rows, cols);
}
int nn_dloss(nn_loss_kind kind, nn_reduction red, double param, double *loss, double *grad,
             const double *out, const double *target, const int64_t *labels, int64_t rows,
             int64_t cols) {
    NN_EW_DISPATCH(nn_dloss, kind, red, param, loss, grad, out, target, labels, rows, cols)
    return nn_dloss_port(kind, red, param, loss, grad, out, target, labels, rows, cols);
}
