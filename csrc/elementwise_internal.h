/* elementwise_internal.h — what the activation, loss and dropout templates
 * (elementwise_tmpl.h) share in every build: argument checks, cost estimates
 * and block sizes. Which build runs is the active CPU family's choice
 * (kernels.h); activation.c, loss.c and dropout.c call through its table.
 */
#ifndef NNCORE_ELEMENTWISE_INTERNAL_H
#define NNCORE_ELEMENTWISE_INTERNAL_H

#include "internal.h"

#include <string.h>

#define NN_ACT_CHUNK 4096     /* elements per inner loop (elementwise activations) */
#define NN_LOSS_BLOCK 2048    /* elements per partial sum (elementwise losses) */
#define NN_DROPOUT_CHUNK 4096 /* elements per inner loop; a multiple of 4 */

/* Threads: every loop is a job on the team of pool.c whose blocks are
 * runs of whole chunks / rows / partial-sum blocks (nn_blocks) worth at least
 * NN_EW_BLOCK_WORK cost units, the cost of an element being its time relative
 * to a ReLU element (~0.1-0.15 ns on one AVX-512 core, float32). Measured (2
 * cores, float32, AVX-512 build): ReLU 0.10 ns forward / 0.15 backward,
 * sigmoid/ELU/tanh 0.35-0.55, SiLU/softplus/GELU-tanh 0.4-0.95, GELU 1.3-1.5,
 * softmax 0.45-0.8, MSE 0.3, BCE and cross-entropy 1.1, dropout 1.7 forward /
 * 0.25 backward. A block of 32768 units is ~3-5 us on one core: ReLU backward
 * on 128x512 (2 blocks) 9.6 -> 6.4 us at 2 threads, 128x1024 19 -> 11 us,
 * 512x2048 165 -> 85 us; 128x256 stays on one thread (blocks of 8-16k
 * elements gain there too, 5.1 -> 3.6 us, on a quiet machine, but a job costs
 * the caller ~5-10 us of wake-ups when the worker is not spinning on the
 * other core, so small jobs stay on the caller). Double elements cost about
 * twice as much, which only makes their blocks longer. */
#define NN_EW_BLOCK_WORK 32768.0
#define NN_ACT_COST_EXP 4.0   /* the activations with exp or tanh; softmax */
#define NN_ACT_COST_ERFC 8.0  /* GELU (exact) */
#define NN_LOSS_COST 2.0      /* MSE, L1, Huber */
#define NN_LOSS_COST_EXP 7.0  /* BCE with logits, cross-entropy, Poisson */
#define NN_DROPOUT_COST 12.0
#define NN_DROPOUT_BWD_COST 2.0

/* Elements per pool block, at least, for a kernel of this cost per element. */
NN_INLINE int64_t nn_ew_block_items(double cost_per_elem) {
    return (int64_t)(NN_EW_BLOCK_WORK / cost_per_elem);
}

NN_INLINE double nn_act_cost(nn_act kind) {
    switch (kind) {
    case NN_ACT_IDENTITY:
    case NN_ACT_RELU:
    case NN_ACT_LEAKY_RELU: return 1.0;
    case NN_ACT_GELU: return NN_ACT_COST_ERFC;
    default: return NN_ACT_COST_EXP;
    }
}

/* Validates kind, param and sizes; writes n = rows * cols. */
NN_INLINE int nn_act_check(nn_act kind, double param, int64_t rows, int64_t cols, int64_t *n) {
    if ((int)kind < NN_ACT_IDENTITY || (int)kind > NN_ACT_LAST) return NN_ERR_ARG;
    if (rows < 0 || cols < 0) return NN_ERR_ARG;
    if ((kind == NN_ACT_LEAKY_RELU || kind == NN_ACT_ELU) && !isfinite(param)) return NN_ERR_ARG;
    return nn_mul_size(rows, cols, n);
}

NN_INLINE int nn_loss_check(nn_loss_kind kind, nn_reduction red, double param, double *loss,
                            int64_t rows, int64_t cols, int64_t *n) {
    if ((int)kind < NN_LOSS_MSE || (int)kind > NN_LOSS_LAST) return NN_ERR_ARG;
    if (red != NN_REDUCE_MEAN && red != NN_REDUCE_SUM) return NN_ERR_ARG;
    if (loss == NULL || rows < 0 || cols < 0) return NN_ERR_ARG;
    if (kind == NN_LOSS_HUBER && !(param > 0 && isfinite(param))) return NN_ERR_ARG;
    if ((kind == NN_LOSS_CE_LABELS || kind == NN_LOSS_CE_PROBS) &&
        (!(param >= 0 && param <= 1) || (rows > 0 && cols == 0)))
        return NN_ERR_ARG;
    return nn_mul_size(rows, cols, n);
}

#endif /* NNCORE_ELEMENTWISE_INTERNAL_H */
