"""nncore.ops.matmul vs nncore.reference.matmul: shapes, strides, alpha/beta,
bit-identical threading, properties (hypothesis) and every bad input."""
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from nncore import _core, config, ops
from nncore import reference as ref

pytestmark = pytest.mark.kernel


def bound(a, b, out0, alpha, beta, dtype):
    """Error bound scaling with k: eps * c(k) * (|alpha| |a| @ |b| + |beta| |out0|)."""
    k = a.shape[1]
    eps = np.finfo(dtype).eps
    mag = abs(alpha) * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64))
    if out0 is not None and beta != 0:
        mag = mag + abs(beta) * np.abs(out0.astype(np.float64))
    return eps * (4 + 2 * np.sqrt(max(k, 1))) * mag + np.finfo(dtype).tiny


def check(a, b, out=None, alpha=1.0, beta=0.0):
    dtype = a.dtype
    out0 = None if out is None else out.copy()
    got = ops.matmul(a, b, out, alpha=alpha, beta=beta)
    if out is not None:
        assert got is out
    want = ref.matmul(a, b, None if out0 is None else out0.copy(), alpha, beta)
    assert got.shape == want.shape and got.dtype == dtype
    assert got.flags.c_contiguous
    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    bnd = bound(a, b, out0, alpha, beta, dtype)
    bad = ~(err <= bnd)
    assert not bad.any(), f"max err {err.max()} at {np.argwhere(bad)[:3]}, bound {bnd.max()}"
    return got


def rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def test_all_small_shapes(arch, threads, dtype):
    rng = np.random.default_rng(1)
    big_a = rand(rng, (20, 20), dtype)
    big_b = rand(rng, (20, 20), dtype)
    for m in range(21):
        for n in range(21):
            for k in range(21):
                a, b = big_a[:m, :k], big_b[:k, :n]
                got = ops.matmul(a, b)
                want = a.astype(np.float64) @ b.astype(np.float64)
                bnd = bound(a, b, None, 1.0, 0.0, dtype)
                assert got.shape == (m, n)
                assert (np.abs(got - want) <= bnd).all(), (m, n, k)


@pytest.mark.parametrize("size", [1, 5, 6, 7, 15, 16, 17, 143, 257])
def test_sizes_around_blocks(arch, threads, dtype, size):
    rng = np.random.default_rng(size)
    for m, k, n in [(size, size, size), (size, 3, 17), (17, size, 5), (7, 13, size)]:
        check(rand(rng, (m, k), dtype), rand(rng, (k, n), dtype))


@pytest.mark.parametrize("shape", [(1000, 7, 9), (9, 1000, 7), (7, 9, 1000), (300, 517, 1000)])
def test_large_dims(arch, threads, dtype, shape):
    m, k, n = shape
    rng = np.random.default_rng(m + k + n)
    check(rand(rng, (m, k), dtype), rand(rng, (k, n), dtype))


def _views(x):
    """Several layouts of the same logical matrix x (m, k), none copied by matmul."""
    m, k = x.shape
    yield "c", x
    yield "f", np.asfortranarray(x)
    yield "T", np.ascontiguousarray(x.T).T
    big = np.zeros((2 * m + 1, 3 * k + 2), x.dtype)
    big[1::2, 2::3][:m, :k] = x
    yield "step", big[1::2, 2::3][:m, :k]
    yield "neg", np.ascontiguousarray(x[::-1, ::-1])[::-1, ::-1]
    yield "negrow", np.ascontiguousarray(x[::-1])[::-1]


def test_strides_and_transposes(arch, threads, dtype):
    rng = np.random.default_rng(3)
    for m, k, n in [(13, 29, 37), (64, 300, 33)]:
        a0, b0 = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype)
        want = ref.matmul(a0, b0)
        for na, a in _views(a0):
            for nb, b in _views(b0):
                got = ops.matmul(a, b)
                assert np.array_equal(got, ops.matmul(a0, b0)), (na, nb)
                assert (np.abs(got - want) <= bound(a0, b0, None, 1, 0, dtype) * 2).all()


