/* optim_internal.h — what optim.c and its templates share, and the precise
 * meaning of the optimizer contract in nncore.h where its comments leave room.
 *
 * State slots (nn_optim.state[i]), each a flat buffer laid out like the
 * parameter buffer, NULL when no group of the optimizer needs it:
 *   SGD       state[0] momentum_buffer            (any group with momentum != 0)
 *   RMSprop   state[0] square_avg                 (always)
 *             state[1] grad_avg                   (any group centered)
 *             state[2] momentum_buffer            (any group with momentum > 0)
 *   Adagrad   state[0] sum                        (always; the caller fills it with
 *                                                  initial_accumulator_value)
 *   Adam(W)   state[0] exp_avg, state[1] exp_avg_sq (always)
 *             state[2] max_exp_avg_sq             (any group with amsgrad)
 * nncore.h lists "grad_avg / momentum buffer" both under state[1] for RMSprop;
 * centered RMSprop with momentum needs three buffers, so the momentum buffer
 * of RMSprop lives in state[2].
 *
 * Penalties: l1 * sign(p) and (coupled) weight_decay * p are added to the
 * gradient before the algorithm runs, from p before the update. AdamW applies
 * weight_decay as p *= 1 - lr * weight_decay instead (decoupled); l1 stays a
 * gradient term.
 *
 * Max-norm: after the update, every row of every segment whose group has
 * max_norm > 0 is rescaled by max_norm / (norm + 1e-7) when its L2 norm
 * exceeds max_norm (each segment is rows x cols, row-major, rows*cols ==
 * length). The C core cannot tell a bias from a 1-row weight, so the Python
 * layer puts biases in groups with max_norm = 0 (they are not constrained).
 *
 * SGD momentum: on the first step (opt->step == 1 after the increment) the
 * buffer is set to the gradient, as PyTorch does; later steps use dampening.
 */
#ifndef NNCORE_OPTIM_INTERNAL_H
#define NNCORE_OPTIM_INTERNAL_H

#include "internal.h"

/* Elements per chunk: pool blocks are runs of whole chunks of a segment, so
 * block boundaries fall on 32 KiB (float) / 64 KiB (double) borders. */
#define NN_OPTIM_CHUNK 8192

/* Elements per pool block, at least (nn_blocks; chunks counted at their mean
 * length, so many short segments such as biases do not make tiny blocks): an
 * Adam block takes ~15 us on one core, a sum of squares ~5 us, well above a
 * pool dispatch (~1 us). 235k parameters (784-256-128-10) make 7 blocks of
 * the update and 8 of the norm. Measured on 2 cores, float32, medians:
 * Adam 235k 107 -> 59-64 us at 2 threads, grad norm 38 -> 22 us; Adam 6.3M
 * 4.3 -> 2.8 ms (memory-bound), grad norm 6.3M 0.97 -> 0.51 ms. Blocks of
 * 8-32k elements measured alike; 64k (3 blocks at 235k) lost ~10%. */
#define NN_OPTIM_BLOCK 24576

/* Sum-of-squares partials for the grad norm: the concatenated segments are
 * cut into at most NN_NORM_PARTS equal parts (of at least NN_NORM_MIN_PART
 * elements); each part is summed in a fixed order and the parts are added in
 * order. The cut depends only on the sizes, never on the thread count. */
#define NN_NORM_PARTS 64
#define NN_NORM_MIN_PART 4096

#define NN_MAXNORM_EPS 1e-7
#define NN_CLIPNORM_EPS 1e-6

/* Work on elements [start, end) of segment seg; ctx is the caller's. */
typedef void (*nn_optim_range_fn)(void *ctx, int64_t seg, int64_t start, int64_t end);

/* Calls fn over every segment, cut into NN_OPTIM_CHUNK runs; a job on the
 * pool (pool.c) whose blocks are runs of chunks (>= NN_OPTIM_BLOCK
 * elements, a count that depends only on the sizes). fn may be called with
 * any of the ranges from any thread; elementwise fns give the same bits at
 * any thread count. */
void nn_optim_for_ranges(const nn_optim_segment *segs, int64_t n_segments,
                         nn_optim_range_fn fn, void *ctx);

/* Max-norm of the rows of the constrained segments, after an update
 * (optim_tmpl.h, in optim.c). opt has been validated. */
void nn_soptim_max_norm(const nn_optim *opt, float *params);
void nn_doptim_max_norm(const nn_optim *opt, double *params);
/* Sum of squares of elements [lo, hi) of the concatenated segments, each
 * contiguous piece summed by `sumsq` (the active family's kernel). */
double nn_ssumsq_span(const float *x, const nn_optim_segment *segs, int64_t n_segments,
                      int64_t lo, int64_t hi, double (*sumsq)(const float *, int64_t));
double nn_dsumsq_span(const double *x, const nn_optim_segment *segs, int64_t n_segments,
                      int64_t lo, int64_t hi, double (*sumsq)(const double *, int64_t));
void nn_sscale_segments(float *x, const nn_optim_segment *segs, int64_t n_segments, float s);
void nn_dscale_segments(double *x, const nn_optim_segment *segs, int64_t n_segments, double s);
void nn_sclamp_segments(float *x, const nn_optim_segment *segs, int64_t n_segments, float c);
void nn_dclamp_segments(double *x, const nn_optim_segment *segs, int64_t n_segments, double c);

#endif /* NNCORE_OPTIM_INTERNAL_H */
