"""datasets.open_npy / open_npz (data larger than memory) and training on them.

Oracles: ``np.load`` for what the files hold; the same fit on the array in memory (same
bits); /proc/self/status RssAnon for "read a batch at a time" (a fresh process trains on
a ~200 MB file: its anonymous memory must grow by far less than the file).
"""
import io
import os
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest

import nncore as nc
from nncore import datasets as ds


def _save(tmp_path, name, a):
    p = tmp_path / name
    np.save(p, a)
    return p


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "uint8", "bool"])
@pytest.mark.parametrize("shape", [(7, 3), (5,), (0, 4), (2, 3, 4)])
def test_open_npy_reads_what_np_load_reads(tmp_path, dtype, shape):
    a = (np.arange(int(np.prod(shape))) % 5).astype(dtype).reshape(shape)
    p = _save(tmp_path, "a.npy", a)
    for mmap in (True, False):
        m = ds.open_npy(p, mmap=mmap)
        np.testing.assert_array_equal(m, np.load(p))
        assert m.dtype == a.dtype and m.shape == a.shape
        assert not m.flags.writeable
        with pytest.raises(ValueError):
            m[...] = 0
    if a.size:
        assert isinstance(ds.open_npy(p), np.memmap)


def test_open_npy_header_version_2(tmp_path):
    a = np.arange(6.0).reshape(2, 3)
    p = tmp_path / "v2.npy"
    with open(p, "wb") as f:
        np.lib.format.write_array(f, a, version=(2, 0))
    np.testing.assert_array_equal(ds.open_npy(p), a)


def _raw_npy(header: str, data: bytes = b"", version=(1, 0)) -> bytes:
    h = header.encode("latin1")
    pad = 64 - (10 + len(h) + 1) % 64
    h = h + b" " * pad + b"\n"
    return b"\x93NUMPY" + bytes(version) + len(h).to_bytes(2, "little") + h + data


def _hdr(descr, fortran, shape, nbytes, version=(1, 0)):
    return _raw_npy(f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}",
                    b"\0" * nbytes, version)


@pytest.mark.parametrize("content,match", [
    (_hdr("'|O'", False, "(2,)", 16), "dtype object"),
    (_hdr("[('a', '<f4')]", False, "(2,)", 8), "not supported"),
    (_hdr("'<U3'", False, "(2,)", 24), "not supported"),
    (_hdr("'<f4'", True, "(2, 2)", 16), "Fortran"),
    (_hdr("'<f4'", False, "(1000000, 1000000)", 16), "declares shape"),
    (_hdr("'<f8'", False, "(3,)", 23), "declares shape"),   # one byte short
    (_hdr("'<f8'", False, "(-3,)", 0), "header"),
    (_hdr("'<f8'", False, f"(0, {2 ** 62})", 0), "overflows"),   # no bytes, yet too big
    (_hdr("'<f8'", False, f"({2 ** 64}, {2 ** 64})", 8), "overflows"),
    (_hdr("'<f8'", False, "(3,)", 24, version=(3, 0)), "version"),
    (_raw_npy("__import__('os').system('echo pwned')", b"\0" * 24), "header"),
    (_raw_npy("{'descr': '<f8'", b""), "header"),
    (b"\x93NUMPY\x01", "header"),
    (b"PK\x03\x04 not a npy", "magic"),
    (b"", "magic"),
])
def test_open_npy_refuses_hostile_files(tmp_path, content, match):
    p = tmp_path / "bad.npy"
    p.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        ds.open_npy(p)
    with pytest.raises(ValueError, match=match):
        ds.open_npy(p, mmap=False)


def test_open_npy_refuses_other_byte_order_and_non_files(tmp_path):
    p = _save(tmp_path, "be.npy", np.arange(4.0).astype(">f8" if sys.byteorder == "little"
                                                         else "<f8"))
    with pytest.raises(ValueError, match="byte order"):
        ds.open_npy(p)
    with pytest.raises(ValueError, match="cannot read"):
        ds.open_npy(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match="cannot read"):
        ds.open_npy(tmp_path)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.npy")
        with pytest.raises(ValueError, match="regular file"):
            ds.open_npy(tmp_path / "fifo.npy")


