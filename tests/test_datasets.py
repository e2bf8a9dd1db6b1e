"""nncore.datasets: bundled digits, generators, loaders, split and scaler.

Checks are closed forms: shapes, class counts, the generating formulas with
noise=0, determinism by seed, exact CSV/NPZ round trips through temporary files,
a clear ValueError for every kind of bad file (what fuzzing found, and every file
of the fuzz seed corpora: accepted ones read as Python's csv module / np.load read
them, hostile ones refused).
"""
import csv
import io
import os
import struct
import zipfile
import zlib
from importlib import resources

import numpy as np
import pytest

from nncore import datasets as ds

from _model_files import corpus_files


# ------------------------------------------------------------------ digits

def test_load_digits_shape_and_classes():
    X, y = ds.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(10))
    # pixel counts of 4x4 blocks: integers 0..16
    assert X.min() == 0 and X.max() == 16 and np.all(X == np.round(X))
    # every class is present in roughly equal numbers (174..183 in the UCI test set)
    counts = np.bincount(y)
    assert counts.sum() == 1797 and counts.min() >= 170 and counts.max() <= 185
    X64, y64 = ds.load_digits(dtype=np.float64)
    assert X64.dtype == np.float64 and np.array_equal(X64, X) and np.array_equal(y64, y)


def test_digits_licence_shipped():
    text = resources.files("nncore").joinpath("data", "DIGITS_LICENSE.txt").read_text()
    assert "CC BY 4.0" in text and "Alpaydin" in text and "Kaynak" in text and "UCI" in text


def test_load_digits_split_fixed_stratified_disjoint():
    Xtr, Xte, ytr, yte = ds.load_digits_split()
    assert Xtr.shape == (1437, 64) and Xte.shape == (360, 64)
    # same split every time
    Xtr2, Xte2, ytr2, yte2 = ds.load_digits_split()
    assert np.array_equal(Xte, Xte2) and np.array_equal(ytr, ytr2)
    # stratified: each class's test count is its share of 360, rounded one way or the other
    _, y = ds.load_digits()
    share = np.bincount(y) * 360 / 1797
    assert np.all(np.abs(np.bincount(yte, minlength=10) - share) < 1)
    # the two sets together are the whole data set (as a multiset of rows)
    X, _ = ds.load_digits()
    both = np.concatenate([np.c_[Xtr, ytr], np.c_[Xte, yte]])
    key = lambda a: a[np.lexsort(a.T[::-1])]  # noqa: E731
    assert np.array_equal(key(both), key(np.c_[X, y]))


# ---------------------------------------------------------------- generators

@pytest.mark.parametrize("make", [ds.make_xor, ds.make_spirals, ds.make_circles])
def test_generators_shapes_determinism(make):
    X, y = make(n_samples=101, seed=3)
    assert X.shape == (101, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1}
    X2, y2 = make(n_samples=101, seed=3)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    X3, _ = make(n_samples=101, seed=4)
    assert not np.array_equal(X, X3)
    X64, _ = make(n_samples=101, seed=3, dtype=np.float64)
    assert X64.dtype == np.float64 and np.allclose(X64, X, atol=1e-6)


