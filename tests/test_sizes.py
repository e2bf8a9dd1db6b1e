"""Huge sizes: 64-bit size arithmetic and MemoryError (never a wrap-around, never an
OOM kill). Sizes are far beyond the machine (terabytes), and nothing that large is
ever allocated: zero-stride views and sparse memory maps stand in for big arrays.
"""
import mmap
import os

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import nncore.nn as nn
from nncore import ops

pytestmark = pytest.mark.kernel


def test_huge_linear_is_memory_error_with_bytes():
    with pytest.raises(MemoryError) as e:
        nn.Sequential(nn.Linear(10 ** 6, 10 ** 6))
    # params + grads: 2 * (10**12 + 10**6) float32 values
    assert str(2 * (10 ** 12 + 10 ** 6) * 4) in str(e.value)
    assert "TiB" in str(e.value)


def test_parameter_count_overflowing_int64_is_memory_error():
    # 2**62 * 2**2 elements: the byte count overflows 64 bits -> refused, not wrapped
    with pytest.raises(MemoryError, match="bytes"):
        nn.Sequential(nn.Linear(2 ** 32, 2 ** 32), dtype="float64")
    with pytest.raises(MemoryError, match="bytes"):
        nn.Sequential(nn.Linear(2 ** 62, 4))


def test_batch_whose_workspace_cannot_fit_is_memory_error():
    m = nn.Sequential(nn.Linear(1, 2 ** 22), nn.ReLU(), nn.Linear(2 ** 22, 1), seed=0)
    x = np.ones((10 ** 6, 1), np.float32)            # 4 MB in, ~60 TiB of workspace
    with pytest.raises(MemoryError, match=r"batch of 1000000 rows: about \d+ bytes"):
        m(x)
    with pytest.raises(MemoryError, match="workspace"):
        m.forward(x, training=True)
    # still usable afterwards, with a batch that fits
    out = m(np.ones((2, 1), np.float32))
    assert out.shape == (2, 1) and np.isfinite(out).all()


def test_zero_stride_huge_logical_input_is_not_wrapped():
    # a (2**33, 4) view of 4 floats: 2**35 logical elements (> 2**32)
    m = nn.Sequential(nn.Linear(4, 2), seed=0)
    base = np.arange(4, dtype=np.float32)
    x = as_strided(base, shape=(2 ** 33, 4), strides=(0, 4))
    with pytest.raises(MemoryError):
        m(x)   # the output alone is 2**33 x 2 floats = 64 GiB: refused, not truncated
    # a batch size that wraps to 1 in 32 bits: (2**32 + 1) rows
    x = as_strided(base, shape=(2 ** 32 + 1, 4), strides=(0, 4))
    with pytest.raises(MemoryError):
        m(x)


def test_gemm_huge_shape_clear_error():
    a = as_strided(np.ones(1, np.float32), shape=(2 ** 32 + 1, 2), strides=(0, 4))
    b = np.ones((2, 3), np.float32)
    with pytest.raises(MemoryError):
        ops.matmul(a, b)       # output (2**32 + 1, 3): 48 GiB


@pytest.fixture
def sparse_map(tmp_path):
    """A 64 GiB shared map of a sparse file (only touched pages use memory)."""
    n = 64 << 30
    path = tmp_path / "sparse.bin"
    try:
        with open(path, "wb") as f:
            f.truncate(n)
        fd = os.open(path, os.O_RDWR)
        mm = mmap.mmap(fd, n, flags=mmap.MAP_SHARED)
    except (OSError, ValueError, OverflowError) as e:
        pytest.skip(f"no sparse 64 GiB mapping here: {e}")
    yield np.frombuffer(mm, dtype=np.uint8)
    os.close(fd)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_offsets_beyond_32_bits(sparse_map, dtype):
    """Rows of A and B 2**31 + 16 elements apart: element offsets pass 2**32 (and, for
    float64, byte offsets pass 2**34): the result must equal NumPy's on small copies."""
    es = np.dtype(dtype).itemsize
    stride = (2 ** 31 + 16) * es
    rows = (len(sparse_map) - 64) // stride
    assert rows >= 3
    buf = sparse_map[: rows * stride].view(dtype)
    rng = np.random.default_rng(0)
    a = as_strided(buf, shape=(3, 2), strides=(stride, es))
    b = as_strided(buf[5:], shape=(2, 3), strides=(stride, es))
    av = rng.standard_normal((3, 2)).astype(dtype)
    bv = rng.standard_normal((2, 3)).astype(dtype)
    a[...] = av
    b[...] = bv
    got = ops.matmul(a, b)
    want = av.astype(np.float64) @ bv.astype(np.float64)
    assert np.allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_net_row_stride_beyond_32_bits(sparse_map):
    """Model inputs with a row stride of 2**31 + 16 floats (read in place)."""
    stride = (2 ** 31 + 16) * 4
    rows = (len(sparse_map) - 64) // stride
    buf = sparse_map[: rows * stride].view(np.float32)
    x = as_strided(buf, shape=(rows, 3), strides=(stride, 4))
    x[...] = np.arange(rows * 3, dtype=np.float32).reshape(rows, 3) / 7
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), seed=1)
    assert np.array_equal(m(x), m(np.ascontiguousarray(x)))


_PEAK_RSS = r"""
import resource, sys
import numpy as np
import nncore.nn as nn
m = nn.Sequential(nn.Linear(1 << 22, 1), seed=0)      # 16 MB of weights
x = np.ones((2, 1 << 22), np.float32)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
m(x); m.predict(x)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_narrow_layer_inference_keeps_no_padded_copy_of_its_weights():
    # inference packs W^T once, padded to the register tile: for a 1-output layer that
    # was 16x its weights (256 MB for Linear(4M, 1)); such a layer is not packed now.
    # Peak RSS over the calls, in a fresh process (KiB on Linux)
    import subprocess
    import sys
    if not sys.platform.startswith("linux"):
        pytest.skip("ru_maxrss in KiB is Linux's")
    r = subprocess.run([sys.executable, "-c", _PEAK_RSS], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) < 64 * 1024, f"peak RSS grew by {int(r.stdout)} KiB"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("compute", ["float32", "bfloat16"])
def test_narrow_layers_unpacked_give_the_bits_of_the_training_forward(dtype, compute):
    if dtype == "float64" and compute == "bfloat16":
        pytest.skip("bf16 compute is for float32 models")
    m = nn.Sequential(nn.Linear(37, 20), nn.Tanh(), nn.Linear(20, 3), nn.Tanh(),
                      nn.Linear(3, 1), dtype=dtype, seed=4)
    m.compute_dtype = compute
    x = np.random.default_rng(1).standard_normal((50, 37)).astype(dtype)
    got = m(x)                                          # inference: packed or not
    want = m.forward(x, training=True)                  # training: never packed
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(m.predict(x[7:8]), want[7:8])
