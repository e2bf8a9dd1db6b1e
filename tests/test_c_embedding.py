"""Embedding from C: build examples/c (libnncore from csrc/ alone, no Python) with the
system compiler; its predictions must equal Python's, and the C model reader must
reject every hostile file with an error code (never crash).

Skipped when no C compiler or make is available, or the source tree is absent
(e.g. testing an installed wheel without the repository).
"""
import json
import os
import shutil
import struct
import subprocess

import numpy as np
import pytest

import nncore.nn as nn
from nncore import config
from nncore import datasets as ds
from nncore import io as nio

from _model_files import deep_model_file

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSRC = os.path.join(ROOT, "csrc")
EXAMPLE = os.path.join(ROOT, "examples", "c")
CC = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


def _openmp(tmp):
    src = os.path.join(tmp, "omp.c")
    with open(src, "w") as f:
        f.write("int main(void){return 0;}\n")
    r = subprocess.run([CC, "-fopenmp", src, "-o", os.path.join(tmp, "omp")],
                       capture_output=True)
    return r.returncode == 0


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if CC is None or shutil.which("make") is None:
        pytest.skip("no C compiler or make")
    if not (os.path.isdir(CSRC) and os.path.isdir(EXAMPLE)):
        pytest.skip("source tree (csrc/, examples/c/) not available")
    tmp = str(tmp_path_factory.mktemp("cbuild"))
    shutil.copytree(CSRC, os.path.join(tmp, "csrc"),
                    ignore=shutil.ignore_patterns("*.o", "*.a", "*.so"))
    shutil.copytree(EXAMPLE, os.path.join(tmp, "c"), ignore=shutil.ignore_patterns("classify"))
    omp = _openmp(tmp)
    env = dict(os.environ, CC=CC)
    r = subprocess.run(["make", "-j2", "-C", os.path.join(tmp, "c"), "CSRC=../csrc",
                        f"OPENMP={int(omp)}"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    drivers = {}
    for name in ("load_check", "train_forward"):
        drivers[name] = os.path.join(tmp, name)
        cmd = [CC, "-O1", "-I", os.path.join(tmp, "csrc"),
               os.path.join(ROOT, "tests", "c", name + ".c"),
               os.path.join(tmp, "csrc", "libnncore.a"), "-lm", "-o", drivers[name]]
        if omp:
            cmd.insert(1, "-fopenmp")
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-4000:]
    return {"classify": os.path.join(tmp, "c", "classify"), **drivers, "dir": tmp}


def _classify(built, model_path, csv_path):
    return subprocess.run([built["classify"], str(model_path), str(csv_path)],
                          capture_output=True, text=True)


def _statuses(built, paths):
    r = subprocess.run([built["load_check"], *map(str, paths)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return [int(line.split()[0]) for line in r.stdout.splitlines()]


def _digits_csv(tmp_path, n=300):
    X, y = ds.load_digits()
    path = tmp_path / "digits.csv"
    with open(path, "w") as f:
        f.write(",".join(f"p{i}" for i in range(64)) + ",label\n")
        for xi, yi in zip(X[:n], y[:n]):
            f.write(",".join(f"{v:g}" for v in xi) + f",{yi}\n")
    return path, X[:n]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_classify_matches_python(built, tmp_path, dtype):
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 16),
                          nn.GELU(approximate="tanh"), nn.Linear(16, 10), nn.LogSoftmax(),
                          dtype=dtype, seed=3)
    path = tmp_path / "m.safetensors"
    model.save(path)
    csv_path, X = _digits_csv(tmp_path)
    r = _classify(built, path, csv_path)
    assert r.returncode == 0, r.stderr
    got = np.array([int(s) for s in r.stdout.split()])
    # the file round trip is exact, so Python's loaded model and C agree on every row
    want = nio.load(path).forward(X.astype(dtype)).argmax(axis=1)
    assert got.shape == (300,) and np.array_equal(got, want)
    assert np.array_equal(got, model.predict(X.astype(dtype)).argmax(axis=1))


def test_classify_one_output_exact_values(built, tmp_path):
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), seed=1)
    path = tmp_path / "r.safetensors"
    nio.save(model, path)
    X, _ = ds.make_circles(n_samples=600, seed=0)  # > 256 rows: two forward chunks
    csv = tmp_path / "c.csv"
    np.savetxt(csv, X.astype(np.float64), delimiter=",", fmt="%.9g")  # exact for float32
    r = _classify(built, path, csv)
    assert r.returncode == 0, r.stderr
    got = np.array([np.float32(float(s)) for s in r.stdout.split()])
    want = model.forward(X)[:, 0]
    assert got.tobytes() == want.tobytes()


