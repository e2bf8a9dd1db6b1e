"""nncore.io: model files and checkpoints (safetensors), and every hostile-file case.

Round trips are exact (bit-identical parameters and predictions). Hostile files are
crafted byte by byte; each must give a ValueError naming the problem, before any
large allocation.
"""
import json
import math
import os
import struct
import tracemalloc

import numpy as np
import pytest
from safetensors import numpy as st

import nncore.nn as nn
import nncore.optim as optim
from nncore import io as nio

from _model_files import corpus_files, corpus_models, deep_model_file

CONFIG = {"layers": [{"type": "Linear", "in_features": 3, "out_features": 2, "bias": True},
                     {"type": "ReLU"},
                     {"type": "Linear", "in_features": 2, "out_features": 1, "bias": False}],
          "dtype": "float32", "seed": 0}


def _meta(config=CONFIG, **kw):
    m = {"format": "nncore", "nncore_version": "0.1.0", "config": json.dumps(config)}
    m.update(kw)
    return m


def _tensors(dtype=np.float32):
    rng = np.random.default_rng(0)
    return {"0.weight": rng.standard_normal((2, 3)).astype(dtype),
            "0.bias": rng.standard_normal(2).astype(dtype),
            "2.weight": rng.standard_normal((1, 2)).astype(dtype)}


def _raw(path, header, data=b"", n=None, pad=True):
    """Write a file from a header (dict or raw bytes) and data, optionally lying about n."""
    hb = header if isinstance(header, bytes) else json.dumps(header).encode()
    if pad:
        hb += b" " * (-(8 + len(hb)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb) if n is None else n) + hb + data)
    return str(path)


def _entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": [begin, end]}


def _valid_header(config=CONFIG):
    """Header + data of a valid model file (F32, CONFIG)."""
    t = _tensors()
    header = {"__metadata__": _meta(config)}
    data = b""
    for name, arr in t.items():
        b = arr.tobytes()
        header[name] = _entry("F32", arr.shape, len(data), len(data) + len(b))
        data += b
    return header, data


# ------------------------------------------------------------ tensor files

def test_save_load_tensors_round_trip_all_dtypes(tmp_path):
    rng = np.random.default_rng(1)
    t = {"f32": rng.standard_normal((3, 4)).astype(np.float32),
         "f64": rng.standard_normal(5),
         "i64": np.array([-(2 ** 62), 5, 7]),
         "i32": np.arange(4, dtype=np.int32).reshape(2, 2),
         "u8": np.array([0, 255], dtype=np.uint8),
         "bool": np.array([[True], [False]]),
         "big_endian": np.arange(3, dtype=">f8"),
         "empty": np.zeros((0, 3), np.float32),
         "scalar": np.float64(2.5) * np.ones(())}
    p = tmp_path / "t.safetensors"
    nio.save_tensors(p, t, {"who": "test", "ünï": "cödé"})
    out, meta = nio.load_tensors(p)
    assert meta == {"who": "test", "ünï": "cödé"}
    assert list(out) == list(t)
    for k in t:
        assert out[k].shape == t[k].shape and out[k].dtype == t[k].dtype.newbyteorder("=")
        assert np.array_equal(out[k], t[k])
        assert out[k].flags.writeable
    raw = open(p, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0  # data section aligned
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    if os.name == "posix":   # plain-open permissions, not mkstemp's 0600
        umask = os.umask(0)
        os.umask(umask)
        assert os.stat(p).st_mode & 0o777 == 0o666 & ~umask


def test_safetensors_package_agrees(tmp_path):
    t = _tensors(np.float64)
    p = tmp_path / "ours.safetensors"
    nio.save_tensors(p, t, {"format": "x"})
    theirs = st.load_file(str(p))
    assert all(np.array_equal(theirs[k], t[k]) for k in t)
    q = tmp_path / "theirs.safetensors"
    st.save_file(t, str(q), metadata={"format": "y"})
    ours, meta = nio.load_tensors(q)
    assert meta == {"format": "y"} and all(np.array_equal(ours[k], t[k]) for k in t)


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    p = tmp_path / "m.safetensors"
    nio.save_tensors(p, {"a": np.ones(2)})
    before = open(p, "rb").read()
    with pytest.raises(TypeError):
        nio.save_tensors(p, {"a": np.ones(2), "b": np.array(["text"])})
    assert open(p, "rb").read() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]


