/* elementwise_x86.c — the activation, loss and dropout templates compiled again
 * for AVX2+FMA and for AVX-512 (F, VL), so their loops auto-vectorize 8 or 16
 * floats wide; picked at run time by the public entry points (activation.c,
 * loss.c, dropout.c: see elementwise_internal.h), following the kernel family
 * in use, which cpu.c only allows when the CPU and OS support it.
 * FMA contraction makes results differ from the portable build in the last
 * bits; each build is deterministic and identical at any thread count.
 * Not here: the math (the *_tmpl.h files), GEMM micro-kernels (ukr_*.c).
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math") /* see activation.c */
#endif
#include "elementwise_internal.h"
#include "rng_internal.h"
#include "vmath.h"

#ifdef NN_ELEMENTWISE_X86
#define NN_INST_ACT
#define NN_INST_LOSS
#define NN_INST_DROPOUT

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define NN_SFX _avx2
#include "elementwise_inst.h"
#undef NN_SFX
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx2,fma")
#define NN_SFX _avx512
#include "elementwise_inst.h"
#undef NN_SFX
#pragma GCC pop_options
#endif
