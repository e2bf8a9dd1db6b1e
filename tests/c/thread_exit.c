/* thread_exit.c — a thread that runs a GEMM and exits frees its packing buffers
 * (thread_buffer.c). Runs 64 threads one after another, each multiplying large
 * enough matrices to need ~0.6 MB of packing space, and prints the heap bytes in
 * use (glibc mallinfo2) after the first thread and after the last: a leak shows
 * as ~0.6 MB per thread. Not for: the GEMM's values (test_gemm.py checks those).
 */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "nncore.h"

enum { M = 256, N = 256, K = 384 };
static float *a, *b, *c;

static void *run(void *arg) {
    (void)arg;
    nn_sgemm(M, N, K, 1.0f, a, K, 1, b, N, 1, 0.0f, c, N); /* also an fp64 one */
    static double da[64 * 64], db[64 * 64], dc[64 * 64];
    nn_dgemm(64, 64, 64, 1.0, da, 64, 1, db, 64, 1, 0.0, dc, 64);
    return NULL;
}

/* heap chunks in use plus mmapped blocks (large buffers are mmapped) */
static size_t in_use(void) {
    const struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

int main(void) {
    nn_select_arch(NULL);
    nn_set_num_threads(1); /* the GEMM runs on the thread itself */
    a = calloc((size_t)M * K, sizeof(float));
    b = calloc((size_t)K * N, sizeof(float));
    c = calloc((size_t)M * N, sizeof(float));
    size_t after_first = 0;
    for (int t = 0; t < 64; t++) {
        pthread_t th;
        if (pthread_create(&th, NULL, run, NULL) != 0) return 2;
        pthread_join(th, NULL);
        if (t == 0) after_first = in_use();
    }
    printf("%zu %zu\n", after_first, in_use());
    return 0;
}
