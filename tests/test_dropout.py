"""Philox4x32-10 (csrc/rng.c) and dropout (csrc/dropout.c): known answers,
bit-identical masks vs the NumPy reference, statistics, determinism, bad input."""
import math

import numpy as np
import pytest

import nncore.ops as ops
from nncore import _core, config
from nncore.reference import _kernels as ref

pytestmark = pytest.mark.kernel

# Random123 tests/kat_vectors, "philox4x32 10" lines: counter, key -> words
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("ctr,key,expect", KAT)
def test_philox_known_answers(ctr, key, expect):
    assert ops.philox4x32(ctr, key) == expect
    got = ref.philox4x32(np.array([ctr, ctr]), key)
    assert got.dtype == np.uint32
    assert [tuple(int(w) for w in row) for row in got] == [expect, expect]


def test_philox_c_and_reference_agree_on_random_counters():
    rng = np.random.default_rng(0)
    ctrs = rng.integers(0, 2**32, size=(50, 4), dtype=np.uint64)
    key = tuple(int(k) for k in rng.integers(0, 2**32, size=2))
    r = ref.philox4x32(ctrs, key)
    for c, row in zip(ctrs, r):
        assert ops.philox4x32(tuple(int(v) for v in c), key) == tuple(int(w) for w in row)


CASES = [(0, 0, 0, 1), (1, 0, 0, 7), (12345, 3, 1, 1000), (2**40 + 5, 2**33 + 9, 7, 4097),
         (2**64 - 1, 2**64 - 1, 2**32 - 1, 9000)]


@pytest.mark.parametrize("seed,step,layer,n", CASES)
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.875])
def test_masks_and_outputs_equal_reference(seed, step, layer, n, p, dtype, threads, arch):
    x = np.random.default_rng(n).standard_normal(n).astype(dtype)
    y, mask = ops.dropout(x, p, seed, step, layer)
    ry, rmask = ref.dropout(x, p, seed, step, layer)
    assert mask.dtype == bool and y.dtype == dtype
    np.testing.assert_array_equal(mask, rmask)
    np.testing.assert_array_equal(y, ry)
    dy = np.random.default_rng(1).standard_normal(n).astype(dtype)
    np.testing.assert_array_equal(ops.dropout_backward(dy, mask, p),
                                  ref.dropout_backward(dy, rmask, p))


def test_keep_rule_boundary_is_u_greater_or_equal_p(dtype):
    """p equal to an element's u keeps it; p one grid step above drops it."""
    seed, n = 99, 64
    u = ref.dropout_uniform(n, seed)
    j = int(np.argmax((u > 0.2) & (u < 0.8)))
    x = np.ones(n, dtype)
    _, m = ops.dropout(x, float(u[j]), seed)
    assert m[j]
    _, m = ops.dropout(x, float(u[j]) + 2.0**-24, seed)
    assert not m[j]


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9])
def test_statistics_kept_fraction_and_scale(p, dtype):
    n = 200_000
    x = np.random.default_rng(2).uniform(0.5, 2.0, n).astype(dtype)
    y, mask = ops.dropout(x, p, seed=2024, step=11, layer=3)
    frac = mask.mean()
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(frac - (1 - p)) < 5 * sigma, f"kept {frac:.5f}, expected {1 - p} +- {5 * sigma}"
    scale = dtype(1) / (dtype(1) - dtype(p))
    np.testing.assert_array_equal(y[mask], x[mask] * scale)
    assert (y[~mask] == 0).all()
    # the mean is preserved in expectation (inverted dropout)
    assert abs(y.mean() / x.mean() - 1) < 6 * math.sqrt(p / ((1 - p) * n)) * 2
    # kept elements are spread evenly: each quarter of the stream keeps ~ (1 - p)
    for q in np.array_split(mask, 4):
        assert abs(q.mean() - (1 - p)) < 5 * math.sqrt(p * (1 - p) / q.size)


def test_p_zero_keeps_everything(dtype):
    x = np.random.default_rng(3).standard_normal(1000).astype(dtype)
    y, mask = ops.dropout(x, 0.0, seed=5)
    assert mask.all()
    np.testing.assert_array_equal(y, x)


def test_same_key_same_mask_other_key_other_mask():
    x = np.ones(10_000)
    base = ops.dropout(x, 0.5, seed=7, step=1, layer=0)[1]
    np.testing.assert_array_equal(base, ops.dropout(x, 0.5, seed=7, step=1, layer=0)[1])
    for other in [dict(seed=8, step=1, layer=0), dict(seed=7, step=2, layer=0),
                  dict(seed=7, step=1, layer=1), dict(seed=7 + 2**32, step=1, layer=0),
                  dict(seed=7, step=1 + 2**32, layer=0)]:
        m = ops.dropout(x, 0.5, **other)[1]
        agree = (m == base).mean()
        assert 0.45 < agree < 0.55, f"{other}: masks agree on {agree:.3f} (independent: 0.5)"


def test_mask_of_element_depends_only_on_its_index(dtype):
    """A prefix of a longer call gives the same mask (no dependence on n or chunking)."""
    long_mask = ops.dropout(np.ones(20_003, dtype), 0.4, seed=1, step=2, layer=3)[1]
    for n in (1, 3, 4, 5, 4095, 4096, 4097, 12_345):
        np.testing.assert_array_equal(
            ops.dropout(np.ones(n, dtype), 0.4, seed=1, step=2, layer=3)[1], long_mask[:n])


