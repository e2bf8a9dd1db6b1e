"""Model files and training checkpoints: save / load models, save / load checkpoints.

What it is for: ``save(model, path)`` / ``load(path)`` (an exact round trip: the same bits,
so the same predictions) and ``save_checkpoint`` / ``load_checkpoint`` (model + optimizer
state + dropout counter + epoch, for resuming training). The safetensors format under both
is the leaf ``nncore._safetensors`` (``save_tensors`` / ``load_tensors`` / ``read_header``
are re-exported here); ``Sequential.save`` writes a model file through that leaf, and
:func:`save` is that method.
What it is not: a pickle. Loading parses JSON and copies numbers; nothing in a file is ever
executed, every size in a file is checked against the file, and the architecture is checked
before a network is built.

nncore's metadata: ``format`` ("nncore" for a model, "nncore-checkpoint" for a
checkpoint), ``nncore_version``, ``config`` (``json.dumps(model.get_config())``).
Tensor names are the model's ``named_parameters()`` names ("0.weight", "0.bias", ...).
"""
from __future__ import annotations

import json
import math
import os
from typing import Any, Iterable, Mapping

import numpy as np

from . import _registry
from ._safetensors import (CHECKPOINT_FORMAT, MODEL_FORMAT, load_tensors, nncore_metadata,
                           read_header, save_tensors, strict_json)
from ._validate import is_int
from .nn import Sequential

__all__ = ["save", "load", "load_metadata", "save_checkpoint", "load_checkpoint",
           "save_tensors", "load_tensors", "read_header", "MODEL_FORMAT", "CHECKPOINT_FORMAT",
           "MODEL_DTYPES"]

MODEL_DTYPES = ("F32", "F64")
_CHECKPOINT_DTYPES = ("F32", "F64", "I64", "I32", "U64", "U32", "U8", "BOOL")
MAX_LAYERS = 100_000


# ======================================================== model files

def _param_specs(config: Any, where: str) -> tuple[str, list[tuple[str, tuple[int, ...]]]]:
    """Check a model config's shape and list the parameters it implies, without building it.

    Returns the dtype name ("F32"/"F64") and [(name, shape)] in named_parameters order.
    Done before ``Sequential.from_config`` so a hostile config cannot make it allocate.
    """
    if not isinstance(config, dict):
        raise ValueError(f"{where}: config must be a JSON object")
    layers = config.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ValueError(f"{where}: config has no 'layers' list")
    if len(layers) > MAX_LAYERS:
        raise ValueError(f"{where}: config declares {len(layers)} layers (limit {MAX_LAYERS})")
    dtype = config.get("dtype", "float32")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"{where}: config dtype must be 'float32' or 'float64', got {dtype!r}")
    compute = config.get("compute_dtype", "float32")
    if not isinstance(compute, str) or compute not in _registry.COMPUTE:
        raise ValueError(f"{where}: config compute_dtype must be one of "
                         f"{list(_registry.COMPUTE)}, got {compute!r}")
    if compute != "float32" and dtype != "float32":
        raise ValueError(f"{where}: config compute_dtype={compute!r} needs dtype float32, "
                         f"got {dtype!r}")
    specs = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("type"), str):
            raise ValueError(f"{where}: layer {i} config must be an object with a 'type'")
        if layer["type"] == "Linear":
            fin, fout = layer.get("in_features"), layer.get("out_features")
            if not (is_int(fin) and is_int(fout) and fin > 0 and fout > 0):
                raise ValueError(f"{where}: layer {i} (Linear) needs positive integer "
                                 f"in_features/out_features, got {fin!r}, {fout!r}")
            specs.append((f"{i}.weight", (fout, fin)))
            if layer.get("bias", True):
                specs.append((f"{i}.bias", (fout,)))
    return ("F32" if dtype == "float32" else "F64"), specs


MAX_ROW_VALUES = 1 << 20   # csrc/io.c: NN_IO_MAX_ROW_VALUES