def test_broadcast_zero_stride(arch, dtype):
    rng = np.random.default_rng(4)
    a = np.broadcast_to(rand(rng, (1, 40), dtype), (30, 40))
    b = rand(rng, (40, 20), dtype)
    check(a, b)


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (2.5, 0.0), (-1.0, 1.0), (0.5, -2.0),
                                        (0.0, 3.0), (1.0, 1.0)])
def test_alpha_beta(arch, threads, dtype, alpha, beta):
    rng = np.random.default_rng(5)
    for m, k, n in [(7, 5, 3), (70, 300, 50), (6, 0, 16)]:
        out = rand(rng, (m, n), dtype)
        check(rand(rng, (m, k), dtype), rand(rng, (k, n), dtype), out, alpha, beta)


def test_beta_zero_ignores_nan_in_out(arch, threads, dtype):
    rng = np.random.default_rng(6)
    for m, k, n in [(5, 3, 7), (130, 70, 90), (4, 0, 4)]:
        out = np.full((m, n), np.nan, dtype)
        got = ops.matmul(rand(rng, (m, k), dtype), rand(rng, (k, n), dtype), out, beta=0.0)
        assert np.isfinite(got).all()


def test_nan_inf_propagate(arch, dtype):
    a = np.ones((8, 20), dtype)
    b = np.ones((20, 17), dtype)
    a[2, 3] = np.nan
    b[5, 4] = np.inf
    got = ops.matmul(a, b)
    want = ref.matmul(a, b)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))


def test_zero_sizes(arch, dtype):
    z = ops.matmul(np.ones((0, 5), dtype), np.ones((5, 3), dtype))
    assert z.shape == (0, 3)
    z = ops.matmul(np.ones((4, 5), dtype), np.ones((5, 0), dtype))
    assert z.shape == (4, 0)
    z = ops.matmul(np.ones((4, 0), dtype), np.ones((0, 3), dtype))
    assert z.shape == (4, 3) and (z == 0).all()
    out = np.full((4, 3), 2.0, dtype)
    ops.matmul(np.ones((4, 0), dtype), np.ones((0, 3), dtype), out, beta=1.5)
    assert (out == 3.0).all()


def test_threads_bitwise_identical(arch, dtype):
    rng = np.random.default_rng(7)
    for m, k, n in [(1000, 300, 517), (257, 1000, 143), (128, 784, 256), (37, 500, 1000)]:
        a, b = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype)
        res = []
        for t in (1, 2, 3):
            with config.num_threads(t):
                res.append(ops.matmul(a, b))
                res.append(ops.matmul(a.T.copy().T, b))
        for r in res[1:]:
            assert np.array_equal(r, res[0])