def test_classify_one_output_float64_exact_values(built, tmp_path):
    """classify prints a one-output model's raw value: for a float64 model too, the
    printed text reads back as the model's output bit for bit."""
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), dtype="float64", seed=1)
    path = tmp_path / "r64.safetensors"
    nio.save(model, path)
    X = np.random.default_rng(0).normal(0, 1, (50, 2))
    csv = tmp_path / "c.csv"
    np.savetxt(csv, X, delimiter=",", fmt="%.17g")  # exact for float64
    r = _classify(built, path, csv)
    assert r.returncode == 0, r.stderr
    got = np.array([float(s) for s in r.stdout.split()])
    assert got.tobytes() == model.forward(X)[:, 0].tobytes()


def test_classify_ignores_a_text_label_column(built, tmp_path):
    """An extra last column (a label) is ignored whatever it holds, e.g. a class name."""
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1), seed=0)
    path = tmp_path / "m.safetensors"
    nio.save(model, path)
    X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    csv = tmp_path / "iris.csv"
    csv.write_text("a,b,c,species\n0.5,-1,2,setosa\n1.5,0.25,-0.75,virginica\n")
    r = _classify(built, path, csv)
    assert r.returncode == 0, r.stderr
    got = np.array([np.float32(float(s)) for s in r.stdout.split()])
    assert got.tobytes() == model.forward(X.astype(np.float32))[:, 0].tobytes()
    # a non-number among the inputs, or two extra columns, are still refused
    for bad in ("0.5,x,2,setosa\n", "0.5,-1,2,3,setosa\n", "0.5,-1\n"):
        csv.write_text("0.5,-1,2,setosa\n" + bad)
        r = _classify(built, path, csv)
        assert r.returncode == 65 and "line 2" in r.stderr, r.stderr


@pytest.mark.parametrize("act", [
    nn.LeakyReLU(0.3), nn.ELU(0.5), nn.GELU(), nn.GELU(approximate="tanh"), nn.SiLU(),
    nn.Softplus(), nn.Sigmoid(), nn.ReLU(), nn.Softmax(), nn.LogSoftmax(), nn.Identity(),
], ids=repr)
def test_c_reader_honours_every_layer_and_parameter(built, tmp_path, act):
    """Every layer type read by the C loader, with non-default parameters: the C
    program's one-output values equal Python's forward bit for bit."""
    model = nn.Sequential(nn.Linear(2, 6), act, nn.Dropout(0.3), nn.Linear(6, 1), seed=2)
    path = tmp_path / "a.safetensors"
    nio.save(model, path)
    X = np.random.default_rng(0).normal(0, 2, (40, 2)).astype(np.float32)
    csv = tmp_path / "x.csv"
    np.savetxt(csv, X.astype(np.float64), delimiter=",", fmt="%.9g")
    r = _classify(built, path, csv)
    assert r.returncode == 0, r.stderr
    got = np.array([np.float32(float(s)) for s in r.stdout.split()])
    assert got.tobytes() == model.forward(X)[:, 0].tobytes()


