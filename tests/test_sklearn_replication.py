"""nncore.sklearn reproduces scikit-learn's own MLP runs (the peer is the oracle).

With float64 data and an int random_state, the same hyperparameters give the same
initial weights, shuffles, validation split, updates, schedules and stopping:
loss_curve_, coefs_ and intercepts_ agree to rtol 1e-6 after 10 epochs (measured:
about 1e-15, rounding only) for sgd / adam x {shuffle, no shuffle, early stopping,
sample weights, warm start, partial_fit, learning-rate schedules} x {binary,
multiclass, multilabel classification, regression, multi-output regression}.
lbfgs (scipy over the flat buffer) agrees to rtol 1e-4 after 50 iterations: the
line searches amplify rounding differences (measured: 1e-15 to 4e-5).
"""
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn import neural_network as sk_nn  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer  # noqa: E402

import nncore as nc  # noqa: E402
from nncore import sklearn as nc_sk  # noqa: E402

RTOL = 1e-6
LBFGS_RTOL = 1e-4


def _data():
    rng = np.random.RandomState(0)
    X = rng.randn(150, 6)
    return {
        "X": X,
        "binary": (X[:, 0] + X[:, 1] > 0).astype(int),
        "multiclass": np.digitize(X[:, 0], [-0.5, 0.5]),
        "multilabel": (X[:, :3] > 0).astype(int),
        "regression": X[:, :2] @ [1.0, -2.0] + 0.1 * rng.randn(150),
        "multioutput": np.c_[X[:, :2] @ [1.0, -2.0], np.sin(X[:, 3])],
        "poisson": rng.poisson(np.exp(0.3 * X[:, 0])).astype(float),
        "sw": rng.uniform(0, 2, 150),
    }


DATA = _data()
TASKS = ["binary", "multiclass", "multilabel", "regression", "multioutput"]


def _pair(task, **kw):
    if task in ("binary", "multiclass", "multilabel"):
        return sk_nn.MLPClassifier(**kw), nc_sk.MLPClassifier(**kw)
    if task == "poisson":
        return sk_nn.MLPRegressor(loss="poisson", **kw), nc_sk.MLPRegressor(loss="poisson", **kw)
    return sk_nn.MLPRegressor(**kw), nc_sk.MLPRegressor(**kw)