def test_concurrent_python_threads(arch, threads, dtype):
    # the GIL is released: two Python threads multiply at once, each with its
    # own packing buffers; results must equal the sequential ones bit for bit
    rng = np.random.default_rng(11)
    pairs = [(rand(rng, (150, 220), dtype), rand(rng, (220, 130), dtype)) for _ in range(4)]
    want = [ops.matmul(a, b) for a, b in pairs]
    got = [[None] * len(pairs) for _ in range(2)]

    def work(t):
        for _ in range(5):
            for i, (a, b) in enumerate(pairs):
                got[t][i] = ops.matmul(a, b)

    th = [threading.Thread(target=work, args=(t,)) for t in range(2)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    for t in range(2):
        for g, w in zip(got[t], want):
            assert np.array_equal(g, w)


def test_result_independent_of_position(arch, dtype):
    # a row/column computed inside a big product equals the same product alone
    rng = np.random.default_rng(8)
    a, b = rand(rng, (100, 333), dtype), rand(rng, (333, 90), dtype)
    full = ops.matmul(a, b)
    assert np.array_equal(ops.matmul(a[37:38], b), full[37:38])
    assert np.array_equal(ops.matmul(a, b[:, 61:62]), full[:, 61:62])
    assert np.array_equal(ops.matmul(a[13:50], b[:, 5:77]), full[13:50, 5:77])


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_accepts_array_likes_and_subclasses(dtype):
    a = [[1.0, 2.0], [3.0, 4.0]]
    got = ops.matmul(a, np.eye(2))
    np.testing.assert_array_equal(got, np.array(a))
    m = np.asmatrix(np.eye(3, dtype=dtype))
    assert type(ops.matmul(m, m)) is np.ndarray


@pytest.mark.parametrize("shape", [(1, 1, 1), (7, 5, 19), (130, 300, 70), (300, 0, 33),
                                   (200, 400, 150)])
def test_gemm_ex_bias_epilogue(arch, threads, dtype, shape):
    # internal nn_*gemm_ex (for the network engine): out = alpha a@b + beta out + bias
    m, k, n = shape
    rng = np.random.default_rng(10)
    a, b = rand(rng, (k, m), dtype).T, rand(rng, (k, n), dtype)
    bias = rand(rng, (n,), dtype)
    for alpha, beta in [(1.0, 0.0), (0.5, 2.0)]:
        out = rand(rng, (m, n), dtype)
        out0 = out.copy()
        want = ref.matmul(a, b, out0.copy(), alpha, beta).astype(np.float64) + bias
        got = _core._matmul_bias(a, b, out, bias, alpha, beta)
        assert got is out
        bnd = bound(a, b, out0, alpha, beta, dtype) + 4 * np.finfo(dtype).eps * np.abs(want)
        assert (np.abs(got - want) <= bnd).all()


# ----------------------------------------------------------- hypothesis

dims = st.integers(0, 40)


@settings(max_examples=60, deadline=None)
@given(m=dims, n=dims, k=dims, ta=st.booleans(), tb=st.booleans(),
       alpha=st.floats(-3, 3), beta=st.sampled_from([0.0, 1.0, -0.5]),
       f64=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_property_matches_reference(m, n, k, ta, tb, alpha, beta, f64, seed):
    dtype = np.float64 if f64 else np.float32
    rng = np.random.default_rng(seed)
    a = rand(rng, (k, m), dtype).T if ta else rand(rng, (m, k), dtype)
    b = rand(rng, (n, k), dtype).T if tb else rand(rng, (k, n), dtype)
    out = rand(rng, (m, n), dtype)
    check(a, b, out, alpha, beta)


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 60), n=st.integers(1, 60), k=st.integers(1, 60),
       seed=st.integers(0, 2**32 - 1))
def test_property_linear_and_transpose(m, n, k, seed):
    # (a @ b).T == b.T @ a.T up to rounding; scaling by 2 is exact
    rng = np.random.default_rng(seed)
    a, b = rand(rng, (m, k), np.float64), rand(rng, (k, n), np.float64)
    c = ops.matmul(a, b)
    np.testing.assert_allclose(ops.matmul(b.T, a.T), c.T, rtol=1e-12, atol=1e-12)
    assert np.array_equal(ops.matmul(a, b, alpha=2.0), 2 * c)


# ----------------------------------------------------------- bad input

def test_bad_dims():
    a = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="inner dimensions"):
        ops.matmul(a, np.ones((5, 2), np.float32))
    with pytest.raises(ValueError, match="2-D"):
        ops.matmul(np.ones(4, np.float32), np.ones((4, 2), np.float32))
    with pytest.raises(ValueError, match="2-D"):
        ops.matmul(a, np.ones((4, 2, 1), np.float32))
    with pytest.raises(ValueError, match="2-D"):
        ops.matmul(np.float32(1.0), a)


@pytest.mark.parametrize("bad", [np.int32, np.int64, np.bool_, np.complex64, np.complex128,
                                 object, np.float16, np.uint8])
def test_bad_dtypes(bad):
    good = np.ones((3, 3), np.float64)
    x = np.ones((3, 3)).astype(bad)
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.matmul(x, good)
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.matmul(good, x)


