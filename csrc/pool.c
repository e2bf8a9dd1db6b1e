/* pool.c — the persistent worker team of the C core (nn_pool_run), which
 * never waits for a thread that has not started.
 *
 * Why not `#pragma omp parallel for`: at the end of an OpenMP region the caller
 * waits at a barrier for every team member, also one the OS has not scheduled
 * yet; on a shared, loaded machine that costs a scheduler time slice (10-30 ms)
 * per region. Here the caller publishes a job of `nblocks` independent blocks
 * and works through them itself; workers that wake in time take blocks too
 * (claimed one at a time from a counter), a worker that wakes late finds
 * nothing left and goes back to sleep. The caller waits only for blocks that
 * were actually claimed. Which thread computes a block never changes its bits.
 *
 * Between jobs a worker spins for about a millisecond before it sleeps, so the
 * several GEMMs of one training step find it awake (a futex wake of a halted
 * vCPU costs tens of microseconds, as much as a small GEMM). A worker that
 * finds itself on the caller's CPU (the scheduler put them together, e.g. on
 * waking after a pause) moves to another CPU once, and if it cannot, stops
 * spinning at once: a worker must never take time from the thread it helps.
 *
 * On an oversubscribed machine a worker can still be preempted in the middle
 * of a block it claimed, and the caller then waits a time slice. The team
 * watches for that, and only for that: when the caller, done with the blocks
 * it took, waits for claimed blocks much longer than a block takes (twice in
 * a row, or over a millisecond once), the next jobs run on the caller only,
 * and threads are tried again after 50 ms. A worker that merely wakes late
 * costs nothing (it finds fewer blocks) and is not held against the team.
 * Only the timing adapts; every result is the same.
 *
 * Every parallel loop of the core runs here (GEMM, the network's epilogues,
 * activations, losses, dropout, the optimizer and gradient norm), so there
 * is one team and no OpenMP region whose spinning workers would take the
 * cores from it.
 *
 * Not for: splitting work (the callers decide the blocks, from the sizes
 * alone) or reductions (callers keep one partial per block and add them in
 * order). Without pthreads / OpenMP builds run every job on the calling
 * thread.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getcpu */
#endif
#include "internal.h"

#include <stdlib.h>

#if defined(NN_HAVE_OPENMP) && (defined(__unix__) || defined(__APPLE__))
#define NN_POOL_THREADS 1
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#endif

#ifdef NN_POOL_THREADS

#define NN_POOL_MAX 64
#define NN_POOL_SPIN_S 1e-3 /* a worker spins this long after its last job, then sleeps */

static struct {
    pthread_mutex_t busy;     /* one job at a time; other callers run serially */
    pthread_mutex_t lock;     /* guards sleeping workers */
    pthread_cond_t wake;
    _Atomic uint64_t claim;   /* (generation << 32) | next block */
    _Atomic int64_t done;     /* blocks finished in this generation */
    _Atomic uint32_t gen;
    void (*fn)(void *, int64_t);
    void *ctx;
    _Atomic int64_t nblocks;
    _Atomic int caller_cpu;   /* where the last job's caller ran (-1: unknown) */
    int nworkers;
    int strikes;              /* consecutive jobs where threads did not pay */
    double backoff_until;     /* until then (monotonic s) jobs run on the caller alone */
    pthread_t tid[NN_POOL_MAX];
} g_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

/* NNCORE_POOL_ADAPT=0 turns the back-off off (measurements); -1: not read yet. */
static int g_pool_adapt = -1;

static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

/* The CPU the calling thread runs on, or -1 where that cannot be asked. */
static int current_cpu(void) {
#ifdef __linux__
    return sched_getcpu();
#else
    return -1;
#endif
}

