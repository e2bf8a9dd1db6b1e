"""Arguments of the Python layer (shared checks in nncore._validate): odd types give
TypeError, odd values ValueError, never OverflowError, SyntaxError or a crash."""
import warnings

import numpy as np
import pytest

import nncore as nc
from nncore import datasets, nn
from nncore import reference as ref


@pytest.mark.parametrize("make", [
    lambda v: nn.LeakyReLU(v), lambda v: nn.ELU(v), lambda v: nn.Dropout(v),
    lambda v: nc.losses.HuberLoss(v), lambda v: nc.losses.CrossEntropyLoss(v),
    lambda v: nn.Linear(2, 2, bias_init=v),
])
def test_float_arguments(make):
    for bad in (10 ** 400, float("nan"), float("inf"), -10 ** 400):
        with pytest.raises(ValueError):
            make(bad)
    for bad in ("0.1", None, True, np.bool_(True), [0.1], 1j):
        with pytest.raises(TypeError):
            make(bad)


def test_numpy_scalars_accepted():
    assert nn.Dropout(np.float32(0.25)).p == 0.25
    lin = nn.Linear(np.int64(3), np.uint8(2))
    assert (lin.in_features, lin.out_features) == (3, 2)
    assert type(lin.in_features) is int


@pytest.mark.parametrize("make", [lambda v: nn.Linear(v, 2), lambda v: nn.Linear(2, v),
                                  lambda v: nc.datasets.make_xor(v)])
def test_int_arguments(make):
    for bad in (0, -1, -10 ** 400):
        with pytest.raises(ValueError):
            make(bad)
    for bad in (2.0, "2", None, True, np.bool_(True), np.float64(2)):
        with pytest.raises(TypeError):
            make(bad)


@pytest.mark.parametrize("call", [
    lambda v: nc.ops.activation(np.ones((2, 2)), "leaky_relu", v),
    lambda v: nc.ops.activation(np.ones((2, 2)), "elu", v),
    lambda v: nc.ops.loss("huber", np.ones((2, 2)), np.ones((2, 2)), delta=v),
    lambda v: nc.ops.dropout(np.ones((2, 2)), v, seed=0),
])
def test_ops_parameters(call):
    for bad in (10 ** 400, float("nan"), -float("inf")):
        with pytest.raises(ValueError):
            call(bad)
    for bad in ("0.1", True, [0.1]):  # (None means "the default" here)
        with pytest.raises(TypeError, match="real number"):
            call(bad)


def test_matmul_scalars():
    a, b = np.ones((2, 3)), np.ones((3, 2))
    out = np.ones((2, 2))
    for kw in (dict(alpha=10 ** 400), dict(beta=-10 ** 400)):
        with pytest.raises(ValueError, match="too large"):
            nc.ops.matmul(a, b, out, **kw)
    for kw in (dict(alpha="1"), dict(beta=True), dict(alpha=1j)):
        with pytest.raises(TypeError, match="real number"):
            nc.ops.matmul(a, b, out, **kw)
    # int and NumPy scalars are fine; closed form: ones (2,3) @ ones (3,2) = 3
    got = nc.ops.matmul(a, b, out, alpha=np.float32(2), beta=1)
    np.testing.assert_array_equal(got, np.full((2, 2), 7.0))


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
def test_ndarray_subclasses_and_lists_as_model_input():
    """np.matrix / masked arrays / lists / memmaps are read as plain arrays (model(x) of an
    np.matrix used to return None). Oracle: nncore.reference's network on the same weights."""
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), dtype="float64", seed=1)
    twin = ref.ReferenceNetwork.from_model(m)
    x = np.random.default_rng(0).normal(size=(5, 3))
    want = twin.forward(x)
    for xv in (np.matrix(x), np.ma.array(x), x.tolist(), np.asfortranarray(x)):
        for got in (m(xv), m.forward(xv), m.forward(xv, training=True), m.predict(xv)):
            assert type(got) is np.ndarray
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_fit_values_overflowing_the_model_dtype_are_one_clear_error():
    m = nn.Sequential(nn.Linear(2, 1))  # float32
    X, y = np.ones((4, 2)), np.ones(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from the cast on the way
        with pytest.raises(ValueError, match="X contains NaN or Inf"):
            m.fit(np.full((4, 2), 1e300), y, loss="mse", verbose=0)
        with pytest.raises(ValueError, match="y contains NaN or Inf"):
            m.fit(X, np.full(4, -1e300), loss="mse", verbose=0)


def test_check_gradients_arguments():
    m = nn.Sequential(nn.Linear(3, 2), dtype="float64")
    x, y = np.ones((2, 3)), np.zeros((2, 2))
    with pytest.raises(TypeError, match="Sequential"):
        nc.check_gradients("model", x, y, "mse")
    for bad in (0.0, -1e-4, float("nan")):
        with pytest.raises(ValueError, match="eps"):
            nc.check_gradients(m, x, y, "mse", eps=bad)
    with pytest.raises(TypeError, match="eps"):
        nc.check_gradients(m, x, y, "mse", eps="1e-4")


def test_model_dtype_argument():
    for ok, want in (("float32", np.float32), (np.float64, np.float64), (float, np.float64),
                     ("f4", np.float32)):
        assert nn.Sequential(nn.Linear(2, 2), dtype=ok).dtype == want
    with pytest.raises(TypeError, match="got None"):
        nn.Sequential(nn.Linear(2, 2), dtype=None)
    for bad in ("int32", np.float16, ">f8", "complex64"):
        with pytest.raises(ValueError, match="float32' or 'float64'"):
            nn.Sequential(nn.Linear(2, 2), dtype=bad)


@pytest.mark.parametrize("bad", ["01", "(", "f4,,", object()])
def test_unparsable_dtype_is_a_type_error(bad, tmp_path):
    # hypothesis (tests/test_properties.py): np.dtype("01") raises SyntaxError from
    # NumPy's string parser, which escaped load_csv and Sequential
    p = tmp_path / "d.csv"
    p.write_text("a,b\n1,0\n2,1\n")
    with pytest.raises(TypeError, match="dtype"):
        datasets.load_csv(p, dtype=bad)
    with pytest.raises(TypeError, match="dtype"):
        datasets.load_digits(dtype=bad)
    with pytest.raises(TypeError, match="dtype"):
        nn.Sequential(nn.Linear(2, 2), dtype=bad)
