/* elementwise_tmpl.h — the activation, loss and dropout templates as one
 * template, built for each CPU family by elementwise_build.h; the public
 * entry points it defines (NN_FN(act_forward), NN_FN(loss),
 * NN_FN(dropout_forward), ...) fill the family's nn_ew_kernels (kernels.h).
 * The helpers it inlines are included here, inside the build's pragma region
 * (see elementwise_build.h for why).
 * No include guard: included once per precision.
 */
#include "elementwise_internal.h"
#include "rng_internal.h"
#include "vmath.h"

#include "lanes_tmpl.h"
#include "activation_tmpl.h"
#include "loss_tmpl.h"
#include "dropout_tmpl.h"
