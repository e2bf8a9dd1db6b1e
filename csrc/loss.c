/* loss.c — losses with their gradient w.r.t. the network output, float and double:
 * MSE, L1, Huber(delta), binary cross-entropy from logits, softmax cross-entropy
 * from logits with int64 labels or probability targets (label smoothing as
 * PyTorch defines it: q = (1 - eps) * target + eps / cols), each optionally with
 * row weights (the weighted mean sum(w l) / sum(w)).
 *
 * Math once in loss_tmpl.h. Reductions: mean (over all elements for
 * MSE/L1/Huber/BCE, over rows for CE) or sum. An empty input gives NaN (mean) or
 * 0 (sum). The loss is a fixed-order sum of fixed blocks: bit-identical at any
 * thread count (threads, the team of pool.c, only decide who computes
 * which partial sums).
 * Each CPU family's file (csrc/kernels/) compiles the template for its
 * instruction set; the entry points here call the active family's build
 * (kernels.h).
 * Not here: activations (activation.c), whole-network training
 * (net.c).
 */
#include "kernels.h"

int nn_sloss(nn_loss_kind kind, nn_reduction red, double param, double *loss, float *grad,
             const float *out, const float *target, const int64_t *labels,
             const float *weights, int64_t rows, int64_t cols) {
    return nn_active_kernels()->ew->sloss(kind, red, param, loss, grad, out, target, labels,
                                          weights, rows, cols);
}
int nn_dloss(nn_loss_kind kind, nn_reduction red, double param, double *loss, double *grad,
             const double *out, const double *target, const int64_t *labels,
             const double *weights, int64_t rows, int64_t cols) {
    return nn_active_kernels()->ew->dloss(kind, red, param, loss, grad, out, target, labels,
                                          weights, rows, cols);
}
