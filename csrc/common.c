/* common.c — status strings, aligned allocation and the thread-count setting.
 * Not for: kernels (see gemm.c, activation.c, ...) or CPU dispatch (cpu.c). */
#include "internal.h"

#include <stdlib.h>

#ifdef NN_HAVE_OPENMP
#include <omp.h> /* only for the default thread count; loops run on pool.c */
#endif

const char *nn_strerror(int status) {
    switch (status) {
    case NN_OK: return "ok";
    case NN_ERR_ARG: return "invalid argument";
    case NN_ERR_NOMEM: return "out of memory";
    case NN_ERR_IO: return "i/o error";
    case NN_ERR_FORMAT: return "malformed model file";
    case NN_ERR_STATE: return "call out of order";
    case NN_ERR_UNSUPPORTED: return "not supported on this CPU or build";
    case NN_ERR_OVERFLOW: return "size overflows 64 bits";
    default: return "unknown error";
    }
}

void *nn_alloc(size_t bytes) {
    if (bytes == 0) bytes = 64;
    /* round up: aligned_alloc wants a multiple of the alignment */
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes) return NULL;
    void *p = NULL;
    if (posix_memalign(&p, 64, rounded) != 0) return NULL;
    return p;
}

void nn_free(void *p) { free(p); }

static int g_num_threads = 0; /* 0: not set yet -> default */

static int default_threads(void) {
#ifdef NN_HAVE_OPENMP
    return omp_get_max_threads(); /* follows OMP_NUM_THREADS, else the cores */
#else
    return 1;
#endif
}

void nn_set_num_threads(int n) {
    if (n < 1) n = 1;
#ifndef NN_HAVE_OPENMP
    n = 1;
#endif
    g_num_threads = n;
}

/* Reads the setting, never writes it: two threads running kernels at once, with
 * nothing set, must not race on it (the default is asked for at every call). */
int nn_get_num_threads(void) {
    const int n = g_num_threads;
    return n > 0 ? n : default_threads();
}

int nn_threads(void) { return nn_get_num_threads(); }

int nn_have_openmp(void) {
#ifdef NN_HAVE_OPENMP
    return 1;
#else
    return 0;
#endif
}

const char *nn_compiler(void) {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#elif defined(_MSC_VER)
    return "msvc";
#else
    return "unknown";
#endif
}
