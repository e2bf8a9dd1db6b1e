"""Reading an untrusted ONNX file: the protobuf, and each tensor checked before it is read.

What it is for: :func:`read_model` (the file's bytes -> ``onnx.ModelProto``, a ValueError
for anything that is not one) and :class:`TensorReader` (an initializer or a Constant's
value -> a NumPy array, with its dims checked against its data and its external data
read only from a regular file in the model's own folder).
What it is not: the graph reading (``_load``); ``onnx.load`` and ``onnx.checker`` are not
used on input files: they follow external-data paths and run C++ checks on whatever the
file declares, before nncore has looked at it.
"""
from __future__ import annotations

import os
from typing import Mapping

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import TensorProto

from .._files import open_regular

__all__ = ["read_model", "TensorReader", "attribute_map", "MAX_ELEMENTS", "MAX_DIMS",
           "MAX_MODEL_BYTES", "DTYPES"]

#: one protobuf message holds at most 2 GiB
MAX_MODEL_BYTES = 2 ** 31 - 1
#: no tensor of an MLP has more elements than this (8 GiB of float32)
MAX_ELEMENTS = 2 ** 31
#: the most axes every supported NumPy gives an array (NumPy 1: 32, NumPy 2: 64)
MAX_DIMS = 32
#: ONNX element types read as numbers -> little-endian NumPy dtype, and the typed field
#: of TensorProto that holds them when raw_data is not used
DTYPES = {TensorProto.FLOAT: (np.dtype("<f4"), "float_data"),
          TensorProto.DOUBLE: (np.dtype("<f8"), "double_data"),
          TensorProto.INT64: (np.dtype("<i8"), "int64_data"),
          TensorProto.INT32: (np.dtype("<i4"), "int32_data")}


def read_model(path: str) -> onnx.ModelProto:
    """The ModelProto in the file ``path`` (a regular file of at most 2 GiB)."""
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_MODEL_BYTES:
            raise ValueError(f"{path}: {size:,} bytes, more than an ONNX protobuf file "
                             f"holds ({MAX_MODEL_BYTES:,}); weights that large live in "
                             "external data")
        data = f.read()
    if not data:
        raise ValueError(f"{path}: empty file, not an ONNX model")
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RecursionError) as e:
        raise ValueError(f"{path}: not an ONNX model (the protobuf does not parse: {e})") \
            from None
    if not proto.HasField("graph"):
        raise ValueError(f"{path}: not an ONNX model (no graph)")
    return proto


def _external_int(value: str, key: str, where: str) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 19:
        raise ValueError(f"{where}: external data {key} must be a non-negative integer, "
                         f"got {value[:40]!r}")
    return int(value)