def _check_workspace(config: dict, path: str) -> None:
    """Refuse an architecture whose forward pass needs more than MAX_ROW_VALUES workspace
    values per batch row (one output per layer) unless the file is at least that many
    bytes: thousands of activation layers after one wide Linear would otherwise let a
    small file ask for gigabytes per row. Same rule as the C reader."""
    layers = config["layers"]
    width = next((layer["in_features"] for layer in layers if layer.get("type") == "Linear"),
                 None)
    if width is None:
        return  # no Linear: Sequential refuses it when built
    row = 0
    for layer in layers:
        if layer.get("type") == "Linear":
            width = layer["out_features"]
        row += width
    if row > MAX_ROW_VALUES and row > os.path.getsize(path):
        raise ValueError(f"{path}: the architecture needs {row} workspace values per input "
                         f"row ({len(layers)} layers) but the file has only "
                         f"{os.path.getsize(path)} bytes; refusing (limit {MAX_ROW_VALUES} "
                         f"values per row for files smaller than that)")


def _check_tensors_match(where: str, dtype: str, specs, tensors_meta: Mapping[str, tuple]):
    """tensors_meta: name -> (dtype, shape, ...). Every expected parameter present, same
    shape and dtype, and nothing else."""
    names = [n for n, _ in specs]
    missing = [n for n in names if n not in tensors_meta]
    if missing:
        raise ValueError(f"{where}: missing tensor(s) {missing} required by the architecture")
    extra = [n for n in tensors_meta if n not in set(names)]
    if extra:
        raise ValueError(f"{where}: tensor(s) {extra} are not parameters of the architecture")
    for name, shape in specs:
        dt, got = tensors_meta[name][0], tuple(tensors_meta[name][1])
        if got != shape:
            raise ValueError(f"{where}: tensor {name!r} has shape {list(got)} but the "
                             f"architecture needs {list(shape)}")
        if dt != dtype:
            raise ValueError(f"{where}: tensor {name!r} is {dt} but the model dtype is {dtype}")


def _build(config: dict, where: str) -> Sequential:
    try:
        return Sequential.from_config(config)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise ValueError(f"{where}: invalid architecture in config: {e}") from None


def _copy_params(model, tensors: Mapping[str, np.ndarray], where: str, prefix: str = "") -> None:
    for name, p in model.named_parameters():
        src = tensors[prefix + name]
        if tuple(p.data.shape) != src.shape:   # model and config disagree: a config bug
            raise ValueError(f"{where}: parameter {name!r} of the built model has shape "
                             f"{list(p.data.shape)}, file has {list(src.shape)}")
        p.data[...] = src


def _parse_config(meta: Mapping[str, str], where: str) -> dict:
    if "config" not in meta:
        raise ValueError(f"{where}: metadata has no 'config' (the architecture)")
    return strict_json(meta["config"], f"{where}: metadata 'config'")


def _read_nncore_header(path: str, dtypes: Iterable[str], fmt: str, kind: str):
    """Header of a model or checkpoint file: (metadata, entries, config, dtype, specs),
    with the format tag, the architecture and the parameters it implies checked."""
    meta, entries, _ = read_header(path, dtypes)
    if meta.get("format") != fmt:
        raise ValueError(f"{path}: not {kind} (metadata format is {meta.get('format')!r}, "
                         f"expected {fmt!r})")
    config = _parse_config(meta, path)
    dtype, specs = _param_specs(config, path)
    return meta, entries, config, dtype, specs


def save(model: Sequential, path: str | os.PathLike,
         metadata: Mapping[str, str] | None = None) -> None:
    """Save a model's architecture and weights to a safetensors file, atomically:
    ``model.save(path, metadata)`` (path and metadata are documented there); the file
    :func:`load` reads."""
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be an nncore.nn.Sequential, got {type(model).__name__}")
    model.save(path, metadata)


