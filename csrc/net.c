/* net.c — the network object of nncore.h: creation and validation, the flat
 * parameter / gradient buffers, the reusable workspace, and the public entry
 * points (forward, backward, zero_grad, the fused train_step).
 * Not for: the arithmetic of the passes (net_tmpl.h, one source for float and
 * double) nor any kernel (gemm.c, activation.c, loss.c, rng.c, optim.c).
 *
 * Every entry point validates its arguments and returns an nn_status; nothing
 * allocates once the workspace holds the largest batch seen.
 */
#include "net_internal.h"

#include <string.h>
#if defined(_WIN32)
#include <windows.h>
#else
#include <time.h>
#endif

/* ------------------------------------------------ the two dtype halves */

#define NN_TMPL "net_tmpl.h"
#include "instantiate.h"

/* ------------------------------------------------------- creation */

#define NN_NET_MAX_LAYERS 100000

static int check_spec(const nn_layer_spec *s) {
    if (s->in_features <= 0 || s->out_features <= 0) return NN_ERR_ARG;
    switch (s->kind) {
    case NN_LAYER_LINEAR:
        if (s->bias != 0 && s->bias != 1) return NN_ERR_ARG;
        return NN_OK;
    case NN_LAYER_ACT:
        if (s->in_features != s->out_features) return NN_ERR_ARG;
        if ((int)s->act < (int)NN_ACT_IDENTITY || (int)s->act > (int)NN_ACT_LAST)
            return NN_ERR_ARG;
        if (!isfinite(s->param)) return NN_ERR_ARG;
        return NN_OK;
    case NN_LAYER_DROPOUT:
        if (s->in_features != s->out_features) return NN_ERR_ARG;
        if (!(s->param >= 0.0 && s->param < 1.0)) return NN_ERR_ARG;
        return NN_OK;
    default:
        return NN_ERR_ARG;
    }
}

/* *total += bytes rounded up to 64; NN_ERR_OVERFLOW past INT64_MAX. */
static int add_region(int64_t *total, int64_t bytes) {
    if (bytes < 0 || bytes > INT64_MAX - 63) return NN_ERR_OVERFLOW;
    int64_t r = (bytes + 63) & ~(int64_t)63;
    if (*total > INT64_MAX - r) return NN_ERR_OVERFLOW;
    *total += r;
    return NN_OK;
}

static int region_bytes(int64_t rows, int64_t cols, int64_t esize, int64_t *out) {
    int64_t n;
    int st = nn_mul_size(rows, cols, &n);
    if (st != NN_OK) return st;
    return nn_mul_size(n, esize, out);
}