@pytest.mark.parametrize("mmap", [True, False])
@pytest.mark.parametrize("archive", [False, True])
def test_the_file_checked_is_the_file_mapped(tmp_path, monkeypatch, mmap, archive):
    # the path is swapped for another file right after the header check: the array
    # comes from the file that was checked, not from whatever the path names by then
    a, b = np.arange(6.0).reshape(2, 3), np.full((2, 3), 7.0)
    p, other = tmp_path / "a", tmp_path / "b"
    if archive:
        _stored_npz(p, {"X": a.astype(np.uint8)})
        _stored_npz(other, {"X": b.astype(np.uint8)})
    else:
        np.save(p, a)
        np.save(other, b)
        os.replace(str(p) + ".npy", p)
        os.replace(str(other) + ".npy", other)
    read_header = ds._read_npy_header

    def then_swap(*args):
        got = read_header(*args)
        os.replace(other, p)
        return got

    monkeypatch.setattr(ds, "_read_npy_header", then_swap)
    got = ds.open_npz(p, mmap=mmap)["X"] if archive else ds.open_npy(p, mmap=mmap)
    np.testing.assert_array_equal(got, a)
    monkeypatch.undo()
    np.testing.assert_array_equal(np.load(p)["X"] if archive else np.load(p), b)  # swapped


def _stored_npz(path, arrays):
    """An uncompressed archive written member by member through zipfile."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for k, a in arrays.items():
            with z.open(k + ".npy", "w") as f:
                np.lib.format.write_array(f, a)


def _npy_data_offsets(path):
    """{member: byte where its data starts}, found by the .npy magic after each local
    header and NumPy's own header reader."""
    raw = path.read_bytes()
    out = {}
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            f = io.BytesIO(raw)
            f.seek(raw.index(b"\x93NUMPY", info.header_offset))
            read = {(1, 0): np.lib.format.read_array_header_1_0,
                    (2, 0): np.lib.format.read_array_header_2_0}[np.lib.format.read_magic(f)]
            read(f)
            out[info.filename[:-4]] = f.tell()
    return out


def test_open_npz_maps_stored_members_and_refuses_the_rest(tmp_path):
    X = np.arange(24, dtype=np.uint8).reshape(6, 4)   # item size 1: always aligned
    y = np.arange(6, dtype=np.uint8)
    p = tmp_path / "d.npz"
    _stored_npz(p, {"X": X, "y": y})
    got = ds.open_npz(p)
    assert set(got) == {"X", "y"} and isinstance(got["X"], np.memmap)
    np.testing.assert_array_equal(got["X"], np.load(p)["X"])
    np.testing.assert_array_equal(got["y"], y)
    # members of np.savez start where the zip headers end, at any byte: mapped when
    # that byte is a multiple of the item size, refused otherwise (fit would copy them)
    q = tmp_path / "f.npz"
    np.savez(q, X=X.astype(np.float32), yy=y.astype(np.float64))
    loaded = dict(np.load(q))
    unaligned = [k for k, start in _npy_data_offsets(q).items()
                 if start % loaded[k].itemsize]   # in archive order
    if unaligned:
        with pytest.raises(ValueError, match=f"'{unaligned[0]}' starts at .* not aligned"):
            ds.open_npz(q)
    else:
        for k, a in ds.open_npz(q).items():
            np.testing.assert_array_equal(a, loaded[k])
    got = ds.open_npz(q, mmap=False)
    for k in ("X", "yy"):
        np.testing.assert_array_equal(got[k], loaded[k])
        assert got[k].dtype == loaded[k].dtype and not got[k].flags.writeable
    c = tmp_path / "c.npz"
    np.savez_compressed(c, X=X)
    with pytest.raises(ValueError, match="compressed"):
        ds.open_npz(c)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a valid"):
        ds.open_npz(bad)
    # a member whose .npy header claims more than the member holds
    t = tmp_path / "t.npz"
    with zipfile.ZipFile(t, "w", zipfile.ZIP_STORED) as z:
        z.writestr("X.npy", _raw_npy("{'descr': '|u1', 'fortran_order': False, "
                                     "'shape': (100,), }", b"\0" * 10))
    with pytest.raises(ValueError, match="declares shape"):
        ds.open_npz(t)
    # a stored member whose central-directory size claims more bytes than it holds
    raw = bytearray(p.read_bytes())
    cd = raw.index(b"PK\x01\x02")   # X.npy's central directory entry; its size at +24
    raw[cd + 24:cd + 28] = (int.from_bytes(raw[cd + 24:cd + 28], "little") + 8
                            ).to_bytes(4, "little")
    p.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="corrupt archive"):
        ds.open_npz(p)


