"""nncore.sklearn in the scikit-learn ecosystem: the estimator checks, clone / pickle /
joblib / deepcopy, pipelines and parallel grid search, threadpoolctl, labels and
data types, sample and class weights, nncore's extras, and bad input."""
import copy
import io
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
import joblib  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import nncore as nc  # noqa: E402
from nncore.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from nncore.sklearn import _base as sk_base  # noqa: E402
from nncore.sklearn._classifier import validation_accuracy  # noqa: E402
from nncore.sklearn._regressor import validation_r2  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# No expected failures: every check of scikit-learn 1.9's suite passes (the
# array-API check skips itself unless SCIPY_ARRAY_API is set).
EXPECTED_FAILED: dict = {}


@parametrize_with_checks([MLPClassifier(max_iter=50, random_state=0),
                          MLPRegressor(max_iter=50, random_state=0)],
                         expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _blobs(n=120, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 5)
    y = (X[:, 0] - X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    return X, y


X, Y = _blobs()


def _glorot(units, seed):
    """scikit-learn's initial weights (Glorot uniform from RandomState(seed), layer by
    layer, coefficients then intercepts), packed like nncore's flat buffer."""
    rs = np.random.RandomState(seed)
    out = []
    for fan_in, fan_out in zip(units[:-1], units[1:]):
        b = np.sqrt(6.0 / (fan_in + fan_out))
        out += [rs.uniform(-b, b, (fan_in, fan_out)).T.ravel(), rs.uniform(-b, b, fan_out)]
    return np.concatenate(out)


def _fitted(**kw):
    kw = {"hidden_layer_sizes": (8,), "max_iter": 30, "random_state": 0,
          "learning_rate_init": 0.01, **kw}
    return MLPClassifier(**kw).fit(X, Y)


# --------------------------------------------------------- copies and storage

def _roundtrips(obj):
    buf = io.BytesIO()
    joblib.dump(obj, buf)
    buf.seek(0)
    return {"pickle": pickle.loads(pickle.dumps(obj)), "deepcopy": copy.deepcopy(obj),
            "joblib": joblib.load(buf)}


def test_estimator_pickle_joblib_deepcopy_predict_bit_identical():
    clf = _fitted(solver="adam")
    for how, other in _roundtrips(clf).items():
        assert np.array_equal(other.predict_proba(X), clf.predict_proba(X)), how
        assert other.model_ is not clf.model_
        # the copy's coefs_ are views of its own network, and training goes on
        other.coefs_[0][0, 0] += 1.0
        assert not np.array_equal(other.predict_proba(X), clf.predict_proba(X)), how
        other.partial_fit(X, Y)


def test_partial_fit_after_unpickling_continues_the_same_run():
    a = MLPClassifier(hidden_layer_sizes=(8,), random_state=0, solver="adam")
    a.partial_fit(X, Y, classes=[0, 1, 2])
    b = pickle.loads(pickle.dumps(a))
    a.partial_fit(X, Y)
    b.partial_fit(X, Y)
    assert np.array_equal(a.model_.flat_params, b.model_.flat_params)


def test_sequential_pickle_joblib_deepcopy_bit_identical():
    model = nc.nn.Sequential(nc.nn.Linear(5, 7), nc.nn.Tanh(), nc.nn.Dropout(0.2),
                             nc.nn.Linear(7, 3), dtype="float32", seed=4)
    model.fit(X.astype(np.float32), Y, loss="cross_entropy", epochs=2, verbose=0)
    for how, other in _roundtrips(model).items():
        assert np.array_equal(other(X), model(X)), how
        assert other.get_config() == model.get_config()
        assert other.dropout_step == model.dropout_step and other.epochs_trained == 2
        assert type(other.loss).__name__ == "CrossEntropyLoss"
        other.flat_params[0] += 1  # its own buffers
        assert not np.array_equal(other(X), model(X))


def test_clone_keeps_parameters_and_drops_the_fit():
    clf = _fitted(dropout=0.1, l1=1e-3, class_weight="balanced")
    c = clone(clf)
    assert c.get_params() == clf.get_params()
    assert not hasattr(c, "model_")


def test_model_is_a_sequential_that_saves_and_loads(tmp_path):
    clf = _fitted()
    path = tmp_path / "m.safetensors"
    clf.model_.save(path)
    loaded = nc.load(path)
    np.testing.assert_array_equal(loaded.predict(X), clf.model_.predict(X))
    np.testing.assert_allclose(nc.ops.softmax(loaded.predict(X)), clf.predict_proba(X),
                               rtol=1e-14)


# ------------------------------------------------------- pipelines, searches

def test_pipeline_and_parallel_grid_search():
    pipe = Pipeline([("scale", StandardScaler()),
                     ("mlp", MLPClassifier(max_iter=100, learning_rate_init=0.01,
                                           random_state=0))])
    grid = GridSearchCV(pipe, {"mlp__hidden_layer_sizes": [(4,), (16,)],
                               "mlp__alpha": [1e-4, 1e-1]}, cv=3, n_jobs=2)
    grid.fit(X, Y)
    assert grid.best_score_ > 0.8
    assert set(grid.cv_results_["param_mlp__alpha"]) == {1e-4, 1e-1}
    scores = cross_val_score(MLPRegressor(max_iter=100, learning_rate_init=0.01,
                                          random_state=0), X, X[:, 0] * 2,
                             cv=3, n_jobs=2)
    assert scores.min() > 0.5


def test_threadpoolctl_limits_nncore():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not hasattr(threadpoolctl, "register"):
        pytest.skip("threadpoolctl < 3.5 takes no third-party controllers")
    infos = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "nncore"]
    assert len(infos) == 1 and infos[0]["version"] == nc.__version__
    with nc.config.num_threads(2):
        with threadpoolctl.threadpool_limits(1):
            assert nc.get_num_threads() == 1
        assert nc.get_num_threads() == 2
        with threadpoolctl.threadpool_limits(limits=1, user_api="nncore"):
            assert nc.get_num_threads() == 1
        assert nc.get_num_threads() == 2


def test_n_threads_applies_during_fit_and_is_restored(monkeypatch):
    seen = []
    orig = sk_base.fit_stochastic

    def spy(*a, **k):
        seen.append(nc.get_num_threads())
        return orig(*a, **k)
    monkeypatch.setattr(sk_base, "fit_stochastic", spy)
    with nc.config.num_threads(2):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=1, n_threads=1).fit(X, Y)
        assert nc.get_num_threads() == 2
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=1).fit(X, Y)
    assert seen == [1, 2]


