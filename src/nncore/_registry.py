"""nncore._registry — the one table of user names -> C codes.

The codes are never written here: they come from ``csrc/nncore.h`` through the
bindings (``_core.C_ENUMS``, generated from the header's enums at build time).
This module only says which user name means which enum member, and what
parameter each kernel takes. Every other name table of the package derives from
it: the activation layers and ``ACTIVATIONS`` of ``nncore.nn``, ``nncore.ops``'s
``ACTIVATIONS`` / ``ACT_CODES`` / ``LOSS_CODES``, the loss kinds of
``nncore.losses``, the activation choices of the command line and the layer
dispatch of ``nncore.reference``.

A name that has no member in the header fails at import, naming the member
it looked for (rebuild after editing the header); a member with no name here is
caught by ``tests/test_registry.py``.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from . import _core

__all__ = ["STATUS", "DTYPES", "COMPUTE", "LAYER_KINDS", "REDUCTIONS", "LOSS_KINDS",
           "OPTIMIZERS", "Activation", "ACTIVATIONS", "ACTIVATION_ALIASES", "HIDDEN_ACTIVATIONS",
           "LossKernel", "LOSSES", "activation_of_layer"]


def _code(enum: str, member: str) -> int:
    members = _core.C_ENUMS[enum]
    if member not in members:
        raise ImportError(f"nncore._registry names {member}, but {enum} in csrc/nncore.h has "
                          f"only {list(members)} (rebuild nncore after editing the header)")
    return members[member]


def _by_suffix(enum: str, prefix: str) -> dict[str, int]:
    """{lowercased member name without `prefix`: value}, in header order."""
    return {m[len(prefix):].lower(): v for m, v in _core.C_ENUMS[enum].items()}


#: "ok", "err_arg", ... -> nn_status
STATUS = _by_suffix("nn_status", "NN_")
#: "float32" / "float64" -> nn_dtype
DTYPES = {"float32": _code("nn_dtype", "NN_F32"), "float64": _code("nn_dtype", "NN_F64")}
#: GEMM compute modes of a float32 model: "float32" / "bfloat16" -> nn_compute
COMPUTE = {"float32": _code("nn_compute", "NN_COMPUTE_FP32"),
           "bfloat16": _code("nn_compute", "NN_COMPUTE_BF16")}
#: "linear", "act", "dropout" -> nn_layer_kind
LAYER_KINDS = _by_suffix("nn_layer_kind", "NN_LAYER_")
#: "mean", "sum" -> nn_reduction
REDUCTIONS = _by_suffix("nn_reduction", "NN_REDUCE_")
#: "mse", "l1", "huber", "bce_logits", "ce_labels", "ce_probs", "poisson" -> nn_loss_kind
LOSS_KINDS = _by_suffix("nn_loss_kind", "NN_LOSS_")
#: "sgd", "rmsprop", "adagrad", "adam", "adamw" -> nn_optim_kind
OPTIMIZERS = _by_suffix("nn_optim_kind", "NN_OPTIM_")


class Activation(NamedTuple):
    """One activation kernel and the layer that runs it.

    name : the user name (``ops.activation(x, name)``); its C code is
        ``NN_ACT_<NAME>`` of nn_act.
    code : that nn_act value.
    layer : the ``nncore.nn`` layer class (its ``get_config()["type"]``).
    layer_kwargs : the layer arguments that select this kernel (GELU's ``approximate``).
    param : the kernel's one parameter as the layer names it, or None.
    default : its default.
    rowwise : True for softmax kinds (over each row), False for elementwise ones.
    """
    name: str
    code: int
    layer: str
    layer_kwargs: dict
    param: str | None
    default: float
    rowwise: bool


def _act(name: str, layer: str, param: str | None = None, default: float = 0.0,
         rowwise: bool = False, **layer_kwargs: Any) -> Activation:
    return Activation(name, _code("nn_act", "NN_ACT_" + name.upper()), layer, layer_kwargs,
                      param, default, rowwise)


# One line per activation. Adding one: the C kernel (nncore.h + activation_tmpl.h),
# its reference twin (reference/_kernels.py), a line here, its layer class (nn.py).
_ACTIVATION_LINES = (
    _act("identity", "Identity"),
    _act("relu", "ReLU"),
    _act("leaky_relu", "LeakyReLU", param="negative_slope", default=0.01),
    _act("elu", "ELU", param="alpha", default=1.0),
    _act("gelu", "GELU"),
    _act("gelu_tanh", "GELU", approximate="tanh"),
    _act("silu", "SiLU"),
    _act("softplus", "Softplus"),
    _act("sigmoid", "Sigmoid"),
    _act("tanh", "Tanh"),
    _act("softmax", "Softmax", rowwise=True),
    _act("log_softmax", "LogSoftmax", rowwise=True),
)
#: name -> Activation, in nn_act order
ACTIVATIONS: dict[str, Activation] = {
    a.name: a for a in sorted(_ACTIVATION_LINES, key=lambda a: a.code)}
#: other names nncore.nn accepts: alias -> name
ACTIVATION_ALIASES = {"linear": "identity", "swish": "silu"}
#: what a hidden layer of an MLP may use (the command line's choices): the
#: nonlinear elementwise kinds
HIDDEN_ACTIVATIONS = tuple(n for n, a in ACTIVATIONS.items()
                           if not a.rowwise and n != "identity")


def activation_of_layer(cfg: dict) -> Activation | None:
    """The activation a layer config (``{"type": "GELU", "approximate": "tanh"}``) runs,
    or None when the type is not an activation layer. Among the lines of one layer
    class, the one whose layer_kwargs all match and are the most specific wins."""
    best = None
    for a in ACTIVATIONS.values():
        if a.layer == cfg.get("type") and all(cfg.get(k) == v for k, v in a.layer_kwargs.items()):
            if best is None or len(a.layer_kwargs) > len(best.layer_kwargs):
                best = a
    return best


class LossKernel(NamedTuple):
    """One loss of ``nncore.ops.loss``: its nn_loss_kind and its one parameter.

    cross_entropy runs NN_LOSS_CE_LABELS for integer labels and NN_LOSS_CE_PROBS
    for probability rows; ``code`` is the labels kind.
    """
    name: str
    code: int
    param: str | None
    default: float


#: ops.loss name -> LossKernel
LOSSES = {l.name: l for l in (
    LossKernel("mse", LOSS_KINDS["mse"], None, 0.0),
    LossKernel("l1", LOSS_KINDS["l1"], None, 0.0),
    LossKernel("huber", LOSS_KINDS["huber"], "delta", 1.0),
    LossKernel("bce_logits", LOSS_KINDS["bce_logits"], None, 0.0),
    LossKernel("cross_entropy", LOSS_KINDS["ce_labels"], "label_smoothing", 0.0),
    LossKernel("poisson", LOSS_KINDS["poisson"], None, 0.0),
)}
