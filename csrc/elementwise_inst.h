/* elementwise_inst.h — compiles the templates named by NN_INST_ACT / NN_INST_LOSS /
 * NN_INST_DROPOUT for float and double, with entry points suffixed by NN_SFX
 * (e.g. nn_sact_forward_avx2). Included by activation.c, loss.c, dropout.c
 * (NN_SFX = _port) and kernels/elementwise_x86.c (_avx2, _avx512). Both
 * precisions use the vectorizable math of vmath.h (double GELU: libm erfc).
 * No include guard: meant to be included once per build. */

#define real float
#define NN_FN(name) NN_CAT3(nn_s, name, NN_SFX)
#define RM(fn) fn##f
#define RV_EXP(v) nn_vexpf(v)
#define RV_LOG1P(v) nn_vlog1pf(v)
#define RV_EXPM1(v) nn_vexpm1f(v)
#define RV_TANH(v) nn_vtanhf(v)
#define RV_ERFC(v) nn_verfcf(v)
#include "lanes_tmpl.h"
#ifdef NN_INST_ACT
#include "activation_tmpl.h"
#endif
#ifdef NN_INST_LOSS
#include "loss_tmpl.h"
#endif
#ifdef NN_INST_DROPOUT
#include "dropout_tmpl.h"
#endif
#undef real
#undef NN_FN
#undef RM
#undef RV_EXP
#undef RV_LOG1P
#undef RV_EXPM1
#undef RV_TANH
#undef RV_ERFC

#define real double
#define NN_FN(name) NN_CAT3(nn_d, name, NN_SFX)
#define RM(fn) fn
#define RV_EXP(v) nn_vexp(v)
#define RV_LOG1P(v) nn_vlog1p(v)
#define RV_EXPM1(v) nn_vexpm1(v)
#define RV_TANH(v) nn_vtanh(v)
#define RV_ERFC(v) erfc(v)
#include "lanes_tmpl.h"
#ifdef NN_INST_ACT
#include "activation_tmpl.h"
#endif
#ifdef NN_INST_LOSS
#include "loss_tmpl.h"
#endif
#ifdef NN_INST_DROPOUT
#include "dropout_tmpl.h"
#endif
#undef real
#undef NN_FN
#undef RM
#undef RV_EXP
#undef RV_LOG1P
#undef RV_EXPM1
#undef RV_TANH
#undef RV_ERFC
