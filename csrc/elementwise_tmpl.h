/* elementwise_tmpl.h — the activation, loss and dropout templates as one
 * template, which each CPU family's file (csrc/kernels/) compiles for its
 * instruction set through instantiate.h; the public entry points it defines
 * (NN_FN(act_forward), NN_FN(loss), NN_FN(dropout_forward), ...) fill the
 * family's nn_ew_kernels (kernels.h). Needs elementwise_internal.h,
 * rng_internal.h and vmath.h included first.
 * No include guard: included once per precision.
 */
#include "lanes_tmpl.h"
#include "activation_tmpl.h"
#include "loss_tmpl.h"
#include "dropout_tmpl.h"
