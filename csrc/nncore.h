/* nncore.h — the public C API of nncore: the one header a C program includes.
 *
 * What it is: kernels (GEMM, activations, losses, dropout, optimizer updates,
 * gradient clipping) and a network object (layers over ONE flat parameter
 * buffer and ONE flat gradient buffer) with forward / backward / train_step
 * (and a phase-by-phase timing of train_step), plus loading a model file saved
 * from Python.
 * What it is not: a tensor library. No Python headers here; csrc/ builds alone
 * (make -C csrc libnncore).
 *
 * Conventions (llm.c style): outputs first, then inputs, then sizes; shapes in
 * the comment above each function; sizes are int64_t everywhere; matrices are
 * row-major with an explicit row stride unless the comment says otherwise.
 * Two exceptions to "outputs first":
 *   - GEMM keeps the BLAS argument order (m, n, k, alpha, A, B, beta, C), the
 *     one every BLAS user already reads;
 *   - kernels that switch on a kind put the kind and its parameter first
 *     (nn_sact_forward(kind, param, y, x, ...), nn_sloss(kind, red, param,
 *     loss, grad, ...)): the call names what it computes before its data.
 * Every function that can fail returns an nn_status (0 = NN_OK).
 * Float32 functions start with nn_s, float64 ones with nn_d.
 * Results are bit-identical for any thread count: threads split independent
 * outputs, and a sum (a loss, a gradient norm) is cut into a fixed partition
 * whose parts are added in a fixed order, whatever the thread count.
 */
#ifndef NNCORE_H
#define NNCORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NN_VERSION "0.1.0"

/* ------------------------------------------------------------------ status */

typedef enum {
    NN_OK = 0,
    NN_ERR_ARG = -1,         /* a bad argument: size, pointer, enum, hyperparameter */
    NN_ERR_NOMEM = -2,       /* an allocation failed or was refused as too large */
    NN_ERR_IO = -3,          /* a file could not be opened or read */
    NN_ERR_FORMAT = -4,      /* a model file is truncated, hostile or inconsistent */
    NN_ERR_STATE = -5,       /* a call out of order, e.g. backward before forward */
    NN_ERR_UNSUPPORTED = -6, /* e.g. a kernel this CPU cannot run */
    NN_ERR_OVERFLOW = -7     /* a size whose byte count does not fit in 64 bits */
} nn_status;

typedef enum { NN_F32 = 0, NN_F64 = 1 } nn_dtype;

const char *nn_strerror(int status);

/* ------------------------------------------- configuration (cpu.c, threads) */

/* Kernel table: "ref" (portable C, always built) or a CPU family ("avx2", ...).
 * nn_select_arch(NULL) or "auto" picks the best the CPU supports; the
 * environment variable NNCORE_ARCH is read by the Python layer and passed here.
 * Until a C program calls it, the table is "ref": slower, and not the bits of
 * Python (which picks "auto" at import), so call nn_select_arch(NULL) once at
 * start-up, before any other call of this header.
 * Returns NN_ERR_UNSUPPORTED if the CPU lacks the requested family, NN_ERR_ARG
 * for an unknown name. */
int nn_select_arch(const char *name);
const char *nn_current_arch(void);
/* Comma-separated list of kernel families this CPU can run, e.g. "ref,avx2". */
const char *nn_available_archs(void);

void nn_set_num_threads(int n); /* n >= 1 */
int nn_get_num_threads(void);
int nn_have_openmp(void);
const char *nn_compiler(void);   /* compiler name and version, from the build */

/* --------------------------------------------------------------- gemm.c */

/* C = alpha * A @ B + beta * C
 * A (m, k): element (i, p) at a[i*rsa + p*csa]
 * B (k, n): element (p, j) at b[p*rsb + j*csb]
 * C (m, n): element (i, j) at c[i*rsc + j]      (rows contiguous)
 * Strides may be any value (transposes and slices need no copy). When
 * beta == 0, C is not read (NaN in C does not propagate). k == 0 gives beta*C. */
int nn_sgemm(int64_t m, int64_t n, int64_t k, float alpha,
             const float *a, int64_t rsa, int64_t csa,
             const float *b, int64_t rsb, int64_t csb,
             float beta, float *c, int64_t rsc);
