/* elementwise_tmpl.h — the activation, loss and dropout templates as one
 * template, which each CPU family's file (csrc/kernels/) compiles for its
 * instruction set through instantiate.h; the public entry points it defines
 * (NN_FN(act_forward), NN_FN(loss), NN_FN(dropout_forward), ...) fill the
 * family's nn_ew_kernels (kernels.h).
 * The headers below define inline helpers (vmath.h's exp, the argument
 * checks): a family file must not include them before the pragma region it
 * compiles this template in (no-trapping-math, target ISA), since a helper
 * inlined into that region keeps the floating-point options of the place it
 * was defined (measured: GCC 12 then keeps trapping compares in the loops).
 * No include guard: included once per precision.
 */
#include "elementwise_internal.h"
#include "rng_internal.h"
#include "vmath.h"

#include "lanes_tmpl.h"
#include "activation_tmpl.h"
#include "loss_tmpl.h"
#include "dropout_tmpl.h"