# ------------------------------------------------------------ data and labels

def test_string_labels_and_pandas_feature_names():
    pd = pytest.importorskip("pandas")
    names = [f"f{i}" for i in range(5)]
    df = pd.DataFrame(X, columns=names)
    labels = np.array(["cat", "dog", "eel"])[Y]
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=100, learning_rate_init=0.01,
                        random_state=0).fit(df, labels)
    assert list(clf.classes_) == ["cat", "dog", "eel"]
    assert list(clf.feature_names_in_) == names
    pred = clf.predict(df)
    assert pred.dtype.kind in "OU" and set(pred) <= {"cat", "dog", "eel"}
    assert (pred == labels).mean() > 0.8
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(df.rename(columns={"f0": "other"}))


def test_sparse_input_equals_dense_and_is_densified_per_batch(monkeypatch):
    Xs = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
    kw = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0, batch_size=16)
    dense = MLPClassifier(**kw).fit(Xs.toarray(), Y)
    shapes = []
    orig = sp.csr_matrix.toarray

    def spy(self, *a, **k):
        shapes.append(self.shape[0])
        return orig(self, *a, **k)
    monkeypatch.setattr(sp.csr_matrix, "toarray", spy)
    sparse = MLPClassifier(**kw).fit(Xs, Y)
    assert shapes and max(shapes) <= 16
    np.testing.assert_array_equal(sparse.model_.flat_params, dense.model_.flat_params)
    shapes.clear()
    np.testing.assert_array_equal(sparse.predict_proba(sp.csc_matrix(Xs)),
                                  dense.predict_proba(Xs.toarray()))
    assert max(shapes) <= 1024
    lb = MLPRegressor(solver="lbfgs", hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    np.testing.assert_allclose(lb.fit(Xs, X[:, 0]).predict(Xs),
                               clone(lb).fit(Xs.toarray(), X[:, 0]).predict(Xs.toarray()))


def test_multilabel_and_multioutput():
    Ym = np.c_[Y == 0, Y == 1, X[:, 3] > 0].astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, learning_rate_init=0.01,
                        random_state=0).fit(X, Ym)
    assert clf.out_activation_ == "logistic" and clf.predict(X).shape == Ym.shape
    assert (clf.predict(X) == Ym).mean() > 0.85
    reg = MLPRegressor(hidden_layer_sizes=(16,), max_iter=300, learning_rate_init=0.01,
                       random_state=0)
    T = np.c_[X[:, 0], -X[:, 1]]
    assert reg.fit(X, T).predict(X).shape == (len(X), 2) and reg.score(X, T) > 0.8


