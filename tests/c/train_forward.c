/* train_forward.c — test driver: load a model file with nn_net_load, run ONE
 * training forward (dropout on, step 0) on x[i, j] = ((i * n_in + j) % 7 - 3) / 4
 * for `batch` rows (argv[2]), print the outputs one per line (%.17g), as doubles.
 * Used by tests/test_c_embedding.py to check that what the file says about
 * training (the seed keying the dropout masks) is what the C network runs.
 * The kernel family is NNCORE_ARCH's, else the best this CPU runs (as in Python).
 * Exit status: 0, or -status of the failing call.
 */
#include <stdio.h>
#include <stdlib.h>

#include "nncore.h"

int main(int argc, char **argv) {
    if (argc != 3) return 64;
    if (nn_select_arch(getenv("NNCORE_ARCH")) != NN_OK) nn_select_arch(NULL);
    nn_net *net = NULL;
    int st = nn_net_load(&net, argv[1]);
    if (st != NN_OK) {
        printf("%d\n", st);
        return -st;
    }
    const int64_t batch = atoi(argv[2]), n_in = nn_net_num_inputs(net);
    const int64_t n_out = nn_net_num_outputs(net);
    const int f32 = nn_net_dtype(net) == NN_F32;
    const size_t es = f32 ? sizeof(float) : sizeof(double);
    void *x = malloc((size_t)(batch * n_in) * es), *out = malloc((size_t)(batch * n_out) * es);
    if (!x || !out) return 2;
    for (int64_t i = 0; i < batch * n_in; i++) {
        double v = (double)(i % 7 - 3) / 4.0;
        if (f32) ((float *)x)[i] = (float)v;
        else ((double *)x)[i] = v;
    }
    st = nn_net_forward(net, out, x, n_in, batch, 1);
    for (int64_t i = 0; st == NN_OK && i < batch * n_out; i++)
        printf("%.17g\n", f32 ? (double)((float *)out)[i] : ((double *)out)[i]);
    free(x);
    free(out);
    nn_net_free(net);
    return -st;
}
