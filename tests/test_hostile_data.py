"""Regression tests for what fuzzing found in the data loaders, and the seed corpora
replayed in-process: every file gives a result or ValueError/TypeError."""
import glob
import io
import os
import sys
import zipfile

import numpy as np
import pytest

from nncore import datasets as ds

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "fuzz"))
import fuzz_python  # noqa: E402


def _npy_header(shape, descr="<f4"):
    h = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}".encode()
    h += b" " * (118 - len(h)) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h


def test_npz_member_declaring_terabytes_is_refused_before_allocating(tmp_path):
    # found by atheris: a 300-byte archive made np.load allocate 10.9 TiB (MemoryError)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("X.npy", _npy_header((10 ** 12, 3)) + b"\0" * 16)
    p = tmp_path / "big.npz"
    p.write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="declares shape"):
        ds.load_npz(p)


def test_plain_npy_with_huge_shape_is_refused(tmp_path):
    p = tmp_path / "big.npz"
    p.write_bytes(_npy_header((10 ** 12, 3)) + b"\0" * 16)
    with pytest.raises(ValueError, match="single .npy"):
        ds.load_npz(p)


def test_npz_member_with_unparsable_header_is_value_error(tmp_path):
    # found by atheris in CI: an unbalanced header dict made NumPy's header parser raise
    # tokenize.TokenError ("EOF in multi-line statement") out of load_npz
    head = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2 \n"
    npy = b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head + b"\0" * 16
    p = tmp_path / "bad_header.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("X.npy", npy)
        z.writestr("y.npy", npy)
    with pytest.raises(ValueError, match="malformed .npy header"):
        ds.load_npz(p)


def test_npz_unsupported_zip_version_is_value_error(tmp_path):
    # found by atheris: zipfile raised NotImplementedError ("zip file version 21.2")
    buf = io.BytesIO()
    np.savez(buf, X=np.ones((2, 2)), y=np.array([0, 1]))
    raw = bytearray(buf.getvalue())
    cd = raw.rfind(b"PK\x01\x02")
    raw[cd + 6] = 0xD4           # "version needed to extract" of the central directory entry
    p = tmp_path / "v.npz"
    p.write_bytes(bytes(raw))
    with pytest.raises(ValueError):
        ds.load_npz(p)


def test_npz_unknown_compression_is_value_error(tmp_path):
    buf = io.BytesIO()
    np.savez(buf, X=np.ones((2, 2)), y=np.array([0, 1]))
    raw = bytearray(buf.getvalue())
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):        # compression method -> 99
        i = raw.find(sig)
        off = 8 if sig == b"PK\x03\x04" else 10
        raw[i + off] = 99
    p = tmp_path / "c.npz"
    p.write_bytes(bytes(raw))
    with pytest.raises(ValueError):
        ds.load_npz(p)


@pytest.mark.parametrize("text", ["a,y\n1e39,0\n2,1\n", "a,y\n1,1e39\n2,0.5\n"])
def test_csv_value_overflowing_float32_is_value_error(tmp_path, text):
    # found by atheris: 1e39 is finite in float64 but became inf in float32 silently
    p = tmp_path / "o.csv"
    p.write_text(text)
    with pytest.raises(ValueError, match="overflows float32"):
        ds.load_csv(p)
    X, y = ds.load_csv(p, dtype=np.float64)      # fits float64
    assert np.isfinite(X).all() and np.isfinite(y).all()


def test_npz_targets_overflowing_float32_are_value_error(tmp_path):
    p = tmp_path / "t.npz"
    np.savez(p, X=np.ones((2, 1)), y=np.array([0.5, 1e300]))
    with pytest.raises(ValueError, match="overflows float32"):
        ds.load_npz(p)


@pytest.mark.parametrize("target,corpus", [("load", "corpus_model"), ("csv", "corpus_csv"),
                                           ("npz", "corpus_npz")])
def test_seed_corpus_replays(target, corpus):
    files = sorted(glob.glob(os.path.join(HERE, "fuzz", corpus, "*")))
    assert len(files) >= 10
    for f in files:
        with open(f, "rb") as fh:
            fuzz_python.check(target, fh.read())