def test_fit_evaluate_predict_on_a_memmap_give_the_in_memory_bits(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 5)).astype(np.float32)
    y = rng.integers(0, 3, 300)
    Xm = ds.open_npy(_save(tmp_path, "X.npy", X))
    ym = ds.open_npy(_save(tmp_path, "y.npy", y))
    res = []
    for a, b in ((X, y), (Xm, ym)):
        m = nc.nn.Sequential(nc.nn.Linear(5, 8), nc.nn.ReLU(), nc.nn.Linear(8, 3), seed=2)
        h = m.fit(a, b, loss="cross_entropy", epochs=2, batch_size=32, verbose=0,
                  validation_split=0.2)
        res.append((m.flat_params.copy(), h.history["loss"], m.evaluate(a, b),
                    m.predict(a, batch_size=64)))
    np.testing.assert_array_equal(res[0][0], res[1][0])
    assert res[0][1] == res[1][1] and res[0][2] == res[1][2]
    np.testing.assert_array_equal(res[0][3], res[1][3])


_RSS_SCRIPT = r"""
import sys, numpy as np, nncore as nc
from nncore import datasets as ds

def anon():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("RssAnon:"))

path, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = np.lib.format.open_memmap(path + "X.npy", "w+", np.float32, (rows, cols))
rng = np.random.default_rng(0)
for s in range(0, rows, 8192):   # written in blocks: never the whole array in memory
    out[s:s + 8192] = rng.standard_normal((min(8192, rows - s), cols), dtype=np.float32)
out.flush(); del out
np.save(path + "y.npy", np.arange(rows) % 10)
X, y = ds.open_npy(path + "X.npy"), ds.open_npy(path + "y.npy")
m = nc.nn.Sequential(nc.nn.Linear(cols, 32), nc.nn.ReLU(), nc.nn.Linear(32, 10), seed=0)
m.fit(X[:2048], y[:2048], loss="cross_entropy", batch_size=1024, verbose=0)   # warm up
base = anon()
peak = [base]

class Watch(nc.callbacks.Callback):
    def on_batch_end(self, batch, logs=None):
        if batch % 16 == 0:
            peak[0] = max(peak[0], anon())

m.fit(X, y, loss="cross_entropy", batch_size=1024, epochs=1, verbose=0,
      validation_split=0.1, callbacks=[Watch()])
peak[0] = max(peak[0], anon())
m.evaluate(X, y)
peak[0] = max(peak[0], anon())
m.predict(X)
peak[0] = max(peak[0], anon())
print(X.nbytes, peak[0] - base)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="/proc/self/status")
def test_training_on_a_200mb_file_keeps_anonymous_memory_flat(tmp_path):
    rows, cols = 200 * 2 ** 20 // (4 * 256), 256   # ~200 MB of float32
    r = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(tmp_path) + os.sep, str(rows),
                        str(cols)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    nbytes, growth = map(int, r.stdout.split())
    assert nbytes >= 200 * 2 ** 20
    assert growth < 100 * 2 ** 20, f"RssAnon grew by {growth / 2**20:.0f} MB"


def test_cli_trains_on_npy_files_in_place(tmp_path, capsys):
    # nncore train --data X.npy --target y.npy: the model the Python API trains on the
    # file's views (test rows the last 20%, validation the last 10% of the rest)
    from nncore import cli
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    out = tmp_path / "m.safetensors"
    args = ["train", "--data", str(tmp_path / "X.npy"), "--target", str(tmp_path / "y.npy"),
            "--epochs", "2", "--hidden", "8", "--verbose", "0", "--out", str(out)]
    assert cli.main(args) == 0
    m = nc.nn.Sequential(nc.nn.Linear(4, 8), nc.nn.ReLU(), nc.nn.Linear(8, 2), seed=0)
    opt = nc.optim.Adam(m.parameters(), lr=1e-3)
    m.fit(X[:144], y[:144], loss="cross_entropy", optimizer=opt, epochs=2, batch_size=32,
          validation_data=(X[144:160], y[144:160]), verbose=0)
    np.testing.assert_array_equal(nc.load(out).flat_params, m.flat_params)
    capsys.readouterr()
    assert cli.main(args[:3] + args[5:]) == 2          # no --target: one line, status 2
    assert "--target Y.npy" in capsys.readouterr().err
    np.savez_compressed(tmp_path / "c.npz", X=X, y=y)
    assert cli.main(["train", "--data", str(tmp_path / "c.npz"), "--mmap", "--out",
                     str(out)]) == 2
    err = capsys.readouterr().err
    assert "compressed" in err and "without --mmap" in err
    # np.savez's X: trained in place if its data is aligned, else refused with the hint
    np.savez(tmp_path / "u.npz", X=X, y=y)
    aligned = _npy_data_offsets(tmp_path / "u.npz")["X"] % X.itemsize == 0
    status = cli.main(["train", "--data", str(tmp_path / "u.npz"), "--mmap", "--epochs", "2",
                       "--hidden", "8", "--verbose", "0", "--out", str(out)])
    assert status == (0 if aligned else 2)
    if aligned:
        np.testing.assert_array_equal(nc.load(out).flat_params, m.flat_params)
    else:
        err = capsys.readouterr().err
        assert "not aligned" in err and "without --mmap" in err


@pytest.mark.parametrize("bad", ["no", "", 0, 1, None, np.array(True), [True]])
def test_mmap_must_be_a_bool(tmp_path, bad):
    # a str "no" is true, 0 and None are false: only True/False (or np.bool_) say which
    p = _save(tmp_path, "a.npy", np.arange(6, dtype=np.uint8))
    z = tmp_path / "a.npz"
    _stored_npz(z, {"X": np.arange(6, dtype=np.uint8)})
    for opener, path in ((ds.open_npy, p), (ds.open_npz, z)):
        with pytest.raises(TypeError, match=f"mmap must be a bool .*got {type(bad).__name__}"):
            opener(path, mmap=bad)


@pytest.mark.parametrize("flag", [np.True_, np.False_])
def test_mmap_takes_numpy_bools(tmp_path, flag):
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    p = _save(tmp_path, "a.npy", a)
    z = tmp_path / "a.npz"
    _stored_npz(z, {"X": a})
    for got in (ds.open_npy(p, mmap=flag), ds.open_npz(z, mmap=flag)["X"]):
        np.testing.assert_array_equal(got, a)
        assert isinstance(got, np.memmap) == bool(flag)


@pytest.mark.parametrize("names", [("X.npy", "X.npy"), ("X.npy", "X")])
def test_an_archive_naming_an_array_twice_is_refused(tmp_path, names):
    # zipfile writes a duplicate name (with a warning) and reads back the LAST member of
    # that name; np.load does the same: which array is 'X' would be the archive's choice
    p = tmp_path / "dup.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # zipfile: "Duplicate name"
        with zipfile.ZipFile(p, "w", zipfile.ZIP_STORED) as z:
            for i, name in enumerate(names):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.full((2, 3), i, np.uint8))
                z.writestr(name, buf.getvalue())
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.arange(2, dtype=np.uint8))
            z.writestr("y.npy", buf.getvalue())
    msg = rf"array 'X' twice \(members '{names[0]}' and '{names[1]}'\)"
    for mmap in (True, False):
        with pytest.raises(ValueError, match=msg):
            ds.open_npz(p, mmap=mmap)
    with pytest.raises(ValueError, match=msg):
        ds.load_npz(p)


def _zip_sharing_one_member(names, data):
    """A stored zip of one local member 'X.npy' (``data``) that its central directory
    lists under every name of ``names``, all pointing at the same bytes."""
    import struct
    import zlib
    crc = zlib.crc32(data)
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, len(data),
                        len(data), 5, 0) + b"X.npy" + data
    central = b""
    for name in names:
        n = name.encode()
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc,
                               len(data), len(data), len(n), 0, 0, 0, 0, 0, 0) + n
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(names), len(names),
                       len(central), len(local), 0)
    return local + central + eocd


def test_open_npz_refuses_members_sharing_bytes(tmp_path):
    # a central directory listing one member's bytes under many names (the overlapping-
    # member zip bomb): with mmap=False each name was read into memory, so memory grew as
    # (names x data) from a file of (names + data) bytes
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.arange(4096, dtype=np.float64))
    names = [f"A{i}.npy" for i in range(50)]
    p = tmp_path / "overlap.npz"
    p.write_bytes(_zip_sharing_one_member(names, buf.getvalue()))
    for mmap in (True, False):
        with pytest.raises(ValueError, match="overlap"):
            ds.open_npz(p, mmap=mmap)
    # one name is a valid archive
    p.write_bytes(_zip_sharing_one_member(["X.npy"], buf.getvalue()))
    np.testing.assert_array_equal(ds.open_npz(p, mmap=False)["X"], np.arange(4096.0))


def test_open_npy_refuses_data_not_aligned_for_its_dtype(tmp_path):
    # a hand-made header of 71 bytes puts float64 data at byte 81: a memory map of it
    # is misaligned, which fit would copy whole (open_npz already refused it)
    X = np.arange(4, dtype="<f8")
    head = "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }"
    head = head.ljust(70) + "\n"
    p = tmp_path / "odd.npy"
    p.write_bytes(b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head.encode()
                  + X.tobytes())
    assert np.array_equal(np.load(p), X)                 # a valid file NumPy reads
    with pytest.raises(ValueError, match=r"starts at byte 81, not aligned for float64"):
        ds.open_npy(p)
    np.testing.assert_array_equal(ds.open_npy(p, mmap=False), X)