def test_xor_closed_form_without_noise():
    X, y = ds.make_xor(n_samples=400, noise=0.0, seed=1)
    assert set(map(tuple, X.tolist())) <= {(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)}
    assert np.array_equal(y, (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(np.int64))
    # with noise, labels still follow the blob the point came from
    Xn, yn = ds.make_xor(n_samples=400, noise=0.1, seed=1)
    assert np.array_equal(yn, y) and 0.05 < np.std(Xn - X) < 0.15


def test_spirals_closed_form_without_noise():
    X, y = ds.make_spirals(n_samples=301, noise=0.0, turns=1.5, seed=2)
    assert np.sum(y == 0) == 151 and np.sum(y == 1) == 150
    r = np.hypot(X[:, 0], X[:, 1]).astype(np.float64)
    assert r.max() <= 1 + 1e-6
    # the angle of a point (mod 2 pi) equals 2 pi turns r + pi y (mod 2 pi)
    want = 2 * np.pi * 1.5 * r + np.pi * y
    got = np.arctan2(X[:, 1], X[:, 0])
    diff = np.angle(np.exp(1j * (got - want)))
    ok = r > 1e-3  # angle undefined at the centre
    assert np.max(np.abs(diff[ok])) < 1e-3


def test_circles_closed_form_without_noise():
    X, y = ds.make_circles(n_samples=200, noise=0.0, factor=0.3, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert np.allclose(r[y == 0], 1.0, atol=1e-6) and np.allclose(r[y == 1], 0.3, atol=1e-6)


def test_regression_closed_form():
    X, y, coef = ds.make_regression(n_samples=50, n_features=3, noise=0.0, bias=2.0,
                                    seed=5, dtype=np.float64, return_coef=True)
    assert X.shape == (50, 3) and y.shape == (50,) and coef.shape == (3,)
    np.testing.assert_allclose(y, X @ coef + 2.0, rtol=1e-12)
    X, y, coef = ds.make_regression(n_samples=500, n_features=2, n_targets=2, noise=0.5,
                                    seed=5, dtype=np.float64, return_coef=True)
    assert y.shape == (500, 2) and coef.shape == (2, 2)
    resid = y - X @ coef
    assert 0.4 < resid.std() < 0.6


@pytest.mark.parametrize("bad", [dict(n_samples=0), dict(noise=-1.0), dict(dtype=np.int32)])
def test_generators_reject_bad_arguments(bad):
    with pytest.raises((ValueError, TypeError)):
        ds.make_xor(**bad)
    with pytest.raises(ValueError):
        ds.make_circles(factor=1.5)


# ------------------------------------------------------------------- CSV

def _write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)
    return str(path)


def test_csv_round_trip_named_target(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3)).astype(np.float32)
    y = rng.integers(0, 4, 20)
    path = tmp_path / "d.csv"
    with open(path, "w") as f:
        f.write("a,label,b,c\n")
        for xi, yi in zip(X, y):
            f.write(f"{float(xi[0])!r},{yi},{float(xi[1])!r},{float(xi[2])!r}\n")
    X2, y2 = ds.load_csv(path, target="label")
    assert X2.dtype == np.float32 and y2.dtype == np.int64
    assert np.array_equal(X2, X) and np.array_equal(y2, y)
    X3, y3 = ds.load_csv(path, target=1)
    assert np.array_equal(X3, X) and np.array_equal(y3, y)


def test_csv_no_header_last_column_float_target(tmp_path):
    p = _write(tmp_path / "r.csv", "1,2,0.5\n3,4,1.5\n\n5,6,-2.25\n")
    X, y = ds.load_csv(p, header=False, dtype=np.float64)
    assert np.array_equal(X, [[1, 2], [3, 4], [5, 6]])
    assert y.dtype == np.float64 and np.array_equal(y, [0.5, 1.5, -2.25])
    X, y = ds.load_csv(p, header=False, target=None)
    assert X.shape == (3, 3) and y is None


def test_csv_text_labels(tmp_path):
    p = _write(tmp_path / "t.csv", "x,kind\n1,cat\n2,dog\n3,cat\n")
    X, y, classes = ds.load_csv(p, target="kind", return_classes=True)
    assert classes == ["cat", "dog"] and np.array_equal(y, [0, 1, 0])


@pytest.mark.parametrize("text,kwargs,match", [
    ("", {}, "empty"),
    ("a,b\n", {}, "no data rows"),
    ("a,b\n1,2\n3\n", {}, "row 3 has 1 fields, expected 2"),
    ("a,b\n1,x\n", {"target": "a"}, r"row 2, column 1 \('b'\).*'x' is not a number"),
    ("a,b\n1,\n", {"target": "a"}, "empty value"),
    ("a,b\n1,nan\n", {"target": "a"}, "non-finite"),
    ("a,b\n1,0\n2,1\n3,nan\n", {}, "non-finite"),      # a NaN target is no class name
    ("a,b\n1,0.5\n2,-inf\n", {}, "non-finite"),
    ("a,b\n1,2\n", {"target": "c"}, "no column named 'c'"),
    ("a,b\n1,2\n", {"target": 5}, "out of range"),
    ("a\n1\n", {}, "only one column"),
])
def test_csv_bad_files(tmp_path, text, kwargs, match):
    p = _write(tmp_path / "bad.csv", text)
    with pytest.raises(ValueError, match=match):
        ds.load_csv(p, **kwargs)