class TensorReader:
    """Reads tensors of one model: ``read(tensor, where)`` -> ndarray of ``tensor.dims``.

    Parameters
    ----------
    folder : str
        The model file's folder: the only place external data is read from.
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.real_folder = os.path.realpath(folder)
        self._bytes_read: dict[str, int] = {}   # external file -> bytes handed out so far

    def read(self, t: TensorProto, where: str) -> np.ndarray:
        """The tensor's values (native byte order, a fresh array), or ValueError when its
        type is not a number type, its dims are negative or absurd (more than MAX_DIMS of
        them, more than MAX_ELEMENTS elements), or its data does not hold exactly that
        many values."""
        if t.data_type not in DTYPES:
            name = TensorProto.DataType.Name(t.data_type) if t.data_type in \
                TensorProto.DataType.values() else str(t.data_type)
            raise ValueError(f"{where}: element type {name}; expected FLOAT, DOUBLE, INT64 "
                             "or INT32")
        if t.HasField("segment"):
            raise ValueError(f"{where}: segmented tensors are not supported")
        shape = tuple(t.dims)
        if len(shape) > MAX_DIMS:
            raise ValueError(f"{where}: {len(shape):,} dimensions, more than {MAX_DIMS}")
        count = 1
        for d in shape:
            if d < 0:
                raise ValueError(f"{where}: negative dimension in dims {list(shape)}")
            count *= d
            if count > MAX_ELEMENTS:
                raise ValueError(f"{where}: dims {list(shape)} declare more than "
                                 f"{MAX_ELEMENTS:,} elements")
        dtype, field = DTYPES[t.data_type]
        typed = getattr(t, field)
        external = t.data_location == TensorProto.EXTERNAL
        sources = [s for s, present in (("raw_data", t.HasField("raw_data")),
                                        (field, len(typed) > 0), ("external data", external))
                   if present]
        if len(sources) > 1:
            raise ValueError(f"{where}: holds data in more than one place ({', '.join(sources)})")
        if t.data_location not in (TensorProto.DEFAULT, TensorProto.EXTERNAL):
            raise ValueError(f"{where}: unknown data_location {t.data_location}")
        if external:
            raw = self._external(t, where, count * dtype.itemsize)
        elif t.HasField("raw_data"):
            raw = t.raw_data
            if len(raw) != count * dtype.itemsize:
                raise ValueError(f"{where}: dims {list(shape)} need {count * dtype.itemsize:,} "
                                 f"bytes of {dtype.name}, raw_data has {len(raw):,}")
        else:
            if len(typed) != count:
                raise ValueError(f"{where}: dims {list(shape)} need {count:,} values, "
                                 f"{field} has {len(typed):,}")
            return np.array(typed, dtype=dtype.newbyteorder("=")).reshape(shape)
        return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="),
                                                       copy=True).reshape(shape)

    def _external(self, t: TensorProto, where: str, nbytes: int) -> bytes:
        entries: dict[str, str] = {}
        for e in t.external_data:
            if e.key in entries:
                raise ValueError(f"{where}: external data key {e.key!r} given twice")
            entries[e.key] = e.value
        loc = entries.get("location", "")
        self._check_location(loc, where)
        offset = _external_int(entries.get("offset", "0"), "offset", where)
        path = os.path.join(self.folder, loc)
        real = os.path.realpath(path)
        if os.path.dirname(real) != self.real_folder:
            raise ValueError(f"{where}: external data {loc!r} resolves to {real}, outside the "
                             f"model's folder {self.real_folder}")
        try:
            f = open_regular(real)
        except OSError as e:
            raise ValueError(f"{where}: external data {loc!r}: {e.strerror or e}") from None
        with f:
            size = os.fstat(f.fileno()).st_size
            length = (_external_int(entries["length"], "length", where) if "length" in entries
                      else size - min(offset, size))
            if offset > size or length > size - offset:
                raise ValueError(f"{where}: external data {loc!r} offset {offset:,} + length "
                                 f"{length:,} runs past the end of the file ({size:,} bytes)")
            if length != nbytes:
                raise ValueError(f"{where}: dims {list(t.dims)} need {nbytes:,} bytes, the "
                                 f"external data has {length:,}")
            # tensors may not share bytes: memory stays bounded by the files' sizes
            total = self._bytes_read.get(real, 0) + length
            if total > size:
                raise ValueError(f"{where}: the tensors read from external data {loc!r} add "
                                 f"up to {total:,} bytes, more than the file holds ({size:,}): "
                                 "their ranges overlap")
            self._bytes_read[real] = total
            f.seek(offset)
            raw = f.read(length)
        if len(raw) != length:
            raise ValueError(f"{where}: external data {loc!r} ended early (changed while read)")
        return raw

    @staticmethod
    def _check_location(loc: str, where: str) -> None:
        """A plain file name: not empty, not absolute, no separator, no '..', no NUL."""
        seps = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
        if (not loc or os.path.isabs(loc) or any(s in loc for s in seps) or ".." in loc
                or "\0" in loc or loc == "."):
            raise ValueError(f"{where}: external data location {loc[:200]!r} must be a file "
                             "name in the model's folder (no path, no '..')")


def attribute_map(node: onnx.NodeProto, where: str) -> Mapping[str, onnx.AttributeProto]:
    """name -> AttributeProto of a node; a name given twice is a ValueError."""
    out: dict[str, onnx.AttributeProto] = {}
    for a in node.attribute:
        if a.name in out:
            raise ValueError(f"{where}: attribute {a.name!r} given twice")
        out[a.name] = a
    return out