# ----------------------------------------------------------------- weights

def test_weight_two_equals_repeating_the_row_and_zero_drops_it():
    # lbfgs: one deterministic objective, so the equivalences are exact up to rounding
    kw = dict(solver="lbfgs", hidden_layer_sizes=(6,), max_iter=30, random_state=0)
    w = np.ones(len(X))
    w[:10] = 2.0
    w[-15:] = 0.0
    Xr = np.r_[X[:-15], X[:10]]
    Yr = np.r_[Y[:-15], Y[:10]]
    a = MLPClassifier(**kw).fit(X, Y, sample_weight=w)
    b = MLPClassifier(**kw).fit(Xr, Yr)
    assert a.loss_ == pytest.approx(b.loss_, rel=1e-9)
    for ca, cb in zip(a.coefs_, b.coefs_):
        np.testing.assert_allclose(ca, cb, rtol=1e-6, atol=1e-9)


def test_class_weight_balanced_equals_its_sample_weights():
    Yi = np.r_[np.zeros(90, int), np.ones(30, int)]
    kw = dict(hidden_layer_sizes=(6,), max_iter=10, random_state=0)
    a = MLPClassifier(class_weight="balanced", **kw).fit(X, Yi)
    sw = np.where(Yi == 0, 120 / (2 * 90), 120 / (2 * 30))
    b = MLPClassifier(**kw).fit(X, Yi, sample_weight=sw)
    np.testing.assert_array_equal(a.model_.flat_params, b.model_.flat_params)
    c = MLPClassifier(class_weight={1: 3.0}, **kw).fit(X, Yi)
    d = MLPClassifier(**kw).fit(X, Yi, sample_weight=np.where(Yi == 1, 3.0, 1.0))
    np.testing.assert_array_equal(c.model_.flat_params, d.model_.flat_params)


@pytest.mark.parametrize("bad,match", [
    (-np.ones(len(X)), "Negative"), (np.full(len(X), np.nan), "NaN"),
    (np.ones(len(X) - 1), "shape"), (np.zeros(len(X)), "non-zero")])
def test_bad_sample_weights(bad, match):
    with pytest.raises(ValueError, match=match):
        MLPClassifier(max_iter=1).fit(X, Y, sample_weight=bad)


# ------------------------------------------------------------ nncore extras

def test_partial_fit_with_early_stopping_works():
    clf = MLPClassifier(hidden_layer_sizes=(8,), early_stopping=True, random_state=0,
                        n_iter_no_change=2)
    for _ in range(6):
        clf.partial_fit(X, Y, classes=[0, 1, 2])
    assert len(clf.validation_scores_) == 6 and len(clf.loss_curve_) == 6
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_dropout_is_seeded_and_changes_training():
    kw = dict(hidden_layer_sizes=(16, 8), max_iter=5, random_state=0)
    a = MLPClassifier(dropout=0.3, **kw).fit(X, Y)
    b = MLPClassifier(dropout=0.3, **kw).fit(X, Y)
    c = MLPClassifier(**kw).fit(X, Y)
    assert np.array_equal(a.model_.flat_params, b.model_.flat_params)
    assert not np.allclose(a.model_.flat_params, c.model_.flat_params)
    assert sum(isinstance(layer, nc.nn.Dropout) for layer in a.model_.layers) == 2
    d = MLPClassifier(dropout=[0.0, 0.5], **kw).fit(X, Y)
    assert [layer.p for layer in d.model_.layers if isinstance(layer, nc.nn.Dropout)] == [0.5]


def test_l1_penalty_is_in_the_loss_and_shrinks_weights():
    # one epoch of one full batch: loss_ is the loss at the initial weights
    kw = dict(hidden_layer_sizes=(8,), max_iter=1, random_state=0, batch_size=len(X),
              solver="sgd", alpha=0.0)
    plain = MLPClassifier(**kw).fit(X, Y)
    l1 = MLPClassifier(l1=0.5, **kw).fit(X, Y)
    init = _glorot([5, 8, 3], 0)
    w0 = np.abs(init[:5 * 8]).sum() + np.abs(init[5 * 8 + 8:5 * 8 + 8 + 8 * 3]).sum()
    assert l1.loss_ - plain.loss_ == pytest.approx(0.5 * w0 / len(X), rel=1e-9)
    big = dict(kw, max_iter=100, learning_rate_init=0.05)
    assert (sum(np.abs(c).sum() for c in MLPClassifier(l1=0.05, **big).fit(X, Y).coefs_)
            < sum(np.abs(c).sum() for c in MLPClassifier(**big).fit(X, Y).coefs_))


