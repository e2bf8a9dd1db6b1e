/* fuzz_model_reader.c — coverage-guided fuzz target for the C model-file reader.
 *
 * What it is for: libFuzzer (clang -fsanitize=fuzzer,address,undefined) feeds
 * arbitrary bytes; they are written to a private temporary file and handed to
 * nn_net_load (which reads from a path). A file that loads must give a usable
 * network: sizes > 0, an inference forward and a training forward + backward
 * on a small batch return NN_OK (weights are arbitrary, so values are not
 * checked). A failure must leave the output pointer NULL and return a
 * documented status. Every buffer is freed (leak detection on). Built with -DNN_FUZZ_MAIN it is instead a plain program
 * that replays files given on the command line (used under ASan and valgrind
 * by .ci/sanitize without needing clang).
 * What it is not: a test of the Python loader (tests/fuzz/fuzz_python.py).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nncore.h"

static char g_path[64];

static void check_net(nn_net *net) {
    int64_t n_in = nn_net_num_inputs(net), n_out = nn_net_num_outputs(net);
    size_t es = nn_net_dtype(net) == NN_F32 ? sizeof(float) : sizeof(double);
    if (n_in <= 0 || n_out <= 0 || nn_net_num_params(net) <= 0) abort();
    /* the reader bounds parameters by the file size; keep the probe batch small */
    if (n_in > (1 << 20) || n_out > (1 << 20)) return;
    const int64_t batch = 3;
    void *x = calloc((size_t)(batch * n_in), es);
    void *out = malloc((size_t)(batch * n_out) * es);
    if (x && out) {
        for (int64_t i = 0; i < batch * n_in; i++) {
            double v = (double)((i * 7) % 11) / 5.0 - 1.0;
            if (es == sizeof(float)) ((float *)x)[i] = (float)v;
            else ((double *)x)[i] = v;
        }
        int st = nn_net_forward(net, out, x, n_in, batch, 0);
        if (st != NN_OK && st != NN_ERR_NOMEM) abort();
        /* a training forward + backward exercises the workspace and dropout masks */
        st = nn_net_forward(net, NULL, x, n_in, batch, 1);
        if (st == NN_OK) {
            memset(out, 0, (size_t)(batch * n_out) * es);
            if (nn_net_backward(net, out) != NN_OK) abort();
        }
    }
    free(x);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_path[0]) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(g_path, sizeof g_path, "%s/nncore-fuzz-%ld.st", dir, (long)getpid());
    }
    FILE *f = fopen(g_path, "wb");
    if (!f) return 0;
    if (size && fwrite(data, 1, size, f) != size) { fclose(f); return 0; }
    fclose(f);
    nn_net *net = NULL;
    int st = nn_net_load(&net, g_path);
    if (st == NN_OK) {
        if (!net) abort();
        check_net(net);
        nn_net_free(net);
    } else if (net != NULL || (st != NN_ERR_FORMAT && st != NN_ERR_IO && st != NN_ERR_NOMEM)) {
        abort();   /* a failure must leave *net NULL and give a documented status */
    }
    unlink(g_path);
    return 0;
}

#ifdef NN_FUZZ_MAIN
/* Replays files: prints "<status> <path>" per file; exit 0 unless something aborts. */
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) { perror(argv[i]); return 2; }
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = (uint8_t *)malloc(n > 0 ? (size_t)n : 1);
        if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { fclose(f); free(buf); return 2; }
        fclose(f);
        LLVMFuzzerTestOneInput(buf, (size_t)n);
        free(buf);
    }
    printf("replayed %d files\n", argc - 1);
    return 0;
}
#endif