int nn_dgemm(int64_t m, int64_t n, int64_t k, double alpha,
             const double *a, int64_t rsa, int64_t csa,
             const double *b, int64_t rsb, int64_t csb,
             double beta, double *c, int64_t rsc);

/* ------------------------------------------------------- activation.c */

typedef enum {
    NN_ACT_IDENTITY = 0,
    NN_ACT_RELU = 1,
    NN_ACT_LEAKY_RELU = 2, /* param = negative_slope */
    NN_ACT_ELU = 3,        /* param = alpha */
    NN_ACT_GELU = 4,       /* exact: x * Phi(x) with erf */
    NN_ACT_GELU_TANH = 5,  /* tanh approximation */
    NN_ACT_SILU = 6,
    NN_ACT_SOFTPLUS = 7,   /* log(1 + exp(x)), never overflows */
    NN_ACT_SIGMOID = 8,
    NN_ACT_TANH = 9,
    NN_ACT_SOFTMAX = 10,   /* row-wise over cols */
    NN_ACT_LOG_SOFTMAX = 11 /* row-wise over cols */
} nn_act;
/* The last member: range checks use it, so a new member is added here only. */
#define NN_ACT_LAST NN_ACT_LOG_SOFTMAX

/* y (rows, cols) = f(x (rows, cols)); contiguous; y may alias x. */
int nn_sact_forward(nn_act kind, float param, float *y, const float *x,
                    int64_t rows, int64_t cols);
int nn_dact_forward(nn_act kind, double param, double *y, const double *x,
                    int64_t rows, int64_t cols);
/* dx (rows, cols) = dy * f'(x), given x and y = f(x) (elementwise kinds read x only,
 * y may be NULL; softmax kinds read y only, x may be NULL). dx may alias dy. Overwrites dx. */
int nn_sact_backward(nn_act kind, float param, float *dx, const float *dy,
                     const float *x, const float *y, int64_t rows, int64_t cols);
int nn_dact_backward(nn_act kind, double param, double *dx, const double *dy,
                     const double *x, const double *y, int64_t rows, int64_t cols);

/* ------------------------------------------------------------- loss.c */

typedef enum {
    NN_LOSS_MSE = 0,
    NN_LOSS_L1 = 1,
    NN_LOSS_HUBER = 2,          /* param = delta > 0 */
    NN_LOSS_BCE_LOGITS = 3,     /* targets in [0, 1] */
    NN_LOSS_CE_LABELS = 4,      /* labels int64 in [0, cols); param = label_smoothing */
    NN_LOSS_CE_PROBS = 5,       /* target rows are probabilities; param = label_smoothing */
    NN_LOSS_POISSON = 6         /* outputs are log rates, targets >= 0: half Poisson deviance */
} nn_loss_kind;
/* The last member: range checks use it, so a new member is added here only. */
#define NN_LOSS_LAST NN_LOSS_POISSON

typedef enum { NN_REDUCE_MEAN = 0, NN_REDUCE_SUM = 1 } nn_reduction;

/* out (rows, cols) are the network outputs (logits for BCE/CE);
 * target (rows, cols) for all kinds but CE_LABELS, which reads labels (rows).
 * weights (rows) or NULL: row r's terms and gradients are multiplied by
 * weights[r] (finite, >= 0) and the mean divides by the weighted count, so the mean
 * is sum_r w_r l_r / sum_r w_r (NULL: every row weighs 1).
 * Writes *loss and, if grad != NULL, grad (rows, cols) = d loss / d out.
 * Mean reduction: over all elements for MSE/L1/Huber/BCE, over rows for CE.
 * Returns NN_ERR_ARG for a label out of range, a negative or non-finite weight, or
 * (mean) weights summing to 0. */
int nn_sloss(nn_loss_kind kind, nn_reduction red, double param,
             double *loss, float *grad, const float *out, const float *target,
             const int64_t *labels, const float *weights, int64_t rows, int64_t cols);
int nn_dloss(nn_loss_kind kind, nn_reduction red, double param,
             double *loss, double *grad, const double *out, const double *target,
             const int64_t *labels, const double *weights, int64_t rows, int64_t cols);

/* ---------------------------------------------------- rng.c, dropout */

/* Philox4x32-10: out[0..3] = the 4 random words for counter (c0..c3), key (k0, k1). */
void nn_philox4x32(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]);