def test_c_reader_restores_compute_dtype(built, tmp_path):
    """A model saved in bf16 compute mode loads in C with NN_COMPUTE_BF16 (and the C
    API refuses bf16 for float64 nets: see nn_net_set_compute)."""
    from nncore import _registry
    paths = []
    for compute in ("float32", "bfloat16"):
        m = nn.Sequential(nn.Linear(5, 3), compute_dtype=compute)
        paths.append(tmp_path / f"{compute}.safetensors")
        m.save(paths[-1])
    r = subprocess.run([built["load_check"], *map(str, paths)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    modes = [int(line.split()[4]) for line in r.stdout.splitlines()]
    assert modes == [_registry.COMPUTE["float32"], _registry.COMPUTE["bfloat16"]]


@pytest.mark.parametrize("seed", [5, 2 ** 32 + 5, 2 ** 63 + 5, 2 ** 64 - 1])
def test_c_reader_takes_every_seed_python_saves(built, tmp_path, seed):
    """Sequential takes seeds in [0, 2**64); a model saved with one at or past 2**63 is
    a valid file, and the C network trains with its seed: the dropout masks of a training
    forward (keyed by the seed's two 32-bit halves) are Python's, bit for bit."""
    model = nn.Sequential(nn.Linear(3, 64), nn.Dropout(0.5), nn.Linear(64, 2), seed=seed)
    path = tmp_path / "s.safetensors"
    model.save(path)
    r = subprocess.run([built["train_forward"], str(path), "4"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    got = np.array([float(s) for s in r.stdout.split()], dtype=np.float32).reshape(4, 2)
    x = ((np.arange(12) % 7 - 3) / 4.0).astype(np.float32).reshape(4, 3)
    want = nio.load(path).forward(x, training=True)
    assert got.tobytes() == want.tobytes()


def _readme_c_snippet():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = text[text.index("## Embedding from C"):]
    return section[section.index("```c") + 4:section.index("```", section.index("```c") + 4)]


def test_readme_c_snippet_predicts_like_python(built, tmp_path):
    """The README's "Embedding from C" snippet, as a program: it builds, and its
    outputs are model.predict's bit for bit (the same kernel family as Python's)."""
    model = nn.Sequential(nn.Linear(300, 64), nn.GELU(), nn.Linear(64, 5), seed=4)
    model.save(tmp_path / "model.safetensors")
    src = tmp_path / "snippet.c"
    src.write_text(
        "#include <stdio.h>\n#include \"nncore.h\"\n"
        "static float x[4 * 300], out[4 * 5];\n"
        "int main(void) {\n  const int64_t batch = 4;\n"
        "  for (int i = 0; i < 4 * 300; i++) x[i] = (float)(i % 13) / 8.0f - 0.75f;\n"
        + _readme_c_snippet() +
        "  if (st != NN_OK) return 1;\n"
        "  for (int64_t i = 0; i < batch * n_out; i++) printf(\"%.9g\\n\", out[i]);\n"
        "  return 0;\n}\n")
    exe = str(tmp_path / "snippet")
    cmd = [CC, "-O1", "-I", os.path.join(built["dir"], "csrc"), str(src),
           os.path.join(built["dir"], "csrc", "libnncore.a"), "-lm", "-lpthread", "-o", exe]
    if _openmp(str(tmp_path)):
        cmd.insert(1, "-fopenmp")
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-4000:]
    r = subprocess.run([exe], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    got = np.array([float(s) for s in r.stdout.split()], dtype=np.float32)
    X = ((np.arange(4 * 300) % 13) / 8.0 - 0.75).astype(np.float32).reshape(4, 300)
    was = config.get_arch()
    config.set_arch("auto")   # what a program gets that picks no family by name
    try:
        want = model.predict(X)
    finally:
        config.set_arch(was)
    assert got.tobytes() == want.ravel().tobytes()


def test_amx_kernel_layouts_emulated(built, tmp_path):
    """The amx bf16 micro-kernel and the driver's AMX packing, with the tile
    instructions emulated in C (tests/c/amx_emulate.c): runs on CPUs without AMX."""
    import platform
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("the amx kernel is x86-64 only")
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    if "avx512f" not in flags:
        pytest.skip("amx.c's functions are compiled for AVX-512F")
    exe = str(tmp_path / "amx_emulate")
    cmd = [CC, "-O1", "-I", os.path.join(built["dir"], "csrc"),
           os.path.join(ROOT, "tests", "c", "amx_emulate.c"),
           os.path.join(built["dir"], "csrc", "libnncore.a"), "-lm", "-lpthread", "-o", exe]
    if _openmp(str(tmp_path)):
        cmd.insert(1, "-fopenmp")
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-4000:]
    r = subprocess.run([exe], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stdout + r.stderr


def test_a_thread_that_exits_frees_its_gemm_buffers(built, tmp_path):
    """A C program that runs nncore in a thread per request: each thread's GEMM packing
    buffers (~0.6 MB here) are freed when it exits (tests/c/thread_exit.c: 64 threads,
    the heap in use after the first and after the last). They were lost with the
    thread: 63 more threads left 41.5 MB behind. Needs pthreads (an OpenMP build) and
    glibc's mallinfo2."""
    if not _openmp(str(tmp_path)):
        pytest.skip("the buffers are freed at thread exit in OpenMP (pthread) builds")
    exe = str(tmp_path / "thread_exit")
    cmd = [CC, "-O1", "-fopenmp", "-I", os.path.join(built["dir"], "csrc"),
           os.path.join(ROOT, "tests", "c", "thread_exit.c"),
           os.path.join(built["dir"], "csrc", "libnncore.a"), "-lm", "-lpthread", "-o", exe]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0 and "mallinfo2" in r.stderr:
        pytest.skip("no mallinfo2 (glibc >= 2.33) to read the heap with")
    assert r.returncode == 0, r.stderr[-4000:]
    r = subprocess.run([exe], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    first, last = map(int, r.stdout.split())
    assert last - first < 1 << 20, f"heap grew by {last - first} bytes over 63 threads"


def test_classify_errors(built, tmp_path):
    model = nn.Sequential(nn.Linear(3, 2))
    path = tmp_path / "m.safetensors"
    nio.save(model, path)
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("1,2,3\n1,2\n")
    r = _classify(built, path, bad_csv)
    assert r.returncode == 65 and "line 2" in r.stderr
    r = _classify(built, tmp_path / "missing.safetensors", bad_csv)
    assert r.returncode == 3 and "i/o error" in r.stderr
    (tmp_path / "junk.safetensors").write_bytes(b"\x10" + b"\0" * 7 + b"{}" + b" " * 14)
    r = _classify(built, tmp_path / "junk.safetensors", bad_csv)
    assert r.returncode == 4 and "malformed model file" in r.stderr
    r = subprocess.run([built["classify"]], capture_output=True, text=True)
    assert r.returncode == 64 and "usage" in r.stderr


# ------------------------------------------------------------- hostile files

def _split(raw):
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def _join(header, data, n=None):
    hb = json.dumps(header).encode()
    hb += b" " * (-(8 + len(hb)) % 8)
    return struct.pack("<Q", len(hb) if n is None else n) + hb + data


def _hostile_variants(raw):
    """(name, bytes) of broken versions of a valid model file."""
    header, data = _split(raw)
    out = []

    def mutate(name, fn, new_data=None):
        h = json.loads(json.dumps(header))
        fn(h)
        out.append((name, _join(h, data if new_data is None else new_data)))

    def cfg(fn):
        def change(h):
            c = json.loads(h["__metadata__"]["config"])
            fn(c)
            h["__metadata__"]["config"] = json.dumps(c)
        return change

    out.append(("empty", b""))
    out.append(("short", raw[:5]))
    out.append(("len-past-end", struct.pack("<Q", len(raw)) + raw[8:]))
    out.append(("len-huge", struct.pack("<Q", 2 ** 64 - 1) + raw[8:]))
    out.append(("len-zero", struct.pack("<Q", 0) + raw[8:]))
    (n,) = struct.unpack("<Q", raw[:8])
    out.append(("non-utf8", raw[:8] + b"\xff" + raw[9:]))
    out.append(("non-json", raw[:8] + b"[" + raw[9:]))
    out.append(("deep-json", _join_raw(b"[" * 10000 + b"]" * 10000)))
    out.append(("dup-key", _join_raw(b'{"__metadata__": {}, "__metadata__": {}}')))
    out.append(("appended", raw + b"\0" * 8))
    out.append(("truncated-data", raw[:-4]))
    mutate("unknown-dtype", lambda h: h["0.weight"].update(dtype="Q7"))
    mutate("f16-dtype", lambda h: h["0.bias"].update(dtype="F16"))
    mutate("shape-vs-bytes", lambda h: h["0.bias"].update(shape=[h["0.bias"]["shape"][0] + 1]))
    mutate("offsets-past-end", lambda h: h["2.bias"].update(
        data_offsets=[h["2.bias"]["data_offsets"][0], len(data) + 4]))
    mutate("offsets-overlap", lambda h: h["0.bias"].update(
        data_offsets=[h["0.bias"]["data_offsets"][0] - 4, h["0.bias"]["data_offsets"][1] - 4]))
    mutate("offsets-reversed", lambda h: h["0.bias"].update(
        data_offsets=h["0.bias"]["data_offsets"][::-1]))
    mutate("offsets-negative", lambda h: h["0.weight"].update(data_offsets=[-8, 0]))
    mutate("offsets-float", lambda h: h["0.weight"].update(
        data_offsets=[float(o) + 0.5 for o in h["0.weight"]["data_offsets"]]))
    mutate("huge-shape", lambda h: h["0.weight"].update(
        shape=[2 ** 40, 2 ** 40], data_offsets=[0, 2 ** 62]))
    mutate("shape-overflow", lambda h: h["0.weight"].update(shape=[2 ** 62, 2 ** 62, 16]))
    mutate("missing-tensor", lambda h: h.pop("2.bias"))
    mutate("extra-tensor", lambda h: h.update({"9.weight": h["2.bias"]}))
    mutate("no-metadata", lambda h: h.pop("__metadata__"))
    mutate("wrong-format", lambda h: h["__metadata__"].update(format="pt"))
    mutate("meta-not-str", lambda h: h["__metadata__"].update(extra=1))
    mutate("config-not-json", lambda h: h["__metadata__"].update(config="{oops"))
    mutate("arch-width", cfg(lambda c: c["layers"][0].update(out_features=5)))
    mutate("arch-huge", cfg(lambda c: c["layers"][0].update(in_features=2 ** 40,
                                                            out_features=2 ** 40)))
    mutate("arch-no-bias", cfg(lambda c: c["layers"][2].update(bias=False)))
    mutate("arch-unknown-layer", cfg(lambda c: c["layers"][1].update(type="Mystery")))
    mutate("arch-dtype", cfg(lambda c: c.update(dtype="float64")))
    mutate("arch-empty", cfg(lambda c: c.update(layers=[])))
    return out


def _join_raw(hb):
    hb += b" " * (-(8 + len(hb)) % 8)
    return struct.pack("<Q", len(hb)) + hb


def test_c_reader_rejects_hostile_files(built, tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), seed=0)
    good = tmp_path / "good.safetensors"
    nio.save(model, good)
    raw = good.read_bytes()
    paths, names = [good], ["good"]
    for name, blob in _hostile_variants(raw):
        p = tmp_path / f"{name}.safetensors"
        p.write_bytes(blob)
        paths.append(p)
        names.append(name)
        with pytest.raises(ValueError):   # Python agrees the file is bad
            nio.load(p)
    st = _statuses(built, paths + [tmp_path / "does-not-exist"])
    assert st[0] == 0
    got = dict(zip(names, st[1:-1]))
    assert all(s == -4 for s in got.values()), got   # NN_ERR_FORMAT
    assert st[-1] == -3                                # NN_ERR_IO


def test_c_reader_refuses_fifo_devices_and_directories(built, tmp_path):
    """fopen on a FIFO waits forever for a writer: the reader must not."""
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    paths = [fifo, tmp_path] + (["/dev/zero"] if os.path.exists("/dev/zero") else [])
    r = subprocess.run([built["load_check"], *map(str, paths)], capture_output=True,
                       text=True, timeout=20)
    assert [int(s) for s in r.stdout.split()] == [-3] * len(paths)  # NN_ERR_IO


def test_c_reader_truncated_at_every_length(built, tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    good = tmp_path / "good.safetensors"
    nio.save(model, good)
    raw = good.read_bytes()
    paths = []
    for k in range(len(raw)):
        p = tmp_path / f"cut{k}"
        p.write_bytes(raw[:k])
        paths.append(p)
    assert set(_statuses(built, paths)) == {-4}


def test_c_reader_random_byte_flips(built, tmp_path):
    """Flipped bytes: the C reader either loads (a flip in the weights) or says FORMAT,
    exactly when Python's reader does."""
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    good = tmp_path / "good.safetensors"
    nio.save(model, good)
    raw = good.read_bytes()
    rng = np.random.default_rng(0)
    paths, py_ok = [], []
    for i in range(200):
        b = bytearray(raw)
        for j in rng.integers(0, len(b), size=rng.integers(1, 3)):
            b[j] = int(rng.integers(0, 256))
        p = tmp_path / f"flip{i}"
        p.write_bytes(bytes(b))
        paths.append(p)
        try:
            nio.load(p)
            py_ok.append(True)
        except ValueError:
            py_ok.append(False)
    st = _statuses(built, paths)
    assert all(s in (0, -4) for s in st)
    # both readers accept the flips that only touch weights or padding
    assert [s == 0 for s in st] == py_ok


def test_c_reader_refuses_the_same_deep_small_file(built, tmp_path):
    # a few hundred kB asking for 82 M workspace values per row (test_io.py has the
    # Python reader's side): refused with NN_ERR_FORMAT; 100 layers load (NN_OK)
    deep = deep_model_file(tmp_path / "a", 20_000)
    ok = deep_model_file(tmp_path / "b", 100)
    assert _statuses(built, [deep, ok]) == [-4, 0]