def test_checkpoint_restores_the_compute_mode(tmp_path):
    # the checkpoint's config holds compute_dtype (get_config: absent = float32);
    # load_checkpoint restores it like the weights, whatever the model computed in
    def model(mode):
        return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 2), seed=4,
                             compute_dtype=mode)

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((12, 5)).astype(np.float32), rng.integers(0, 2, 12)
    for saved, into in (("bfloat16", "float32"), ("float32", "bfloat16")):
        src = model(saved)
        opt = optim.SGD(src.parameters(), lr=0.1)
        src.train_step(x, y, "cross_entropy", opt)
        path = tmp_path / f"{saved}.safetensors"
        nio.save_checkpoint(path, src, opt, epoch=1)
        dst = model(into)
        opt2 = optim.SGD(dst.parameters(), lr=0.1)
        nio.load_checkpoint(path, dst, opt2)
        assert dst.compute_dtype == saved
        # the oracle of "resumes exactly": the next step's bits equal the source's
        assert dst.train_step(x, y, "cross_entropy", opt2) == \
            src.train_step(x, y, "cross_entropy", opt)
        np.testing.assert_array_equal(dst.flat_params, src.flat_params)


@pytest.mark.parametrize("value, match", [
    ("float16", "compute_dtype must be one of"), (["bfloat16"], "compute_dtype must be one of"),
    ("bfloat16", "needs dtype float32")])
def test_a_bad_compute_dtype_in_a_checkpoint_is_refused_before_anything_changes(
        tmp_path, value, match):
    dtype = np.float64 if match.startswith("needs") else np.float32
    src = nn.Sequential(nn.Linear(3, 2), dtype=dtype, seed=1)
    path = tmp_path / "ck.safetensors"
    nio.save_checkpoint(path, src, None, epoch=1)
    tensors, meta = nio.load_tensors(path)
    config = json.loads(meta["config"])
    config["compute_dtype"] = value
    meta["config"] = json.dumps(config)
    nio.save_tensors(path, tensors, meta)
    dst = nn.Sequential(nn.Linear(3, 2), dtype=dtype, seed=2)
    before = dst.flat_params.copy()
    with pytest.raises(ValueError, match=match):
        nio.load_checkpoint(path, dst)
    assert dst.compute_dtype == "float32"
    np.testing.assert_array_equal(dst.flat_params, before)


# ------------------------------------------------------------ hostile files

def _expect(path, match, fn=None):
    with pytest.raises(ValueError, match=match):
        (fn or nio.load)(path)


def test_valid_crafted_header_passes_validation(tmp_path):
    header, data = _valid_header()
    p = _raw(tmp_path / "ok.safetensors", header, data)
    meta, entries, start = nio.read_header(p, nio.MODEL_DTYPES)
    assert list(entries) == ["0.weight", "0.bias", "2.weight"]
    assert start + len(data) == os.path.getsize(p)


def test_truncated_at_every_length(tmp_path):
    header, data = _valid_header()
    full = open(_raw(tmp_path / "full", header, data), "rb").read()
    p = tmp_path / "cut.safetensors"
    for k in range(len(full)):
        with open(p, "wb") as f:
            f.write(full[:k])
        with pytest.raises(ValueError):
            nio.load(p)


@pytest.mark.parametrize("n,match", [
    (10 ** 6, "runs past the end of the file"),
    (2 ** 64 - 1, "runs past the end of the file"),
    (0, "too small"),
])
def test_bad_header_length(tmp_path, n, match):
    header, data = _valid_header()
    _expect(_raw(tmp_path / "h", header, data, n=n), match)


def test_short_file(tmp_path):
    p = tmp_path / "s"
    p.write_bytes(b"\x01\x00")
    _expect(p, "too short")
    p.write_bytes(b"")
    _expect(p, "too short")
    _expect(tmp_path / "does-not-exist", "cannot read")


