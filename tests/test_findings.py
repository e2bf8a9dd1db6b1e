"""Regression tests for bugs found by the hardening tools (sanitizers, fuzzers,
thread tests). Each names the tool and the bug. The loader findings are in
tests/test_hostile_data.py. Run under .ci/sanitize these also fail loudly if the
bug comes back; in a normal build they check the visible symptom."""
import numpy as np
import pytest

from nncore import _core

pytestmark = pytest.mark.kernel


def test_set_segments_bad_group_message_no_use_after_free():
    # ASan (.ci/sanitize): heap-use-after-free in _COptim.set_segments — the error
    # message read segs[i].group after free(segs).
    c = _core._COptim("sgd", np.float32, 10)
    c.set_groups([{"lr": 0.1}])
    for g in (1, 7, -3, 2 ** 31 - 1):
        with pytest.raises(ValueError, match=f"group {g} out of range"):
            c.set_segments([0], [10], [1], [10], [g])
    c.set_segments([0], [10], [1], [10], [0])
    assert c.n_segments == 1


def test_train_step_marks_optimizer_busy():
    # Thread review: train_step ran nn_optim_step without the GIL but did not set the
    # optimizer's busy flag, so another thread could resize its groups/segments mid-step.
    import threading
    import nncore.nn as nn
    import nncore.optim as optim
    m = nn.Sequential(nn.Linear(128, 512), nn.ReLU(), nn.Linear(512, 128), seed=0)
    X = np.ones((256, 128), np.float32)
    opt = optim.SGD(m.parameters(), lr=1e-3)
    c = opt._prepare()
    seen = []
    done = threading.Event()

    def poke():
        while not done.is_set():
            try:
                c.set_groups([{"lr": 1e-3}, {"lr": 1e-3}])
            except RuntimeError:
                seen.append(1)

    t = threading.Thread(target=poke)
    t.start()
    try:
        for _ in range(20):
            m.train_step(X, X, "mse", opt)
    finally:
        done.set()
        t.join()
    assert seen


def _deep_file(tmp_path, n_acts, width=4096):
    import nncore.io as nio
    tmp_path.mkdir(parents=True, exist_ok=True)
    import nncore.nn as nn
    m = nn.Sequential(nn.Linear(1, width), nn.Linear(width, 1), seed=0)
    p = tmp_path / "deep.safetensors"
    nio.save(m, p)
    # rewrite the architecture: n_acts activation layers between the two Linears
    import json
    import struct
    raw = p.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header, data = json.loads(raw[8:8 + n]), raw[8 + n:]
    cfg = json.loads(header["__metadata__"]["config"])
    cfg["layers"] = [cfg["layers"][0]] + [{"type": "Tanh"}] * n_acts + [cfg["layers"][1]]
    header["__metadata__"]["config"] = json.dumps(cfg)
    w1, b1 = header.pop("1.weight"), header.pop("1.bias")
    header[f"{n_acts + 1}.weight"], header[f"{n_acts + 1}.bias"] = w1, b1
    hb = json.dumps(header).encode()
    hb += b" " * (-(8 + len(hb)) % 8)
    p.write_bytes(struct.pack("<Q", len(hb)) + hb + data)
    return p


def test_small_file_cannot_ask_for_gigabytes_of_workspace_per_row(tmp_path):
    # Review of the readers: 20,000 activation layers after a 4096-wide Linear is a
    # ~400 kB file whose forward pass needed 82 M values (328 MB) per batch row
    # (a predict batch of 1024 rows: 335 GB). Both readers now refuse it.
    import nncore.io as nio
    p = _deep_file(tmp_path, 20_000)
    assert p.stat().st_size < 1 << 20
    with pytest.raises(ValueError, match="workspace values per input row"):
        nio.load(p)
    # a deep but reasonable model still loads and runs
    p = _deep_file(tmp_path, 100)
    m = nio.load(p)
    assert m.predict(np.ones((2, 1), np.float32)).shape == (2, 1)


try:
    from test_c_embedding import built  # noqa: F401  (the C build fixture, reused)
except ImportError:  # pragma: no cover
    built = None


@pytest.mark.slow
def test_c_reader_refuses_the_same_deep_small_file(tmp_path, built):  # noqa: F811
    import test_c_embedding as emb
    deep, ok = _deep_file(tmp_path / "a", 20_000), _deep_file(tmp_path / "b", 100)
    assert emb._statuses(built, [deep, ok]) == [-4, 0]   # NN_ERR_FORMAT, NN_OK


def _unaligned(a):
    buf = np.zeros(a.nbytes + 1, np.uint8)
    u = np.frombuffer(buf.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    u[...] = a
    assert not u.flags.aligned
    return u


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ops_on_unaligned_arrays(dtype):
    # UBSan (.ci/sanitize, property tests): ops.activation passed an unaligned array
    # straight to C (misaligned float loads in the softmax row kernel: undefined
    # behaviour; np.ascontiguousarray keeps unaligned arrays). Now copied first.
    from nncore import ops
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 7)).astype(dtype)
    xu = _unaligned(x)
    for name in ("softmax", "log_softmax", "gelu", "relu"):
        assert np.array_equal(ops.activation(xu, name), ops.activation(x, name))
        assert np.array_equal(ops.activation_backward(xu, xu, None, name),
                              ops.activation_backward(x, x, None, name))
    t = (rng.random((5, 7)) > 0.5).astype(dtype)
    for name in ("mse", "bce_logits"):
        a, ga = ops.loss(name, xu, _unaligned(t))
        b, gb = ops.loss(name, x, t)
        assert a == b and np.array_equal(ga, gb)
    labels = np.array([0, 3, 6, 1, 2])
    a, ga = ops.loss("cross_entropy", xu, _unaligned(labels))
    b, gb = ops.loss("cross_entropy", x, labels)
    assert a == b and np.array_equal(ga, gb)
    y, mask = ops.dropout(xu, 0.3, seed=1)
    y2, mask2 = ops.dropout(x, 0.3, seed=1)
    assert np.array_equal(y, y2) and np.array_equal(mask, mask2)
    assert np.array_equal(ops.dropout_backward(xu, mask, 0.3), ops.dropout_backward(x, mask, 0.3))


@pytest.mark.parametrize("bad", ["01", "(", "f4,,", object()])
def test_unparsable_dtype_is_a_type_error(bad, tmp_path):
    # hypothesis (tests/test_properties.py): np.dtype("01") raises SyntaxError from
    # NumPy's string parser, which escaped load_csv and Sequential
    import nncore.datasets as datasets
    import nncore.nn as nn
    p = tmp_path / "d.csv"
    p.write_text("a,b\n1,0\n2,1\n")
    with pytest.raises(TypeError, match="dtype"):
        datasets.load_csv(p, dtype=bad)
    with pytest.raises(TypeError, match="dtype"):
        datasets.load_digits(dtype=bad)
    with pytest.raises(TypeError, match="dtype"):
        nn.Sequential(nn.Linear(2, 2), dtype=bad)


@pytest.mark.parametrize("counter,key", [(b"\0\0\0\0", (1, 2)), ((1, 2, 3, 4), "ab"),
                                         (bytearray(4), (0, 0))])
def test_philox_refuses_bytes_and_strings(counter, key):
    # hypothesis: philox4x32 took b"\0\0\0\0" as four words (iterating bytes gives ints)
    from nncore import ops
    with pytest.raises(TypeError, match="sequence of integers"):
        ops.philox4x32(counter, key)
