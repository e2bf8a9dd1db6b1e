# cdef extern declarations of csrc/nncore.h (keep in step with the header).
# The enums are not listed here: setup.py generates _codes.pxi from the header.
from libc.stdint cimport int64_t, uint64_t, uint32_t, int32_t, uint8_t

include "_codes.pxi"

cdef extern from "nncore.h" nogil:
    const char *nn_strerror(int status)

    int nn_select_arch(const char *name)
    const char *nn_current_arch()
    const char *nn_available_archs()
    void nn_set_num_threads(int n)
    int nn_get_num_threads()
    int nn_have_openmp()
    const char *nn_compiler()

    int nn_sgemm(int64_t m, int64_t n, int64_t k, float alpha,
                 const float *a, int64_t rsa, int64_t csa,
                 const float *b, int64_t rsb, int64_t csb,
                 float beta, float *c, int64_t rsc)
    int nn_dgemm(int64_t m, int64_t n, int64_t k, double alpha,
                 const double *a, int64_t rsa, int64_t csa,
                 const double *b, int64_t rsb, int64_t csb,
                 double beta, double *c, int64_t rsc)

    int nn_sact_forward(nn_act kind, float param, float *y, const float *x, int64_t rows, int64_t cols)
    int nn_dact_forward(nn_act kind, double param, double *y, const double *x, int64_t rows, int64_t cols)
    int nn_sact_backward(nn_act kind, float param, float *dx, const float *dy, const float *x, const float *y, int64_t rows, int64_t cols)
    int nn_dact_backward(nn_act kind, double param, double *dx, const double *dy, const double *x, const double *y, int64_t rows, int64_t cols)

    int nn_sloss(nn_loss_kind kind, nn_reduction red, double param, double *loss, float *grad,
                 const float *out, const float *target, const int64_t *labels,
                 const float *weights, int64_t rows, int64_t cols)
    int nn_dloss(nn_loss_kind kind, nn_reduction red, double param, double *loss, double *grad,
                 const double *out, const double *target, const int64_t *labels,
                 const double *weights, int64_t rows, int64_t cols)

    void nn_philox4x32(uint32_t *out, const uint32_t *ctr, const uint32_t *key)
    int nn_sdropout_forward(float *y, uint8_t *mask, const float *x, int64_t n, float p, uint64_t seed, uint64_t step, uint32_t layer)
    int nn_ddropout_forward(double *y, uint8_t *mask, const double *x, int64_t n, double p, uint64_t seed, uint64_t step, uint32_t layer)
    int nn_sdropout_backward(float *dx, const float *dy, const uint8_t *mask, int64_t n, float p)
    int nn_ddropout_backward(double *dx, const double *dy, const uint8_t *mask, int64_t n, double p)

    ctypedef struct nn_optim_group:
        double lr
        double weight_decay
        double l1
        double momentum
        double dampening
        int nesterov
        double alpha
        int centered
        double eps
        double beta1
        double beta2
        int amsgrad
        int eps_hat
        double lr_decay
        double max_norm
    ctypedef struct nn_optim_segment:
        int64_t offset
        int64_t length
        int64_t rows
        int64_t cols
        int32_t group
    ctypedef struct nn_optim:
        nn_optim_kind kind
        nn_dtype dtype
        int32_t n_groups
        const nn_optim_group *groups
        int64_t n_segments
        const nn_optim_segment *segments
        void *state[3]
        int64_t step
    int nn_optim_step(nn_optim *opt, void *params, const void *grads)
    int nn_grad_norm(double *norm, nn_dtype dtype, const void *grads, const nn_optim_segment *segments, int64_t n_segments)
    int nn_clip_grad_norm(double *norm, nn_dtype dtype, void *grads, const nn_optim_segment *segments, int64_t n_segments, double max_norm)
    int nn_clip_grad_value(nn_dtype dtype, void *grads, const nn_optim_segment *segments, int64_t n_segments, double clip)

    ctypedef struct nn_layer_spec:
        nn_layer_kind kind
        int64_t in_features
        int64_t out_features
        int32_t bias
        nn_act act
        double param
    ctypedef struct nn_net:
        pass
    nn_net *nn_net_create(nn_dtype dtype, const nn_layer_spec *layers, int32_t n_layers, uint64_t seed, int *status)
    void nn_net_free(nn_net *net)
    nn_dtype nn_net_dtype(const nn_net *net)
    int32_t nn_net_num_layers(const nn_net *net)
    int64_t nn_net_num_inputs(const nn_net *net)
    int64_t nn_net_num_outputs(const nn_net *net)
    int64_t nn_net_num_params(const nn_net *net)
    void *nn_net_params(nn_net *net)
    void nn_net_touch(nn_net *net)
    void *nn_net_grads(nn_net *net)
    int64_t nn_net_weight_offset(const nn_net *net, int32_t layer)
    int64_t nn_net_bias_offset(const nn_net *net, int32_t layer)
    int nn_net_forward(nn_net *net, void *out, const void *x, int64_t rsx, int64_t batch, int training)
    const void *nn_net_output(const nn_net *net)
    int nn_net_backward(nn_net *net, const void *dout)
    void nn_net_zero_grad(nn_net *net)
    uint64_t nn_net_get_step(const nn_net *net)
    void nn_net_set_step(nn_net *net, uint64_t step)
    int nn_net_set_compute(nn_net *net, nn_compute mode)
    nn_compute nn_net_get_compute(const nn_net *net)
    int nn_net_train_step(nn_net *net, const void *x, int64_t rsx, int64_t batch,
                          nn_loss_kind loss, nn_reduction red, double loss_param,
                          const void *target, const int64_t *labels, const void *weights,
                          nn_optim *opt, double clip_norm, double clip_value,
                          double *loss_out, double *grad_norm)
    int nn_net_train_grads(nn_net *net, const void *x, int64_t rsx, int64_t batch,
                           nn_loss_kind loss, nn_reduction red, double loss_param,
                           const void *target, const int64_t *labels, const void *weights,
                           double *loss_out)
    int nn_net_apply_update(nn_net *net, nn_optim *opt, double clip_norm, double clip_value,
                            double *grad_norm)
    int nn_net_set_profiling(nn_net *net, int on)
    int nn_net_profile_read(const nn_net *net, double *layer_s, double *step_s, int64_t *steps)
    enum: NN_PROF_LAYER_SLOTS
    enum: NN_PROF_STEP_SLOTS
    int nn_net_load(nn_net **net, const char *path)