@pytest.mark.parametrize("solver", ["adamw", "rmsprop", "adagrad"])
def test_nncore_solvers_learn(solver):
    clf = MLPClassifier(hidden_layer_sizes=(16,), solver=solver, max_iter=100, random_state=0,
                        learning_rate_init=0.03, batch_size=32).fit(X, Y)
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]
    assert clf.score(X, Y) > 0.85


@pytest.mark.parametrize("act", ["leaky_relu", "elu", "gelu", "silu", "softplus", "tanh"])
def test_nncore_activations(act):
    clf = MLPRegressor(hidden_layer_sizes=(32,), activation=act, max_iter=300, batch_size=32,
                       learning_rate_init=0.01, random_state=0).fit(X, X[:, 0] * X[:, 1])
    assert clf.score(X, X[:, 0] * X[:, 1]) > 0.5


def test_clip_norm_bounds_the_first_step():
    kw = dict(hidden_layer_sizes=(8,), max_iter=1, random_state=0, batch_size=len(X),
              solver="sgd", momentum=0.0, learning_rate_init=1.0, alpha=0.0)
    init = _glorot([5, 8, 1], 0)
    free = MLPRegressor(**kw).fit(X, 100 * X[:, 0]).model_.flat_params
    clipped = MLPRegressor(clip_norm=0.5, **kw).fit(X, 100 * X[:, 0]).model_.flat_params
    assert np.linalg.norm(free - init) > 10
    assert np.linalg.norm(clipped - init) == pytest.approx(0.5, rel=1e-5)


def test_dtype_parameter():
    a = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, dtype="float32").fit(X, Y)
    assert a.model_.dtype == np.float32 and a.predict_proba(X).dtype == np.float32
    b = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(X.astype(np.float32), Y)
    assert b.model_.dtype == np.float32
    c = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(X.astype(int), Y)
    assert c.model_.dtype == np.float64


def test_coefs_are_views_and_assigned_arrays_are_copied_in():
    clf = _fitted()
    p = clf.predict_proba(X)
    clf.coefs_[0] *= 0  # in place: the network's own weights
    assert not np.array_equal(clf.predict_proba(X), p)
    clf2 = _fitted()
    clf2.coefs_ = [np.zeros_like(c) for c in clf2.coefs_]
    clf2.intercepts_ = [np.zeros_like(b) for b in clf2.intercepts_]
    np.testing.assert_allclose(clf2.predict_proba(X), 1 / 3)
    assert np.shares_memory(clf2.coefs_[0], clf2.model_.flat_params)


def test_assigned_coefs_survive_pickle_joblib_deepcopy():
    # arrays assigned in place of coefs_ / intercepts_ (and not yet used by a predict)
    # are the estimator's weights: a copy keeps them, as scikit-learn's does. All-zero
    # weights give the closed form 1 / n_classes for every row.
    clf = _fitted()
    clf.coefs_ = [np.zeros_like(c) for c in clf.coefs_]
    clf.intercepts_ = [np.zeros_like(b) for b in clf.intercepts_]
    for how, other in _roundtrips(clf).items():
        np.testing.assert_allclose(other.predict_proba(X), 1 / 3, err_msg=how)


# --------------------------------------------------------------- bad input

def test_nan_in_x_or_y_names_the_column():
    Xn = X.copy()
    Xn[7, 3] = np.nan
    with pytest.raises(ValueError, match="column 3"):
        MLPClassifier(max_iter=1).fit(Xn, Y)
    with pytest.raises(ValueError, match="column 3"):
        _fitted().predict(Xn)
    T = np.c_[X[:, 0], X[:, 1]]
    T[4, 1] = np.inf
    with pytest.raises(ValueError, match="column 1"):
        MLPRegressor(max_iter=1).fit(X, T)


def test_partial_fit_rejects_an_unknown_class():
    clf = MLPClassifier(max_iter=1).partial_fit(X, Y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, np.where(Y == 2, 5, Y))


def test_predict_before_fit_and_warm_start_with_other_features():
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)
    clf = _fitted(warm_start=True)
    with pytest.raises(ValueError, match="features"):
        clf.fit(X[:, :3], Y)