/* Inverted dropout over n contiguous elements.
 * Element i is kept iff u_i >= p, with u_i = (word >> 8) * 2^-24 in [0, 1), where
 * word is word i % 4 of Philox4x32-10 with key (seed & 0xffffffff, seed >> 32) and
 * counter (i / 4, step & 0xffffffff, layer, step >> 32) — (i/4, step, layer, 0)
 * for step < 2^32; n <= 2^34. Kept elements are scaled by 1 / (1 - p).
 * mask (n) receives 1 for kept, 0 for dropped. y may alias x. 0 <= p < 1. */
int nn_sdropout_forward(float *y, uint8_t *mask, const float *x, int64_t n,
                        float p, uint64_t seed, uint64_t step, uint32_t layer);
int nn_ddropout_forward(double *y, uint8_t *mask, const double *x, int64_t n,
                        double p, uint64_t seed, uint64_t step, uint32_t layer);
/* dx = dy * mask / (1 - p); dx may alias dy. */
int nn_sdropout_backward(float *dx, const float *dy, const uint8_t *mask, int64_t n, float p);
int nn_ddropout_backward(double *dx, const double *dy, const uint8_t *mask, int64_t n, double p);

/* ------------------------------------------------------------ optim.c */

typedef enum {
    NN_OPTIM_SGD = 0,
    NN_OPTIM_RMSPROP = 1,
    NN_OPTIM_ADAGRAD = 2,
    NN_OPTIM_ADAM = 3,
    NN_OPTIM_ADAMW = 4
} nn_optim_kind;

/* Hyperparameters of one parameter group (PyTorch's documented algorithms). */
typedef struct {
    double lr;
    double weight_decay;        /* coupled L2 (SGD/RMSprop/Adagrad/Adam), decoupled for AdamW */
    double l1;                  /* L1 penalty: adds l1 * sign(p) to the gradient */
    double momentum, dampening; /* SGD, RMSprop (momentum) */
    int nesterov;               /* SGD */
    double alpha;               /* RMSprop smoothing constant */
    int centered;               /* RMSprop */
    double eps;                 /* RMSprop, Adagrad, Adam(W) */
    double beta1, beta2;        /* Adam(W) */
    int amsgrad;                /* Adam(W) */
    int eps_hat;                /* Adam(W): eps is Kingma & Ba's epsilon-hat, added to
                                   sqrt(v) before the bias correction (scikit-learn's and
                                   TensorFlow's Adam): the update uses eps / sqrt(1 - b2^t) */
    double lr_decay;            /* Adagrad */
    double max_norm;            /* > 0: after the update, every row of each of this
                                   group's segments (rows x cols, row-major) is rescaled
                                   by max_norm/(norm+1e-7) when its norm exceeds max_norm;
                                   callers put biases in groups with max_norm = 0 */
} nn_optim_group;

/* A contiguous slice of the flat parameter buffer, owned by one group.
 * rows/cols describe it for the max-norm constraint (rows = 1 for a bias). */
typedef struct {
    int64_t offset, length;
    int64_t rows, cols;
    int32_t group;
} nn_optim_segment;

/* State lives in flat buffers laid out exactly like the parameter buffer
 * (NULL where the algorithm does not need one):
 *   state[0]: momentum buffer / exp_avg / square_avg / sum
 *   state[1]: exp_avg_sq (Adam) / grad_avg (centered RMSprop)
 *   state[2]: max_exp_avg_sq (AMSGrad) / momentum buffer (RMSprop)
 * step counts the updates done so far; nn_optim_step increments it first, so
 * Adam's bias correction uses the new value (1 on the first step).
 * SGD: on step 1 the momentum buffer is set to the gradient (PyTorch). */
typedef struct {
    nn_optim_kind kind;
    nn_dtype dtype;
    int32_t n_groups;
    const nn_optim_group *groups;
    int64_t n_segments;
    const nn_optim_segment *segments;
    void *state[3];
    int64_t step;
} nn_optim;

/* One fused pass over every segment: p, g, state read once, written once. */
int nn_optim_step(nn_optim *opt, void *params, const void *grads);

/* Global L2 norm of the gradient over the segments (fixed-order blocked sum,
 * identical at any thread count). */
int nn_grad_norm(double *norm, nn_dtype dtype, const void *grads,
                 const nn_optim_segment *segments, int64_t n_segments);
