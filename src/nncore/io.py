"""Model files and training checkpoints in the safetensors format, read and written by hand.

What it is for: ``save(model, path)`` / ``load(path)`` (an exact round trip: the same bits,
so the same predictions), ``save_checkpoint`` / ``load_checkpoint`` (model + optimizer
state + dropout counter + epoch, for resuming training), and the tensor-file layer under
both (``save_tensors`` / ``load_tensors``).
What it is not: a pickle. Loading parses JSON and copies numbers; nothing in a file is ever
executed, and every size in a file is checked against the file before memory is allocated.

The file layout (safetensors):

====================  =====================================================================
bytes 0..7            N, the header length, unsigned 64-bit little-endian
bytes 8..8+N          the header: UTF-8 JSON object, padded with spaces to a multiple of 8;
                      one entry per tensor ``{"dtype": "F32", "shape": [out, in],
                      "data_offsets": [begin, end]}`` plus ``"__metadata__"``
                      (a str -> str map)
bytes 8+N..end        the data: each tensor's little-endian bytes, row-major, at
                      [begin, end) relative to 8+N; tensors are contiguous, in order, with
                      no gaps, overlaps or trailing bytes
====================  =====================================================================

nncore's metadata: ``format`` ("nncore" for a model, "nncore-checkpoint" for a
checkpoint), ``nncore_version``, ``config`` (``json.dumps(model.get_config())``).
Tensor names are the model's ``named_parameters()`` names ("0.weight", "0.bias", ...).
"""
from __future__ import annotations

import json
import math
import os
import struct
import tempfile
from typing import Any, Iterable, Mapping

import numpy as np

from ._files import open_regular

__all__ = ["save", "load", "load_metadata", "save_checkpoint", "load_checkpoint",
           "save_tensors", "load_tensors", "read_header", "MODEL_FORMAT", "CHECKPOINT_FORMAT"]

MODEL_FORMAT = "nncore"
CHECKPOINT_FORMAT = "nncore-checkpoint"

# dtype names of the safetensors format -> NumPy (little-endian)
_DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"), "U64": np.dtype("<u8"), "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_KNOWN_ONLY = ("BF16", "F8_E4M3", "F8_E5M2")   # valid safetensors dtypes nncore cannot hold
_NAMES = {(v.kind, v.itemsize): k for k, v in _DTYPES.items()}
MODEL_DTYPES = ("F32", "F64")
_CHECKPOINT_DTYPES = ("F32", "F64", "I64", "I32", "U64", "U32", "U8", "BOOL")

MAX_HEADER_BYTES = 100 * 1024 * 1024   # the safetensors limit
MAX_RANK = 8
MAX_LAYERS = 100_000


def _version() -> str:
    try:
        from . import __version__
        return __version__
    except ImportError:  # pragma: no cover - only when the package is half-imported
        return "unknown"


# ============================================================== writing

