/* net_stubs_tmp.c — TEMPORARY weak stand-ins so the net branch links before the
 * kernels/optim branches are merged. Strong definitions override these.
 * Deleted once kernels and optim are merged. */
#include "internal.h"
#define W __attribute__((weak))
W int nn_sact_forward(nn_act k, float p, float *y, const float *x, int64_t r, int64_t c) { return NN_ERR_UNSUPPORTED; }
W int nn_dact_forward(nn_act k, double p, double *y, const double *x, int64_t r, int64_t c) { return NN_ERR_UNSUPPORTED; }
W int nn_sact_backward(nn_act k, float p, float *dx, const float *dy, const float *x, const float *y, int64_t r, int64_t c) { return NN_ERR_UNSUPPORTED; }
W int nn_dact_backward(nn_act k, double p, double *dx, const double *dy, const double *x, const double *y, int64_t r, int64_t c) { return NN_ERR_UNSUPPORTED; }
W int nn_sloss(nn_loss_kind k, nn_reduction r, double p, double *l, float *g, const float *o, const float *t, const int64_t *lb, int64_t rows, int64_t cols) { return NN_ERR_UNSUPPORTED; }
W int nn_dloss(nn_loss_kind k, nn_reduction r, double p, double *l, double *g, const double *o, const double *t, const int64_t *lb, int64_t rows, int64_t cols) { return NN_ERR_UNSUPPORTED; }
W int nn_sdropout_forward(float *y, uint8_t *m, const float *x, int64_t n, float p, uint64_t s, uint64_t st, uint32_t l) { return NN_ERR_UNSUPPORTED; }
W int nn_ddropout_forward(double *y, uint8_t *m, const double *x, int64_t n, double p, uint64_t s, uint64_t st, uint32_t l) { return NN_ERR_UNSUPPORTED; }
W int nn_sdropout_backward(float *dx, const float *dy, const uint8_t *m, int64_t n, float p) { return NN_ERR_UNSUPPORTED; }
W int nn_ddropout_backward(double *dx, const double *dy, const uint8_t *m, int64_t n, double p) { return NN_ERR_UNSUPPORTED; }
W int nn_optim_step(nn_optim *o, void *p, const void *g) { return NN_ERR_UNSUPPORTED; }
W int nn_grad_norm(double *n, nn_dtype d, const void *g, const nn_optim_segment *s, int64_t ns) { return NN_ERR_UNSUPPORTED; }
W int nn_clip_grad_norm(double *n, nn_dtype d, void *g, const nn_optim_segment *s, int64_t ns, double m) { return NN_ERR_UNSUPPORTED; }
W int nn_clip_grad_value(nn_dtype d, void *g, const nn_optim_segment *s, int64_t ns, double c) { return NN_ERR_UNSUPPORTED; }
