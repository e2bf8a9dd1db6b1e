/* pool_stress.c — a ThreadSanitizer driver for the worker team (csrc/pool.c).
 *
 * Two caller threads at once, first with the default thread count (never set:
 * both callers' first kernels ask for it at the same time), then with 3
 * threads asked for: one runs GEMMs of changing shapes (checked against a
 * double-precision loop), the other whole training steps of a small MLP (ReLU,
 * softmax cross-entropy, Adam), whose losses must equal those of the same
 * steps replayed on one thread afterwards.
 * One caller holds the team while the other runs serially, jobs come back to
 * back (workers awake) and after pauses (workers asleep): the paths a data race
 * would hide in. Built by .ci/sanitize with -fsanitize=thread; exits non-zero
 * on a wrong result (TSan reports races itself).
 * Not for: speed, or coverage of the kernels (the Python tests do that).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "nncore.h"

#define STEPS 40

static int gemm_rounds(void) {
    for (int r = 0; r < 40; r++) {
        const int64_t m = 96 + 7 * r, n = 180 + 11 * r, k = 64 + 3 * r;
        float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n);
        float *c = malloc(sizeof(float) * m * n);
        if (!a || !b || !c) return 1;
        for (int64_t i = 0; i < m * k; i++) a[i] = (float)((i * 7 + r) % 13) - 6.0f;
        for (int64_t i = 0; i < k * n; i++) b[i] = (float)((i * 5 + r) % 7) - 3.0f;
        if (nn_sgemm(m, n, k, 1.0f, a, k, 1, b, n, 1, 0.0f, c, n) != NN_OK) return 1;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0.0;
                for (int64_t p = 0; p < k; p++) s += (double)a[i * k + p] * b[p * n + j];
                if (s != c[i * n + j]) { /* small integers: exact */
                    fprintf(stderr, "gemm %lldx%lldx%lld wrong at (%lld, %lld)\n", (long long)m,
                            (long long)n, (long long)k, (long long)i, (long long)j);
                    return 1;
                }
            }
        free(a), free(b), free(c);
        if (r % 10 == 9) { /* let the workers fall asleep */
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}

/* STEPS Adam steps of a 64-192-96-10 MLP, batch 150; losses into out. */
static int train(double *out) {
    const nn_layer_spec spec[5] = {
        {NN_LAYER_LINEAR, 64, 192, 1, NN_ACT_IDENTITY, 0}, {NN_LAYER_ACT, 192, 192, 0, NN_ACT_RELU, 0},
        {NN_LAYER_LINEAR, 192, 96, 1, NN_ACT_IDENTITY, 0}, {NN_LAYER_ACT, 96, 96, 0, NN_ACT_RELU, 0},
        {NN_LAYER_LINEAR, 96, 10, 1, NN_ACT_IDENTITY, 0}};
    int st = NN_OK;
    nn_net *net = nn_net_create(NN_F32, spec, 5, 1, &st);
    if (!net) return 1;
    const int64_t np = nn_net_num_params(net), batch = 150;
    float *p = nn_net_params(net);
    for (int64_t i = 0; i < np; i++) p[i] = 0.05f * (float)((i * 37) % 11 - 5);
    float *m = calloc((size_t)np, sizeof(float)), *v = calloc((size_t)np, sizeof(float));
    float *x = malloc(sizeof(float) * batch * 64);
    int64_t *labels = malloc(sizeof(int64_t) * batch);
    if (!m || !v || !x || !labels) return 1;
    for (int64_t i = 0; i < batch * 64; i++) x[i] = (float)((i * 13) % 17) / 17.0f - 0.5f;
    for (int64_t i = 0; i < batch; i++) labels[i] = (i * 3) % 10;
    nn_optim_group g = {0};
    g.lr = 1e-3, g.eps = 1e-8, g.beta1 = 0.9, g.beta2 = 0.999;
    nn_optim_segment seg = {0, np, 1, np, 0};
    nn_optim opt = {NN_OPTIM_ADAM, NN_F32, 1, &g, 1, &seg, {m, v, NULL}, 0};
    for (int s = 0; s < STEPS && st == NN_OK; s++) {
        double norm;
        st = nn_net_train_step(net, x, 64, batch, NN_LOSS_CE_LABELS, NN_REDUCE_MEAN, 0.0, NULL,
                               labels, NULL, &opt, 0.0, 0.0, &out[s], &norm);
    }
    nn_net_free(net);
    free(m), free(v), free(x), free(labels);
    return st != NN_OK;
}

static void *gemm_thread(void *arg) {
    *(int *)arg = gemm_rounds();
    return NULL;
}

/* The GEMM caller on a new thread and the training caller on this one, at once. */
static int two_callers(double *losses) {
    int gemm_failed = 0;
    pthread_t t;
    if (pthread_create(&t, NULL, gemm_thread, &gemm_failed) != 0) return 1;
    const int train_failed = train(losses);
    pthread_join(t, NULL);
    return gemm_failed || train_failed;
}

int main(void) {
    if (nn_select_arch(NULL) != NN_OK) return 1;
    /* first with the default thread count, never set: both callers' first
     * kernels ask for it at once; then with 3 threads asked for */
    double first[STEPS], losses[STEPS], again[STEPS];
    if (two_callers(first)) return 1;
    nn_set_num_threads(3);
    if (two_callers(losses)) return 1;
    nn_set_num_threads(1);
    if (train(again)) return 1;
    for (int s = 0; s < STEPS; s++)
        if (again[s] != losses[s] || again[s] != first[s] || !isfinite(again[s])) {
            fprintf(stderr, "step %d: loss %.17g and %.17g with threads, %.17g on one\n", s,
                    first[s], losses[s], again[s]);
            return 1;
        }
    printf("pool stress: ok\n");
    return 0;
}
