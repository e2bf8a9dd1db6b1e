"""nncore.nn — layers and Sequential: a network described in Python, run in C.

::

    import nncore as nc
    model = nc.nn.Sequential(
        nc.nn.Linear(64, 128), nc.nn.ReLU(), nc.nn.Dropout(0.2),
        nc.nn.Linear(128, 10), dtype="float32", seed=0)
    logits = model(x)                          # inference, x (batch, 64)
    out = model.forward(x, training=True)      # dropout on, keeps what backward needs
    loss = loss_fn(out, y)
    model.backward(loss_fn.backward())         # accumulates into the gradients
    model.zero_grad()

The layers only describe the network; ``Sequential`` builds ONE C network
object (csrc/net.c) holding every weight and bias in one flat buffer, every
gradient in another, and a reusable workspace. ``Parameter.data`` / ``.grad``
are zero-copy NumPy views of those buffers.

Inputs: ``x`` must be 2-D (batch, in_features) with batch >= 1. Other float
dtypes and integer inputs are cast once to the model's dtype (a copy); rows
with a uniform stride (e.g. ``x[:, :n]`` slices of a wider C-ordered array)
are read in place, any other layout is copied once. NaN/Inf in ``x`` are not
checked: they propagate through inference like in NumPy. Targets are checked
by the losses (NaN/Inf rejected).

Determinism: for a given batch size every result (outputs, gradients, a whole
train_step) has the same bits at any thread count. Inference is batch-invariant:
row i of ``model(x)`` / ``predict`` has the same bits whatever the batch size and
the row's position (batches of 1-4 rows take a small kernel with the GEMM's own
summation order).
Each call returns a new output array; nothing else is allocated once the
workspace holds the largest batch seen.

Threads: every call that enters C (``__call__``, ``forward``, ``backward``,
``zero_grad``, ``train_step``, and so ``predict`` / ``evaluate`` / ``fit`` batch by
batch) holds a lock per model while it runs with the GIL released, so calls on
ONE model from several threads run one at a time: concurrent ``predict`` calls
give exactly the sequential results, and a ``predict`` while another thread
trains sees the parameters before or after each whole ``train_step``, never
half-updated (between batches of one ``predict`` a step may land, so rows of
different batches may come from different steps). Different models run in
parallel without interfering. An optimizer is marked busy while ``train_step``
updates it without the GIL; changing or stepping it from another thread at that
moment raises RuntimeError. Writing ``Parameter.data`` / ``flat_params``
directly, and ``optimizer.step()`` (the unfused path), take no lock: do that
from one thread. Ctrl-C is honoured between batches of ``predict`` / ``fit``.

Memory: a network or batch that cannot be allocated raises MemoryError saying
how many bytes were asked (e.g. ``Linear(10**6, 10**6)`` needs 8 TB for weights
and gradients); sizes are checked in 64-bit arithmetic and never wrap.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable, Iterator

import numpy as np

from . import _core, _registry, _rows, losses as _losses, nn_init
from . import ops as _ops
from . import profiling as _profiling
from ._safetensors import (MODEL_FORMAT, nncore_metadata, save_tensors, strict_json,
                           tensors_from_bytes, tensors_to_bytes)
from ._targets import check_sample_weight
from ._validate import check_bool, check_int, finite_float, is_int, parse_dtype
from .parameter import Parameter

__all__ = ["Layer", "Linear", "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus", "Sigmoid",
           "Tanh", "Softmax", "LogSoftmax", "Identity", "Dropout", "Sequential", "Parameter",
           "layer_from_config", "activation", "ACTIVATIONS"]

# codes of nncore.h (nn_layer_kind, nn_dtype), from the bindings
_LINEAR, _ACT, _DROPOUT = (_registry.LAYER_KINDS[k] for k in ("linear", "act", "dropout"))
_F32, _F64 = _registry.DTYPES["float32"], _registry.DTYPES["float64"]
_FINITE_BLOCK = 1 << 20  # bytes of X checked for NaN/Inf at a time (prepare_inputs)




# --------------------------------------------------------------------- layers

class Layer:
    """Base class of the layers. Layers describe; Sequential runs them in C."""

    def get_config(self) -> dict:
        """JSON-able description, ``{"type": <class name>, ...}``; see layer_from_config."""
        return {"type": type(self).__name__}

    def _out_features(self, n_in: int) -> int:
        return n_in

    def _c_spec(self, n_in: int) -> tuple:
        raise NotImplementedError

    def _repr_args(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._repr_args()})"


class Linear(Layer):
    """Dense layer: y = x W^T + b, W of shape (out_features, in_features) like PyTorch.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
        Learn an additive bias (out_features,).
    init : str, callable or None
        Weight initializer: a name of :data:`nncore.nn_init.INITS` (``"he_normal"``,
        ``"xavier_uniform"``, ``"lecun_normal"``, ...) or ``(shape, rng) -> array``.
        None: He normal before a ReLU-family activation, Glorot uniform otherwise.
    bias_init : float
        Constant the bias starts at (default 0).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init: str | Callable | None = None, *, bias_init: float = 0.0) -> None:
        self.in_features = check_int(in_features, "in_features")
        self.out_features = check_int(out_features, "out_features")
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
        self.bias_enabled = bool(bias)
        if init is not None:
            nn_init.get(init)  # unknown names fail here, not at build time
        self.init = init
        self.bias_init = finite_float(bias_init, "bias_init")
        self.weight: Parameter | None = None
        self.bias: Parameter | None = None

    def get_config(self) -> dict:
        return {"type": "Linear", "in_features": self.in_features,
                "out_features": self.out_features, "bias": self.bias_enabled,
                "init": self.init if isinstance(self.init, str) else None,
                "bias_init": self.bias_init}

    def _out_features(self, n_in: int) -> int:
        return self.out_features

    def _c_spec(self, n_in: int) -> tuple:
        return (_LINEAR, self.in_features, self.out_features, self.bias_enabled, 0, 0.0)

    def _repr_args(self) -> str:
        s = f"{self.in_features}, {self.out_features}"
        if not self.bias_enabled:
            s += ", bias=False"
        if isinstance(self.init, str):
            s += f", init={self.init!r}"
        return s