def _close(a, b, rtol):
    """Relative to the largest magnitude of a's array (coefficients near 0 are not
    compared relatively on their own)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    np.testing.assert_allclose(b, a, rtol=rtol, atol=rtol * np.max(np.abs(a)))


def assert_same_run(sk, nc, rtol=RTOL, curve=True):
    assert nc.n_iter_ == sk.n_iter_
    assert nc.n_layers_ == sk.n_layers_ and nc.n_outputs_ == sk.n_outputs_
    assert nc.out_activation_ == sk.out_activation_
    if curve:
        assert nc.t_ == sk.t_
        _close(sk.loss_curve_, nc.loss_curve_, rtol)
        if sk.validation_scores_ is not None:
            _close(sk.validation_scores_, nc.validation_scores_, rtol)
            assert nc.best_validation_score_ == pytest.approx(sk.best_validation_score_, rel=rtol)
        else:
            assert nc.validation_scores_ is None and nc.best_validation_score_ is None
            assert nc.best_loss_ == pytest.approx(sk.best_loss_, rel=rtol)
    assert nc.loss_ == pytest.approx(sk.loss_, rel=rtol)
    for a, b in zip(sk.coefs_ + sk.intercepts_, nc.coefs_ + nc.intercepts_):
        _close(a, b, rtol)


VARIANTS = {
    "plain": {},
    "no_shuffle": {"shuffle": False},
    "early_stopping": {"early_stopping": True, "validation_fraction": 0.2},
    "sample_weight": {},
    "invscaling": {"learning_rate": "invscaling", "learning_rate_init": 0.05},
    "adaptive": {"learning_rate": "adaptive", "n_iter_no_change": 2, "tol": 0.5},
    "no_nesterov": {"nesterovs_momentum": False},
}


SGD_ONLY = ("invscaling", "adaptive", "no_nesterov")
SOLVER_VARIANTS = [(s, v) for s in ("sgd", "adam") for v in VARIANTS
                   if s == "sgd" or v not in SGD_ONLY]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("solver,variant", SOLVER_VARIANTS)
def test_fit_reproduces_sklearn(solver, variant, task):
    kw = dict(hidden_layer_sizes=(8, 5), solver=solver, max_iter=10, random_state=1,
              learning_rate_init=0.01, batch_size=32)
    kw.update(VARIANTS[variant])
    sw = DATA["sw"] if variant == "sample_weight" else None
    sk, nc = _pair(task, **kw)
    sk.fit(DATA["X"], DATA[task], sample_weight=sw)
    nc.fit(DATA["X"], DATA[task], sample_weight=sw)
    assert_same_run(sk, nc)
    if variant == "adaptive" and solver == "sgd":
        assert nc._optimizer.learning_rate == pytest.approx(sk._optimizer.learning_rate)
        assert nc._optimizer.learning_rate < kw["learning_rate_init"]  # the schedule ran


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_warm_start_reproduces_sklearn(solver, task):
    kw = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=5, random_state=2,
              learning_rate_init=0.01, batch_size=40, warm_start=True)
    sk, nc = _pair(task, **kw)
    for est in (sk, nc):
        est.fit(DATA["X"], DATA[task])
        est.set_params(max_iter=4)
        est.fit(DATA["X"], DATA[task], sample_weight=DATA["sw"])
    assert len(nc.loss_curve_) == 9
    assert_same_run(sk, nc)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_reproduces_sklearn(solver, task):
    # alternating unweighted (the fused C loss) and weighted (the NumPy loss) calls
    kw = dict(hidden_layer_sizes=(8, 4), solver=solver, random_state=3,
              learning_rate_init=0.01, batch_size=32)
    sk, nc = _pair(task, **kw)
    extra = {"classes": np.unique(DATA[task])} if task in ("binary", "multiclass") else {}
    if task == "multilabel":
        extra = {"classes": [0, 1, 2]}
    for i in range(4):
        sw = DATA["sw"] if i % 2 else None
        sk.partial_fit(DATA["X"], DATA[task], sample_weight=sw, **extra)
        nc.partial_fit(DATA["X"], DATA[task], sample_weight=sw, **extra)
    assert_same_run(sk, nc)


@pytest.mark.parametrize("task", ["multiclass", "regression"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_follows_alpha_set_between_calls(solver, task):
    # scikit-learn reads alpha at every step: set_params(alpha=...) between partial_fit
    # calls changes the gradient of the next call (its optimizer is kept, alpha is not)
    kw = dict(hidden_layer_sizes=(8,), solver=solver, random_state=3,
              learning_rate_init=0.01, batch_size=32)
    sk, nc = _pair(task, **kw)
    extra = {"classes": np.unique(DATA[task])} if task == "multiclass" else {}
    for est in (sk, nc):
        est.partial_fit(DATA["X"], DATA[task], **extra)
        est.set_params(alpha=3.0)
        est.partial_fit(DATA["X"], DATA[task])
        est.partial_fit(DATA["X"], DATA[task])
    assert_same_run(sk, nc)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_sparse_multilabel_y_with_early_stopping_reproduces_sklearn(solver):
    # a sparse indicator y: the label binarizer decodes the validation targets and the
    # predictions to sparse matrices, which the early-stopping score must take
    import scipy.sparse as sp
    kw = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=10, random_state=1,
              learning_rate_init=0.05, early_stopping=True, validation_fraction=0.2)
    sk, nc = _pair("multilabel", **kw)
    Ys = sp.csr_matrix(DATA["multilabel"])
    sk.fit(DATA["X"], Ys)
    nc.fit(DATA["X"], Ys)
    assert_same_run(sk, nc)
    assert sp.issparse(nc.predict(DATA["X"]))
    assert (nc.predict(DATA["X"]) != sk.predict(DATA["X"])).nnz == 0


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_saturated_log_loss_is_clipped_like_sklearn(solver, task, weighted):
    # unscaled inputs (pixel values and the like) saturate the output probabilities;
    # scikit-learn's log loss clips them to [eps, 1 - eps], so a row's loss is at most
    # -log(eps): loss_curve_, best_loss_ and the stopping rule built on them follow that
    kw = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=12, random_state=1,
              learning_rate_init=0.05, batch_size=32, n_iter_no_change=3, tol=0.5)
    sw = DATA["sw"] if weighted else None
    X = DATA["X"] * 300.0
    sk, nc = _pair(task, **kw)
    sk.fit(X, DATA[task], sample_weight=sw)
    nc.fit(X, DATA[task], sample_weight=sw)
    assert max(sk.loss_curve_) > 5   # saturated: some rows at the clipped maximum
    assert_same_run(sk, nc)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_poisson_reproduces_sklearn(solver, weighted):
    # stochastic solvers: nncore's C PoissonLoss in the fused train_step
    kw = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=10, random_state=1,
              learning_rate_init=0.005, batch_size=32)
    sw = DATA["sw"] if weighted else None
    sk, nc = _pair("poisson", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(DATA["X"], DATA["poisson"], sample_weight=sw)
        nc.fit(DATA["X"], DATA["poisson"], sample_weight=sw)
    if solver == "lbfgs":
        assert_same_run(sk, nc, rtol=LBFGS_RTOL, curve=False)
        return
    assert_same_run(sk, nc)
    np.testing.assert_allclose(nc.predict(DATA["X"]), sk.predict(DATA["X"]), rtol=RTOL)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel", "regression"])
@pytest.mark.parametrize("weighted", [False, True])
def test_lbfgs_reproduces_sklearn(task, weighted):
    kw = dict(hidden_layer_sizes=(8, 5), solver="lbfgs", max_iter=50, random_state=1)
    sw = DATA["sw"] if weighted else None
    sk, nc = _pair(task, **kw)
    sk.fit(DATA["X"], DATA[task], sample_weight=sw)
    nc.fit(DATA["X"], DATA[task], sample_weight=sw)
    assert_same_run(sk, nc, rtol=LBFGS_RTOL, curve=False)


@pytest.mark.parametrize("task", TASKS)
def test_predictions_match_sklearn(task):
    kw = dict(hidden_layer_sizes=(8,), max_iter=3, random_state=4, learning_rate_init=0.01)
    sk, nc = _pair(task, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(DATA["X"], DATA[task])
        nc.fit(DATA["X"], DATA[task])
    X = DATA["X"][::3]
    np.testing.assert_array_equal(nc.predict(X), sk.predict(X)) if task in TASKS[:3] else \
        np.testing.assert_allclose(nc.predict(X), sk.predict(X), rtol=1e-12, atol=1e-12)
    if task in TASKS[:3]:
        np.testing.assert_allclose(nc.predict_proba(X), sk.predict_proba(X), rtol=1e-12,
                                   atol=1e-15)
        np.testing.assert_allclose(nc.predict_log_proba(X), sk.predict_log_proba(X),
                                   rtol=1e-12)
    assert nc.score(X, DATA[task][::3]) == pytest.approx(sk.score(X, DATA[task][::3]),
                                                        rel=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_float32_stays_float32_close_to_sklearn():
    # float32 rounding differs between the C kernels and NumPy: a measured bound
    X = DATA["X"].astype(np.float32)
    kw = dict(hidden_layer_sizes=(8, 5), max_iter=10, random_state=1, learning_rate_init=0.01,
              batch_size=32)
    sk, nc = _pair("multiclass", **kw)
    sk.fit(X, DATA["multiclass"])
    nc.fit(X, DATA["multiclass"])
    assert nc.model_.dtype == np.float32 and all(c.dtype == np.float32 for c in nc.coefs_)
    assert_same_run(sk, nc, rtol=1e-5)


def test_adam_matches_sklearns_optimizer_formula():
    # five Adam updates with a large epsilon (where the forms differ) against
    # scikit-learn's AdamOptimizer itself
    model = nc.nn.Sequential(nc.nn.Linear(3, 2), dtype="float64", seed=0)
    p0 = model.flat_params.copy()
    rng = np.random.default_rng(0)
    opt = nc.optim.Adam(model.parameters(), lr=0.1, eps=0.5, eps_hat=True)
    params = [p0.copy()]
    sk = AdamOptimizer(params, learning_rate_init=0.1, epsilon=0.5)
    for _ in range(5):
        g = rng.standard_normal(p0.size)
        model.flat_grads[...] = g
        opt.step()
        sk.update_params(params, [g])
    np.testing.assert_allclose(model.flat_params, params[0], rtol=1e-13)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("task", ["multiclass", "multioutput", "poisson"])
def test_lbfgs_in_chunks_reproduces_sklearn(monkeypatch, task, sparse):
    # the evaluation in several fused C calls (chunks of 40 rows, one of them weighing
    # nothing, a sparse X densified chunk by chunk) is still scikit-learn's
    import scipy.sparse as sp
    from nncore.sklearn import _lbfgs
    monkeypatch.setattr(_lbfgs, "_CHUNK", 40)
    sw = DATA["sw"].copy()
    sw[40:80] = 0.0
    kw = dict(hidden_layer_sizes=(8, 5), solver="lbfgs", max_iter=50, random_state=1)
    sk, nc = _pair(task, **kw)
    X = sp.csr_matrix(DATA["X"]) if sparse else DATA["X"]
    sk.fit(DATA["X"], DATA[task], sample_weight=sw)
    nc.fit(X, DATA[task], sample_weight=sw)
    assert_same_run(sk, nc, rtol=LBFGS_RTOL, curve=False)