nn_net *nn_net_create(nn_dtype dtype, const nn_layer_spec *layers, int32_t n_layers,
                      uint64_t seed, int *status) {
    int dummy;
    if (status == NULL) status = &dummy;
    *status = NN_ERR_ARG;
    if (dtype != NN_F32 && dtype != NN_F64) return NULL;
    if (layers == NULL || n_layers <= 0 || n_layers > NN_NET_MAX_LAYERS) return NULL;
    for (int32_t l = 0; l < n_layers; l++) {
        if (check_spec(&layers[l]) != NN_OK) return NULL;
        if (l > 0 && layers[l].in_features != layers[l - 1].out_features) return NULL;
    }
    size_t esize = dtype == NN_F32 ? sizeof(float) : sizeof(double);

    nn_net *net = (nn_net *)calloc(1, sizeof(nn_net));
    nn_net_layer *ls = (nn_net_layer *)calloc((size_t)n_layers, sizeof(nn_net_layer));
    if (net == NULL || ls == NULL) {
        free(net);
        free(ls);
        *status = NN_ERR_NOMEM;
        return NULL;
    }
    net->dtype = dtype;
    net->esize = esize;
    net->n_layers = n_layers;
    net->layers = ls;
    net->n_in = layers[0].in_features;
    net->n_out = layers[n_layers - 1].out_features;
    net->first_param = n_layers;
    net->seed = seed;

    int64_t n_params = 0, max_width = net->n_in;
    int st = NN_OK;
    for (int32_t l = 0; l < n_layers && st == NN_OK; l++) {
        nn_net_layer *ly = &ls[l];
        ly->spec = layers[l];
        ly->w_off = ly->b_off = -1;
        if (ly->spec.out_features > max_width) max_width = ly->spec.out_features;
        if (ly->spec.kind != NN_LAYER_LINEAR) continue;
        if (net->first_param == n_layers) net->first_param = l;
        int64_t nw;
        st = nn_mul_size(ly->spec.in_features, ly->spec.out_features, &nw);
        if (st != NN_OK) break;
        if (n_params > INT64_MAX - nw) { st = NN_ERR_OVERFLOW; break; }
        ly->w_off = n_params;
        n_params += nw;
        if (ly->spec.bias) {
            if (n_params > INT64_MAX - ly->spec.out_features) { st = NN_ERR_OVERFLOW; break; }
            ly->b_off = n_params;
            n_params += ly->spec.out_features;
        }
        /* a ReLU right after a LINEAR runs in the LINEAR's epilogue */
        if (l + 1 < n_layers && layers[l + 1].kind == NN_LAYER_ACT &&
            layers[l + 1].act == NN_ACT_RELU) {
            ly->fuse_relu = 1;
            ls[l + 1].fuse_relu = 1;
        }
    }
    int64_t bytes = 0;
    if (st == NN_OK) st = nn_mul_size(n_params, (int64_t)esize, &bytes);
    if (st == NN_OK && (uint64_t)bytes > (uint64_t)SIZE_MAX) st = NN_ERR_OVERFLOW;
    if (st == NN_OK) {
        net->n_params = n_params;
        net->max_width = max_width;
        net->params = nn_alloc((size_t)bytes);
        net->grads = nn_alloc((size_t)bytes);
        if (net->params == NULL || net->grads == NULL) st = NN_ERR_NOMEM;
    }
    if (st != NN_OK) {
        nn_net_free(net);
        *status = st;
        return NULL;
    }
    memset(net->params, 0, (size_t)bytes);
    memset(net->grads, 0, (size_t)bytes);
    *status = NN_OK;
    return net;
}

void nn_net_free(nn_net *net) {
    if (net == NULL) return;
    nn_free(net->params);
    nn_free(net->grads);
    nn_free(net->ws);
    for (int32_t l = 0; net->layers != NULL && l < net->n_layers; l++) {
        nn_free(net->layers[l].pk);
        nn_free(net->layers[l].bpk);
    }
    if (net->prof != NULL) free(net->prof->layer_s);
    free(net->prof);
    free(net->layers);
    free(net);
}

/* ---------------------------------------------------------- workspace */

int nn_net_reserve(nn_net *net, int64_t batch) {
    if (batch <= net->cap) return NN_OK;
    int64_t es = (int64_t)net->esize, total = 0, b;
    int st;
    for (int32_t l = 0; l < net->n_layers; l++) {
        nn_net_layer *ly = &net->layers[l];
        int64_t w = ly->spec.out_features;
        if (!(ly->spec.kind == NN_LAYER_ACT && ly->fuse_relu)) {
            if ((st = region_bytes(batch, w, es, &b)) != NN_OK) return st;
            if ((st = add_region(&total, b)) != NN_OK) return st;
        }
        if (ly->spec.kind == NN_LAYER_DROPOUT) {
            if ((st = region_bytes(batch, w, 1, &b)) != NN_OK) return st;
            if ((st = add_region(&total, b)) != NN_OK) return st;
        }
    }
    if ((st = region_bytes(batch, net->n_in, es, &b)) != NN_OK) return st;
    if ((st = add_region(&total, b)) != NN_OK) return st;
    if ((st = region_bytes(batch, net->max_width, es, &b)) != NN_OK) return st;
    if ((st = add_region(&total, b)) != NN_OK) return st;
    if ((st = add_region(&total, b)) != NN_OK) return st;
    if ((uint64_t)total > (uint64_t)SIZE_MAX) return NN_ERR_OVERFLOW;

    char *ws = (char *)nn_alloc((size_t)total);
    if (ws == NULL) return NN_ERR_NOMEM;
    nn_free(net->ws);
    net->ws = ws;
    net->cap = batch;
    net->trained = 0;
    net->out = NULL;
    /* carve (sizes were checked above) */
    char *p = ws;
#define NN_CARVE(bytes) (p += (((bytes) + 63) & ~(int64_t)63), p - (((bytes) + 63) & ~(int64_t)63))
    for (int32_t l = 0; l < net->n_layers; l++) {
        nn_net_layer *ly = &net->layers[l];
        int64_t w = ly->spec.out_features;
        ly->slot = NULL;
        ly->mask = NULL;
        ly->y = NULL;
        if (!(ly->spec.kind == NN_LAYER_ACT && ly->fuse_relu)) ly->slot = NN_CARVE(batch * w * es);
        if (ly->spec.kind == NN_LAYER_DROPOUT) ly->mask = (uint8_t *)NN_CARVE(batch * w);
    }
    net->xcopy = NN_CARVE(batch * net->n_in * es);
    net->scratch[0] = NN_CARVE(batch * net->max_width * es);
    net->scratch[1] = NN_CARVE(batch * net->max_width * es);
#undef NN_CARVE
    return NN_OK;
}