/* Scale gradients by min(1, max_norm / (norm + 1e-6)); writes the norm before clipping. */
int nn_clip_grad_norm(double *norm, nn_dtype dtype, void *grads,
                      const nn_optim_segment *segments, int64_t n_segments, double max_norm);
/* Clamp every gradient element to [-clip, clip]. */
int nn_clip_grad_value(nn_dtype dtype, void *grads, const nn_optim_segment *segments,
                       int64_t n_segments, double clip);

/* -------------------------------------------------------------- net.c */

typedef enum {
    NN_LAYER_LINEAR = 0,  /* y = x W^T + b, W (out, in), b (out) */
    NN_LAYER_ACT = 1,     /* act kind + param */
    NN_LAYER_DROPOUT = 2  /* param = p */
} nn_layer_kind;

typedef struct {
    nn_layer_kind kind;
    int64_t in_features, out_features; /* for ACT/DROPOUT: in == out */
    int32_t bias;                      /* LINEAR: has a bias */
    nn_act act;                        /* ACT */
    double param;                      /* ACT param, DROPOUT p */
} nn_layer_spec;

typedef struct nn_net nn_net;

/* Creates a network; parameters are zero (the caller initializes them through
 * nn_net_params). On failure returns NULL and writes *status. */
nn_net *nn_net_create(nn_dtype dtype, const nn_layer_spec *layers, int32_t n_layers,
                      uint64_t seed, int *status);
void nn_net_free(nn_net *net);

nn_dtype nn_net_dtype(const nn_net *net);
int32_t nn_net_num_layers(const nn_net *net);
int64_t nn_net_num_inputs(const nn_net *net);
int64_t nn_net_num_outputs(const nn_net *net);
int64_t nn_net_num_params(const nn_net *net);
/* The flat parameters, nn_net_num_params elements. Calling it marks them as
 * written (like nn_net_touch): inference packs the weights once and reuses them
 * until they change, so call nn_net_touch after writing through a pointer kept
 * from an earlier call (nn_net_train_step marks its own update). */
void *nn_net_params(nn_net *net);
void nn_net_touch(nn_net *net);
void *nn_net_grads(nn_net *net);  /* flat, same layout */
/* Offsets (in elements) of layer i's weight and bias in the flat buffers; -1 if none. */
int64_t nn_net_weight_offset(const nn_net *net, int32_t layer);
int64_t nn_net_bias_offset(const nn_net *net, int32_t layer);

/* out (batch, n_outputs) = net(x (batch, n_inputs)); x rows contiguous with row
 * stride rsx. training != 0 enables dropout (and keeps what backward needs).
 * out may be NULL: the result stays in the workspace (nn_net_output). */
int nn_net_forward(nn_net *net, void *out, const void *x, int64_t rsx, int64_t batch,
                   int training);
const void *nn_net_output(const nn_net *net); /* (batch, n_outputs) of the last forward */
/* Accumulates parameter gradients from dout (batch, n_outputs) of the last
 * training forward. The input gradient is not computed (nobody needs it);
 * NN_ERR_STATE if no training forward came first. */
int nn_net_backward(nn_net *net, const void *dout);
void nn_net_zero_grad(nn_net *net);
/* Dropout step counter (advanced by every training forward); settable to resume. */
uint64_t nn_net_get_step(const nn_net *net);
void nn_net_set_step(nn_net *net, uint64_t step);

/* Compute mode of the GEMMs of forward, backward and inference. NN_COMPUTE_BF16
 * (float32 nets only): both operands of every GEMM rounded to bfloat16 (nearest
 * even), products accumulated in float32; parameters, gradients, optimizer
 * state and every other operation stay float32. The bf16 kernel is the
 * active family's (avx512_bf16, amx) or a portable one that rounds the same way. */
typedef enum { NN_COMPUTE_FP32 = 0, NN_COMPUTE_BF16 = 1 } nn_compute;
/* NN_ERR_ARG for an unknown mode or BF16 on a float64 net. */
int nn_net_set_compute(nn_net *net, nn_compute mode);
nn_compute nn_net_get_compute(const nn_net *net);

/* One training step, one call: zero_grad, forward(training), loss, backward,
 * optional gradient clipping (clip_norm > 0, clip_value > 0), optimizer update.
 * target/labels/weights as in nn_sloss (weights in the network's dtype, or NULL).
 * Writes the batch loss and the global gradient norm before clipping (grad_norm
 * may be NULL). */
