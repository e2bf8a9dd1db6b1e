"""Activation kernels (csrc/activation.c) vs nncore.reference, finite differences,
thread-count determinism and bad input."""
import numpy as np
import pytest

import nncore.ops as ops
from nncore import _core, config
from nncore.reference import _kernels as ref

pytestmark = pytest.mark.kernel

ELEMENTWISE = [n for n in ops.ACTIVATIONS if n not in ("softmax", "log_softmax")]
ROWWISE = ["softmax", "log_softmax"]
STABLE = ["sigmoid", "softplus", "silu", "tanh", "gelu", "gelu_tanh", "elu"]


def rtol_of(dtype):
    return 2e-6 if dtype == np.float32 else 1e-13


def atol_of(dtype):
    return 1e-37 if dtype == np.float32 else 1e-300


def sample(dtype, n=1000, seed=0, extremes=True):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.standard_normal(n) * 3, rng.uniform(-40, 40, n // 4)])
    if extremes:
        big = np.finfo(dtype).max
        x = np.concatenate([x, [0.0, -0.0, 1e-30, -1e-30, 20, -20, 90, -90, 700, -700,
                                1e4, -1e4, 1e30, -1e30, np.inf, -np.inf]])
        x = x.astype(dtype)
        x = np.concatenate([x, np.array([big, -big], dtype=dtype)])
    return x.astype(dtype)


def assert_close_cond(actual, g, x, dtype, k=1.0):
    """actual ~ g(x) (g evaluated by the float64 reference), to k * eps * (1 + cond)
    relative, where cond = |x g'(x) / g(x)| is the condition number of g at x:
    rounding x itself to the dtype already moves g(x) by cond * eps."""
    x64 = x.astype(np.float64)
    with np.errstate(all="ignore"):
        r = g(x64)
        d = 1e-7
        cond = np.abs(g(x64 * (1 + d)) - g(x64 * (1 - d))) / (2 * d * np.abs(r))
    cond = np.where(np.isfinite(cond), cond, 0.0)
    tol = k * rtol_of(dtype) * (1 + cond) * np.abs(r) + atol_of(dtype)
    actual = actual.astype(np.float64)
    same = (actual == r) | (np.isnan(actual) & np.isnan(r))
    with np.errstate(invalid="ignore"):
        bad = ~same & ~(np.abs(actual - r) <= tol)
    assert not bad.any(), (f"{bad.sum()} mismatches, e.g. x={x[bad][:4]} got {actual[bad][:4]} "
                           f"want {r[bad][:4]}")


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_forward_matches_reference(name, dtype, threads, arch):
    x = sample(dtype)
    y = ops.activation(x, name)
    assert y.dtype == dtype and y.shape == x.shape
    assert_close_cond(y, lambda v: ref.activation(v, name), x, dtype)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_backward_matches_reference(name, dtype, threads, arch):
    x = sample(dtype, seed=1)
    dy = np.ones_like(x)
    y = ops.activation(x, name)
    dx = ops.activation_backward(dy, x, y, name)
    assert dx.dtype == dtype
    assert_close_cond(dx, lambda v: ref.activation_backward(np.ones_like(v), v, None, name),
                      x, dtype, k=2)
    # dy scales the result
    dy2 = np.random.default_rng(2).standard_normal(x.size).astype(dtype)
    dx2 = ops.activation_backward(dy2, x, y, name)
    np.testing.assert_array_equal(dx2, (dy2 * dx).astype(dtype))


@pytest.mark.parametrize("name", STABLE)
def test_stable_functions_stay_finite_at_extremes(name, dtype, arch):
    big = np.finfo(dtype).max
    x = np.array([-np.inf, -big, -1e4, -88, 88, 1e4, big, np.inf], dtype=dtype)
    y = ops.activation(x, name)
    dx = ops.activation_backward(np.ones_like(x), x, y, name)
    assert not np.isnan(y).any() and not np.isnan(dx).any()
    # limits: f(-inf) and f'(+-inf) are known in closed form
    lim_neg = {"sigmoid": 0, "softplus": 0, "silu": 0, "tanh": -1, "gelu": 0, "gelu_tanh": 0,
               "elu": -1}[name]
    assert y[0] == lim_neg
    assert dx[0] == 0
    assert dx[-1] == (0 if name in ("sigmoid", "tanh") else 1)
    if name not in ("sigmoid", "tanh"):
        assert y[-2] == big and y[-1] == np.inf


def test_parameterized_kinds_use_param(dtype):
    x = sample(dtype, n=200, extremes=False)
    for name, p in [("leaky_relu", 0.2), ("leaky_relu", -0.5), ("elu", 0.7), ("elu", 2.5)]:
        np.testing.assert_allclose(ops.activation(x, name, p), ref.activation(x, name, p),
                                   rtol=rtol_of(dtype), atol=atol_of(dtype))
        dy = np.ones_like(x)
        np.testing.assert_allclose(ops.activation_backward(dy, x, None, name, p),
                                   ref.activation_backward(dy, x, None, name, p),
                                   rtol=2 * rtol_of(dtype), atol=atol_of(dtype))
    np.testing.assert_array_equal(ops.leaky_relu(x, 0.2), ops.activation(x, "leaky_relu", 0.2))
    np.testing.assert_array_equal(ops.elu(x, 0.7), ops.activation(x, "elu", 0.7))
    np.testing.assert_array_equal(ops.gelu(x, approximate="tanh"), ops.activation(x, "gelu_tanh"))


def test_named_shortcuts_match_activation(dtype):
    x = sample(dtype, n=100, extremes=False).reshape(-1, 5)
    for name in ["identity", "relu", "silu", "softplus", "sigmoid", "tanh", "softmax",
                 "log_softmax"]:
        np.testing.assert_array_equal(getattr(ops, name)(x), ops.activation(x, name))
    np.testing.assert_array_equal(ops.gelu(x), ops.activation(x, "gelu"))


def test_closed_forms(dtype):
    x = np.linspace(-5, 5, 101).astype(dtype)
    t = rtol_of(dtype) * 4
    np.testing.assert_allclose(ops.sigmoid(x), 1 / (1 + np.exp(-x.astype(np.float64))), rtol=t)
    np.testing.assert_allclose(ops.tanh(x), np.tanh(x.astype(np.float64)), rtol=t, atol=1e-30)
    np.testing.assert_allclose(ops.softplus(x), np.log1p(np.exp(x.astype(np.float64))), rtol=t)
    np.testing.assert_allclose(ops.relu(x), np.maximum(x, 0), rtol=0)


@pytest.mark.parametrize("name", ROWWISE)
@pytest.mark.parametrize("cols", [1, 3, 8, 13, 64])
def test_rowwise_matches_reference(name, cols, dtype, threads, arch):
    rng = np.random.default_rng(cols)
    x = (rng.standard_normal((37, cols)) * 5).astype(dtype)
    x[0, 0] = 1e4  # a row the shift must rescue
    x[1] = -1e4
    if cols > 1:
        x[2, 1] = -np.inf  # one impossible class is fine
    y = ops.activation(x, name)
    r = ref.activation(x, name)
    assert np.isfinite(y[:, 0]).all()
    np.testing.assert_allclose(y, r, rtol=4 * rtol_of(dtype), atol=4 * rtol_of(dtype))
    if name == "softmax":
        np.testing.assert_allclose(y.sum(axis=1), 1, rtol=cols * rtol_of(dtype))
    dy = rng.standard_normal(x.shape).astype(dtype)
    yf = y.copy()
    yf[~np.isfinite(yf)] = -1e30 if name == "log_softmax" else 0
    dx = ops.activation_backward(dy, None, yf, name)
    dr = ref.activation_backward(dy, None, yf, name)
    np.testing.assert_allclose(dx, dr, rtol=8 * rtol_of(dtype),
                               atol=8 * rtol_of(dtype) * np.abs(dy).max() * cols)


def test_rowwise_over_last_axis_of_3d(dtype):
    x = np.random.default_rng(5).standard_normal((2, 3, 4)).astype(dtype)
    y = ops.softmax(x)
    np.testing.assert_allclose(y, ref.activation(x, "softmax"), rtol=4 * rtol_of(dtype))


# ---------------------------------------------------------------- gradients

def _numgrad(f, x, dy, h=1e-6):
    g = np.zeros_like(x)
    xf, gf = x.reshape(-1), g.reshape(-1)
    for i in range(xf.size):
        old = xf[i]
        step = h * max(1.0, abs(old))
        xf[i] = old + step
        fp = np.sum(dy * f(x))
        xf[i] = old - step
        fm = np.sum(dy * f(x))
        xf[i] = old
        gf[i] = (fp - fm) / (2 * step)
    return g


@pytest.mark.parametrize("name", ops.ACTIVATIONS)
def test_gradient_check_float64(name):
    rng = np.random.default_rng(11)
    x = rng.uniform(-4, 4, size=(6, 7))
    x[np.abs(x) < 1e-2] = 0.5  # away from the kinks of relu / leaky_relu / elu
    dy = rng.standard_normal(x.shape)
    analytic = ops.activation_backward(dy, x, ops.activation(x, name), name)
    numeric = _numgrad(lambda v: ops.activation(v, name), x.copy(), dy)
    err = np.linalg.norm(analytic - numeric) / max(np.linalg.norm(numeric), 1e-300)
    assert err < 1e-6, f"{name}: relative gradient error {err:.2e}"


# --------------------------------------------------------------- threading

@pytest.mark.parametrize("name", ["relu", "sigmoid", "gelu", "softmax", "log_softmax"])
def test_bit_identical_at_1_and_2_threads(name, dtype, arch):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((600, 500)) * 4).astype(dtype)  # large enough to thread
    dy = rng.standard_normal(x.shape).astype(dtype)
    res = []
    for t in (1, 2):
        with config.num_threads(t):
            y = ops.activation(x, name)
            res.append((y, ops.activation_backward(dy, x, y, name)))
    np.testing.assert_array_equal(res[0][0], res[1][0])
    np.testing.assert_array_equal(res[0][1], res[1][1])