/* ------------------------------------------------------------ queries */

nn_dtype nn_net_dtype(const nn_net *net) { return net ? net->dtype : NN_F32; }
int32_t nn_net_num_layers(const nn_net *net) { return net ? net->n_layers : 0; }
int64_t nn_net_num_inputs(const nn_net *net) { return net ? net->n_in : 0; }
int64_t nn_net_num_outputs(const nn_net *net) { return net ? net->n_out : 0; }
int64_t nn_net_num_params(const nn_net *net) { return net ? net->n_params : 0; }
void *nn_net_params(nn_net *net) {
    if (net == NULL) return NULL;
    net->wver++; /* the caller may write through it */
    return net->params;
}
void nn_net_touch(nn_net *net) {
    if (net) net->wver++;
}
void *nn_net_grads(nn_net *net) { return net ? net->grads : NULL; }

int64_t nn_net_weight_offset(const nn_net *net, int32_t layer) {
    if (net == NULL || layer < 0 || layer >= net->n_layers) return -1;
    return net->layers[layer].w_off;
}

int64_t nn_net_bias_offset(const nn_net *net, int32_t layer) {
    if (net == NULL || layer < 0 || layer >= net->n_layers) return -1;
    return net->layers[layer].b_off;
}

const void *nn_net_output(const nn_net *net) { return net ? net->out : NULL; }
uint64_t nn_net_get_step(const nn_net *net) { return net ? net->step : 0; }
void nn_net_set_step(nn_net *net, uint64_t step) {
    if (net) net->step = step;
}

int nn_net_set_compute(nn_net *net, nn_compute mode) {
    if (net == NULL) return NN_ERR_ARG;
    if (mode != NN_COMPUTE_FP32 && mode != NN_COMPUTE_BF16) return NN_ERR_ARG;
    if (mode == NN_COMPUTE_BF16 && net->dtype != NN_F32) return NN_ERR_ARG;
    net->compute = mode;
    return NN_OK;
}

nn_compute nn_net_get_compute(const nn_net *net) {
    return net ? net->compute : NN_COMPUTE_FP32;
}

void nn_net_zero_grad(nn_net *net) {
    if (net == NULL) return;
    memset(net->grads, 0, (size_t)net->n_params * net->esize);
}

/* ---------------------------------------------------- forward / backward */

/* keep_x: a training forward from the public API copies x (backward may come
 * after the caller's array is gone). A first layer other than LINEAR needs
 * contiguous rows, so x is copied then too when rsx != n_in. */
static int forward_any(nn_net *net, const void *x, int64_t rsx, int64_t batch, int training,
                       int keep_x) {
    int st = nn_net_reserve(net, batch);
    if (st != NN_OK) return st;
    int linear_first = net->layers[0].spec.kind == NN_LAYER_LINEAR;
    if ((keep_x && training && linear_first) || (!linear_first && rsx != net->n_in)) {
        size_t row = (size_t)net->n_in * net->esize;
        const char *src = (const char *)x;
        char *dst = (char *)net->xcopy;
        if (rsx == net->n_in) {
            memcpy(dst, src, row * (size_t)batch);
        } else {
            for (int64_t i = 0; i < batch; i++)
                memcpy(dst + (size_t)i * row, src + (size_t)i * (size_t)rsx * net->esize, row);
        }
        x = net->xcopy;
        rsx = net->n_in;
    }
    if (net->dtype == NN_F32) return nn_snet_fwd(net, (const float *)x, rsx, batch, training);
    return nn_dnet_fwd(net, (const double *)x, rsx, batch, training);
}