def _atomic_write(path: str, chunks: Iterable[bytes]) -> None:
    """Write to a temporary file in the target's directory, fsync, then rename over ``path``.

    A crash at any point leaves either the old file or the complete new one.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:   # the permissions a plain open() would give (mkstemp makes 0600)
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=".nncore-", suffix=".tmp", dir=directory)
    try:
        try:
            os.fchmod(fd, mode)
        except (AttributeError, OSError):   # e.g. Windows: no fchmod
            pass
        with os.fdopen(fd, "wb") as f:
            for c in chunks:
                f.write(c)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save_tensors(path: str | os.PathLike, tensors: Mapping[str, np.ndarray],
                 metadata: Mapping[str, str] | None = None) -> None:
    """Write named arrays to a safetensors file, atomically.

    Parameters
    ----------
    path : str or path-like
    tensors : mapping name -> ndarray
        Written in the mapping's order; any shape, dtype in F32/F64/F16/I64/I32/I16/I8/
        U64/U32/U16/U8/BOOL (stored little-endian, row-major).
    metadata : mapping str -> str, optional
        Stored as the header's ``"__metadata__"``.
    """
    path = os.fspath(path)
    header: dict[str, Any] = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"metadata must map str to str, got {k!r}: {type(v).__name__}")
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name, arr in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise ValueError(f"invalid tensor name {name!r}")
        arr = np.asarray(arr)
        dname = _NAMES.get((arr.dtype.kind, arr.dtype.itemsize))
        if dname is None:
            raise TypeError(f"tensor {name!r}: dtype {arr.dtype} cannot be stored")
        data = np.ascontiguousarray(arr, dtype=_DTYPES[dname]).tobytes()
        header[name] = {"dtype": dname, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    raw = text.encode("utf-8")
    raw += b" " * (-(8 + len(raw)) % 8)     # data starts 8-byte aligned
    _atomic_write(path, [struct.pack("<Q", len(raw)), raw, *blobs])


# ============================================================== reading

def _strict_json(text: str, what: str) -> Any:
    """json.loads that rejects duplicate keys and NaN/Infinity (both ambiguous in a file)."""
    def pairs(items):
        d = {}
        for k, v in items:
            if k in d:
                raise ValueError(f"duplicate key {k!r}")
            d[k] = v
        return d

    def bad_constant(name):
        raise ValueError(f"{name} is not valid JSON")

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=bad_constant)
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply") from None
    except ValueError as e:
        raise ValueError(f"{what} is not valid JSON: {e}") from None


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def read_header(path: str | os.PathLike, allowed_dtypes: Iterable[str] | None = None
                ) -> tuple[dict[str, str], dict[str, tuple[str, tuple[int, ...], int, int]], int]:
    """Read and validate a safetensors header without reading the tensor data.

    Returns
    -------
    metadata : dict str -> str
    entries : dict name -> (dtype, shape, begin, end), ordered by ``begin``
    data_start : int
        File offset of the data section (8 + header length).

    Raises
    ------
    ValueError
        Naming the problem: truncated file, header length past the end, header not
        UTF-8 or not JSON, a malformed entry, unknown dtype, a shape whose byte count
        disagrees with its data_offsets, offsets out of range, overlapping, with gaps
        or trailing bytes.
    """
    path = os.fspath(path)
    allowed = tuple(allowed_dtypes) if allowed_dtypes is not None else tuple(_DTYPES)
    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(8)
            if len(head) < 8:
                raise ValueError(f"{path}: truncated file ({size} bytes): too short for the "
                                 "8-byte header length")
            (n,) = struct.unpack("<Q", head)
            if n > size - 8:
                raise ValueError(f"{path}: header length {n} runs past the end of the file "
                                 f"({size} bytes): truncated or not a safetensors file")
            if n > MAX_HEADER_BYTES:
                raise ValueError(f"{path}: header length {n} exceeds the limit of "
                                 f"{MAX_HEADER_BYTES} bytes")
            if n < 2:
                raise ValueError(f"{path}: header length {n} is too small for a JSON object")
            raw = f.read(n)
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from None
    if len(raw) != n:
        raise ValueError(f"{path}: truncated file: header shorter than its declared length")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: header is not valid UTF-8 (byte {e.start})") from None
    header = _strict_json(text, f"{path}: header")
    if not isinstance(header, dict):
        raise ValueError(f"{path}: header must be a JSON object, got {type(header).__name__}")

    metadata = header.pop("__metadata__", {})
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"{path}: __metadata__ must be an object of string values")

    data_start = 8 + n
    data_len = size - data_start
    entries = []
    for name, e in header.items():
        where = f"{path}: tensor {name!r}"
        if not name:
            raise ValueError(f"{path}: empty tensor name")
        if not isinstance(e, dict):
            raise ValueError(f"{where}: entry must be an object")
        missing = {"dtype", "shape", "data_offsets"} - set(e)
        if missing:
            raise ValueError(f"{where}: entry lacks {sorted(missing)}")
        dt = e["dtype"]
        if not isinstance(dt, str) or (dt not in _DTYPES and dt not in _KNOWN_ONLY):
            raise ValueError(f"{where}: unknown dtype {dt!r}")
        if dt not in allowed:
            raise ValueError(f"{where}: unsupported dtype {dt!r} (expected one of "
                             f"{', '.join(allowed)})")
        shape = e["shape"]
        if (not isinstance(shape, list) or len(shape) > MAX_RANK
                or not all(_is_int(s) and s >= 0 for s in shape)):
            raise ValueError(f"{where}: shape must be a list of at most {MAX_RANK} "
                             f"non-negative integers, got {shape!r}")
        off = e["data_offsets"]
        if (not isinstance(off, list) or len(off) != 2 or not all(_is_int(o) for o in off)
                or not 0 <= off[0] <= off[1]):
            raise ValueError(f"{where}: data_offsets must be [begin, end] with "
                             f"0 <= begin <= end, got {off!r}")
        begin, end = off
        if end > data_len:
            raise ValueError(f"{where}: data_offsets [{begin}, {end}] run past the end of the "
                             f"data ({data_len} bytes in the file)")
        nbytes = math.prod(shape) * _DTYPES[dt].itemsize
        if nbytes != end - begin:
            raise ValueError(f"{where}: shape {shape} of {dt} needs {nbytes} bytes but "
                             f"data_offsets [{begin}, {end}] span {end - begin}")
        entries.append((begin, end, name, dt, tuple(shape)))
    entries.sort(key=lambda t: (t[0], t[1]))
    pos = 0
    prev = None
    for begin, end, name, _, _ in entries:
        if begin < pos:
            raise ValueError(f"{path}: tensor {name!r} data_offsets [{begin}, {end}] overlap "
                             f"tensor {prev!r} (ends at {pos})")
        if begin > pos:
            raise ValueError(f"{path}: gap of {begin - pos} bytes before tensor {name!r}: "
                             "tensors must be contiguous")
        pos, prev = end, name
    if pos != data_len:
        raise ValueError(f"{path}: {data_len - pos} bytes after the last tensor: "
                         "truncated header or appended data")
    ordered = {name: (dt, shape, begin, end) for begin, end, name, dt, shape in entries}
    return metadata, ordered, data_start


def load_tensors(path: str | os.PathLike, allowed_dtypes: Iterable[str] | None = None
                 ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read every tensor of a safetensors file (validated by :func:`read_header` first).

    Returns
    -------
    tensors : dict name -> ndarray (native byte order, writeable copies)
    metadata : dict str -> str
    """
    path = os.fspath(path)
    metadata, entries, data_start = read_header(path, allowed_dtypes)
    total = max((e[3] for e in entries.values()), default=0)
    try:
        with open_regular(path) as f:
            f.seek(data_start)
            data = f.read(total)
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) != total:
        raise ValueError(f"{path}: truncated file: the data section ended early")
    out = {}
    for name, (dt, shape, begin, end) in entries.items():
        d = _DTYPES[dt]
        arr = np.frombuffer(data, dtype=d, count=(end - begin) // d.itemsize, offset=begin)
        out[name] = arr.astype(d.newbyteorder("="), copy=True).reshape(shape)
    return out, metadata


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
    specs = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("type"), str):
            raise ValueError(f"{where}: layer {i} config must be an object with a 'type'")
        if layer["type"] == "Linear":
            fin, fout = layer.get("in_features"), layer.get("out_features")
            if not (_is_int(fin) and _is_int(fout) and fin > 0 and fout > 0):
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


