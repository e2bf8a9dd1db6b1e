/* instantiate.h — compiles the template named by NN_TMPL twice, for float and
 * for double: the one template convention of the C core (internal.h).
 *
 *     #define NN_SFX _avx2                  optional: suffix of one build's names
 *     #define NN_TMPL "elementwise_tmpl.h"
 *     #include "instantiate.h"              defines nn_sact_forward_avx2, ...
 *
 * In the template: real, NN_FN(name) = nn_s<name><NN_SFX> / nn_d<name><NN_SFX>,
 * NN_MATH(fn) = fn##f / fn. NN_TMPL is undefined afterwards, NN_SFX is left alone.
 * No include guard: included once per template.
 */
#ifndef NN_TMPL
#error "instantiate.h: define NN_TMPL, the template's file name, first"
#endif

#ifdef NN_SFX
#define NN_SFX_ NN_SFX
#else
#define NN_SFX_
#endif

#define real float
#define NN_FN(name) NN_CAT3(nn_s, name, NN_SFX_)
#define NN_MATH(fn) fn##f
#include NN_TMPL
#undef real
#undef NN_FN
#undef NN_MATH

#define real double
#define NN_FN(name) NN_CAT3(nn_d, name, NN_SFX_)
#define NN_MATH(fn) fn
#include NN_TMPL
#undef real
#undef NN_FN
#undef NN_MATH

#undef NN_SFX_
#undef NN_TMPL
