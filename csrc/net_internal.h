/* net_internal.h — the layout of the network object (struct nn_net), shared by
 * net.c and its float/double template net_tmpl.h. C programs do not see it;
 * they use the opaque nn_net and the functions of nncore.h.
 *
 * Memory: ONE flat parameter buffer and ONE flat gradient buffer (64-byte
 * aligned, parameters packed layer by layer: W (out, in) then b (out)), and ONE
 * workspace block holding, for a batch capacity `cap`:
 *   - one output slot per layer (cap, width): what backward needs,
 *   - a contiguous copy of x (cap, n_in) for training forwards from the public
 *     API (the caller's x may be gone by the time backward runs),
 *   - one dropout mask per dropout layer (cap * width bytes),
 *   - two gradient scratch buffers (cap, max_width) used ping-pong by backward
 *     (the first also receives the loss gradient in train_step).
 * The workspace only grows (when a larger batch comes); in steady state no
 * call allocates.
 */
#ifndef NNCORE_NET_INTERNAL_H
#define NNCORE_NET_INTERNAL_H

#include "internal.h"
#include "gemm_internal.h" /* nn_?gemm_ex: GEMM with a bias epilogue */
#include "gemm_bf16.h"     /* nn_bgemm_ex: the same in bf16 compute mode */

typedef struct {
    nn_layer_spec spec;
    int64_t w_off, b_off; /* element offsets in params/grads; -1 if none */
    int fuse_relu;        /* LINEAR: a ReLU follows and runs in its epilogue;
                             ACT: this ReLU was done by the LINEAR before it */
    void *slot;           /* workspace output slot (cap, width) */
    uint8_t *mask;        /* DROPOUT: mask (cap * width) */
    const void *y;        /* output of this layer in the last forward */
    /* LINEAR, inference: W^T packed once for the GEMM (pk, layout pk_lay) at
     * parameter version pk_ver (net->wver); allocated on the first inference
     * forward, NULL before. */
    nn_gemm_packed pk_lay;
    void *pk;
    uint64_t pk_ver;
    /* the same for bf16 compute (float32 nets): W^T rounded to bf16 and packed
     * for the active bf16 kernels (nn_bgemm_pack_full) */
    nn_gemm_packed bpk_lay;
    void *bpk;
    uint64_t bpk_ver;
} nn_net_layer;

/* The profiling record (nn_net_set_profiling): seconds summed per phase. */
typedef struct {
    double *layer_s;                  /* n_layers * NN_PROF_LAYER_SLOTS, layer-major */
    double step_s[NN_PROF_STEP_SLOTS];
    int64_t steps;
    double t;                         /* clock at the last lap (NN_PROF_START/LAP) */
} nn_net_prof;

struct nn_net {
    nn_dtype dtype;
    size_t esize;              /* bytes per element */
    int32_t n_layers;
    nn_net_layer *layers;
    int64_t n_in, n_out, n_params, max_width;
    int32_t first_param;       /* index of the first LINEAR (n_layers if none) */
    void *params, *grads;
    uint64_t seed, step;
    nn_compute compute;        /* GEMM mode: NN_COMPUTE_FP32 or _BF16 (float32 nets) */
    uint64_t wver;             /* parameter version: bumped by nn_net_params, nn_net_touch
                                  and every train step; packed weights of an older
                                  version are packed again */

    int64_t cap;               /* batch capacity of the workspace (0: none yet) */
    void *ws;                  /* the one workspace block */
    void *xcopy;               /* (cap, n_in) */
    void *scratch[2];          /* (cap, max_width) each */

    /* state of the last forward */
    int64_t batch;
    int trained;               /* 1 after a training forward whose inputs are still valid */
    const void *x;             /* input of the last training forward */
    int64_t rsx;
    const void *out;           /* (batch, n_out), always in the workspace */

    nn_net_prof *prof;         /* the record; NULL until profiling is first turned on */
    int prof_on;               /* nn_net_set_profiling(net, 1) */
    nn_net_prof *prof_live;    /* = prof inside a profiled train_step, else NULL: the
                                  one flag the passes check, once per phase */
};

/* Seconds on the monotonic clock (net.c). */
double nn_net_clock_s(void);

/* Phase timers of net_tmpl.h, on the calling thread (the pool has joined when a
 * phase returns). NN_PROF_START marks the clock; NN_PROF_LAP adds the time since
 * the last mark to layer `l`'s `slot` and marks again. Off: one branch each. */
#define NN_PROF_START(net)                                                                   \
    do {                                                                                     \
        if (NN_UNLIKELY((net)->prof_live != NULL)) (net)->prof_live->t = nn_net_clock_s();   \
    } while (0)
#define NN_PROF_LAP(net, l, slot)                                                            \
    do {                                                                                     \
        nn_net_prof *nn_p_ = (net)->prof_live;                                               \
        if (NN_UNLIKELY(nn_p_ != NULL)) {                                                    \
            double nn_t_ = nn_net_clock_s();                                                 \
            nn_p_->layer_s[(int64_t)(l) * NN_PROF_LAYER_SLOTS + (slot)] += nn_t_ - nn_p_->t; \
            nn_p_->t = nn_t_;                                                                \
        }                                                                                    \
    } while (0)

/* Float / double halves (net_tmpl.h). x has row stride rsx. */
int nn_snet_fwd(nn_net *net, const float *x, int64_t rsx, int64_t batch, int training);
int nn_dnet_fwd(nn_net *net, const double *x, int64_t rsx, int64_t batch, int training);
/* accumulate != 0: gradients += this batch's (nn_net_backward); 0: gradients =
 * this batch's (train_step: no zero_grad pass, and the GEMMs do not read them) */
int nn_snet_bwd(nn_net *net, const float *dout, int accumulate);
int nn_dnet_bwd(nn_net *net, const double *dout, int accumulate);

/* Grows the workspace to hold `batch` rows (never shrinks). */
int nn_net_reserve(nn_net *net, int64_t batch);

#endif /* NNCORE_NET_INTERNAL_H */