def test_bit_identical_at_1_and_2_threads(dtype, arch):
    x = np.random.default_rng(4).standard_normal((301, 1001)).astype(dtype)
    out = []
    for t in (1, 2):
        with config.num_threads(t):
            y, m = ops.dropout(x, 0.3, seed=10, step=20, layer=30)
            out.append((y, m, ops.dropout_backward(x, m, 0.3)))
    for a, b in zip(out[0], out[1]):
        np.testing.assert_array_equal(a, b)


def test_shapes_inference_and_in_place(dtype, arch):
    x = np.random.default_rng(6).standard_normal((4, 5, 6)).astype(dtype)
    y, m = ops.dropout(x, 0.5, seed=1)
    assert y.shape == m.shape == x.shape
    np.testing.assert_array_equal(m.reshape(-1), ref.dropout_mask(x.size, 0.5, 1, dtype=dtype))
    yi, mi = ops.dropout(x, 0.5, seed=1, training=False)
    assert mi.all()
    np.testing.assert_array_equal(yi, x)
    # non-contiguous input
    yt, mt = ops.dropout(x.T, 0.5, seed=1)
    np.testing.assert_array_equal(mt, ops.dropout(np.ascontiguousarray(x.T), 0.5, seed=1)[1])
    # the C kernels allow y == x and dx == dy
    buf = x.copy()
    mask = np.empty(x.shape, dtype=bool)
    assert _core._dropout_forward(buf, mask, buf, buf.size, 0.5, 1, 0, 0) == 0
    np.testing.assert_array_equal(buf, y)
    np.testing.assert_array_equal(mask, m)
    g = np.ones_like(x)
    expect = ops.dropout_backward(g, m, 0.5)
    assert _core._dropout_backward(g, g, m, g.size, 0.5) == 0
    np.testing.assert_array_equal(g, expect)
    # empty input
    e, em = ops.dropout(np.zeros((0, 3), dtype), 0.5, seed=1)
    assert e.shape == em.shape == (0, 3)


def test_backward_is_the_derivative_float64():
    x = np.random.default_rng(8).standard_normal(40)
    dy = np.random.default_rng(9).standard_normal(40)
    p = 0.3
    _, mask = ops.dropout(x, p, seed=3)
    dx = ops.dropout_backward(dy, mask, p)
    num = np.zeros_like(x)
    h = 1e-6
    for i in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        num[i] = (np.sum(dy * ops.dropout(xp, p, seed=3)[0])
                  - np.sum(dy * ops.dropout(xm, p, seed=3)[0])) / (2 * h)
    assert np.linalg.norm(dx - num) / np.linalg.norm(num) < 1e-6
    # integer 0/1 masks are accepted too
    np.testing.assert_array_equal(ops.dropout_backward(dy, mask.astype(np.uint8), p), dx)


def test_bad_input_raises_clear_errors():
    x = np.ones(10)
    for p in (1.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"in \[0, 1\)"):
            ops.dropout(x, p, seed=0)
    with pytest.raises(TypeError, match="real number"):
        ops.dropout(x, "0.5", seed=0)
    with pytest.raises(ValueError, match="seed"):
        ops.dropout(x, 0.5, seed=-1)
    with pytest.raises(ValueError, match="seed"):
        ops.dropout(x, 0.5, seed=2**64)
    with pytest.raises(TypeError, match="seed must be an int"):
        ops.dropout(x, 0.5, seed=1.5)
    with pytest.raises(ValueError, match="layer"):
        ops.dropout(x, 0.5, seed=0, layer=2**32)
    with pytest.raises(ValueError, match="step"):
        ops.dropout(x, 0.5, seed=0, step=-3)
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.dropout(np.ones(10, dtype=np.int32), 0.5, seed=0)
    with pytest.raises(ValueError, match="shape of dy"):
        ops.dropout_backward(x, np.ones(9, dtype=bool), 0.5)
    with pytest.raises(TypeError, match="mask must be bool"):
        ops.dropout_backward(x, np.ones(10), 0.5)
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        ops.dropout_backward(x, np.ones(10, dtype=bool), 1.0)
    with pytest.raises(ValueError, match="4 words"):
        ops.philox4x32((1, 2, 3), (0, 0))
    with pytest.raises(ValueError, match="counter word"):
        ops.philox4x32((1, 2, 3, 2**32), (0, 0))


def test_c_rejects_bad_arguments():
    x = np.ones(8)
    y = np.empty(8)
    m = np.empty(8, dtype=bool)
    assert _core._dropout_forward(y, m, x, 8, 1.0, 0, 0, 0) == -1
    assert _core._dropout_forward(y, m, x, 8, -0.5, 0, 0, 0) == -1
    assert _core._dropout_forward(y, m, x, 8, float("nan"), 0, 0, 0) == -1
    assert _core._dropout_forward(y, m, x, -1, 0.5, 0, 0, 0) == -1
    assert _core._dropout_backward(y, x, m, -1, 0.5) == -1
    assert _core._dropout_backward(y, x, m, 8, 1.0) == -1


@pytest.mark.parametrize("counter,key", [(b"\0\0\0\0", (1, 2)), ((1, 2, 3, 4), "ab"),
                                         (bytearray(4), (0, 0))])
def test_philox_refuses_bytes_and_strings(counter, key):
    # hypothesis: philox4x32 took b"\0\0\0\0" as four words (iterating bytes gives ints)
    with pytest.raises(TypeError, match="sequence of integers"):
        ops.philox4x32(counter, key)