int nn_net_train_step(nn_net *net, const void *x, int64_t rsx, int64_t batch,
                      nn_loss_kind loss, nn_reduction red, double loss_param,
                      const void *target, const int64_t *labels, const void *weights,
                      nn_optim *opt, double clip_norm, double clip_value,
                      double *loss_out, double *grad_norm);
/* nn_net_train_step in two halves, for data-parallel training (an allreduce of the
 * gradient buffer goes between them); together they give the same bits as
 * nn_net_train_step. train_grads: forward (training), loss, backward (every gradient
 * written, the loss to *loss_out); apply_update: clipping, then the optimizer update of
 * the gradients as they are now (grad_norm as in nn_net_train_step, may be NULL). */
int nn_net_train_grads(nn_net *net, const void *x, int64_t rsx, int64_t batch,
                       nn_loss_kind loss, nn_reduction red, double loss_param,
                       const void *target, const int64_t *labels, const void *weights,
                       double *loss_out);
int nn_net_apply_update(nn_net *net, nn_optim *opt, double clip_norm, double clip_value,
                        double *grad_norm);

/* Profiling of nn_net_train_step: the time of every phase on the monotonic
 * clock, read on the calling thread (the worker team has joined by the end of
 * each phase). nn_net_set_profiling(net, 1) zeroes the record and starts it;
 * 0 stops it (the record stays readable). While it is on, each train_step adds
 * its phases' seconds; otherwise a phase costs one not-taken branch. Only
 * nn_net_train_step is timed (nn_net_forward / nn_net_backward, and its halves
 * nn_net_train_grads / nn_net_apply_update called on their own, are not). */
typedef enum {
    NN_PROF_FWD = 0,     /* a layer's forward: the GEMM of a LINEAR (its bias added in the
                            GEMM's epilogue; below 5 rows, the dot-product path with bias and
                            ReLU), the kernel of an ACT or DROPOUT (~0 for a fused ReLU) */
    NN_PROF_FWD_EPI = 1, /* LINEAR: the ReLU pass over its output (a ReLU fused into it) */
    NN_PROF_BWD_DW = 2,  /* LINEAR: dW = dY^T X */
    NN_PROF_BWD_DB = 3,  /* LINEAR: db = column sums of dY */
    NN_PROF_BWD_DX = 4   /* LINEAR: dX = dY W (~0 for the first); ACT, DROPOUT: backward */
} nn_prof_layer_slot;
#define NN_PROF_LAYER_SLOTS 5

typedef enum {
    NN_PROF_STEP_FORWARD = 0,  /* the whole forward (workspace check, every layer) */
    NN_PROF_STEP_LOSS = 1,     /* loss value and its gradient */
    NN_PROF_STEP_BACKWARD = 2, /* the whole backward */
    NN_PROF_STEP_CLIP = 3,     /* gradient norm and clipping */
    NN_PROF_STEP_UPDATE = 4,   /* the optimizer's update */
    NN_PROF_STEP_TOTAL = 5     /* the whole nn_net_train_step call */
} nn_prof_step_slot;
#define NN_PROF_STEP_SLOTS 6

/* on != 0: zero the record and time every following train_step; 0: stop.
 * NN_ERR_NOMEM if the record (n_layers * NN_PROF_LAYER_SLOTS doubles) cannot
 * be allocated. */
int nn_net_set_profiling(nn_net *net, int on);
/* layer_s (n_layers * NN_PROF_LAYER_SLOTS, layer-major: layer_s[l * NN_PROF_LAYER_SLOTS
 * + slot]) and step_s (NN_PROF_STEP_SLOTS): seconds summed over the *steps
 * train steps timed since profiling was last turned on (a step that passed
 * nn_net_train_step's own checks and then failed is counted too). Any output may be NULL.
 * NN_ERR_ARG for net NULL; NN_ERR_STATE if profiling was never turned on. */
int nn_net_profile_read(const nn_net *net, double *layer_s, double *step_s, int64_t *steps);

/* --------------------------------------------------------------- io.c */

/* Load a model saved by nncore's Python `model.save` (safetensors file with
 * nncore's architecture in its metadata). Never executes anything from the
 * file; validates every offset and size before allocating. */
int nn_net_load(nn_net **net, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* NNCORE_H */