def test_csv_binary_and_missing_files(tmp_path):
    p = _write(tmp_path / "bin.csv", b"\xff\xfe\x00\x81garbage", mode="wb")
    with pytest.raises(ValueError, match="UTF-8"):
        ds.load_csv(p)
    with pytest.raises(ValueError, match="cannot read"):
        ds.load_csv(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="header=False"):
        ds.load_csv(_write(tmp_path / "h.csv", "1,2\n"), header=False, target="a")


# ------------------------------------------------------------------- NPZ

def test_npz_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((10, 4))
    y = rng.integers(0, 3, 10)
    p = tmp_path / "d.npz"
    np.savez(p, X=X, y=y)
    X2, y2 = ds.load_npz(p, dtype=np.float64)
    assert np.array_equal(X2, X) and np.array_equal(y2, y) and y2.dtype == np.int64
    np.savez(p, features=X, targets=X[:, 0])
    X3, y3 = ds.load_npz(p, dtype=np.float64)
    assert np.array_equal(y3, X[:, 0]) and y3.dtype == np.float64
    np.savez(p, only=X)
    X4, y4 = ds.load_npz(p)
    assert y4 is None and X4.dtype == np.float32 and np.array_equal(X4, X.astype(np.float32))
    np.savez(p, a=X, b=y)
    X5, y5 = ds.load_npz(p, x_key="a", y_key="b")
    assert np.array_equal(y5, y)


def test_npz_bad_files(tmp_path):
    p = tmp_path / "bad.npz"
    _write(p, b"this is not a zip file", mode="wb")
    with pytest.raises(ValueError, match="not a valid .npz"):
        ds.load_npz(p)
    np.savez(p, X=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        ds.load_npz(p)  # object arrays need pickle: refused
    np.savez(p, X=np.zeros(5))
    with pytest.raises(ValueError, match="2-D"):
        ds.load_npz(p)
    np.savez(p, X=np.zeros((5, 2)), y=np.zeros(4))
    with pytest.raises(ValueError, match="shape"):
        ds.load_npz(p)
    np.savez(p, a=np.zeros((5, 2)), b=np.zeros(5))
    with pytest.raises(ValueError, match="no feature array"):
        ds.load_npz(p)
    np.savez(p, X=np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="NaN"):
        ds.load_npz(p)
    # a truncated archive
    np.savez(p, X=np.zeros((50, 50)), y=np.zeros(50))
    data = open(p, "rb").read()
    _write(p, data[: len(data) // 2], mode="wb")
    with pytest.raises(ValueError):
        ds.load_npz(p)
    with pytest.raises(ValueError, match="cannot read"):
        ds.load_npz(tmp_path / "missing.npz")
    with zipfile.ZipFile(p, "w"):
        pass
    with pytest.raises(ValueError, match="no arrays"):
        ds.load_npz(p)


# ------------------------------------------------- what fuzzing found, the seed corpora

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


def _lying_zip64(name, data, declared):
    """A one-member stored zip whose central directory declares `declared` bytes (ZIP64
    sizes) for `data`."""
    n = name.encode()
    crc = zlib.crc32(data)
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0, crc,
                        len(data), len(data), len(n), 0) + n + data
    extra = struct.pack("<HHQQ", 1, 16, declared, declared)
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 45, 45, 0, 0, 0, 0, crc,
                          0xFFFFFFFF, 0xFFFFFFFF, len(n), len(extra), 0, 0, 0, 0, 0) + n + extra
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local), 0)
    return local + central + eocd


def test_npz_member_whose_zip_sizes_lie_is_refused_before_allocating(tmp_path):
    # a 300-byte archive whose central directory declares a 1 PiB member: the .npy header
    # agreed with that declared size, so np.load allocated it (MemoryError)
    p = tmp_path / "lie.npz"
    p.write_bytes(_lying_zip64("X.npy", _npy_header((2 ** 47,), "<f8") + b"\0" * 64, 2 ** 50))
    with pytest.raises(ValueError, match="X"):
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