class _Activation(Layer):
    """An activation layer: the kernel it runs is the nncore._registry line whose
    ``layer`` is this class's name (or a base class's) and whose ``layer_kwargs``
    match ``get_config()``; the kernel's parameter is read from the config too."""
    _relu_gain: float | None = None  # He gain when a Linear precedes this activation

    def _c_spec(self, n_in: int) -> tuple:
        cfg = self.get_config()
        for cls in type(self).__mro__:  # a user's subclass runs its base's kernel
            a = _registry.activation_of_layer({**cfg, "type": cls.__name__})
            if a is not None:
                param = float(cfg.get(a.param, a.default)) if a.param else 0.0
                return (_ACT, n_in, n_in, False, a.code, param)
        raise ValueError(f"{type(self).__name__} has no line in nncore._registry.ACTIVATIONS")


class Identity(_Activation):
    """y = x."""


class ReLU(_Activation):
    """y = max(x, 0)."""
    _relu_gain = math.sqrt(2.0)


class LeakyReLU(_Activation):
    """y = x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = finite_float(negative_slope, "negative_slope")
        # sqrt(2 / (1 + a^2)); past |a| ~ 1e154 a ** 2 overflows and the gain is sqrt(2) / |a|
        a = abs(self.negative_slope)
        self._relu_gain = math.sqrt(2.0 / (1.0 + a * a)) if a < 1e150 else math.sqrt(2.0) / a

    def get_config(self) -> dict:
        return {"type": "LeakyReLU", "negative_slope": self.negative_slope}

    def _repr_args(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(_Activation):
    """y = x for x > 0, alpha * (exp(x) - 1) otherwise."""
    _relu_gain = math.sqrt(2.0)

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = finite_float(alpha, "alpha")

    def get_config(self) -> dict:
        return {"type": "ELU", "alpha": self.alpha}

    def _repr_args(self) -> str:
        return f"alpha={self.alpha}"


class GELU(_Activation):
    """y = x * Phi(x) (``approximate="none"``, erf form) or its tanh approximation."""
    _relu_gain = math.sqrt(2.0)

    def __init__(self, approximate: str = "none") -> None:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def get_config(self) -> dict:
        return {"type": "GELU", "approximate": self.approximate}

    def _repr_args(self) -> str:
        return "" if self.approximate == "none" else "approximate='tanh'"


class SiLU(_Activation):
    """y = x * sigmoid(x)."""
    _relu_gain = math.sqrt(2.0)


class Softplus(_Activation):
    """y = log(1 + exp(x)), never overflows."""


class Sigmoid(_Activation):
    """y = 1 / (1 + exp(-x))."""


class Tanh(_Activation):
    """y = tanh(x)."""


class Softmax(_Activation):
    """Row-wise softmax over the features."""


class LogSoftmax(_Activation):
    """Row-wise log-softmax over the features."""


class Dropout(Layer):
    """Inverted dropout: in training each element is kept with probability 1 - p and
    scaled by 1 / (1 - p); identity in inference. Masks come from a counter-based RNG
    (Philox) keyed by (model seed, step counter, layer index): the same seed gives the
    same masks at any thread count.

    Parameters
    ----------
    p : float in [0, 1)
    """

    def __init__(self, p: float = 0.5) -> None:
        p = finite_float(p, "p")
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout probability p must be in [0, 1), got {p}")
        self.p = p

    def get_config(self) -> dict:
        return {"type": "Dropout", "p": self.p}

    def _c_spec(self, n_in: int) -> tuple:
        return (_DROPOUT, n_in, n_in, False, 0, self.p)

    def _repr_args(self) -> str:
        return f"p={self.p}"


_LAYER_TYPES = {c.__name__: c for c in (Linear, Dropout, *_Activation.__subclasses__())}


def _activation_factories() -> dict[str, Callable[..., Layer]]:
    """name (and alias) -> layer factory, one per line of nncore._registry.ACTIVATIONS."""
    out: dict[str, Callable[..., Layer]] = {}
    for name, a in _registry.ACTIVATIONS.items():
        cls = _LAYER_TYPES.get(a.layer)
        if cls is None or not issubclass(cls, _Activation):
            raise ImportError(f"nncore._registry line {name!r} names the layer {a.layer}, "
                              "which nncore.nn does not define as an activation layer")
        out[name] = functools.partial(cls, **a.layer_kwargs) if a.layer_kwargs else cls
        out.update((alias, out[name]) for alias, target in _registry.ACTIVATION_ALIASES.items()
                   if target == name)
    return out


#: activation name -> layer factory, e.g. ``ACTIVATIONS["leaky_relu"](negative_slope=0.1)``
ACTIVATIONS: dict[str, Callable[..., Layer]] = _activation_factories()


def activation(name: str, **kwargs: Any) -> Layer:
    """An activation layer by name, e.g. ``activation("leaky_relu", negative_slope=0.1)``."""
    if not isinstance(name, str):
        raise TypeError(f"activation name must be a str, got {type(name).__name__}")
    key = name.lower()
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[key](**kwargs)


def layer_from_config(cfg: dict) -> Layer:
    """Rebuild a layer from its ``get_config()`` dict."""
    if not isinstance(cfg, dict):
        raise TypeError(f"layer config must be a dict, got {type(cfg).__name__}")
    cfg = dict(cfg)
    name = cfg.pop("type", None)
    if name not in _LAYER_TYPES:
        raise ValueError(f"unknown layer type {name!r}; expected one of {sorted(_LAYER_TYPES)}")
    try:
        return _LAYER_TYPES[name](**cfg)
    except TypeError as e:
        raise ValueError(f"bad config for {name}: {e}") from None


# ----------------------------------------------------------------- Sequential

def _model_dtype(dtype: Any) -> np.dtype:
    dt = parse_dtype(dtype)  # None is refused: np.dtype(None) would mean float64
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dt}")
    return dt


def _upper() -> Any:
    """``nncore._delegates``, for the methods that live above ``nn``: ``fit`` /
    ``evaluate`` (``nncore.training``) and ``to_onnx`` (``nncore.onnx``).

    The ONE import of an nncore module inside a function in the whole package
    (tests/test_layering.py finds it by the marker comment): those modules sit above
    ``nn`` and import it, so ``nn`` cannot import them at its top; users still expect
    ``model.fit`` / ``model.evaluate`` (Keras) and ``model.to_onnx``, so the methods
    delegate here.
    """
    from . import _delegates  # layering: the documented delegate (fit/evaluate/to_onnx)
    return _delegates


class Sequential:
    """A feed-forward network: layers applied in order, run by ONE C network object.

    Parameters
    ----------
    *layers : Layer
        Linear, activation and Dropout layers (or one list of them). Consecutive
        sizes must agree; activation/dropout layers take the size before them.
    dtype : "float32" or "float64"
        Fixed for the life of the model; inputs of other dtypes are cast once.
    seed : int
        Seeds weight initialization (``numpy.random.default_rng(seed)``, layers in
        order, each weight drawn by its initializer, biases constant) and the
        dropout masks. Same seed => same weights and masks.
    compute_dtype : "float32" or "bfloat16"
        Arithmetic of the GEMMs of forward, backward and inference (float32 models
        only; settable later as ``model.compute_dtype``). "bfloat16" rounds both
        operands of every GEMM to bfloat16 (nearest even) and sums the products in
        float32; parameters, gradients, optimizer state and everything else stay
        float32. Fast on CPUs with AVX512-BF16 or AMX (``nncore.show_config()``).

    Attributes
    ----------
    layers : list of Layer
    dtype : numpy.dtype
    seed, in_features, out_features, num_parameters : int
    flat_params, flat_grads : ndarray (num_parameters,)
        Zero-copy views of the C network's parameter and gradient buffers.
    last_grad_norm : float or None
        Global gradient norm (before clipping) of the last train_step.
    loss : nncore.losses.Loss or None
        The loss of the last ``fit`` (or assigned: a name or a loss object);
        ``evaluate`` and ``predict_proba`` default to it.
    epochs_trained : int
        Epochs completed by ``fit`` on this model over all calls; picks the
        shuffle order of the next epoch (restored from a checkpoint on resume).
    stop_training : bool
        Set by a callback to ask ``fit`` to stop after the current batch.
    """

    def __init__(self, *layers: Layer, dtype: Any = "float32", seed: int = 0,
                 compute_dtype: str = "float32") -> None:
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} must be an nncore.nn layer (Linear, ReLU, ...), "
                                f"got {type(layer).__name__}")
        for i, layer in enumerate(layers):
            # a Linear holds views of ITS model's parameters: sharing one would rebind it
            if isinstance(layer, Linear) and (getattr(layer, "weight", None) is not None
                                              or any(layer is other for other in layers[:i])):
                raise ValueError(f"layer {i} ({layer!r}) already belongs to a model; "
                                 f"create a new Linear for each place it is used")
        self.dtype = _model_dtype(dtype)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}")
        if not 0 <= seed < 2 ** 64:
            raise ValueError(f"seed must be in [0, 2**64), got {seed}")
        self.seed = int(seed)
        self.layers = list(layers)

        linears = [layer for layer in self.layers if isinstance(layer, Linear)]
        if not linears:
            raise ValueError("Sequential needs at least one Linear layer (it fixes the "
                             "number of input features)")
        n = linears[0].in_features
        self.in_features = n
        specs, self._shapes = [], []
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Linear) and layer.in_features != n:
                raise ValueError(f"layer {i} ({layer!r}) expects {layer.in_features} input "
                                 f"features but the layer before it gives {n}")
            specs.append(layer._c_spec(n))
            n = layer._out_features(n)
            self._shapes.append(n)
        self.out_features = n
        self._net = _core._Net(_F32 if self.dtype == np.float32 else _F64, specs, self.seed)
        self._flat_params = self._net.params  # views keep the C network alive
        self._flat_grads = self._net.grads
        self.num_parameters = int(self._net.n_params)
        self.last_grad_norm: float | None = None
        self._loss: _losses.Loss | None = None
        self.epochs_trained = 0
        self.stop_training = False

        self._params: list[tuple[str, Parameter]] = []
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Linear):
                continue
            w_off = self._net.weight_offset(i)
            layer.weight = Parameter(self, f"{i}.weight", w_off,
                                     (layer.out_features, layer.in_features), False, i)
            self._params.append((layer.weight.name, layer.weight))
            layer.bias = None
            if layer.bias_enabled:
                layer.bias = Parameter(self, f"{i}.bias", self._net.bias_offset(i),
                                       (layer.out_features,), True, i)
                self._params.append((layer.bias.name, layer.bias))
        self._init_weights()
        self.compute_dtype = compute_dtype

    @property
    def compute_dtype(self) -> str:
        """GEMM compute mode, "float32" or "bfloat16" (see the class docstring)."""
        code = self._net.compute
        return next(name for name, c in _registry.COMPUTE.items() if c == code)

    @compute_dtype.setter
    def compute_dtype(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"compute_dtype must be a str, one of {list(_registry.COMPUTE)}, "
                            f"got {type(value).__name__} {value!r}")
        if value not in _registry.COMPUTE:
            raise ValueError(f"compute_dtype must be one of {list(_registry.COMPUTE)}, "
                             f"got {value!r}")
        if value != "float32" and self.dtype != np.float32:
            raise ValueError(f"compute_dtype={value!r} needs a float32 model, this one is "
                             f"{self.dtype.name}")
        self._net.compute = _registry.COMPUTE[value]

    # ------------------------------------------------------------- weights
    def _init_weights(self) -> None:
        rng = np.random.default_rng(self.seed)
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Linear):
                continue
            gain = None
            for nxt in self.layers[i + 1:]:
                if isinstance(nxt, Dropout):
                    continue
                if isinstance(nxt, _Activation):
                    gain = nxt._relu_gain
                break
            w = nn_init.run(layer.init, (layer.out_features, layer.in_features), rng, gain)
            with np.errstate(over="ignore"):   # finite in float64, maybe not in float32
                w = w.astype(self.dtype)
            if not np.all(np.isfinite(w)):
                raise ValueError(f"init of layer {i} ({layer!r}) returned values beyond the "
                                 f"range of the model's dtype {self.dtype.name}")
            layer.weight.data[...] = w
            if layer.bias is not None:
                layer.bias.data[...] = layer.bias_init

    @property
    def flat_params(self) -> np.ndarray:
        """1-D zero-copy view (num_parameters,) of the C network's ONE parameter buffer.

        Taking it marks the parameters as changed (see :meth:`touch`)."""
        self._net.touch()
        return self._flat_params

    def touch(self) -> None:
        """Tell the model its parameters were written.

        Inference packs the weights once and reuses them until a parameter changes.
        Every optimizer step and every access to ``Parameter.data`` / ``flat_params``
        marks them changed, so ``p.data[...] = w`` is seen by the next ``model(x)``.
        Only a write through an array kept from *before* an inference call, e.g.
        ``w = p.data; model(x); w[0, 0] = 1.0``, needs ``model.touch()`` before the
        next inference.
        """
        self._net.touch()

    @property
    def flat_grads(self) -> np.ndarray:
        """1-D zero-copy view (num_parameters,) of the C network's ONE gradient buffer."""
        return self._flat_grads

    def parameters(self) -> list[Parameter]:
        """Every weight and bias, in layer order."""
        return [p for _, p in self._params]

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """(name, Parameter) pairs: ``"0.weight"``, ``"0.bias"``, ``"3.weight"``, ..."""
        return list(self._params)

    @property
    def dropout_step(self) -> int:
        """The dropout step counter (advanced by every training forward); settable to resume."""
        return int(self._net.step)

    @dropout_step.setter
    def dropout_step(self, value: int) -> None:
        self._net.step = check_int(value, "dropout_step", 0)

    @property
    def loss(self) -> _losses.Loss | None:
        """The loss the model is trained with: set by ``fit``, or assigned (a name such as
        ``"cross_entropy"``, a loss object, or None). ``evaluate`` and ``predict_proba``
        use it when given no ``loss``."""
        return self._loss

    @loss.setter
    def loss(self, value: Any) -> None:
        self._loss = None if value is None else _losses.get(value)

    # ---------------------------------------------------------- forward etc.
    def _prepare_x(self, x: Any, what: str = "x") -> np.ndarray:
        """x as an array the C core reads as is (the model's dtype, uniform row stride)."""
        given = x
        if type(x) is not np.ndarray:  # lists, and subclasses (np.matrix, masked) as plain arrays
            try:
                x = np.asarray(x)
            except Exception as e:
                raise TypeError(f"{what} must be array-like, got {type(x).__name__}") from e
        if x.dtype.kind not in "fiu":
            src = "" if given is x else f" (from {type(given).__name__})"
            raise TypeError(f"{what} must hold floats or integers, got dtype {x.dtype}{src}")
        if x.ndim != 2:
            hint = " (use x.reshape(1, -1) for one sample)" if x.ndim == 1 else ""
            raise ValueError(f"{what} must be 2-D (batch, {self.in_features}), got a {x.ndim}-D "
                             f"array of shape {x.shape}{hint}")
        if x.shape[1] != self.in_features:
            raise ValueError(f"{what} has {x.shape[1]} features, the model expects "
                             f"{self.in_features}: shape (batch, {self.in_features}) expected, "
                             f"got {x.shape}")
        if x.shape[0] == 0:
            raise ValueError(f"{what} is an empty batch (shape {x.shape}); need at least one row")
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)  # one copy, C order
        it = x.itemsize
        s0, s1 = x.strides
        ok = (x.flags.aligned and (s1 == it or x.shape[1] == 1)
              and (x.shape[0] == 1 or (s0 % it == 0 and s0 // it >= x.shape[1])))
        return x if ok else np.require(x, requirements="CA")  # an unaligned x: an aligned copy

    def __call__(self, x: Any) -> np.ndarray:
        """Inference: ``forward(x, training=False)``; x (batch, in_features) -> (batch, out)."""
        out = self._net.infer(x)
        if out is None:  # not readable as is: prepare (checks, casts), then run
            out = self._net.forward(self._prepare_x(x), False)
        return out

    def forward(self, x: Any, training: bool = False) -> np.ndarray:
        """Run the network on x (batch, in_features); returns a new (batch, out_features) array.

        ``training=True`` enables dropout, advances the dropout step counter and keeps
        what :meth:`backward` needs. ``training`` is a bool (or ``np.bool_``); anything
        else is a TypeError (the str ``"no"`` would be true).
        """
        if not check_bool(training, "training"):
            return self(x)
        return self._net.forward(self._prepare_x(x), True)

    def backward(self, dout: Any) -> None:
        """Accumulate parameter gradients from d loss / d out (batch, out_features) of the
        last training forward (the input gradient is not computed)."""
        if not isinstance(dout, np.ndarray):
            dout = np.asarray(dout)
        if dout.dtype.kind not in "fiu":
            raise TypeError(f"dout must be a float array, got dtype {dout.dtype}")
        if dout.ndim == 1 and self.out_features == 1:
            dout = dout.reshape(-1, 1)
        b = self._net.last_batch
        if b and dout.shape != (b, self.out_features):
            raise ValueError(f"dout must have shape ({b}, {self.out_features}) like the output "
                             f"of the last training forward, got {dout.shape}")
        if dout.dtype != self.dtype or not dout.flags.c_contiguous or not dout.flags.aligned:
            dout = np.require(dout, self.dtype, "CA")   # C-contiguous AND aligned
        self._net.backward(dout)

    def zero_grad(self) -> None:
        """Set every gradient to zero."""
        self._net.zero_grad()

    def train_step(self, x: Any, y: Any, loss: Any, optimizer: Any,
                   clip_norm: float | None = None, clip_value: float | None = None,
                   include_penalty: bool = False, sample_weight: Any = None,
                   distributed: bool = False) -> float:
        """One training step in ONE C call with the GIL released: zero_grad, forward
        (training), loss, backward, optional clipping (global norm ``clip_norm``, then
        element value ``clip_value``), optimizer update. Returns the batch loss.

        Same result, bit for bit, as ``zero_grad(); out = forward(x, True); loss_fn(out, y);
        backward(loss_fn.backward()); [clip]; optimizer.step()``. Records
        ``last_grad_norm`` (global L2 norm over the optimizer's parameters, before clipping).

        With ``include_penalty=True`` the returned loss adds the optimizer's L1/L2
        regularization term (:meth:`nncore.optim.Optimizer.penalty`, taken at the
        weights the loss was computed with, i.e. before the update); the update is
        the same either way.

        ``sample_weight`` (batch,): row weights of the loss, computed in C: the mean is
        ``sum_i w_i l_i / sum_i w_i`` (finite, >= 0, not all 0).

        ``distributed=True``: one data-parallel step over MPI (``pip install
        "nncore[mpi]"``, see :mod:`nncore.distributed`): every rank passes its own batch;
        the parameters are broadcast from rank 0 at the model's first such step, the
        gradients of all ranks are averaged (weighted by their rows' weights) by ONE
        allreduce between backward and the update (:meth:`train_step_allreduced`), and
        every rank applies the same update (before the step, one more allreduce, of one
        number, sums the ranks' batch weights: their batches may differ in size). Returns this rank's batch loss. An error on
        one rank (a bad batch) aborts the whole job with its message (MPI Abort).
        ``distributed`` is a bool (or ``np.bool_``); anything else is a TypeError.
        """
        include_penalty = check_bool(include_penalty, "include_penalty")
        if not check_bool(distributed, "distributed"):
            return self._train_step(x, y, loss, optimizer, clip_norm, clip_value,
                                    include_penalty, sample_weight, None)
        comm = _upper().communicator()   # the ImportError naming nncore[mpi], if absent
        with comm.abort_on_error("train_step"):
            return self._train_step(x, y, loss, optimizer, clip_norm, clip_value,
                                    include_penalty, sample_weight, comm)

    def _train_step(self, x: Any, y: Any, loss: Any, optimizer: Any, clip_norm: float | None,
                    clip_value: float | None, include_penalty: bool, sample_weight: Any,
                    comm: Any) -> float:
        """:meth:`train_step` once the communicator is known (None: one process)."""
        loss_fn = _losses.get(loss)
        if isinstance(optimizer, str):
            raise TypeError(f"train_step needs an optimizer object, got the name {optimizer!r}: "
                            f"build it once, e.g. nncore.optim.get({optimizer!r}, "
                            f"model.parameters()), and pass it to every step (its state "
                            f"lives across steps)")
        if getattr(optimizer, "model", None) is not self:
            raise ValueError("optimizer was built on another model's parameters (or is not an "
                             "nncore.optim optimizer); build it with model.parameters()")
        cn = 0.0 if clip_norm is None else finite_float(clip_norm, "clip_norm")
        cv = 0.0 if clip_value is None else finite_float(clip_value, "clip_value")
        if cn < 0 or (clip_norm is not None and cn == 0):
            raise ValueError(f"clip_norm must be > 0, got {clip_norm}")
        if cv < 0 or (clip_value is not None and cv == 0):
            raise ValueError(f"clip_value must be > 0, got {clip_value}")
        if not self._net.readable(x):   # one C-level check; else check, cast, copy
            x = self._prepare_x(x)
        kind, red, param, target, labels = loss_fn._prepare_target(
            y, (x.shape[0], self.out_features), self.dtype)
        w = check_sample_weight(sample_weight, x.shape[0], self.dtype)
        pen = optimizer.penalty() if include_penalty else 0.0
        if comm is not None:
            comm.sync_parameters_once(self)
            mine = float(x.shape[0]) if w is None else float(w.sum(dtype=np.float64))
            total = float(comm.sum([mine])[0])
            share = 1.0 if red == _losses._REDUCTIONS["sum"] else mine / total
            value = self.train_step_allreduced(x, target, labels, (kind, red, param),
                                               optimizer, cn, cv, comm, w, None, share)
        else:
            value = self.train_step_prepared(x, target, labels, (kind, red, param),
                                             optimizer, cn, cv, w)
        return value + pen if include_penalty else value

    def train_step_prepared(self, x: np.ndarray, target: np.ndarray | None,
                            labels: np.ndarray | None, loss_spec: tuple[int, int, float],
                            optimizer: Any, clip_norm: float, clip_value: float,
                            weights: np.ndarray | None = None,
                            out: np.ndarray | None = None) -> float:
        """:meth:`train_step` on inputs already checked and converted: the per-batch call
        of ``nncore.training.fit``, which checks the whole data set once.

        Parameters
        ----------
        x : ndarray (batch, in_features)
            The model's dtype, rows contiguous (as :meth:`prepare_inputs` gives).
        target, labels : ndarray or None
            As ``loss._prepare_target`` returns them: ``target`` (batch, out_features)
            in the model's dtype, or ``labels`` (batch,) int64 in range.
        loss_spec : (kind, reduction, param)
            The loss's C codes (``loss._c_spec(labels is not None)``).
        optimizer : nncore.optim.Optimizer
            Built on this model (not re-checked here).
        clip_norm, clip_value : float
            0.0 for none.
        weights : ndarray (batch,), optional
            Row weights as ``check_sample_weight`` returns them (the model's dtype,
            C-contiguous, finite, >= 0, not all 0).
        out : ndarray (batch, out_features), optional
            Receives the outputs the step's training forward computed (before the
            update, dropout applied): what ``fit`` computes its training metrics from.

        Returns
        -------
        float
            The batch loss; ``last_grad_norm`` is recorded.

        The C bindings still check every pointer-relevant property (dtype, shape,
        strides) and the C loss checks the label range, so a wrong input raises, never
        crashes; but the messages are the bindings', not :meth:`train_step`'s.
        """
        value, norm = self._net.train_step(x, target, labels, loss_spec[0], loss_spec[1],
                                           loss_spec[2], optimizer._prepare(), clip_norm,
                                           clip_value, weights, out)
        self.last_grad_norm = norm
        return value

    def train_step_allreduced(self, x: np.ndarray | None, target: np.ndarray | None,
                              labels: np.ndarray | None, loss_spec: tuple[int, int, float],
                              optimizer: Any, clip_norm: float, clip_value: float, comm: Any,
                              weights: np.ndarray | None = None,
                              out: np.ndarray | None = None, share: float = 1.0) -> float:
        """:meth:`train_step_prepared` split around ONE allreduce of the gradient buffer:
        the data-parallel step of ``fit(..., distributed=True)``.

        Forward, loss and backward in one C call (``nn_net_train_grads``); the gradients
        times ``share`` (this rank's part of the global batch: its rows' weight over all
        ranks' for a mean loss, 1 for a sum) are summed over the ranks in place by
        ``comm.allreduce_sum(flat_grads)`` (GIL released in MPI); then clipping and the
        update in one C call (``nn_net_apply_update``), the same on every rank. With one
        rank and ``share`` 1 the bits are those of :meth:`train_step_prepared`.

        ``x`` None: this rank has nothing to train on in this step (its rows all weigh
        0): it adds zero gradients and returns nan. Dropout draws from step counter
        ``step * world + rank`` (a stream per rank, reproducible); the counter then moves
        on by one as usual. ``comm`` is what :mod:`nncore.distributed` builds (duck-typed
        here: ``rank``, ``size``, ``allreduce_sum``, ``after_step``)."""
        net = self._net
        base = net.step
        opt = optimizer._prepare()
        if x is None:
            net.zero_grad()
            value = math.nan
        else:
            net.step = base * comm.size + comm.rank
            try:
                value = net.train_step(x, target, labels, loss_spec[0], loss_spec[1],
                                       loss_spec[2], opt, clip_norm, clip_value, weights, out,
                                       True)[0]
            finally:
                net.step = base
            if share != 1.0:
                np.multiply(self._flat_grads, share, out=self._flat_grads)
        net.step = base + 1
        comm.allreduce_sum(self._flat_grads)
        self.last_grad_norm = net.apply_update(opt, clip_norm, clip_value)
        comm.after_step(self)
        return value

    def profile(self, x: Any, y: Any, loss: Any, optimizer: Any, steps: int = 20, *,
                warmup: int = 1, rounds: int = 1) -> _profiling.Profile:
        """Where a training step's time goes: ``warmup`` then ``rounds`` x ``steps``
        real :meth:`train_step` calls, timed phase by phase inside the fused C step.

        The steps train the model (parameters and optimizer state advance exactly as
        ``warmup + rounds * steps`` plain ``train_step`` calls would, bit for bit);
        the C timers are on only during the profiled calls.

        Parameters
        ----------
        x : array (batch, in_features)
        y : array
            Targets as ``loss`` takes them.
        loss : str or nncore.losses.Loss
        optimizer : nncore.optim.Optimizer
            Built on this model's parameters.
        steps : int >= 1
        warmup : int >= 0
            Untimed steps first (workspace, thread team and caches warm).
        rounds : int >= 1
            Rounds of ``steps``; the fastest round is reported (other processes
            only ever slow a round down).

        Returns
        -------
        nncore.profiling.Profile
            ``print(prof)`` prints the table (time, % of the step, GFLOP/s and % of
            the measured FMA peak for each GEMM: the float32 peak in bfloat16 compute
            mode, said in the header; GB/s for the memory-bound passes);
            ``prof.to_dict()`` has ``total_s`` (one whole step) and ``layers`` (one
            entry per layer and phase).
        """
        return _profiling.profile_steps(self, x, y, loss, optimizer, steps, warmup, rounds)

    # ------------------------------------------------- inference in batches
    def prepare_inputs(self, X: Any, what: str = "X") -> np.ndarray | _rows.RowSource:
        """``X`` as ``predict``, ``fit`` and ``evaluate`` take it: shape (n, in_features)
        ((n,) is read as one feature per row when in_features is 1), numbers, finite;
        returned cast once to the model's dtype, C-contiguous. ``what`` names ``X`` in
        the TypeError / ValueError a bad input raises.

        X already of the model's dtype and C-contiguous (a read-only ``np.memmap``
        too) is returned as a view, not copied; the NaN/Inf check reads it in blocks
        of about 1 MiB, so a memory-mapped X is never loaded whole. Any other object
        with ``__len__`` and ``__getitem__`` on int64 index arrays (and no
        ``__array__``; not a Mapping such as a dict, which is a TypeError) is returned
        as an ``nncore._rows.RowSource`` over it, checked block by block the same way
        and read one batch at a time by the loops."""
        if _rows.is_row_source(X):
            X = _rows.RowSource(X, self.in_features, self.dtype, what)
            _rows.check_finite_rows(X, what, _FINITE_BLOCK)
            return X
        if hasattr(X, "__array__") or isinstance(X, (list, tuple)):
            try:
                X = np.asarray(X)
            except (ValueError, TypeError) as e:   # ragged rows and the like
                raise TypeError(f"{what} must be an array of rows of one length, got "
                                f"{type(X).__name__} NumPy cannot make one of: {e}") from e
        if not isinstance(X, np.ndarray):
            raise TypeError(f"{what} must be an array, got {type(X).__name__}")
        if X.dtype.kind not in "fiub":
            raise TypeError(f"{what} must hold numbers, got dtype {X.dtype}")
        nin = self.in_features
        if X.ndim == 1 and nin == 1:
            X = X.reshape(-1, 1)
        if X.ndim != 2 or X.shape[1] != nin:
            raise ValueError(f"{what} must have shape (n_samples, {nin}) for this model, got "
                             f"{X.shape}")
        with np.errstate(over="ignore"):  # 1e300 -> float32 inf: reported just below
            X = np.require(X, self.dtype, "CA")   # C-contiguous and aligned (a view if so)
        _rows.check_finite_rows(X, what, _FINITE_BLOCK)   # in blocks of rows
        return X

    def predict_into(self, X: np.ndarray, out: np.ndarray, batch_size: int) -> np.ndarray:
        """The loop of :meth:`predict` without its checks: inference on ``X`` (from
        :meth:`prepare_inputs`) ``batch_size`` rows at a time, written into ``out``
        (n, out_features) of the model's dtype, which is returned."""
        fwd = self.forward
        for s in range(0, len(X), batch_size):
            e = min(s + batch_size, len(X))
            out[s:e] = fwd(X[s:e], training=False)
        return out

    def predict(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """Network outputs in inference mode (dropout off), computed in batches.

        Parameters
        ----------
        X : array (n, in_features)
        batch_size : int

        Returns
        -------
        ndarray (n, out_features), the model's dtype
            Raw outputs (logits for cross-entropy / BCE models): take
            ``argmax(axis=1)`` for classes, or use :meth:`predict_classes`;
            :meth:`predict_proba` gives probabilities.
        """
        if not is_int(batch_size) or batch_size <= 0:
            raise ValueError(f"batch_size must be an int > 0, got {batch_size!r}")
        X = self.prepare_inputs(X)
        out = np.empty((len(X), self.out_features), self.dtype)
        return self.predict_into(X, out, int(batch_size))

    def predict_classes(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """Predicted class per sample (n,) int64: argmax of the outputs, or
        ``output > 0`` for a single-output (BCE) model."""
        out = self.predict(X, batch_size)
        if out.shape[1] == 1:
            return (out[:, 0] > 0).astype(np.int64)
        return out.argmax(axis=1).astype(np.int64)

    def predict_proba(self, X: Any, batch_size: int | None = None, *,
                      loss: Any = None) -> np.ndarray:
        """Probabilities from the outputs (logits), as the model's loss reads them.

        Softmax over each row for cross-entropy (multi-class), the sigmoid of every
        output for binary cross-entropy (``BCEWithLogitsLoss``, one yes/no per output).

        Parameters
        ----------
        X : array (n, in_features)
        batch_size : int, optional
            Rows per forward call; None: :meth:`predict`'s default (1024).
        loss : str or loss object, optional
            The loss the outputs are logits for; default: :attr:`loss`, the loss of
            the last ``fit`` (a loaded model has none: pass it, or set ``model.loss``).

        Returns
        -------
        ndarray (n, out_features), the model's dtype
            Each row sums to 1 for cross-entropy; values in [0, 1] for BCE.

        Raises
        ------
        ValueError
            No loss known, or a regression loss (MSE, L1, Huber): its outputs are
            values, not logits.
        """
        loss_fn = self._loss if loss is None else _losses.get(loss)
        if loss_fn is None:
            raise ValueError("predict_proba needs to know the loss the outputs are logits for: "
                             "fit the model first, pass loss='cross_entropy' or loss='bce', "
                             "or set model.loss")
        kind = _losses.output_kind(loss_fn)
        if kind == "regression":
            raise ValueError(f"predict_proba needs a classification loss (cross-entropy or "
                             f"BCE), got {loss_fn!r}: its outputs are values, not logits")
        out = self.predict(X, 1024 if batch_size is None else batch_size)
        return _ops.softmax(out) if kind == "ce" else _ops.sigmoid(out)

    # ------------------------------------------ training (nncore.training)
    def fit(self, X: Any, y: Any, *args: Any, **kwargs: Any) -> Any:
        """Train on ``(X, y)`` in minibatches; returns the :class:`nncore.history.History`.

        ``nncore.training.fit(self, X, y, ...)``: every argument (``loss``,
        ``optimizer``, ``epochs``, ``batch_size``, ``validation_split``,
        ``validation_data``, ``callbacks``, ``checkpoint``, ...) is documented there.
        """
        return _upper().fit(self, X, y, *args, **kwargs)

    def evaluate(self, X: Any, y: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
        """Loss (and accuracy for classification) on ``(X, y)`` in inference mode:
        ``nncore.training.evaluate(self, X, y, loss=None, batch_size=1024)``; the loss
        defaults to :attr:`loss`."""
        return _upper().evaluate(self, X, y, *args, **kwargs)

    def to_onnx(self, path: Any, **kwargs: Any) -> str:
        """Write the model as an ONNX file; returns the path. ``nncore.onnx.export(self,
        path, **kwargs)``: ``opset``, ``dynamic_batch``, ``input_name`` and
        ``output_name`` are documented there. Needs ``pip install "nncore[onnx]"``."""
        return _upper().to_onnx(self, path, **kwargs)

    # ------------------------------------------------------------ diagnostics
    def grad_norms(self) -> dict[str, float]:
        """L2 norm of each parameter's current gradient, by name (float64 sums; one C
        pass per parameter, no temporaries: fit logs them every epoch)."""
        g = self._flat_grads
        return {name: _core._optim_grad_norm(g, [p.offset], [p.size]) for name, p in self._params}

    def _rows(self) -> list[tuple[str, str, int]]:
        rows = []
        for i, layer in enumerate(self.layers):
            count = 0
            if isinstance(layer, Linear):
                count = layer.weight.size + (layer.bias.size if layer.bias is not None else 0)
            rows.append((f"{i}: {layer!r}", f"(batch, {self._shapes[i]})", count))
        return rows

    def summary(self, print_out: bool = True) -> str:
        """Print (and return) a table of layers, output shapes and parameter counts."""
        rows = self._rows()
        w0 = max(len("Layer"), *(len(r[0]) for r in rows))
        w1 = max(len("Output shape"), *(len(r[1]) for r in rows))
        line = "-" * (w0 + w1 + 16)
        out = [f"Sequential ({self.dtype}, seed={self.seed}), input (batch, {self.in_features})",
               line, f"{'Layer':<{w0}}  {'Output shape':<{w1}}  {'Params':>12}", line]
        out += [f"{a:<{w0}}  {b:<{w1}}  {c:>12,}" for a, b, c in rows]
        out += [line, f"Total parameters: {self.num_parameters:,} "
                      f"({self.num_parameters * self.dtype.itemsize:,} bytes)"]
        text = "\n".join(out)
        if print_out:
            print(text)
        return text

    def __repr__(self) -> str:
        inner = "".join(f"  ({i}): {layer!r},\n" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}  dtype={self.dtype.name!r}, seed={self.seed})"

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    # -------------------------------------------------------------- config
    def get_config(self) -> dict:
        """``{"layers": [layer configs], "dtype": "float32", "seed": 0}`` (JSON-able), plus
        ``"compute_dtype": "bfloat16"`` in bf16 compute mode (absent means float32)."""
        cfg = {"layers": [layer.get_config() for layer in self.layers],
               "dtype": self.dtype.name, "seed": self.seed}
        if self.compute_dtype != "float32":
            cfg["compute_dtype"] = self.compute_dtype
        return cfg

    @classmethod
    def from_config(cls, cfg: dict) -> "Sequential":
        """A new model from :meth:`get_config` (freshly initialized from its seed)."""
        if not isinstance(cfg, dict) or "layers" not in cfg:
            raise ValueError("config must be a dict with a 'layers' list")
        if not isinstance(cfg["layers"], (list, tuple)):
            raise TypeError(f"config 'layers' must be a list of layer configs, got "
                            f"{type(cfg['layers']).__name__}")
        layers = [layer_from_config(c) for c in cfg["layers"]]
        return cls(*layers, dtype=cfg.get("dtype", "float32"), seed=cfg.get("seed", 0),
                   compute_dtype=cfg.get("compute_dtype", "float32"))

    # ------------------------------------------- pickle, copy.deepcopy, joblib
    def __getstate__(self) -> dict:
        """The model as the bytes of its safetensors model file (architecture and
        weights, never C pointers) plus what training keeps on it."""
        tensors = {name: p.data for name, p in self._params}
        meta = nncore_metadata(MODEL_FORMAT, self.get_config())
        loss = self._loss.get_config() if self._loss is not None else None
        return {"safetensors": tensors_to_bytes(tensors, meta), "loss": loss,
                "epochs_trained": self.epochs_trained, "dropout_step": self.dropout_step,
                "last_grad_norm": self.last_grad_norm}

    def __setstate__(self, state: dict) -> None:
        tensors, meta = tensors_from_bytes(state["safetensors"], what="pickled Sequential")
        cfg = strict_json(meta["config"], "pickled Sequential: config")
        self.__init__(*[layer_from_config(c) for c in cfg["layers"]], dtype=cfg["dtype"],
                      seed=cfg["seed"], compute_dtype=cfg.get("compute_dtype", "float32"))
        for name, p in self._params:
            p.data[...] = tensors[name]
        self._loss = None if state["loss"] is None else _losses.from_config(state["loss"])
        self.epochs_trained = state["epochs_trained"]
        self.dropout_step = state["dropout_step"]
        self.last_grad_norm = state["last_grad_norm"]

    def save(self, path: Any, metadata: Any = None) -> None:
        """Save the architecture and weights to a safetensors model file, atomically
        (``nncore.io.load`` reads it back bit for bit; so does the C API).

        Parameters
        ----------
        path : str or path-like
            Conventionally ``*.safetensors``. Written to a temporary file in the same
            directory, then renamed: a crash never leaves a half-written model.
        metadata : mapping str -> str, optional
            Extra entries for the header's ``__metadata__`` (``format``,
            ``nncore_version`` and ``config`` are reserved).
        """
        tensors = {name: p.data for name, p in self._params}
        save_tensors(path, tensors, nncore_metadata(MODEL_FORMAT, self.get_config(), metadata))