@pytest.mark.parametrize("raw,match", [
    (b"\xff\xfe{}", "not valid UTF-8"),
    (b'{"a": ', "not valid JSON"),
    (b"[1, 2, 3]", "must be a JSON object"),
    (b'{"__metadata__": {"x": 1}}', "string values"),
    (b'{"__metadata__": {}, "__metadata__": {}}', "duplicate key"),
    (b'{"a": NaN}', "not valid JSON"),
    (b"[" * 50000 + b"]" * 50000, "JSON|nested"),
], ids=["utf8", "json", "list", "meta-values", "dup", "nan", "deep"])
def test_bad_header_bytes(tmp_path, raw, match):
    _expect(_raw(tmp_path / "b", raw), match)


def _mutate(tmp_path, change, data=None):
    header, good = _valid_header()
    change(header)
    return _raw(tmp_path / "m.safetensors", header, good if data is None else data)


@pytest.mark.parametrize("change,match", [
    (lambda h: h["0.bias"].update(dtype="Q7"), "unknown dtype 'Q7'"),
    (lambda h: h["0.bias"].update(dtype="F16", shape=[4]), "unsupported dtype 'F16'"),
    (lambda h: h["0.bias"].update(dtype="BF16", shape=[4]), "unsupported dtype 'BF16'"),
    (lambda h: h["0.bias"].update(shape=[3]), "needs 12 bytes but data_offsets"),
    (lambda h: h["0.bias"].update(shape=[-2]), "non-negative"),
    (lambda h: h["0.bias"].update(shape=[True, 2]), "non-negative"),
    (lambda h: h["0.bias"].update(shape="2"), "shape must be"),
    (lambda h: h["0.bias"].update(shape=[1] * 9), "at most 8"),
    (lambda h: h["0.bias"].update(data_offsets=[24, 30.0]), "data_offsets must be"),
    (lambda h: h["0.bias"].update(data_offsets=[32, 24]), "data_offsets must be"),
    (lambda h: h["0.bias"].update(data_offsets=[24]), "data_offsets must be"),
    (lambda h: h["2.weight"].update(data_offsets=[32, 40 + 8]), "run past the end"),
    (lambda h: h["0.bias"].update(data_offsets=[20, 28]), "overlap"),
    (lambda h: h["0.weight"].update(data_offsets=[0, 24], shape=[2, 3]) or
     h["0.bias"].update(data_offsets=[28, 36], shape=[2]) or
     h["2.weight"].update(data_offsets=[36, 40], shape=[1]), "gap|needs"),
    (lambda h: h.pop("2.weight"), "bytes after the last tensor"),
    (lambda h: h["0.bias"].pop("dtype"), "lacks"),
    (lambda h: h.update({"x": [1, 2]}), "must be an object"),
])
def test_bad_entries(tmp_path, change, match):
    _expect(_mutate(tmp_path, change), match)


def test_gap_between_tensors(tmp_path):
    header, data = _valid_header()
    header["0.bias"]["data_offsets"] = [28, 36]
    header["2.weight"]["data_offsets"] = [36, 44]
    _expect(_raw(tmp_path / "g", header, data[:24] + b"\0" * 4 + data[24:]), "gap of 4 bytes")


