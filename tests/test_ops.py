"""nncore.ops wrappers on every memory layout a caller may hand them: unaligned and
read-only arrays give the same bits as C-contiguous copies (oracle: the same call on
the copy). The kernels themselves are tested per area (test_activations.py, ...)."""
import numpy as np
import pytest

from nncore import ops

pytestmark = pytest.mark.kernel


def _unaligned(a):
    buf = np.zeros(a.nbytes + 1, np.uint8)
    u = np.frombuffer(buf.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    u[...] = a
    assert not u.flags.aligned or a.itemsize == 1   # (bytes are always aligned)
    return u


def _read_only(a):
    # e.g. np.load(..., mmap_mode="r") or a broadcast view
    b = a.copy()
    b.flags.writeable = False
    return b


@pytest.mark.parametrize("layout", [_unaligned, _read_only], ids=["unaligned", "read_only"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ops_read_any_layout(dtype, layout):
    # UBSan (.ci/sanitize, property tests): ops.activation passed an unaligned array
    # straight to C (misaligned float loads in the softmax row kernel: undefined
    # behaviour; np.ascontiguousarray keeps unaligned arrays). Property tests: every
    # kernel wrapper but matmul refused read-only inputs ("buffer source array is
    # read-only": the bindings took writable views of what they only read).
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 7)).astype(dtype)
    xl = layout(x)
    for name in ("softmax", "log_softmax", "gelu", "relu", "tanh"):
        assert np.array_equal(ops.activation(xl, name), ops.activation(x, name))
        assert np.array_equal(ops.activation_backward(xl, xl, None, name),
                              ops.activation_backward(x, x, None, name))
    y = ops.activation(x, "softmax")
    assert np.array_equal(ops.activation_backward(xl, None, layout(y), "softmax"),
                          ops.activation_backward(x, None, y, "softmax"))
    t = (rng.random((5, 7)) > 0.5).astype(dtype)
    for name in ("mse", "bce_logits"):
        a, ga = ops.loss(name, xl, layout(t))
        b, gb = ops.loss(name, x, t)
        assert a == b and np.array_equal(ga, gb)
    labels = np.array([0, 3, 6, 1, 2])
    a, ga = ops.loss("cross_entropy", xl, layout(labels))
    b, gb = ops.loss("cross_entropy", x, labels)
    assert a == b and np.array_equal(ga, gb)
    y, mask = ops.dropout(xl, 0.3, seed=1)
    y2, mask2 = ops.dropout(x, 0.3, seed=1)
    assert np.array_equal(y, y2) and np.array_equal(mask, mask2)
    assert np.array_equal(ops.dropout_backward(xl, layout(mask), 0.3),
                          ops.dropout_backward(x, mask, 0.3))
    assert np.array_equal(ops.matmul(xl, layout(x.T.copy())), ops.matmul(x, x.T.copy()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "silu"])
def test_x_times_gate_activations_propagate_nan(name, dtype):
    # x * g(x) is 0 where g == 0 (x = -inf gives the limit 0), but a NaN input must
    # stay NaN (PyTorch and NumPy propagate it); it used to come out as 0
    x = np.array([np.nan, -np.inf, -1.0, 2.0], dtype)
    y = ops.activation(x, name)
    assert np.isnan(y[0]), y
    assert y[1] == 0.0 and np.all(np.isfinite(y[2:]))
    from nncore import reference
    r = reference.activation(x, name)
    assert np.isnan(r[0]) and r[1] == 0.0


def test_gelu_model_inference_propagates_nan():
    import nncore as nc
    for act in (nc.nn.GELU(), nc.nn.GELU("tanh"), nc.nn.SiLU()):
        m = nc.nn.Sequential(nc.nn.Linear(2, 3), act, nc.nn.Linear(3, 1), seed=0)
        x = np.array([[np.nan, 1.0], [0.5, 1.0]], np.float32)
        out = m(x)
        assert np.isnan(out[0, 0]), (act, out)   # the nan row
        assert np.isfinite(out[1, 0])
        assert np.isnan(m.forward(x, training=True)[0, 0])