int nn_net_forward(nn_net *net, void *out, const void *x, int64_t rsx, int64_t batch,
                   int training) {
    if (net == NULL || x == NULL || batch <= 0 || rsx < net->n_in) return NN_ERR_ARG;
    int st = forward_any(net, x, rsx, batch, training != 0, 1);
    if (st != NN_OK) {
        net->trained = 0;
        return st;
    }
    if (out != NULL) memcpy(out, net->out, (size_t)batch * (size_t)net->n_out * net->esize);
    return NN_OK;
}

int nn_net_backward(nn_net *net, const void *dout) {
    if (net == NULL || dout == NULL) return NN_ERR_ARG;
    if (!net->trained) return NN_ERR_STATE;
    if (net->dtype == NN_F32) return nn_snet_bwd(net, (const float *)dout, 1);
    return nn_dnet_bwd(net, (const double *)dout, 1);
}

/* ----------------------------------------------------------- profiling */

double nn_net_clock_s(void) {
#if defined(_WIN32)
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (double)c.QuadPart / (double)f.QuadPart;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#endif
}

int nn_net_set_profiling(nn_net *net, int on) {
    if (net == NULL) return NN_ERR_ARG;
    if (!on) {
        net->prof_on = 0;
        return NN_OK;
    }
    if (net->prof == NULL) {
        nn_net_prof *p = (nn_net_prof *)calloc(1, sizeof(nn_net_prof));
        double *ls = (double *)calloc((size_t)net->n_layers * NN_PROF_LAYER_SLOTS, sizeof(double));
        if (p == NULL || ls == NULL) {
            free(p);
            free(ls);
            return NN_ERR_NOMEM;
        }
        p->layer_s = ls;
        net->prof = p;
    }
    memset(net->prof->layer_s, 0, (size_t)net->n_layers * NN_PROF_LAYER_SLOTS * sizeof(double));
    memset(net->prof->step_s, 0, sizeof net->prof->step_s);
    net->prof->steps = 0;
    net->prof_on = 1;
    return NN_OK;
}

int nn_net_profile_read(const nn_net *net, double *layer_s, double *step_s, int64_t *steps) {
    if (net == NULL) return NN_ERR_ARG;
    if (net->prof == NULL) return NN_ERR_STATE;
    if (layer_s != NULL)
        memcpy(layer_s, net->prof->layer_s,
               (size_t)net->n_layers * NN_PROF_LAYER_SLOTS * sizeof(double));
    if (step_s != NULL) memcpy(step_s, net->prof->step_s, sizeof net->prof->step_s);
    if (steps != NULL) *steps = net->prof->steps;
    return NN_OK;
}

/* The step's phase timer: adds the time since *t to step slot `slot` (p NULL: off). */
static void prof_step_lap(nn_net_prof *p, int slot, double *t) {
    if (p == NULL) return;
    double now = nn_net_clock_s();
    p->step_s[slot] += now - *t;
    *t = now;
}

/* ------------------------------------------------------------ train step */

static int check_optim(const nn_net *net, const nn_optim *opt) {
    if (opt->dtype != net->dtype) return NN_ERR_ARG;
    if (opt->n_segments < 0 || (opt->n_segments > 0 && opt->segments == NULL)) return NN_ERR_ARG;
    for (int64_t i = 0; i < opt->n_segments; i++) {
        const nn_optim_segment *s = &opt->segments[i];
        if (s->offset < 0 || s->length < 0 || s->offset > net->n_params - s->length)
            return NN_ERR_ARG;
    }
    return NN_OK;
}

/* forward (training), loss, backward: the first half of nn_net_train_step.
 * Profiled (prof_live, set by nn_net_train_step only): forward, loss, backward. */
