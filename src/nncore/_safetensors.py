"""The safetensors file format, read and written by hand: bytes, tensors and metadata.

What it is for: :func:`save_tensors` / :func:`load_tensors` / :func:`read_header` on any
safetensors file, and the header metadata every nncore file carries
(:func:`nncore_metadata`: format tag, version, architecture as JSON text).
What it is not: models. This leaf never builds or inspects a network; ``nncore.nn``
writes model files through it and ``nncore.io`` reads models and checkpoints on top of it.
Reading parses JSON and copies numbers; nothing in a file is ever executed, and every
size in a file is checked against the file before memory is allocated.

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
"""
from __future__ import annotations

import json
import math
import os
import struct
from typing import Any, Iterable, Mapping

import numpy as np

from ._files import atomic_write, open_regular
from ._validate import is_int
from ._version import __version__

__all__ = ["save_tensors", "load_tensors", "read_header", "tensors_to_bytes", "tensors_from_bytes", "strict_json", "nncore_metadata",
           "MODEL_FORMAT", "CHECKPOINT_FORMAT"]

#: ``format`` metadata of a model file and of a training checkpoint
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

MAX_HEADER_BYTES = 100 * 1024 * 1024   # the safetensors limit
MAX_RANK = 8


def nncore_metadata(fmt: str, config: Mapping[str, Any],
                    extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``__metadata__`` of an nncore file, in order: ``format`` (``fmt``),
    ``nncore_version``, ``config`` (``config`` as JSON text, keys sorted; only
    serialized here, never interpreted), then the entries of ``extra``.

    Raises
    ------
    ValueError
        ``extra`` uses one of the three reserved keys.
    """
    meta = {"format": fmt, "nncore_version": __version__,
            "config": json.dumps(config, sort_keys=True, allow_nan=False)}
    for k, v in (extra or {}).items():
        if k in meta:
            raise ValueError(f"metadata key {k!r} is reserved")
        meta[k] = v
    return meta


# ============================================================== writing

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
    atomic_write(os.fspath(path), _encode(tensors, metadata))


def tensors_to_bytes(tensors: Mapping[str, np.ndarray],
                     metadata: Mapping[str, str] | None = None) -> bytes:
    """The bytes of the safetensors file :func:`save_tensors` would write."""
    return b"".join(_encode(tensors, metadata))


def _encode(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None
            ) -> list[bytes]:
    """The parts of a safetensors file: header length, header, each tensor's bytes."""
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
    return [struct.pack("<Q", len(raw)), raw, *blobs]


# ============================================================== reading

def strict_json(text: str, what: str) -> Any:
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
    metadata, ordered = _parse_header(raw, size - (8 + n), path, allowed)
    return metadata, ordered, 8 + n


def _parse_header(raw: bytes, data_len: int, path: str, allowed: tuple
                  ) -> tuple[dict[str, str], dict[str, tuple[str, tuple[int, ...], int, int]]]:
    """The checks of :func:`read_header` on the header bytes ``raw``, for a data section
    of ``data_len`` bytes: (metadata, entries ordered by begin)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: header is not valid UTF-8 (byte {e.start})") from None
    header = strict_json(text, f"{path}: header")
    if not isinstance(header, dict):
        raise ValueError(f"{path}: header must be a JSON object, got {type(header).__name__}")

    metadata = header.pop("__metadata__", {})
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"{path}: __metadata__ must be an object of string values")

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
        if dt not in allowed or dt in _KNOWN_ONLY:   # nncore holds no BF16/F8 array
            raise ValueError(f"{where}: unsupported dtype {dt!r} (expected one of "
                             f"{', '.join(a for a in allowed if a in _DTYPES)})")
        shape = e["shape"]
        if (not isinstance(shape, list) or len(shape) > MAX_RANK
                or not all(is_int(s) and s >= 0 for s in shape)):
            raise ValueError(f"{where}: shape must be a list of at most {MAX_RANK} "
                             f"non-negative integers, got {shape!r}")
        off = e["data_offsets"]
        if (not isinstance(off, list) or len(off) != 2 or not all(is_int(o) for o in off)
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
    return metadata, ordered


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
    return _arrays(data, entries), metadata


def tensors_from_bytes(data: bytes, allowed_dtypes: Iterable[str] | None = None,
                       what: str = "safetensors bytes"
                       ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """:func:`load_tensors` of a file's bytes (as :func:`tensors_to_bytes` gives them),
    with the same checks; ``what`` names them in error messages."""
    allowed = tuple(allowed_dtypes) if allowed_dtypes is not None else tuple(_DTYPES)
    data = bytes(data)
    if len(data) < 8:
        raise ValueError(f"{what}: too short ({len(data)} bytes) for the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8 or n > MAX_HEADER_BYTES or n < 2:
        raise ValueError(f"{what}: header length {n} does not fit {len(data)} bytes")
    metadata, entries = _parse_header(data[8:8 + n], len(data) - 8 - n, what, allowed)
    return _arrays(data[8 + n:], entries), metadata


def _arrays(data: bytes, entries: Mapping[str, tuple]) -> dict[str, np.ndarray]:
    """The tensors of a checked data section: native byte order, writeable copies."""
    out = {}
    for name, (dt, shape, begin, end) in entries.items():
        d = _DTYPES[dt]
        arr = np.frombuffer(data, dtype=d, count=(end - begin) // d.itemsize, offset=begin)
        out[name] = arr.astype(d.newbyteorder("="), copy=True).reshape(shape)
    return out