def load(path: str | os.PathLike) -> Sequential:
    """Load a model saved by :func:`save`; predictions are bit-identical to the saved model's.

    Never executes anything from the file. The header, the architecture and every
    tensor's size are validated before the network is built.

    Returns
    -------
    nncore.nn.Sequential

    Raises
    ------
    ValueError
        For any missing, truncated, hostile or inconsistent file, naming the problem.
    """
    path = os.fspath(path)
    meta, entries, config, dtype, specs = _read_nncore_header(
        path, MODEL_DTYPES, MODEL_FORMAT, "an nncore model file")
    _check_tensors_match(path, dtype, specs, entries)
    _check_workspace(config, path)
    tensors, _ = load_tensors(path, MODEL_DTYPES)
    model = _build(config, path)
    _copy_params(model, tensors, path)
    return model


def load_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The header metadata of a model file, with ``config`` parsed (no tensors read)."""
    path = os.fspath(path)
    meta, entries, _ = read_header(path)
    out: dict[str, Any] = dict(meta)
    if "config" in meta:
        out["config"] = _parse_config(meta, path)
    out["tensors"] = {k: {"dtype": v[0], "shape": list(v[1])} for k, v in entries.items()}
    return out


# ========================================================= checkpoints

def _encode(obj: Any, tensors: dict[str, np.ndarray], prefix: str) -> Any:
    """JSON-able form of a nested state (dicts, lists, tuples, numbers, arrays).

    Arrays become ``{"__tensor__": name}`` and are stored as tensors; tuples, dicts with
    non-string keys and non-finite floats get tagged objects so they come back as they were.
    """
    if isinstance(obj, np.ndarray):
        name = f"{prefix}{len(tensors)}"
        tensors[name] = obj
        return {"__tensor__": name}
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, prefix) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, tensors, prefix) for v in obj]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, tensors, prefix) for k, v in obj.items()}
        return {"__dict__": [[_encode(k, tensors, prefix), _encode(v, tensors, prefix)]
                             for k, v in obj.items()]}
    raise TypeError(f"cannot store a {type(obj).__name__} in a checkpoint")


def _decode(obj: Any, tensors: Mapping[str, np.ndarray], where: str) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors, where) for v in obj]
    if isinstance(obj, dict):
        if len(obj) == 1:
            (k, v), = obj.items()
            if k == "__tensor__":
                if not isinstance(v, str) or v not in tensors:
                    raise ValueError(f"{where}: reference to a missing tensor {v!r}")
                return tensors[v]
            if k == "__tuple__" and isinstance(v, list):
                return tuple(_decode(x, tensors, where) for x in v)
            if k == "__float__" and v in ("nan", "inf", "-inf"):
                return float(v)
            if k == "__dict__" and isinstance(v, list):
                out = {}
                for item in v:
                    if not isinstance(item, list) or len(item) != 2:
                        raise ValueError(f"{where}: malformed __dict__ item")
                    key = _decode(item[0], tensors, where)
                    try:
                        out[key] = _decode(item[1], tensors, where)
                    except TypeError:
                        raise ValueError(f"{where}: unhashable dict key") from None
                return out
        return {k: _decode(v, tensors, where) for k, v in obj.items()}
    return obj


def _decode_state(text: str, tensors: Mapping[str, np.ndarray], path: str, what: str) -> Any:
    """A checkpoint's JSON state ``text`` parsed and decoded; ValueError when it is nested
    deeper than :func:`_decode` can recurse (JSON itself parses deeper)."""
    obj = strict_json(text, f"{path}: {what}")
    try:
        return _decode(obj, tensors, path)
    except RecursionError:
        raise ValueError(f"{path}: {what} is nested too deeply") from None


def save_checkpoint(path: str | os.PathLike, model, optimizer=None, epoch: int = 0,
                    extra: Any = None) -> None:
    """Save everything needed to resume training: weights, optimizer state, dropout
    counter, epoch and any ``extra`` state (e.g. the shuffle RNG state), atomically.

    Parameters
    ----------
    path : str or path-like
    model : nncore.nn.Sequential
    optimizer : nncore.optim.Optimizer or None
        Its ``state_dict()`` is stored (arrays as tensors, the rest as JSON).
    epoch : int
        The number of completed epochs.
    extra : nested dicts/lists/tuples of numbers, strings and arrays, optional
    """
    tensors: dict[str, np.ndarray] = {}
    for name, p in model.named_parameters():
        tensors["model." + name] = p.data
    opt_state = _encode(optimizer.state_dict(), tensors, "optim.") if optimizer is not None else None
    extra_state = _encode(extra, tensors, "extra.")
    meta = nncore_metadata(CHECKPOINT_FORMAT, model.get_config(), {
        "epoch": str(int(epoch)),
        "dropout_step": str(int(model.dropout_step)),
        "optimizer": json.dumps(opt_state, allow_nan=False),
        "optimizer_class": type(optimizer).__name__ if optimizer is not None else "",
        "extra": json.dumps(extra_state, allow_nan=False),
    })
    save_tensors(path, tensors, meta)


def load_checkpoint(path: str | os.PathLike, model, optimizer=None) -> dict[str, Any]:
    """Restore a checkpoint saved by :func:`save_checkpoint` into ``model`` (and ``optimizer``).

    The model must have the checkpoint's architecture (layers and dtype). Restored:
    the weights, the compute mode (``model.compute_dtype``: the checkpoint's, whatever
    the model computed in, so training resumes exactly), the dropout counter and the
    optimizer state.

    Returns
    -------
    dict with ``epoch`` (int), ``dropout_step`` (int), ``extra`` (as saved),
    ``nncore_version`` (str).

    Raises
    ------
    ValueError
        A broken or hostile file, an architecture that differs from ``model``'s, or an
        optimizer of another class than the saved one.
    """
    path = os.fspath(path)
    meta, entries, config, dtype, specs = _read_nncore_header(
        path, _CHECKPOINT_DTYPES, CHECKPOINT_FORMAT, "an nncore checkpoint")
    mine = model.get_config()
    if config.get("layers") != mine.get("layers") or config.get("dtype") != mine.get("dtype"):
        raise ValueError(f"{path}: the checkpoint's architecture differs from the model's")
    model_entries = {k[len("model."):]: v for k, v in entries.items() if k.startswith("model.")}
    _check_tensors_match(path, dtype, specs, model_entries)
    try:
        epoch = int(meta.get("epoch", ""))
        step = int(meta.get("dropout_step", ""))
    except ValueError:
        raise ValueError(f"{path}: epoch/dropout_step metadata must be integers") from None
    if epoch < 0 or not 0 <= step < 2 ** 64:
        raise ValueError(f"{path}: epoch/dropout_step out of range")
    tensors, _ = load_tensors(path, _CHECKPOINT_DTYPES)
    opt_state = _decode_state(meta.get("optimizer", "null"), tensors, path, "optimizer state")
    extra = _decode_state(meta.get("extra", "null"), tensors, path, "extra state")
    if optimizer is not None:
        saved_cls = meta.get("optimizer_class", "")
        if opt_state is None:
            raise ValueError(f"{path}: the checkpoint has no optimizer state")
        if saved_cls != type(optimizer).__name__:
            raise ValueError(f"{path}: optimizer state is for {saved_cls}, got "
                             f"{type(optimizer).__name__}")
    if optimizer is not None:   # first: it refuses a state of other groups, changing nothing
        try:
            optimizer.load_state_dict(opt_state)
        except (KeyError, TypeError, IndexError) as e:
            raise ValueError(f"{path}: optimizer state does not fit the optimizer: {e}") from None
    _copy_params(model, tensors, path, prefix="model.")
    model.compute_dtype = config.get("compute_dtype", "float32")   # checked by the header
    model.dropout_step = step
    return {"epoch": epoch, "dropout_step": step, "extra": extra,
            "nncore_version": meta.get("nncore_version", "")}
