/* activation.c — activation kernels, forward and backward, float and double:
 * identity, ReLU, LeakyReLU, ELU, GELU (erf and tanh forms), SiLU, Softplus,
 * Sigmoid, Tanh (elementwise) and Softmax / LogSoftmax (row-wise).
 *
 * The math lives once in activation_tmpl.h. What backward reads:
 *   elementwise kinds read x only (y may be NULL; identity reads neither);
 *   softmax kinds read y only (x may be NULL).
 * Threads (the team of pool.c) take blocks of whole chunks of 4096
 * elements (elementwise) or rows (softmax), sized from the shape alone
 * (elementwise_internal.h); every output depends on one chunk/row only, so
 * results are bit-identical for any thread count.
 * Each CPU family's file (csrc/kernels/) compiles the template for its
 * instruction set; the entry points here call the active family's build
 * (kernels.h).
 * Not here: the dense layer (net.c), losses (loss.c), dropout (dropout.c).
 */
#include "kernels.h"

int nn_sact_forward(nn_act kind, float param, float *y, const float *x, int64_t rows,
                    int64_t cols) {
    return nn_active_kernels()->ew->sact_forward(kind, param, y, x, rows, cols);
}
int nn_dact_forward(nn_act kind, double param, double *y, const double *x, int64_t rows,
                    int64_t cols) {
    return nn_active_kernels()->ew->dact_forward(kind, param, y, x, rows, cols);
}
int nn_sact_backward(nn_act kind, float param, float *dx, const float *dy, const float *x,
                     const float *y, int64_t rows, int64_t cols) {
    return nn_active_kernels()->ew->sact_backward(kind, param, dx, dy, x, y, rows, cols);
}
int nn_dact_backward(nn_act kind, double param, double *dx, const double *dy, const double *x,
                     const double *y, int64_t rows, int64_t cols) {
    return nn_active_kernels()->ew->dact_backward(kind, param, dx, dy, x, y, rows, cols);
}