def _build(config: dict, where: str):
    from .nn import Sequential
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
    return _strict_json(meta["config"], f"{where}: metadata 'config'")


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


def save(model, path: str | os.PathLike, metadata: Mapping[str, str] | None = None) -> None:
    """Save a model's architecture and weights to a safetensors file (atomic).

    Parameters
    ----------
    model : nncore.nn.Sequential
    path : str or path-like
        Conventionally ``*.safetensors``. Written to a temporary file in the same
        directory, then renamed: a crash never leaves a half-written model.
    metadata : mapping str -> str, optional
        Extra entries for the header's ``__metadata__`` (``format``,
        ``nncore_version`` and ``config`` are reserved).
    """
    meta = {"format": MODEL_FORMAT, "nncore_version": _version(),
            "config": json.dumps(model.get_config(), sort_keys=True, allow_nan=False)}
    for k, v in (metadata or {}).items():
        if k in meta:
            raise ValueError(f"metadata key {k!r} is reserved")
        meta[k] = v
    tensors = {name: p.data for name, p in model.named_parameters()}
    save_tensors(path, tensors, meta)


def load(path: str | os.PathLike):
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
    meta = {
        "format": CHECKPOINT_FORMAT,
        "nncore_version": _version(),
        "config": json.dumps(model.get_config(), sort_keys=True, allow_nan=False),
        "epoch": str(int(epoch)),
        "dropout_step": str(int(model.dropout_step)),
        "optimizer": json.dumps(opt_state, allow_nan=False),
        "optimizer_class": type(optimizer).__name__ if optimizer is not None else "",
        "extra": json.dumps(extra_state, allow_nan=False),
    }
    save_tensors(path, tensors, meta)


def load_checkpoint(path: str | os.PathLike, model, optimizer=None) -> dict[str, Any]:
    """Restore a checkpoint saved by :func:`save_checkpoint` into ``model`` (and ``optimizer``).

    The model must have the checkpoint's architecture (layers and dtype).

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
    opt_state = _decode(_strict_json(meta.get("optimizer", "null"), f"{path}: optimizer state"),
                        tensors, path)
    extra = _decode(_strict_json(meta.get("extra", "null"), f"{path}: extra state"),
                    tensors, path)
    if optimizer is not None:
        saved_cls = meta.get("optimizer_class", "")
        if opt_state is None:
            raise ValueError(f"{path}: the checkpoint has no optimizer state")
        if saved_cls != type(optimizer).__name__:
            raise ValueError(f"{path}: optimizer state is for {saved_cls}, got "
                             f"{type(optimizer).__name__}")
    _copy_params(model, tensors, path, prefix="model.")
    model.dropout_step = step
    if optimizer is not None:
        try:
            optimizer.load_state_dict(opt_state)
        except (KeyError, TypeError, IndexError) as e:
            raise ValueError(f"{path}: optimizer state does not fit the optimizer: {e}") from None
    return {"epoch": epoch, "dropout_step": step, "extra": extra,
            "nncore_version": meta.get("nncore_version", "")}
