"""nncore._files (open_regular) under every reader: a FIFO, a device or a directory
given as a model / CSV / NPZ file is a clear error at once, never a hang (a FIFO blocks
open() until a writer comes) or an endless read (/dev/zero)."""
import os
import signal

import numpy as np
import pytest

import nncore as nc
from nncore import cli, datasets as ds, io as nio


@pytest.fixture
def alarm():
    """Turn a hang into a test failure after 10 s instead of a stuck suite."""
    def boom(*_):
        raise TimeoutError("hung reading a special file")
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _specials(tmp_path):
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    out = [fifo, tmp_path]
    if os.path.exists("/dev/zero"):
        out.append("/dev/zero")
    return out


@pytest.mark.parametrize("reader", [
    nio.load, nio.load_metadata, lambda p: nio.load_tensors(p),
    lambda p: ds.load_csv(p), lambda p: ds.load_npz(p),
], ids=["load", "load_metadata", "load_tensors", "load_csv", "load_npz"])
def test_readers_refuse_special_files(tmp_path, alarm, reader):
    for p in _specials(tmp_path):
        with pytest.raises(ValueError, match="not a regular file|Is a directory"):
            reader(p)


def test_cli_refuses_special_files(tmp_path, alarm, capsys):
    fifo, _ = _specials(tmp_path)[:2]
    model = tmp_path / "m.safetensors"
    nc.nn.Sequential(nc.nn.Linear(3, 2)).save(model)
    data_fifo = tmp_path / "data.csv"
    os.mkfifo(data_fifo)
    for argv in (["info", fifo], ["evaluate", fifo, "digits"], ["predict", model, data_fifo],
                 ["train", "--data", data_fifo, "--epochs", "1"]):
        assert cli.main([str(a) for a in argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "not a regular file" in err[0], err


def test_regular_files_still_read(tmp_path):
    m = nc.nn.Sequential(nc.nn.Linear(3, 2), seed=1)
    m.save(tmp_path / "m.safetensors")
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    assert nc.load(tmp_path / "m.safetensors")(x).tobytes() == m(x).tobytes()
    (tmp_path / "d.csv").write_text("a,b\n1,0\n2,1\n")
    X, y = ds.load_csv(tmp_path / "d.csv")
    np.testing.assert_array_equal(X, [[1.0], [2.0]])
    np.testing.assert_array_equal(y, [0, 1])


# ------------------------------------------------ atomic_write: what it replaces

def _saved(tmp_path):
    m = nc.nn.Sequential(nc.nn.Linear(3, 2), seed=0)
    return m, m.predict(np.eye(3))


def test_save_through_a_symlink_writes_the_file_it_points_to(tmp_path):
    m, want = _saved(tmp_path)
    target = tmp_path / "real.safetensors"
    target.write_bytes(b"old")
    link = tmp_path / "link.safetensors"
    link.symlink_to(target)
    m.save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)   # the link stays
    np.testing.assert_array_equal(nc.load(target).predict(np.eye(3)), want)
    dangling = tmp_path / "to-new.safetensors"                     # a link to no file yet
    dangling.symlink_to(tmp_path / "new.safetensors")
    m.save(dangling)
    assert dangling.is_symlink()
    np.testing.assert_array_equal(nc.load(tmp_path / "new.safetensors").predict(np.eye(3)),
                                  want)


def test_save_refuses_to_replace_a_fifo_or_a_directory(tmp_path):
    m, _ = _saved(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        m.save(fifo)
    assert os.path.exists(fifo) and not os.path.isfile(fifo)        # still the FIFO
    d = tmp_path / "dir.safetensors"
    d.mkdir()
    with pytest.raises(IsADirectoryError):
        m.save(d)
    assert d.is_dir() and not any(d.iterdir())
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".nncore-")]   # no temp left


def test_read_header_refuses_a_dtype_nncore_cannot_hold_even_when_allowed(tmp_path):
    # BF16 is a valid safetensors dtype with no NumPy array behind it: asked for, it was
    # a KeyError (its item size looked up); it is the unsupported-dtype ValueError
    import json
    import struct
    from nncore import _safetensors as st
    head = json.dumps({"t": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}})
    head += " " * (-len(head) % 8)
    p = tmp_path / "bf16.safetensors"
    p.write_bytes(struct.pack("<Q", len(head)) + head.encode() + b"\0" * 4)
    with pytest.raises(ValueError, match=r"unsupported dtype 'BF16' \(expected one of F32\)"):
        st.read_header(p, ["BF16", "F32"])
    with pytest.raises(ValueError, match="unsupported dtype 'BF16'"):
        st.read_header(p)