int nn_net_train_grads(nn_net *net, const void *x, int64_t rsx, int64_t batch,
                       nn_loss_kind loss, nn_reduction red, double loss_param,
                       const void *target, const int64_t *labels, const void *weights,
                       double *loss_out) {
    if (net == NULL || x == NULL || batch <= 0 || rsx < net->n_in || loss_out == NULL)
        return NN_ERR_ARG;
    if ((int)loss < (int)NN_LOSS_MSE || (int)loss > (int)NN_LOSS_LAST) return NN_ERR_ARG;
    if (red != NN_REDUCE_MEAN && red != NN_REDUCE_SUM) return NN_ERR_ARG;
    if (loss == NN_LOSS_CE_LABELS ? labels == NULL : target == NULL) return NN_ERR_ARG;
    if (!isfinite(loss_param)) return NN_ERR_ARG;
    nn_net_prof *prof = net->prof_live;
    double t = prof != NULL ? nn_net_clock_s() : 0.0;
    int st = forward_any(net, x, rsx, batch, 1, 0);
    prof_step_lap(prof, NN_PROF_STEP_FORWARD, &t);
    if (st != NN_OK) goto done;
    double lv = 0.0;
    void *g = net->scratch[0];
    if (net->dtype == NN_F32)
        st = nn_sloss(loss, red, loss_param, &lv, (float *)g, (const float *)net->out,
                      (const float *)target, labels, (const float *)weights, batch,
                      net->n_out);
    else
        st = nn_dloss(loss, red, loss_param, &lv, (double *)g, (const double *)net->out,
                      (const double *)target, labels, (const double *)weights, batch,
                      net->n_out);
    prof_step_lap(prof, NN_PROF_STEP_LOSS, &t);
    if (st != NN_OK) goto done;
    /* backward writes every gradient (no zero_grad pass first) */
    st = net->dtype == NN_F32 ? nn_snet_bwd(net, (const float *)g, 0)
                              : nn_dnet_bwd(net, (const double *)g, 0);
    prof_step_lap(prof, NN_PROF_STEP_BACKWARD, &t);
    if (st == NN_OK) *loss_out = lv;
done:
    net->trained = 0; /* x belongs to the caller: no backward from it later */
    return st;
}

/* clipping and the optimizer update on the gradients as they are: the second half.
 * Profiled (prof_live): gradient norm and clipping, the update. */
int nn_net_apply_update(nn_net *net, nn_optim *opt, double clip_norm, double clip_value,
                        double *grad_norm) {
    if (net == NULL || opt == NULL || !(clip_norm >= 0.0) || !(clip_value >= 0.0))
        return NN_ERR_ARG;
    int st = check_optim(net, opt);
    if (st != NN_OK) return st;
    nn_net_prof *prof = net->prof_live;
    double t = prof != NULL ? nn_net_clock_s() : 0.0;
    double norm = 0.0;
    if (clip_norm > 0.0)
        st = nn_clip_grad_norm(&norm, net->dtype, net->grads, opt->segments, opt->n_segments,
                               clip_norm);
    else if (grad_norm != NULL)
        st = nn_grad_norm(&norm, net->dtype, net->grads, opt->segments, opt->n_segments);
    if (st != NN_OK) return st;
    if (clip_value > 0.0)
        st = nn_clip_grad_value(net->dtype, net->grads, opt->segments, opt->n_segments,
                                clip_value);
    prof_step_lap(prof, NN_PROF_STEP_CLIP, &t);
    if (st != NN_OK) return st;
    st = nn_optim_step(opt, net->params, net->grads);
    net->wver++; /* the update (even a partial one) changed the parameters */
    prof_step_lap(prof, NN_PROF_STEP_UPDATE, &t);
    if (st == NN_OK && grad_norm != NULL) *grad_norm = norm;
    return st;
}

int nn_net_train_step(nn_net *net, const void *x, int64_t rsx, int64_t batch,
                      nn_loss_kind loss, nn_reduction red, double loss_param,
                      const void *target, const int64_t *labels, const void *weights,
                      nn_optim *opt, double clip_norm, double clip_value,
                      double *loss_out, double *grad_norm) {
    if (net == NULL || opt == NULL || loss_out == NULL || !(clip_norm >= 0.0) ||
        !(clip_value >= 0.0))
        return NN_ERR_ARG;
    int st = check_optim(net, opt);
    if (st != NN_OK) return st;
    /* profiling: only inside this call do the passes (and the two halves) time
     * themselves; t0 marks the whole step */
    nn_net_prof *prof = net->prof_on ? net->prof : NULL;
    double t0 = prof != NULL ? nn_net_clock_s() : 0.0;
    net->prof_live = prof;
    double lv = 0.0;
    st = nn_net_train_grads(net, x, rsx, batch, loss, red, loss_param, target, labels,
                            weights, &lv);
    if (st == NN_OK) st = nn_net_apply_update(net, opt, clip_norm, clip_value, grad_norm);
    if (st == NN_OK) *loss_out = lv;
    net->prof_live = NULL;
    if (prof != NULL) {
        prof->step_s[NN_PROF_STEP_TOTAL] += nn_net_clock_s() - t0;
        prof->steps++;
    }
    return st;
}