/* Called by a worker that finds itself on the caller's CPU (the scheduler put it
 * there when it woke, e.g. after the process slept): move to another allowed CPU
 * by briefly taking this one out of the thread's affinity mask (the kernel
 * migrates at once), then give the mask back so nothing stays pinned. Returns
 * 1 if the worker now runs elsewhere. Measured: without this, after a pause
 * the worker could share the caller's CPU for many steps (no gain from it). */
static int hop_off_cpu(int cpu) {
#ifdef __linux__
    cpu_set_t mine, other;
    if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof mine, &mine) != 0)
        return 0;
    if (!CPU_ISSET(cpu, &mine) || CPU_COUNT(&mine) < 2) return 0;
    other = mine;
    CPU_CLR(cpu, &other);
    if (sched_setaffinity(0, sizeof other, &other) != 0) return 0;
    sched_setaffinity(0, sizeof mine, &mine);
    return current_cpu() != cpu;
#else
    (void)cpu;
    return 0;
#endif
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* After threads did not pay: the caller alone for 50 ms or 4 jobs, whichever is longer. */
#define NN_POOL_BACKOFF_S 0.05
/* A wait for claimed blocks beyond 2 blocks + this is a strike; beyond FAR, at once. */
#define NN_POOL_SLACK_S 5e-5
#define NN_POOL_FAR_S 1e-3

/* Claims and runs blocks of generation `gen` until none is left; returns how many. */
static int64_t pool_work(uint32_t gen) {
    int64_t mine = 0;
    for (;;) {
        uint64_t v = atomic_load_explicit(&g_pool.claim, memory_order_acquire);
        for (;;) {
            if ((uint32_t)(v >> 32) != gen || (int64_t)(v & 0xffffffffu) >= g_pool.nblocks)
                return mine;
            if (atomic_compare_exchange_weak_explicit(&g_pool.claim, &v, v + 1,
                                                      memory_order_acq_rel,
                                                      memory_order_acquire))
                break;
        }
        /* a successful claim means the job of `gen` is still being waited for */
        g_pool.fn(g_pool.ctx, (int64_t)(v & 0xffffffffu));
        atomic_fetch_add_explicit(&g_pool.done, 1, memory_order_release);
        mine++;
    }
}

static void *pool_main(void *arg) {
    (void)arg;
    uint32_t seen = atomic_load_explicit(&g_pool.gen, memory_order_acquire);
    for (;;) {
        uint32_t g;
        unsigned spins = 0;
        int hopped = 0; /* at most one hop per wait: never a storm of syscalls */
        const double spin_end = now_s() + NN_POOL_SPIN_S;
        while ((g = atomic_load_explicit(&g_pool.gen, memory_order_acquire)) == seen) {
            if ((++spins & 255u) != 0) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
                continue;
            }
            /* every 256 pauses (a few us): still worth spinning? (sched_yield here
             * was measured: it slows the quiet case by 1.8x and does not help) */
            const int cpu = current_cpu();
            if (now_s() < spin_end) {
                if (cpu < 0 || cpu != atomic_load_explicit(&g_pool.caller_cpu, memory_order_relaxed))
                    continue;
                if (!hopped++ && hop_off_cpu(cpu)) continue;
            }
            pthread_mutex_lock(&g_pool.lock);
            while (atomic_load_explicit(&g_pool.gen, memory_order_acquire) == seen)
                pthread_cond_wait(&g_pool.wake, &g_pool.lock);
            pthread_mutex_unlock(&g_pool.lock);
        }
        seen = g;
        /* woken onto the caller's CPU: the caller cannot run while we do */
        const int cpu = current_cpu();
        if (cpu >= 0 && cpu == atomic_load_explicit(&g_pool.caller_cpu, memory_order_relaxed))
            hop_off_cpu(cpu);
        pool_work(g);
    }
    return NULL;
}

/* In a forked child the workers do not exist: start over. */
static void pool_atfork_child(void) {
    pthread_mutex_init(&g_pool.busy, NULL);
    pthread_mutex_init(&g_pool.lock, NULL);
    pthread_cond_init(&g_pool.wake, NULL);
    g_pool.nworkers = 0;
}

