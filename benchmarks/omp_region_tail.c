/* omp_region_tail.c — why nncore runs no OpenMP region: the time of a 2-thread
 * `#pragma omp parallel` region (fork, the work, the barrier at its end) against the
 * same work on one thread, median and tail, on this (possibly shared) machine.
 * Not for: timing nncore itself (benchmarks/compare.py does that).
 *
 *   cc -O2 -fopenmp benchmarks/omp_region_tail.c -o /tmp/omp_region_tail
 *   /tmp/omp_region_tail 200000 1000     # work per thread (loop trips), repetitions
 *
 * The barrier makes the caller wait for every team member, also one the OS has
 * not scheduled yet: on a loaded machine that shows in the 90th percentile as a
 * scheduler time slice, while the one-thread times stay put. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static volatile double sink;

static void work(long n) { /* a dependent chain of n adds: ~1 ns each */
    double s = 0;
    for (long i = 0; i < n; i++) s += (double)i * 1e-9;
    sink += s;
}

static int cmp(const void *x, const void *y) {
    double d = *(const double *)x - *(const double *)y;
    return (d > 0) - (d < 0);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    int reps = argc > 2 ? atoi(argv[2]) : 1000;
    if (n < 1 || reps < 10) return 2;
    double *t2 = malloc(sizeof(double) * (size_t)reps), *t1 = malloc(sizeof(double) * (size_t)reps);
    if (!t2 || !t1) return 1;
    double t0 = now();
    for (int r = 0; r < 50; r++) work(n);
    double per = (now() - t0) / 50;
    for (int r = 0; r < reps; r++) { /* interleaved: both see the same load */
        double a = now();
#pragma omp parallel num_threads(2)
        work(n);
        t2[r] = now() - a;
        a = now();
        work(n);
        work(n);
        t1[r] = now() - a;
    }
    qsort(t2, (size_t)reps, sizeof(double), cmp);
    qsort(t1, (size_t)reps, sizeof(double), cmp);
    printf("work per thread %.0f us\n", per * 1e6);
    printf("2 threads, OpenMP region: median %8.1f us  p90 %8.1f us  max %8.1f us\n",
           t2[reps / 2] * 1e6, t2[reps * 9 / 10] * 1e6, t2[reps - 1] * 1e6);
    printf("1 thread, same work:      median %8.1f us  p90 %8.1f us  max %8.1f us\n",
           t1[reps / 2] * 1e6, t1[reps * 9 / 10] * 1e6, t1[reps - 1] * 1e6);
    free(t2);
    free(t1);
    return 0;
}