def test_non_native_byte_order():
    x = np.ones((3, 3), ">f8")
    with pytest.raises(TypeError, match="byte order"):
        ops.matmul(x, np.ones((3, 3)))


def test_mixed_dtypes():
    with pytest.raises(TypeError, match="same dtype"):
        ops.matmul(np.ones((3, 3), np.float32), np.ones((3, 3), np.float64))


def test_bad_out():
    a = np.ones((3, 4), np.float32)
    b = np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match="shape"):
        ops.matmul(a, b, np.empty((3, 4), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        ops.matmul(a, b, np.empty((3, 5), np.float64))
    ro = np.empty((3, 5), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ops.matmul(a, b, ro)
    with pytest.raises(ValueError, match="C-contiguous"):
        ops.matmul(a, b, np.empty((5, 3), np.float32).T)
    with pytest.raises(ValueError, match="C-contiguous"):
        ops.matmul(a, b, np.empty((3, 10), np.float32)[:, ::2])
    with pytest.raises(TypeError, match="ndarray"):
        ops.matmul(a, b, [[0.0] * 5] * 3)


def test_out_overlapping_input():
    x = np.ones((4, 4), np.float64)
    with pytest.raises(ValueError, match="overlaps"):
        ops.matmul(x, np.eye(4), x)
    with pytest.raises(ValueError, match="overlaps"):
        ops.matmul(np.eye(4), x, x)
    buf = np.zeros((8, 4))
    with pytest.raises(ValueError, match="overlaps"):
        ops.matmul(buf[:4].T, np.eye(4), buf[2:6])
    # disjoint halves of one buffer are fine
    got = ops.matmul(buf[:4] + 1, np.eye(4), buf[4:])
    assert got.base is buf or got.base is buf.base


def test_bad_scalars():
    a = np.ones((2, 2))
    for bad in ["1.0", 1j, None, True]:
        with pytest.raises(TypeError, match="alpha"):
            ops.matmul(a, a, alpha=bad)
        with pytest.raises(TypeError, match="beta"):
            ops.matmul(a, a, np.empty((2, 2)), beta=bad)
    assert ops.matmul(a, a, alpha=np.float32(2), ).sum() == 16


def test_none_operand():
    with pytest.raises(TypeError):
        ops.matmul(None, np.ones((2, 2)))


# ----------------------------------------------------------- dispatch

def _cpu_vendor():
    """vendor_id from /proc/cpuinfo (an oracle independent of the library's cpuid)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    pytest.skip("no /proc/cpuinfo to tell the CPU vendor")


def test_arch_selection():
    archs = config.available_archs()
    assert archs[0] == "ref"
    old = config.get_arch()
    try:
        for name in archs:
            config.set_arch(name)
            assert config.get_arch() == name
        config.set_arch("auto")
        # the last family this CPU can run, except that the two-FMA-port shape
        # (avx512_skx, and amx on top of it) is auto only on Intel and the 16x16 one
        # (avx512, and avx512_bf16 on top of it) elsewhere
        if "avx512_skx" in archs:
            intel = _cpu_vendor() == "GenuineIntel"
            want = (("amx" if "amx" in archs else "avx512_skx") if intel else
                    ("avx512_bf16" if "avx512_bf16" in archs else "avx512"))
        else:
            want = archs[-1]
        assert config.get_arch() == want
        with pytest.raises(ValueError, match="unknown"):
            config.set_arch("no-such-cpu")
        if "avx2" not in archs:
            with pytest.raises(ValueError, match="not supported"):
                config.set_arch("avx2")
    finally:
        config.set_arch(old)


def test_arch_result_close_across_families(dtype):
    rng = np.random.default_rng(9)
    a, b = rand(rng, (50, 700), dtype), rand(rng, (700, 40), dtype)
    old = config.get_arch()
    try:
        res = []
        for name in config.available_archs():
            config.set_arch(name)
            res.append(ops.matmul(a, b))
    finally:
        config.set_arch(old)
    for r in res[1:]:
        assert (np.abs(r - res[0]) <= 2 * bound(a, b, None, 1, 0, dtype)).all()