@pytest.mark.parametrize("name", ["relu", "tanh", "softmax"])
def test_in_place_c_call(name, dtype, arch):
    """y may alias x and dx may alias dy in the C contract (the network uses that)."""
    x = sample(dtype, n=300, extremes=False).reshape(-1, 5)
    code = ops.ACT_CODES[name]
    y = ops.activation(x, name)
    buf = x.copy()
    assert _core._act_forward(code, 0.0, buf, buf, *x.shape) == 0
    np.testing.assert_array_equal(buf, y)
    dy = np.ones_like(x)
    expect = ops.activation_backward(dy, x, y, name)
    assert _core._act_backward(code, 0.0, dy, dy, x, y, *x.shape) == 0
    np.testing.assert_array_equal(dy, expect)


def test_non_contiguous_and_empty(dtype):
    x = sample(dtype, n=400, extremes=False)[:400].reshape(20, 20)
    np.testing.assert_array_equal(ops.tanh(x.T), ops.tanh(np.ascontiguousarray(x.T)))
    np.testing.assert_array_equal(ops.softmax(x[:, ::2]), ops.softmax(x[:, ::2].copy()))
    assert ops.relu(np.zeros((0, 3), dtype)).shape == (0, 3)
    assert ops.softmax(np.zeros((0, 3), dtype)).shape == (0, 3)
    assert ops.sigmoid(np.array(0.0, dtype)) == 0.5