@pytest.mark.parametrize("params", [
    {"alpha": -1}, {"hidden_layer_sizes": (0,)}, {"hidden_layer_sizes": "ab"},
    {"activation": "swish"}, {"solver": "newton"}, {"batch_size": 0},
    {"learning_rate": "cyclic"}, {"learning_rate_init": 0}, {"max_iter": 0},
    {"momentum": 1.5}, {"validation_fraction": 1.0}, {"beta_2": 1.0}, {"epsilon": 0},
    {"n_iter_no_change": 0}, {"shuffle": "yes"}, {"dropout": 1.0}, {"dropout": [0.1, 0.2]},
    {"l1": -0.1}, {"clip_norm": 0}, {"dtype": "int32"}, {"n_threads": 0},
    {"solver": "lbfgs", "dropout": 0.2}, {"class_weight": "inverse"}])
def test_bad_parameters_raise(params):
    with pytest.raises((ValueError, TypeError)):
        MLPClassifier(max_iter=2, **params).fit(X, Y)


def test_regressor_bad_loss_and_negative_poisson_targets():
    with pytest.raises(ValueError, match="loss"):
        MLPRegressor(loss="huber", max_iter=1).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="poisson"):
        MLPRegressor(loss="poisson", max_iter=1).fit(X, X[:, 0])


def test_lbfgs_has_no_partial_fit():
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert hasattr(MLPClassifier(solver="adamw"), "partial_fit")


def test_import_without_sklearn_names_the_extra():
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "try:\n    import nncore.sklearn\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert 'pip install "nncore[sklearn]"' in out.stdout, out.stderr


def test_convergence_warning_like_sklearn():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, Y)
    assert any(issubclass(x.category, ConvergenceWarning) for x in w)


@pytest.mark.parametrize("weights", [None, "float64", "float32"])
@pytest.mark.parametrize("kind", ["int", "str", "multilabel"])
def test_validation_accuracy_is_accuracy_score(kind, weights):
    # the early-stopping score skips accuracy_score's input checks; the float must not move
    from sklearn.metrics import accuracy_score
    rng = np.random.default_rng(7)
    for n in (2, 7, 301):
        if kind == "multilabel":
            yt, yp = rng.integers(0, 2, (n, 3)), rng.integers(0, 2, (n, 3))
            yp[: n // 2] = yt[: n // 2]
        else:
            yt, yp = rng.integers(0, 4, n), rng.integers(0, 4, n)
            if kind == "str":
                yt, yp = np.array(list("abcd"))[yt], np.array(list("abcd"))[yp]
        sw = None if weights is None else rng.uniform(0, 3, n).astype(weights)
        assert validation_accuracy(yt, yp, sw) == accuracy_score(yt, yp, sample_weight=sw)


@pytest.mark.parametrize("weights", [None, "float64", "float32"])
@pytest.mark.parametrize("dtypes", [("float64", "float64"), ("float64", "float32"),
                                    ("float32", "float32")])
@pytest.mark.parametrize("k", [1, 3])
def test_validation_r2_is_r2_score(k, dtypes, weights):
    # the early-stopping score of the regressor skips r2_score's input checks
    from sklearn.metrics import r2_score
    rng = np.random.default_rng(8)
    for n in (2, 5, 301):
        yt = rng.normal(size=(n, k)).astype(dtypes[0])
        yp = (yt + rng.normal(size=(n, k)) * 0.3).astype(dtypes[1])
        if k == 3:
            yt[:, 1] = 2.0              # a constant output: r2_score's force_finite cases
            yp[:, 1] = 2.0 if n == 5 else yp[:, 1]
        if k == 1:
            yt, yp = yt[:, 0], yp[:, 0]
        sw = None if weights is None else rng.uniform(0, 3, n).astype(weights)
        assert validation_r2(yt, yp, sw) == r2_score(yt, yp, sample_weight=sw)


def test_class_weight_balanced_in_partial_fit_counts_the_classes_of_the_batch():
    # a partial_fit batch holding 2 of the 3 declared classes: 'balanced' weighs them as
    # compute_class_weight does on that batch (n_samples / (2 * count)), not over n_classes
    from sklearn.utils.class_weight import compute_class_weight
    yb = np.r_[np.zeros(90, int), np.ones(30, int)]
    kw = dict(hidden_layer_sizes=(6,), random_state=0)
    a = MLPClassifier(class_weight="balanced", **kw).partial_fit(X, yb, classes=[0, 1, 2])
    present = np.unique(yb)
    cw = compute_class_weight("balanced", classes=present, y=yb)
    sw = cw[np.searchsorted(present, yb)]
    b = MLPClassifier(**kw).partial_fit(X, yb, classes=[0, 1, 2], sample_weight=sw)
    np.testing.assert_array_equal(a.model_.flat_params, b.model_.flat_params)