static void pool_register_atfork(void) { pthread_atfork(NULL, NULL, pool_atfork_child); }

/* Grows the team to `n` workers (best effort); returns how many exist. */
static int pool_grow(int n) {
    if (n > NN_POOL_MAX) n = NN_POOL_MAX;
    pthread_once(&g_atfork_once, pool_register_atfork);
    while (g_pool.nworkers < n) {
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&g_pool.tid[g_pool.nworkers], &at, pool_main, NULL);
        pthread_attr_destroy(&at);
        if (rc != 0) break;
        g_pool.nworkers++;
    }
    return g_pool.nworkers;
}

int nn_pool_run(void (*fn)(void *, int64_t), void *ctx, int64_t nblocks, int nthreads) {
    if (nthreads > 1 && nblocks > 1 && nblocks < 0xffffffffLL &&
        pthread_mutex_trylock(&g_pool.busy) == 0) {
        const double t0 = now_s();
        if (g_pool_adapt < 0) {
            const char *e = getenv("NNCORE_POOL_ADAPT");
            g_pool_adapt = !(e && e[0] == '0');
        }
        if (g_pool_adapt && t0 < g_pool.backoff_until) {
            /* threads recently did not pay: fall through to the caller alone */
        } else if (pool_grow((nthreads < nblocks ? nthreads : (int)nblocks) - 1) > 0) {
            uint32_t gen = atomic_load_explicit(&g_pool.gen, memory_order_relaxed) + 1;
            g_pool.fn = fn;
            g_pool.ctx = ctx;
            g_pool.nblocks = nblocks;
            atomic_store_explicit(&g_pool.caller_cpu, current_cpu(), memory_order_relaxed);
            atomic_store_explicit(&g_pool.done, 0, memory_order_relaxed);
            atomic_store_explicit(&g_pool.claim, (uint64_t)gen << 32, memory_order_release);
            pthread_mutex_lock(&g_pool.lock);
            atomic_store_explicit(&g_pool.gen, gen, memory_order_release);
            pthread_cond_broadcast(&g_pool.wake);
            pthread_mutex_unlock(&g_pool.lock);
            const int64_t mine = pool_work(gen);
            const double t1 = now_s();
            /* only blocks someone claimed are left; wait for them */
            int spins = 0;
            while (atomic_load_explicit(&g_pool.done, memory_order_acquire) < nblocks) {
                if (++spins > 1000) sched_yield();
#if defined(__x86_64__) || defined(__i386__)
                else __builtin_ia32_pause();
#endif
            }
            /* Was a worker preempted in a block it claimed? Then the caller waited
             * much longer than a block takes (a late claim costs up to one block). */
            const double t2 = now_s();
            const double per_block = mine > 0 ? (t1 - t0) / (double)mine : 0.0;
            const double waited = t2 - t1;
            if (mine > 0 && waited > 2.0 * per_block + NN_POOL_SLACK_S) {
                /* twice in a row, or once by far */
                if (++g_pool.strikes >= 2 || waited > NN_POOL_FAR_S) {
                    const double wait = 4.0 * (t2 - t0);
                    g_pool.backoff_until = t2 + (wait > NN_POOL_BACKOFF_S ? wait
                                                                          : NN_POOL_BACKOFF_S);
                    g_pool.strikes = 0;
                }
            } else {
                g_pool.strikes = 0;
            }
            pthread_mutex_unlock(&g_pool.busy);
            return NN_OK;
        }
        pthread_mutex_unlock(&g_pool.busy);
    }
    for (int64_t b = 0; b < nblocks; b++) fn(ctx, b);
    return NN_OK;
}

#else

int nn_pool_run(void (*fn)(void *, int64_t), void *ctx, int64_t nblocks, int nthreads) {
    (void)nthreads;
    for (int64_t b = 0; b < nblocks; b++) fn(ctx, b);
    return NN_OK;
}

#endif