# --------------------------------------------------------------- bad input

def test_bad_input_raises_clear_errors():
    x = np.ones((2, 3))
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.relu(np.ones(3, dtype=np.int64))
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.sigmoid(np.ones(3, dtype=np.float16))
    with pytest.raises(ValueError, match="unknown activation 'relu6'"):
        ops.activation(x, "relu6")
    with pytest.raises(TypeError, match="name must be a str"):
        ops.activation(x, 3)
    with pytest.raises(ValueError, match="takes no parameter"):
        ops.activation(x, "relu", 0.1)
    with pytest.raises(ValueError, match="must be finite"):
        ops.leaky_relu(x, float("nan"))
    with pytest.raises(TypeError, match="real number"):
        ops.elu(x, "1")
    with pytest.raises(ValueError, match="approximate"):
        ops.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="shape of dy"):
        ops.activation_backward(np.ones((2, 3)), np.ones((3, 2)), None, "relu")
    with pytest.raises(TypeError, match="dtype of dy"):
        ops.activation_backward(np.ones((2, 3)), np.ones((2, 3), np.float32), None, "relu")
    with pytest.raises(ValueError, match="needs x"):
        ops.activation_backward(x, None, x, "tanh")
    with pytest.raises(ValueError, match="needs y"):
        ops.activation_backward(x, None, None, "softmax")
    with pytest.raises(ValueError, match="at least 1 dimension"):
        ops.softmax(np.array(1.0))


