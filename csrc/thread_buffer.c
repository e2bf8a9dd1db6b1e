/* thread_buffer.c — the calling thread's scratch buffers (the GEMM drivers'
 * packing space), grown on demand, kept between calls, and freed when the
 * thread exits. Not for: the network's workspace (net.c owns it per net) or
 * the pool's job state (pool.c).
 *
 * Why freed at exit: a buffer kept in a _Thread_local pointer alone is lost
 * when its thread ends; a C program that runs a net in a thread per request
 * lost ~300 KB per thread. A pthread key's destructor frees this thread's
 * buffers (in builds with pthreads, as pool.c's: OpenMP on Unix; elsewhere they
 * live as long as the thread and are lost with it).
 */
#include "internal.h"

/* with pthreads linked in, as pool.c has them: OpenMP builds on Unix */
#if defined(NN_HAVE_OPENMP) && (defined(__unix__) || defined(__APPLE__))
#define NN_TB_PTHREAD 1
#include <pthread.h>
#endif

typedef struct {
    void *p[NN_TB_SLOTS];
    size_t cap[NN_TB_SLOTS];
} thread_buffers;

static _Thread_local thread_buffers tb;

#ifdef NN_TB_PTHREAD
static pthread_key_t tb_key;
static pthread_once_t tb_once = PTHREAD_ONCE_INIT;
static int tb_key_ok = 0;

/* at thread exit, with this thread's `tb` as the key's value */
static void tb_free(void *v) {
    thread_buffers *b = (thread_buffers *)v;
    for (int i = 0; i < NN_TB_SLOTS; i++) {
        nn_free(b->p[i]);
        b->p[i] = NULL;
        b->cap[i] = 0;
    }
}

static void tb_key_init(void) { tb_key_ok = pthread_key_create(&tb_key, tb_free) == 0; }
#endif

void *nn_thread_buffer(int slot, size_t bytes) {
    if (slot < 0 || slot >= NN_TB_SLOTS) return NULL;
    if (bytes <= tb.cap[slot]) return tb.p[slot];
    nn_free(tb.p[slot]);
    tb.cap[slot] = 0;
    tb.p[slot] = nn_alloc(bytes);
    if (!tb.p[slot]) return NULL;
    tb.cap[slot] = bytes;
#ifdef NN_TB_PTHREAD
    pthread_once(&tb_once, tb_key_init);
    if (tb_key_ok && pthread_getspecific(tb_key) == NULL) pthread_setspecific(tb_key, &tb);
#endif
    return tb.p[slot];
}