def test_huge_declared_sizes_rejected_without_allocating(tmp_path):
    big = 2 ** 40
    cases = [
        # shape and offsets agree but point far past the file
        (lambda h: h["0.weight"].update(shape=[big, big // 4], data_offsets=[0, big * big])),
        # shape product overflows 64 bits; offsets small
        (lambda h: h["0.weight"].update(shape=[2 ** 62, 2 ** 62], data_offsets=[0, 24])),
    ]
    tracemalloc.start()
    try:
        for change in cases:
            with pytest.raises(ValueError, match="run past the end|needs"):
                nio.load(_mutate(tmp_path, change))
        # an architecture with gigantic layers is refused before the network is built
        cfg = {"layers": [{"type": "Linear", "in_features": big, "out_features": big,
                           "bias": True}], "dtype": "float32", "seed": 0}
        header, data = _valid_header(cfg)
        with pytest.raises(ValueError, match="missing tensor|has shape|not parameters"):
            nio.load(_raw(tmp_path / "big", header, data))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 ** 22


@pytest.mark.parametrize("meta,match", [
    ({}, "not an nncore model file"),
    ({"format": "pt"}, "not an nncore model file"),
    ({"format": "nncore"}, "no 'config'"),
    ({"format": "nncore", "config": "{not json"}, "config' is not valid JSON"),
    ({"format": "nncore", "config": "[]"}, "config must be a JSON object"),
    ({"format": "nncore", "config": '{"layers": []}'}, "no 'layers'"),
    ({"format": "nncore", "config": '{"layers": [{"type": "Linear"}]}'}, "positive integer"),
    ({"format": "nncore", "config": '{"layers": [1]}'}, "must be an object"),
    ({"format": "nncore", "config": json.dumps(dict(CONFIG, dtype="int8"))}, "dtype must be"),
    ({"format": "nncore", "config": json.dumps({"layers": [{"type": "ReLU"}] * 100001})},
     "limit"),
])
def test_bad_metadata(tmp_path, meta, match):
    header, data = _valid_header()
    header["__metadata__"] = meta
    _expect(_raw(tmp_path / "m", header, data), match)


def test_shapes_disagree_with_architecture(tmp_path):
    cfg = json.loads(json.dumps(CONFIG))
    cfg["layers"][0]["out_features"] = 3
    cfg["layers"][2]["in_features"] = 3
    header, data = _valid_header(cfg)
    _expect(_raw(tmp_path / "a", header, data), r"'0.weight' has shape \[2, 3\] but the "
                                                 r"architecture needs \[3, 3\]")
    cfg = json.loads(json.dumps(CONFIG))
    cfg["layers"][2]["bias"] = True
    header, data = _valid_header(cfg)
    _expect(_raw(tmp_path / "b", header, data), "missing tensor.*2.bias")
    cfg = json.loads(json.dumps(CONFIG))
    cfg["layers"][0]["bias"] = False
    header, data = _valid_header(cfg)
    _expect(_raw(tmp_path / "c", header, data), "not parameters of the architecture")
    cfg = dict(CONFIG, dtype="float64")
    header, data = _valid_header(cfg)
    _expect(_raw(tmp_path / "d", header, data), "is F32 but the model dtype is F64")


# ------------------------------------------------------------- model round trips

def _every_layer_model(dtype):
    return nn.Sequential(
        nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 8), nn.LeakyReLU(0.2),
        nn.Linear(8, 8, bias=False), nn.ELU(0.7), nn.Linear(8, 8), nn.GELU(),
        nn.Linear(8, 8), nn.GELU(approximate="tanh"), nn.Linear(8, 8), nn.SiLU(),
        nn.Linear(8, 8), nn.Softplus(), nn.Dropout(0.3), nn.Linear(8, 8), nn.Sigmoid(),
        nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 4), nn.LogSoftmax(),
        dtype=dtype, seed=7)


def test_model_round_trip_every_layer_bit_identical(tmp_path, dtype):
    model = _every_layer_model(dtype)
    rng = np.random.default_rng(0)
    for p in model.parameters():  # non-trivial values everywhere, including biases
        p.data[...] = rng.standard_normal(p.data.shape)
    x = rng.standard_normal((9, 5)).astype(dtype)
    path = tmp_path / "every.safetensors"
    nio.save(model, path)
    back = nio.load(path)
    assert type(back) is type(model)
    assert back.get_config() == model.get_config()
    assert np.dtype(back.dtype) == np.dtype(dtype)
    assert [n for n, _ in back.named_parameters()] == [n for n, _ in model.named_parameters()]
    assert back.flat_params.tobytes() == model.flat_params.tobytes()
    assert model.forward(x).tobytes() == back.forward(x).tobytes()
    meta = nio.load_metadata(path)
    assert meta["format"] == "nncore" and meta["config"] == json.loads(json.dumps(
        model.get_config()))
    # softmax head too
    m2 = nn.Sequential(nn.Linear(3, 4), nn.Softmax(), dtype=dtype)
    nio.save(m2, path)
    x2 = x[:, :3]
    assert nio.load(path).forward(x2).tobytes() == m2.forward(x2).tobytes()


def test_model_file_readable_by_safetensors(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    nio.save(model, tmp_path / "m.safetensors")
    t = st.load_file(str(tmp_path / "m.safetensors"))
    for name, p in model.named_parameters():
        assert np.array_equal(t[name], p.data)


def test_random_byte_flips_never_crash(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    path = tmp_path / "m.safetensors"
    nio.save(model, path)
    good = path.read_bytes()
    rng = np.random.default_rng(0)
    bad = tmp_path / "bad.safetensors"
    for _ in range(300):
        b = bytearray(good)
        for i in rng.integers(0, len(b), size=rng.integers(1, 4)):
            b[i] = int(rng.integers(0, 256))
        bad.write_bytes(bytes(b))
        try:
            m = nio.load(bad)
        except ValueError:
            continue
        assert m.num_parameters == model.num_parameters  # a flip in the data: still a model


def test_save_metadata_and_reserved_keys(tmp_path):
    model = nn.Sequential(nn.Linear(2, 2))
    nio.save(model, tmp_path / "m.safetensors", metadata={"note": "hi"})
    assert nio.load_metadata(tmp_path / "m.safetensors")["note"] == "hi"
    with pytest.raises(ValueError, match="reserved"):
        nio.save(model, tmp_path / "m.safetensors", metadata={"config": "x"})


def test_model_save_method_and_io_save_write_the_same_file(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), seed=2)
    model.save(tmp_path / "a.safetensors", {"note": "hi"})
    nio.save(model, tmp_path / "b.safetensors", metadata={"note": "hi"})
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    back = nio.load(tmp_path / "a.safetensors")
    assert np.array_equal(back.flat_params, model.flat_params)
    with pytest.raises(ValueError, match="reserved"):
        model.save(tmp_path / "c.safetensors", {"format": "x"})
    with pytest.raises(TypeError, match="Sequential"):
        nio.save({"not": "a model"}, tmp_path / "d.safetensors")


# ------------------------------------------------------------- checkpoints

def test_checkpoint_codec_round_trip():
    state = {"state": {0: {"step": 3, "exp_avg": np.arange(3.0)}, 1: {}},
             "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                               "max_norm": None, "amsgrad": False, "x": float("inf")}],
             "__weird": np.array([1, 2], dtype=np.int64)}
    tensors = {}
    enc = nio._encode(state, tensors, "optim.")
    back = nio._decode(json.loads(json.dumps(enc)), tensors, "test")
    assert back["param_groups"][0]["betas"] == (0.9, 0.999)
    assert back["param_groups"][0]["x"] == math.inf
    assert np.array_equal(back["state"][0]["exp_avg"], np.arange(3.0))
    assert back["state"][1] == {} and np.array_equal(back["__weird"], [1, 2])


def test_checkpoint_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Dropout(0.2), nn.Linear(6, 3),
                          dtype=np.float64, seed=3)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 4)), rng.integers(0, 3, 16)
    for _ in range(3):
        model.train_step(x, y, "cross_entropy", opt)
    rng_state = np.random.default_rng(5).bit_generator.state
    path = tmp_path / "ck.safetensors"
    nio.save_checkpoint(path, model, opt, epoch=3, extra={"rng": rng_state, "best": 0.5})

    model2 = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Dropout(0.2), nn.Linear(6, 3),
                           dtype=np.float64, seed=3)
    opt2 = optim.Adam(model2.parameters(), lr=1e-2)
    info = nio.load_checkpoint(path, model2, opt2)
    assert info["epoch"] == 3 and info["extra"]["best"] == 0.5
    assert info["extra"]["rng"] == rng_state
    assert info["dropout_step"] == model.dropout_step == model2.dropout_step
    assert model2.flat_params.tobytes() == model.flat_params.tobytes()
    # the next steps are bit-identical: optimizer state and dropout counter restored
    for _ in range(2):
        a = model.train_step(x, y, "cross_entropy", opt)
        b = model2.train_step(x, y, "cross_entropy", opt2)
        assert a == b
    assert model2.flat_params.tobytes() == model.flat_params.tobytes()

    other = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3), dtype=np.float64)
    with pytest.raises(ValueError, match="architecture differs"):
        nio.load_checkpoint(path, other, None)
    with pytest.raises(ValueError, match="optimizer state is for Adam"):
        nio.load_checkpoint(path, model2, optim.SGD(model2.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="not an nncore checkpoint"):
        nio.save(model, tmp_path / "model.safetensors")
        nio.load_checkpoint(tmp_path / "model.safetensors", model2, opt2)
    with pytest.raises(ValueError, match="not an nncore model file"):
        nio.load(path)


# ----------------------------------------------- readers' limits, the fuzz seed corpus

def test_small_file_cannot_ask_for_gigabytes_of_workspace_per_row(tmp_path):
    # Review of the readers: 20,000 activation layers after a 4096-wide Linear is a
    # ~400 kB file whose forward pass needed 82 M values (328 MB) per batch row
    # (a predict batch of 1024 rows: 335 GB). Both readers refuse it (the C reader:
    # test_c_embedding.py).
    p = deep_model_file(tmp_path, 20_000)
    assert p.stat().st_size < 1 << 20
    with pytest.raises(ValueError, match="workspace values per input row"):
        nio.load(p)
    # a deep but reasonable model still loads and runs
    m = nio.load(deep_model_file(tmp_path, 100))
    assert m.predict(np.ones((2, 1), np.float32)).shape == (2, 1)


# Files of tests/fuzz/corpus_model/ (written by tests/fuzz/make_corpus.py) that are valid
# models; every other file there is hostile and must be refused with a ValueError.
ACCEPTED_MODEL_FILES = {
    "valid_mlp_f32", "valid_mlp_f64", "valid_every_act", "valid_single",
    "mlp_f32_arch_many_acts", "mlp_f64_arch_many_acts",   # + 500 ReLU layers: still valid
}
MODEL_CORPUS = corpus_files("corpus_model")


@pytest.fixture(scope="module")
def corpus_originals():
    return corpus_models()


def test_model_corpus_lists_every_accepted_file():
    stems = {n.removesuffix(".safetensors") for n, _ in MODEL_CORPUS}
    assert ACCEPTED_MODEL_FILES <= stems and len(stems - ACCEPTED_MODEL_FILES) >= 50


@pytest.mark.parametrize("name,path", MODEL_CORPUS, ids=[n for n, _ in MODEL_CORPUS])
def test_model_corpus_file(name, path, corpus_originals):
    stem = name.removesuffix(".safetensors")
    if stem not in ACCEPTED_MODEL_FILES:
        with pytest.raises(ValueError):
            nio.load(path)
        return
    m = nio.load(path)
    # oracle: the model make_corpus.py saved, rebuilt from its seed
    base = stem.removeprefix("valid_").removesuffix("_arch_many_acts")
    orig = corpus_originals[base]
    assert m.flat_params.tobytes() == orig.flat_params.tobytes()
    x = np.linspace(-2, 2, 5 * orig.in_features).reshape(5, -1).astype(orig.dtype)
    want = orig.predict(x)
    if stem.endswith("_arch_many_acts"):
        want = np.maximum(want, 0)
    assert m.predict(x).tobytes() == want.tobytes()


def test_checkpoint_state_nested_deeply_is_a_value_error(tmp_path):
    # JSON nested 600 deep parses, but decoding it recursed past Python's limit:
    # RecursionError instead of the promised ValueError
    model = nn.Sequential(nn.Linear(3, 2))
    path = tmp_path / "deep.ckpt"
    nio.save_checkpoint(path, model, None, epoch=1)
    tensors, meta = nio.load_tensors(path)
    for key in ("extra", "optimizer"):
        m = dict(meta)
        m[key] = "[" * 600 + "]" * 600
        nio.save_tensors(path, tensors, m)
        with pytest.raises(ValueError, match="nested too deeply"):
            nio.load_checkpoint(path, model)