def test_c_rejects_bad_arguments():
    x = np.ones(4)
    y = np.empty(4)
    with pytest.raises(ValueError, match="C-contiguous"):  # never a silent temporary copy
        _core._act_forward(1, 0.0, np.empty(8)[::2], x, 1, 4)
    with pytest.raises(ValueError, match="needs 8"):  # never a read past the end
        _core._act_forward(1, 0.0, y, x, 2, 4)
    with pytest.raises(ValueError):  # dtype mismatch at the binding
        _core._act_forward(1, 0.0, np.empty(4, np.float32), x, 1, 4)
    assert _core._act_forward(99, 0.0, y, x, 1, 4) == -1
    assert _core._act_forward(-1, 0.0, y, x, 1, 4) == -1
    assert _core._act_forward(1, 0.0, y, x, -1, 4) == -1
    assert _core._act_forward(2, float("inf"), y, x, 1, 4) == -1
    assert _core._act_backward(10, 0.0, y, x, x, None, 1, 4) == -1  # softmax needs y
    assert _core._act_backward(9, 0.0, y, x, None, x, 1, 4) == -1   # tanh needs x


def test_torch_oracle(dtype, torch):
    F = torch.nn.functional
    x = sample(dtype, n=500, extremes=False).reshape(-1, 5)
    tx = torch.from_numpy(x)
    cases = {"relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "silu": F.silu,
             "softplus": lambda t: F.softplus(t, threshold=100.0), "gelu": F.gelu,
             "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"), "elu": F.elu,
             "leaky_relu": F.leaky_relu, "softmax": lambda t: F.softmax(t, -1),
             "log_softmax": lambda t: F.log_softmax(t, -1)}
    for name, f in cases.items():
        np.testing.assert_allclose(ops.activation(x, name), f(tx).numpy(),
                                   rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6
                                   if dtype == np.float32 else 1e-13, err_msg=name)


@pytest.mark.parametrize("name,fwd_ulp,bwd_ulp", [("sigmoid", 4, 6), ("tanh", 4, 6),
                                                  ("softplus", 4, 4), ("elu", 4, 4),
                                                  ("silu", 4, None)])
def test_float32_accuracy_in_ulp(name, fwd_ulp, bwd_ulp, arch):
    """The float32 kernels use their own vectorizable exp/expm1/log1p/tanh
    (csrc/vmath.h): check them on a dense grid against float64, in units in the
    last place of the correctly rounded float32 result."""
    x = np.linspace(-30, 30, 300_001).astype(np.float32)
    x = x[np.abs(x) > 1e-3]

    def worst(got, want):
        want32 = want.astype(np.float32)
        keep = np.abs(want) > 1e-30
        err = np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(want32))
        return err[keep].max()

    x64 = x.astype(np.float64)
    assert worst(ops.activation(x, name), ref.activation(x64, name)) <= fwd_ulp
    if bwd_ulp is not None:  # (silu' crosses 0: relative error is meaningless there)
        got = ops.activation_backward(np.ones_like(x), x, None, name)
        assert worst(got, ref.activation_backward(np.ones_like(x64), x64, None, name)) <= bwd_ulp


def test_float32_gelu_accuracy_in_ulp(arch):
    """GELU's float32 erfc (csrc/vmath.h) on [-2, 30]; further left, rounding x / sqrt(2)
    alone costs ~x^2 ulp (the condition number), which the reference tests allow for."""
    x = np.linspace(-2, 30, 200_001).astype(np.float32)
    x = x[np.abs(x) > 1e-3]
    got = ops.activation(x, "gelu").astype(np.float64)
    want = ref.activation(x.astype(np.float64), "gelu")
    err = np.abs(got - want) / np.spacing(np.abs(want.astype(np.float32)))
    assert err.max() <= 10


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus", "elu", "silu", "gelu_tanh"])
def test_float64_accuracy_in_ulp(name, arch):
    """The float64 kernels' own exp/expm1/log1p/tanh (csrc/vmath.h) against the NumPy
    reference (itself within ~1 ulp), on a grid where the functions are well conditioned."""
    x = np.linspace(-30, 30, 100_001)
    x = x[np.abs(x) > 1e-3]
    got, want = ops.activation(x, name), ref.activation(x, name)
    keep = np.abs(want) > 1e-300
    if name in ("silu", "gelu_tanh"):  # left tails are ill-conditioned (x * sigmoid(2u(x)):
        keep &= x > (-3 if name == "silu" else -1.5)  # rounding u costs ~4|u| ulp)
    err = np.abs(got - want)[keep] / np.spacing(np.abs(want[keep]))
    assert err.max() <= 6
