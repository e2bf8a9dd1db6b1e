"""fit / evaluate / predict on an X that is not an array: any object with ``__len__``
and ``__getitem__`` on index arrays (issue: data larger than memory), read a batch at
a time.

Oracle: the same calls on the ndarray the object serves (same bits); the object counts
the rows each read asks for, so "one minibatch at a time" is checked, not assumed.
"""
import collections

import numpy as np
import pytest

import nncore as nc
from nncore import _rows


class Rows:
    """A dataset object: rows only through an int64 index array, as a user's class
    that decodes rows on demand would serve them (no __array__, no slices)."""

    def __init__(self, X, kind=None):
        self.X, self.kind, self.reads = X, kind, []

    def __len__(self):
        return len(self.X)

    def __getitem__(self, idx):
        if not (isinstance(idx, np.ndarray) and idx.dtype == np.int64 and idx.ndim == 1):
            raise TypeError(f"index arrays only, got {idx!r}")
        self.reads.append(len(idx))
        rows = self.X[idx]
        if self.kind == "list":
            return rows.tolist()
        if self.kind == "short":
            return rows[:-1]
        if self.kind == "text":
            return rows.astype(str)
        return rows


def _model(dtype="float64", nin=40):
    return nc.nn.Sequential(nc.nn.Linear(nin, 16), nc.nn.Tanh(), nc.nn.Dropout(0.2),
                            nc.nn.Linear(16, 3), dtype=dtype, seed=4)


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fit_evaluate_predict_on_an_indexable_give_the_array_bits(shuffle, dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((9000, 40))          # float64: cast per batch for float32
    y = rng.integers(0, 3, 9000)
    w = rng.uniform(0.5, 2.0, 9000)
    res = []
    for data in (X, Rows(X)):
        m = _model(dtype)
        h = m.fit(data, y, loss="cross_entropy", epochs=2, batch_size=64, verbose=0,
                  shuffle=shuffle, validation_split=0.1, sample_weight=w)
        h.history.pop("time")
        res.append((m.flat_params.copy(), h.history, m.evaluate(data, y, batch_size=500),
                    m.predict(data, batch_size=700)))
    np.testing.assert_array_equal(res[0][0], res[1][0])
    assert res[0][1] == res[1][1] and res[0][2] == res[1][2]
    np.testing.assert_array_equal(res[0][3], res[1][3])
    reads = data.reads
    # batches (64), evaluate / predict batches (500, 700), fit's validation (1024 at a
    # time) and the NaN check's blocks of ~1 MiB of the model's dtype: never all rows
    block = (1 << 20) // (40 * np.dtype(dtype).itemsize)
    assert max(reads) <= block < len(X)
    assert reads.count(64) >= 2 * (8100 // 64)    # the training batches, both epochs


def test_validation_data_and_one_feature_rows():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 1))
    y = (X[:, 0] > 0).astype(np.int64)
    res = []
    for tr, va in ((X[:250], X[250:]), (Rows(X[:250, 0]), Rows(X[250:, 0]))):
        m = nc.nn.Sequential(nc.nn.Linear(1, 4), nc.nn.ReLU(), nc.nn.Linear(4, 2), seed=1)
        h = m.fit(tr, y[:250], loss="cross_entropy", epochs=2, batch_size=32, verbose=0,
                  validation_data=(va, y[250:]))
        res.append((m.flat_params.copy(), h.history["val_loss"]))
    np.testing.assert_array_equal(res[0][0], res[1][0])
    assert res[0][1] == res[1][1]


def test_bad_rows_are_errors_naming_expected_and_got():
    X = np.random.default_rng(2).standard_normal((50, 40))
    m = _model()
    with pytest.raises(ValueError, match=r"must give shape \(50, 40\).*got \(49, 40\)"):
        m.predict(Rows(X, "short"))
    with pytest.raises(TypeError, match="must hold numbers"):
        m.predict(Rows(X, "text"))
    bad = X.copy()
    bad[33, 7] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or Inf .*row 33, column 7"):
        m.fit(Rows(bad), np.zeros(50, np.int64), loss="cross_entropy", verbose=0)
    with pytest.raises(ValueError, match="different lengths"):
        m.fit(Rows(X), np.zeros(49, np.int64), loss="cross_entropy", verbose=0)
    np.testing.assert_array_equal(m.predict(Rows(X, "list")), m.predict(X))   # lists of rows
    with pytest.raises(TypeError, match="an array of rows"):
        m.predict(Rows(np.array([[1.0, 2.0], [3.0]], dtype=object), "list"))


def test_ragged_rows_given_as_a_list_are_a_type_error_naming_x():
    m = _model()
    ragged = [[0.5] * 40, [0.5] * 39]
    for call in (lambda: m.predict(ragged),
                 lambda: m.fit(ragged, [0, 1], loss="cross_entropy", verbose=0),
                 lambda: m.evaluate(ragged, [0, 1], loss="cross_entropy")):
        with pytest.raises(TypeError, match=r"X must be an array of rows of one length, "
                                            r"got list.*inhomogeneous"):
            call()
    assert m.epochs_trained == 0


def test_only_objects_numpy_cannot_read_become_row_sources():
    assert _rows.is_row_source(Rows(np.zeros((2, 2))))
    for x in (np.zeros((2, 2)), [[1.0]], ((1.0,),), "text", 3.0):
        assert not _rows.is_row_source(x)
    assert not _rows.is_row_source(_WithArray())   # __array__: np.asarray reads it whole


@pytest.mark.parametrize("x", [{}, {0: [1.0] * 40}], ids=["empty", "int_keys"])
def test_a_mapping_is_not_rows(x):
    """A dict has __len__ and __getitem__, but keys, not rows: an empty one once passed
    as an empty X (predict returned shape (0, 3)); every entry point refuses it."""
    m = _model()
    assert not _rows.is_row_source(x)
    for call in (lambda: m.predict(x), lambda: m.predict_classes(x), lambda: m(x),
                 lambda: m.evaluate(x, np.zeros(len(x), np.int64), loss="cross_entropy"),
                 lambda: m.fit(x, np.zeros(len(x), np.int64), loss="cross_entropy",
                               verbose=0)):
        with pytest.raises(TypeError, match="dict"):
            call()


class _WithArray:
    def __len__(self):
        return 1

    def __getitem__(self, i):
        return [0.0]

    def __array__(self, dtype=None, copy=None):
        return np.zeros((1, 1))


class _ByInt:
    """A dataset indexed one row at a time by an int (as a torch Dataset is)."""

    def __init__(self, X):
        self.X = X

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[int(i)]   # an index array of more than one element: TypeError


@pytest.mark.parametrize("make", [_ByInt, collections.deque],
                         ids=["int_only_dataset", "deque"])
def test_rows_that_cannot_be_read_by_index_arrays_are_a_type_error_saying_so(make):
    """An object with __len__ and __getitem__ that reads one int at a time passes for
    rows; its own error on an index array (NumPy's 'only integer scalar arrays ...',
    a deque's 'sequence index must be integer') came out as it was, naming neither X
    nor what fit needs. Now a TypeError naming both, before any step."""
    X = np.random.default_rng(5).standard_normal((30, 40))
    m = _model()
    before = m.flat_params.copy()
    for call in (lambda: m.predict(make(X)),
                 lambda: m.fit(make(X), np.zeros(30, np.int64), loss="cross_entropy",
                               verbose=0)):
        with pytest.raises(TypeError, match=r"X\[int64 index array\].*rows.*raised TypeError"):
            call()
    np.testing.assert_array_equal(m.flat_params, before)
