"""Data for nncore: the bundled UCI digits, seeded toy generators, loaders, splitting, scaling.

What it is for: getting arrays into ``model.fit`` in one line — real data that ships with
the package (:func:`load_digits`), synthetic problems for teaching and tests
(:func:`make_xor`, :func:`make_spirals`, :func:`make_circles`, :func:`make_regression`),
the user's own files (:func:`load_csv`, :func:`load_npz`; :func:`open_npy` and
:func:`open_npz` map data larger than memory read-only), and the two chores every
experiment needs (:func:`train_test_split`, :class:`StandardScaler`).
What it is not: a data-loading framework (no streaming, no downloads, no pandas).

Every function that draws random numbers takes ``seed`` and uses its own
``numpy.random.default_rng(seed)``: same seed, same arrays, on any machine.
"""
from __future__ import annotations

import csv
import io
import math
import os
import struct
import zipfile
import zlib
from importlib import resources
from typing import Any

import numpy as np

from ._files import open_regular
from ._validate import check_bool, check_int, parse_dtype

__all__ = [
    "load_digits", "load_digits_split",
    "make_xor", "make_spirals", "make_circles", "make_regression",
    "load_csv", "load_npz", "open_npy", "open_npz",
    "train_test_split", "StandardScaler",
]

_FLOAT_DTYPES = (np.float32, np.float64)


def _float_dtype(dtype: Any) -> np.dtype:
    dt = parse_dtype(dtype)
    if dt not in _FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _check_n(name: str, value: Any, minimum: int) -> int:
    return check_int(value, name, minimum)


def _check_noise(noise: Any) -> float:
    noise = float(noise)
    if not (noise >= 0 and math.isfinite(noise)):
        raise ValueError(f"noise must be a finite number >= 0, got {noise}")
    return noise


def _finite_as(values: np.ndarray, dt: np.dtype, inputs: str) -> np.ndarray:
    """``values`` cast to ``dt``; a ValueError naming ``inputs`` (e.g. "noise=1e+39")
    when that overflows: a huge noise or bias would otherwise hand back inf."""
    with np.errstate(over="ignore"):    # checked right below
        out = values.astype(dt)
    if not np.isfinite(out).all():
        raise ValueError(f"{inputs} is too large for {dt.name}: the generated values "
                         f"overflow to inf (expected values whose samples fit the dtype)")
    return out


# ------------------------------------------------------------------- digits