# What atheris found in the loaders (each named), then the seed corpora of the fuzz
# targets: tests/fuzz/corpus_csv and corpus_npz (tests/fuzz/make_corpus.py). The files
# named here are valid; every other file of a corpus must be refused with a ValueError.
ACCEPTED_CSV = {"valid", "no_header", "named_target", "crlf", "quoted", "nul", "many_cols"}
ACCEPTED_NPZ = {"valid", "x_only", "other_names", "f64_targets2d", "empty"}
CSV_CORPUS, NPZ_CORPUS = corpus_files("corpus_csv"), corpus_files("corpus_npz")


def test_corpora_list_every_accepted_file():
    for accepted, files in ((ACCEPTED_CSV, CSV_CORPUS), (ACCEPTED_NPZ, NPZ_CORPUS)):
        stems = {os.path.splitext(n)[0] for n, _ in files}
        assert accepted <= stems and len(stems - accepted) >= 5


def _as_target(y):
    """Targets as the loaders return them: int64 when there are values and every one is
    whole, else float32."""
    whole = y.size and np.all(y == np.round(y))
    return y.astype(np.int64) if whole else y.astype(np.float32)


def _csv_oracle(path):
    """X, y as the stdlib csv module and float() read the file: a header row, the last
    column the target."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if r]
    data = np.array([[float(v) for v in r] for r in rows[1:]])
    return data[:, :-1], _as_target(data[:, -1])


def _npz_oracle(path):
    """X, y as np.load reads the archive (X or data; y, labels or none)."""
    with np.load(path, allow_pickle=False) as z:
        X = z["X"] if "X" in z.files else z["data"]
        y = z["y"] if "y" in z.files else (z["labels"] if "labels" in z.files else None)
        return X, None if y is None else _as_target(y)


CORPORA = {"csv": (ds.load_csv, ACCEPTED_CSV, _csv_oracle, CSV_CORPUS),
           "npz": (ds.load_npz, ACCEPTED_NPZ, _npz_oracle, NPZ_CORPUS)}
CORPUS_FILES = [(kind, n, p) for kind, c in CORPORA.items() for n, p in c[3]]


@pytest.mark.parametrize("kind,name,path", CORPUS_FILES, ids=[n for _, n, _ in CORPUS_FILES])
def test_corpus_file(kind, name, path):
    read, accepted, oracle, _ = CORPORA[kind]
    if os.path.splitext(name)[0] not in accepted:
        with pytest.raises(ValueError):
            read(path)
        return
    X, y = read(path)
    wX, wy = oracle(path)
    np.testing.assert_array_equal(X, wX.astype(np.float32))
    assert (y is None) == (wy is None)
    if wy is not None:
        assert y.dtype == wy.dtype and np.array_equal(y, wy)


# ------------------------------------------------------------------- split

def test_train_test_split_partition_and_determinism():
    X = np.arange(100).reshape(50, 2)
    y = np.arange(50)
    Xtr, Xte, ytr, yte = ds.train_test_split(X, y, test_size=0.2, seed=0)
    assert Xtr.shape == (40, 2) and Xte.shape == (10, 2)
    # rows stay paired with their labels, and the two parts partition the data
    assert np.array_equal(Xtr[:, 0] // 2, ytr) and np.array_equal(Xte[:, 0] // 2, yte)
    assert sorted(np.concatenate([ytr, yte]).tolist()) == list(range(50))
    again = ds.train_test_split(X, y, test_size=0.2, seed=0)
    assert np.array_equal(again[3], yte)
    other = ds.train_test_split(X, y, test_size=0.2, seed=1)
    assert not np.array_equal(other[3], yte)
    # int test size, ceil of fractions, no shuffle
    assert ds.train_test_split(X, test_size=7)[1].shape == (7, 2)
    assert ds.train_test_split(X, test_size=0.21)[1].shape == (11, 2)
    Xtr, Xte = ds.train_test_split(X, test_size=5, shuffle=False)
    assert np.array_equal(Xte, X[45:]) and np.array_equal(Xtr, X[:45])


def test_train_test_split_stratified_counts():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = np.arange(100)[:, None]
    _, _, ytr, yte = ds.train_test_split(X, y, test_size=0.2, seed=0, stratify=y)
    assert np.bincount(yte).tolist() == [12, 6, 2]
    assert np.bincount(ytr).tolist() == [48, 24, 8]
    # leftovers after rounding go to the largest remainders, total is exact
    _, _, _, yte = ds.train_test_split(X, y, test_size=0.15, seed=0, stratify=True)
    assert np.bincount(yte).tolist() == [9, 4, 2] or np.bincount(yte).tolist() == [9, 5, 1]
    assert yte.shape == (15,)


@pytest.mark.parametrize("kwargs", [dict(test_size=0.0), dict(test_size=1.0), dict(test_size=10),
                                    dict(test_size=True)])
def test_train_test_split_bad_sizes(kwargs):
    with pytest.raises((ValueError, TypeError)):
        ds.train_test_split(np.zeros((10, 2)), np.zeros(10), **kwargs)
    with pytest.raises(ValueError, match="samples"):
        ds.train_test_split(np.zeros((10, 2)), np.zeros(9))


# ------------------------------------------------------------------ scaler

def test_standard_scaler_closed_form_and_zero_variance():
    rng = np.random.default_rng(0)
    Xtr = rng.normal(3.0, 2.0, (200, 3))
    Xtr[:, 1] = 7.0  # constant column
    sc = ds.StandardScaler().fit(Xtr)
    np.testing.assert_allclose(sc.mean_, Xtr.mean(axis=0), rtol=1e-12)
    assert sc.scale_[1] == 1.0
    Z = sc.transform(Xtr)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z[:, [0, 2]].std(axis=0), 1, rtol=1e-12)
    assert np.all(Z[:, 1] == 0) and np.all(np.isfinite(Z))
    # test set uses the training statistics
    Xte = rng.normal(0.0, 1.0, (5, 3))
    np.testing.assert_allclose(sc.transform(Xte), (Xte - sc.mean_) / sc.scale_, rtol=1e-12)
    np.testing.assert_allclose(sc.inverse_transform(sc.transform(Xte)), Xte, rtol=1e-12)
    # float32 in, float32 out
    assert sc.transform(Xte.astype(np.float32)).dtype == np.float32
    # round trip through a dict
    sc2 = ds.StandardScaler.from_dict(sc.to_dict())
    assert np.array_equal(sc2.transform(Xte), sc.transform(Xte))


def test_standard_scaler_errors():
    sc = ds.StandardScaler()
    with pytest.raises(ValueError, match="not fitted"):
        sc.transform(np.zeros((2, 2)))
    sc.fit(np.eye(3))
    with pytest.raises(ValueError, match="3"):
        sc.transform(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="2-D"):
        sc.fit(np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        sc.fit(np.array([[np.nan]]))


def test_digits_scaled_is_finite():
    Xtr, Xte, _, _ = ds.load_digits_split()
    sc = ds.StandardScaler().fit(Xtr)
    assert np.all(np.isfinite(sc.transform(Xte)))
    assert os.path.basename(ds.__file__) == "datasets.py"


@pytest.mark.parametrize("make", [ds.make_xor, ds.make_spirals, ds.make_circles])
def test_a_noise_that_overflows_the_dtype_is_a_value_error(make):
    # float32's max is 3.4e38: noise 1e39 times standard normals overflows to inf,
    # which float64 still holds
    X, _ = make(50, noise=1e39, dtype=np.float64)
    assert np.isfinite(X).all() and np.abs(X).max() > np.finfo(np.float32).max
    with pytest.raises(ValueError, match="noise=1e\\+39 is too large for float32"):
        make(50, noise=1e39, dtype=np.float32)


def test_a_regression_bias_that_overflows_the_dtype_is_a_value_error():
    with pytest.raises(ValueError, match="bias=1e\\+39 is too large for float32"):
        ds.make_regression(10, 2, bias=1e39, dtype=np.float32)
    _, y = ds.make_regression(10, 2, bias=1e39, dtype=np.float64)
    assert np.isfinite(y).all()
