/* gemm.c — nn_sgemm / nn_dgemm (and the _ex variants with a bias epilogue):
 * blocking, packing and threading from gemm_tmpl.h, instantiated for float and
 * double, around the micro-kernel of the active CPU family (kernels.h).
 * Not for: the micro-kernels (csrc/kernels/) or choosing them (cpu.c).
 */
#if defined(__GNUC__) && !defined(__clang__)
/* The packers' short edge loops (a few elements per k step) must stay loops:
 * turned into memcpy/memset calls they cost ~15% on narrow problems. */
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif
#include "gemm_internal.h"
#include "gemm_split.h"
#include "kernels.h"

#include <string.h>

/* Below this many multiply-adds (m*n*k) a GEMM runs on the calling thread:
 * ~1e6 FMAs is tens of microseconds, where waking a second thread stops paying. */
static double g_min_par_mnk = 1.0e6;
#define NN_GEMM_MIN_PAR_MNK g_min_par_mnk

void nn_gemm_tune_threshold(double min_par_mnk) {
    g_min_par_mnk = min_par_mnk > 0 ? min_par_mnk : 1.0e6;
}

/* Block-size overrides from nn_gemm_tune_blocking, per dtype (0: default). */
static nn_gemm_blocking g_tune[2];

void nn_gemm_tune_blocking(nn_dtype dtype, int64_t kc, int64_t mc, int64_t nc) {
    if (dtype != NN_F32 && dtype != NN_F64) return;
    g_tune[dtype].kc = kc > 0 ? kc : 0;
    g_tune[dtype].mc = mc > 0 ? mc : 0;
    g_tune[dtype].nc = nc > 0 ? nc : 0;
}

static nn_gemm_blocking tuned(nn_gemm_blocking b, nn_dtype dtype) {
    const nn_gemm_blocking *t = &g_tune[dtype];
    if (t->kc) b.kc = t->kc;
    if (t->mc) b.mc = (t->mc + b.mr - 1) / b.mr * b.mr;
    if (t->nc) b.nc = (t->nc + b.nr - 1) / b.nr * b.nr;
    return b;
}

#define NN_TMPL "gemm_tmpl.h"
#include "instantiate.h"