def load_digits(dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """The UCI optical handwritten digits, bundled with nncore.

    1,797 images of 8x8 pixels with integer values 0..16 (the count of "on"
    pixels in each 4x4 block of a 32x32 bitmap), 10 classes (the digits 0-9).
    Source: Alpaydin & Kaynak, UCI Machine Learning Repository, CC BY 4.0
    (see ``nncore/data/DIGITS_LICENSE.txt``).

    Parameters
    ----------
    dtype : float32 or float64
        dtype of ``X``.

    Returns
    -------
    X : ndarray (1797, 64)
        Pixels 0..16, row-major 8x8 images flattened (not scaled).
    y : ndarray (1797,) int64
        Digit labels 0..9.
    """
    dt = _float_dtype(dtype)
    ref = resources.files("nncore").joinpath("data", "digits.npz")
    with ref.open("rb") as f:
        with np.load(io.BytesIO(f.read()), allow_pickle=False) as npz:
            images = npz["images"]
            labels = npz["labels"]
    return images.astype(dt), labels.astype(np.int64)


def load_digits_split(test_size: float | int = 0.2, seed: int = 0, dtype: Any = np.float32
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The digits split into train and test sets, stratified by class, reproducibly.

    Parameters
    ----------
    test_size : float in (0, 1) or int
        Fraction (or number) of samples for the test set.
    seed : int
        Seed of the shuffle; the default gives nncore's fixed split.
    dtype : float32 or float64

    Returns
    -------
    X_train (n_train, 64), X_test (n_test, 64), y_train (n_train,), y_test (n_test,)
    """
    X, y = load_digits(dtype)
    return train_test_split(X, y, test_size=test_size, seed=seed, stratify=y)


# --------------------------------------------------------------- synthetic

def make_xor(n_samples: int = 200, noise: float = 0.1, seed: int = 0,
             dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Four Gaussian blobs at (+-1, +-1); class 1 where the coordinates' signs differ.

    The smallest problem a linear model cannot solve and a one-hidden-layer MLP can.

    Returns
    -------
    X : ndarray (n_samples, 2)
        Blob centres (+-1, +-1) plus Gaussian noise with standard deviation ``noise``.
    y : ndarray (n_samples,) int64
        1 where the centre's coordinates have different signs (XOR of the two signs), else 0.
    """
    n = _check_n("n_samples", n_samples, 1)
    noise = _check_noise(noise)
    dt = _float_dtype(dtype)
    rng = np.random.default_rng(seed)
    corner = rng.integers(0, 4, size=n)          # which blob: bits (a, b)
    a = (corner & 1).astype(np.int64)
    b = (corner >> 1).astype(np.int64)
    centres = np.stack([2.0 * a - 1.0, 2.0 * b - 1.0], axis=1)
    X = centres + noise * rng.standard_normal((n, 2))
    y = a ^ b
    return _finite_as(X, dt, f"noise={noise}"), y


def _two_class_labels(n: int) -> np.ndarray:
    """(n,) int64: ceil(n/2) zeros, then floor(n/2) ones."""
    return (np.arange(n) >= n - n // 2).astype(np.int64)


def make_spirals(n_samples: int = 200, noise: float = 0.1, turns: float = 1.5, seed: int = 0,
                 dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spiral arms, one per class.

    Arm ``k`` (k = 0, 1) is the curve ``r(t) (cos(t + k pi), sin(t + k pi))`` with
    ``t`` uniform in ``[0, 2 pi turns]`` and radius ``r = t / (2 pi turns)`` in [0, 1];
    Gaussian noise of standard deviation ``noise`` is added to each point.
    Class 0 gets ``ceil(n/2)`` points, class 1 ``floor(n/2)``, in that order.

    Returns
    -------
    X : ndarray (n_samples, 2)
    y : ndarray (n_samples,) int64
    """
    n = _check_n("n_samples", n_samples, 2)
    noise = _check_noise(noise)
    turns = float(turns)
    if not (turns > 0 and math.isfinite(turns)):
        raise ValueError(f"turns must be a finite number > 0, got {turns}")
    dt = _float_dtype(dtype)
    rng = np.random.default_rng(seed)
    y = _two_class_labels(n)
    t = rng.uniform(0.0, 2.0 * np.pi * turns, size=n)
    r = t / (2.0 * np.pi * turns)
    angle = t + np.pi * y
    X = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)
    X = X + noise * rng.standard_normal((n, 2))
    return _finite_as(X, dt, f"noise={noise}"), y


def make_circles(n_samples: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int = 0,
                 dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 on radius 1, class 1 on radius ``factor``.

    Angles are uniform on [0, 2 pi); Gaussian noise of standard deviation ``noise``
    is added to each coordinate. Class 0 gets ``ceil(n/2)`` points, class 1 the rest.

    Returns
    -------
    X : ndarray (n_samples, 2)
    y : ndarray (n_samples,) int64
    """
    n = _check_n("n_samples", n_samples, 2)
    noise = _check_noise(noise)
    factor = float(factor)
    if not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1), got {factor}")
    dt = _float_dtype(dtype)
    rng = np.random.default_rng(seed)
    y = _two_class_labels(n)
    theta = rng.uniform(0.0, 2.0 * np.pi, size=n)
    radius = np.where(y == 0, 1.0, factor)
    X = radius[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    X = X + noise * rng.standard_normal((n, 2))
    return _finite_as(X, dt, f"noise={noise}"), y


def make_regression(n_samples: int = 200, n_features: int = 4, n_targets: int = 1,
                    noise: float = 0.1, bias: float = 0.0, seed: int = 0,
                    dtype: Any = np.float32, return_coef: bool = False):
    """A noisy linear regression problem: ``y = X @ coef + bias + noise * N(0, 1)``.

    ``X`` is standard normal, ``coef`` is drawn uniformly from [-1, 1] (seeded).

    Returns
    -------
    X : ndarray (n_samples, n_features)
    y : ndarray (n_samples,) if n_targets == 1 else (n_samples, n_targets)
    coef : ndarray (n_features,) or (n_features, n_targets), float64
        Only when ``return_coef`` is true.
    """
    n = _check_n("n_samples", n_samples, 1)
    d = _check_n("n_features", n_features, 1)
    k = _check_n("n_targets", n_targets, 1)
    noise = _check_noise(noise)
    dt = _float_dtype(dtype)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    coef = rng.uniform(-1.0, 1.0, size=(d, k))
    y = X @ coef + float(bias) + noise * rng.standard_normal((n, k))
    if k == 1:
        y = y[:, 0]
        coef = coef[:, 0]
    X, y = X.astype(dt), _finite_as(y, dt, f"noise={noise}, bias={bias}")
    return (X, y, coef) if return_coef else (X, y)


# ----------------------------------------------------------------- loaders

def _target_array(values: np.ndarray) -> np.ndarray:
    """int64 when every value is a whole number (class labels), else as given."""
    if values.size and np.all(np.isfinite(values)) and np.all(values == np.round(values)) \
            and np.all(np.abs(values) < 2 ** 53):
        return values.astype(np.int64)
    return values


def load_csv(path: str | os.PathLike, target: int | str | None = -1, header: bool = True,
             delimiter: str = ",", dtype: Any = np.float32, return_classes: bool = False):
    """Load a numeric CSV file into features and a target column.

    Parameters
    ----------
    path : str or path-like
    target : int, str or None
        The label column: an index (negative counts from the end; default the last
        column) or a header name (needs ``header=True``). ``None``: every column is a
        feature and ``y`` is None.
    header : bool
        Whether the first row holds column names.
    delimiter : str
    dtype : float32 or float64
        dtype of ``X``.
    return_classes : bool
        Also return the class names when the target column holds text labels.

    Returns
    -------
    X : ndarray (n_rows, n_columns - 1)
    y : ndarray (n_rows,) or None
        int64 when every target is a whole number (or a text label, mapped to its
        index in the sorted class names), else float of ``dtype``.
    classes : list[str] or None
        Only with ``return_classes=True``: the sorted text labels, or None if numeric.

    Raises
    ------
    ValueError
        An empty file, rows of different lengths, a value that is not a number (row
        and column named), an unknown target column.
    """
    dt = _float_dtype(dtype)
    path = os.fspath(path)
    try:
        with open_regular(path, "r", newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f, delimiter=delimiter) if r and any(c.strip() for c in r)]
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not a UTF-8 text CSV file ({e.reason} at byte {e.start})") from None
    except csv.Error as e:
        raise ValueError(f"{path}: malformed CSV: {e}") from None
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from None
    if not rows:
        raise ValueError(f"{path}: empty CSV file (no rows)")
    names = None
    first_line = 1
    if header:
        names = [c.strip() for c in rows[0]]
        rows = rows[1:]
        first_line = 2
        if not rows:
            raise ValueError(f"{path}: the CSV file has a header but no data rows")
    ncol = len(names) if names is not None else len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != ncol:
            raise ValueError(f"{path}: row {i + first_line} has {len(r)} fields, expected {ncol}")

    tcol = None
    if target is not None:
        if isinstance(target, str):
            if names is None:
                raise ValueError(f"target={target!r} is a column name but header=False; "
                                 "pass a column index")
            if target not in names:
                raise ValueError(f"{path}: no column named {target!r}; columns are {names}")
            tcol = names.index(target)
        elif isinstance(target, (int, np.integer)) and not isinstance(target, bool):
            if not -ncol <= target < ncol:
                raise ValueError(f"{path}: target column index {target} out of range for "
                                 f"{ncol} columns")
            tcol = int(target) % ncol
        else:
            raise TypeError(f"target must be a column name, an index or None, got "
                            f"{type(target).__name__}")
        if ncol < 2:
            raise ValueError(f"{path}: only one column; need features besides the target")

    feat_cols = [j for j in range(ncol) if j != tcol]
    X = np.empty((len(rows), len(feat_cols)), dtype=np.float64)
    for i, r in enumerate(rows):
        for k, j in enumerate(feat_cols):
            X[i, k] = _parse_number(r[j], path, i + first_line, j, names)

    classes = None
    y = None
    if tcol is not None:
        raw = [r[tcol].strip() for r in rows]
        try:
            yv = np.array([float(v) for v in raw], dtype=np.float64)
        except ValueError:
            yv = None
        if yv is not None and not np.all(np.isfinite(yv)):
            i = int(np.flatnonzero(~np.isfinite(yv))[0])
            raise ValueError(f"{path}: row {i + first_line}, target column {tcol}: "
                             f"non-finite value {raw[i]!r}")
        if yv is not None:
            y = _target_array(yv)
            if y.dtype != np.int64:
                y = _cast_finite(y, dt, f"{path}: target column {tcol}")
        else:
            missing = [i for i, v in enumerate(raw) if v == ""]
            if missing:
                raise ValueError(f"{path}: row {missing[0] + first_line}: empty target value")
            classes = sorted(set(raw))
            index = {c: k for k, c in enumerate(classes)}
            y = np.array([index[v] for v in raw], dtype=np.int64)
    X = _cast_finite(X, dt, f"{path}: features")
    if return_classes:
        return X, y, classes
    return X, y


def _cast_finite(a: np.ndarray, dt: np.dtype, what: str) -> np.ndarray:
    """a (finite float64) cast to dt; ValueError if a value overflows dt (e.g. 1e39 in float32)."""
    with np.errstate(over="ignore"):
        out = a.astype(dt)
    bad = ~np.isfinite(out)
    if bad.any():
        i = np.argwhere(bad)[0]
        raise ValueError(f"{what}: value {a[tuple(i)]!r} at index {tuple(int(k) for k in i)} "
                         f"overflows {dt} (largest {np.finfo(dt).max:g})")
    return out


def _parse_number(text: str, path: str, line: int, col: int, names) -> float:
    where = f"column {col}" + (f" ({names[col]!r})" if names else "")
    s = text.strip()
    try:
        v = float(s)
    except ValueError:
        what = "an empty value" if s == "" else f"{s[:40]!r} is not a number"
        raise ValueError(f"{path}: row {line}, {where}: {what}") from None
    if not math.isfinite(v):
        raise ValueError(f"{path}: row {line}, {where}: non-finite value {s!r}")
    return v


# What a hostile archive can make zipfile / zlib / NumPy's .npy reader raise (all
# become ValueError): unsupported zip versions or compression methods
# (NotImplementedError), encrypted members (RuntimeError), corrupt deflate data
# (zlib.error), short structures (struct.error, EOFError).
_NPZ_ERRORS = (ValueError, zipfile.BadZipFile, EOFError, OSError, NotImplementedError,
               RuntimeError, zlib.error, struct.error, OverflowError, KeyError)

_X_KEYS = ("X", "x", "data", "features", "inputs")
_Y_KEYS = ("y", "Y", "labels", "label", "target", "targets")


def load_npz(path: str | os.PathLike, x_key: str | None = None, y_key: str | None = None,
             dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray | None]:
    """Load features and targets from a NumPy ``.npz`` archive (never unpickles).

    Parameters
    ----------
    path : str or path-like
    x_key, y_key : str, optional
        Array names. By default the first present of ``X, x, data, features, inputs``
        and of ``y, Y, labels, label, target, targets``; an archive of exactly one
        array is taken as ``X`` without targets.
    dtype : float32 or float64
        dtype of ``X``.

    Returns
    -------
    X : ndarray (n, features)
    y : ndarray (n,) or (n, k), or None when the archive has no targets
        int64 when every target is a whole number, else float of ``dtype``.

    An archive that names an array twice (a broken or crafted zip) is a ValueError.
    """
    dt = _float_dtype(dtype)
    path = os.fspath(path)
    try:
        with open_regular(path) as f:  # a FIFO or device would hang np.load
            magic = f.read(6)
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from None
    if magic == b"\x93NUMPY":  # checked first: np.load would read the whole array
        raise ValueError(f"{path}: a single .npy array, expected an .npz archive with X and y")
    try:
        npz = np.load(path, allow_pickle=False)
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from None
    except _NPZ_ERRORS as e:
        raise ValueError(f"{path}: not a valid .npz file ({type(e).__name__}: {e})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: a single .npy array, expected an .npz archive with X and y")
    with npz:
        _refuse_duplicates(npz.zip.namelist(), path)
        keys = list(npz.files)
        if not keys:
            raise ValueError(f"{path}: the .npz archive holds no arrays")
        xk = x_key or next((k for k in _X_KEYS if k in keys), None)
        yk = y_key or next((k for k in _Y_KEYS if k in keys), None)
        if xk is None and len(keys) == 1:
            xk = keys[0]
        if xk is None:
            raise ValueError(f"{path}: no feature array; expected one of {list(_X_KEYS)} "
                             f"(or pass x_key), found {keys}")
        for k in (xk, yk):
            if k is not None and k not in keys:
                raise ValueError(f"{path}: no array named {k!r}; found {keys}")
        try:
            _check_npy_size(npz, xk, path)
            X = npz[xk]
            if yk is not None:
                _check_npy_size(npz, yk, path)
            y = npz[yk] if yk is not None else None
        except _NPZ_ERRORS as e:
            raise ValueError(f"{path}: a corrupt or unsupported array ({type(e).__name__}: "
                             f"{e})") from None
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{path}: array {xk!r} has dtype {X.dtype}, expected numbers")
    if X.ndim != 2:
        raise ValueError(f"{path}: array {xk!r} must be 2-D (samples, features), "
                         f"got shape {X.shape}")
    if X.dtype.kind == "f" and not np.all(np.isfinite(X)):
        raise ValueError(f"{path}: array {xk!r} contains NaN or infinity")
    X = _cast_finite(X, dt, f"{path}: array {xk!r}")
    if y is not None:
        if y.dtype.kind not in "biuf":
            raise ValueError(f"{path}: array {yk!r} has dtype {y.dtype}, expected numbers")
        if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
            raise ValueError(f"{path}: array {yk!r} has shape {y.shape}; expected "
                             f"({X.shape[0]},) or ({X.shape[0]}, k) to match {xk!r}")
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{path}: array {yk!r} contains NaN or infinity")
        y = _target_array(y)
        if y.dtype != np.int64:
            y = _cast_finite(y, dt, f"{path}: array {yk!r}")
    return X, y


def _check_npy_size(npz: Any, key: str, path: str) -> None:
    """Refuse an array whose .npy header declares more bytes than its archive member
    holds, BEFORE NumPy allocates the declared size (a 100-byte file could otherwise
    ask for terabytes)."""
    name = key if key in npz.zip.namelist() else key + ".npy"
    try:
        info = npz.zip.getinfo(name)
    except KeyError:
        return  # NumPy reports it
    # the zip's sizes are the archive's claims: a stored member holds exactly its
    # compressed bytes, deflate expands at most 1032-fold, and the compressed bytes
    # must be in the file (else a 300-byte archive could declare a petabyte member)
    archive = os.path.getsize(path)
    ratio = {zipfile.ZIP_STORED: 1, zipfile.ZIP_DEFLATED: 1032}.get(info.compress_type)
    if info.compress_size > archive or (
            ratio is not None and info.file_size > ratio * info.compress_size + 64):
        raise ValueError(f"array {key!r}: its archive member declares {info.file_size} "
                         f"bytes from {info.compress_size} stored bytes in a "
                         f"{archive}-byte file: a corrupt or crafted archive")
    with npz.zip.open(name) as f:
        try:
            header = _parse_npy_header(f)
            if header is None:
                return  # NumPy reports unsupported versions itself
            shape, _, dtype = header
        except Exception as e:  # NumPy's header parser raises many kinds (TokenError, ...)
            raise ValueError(f"array {key!r} has a malformed .npy header: "
                             f"{type(e).__name__}: {e}") from None
    n = 1
    for d in shape:
        n *= int(d)
    need = n * dtype.itemsize
    if need > info.file_size:
        raise ValueError(f"array {key!r} declares shape {shape} of {dtype} ({need} bytes) but "
                         f"its archive member holds only {info.file_size} bytes")


def _parse_npy_header(f: Any) -> tuple | None:
    """(shape, fortran_order, dtype) of the .npy header at f's position (NumPy's literal
    parser, never unpickling; its errors propagate), or None for a format version other
    than 1.0 and 2.0."""
    reader = {(1, 0): np.lib.format.read_array_header_1_0,
              (2, 0): np.lib.format.read_array_header_2_0}.get(np.lib.format.read_magic(f))
    return None if reader is None else reader(f)


# ------------------------------------------------- data larger than memory

_NPY_MAGIC = b"\x93NUMPY"


def open_npy(path: str | os.PathLike, mmap: bool = True) -> np.ndarray:
    """A ``.npy`` file as a read-only array, memory-mapped: data larger than memory.

    ``fit``, ``evaluate`` and ``predict`` read such an array one minibatch at a time
    (when its dtype is the model's: another dtype is cast, i.e. copied, once), so the
    process's anonymous memory stays the model, its workspace and a few batches.

    The header is checked before anything is mapped or allocated (the file is
    untrusted input; nothing in it is unpickled or evaluated beyond NumPy's literal
    header parser): format version 1.0 or 2.0, a plain numeric dtype (bool, integers,
    floats; no objects, no structured or subarray dtypes) in native or no byte order,
    C order (a Fortran-order array of more than one dimension is refused: its rows
    would not be contiguous), and a data size that the file actually holds. The array
    comes from the file that was checked (opened once), even if the path is replaced
    meanwhile; a mapped file must not shrink while in use (reading pages past its new
    end is a bus error, as with any ``np.memmap``; ``mmap=False`` reads it all now).

    Parameters
    ----------
    path : str or path-like
        A regular file (FIFOs and devices are refused).
    mmap : bool
        True: an ``np.memmap`` in mode ``"r"`` (nothing read until used). False: the
        array read into memory (read-only too). Only a bool (or ``np.bool_``): anything
        else is a TypeError.

    Returns
    -------
    ndarray
        Shape and dtype of the file's header, not writable.

    Raises
    ------
    ValueError
        An unreadable file, a bad magic string or header, an unsupported dtype or
        order, a header declaring more data than the file holds, or (mmap) data not
        aligned for its dtype.
    """
    mmap = check_bool(mmap, "mmap")
    path = os.fspath(path)
    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            shape, dtype, offset = _read_npy_header(f, path, 0, size)
            if mmap and offset % dtype.alignment:   # as open_npz: np.save never writes it
                raise ValueError(f"{path}: the data starts at byte {offset}, not aligned "
                                 f"for {dtype}: it cannot be mapped in place (fit would "
                                 "copy it whole); save it again with np.save (or use "
                                 "mmap=False)")
            return _map_array(f, path, shape, dtype, offset, mmap)   # the file checked
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from None


def open_npz(path: str | os.PathLike, mmap: bool = True) -> dict[str, np.ndarray]:
    """The arrays of an UNCOMPRESSED ``.npz`` archive (``np.savez``, not
    ``savez_compressed``), each as :func:`open_npy` gives it: ``{name: array}``.

    A member stored compressed cannot be mapped and is refused with a ValueError
    (re-save with ``np.savez``, or use :func:`load_npz`), and so is one whose data does
    not start at a multiple of its item size (the zip headers before it decide that:
    ``np.savez`` often gives such members; one ``.npy`` file per array never does):
    mapped, it would be copied whole into memory by ``fit``'s input checks (the C
    kernels take aligned data only); every member's header is checked as :func:`open_npy`
    does, against the bytes the archive holds for it. An archive that names an array
    twice (two members ``X.npy``, or ``X.npy`` and ``X``: a broken or crafted zip) is
    refused: which one is ``X`` would be the archive's choice. ``mmap`` as for
    :func:`open_npy` (a bool).
    """
    mmap = check_bool(mmap, "mmap")
    path = os.fspath(path)
    out = {}
    spans = []
    try:
        with open_regular(path) as f:
            try:
                zf = zipfile.ZipFile(f)
            except (zipfile.BadZipFile, ValueError, EOFError) as e:
                raise ValueError(f"{path}: not a valid .npz file ({e})") from None
            with zf:
                _refuse_duplicates([info.filename for info in zf.infolist()], path)
                for info in zf.infolist():
                    name = info.filename[:-4] if info.filename.endswith(".npy") \
                        else info.filename
                    if info.compress_type != zipfile.ZIP_STORED:
                        raise ValueError(f"{path}: array {name!r} is stored compressed; "
                                         "only an uncompressed archive (np.savez) can be "
                                         "memory-mapped (or use load_npz)")
                    if info.flag_bits & 0x1:
                        raise ValueError(f"{path}: array {name!r} is encrypted")
                    if info.compress_size != info.file_size:
                        raise ValueError(f"{path}: a corrupt archive: stored array {name!r} "
                                         f"has {info.compress_size} bytes but declares "
                                         f"{info.file_size}")
                    start = _zip_member_start(f, info, path)
                    end = start + info.file_size
                    size = os.fstat(f.fileno()).st_size
                    if end > size:
                        raise ValueError(f"{path}: array {name!r} runs past the end of the "
                                         f"file ({end} > {size} bytes)")
                    shape, dtype, offset = _read_npy_header(f, f"{path}: array {name!r}",
                                                            start, end)
                    if mmap and offset % dtype.alignment:
                        raise ValueError(f"{path}: array {name!r} starts at byte {offset}, "
                                         f"not aligned for {dtype}: it cannot be mapped "
                                         "in place; save it with np.save as a .npy file "
                                         "(or use mmap=False)")
                    out[name] = (shape, dtype, offset)
                    spans.append((info.header_offset, end, name))
            # members listed twice under other names (overlapping bytes: a zip bomb
            # without compression) would each be read or mapped again
            spans.sort()
            for (_, end0, a), (begin1, _, b) in zip(spans, spans[1:]):
                if begin1 < end0:
                    raise ValueError(f"{path}: a corrupt or crafted archive: arrays {a!r} "
                                     f"and {b!r} overlap in the file")
            if not out:
                raise ValueError(f"{path}: the .npz archive holds no arrays")
            return {k: _map_array(f, path, *v, mmap) for k, v in out.items()}
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from None


def _refuse_duplicates(members: list[str], path: str) -> None:
    """A ValueError naming the first array two members of an .npz archive name (``X.npy``
    twice, or ``X.npy`` and ``X``): zipfile, and np.load through it, would silently read
    the last of them."""
    seen: dict[str, str] = {}
    for member in members:
        name = member[:-4] if member.endswith(".npy") else member
        if name in seen:
            raise ValueError(f"{path}: the .npz archive holds array {name!r} twice "
                             f"(members {seen[name]!r} and {member!r}); refusing to pick one")
        seen[name] = member


def _zip_member_start(f: Any, info: zipfile.ZipInfo, path: str) -> int:
    """Where a stored zip member's data begins: after its local header (30 bytes, the
    name and an extra field whose lengths are read from that header)."""
    f.seek(info.header_offset)
    head = f.read(30)
    if len(head) != 30 or head[:4] != b"PK\x03\x04":
        raise ValueError(f"{path}: a corrupt archive (bad local header of "
                         f"{info.filename!r})")
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    return info.header_offset + 30 + name_len + extra_len


def _read_npy_header(f: Any, what: str, start: int, end: int
                     ) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, data offset) of the .npy image in bytes [start, end) of f, checked
    (see open_npy) before anything is allocated."""
    f.seek(start)
    if f.read(6) != _NPY_MAGIC:
        raise ValueError(f"{what}: not a .npy file (bad magic string)")
    f.seek(start)
    try:
        header = _parse_npy_header(f)
        if header is None:
            raise ValueError("a format version other than 1.0 and 2.0")
        shape, fortran, dtype = header
    except Exception as e:  # NumPy's header parser raises many kinds
        raise ValueError(f"{what}: a malformed or unsupported .npy header: "
                         f"{type(e).__name__}: {e}") from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None \
            or dtype.kind not in "biuf":
        raise ValueError(f"{what}: dtype {dtype} is not supported: expected numbers "
                         "(bool, integers or floats)")
    if not dtype.isnative:
        raise ValueError(f"{what}: dtype {dtype.str} is not in this machine's byte order; "
                         "re-save it with arr.astype(arr.dtype.newbyteorder('='))")
    if fortran and len(shape) > 1:
        raise ValueError(f"{what}: a Fortran-order array of shape {shape} is not supported "
                         "(its rows are not contiguous); re-save np.ascontiguousarray(a)")
    if any(not isinstance(d, int) or d < 0 for d in shape):
        raise ValueError(f"{what}: bad shape {shape} in the header: expected a tuple of "
                         f"integers >= 0")
    if math.prod(max(d, 1) for d in shape) * dtype.itemsize > np.iinfo(np.intp).max:
        raise ValueError(f"{what}: the header's shape {shape} of {dtype} overflows the "
                         "largest array size (even beside a 0)")
    offset = f.tell()
    need = math.prod(shape) * dtype.itemsize
    if offset + need > end:
        raise ValueError(f"{what}: the header declares shape {shape} of {dtype} ({need} "
                         f"bytes) but the file holds {max(0, end - offset)} bytes of data")
    return tuple(shape), dtype, offset


def _map_array(f: Any, path: str, shape: tuple, dtype: np.dtype, offset: int,
               mmap: bool) -> np.ndarray:
    """The checked array from the open file ``f`` (the one whose header was checked, not
    whatever ``path`` names by now): read-only np.memmap, or read into memory."""
    if math.prod(shape) == 0 or not mmap:
        a = np.empty(shape, dtype)
        if a.size:
            f.seek(offset)
            if f.readinto(memoryview(a).cast("B")) != a.nbytes:
                raise ValueError(f"{path}: the file changed while being read")
        a.flags.writeable = False
        return a
    return np.memmap(f, dtype=dtype, mode="r", offset=offset, shape=shape, order="C")


# --------------------------------------------------------------- splitting

def _n_test(test_size: float | int, n: int) -> int:
    if isinstance(test_size, bool):
        raise TypeError("test_size must be a float in (0, 1) or an int, got bool")
    if isinstance(test_size, (int, np.integer)):
        if not 1 <= test_size < n:
            raise ValueError(f"test_size={test_size} must be between 1 and n_samples - 1 = {n - 1}")
        return int(test_size)
    t = float(test_size)
    if not 0.0 < t < 1.0:
        raise ValueError(f"test_size must be in (0, 1) as a fraction, got {test_size}")
    k = int(math.ceil(t * n))
    if not 1 <= k < n:
        raise ValueError(f"test_size={test_size} of {n} samples leaves an empty train or test set")
    return k


def train_test_split(X: np.ndarray, y: np.ndarray | None = None, test_size: float | int = 0.2,
                     seed: int = 0, stratify: np.ndarray | bool | None = None,
                     shuffle: bool = True):
    """Split arrays into random train and test subsets, reproducibly.

    Parameters
    ----------
    X : array (n, ...)
    y : array (n, ...) or None
    test_size : float in (0, 1) or int
        Fraction of samples (rounded up) or number of samples in the test set.
    seed : int
        Seed of the shuffle.
    stratify : array (n,), True or None
        Class labels to keep in the same proportions in both subsets (``True`` means
        ``y``). Each class contributes its proportional share of the test set; the
        rounding leftovers go to the classes with the largest remainders.
    shuffle : bool
        False: the last ``n_test`` rows are the test set, order kept (no stratify).

    Returns
    -------
    X_train, X_test, y_train, y_test (the last two only when ``y`` is given)
    """
    X = np.asarray(X)
    if X.ndim == 0:
        raise ValueError("X must have at least one dimension (samples first)")
    n = X.shape[0]
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 0 or y.shape[0] != n:
            raise ValueError(f"X has {n} samples but y has shape {y.shape}")
    if n < 2:
        raise ValueError(f"need at least 2 samples to split, got {n}")
    n_test = _n_test(test_size, n)
    if stratify is True:
        if y is None:
            raise ValueError("stratify=True needs y")
        stratify = y
    if stratify is not None and stratify is not False:
        if not shuffle:
            raise ValueError("stratify needs shuffle=True")
        labels = np.asarray(stratify)
        if labels.shape != (n,):
            raise ValueError(f"stratify must have shape ({n},), got {labels.shape}")
        test_idx, train_idx = _stratified(labels, n_test, np.random.default_rng(seed))
    elif shuffle:
        perm = np.random.default_rng(seed).permutation(n)
        test_idx, train_idx = perm[:n_test], perm[n_test:]
    else:
        train_idx, test_idx = np.arange(n - n_test), np.arange(n - n_test, n)
    out = [X[train_idx], X[test_idx]]
    if y is not None:
        out += [y[train_idx], y[test_idx]]
    return tuple(out)


def _stratified(labels: np.ndarray, n_test: int, rng: np.random.Generator):
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    n = labels.shape[0]
    share = counts * (n_test / n)
    take = np.floor(share).astype(np.int64)
    left = n_test - int(take.sum())
    # largest remainders first; ties by class order (stable sort)
    order = np.argsort(-(share - take), kind="stable")
    take[order[:left]] += 1
    test_parts, train_parts = [], []
    for c in range(classes.shape[0]):
        idx = np.flatnonzero(inverse == c)
        idx = idx[rng.permutation(idx.shape[0])]
        test_parts.append(idx[:take[c]])
        train_parts.append(idx[take[c]:])
    test_idx = np.concatenate(test_parts)
    train_idx = np.concatenate(train_parts)
    return test_idx[rng.permutation(test_idx.shape[0])], train_idx[rng.permutation(train_idx.shape[0])]


# ----------------------------------------------------------------- scaling

class StandardScaler:
    """Standardize features: ``(x - mean) / std`` with statistics from the training set.

    Columns with zero variance (constant in the training set) are only centred
    (their scale is 1), so they map to 0 instead of NaN. Statistics are computed
    in float64; results keep the input's float dtype.

    Attributes (after ``fit``)
    --------------------------
    mean_ : ndarray (features,) float64
    scale_ : ndarray (features,) float64
        Standard deviation, with 1.0 where it is 0.
    var_ : ndarray (features,) float64
    n_features_in_ : int
    """

    def __init__(self, with_mean: bool = True, with_std: bool = True) -> None:
        self.with_mean = bool(with_mean)
        self.with_std = bool(with_std)
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.var_: np.ndarray | None = None
        self.n_features_in_: int | None = None

    @staticmethod
    def _as_2d(X: Any) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"expected a 2-D array (samples, features), got shape {X.shape}")
        if X.dtype.kind not in "biuf":
            raise TypeError(f"expected a numeric array, got dtype {X.dtype}")
        return X

    def fit(self, X: np.ndarray) -> "StandardScaler":
        """Compute the per-column mean and standard deviation of ``X`` (n, features)."""
        X = self._as_2d(X)
        if X.shape[0] < 1:
            raise ValueError("cannot fit a StandardScaler on 0 samples")
        X64 = X.astype(np.float64)
        if not np.all(np.isfinite(X64)):
            raise ValueError("X contains NaN or infinity")
        self.mean_ = X64.mean(axis=0) if self.with_mean else np.zeros(X.shape[1])
        self.var_ = X64.var(axis=0)
        std = np.sqrt(self.var_)
        # a column that is constant up to rounding counts as constant
        tiny = 10 * np.finfo(np.float64).eps * np.maximum(np.abs(X64).max(axis=0), 1.0)
        self.scale_ = np.where(std > tiny, std, 1.0) if self.with_std else np.ones(X.shape[1])
        self.n_features_in_ = X.shape[1]
        return self

    def _check(self, X: Any) -> np.ndarray:
        if self.mean_ is None:
            raise ValueError("this StandardScaler is not fitted yet; call fit(X_train) first")
        X = self._as_2d(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but the scaler was fitted on "
                             f"{self.n_features_in_}")
        return X

    def _out_dtype(self, X: np.ndarray) -> np.dtype:
        return X.dtype if X.dtype in _FLOAT_DTYPES else np.dtype(np.float64)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``(X - mean_) / scale_``, shape (n, features), dtype of X (float64 for ints)."""
        X = self._check(X)
        return ((X.astype(np.float64) - self.mean_) / self.scale_).astype(self._out_dtype(X))

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        """``X * scale_ + mean_``, undoing :meth:`transform`."""
        X = self._check(X)
        return (X.astype(np.float64) * self.scale_ + self.mean_).astype(self._out_dtype(X))

    def to_dict(self) -> dict:
        """JSON-able statistics (for storing next to a model)."""
        if self.mean_ is None:
            raise ValueError("this StandardScaler is not fitted yet")
        return {"mean": self.mean_.tolist(), "scale": self.scale_.tolist(),
                "var": self.var_.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "StandardScaler":
        try:
            mean = np.asarray(d["mean"], dtype=np.float64)
            scale = np.asarray(d["scale"], dtype=np.float64)
            var = np.asarray(d.get("var", scale ** 2), dtype=np.float64)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not a StandardScaler dict: {e}") from None
        if mean.ndim != 1 or mean.shape != scale.shape or np.any(scale <= 0):
            raise ValueError("not a StandardScaler dict: mean/scale must be 1-D, equal length, "
                             "scale > 0")
        s = cls()
        s.mean_, s.scale_, s.var_, s.n_features_in_ = mean, scale, var, mean.shape[0]
        return s

    def __repr__(self) -> str:
        fitted = f", n_features_in_={self.n_features_in_}" if self.mean_ is not None else ""
        return f"StandardScaler(with_mean={self.with_mean}, with_std={self.with_std}{fitted})"
