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
 * Built here portably (suffix _port); on x86-64 also for AVX2 / AVX-512 in
 * kernels/elementwise_x86.c, the public functions below picking the build at
 * run time (elementwise_internal.h).
 * Not here: the dense layer (net.c), losses (loss.c), dropout (dropout.c).
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
#define NN_INST_ACT
#include "elementwise_inst.h"

int nn_sact_forward(nn_act kind, float param, float *y, const float *x, int64_t rows,
                    int64_t cols) {
    NN_EW_DISPATCH(nn_sact_forward, kind, param, y, x, rows, cols)
    return nn_sact_forward_port(kind, param, y, x, rows, cols);
}
int nn_dact_forward(nn_act kind, double param, double *y, const double *x, int64_t rows,
                    int64_t cols) {
    NN_EW_DISPATCH(nn_dact_forward, kind, param, y, x, rows, cols)
    return nn_dact_forward_port(kind, param, y, x, rows, cols);
}
int nn_sact_backward(nn_act kind, float param, float *dx, const float *dy, const float *x,
                     const float *y, int64_t rows, int64_t cols) {
    NN_EW_DISPATCH(nn_sact_backward, kind, param, dx, dy, x, y, rows, cols)
    return nn_sact_backward_port(kind, param, dx, dy, x, y, rows, cols);
}
int nn_dact_backward(nn_act kind, double param, double *dx, const double *dy, const double *x,
                     const double *y, int64_t rows, int64_t cols) {
    NN_EW_DISPATCH(nn_dact_backward, kind, param, dx, dy, x, y, rows, cols)
    return nn_dact_backward_port(kind, param, dx, dy, x, y, rows, cols);
}
