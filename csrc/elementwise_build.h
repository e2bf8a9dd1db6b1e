/* elementwise_build.h — builds the activation, loss and dropout kernels
 * (elementwise_tmpl.h) for one CPU family: included once by the family's file
 * in csrc/kernels/, with NN_SFX (the suffix of the build's names) and
 * optionally NN_EW_TARGET (GCC target names, e.g. "avx2,fma") defined:
 *
 *     #define NN_EW_TARGET "avx2,fma"
 *     #include "../elementwise_build.h"     defines nn_sact_forward_avx2, ...
 *
 * GCC compiles the build for NN_EW_TARGET (none: the baseline ISA) and
 * without -ftrapping-math: loops with selects (x > 0 ? a : b) only vectorize
 * when GCC may evaluate both sides, which trapping math forbids; nncore never
 * reads FP exception flags, and results are unchanged (no reassociation).
 * The helpers the templates inline (vmath.h, the argument checks) are first
 * included inside this region, so a family file must not include
 * elementwise_internal.h, rng_internal.h or vmath.h before it: a helper
 * defined outside keeps trapping compares when inlined (measured, GCC 12).
 * Other compilers build the templates for the baseline ISA.
 * No include guard: included once per family file.
 */
#ifdef NN_GCC_TARGET_PRAGMAS
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#ifdef NN_EW_TARGET
#define NN_EW_PRAGMA_(x) _Pragma(#x)
#define NN_EW_PRAGMA(x) NN_EW_PRAGMA_(x)
NN_EW_PRAGMA(GCC target(NN_EW_TARGET))
#undef NN_EW_PRAGMA
#undef NN_EW_PRAGMA_
#endif
#endif

#define NN_TMPL "elementwise_tmpl.h"
#include "instantiate.h"

#ifdef NN_GCC_TARGET_PRAGMAS
#pragma GCC pop_options
#endif
