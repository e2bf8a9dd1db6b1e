"""The minibatch loop of the 'sgd' / 'adam' (and nncore's) solvers, step for step
scikit-learn's: the same validation split, shuffles, batches, loss curve, stopping
rules and learning-rate schedules, consuming the estimator's RandomState in the
same order.

What it is for: ``fit_stochastic``, one fit or one partial_fit call. Each batch
is ONE fused C ``train_step`` (forward, loss with the rows' sample weights,
backward, update): every output activation's loss is an nncore C loss up to
constant factors (``_outputs``). Its value is scikit-learn's except where output
probabilities saturate: there scikit-learn clips them inside its log loss, and the
batch's value is computed its way from the step's outputs (``BatchStep.clipped_value``).
What it is not: the optimizer mapping (``_solvers``) or the input checks
(``_base``).
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from ._data import dense_rows
from ._outputs import OutputSpec, activate, log_loss_clips, loss_value, output_spec
from ._solvers import Solver

__all__ = ["fit_stochastic", "BatchStep"]


class BatchStep:
    """One training step on a batch; returns scikit-learn's batch loss (the data loss
    plus ``alpha / 2 * ||W||^2 / sum(w)`` and nncore's ``l1 * |W|_1 / sum(w)``, at the
    weights before the update).

    Parameters
    ----------
    est : the estimator (alpha, l1, clip_norm)
    spec : OutputSpec
    solver : Solver
    """

    def __init__(self, est: Any, spec: OutputSpec, solver: Solver) -> None:
        self.model = est.model_
        self.spec, self.solver = spec, solver
        self.c = solver.c
        self.alpha, self.l1 = float(est.alpha), float(est.l1)
        self.clip = est.clip_norm
        self.clip_c = 0.0 if self.clip is None else float(self.clip) * self.c
        self.weights = [p.data.reshape(-1) for p in self.model.parameters() if not p.is_bias]
        # the outputs of each step (log losses only): scikit-learn's value when they saturate
        self.keep_out = spec.name in ("softmax", "logistic")
        self.out = np.empty((0, self.model.out_features), self.model.dtype)

    def penalty(self, sw_sum: float) -> float:
        sq = 0.0
        for w in self.weights:
            sq += float(np.dot(w, w))
        pen = 0.5 * self.alpha * sq / sw_sum
        if self.l1:
            pen += self.l1 * sum(float(np.abs(w).sum()) for w in self.weights) / sw_sum
        return pen

    def __call__(self, xb: np.ndarray, tb: np.ndarray | None, lb: np.ndarray | None,
                 swb: np.ndarray | None) -> float:
        """xb (b, features) C-contiguous in the model's dtype; the C loss's target: tb
        (b, k) or class labels lb (b,) int64 (checked once per fit, see
        ``c_targets``); swb (b,) or None."""
        sw_sum = float(len(xb)) if swb is None else float(swb.sum())
        if sw_sum == 0:
            return 0.0  # every row weighs 0: nothing to learn from this batch
        pen = self.penalty(sw_sum)
        solver, model, spec = self.solver, self.model, self.spec
        solver.before_step(sw_sum)
        # Sequential.train_step without its per-call checks (the targets were checked
        # once for the whole fit, xb is laid out for C), as nncore.training.fit steps
        out = None
        if self.keep_out:
            if len(self.out) < len(xb):
                self.out = np.empty((len(xb), self.model.out_features), self.model.dtype)
            out = self.out[:len(xb)]
        value = model.train_step_prepared(xb, tb, lb, self.c_spec, solver.opt, self.clip_c,
                                          0.0, swb, out) * spec.value_scale
        if out is not None and log_loss_clips(spec.name, out):
            value = self.clipped_value(out, tb, lb, swb)
        return value + pen

    def clipped_value(self, z: np.ndarray, tb: np.ndarray | None, lb: np.ndarray | None,
                      swb: np.ndarray | None) -> float:
        """scikit-learn's log loss of the batch from its raw outputs z (b, k) (overwritten),
        probabilities clipped to [eps, 1 - eps]: where the exact C loss of saturated
        outputs (a row's loss far above -log(eps)) leaves scikit-learn's value."""
        if tb is None:   # softmax: the class labels as scikit-learn's one-hot rows
            tb = np.zeros_like(z)
            tb[np.arange(len(z)), lb] = 1
        return loss_value(self.spec.name, tb, activate(self.spec.name, z), swb)

    def c_targets(self, Y: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The C loss's targets of the rows of Y (n, k), checked once: (target, labels)."""
        loss = self.spec.c_loss
        y = Y.argmax(axis=1) if self.spec.labels else Y
        t = loss.check_target(y, (len(Y), self.model.out_features), self.model.dtype)
        self.c_spec = loss._c_spec(self.spec.labels)
        return (None, t) if self.spec.labels else (t, None)


def _shuffled(idx: np.ndarray, rs: np.random.RandomState) -> np.ndarray:
    """``sklearn.utils.shuffle(idx, random_state=rs)``: the same draw from rs (a shuffle
    of arange(n)) and the same result, without its per-call parameter validation (half a
    millisecond, as much as an epoch of a small network)."""
    perm = np.arange(len(idx))
    rs.shuffle(perm)
    return idx[perm]


def _split(est: Any, X: Any, Y: np.ndarray, sw: np.ndarray | None):
    """scikit-learn's early-stopping split: (X_tr, Y_tr, sw_tr, X_val, y_val, sw_val)."""
    stratify = Y if (est._is_classifier and est.n_outputs_ == 1) else None
    arrays = (X, Y) if sw is None else (X, Y, sw)
    parts = train_test_split(*arrays, random_state=est._random_state,
                             test_size=est.validation_fraction, stratify=stratify)
    X_tr, X_val, Y_tr, Y_val = parts[:4]
    sw_tr, sw_val = (parts[4], parts[5]) if sw is not None else (None, None)
    if X_val.shape[0] < 2:
        raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                         "or the size of your dataset.")
    return X_tr, Y_tr, sw_tr, X_val, est._validation_targets(Y_val), sw_val


def _update_no_improvement_count(est: Any, early: bool, X_val, y_val, sw_val) -> None:
    if early:
        score = est._score(X_val, y_val, sample_weight=sw_val)
        est.validation_scores_.append(score)
        if est.verbose:
            print("Validation score: %f" % score)
        if score < est.best_validation_score_ + est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if score > est.best_validation_score_:
            est.best_validation_score_ = score
            est._best_params = est.model_.flat_params.copy()
    else:
        last = est.loss_curve_[-1]
        if last > est.best_loss_ - est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if last < est.best_loss_:
            est.best_loss_ = last


def fit_stochastic(est: Any, X: Any, Y: np.ndarray, sw: np.ndarray | None,
                   incremental: bool) -> None:
    """Train ``est.model_`` for one fit (up to max_iter epochs) or one partial_fit
    call (one epoch). X (n, features) dense or CSR; Y (n, k) the binarized labels
    (bool) or the regression targets; sw (n,) or None."""
    model = est.model_
    dtype = model.dtype
    spec = output_spec(est.out_activation_, est.n_outputs_)
    if not incremental or not hasattr(est, "_optimizer"):
        est._optimizer = Solver(est, model, spec.grad_scale)
    else:
        est._optimizer.refresh(est)
    solver = est._optimizer
    early = bool(est.early_stopping)
    if early:
        X_tr, Y_tr, sw_tr, X_val, y_val, sw_val = _split(est, X, Y, sw)
    else:
        X_tr, Y_tr, sw_tr = X, Y, sw
        X_val = y_val = sw_val = None
    n = X_tr.shape[0]
    if est.batch_size == "auto":
        batch_size = min(200, n)
    else:
        if est.batch_size > n:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                          "going to be clipped")
        batch_size = int(np.clip(est.batch_size, 1, n))
    sparse = sp.issparse(X_tr)
    if not sparse:
        X_tr = np.ascontiguousarray(X_tr, dtype=dtype)
        if early:   # laid out for C once, not by every epoch's validation pass
            X_val = np.ascontiguousarray(X_val, dtype=dtype)
        xbuf = np.empty((batch_size, X_tr.shape[1]), dtype)
    step = BatchStep(est, spec, solver)
    Yf_tr = np.ascontiguousarray(Y_tr, dtype=dtype)
    T_tr, L_tr = step.c_targets(Yf_tr)
    sample_idx = np.arange(n, dtype=int)
    stopped = False
    try:
        est.n_iter_ = 0
        for _ in range(est.max_iter):
            if est.shuffle:
                sample_idx = _shuffled(sample_idx, est._random_state)
                order = sample_idx
            else:
                order = None
            # the batch's rows of a shuffled dense X are gathered into one reused buffer
            # (a gather of the whole epoch is as many bytes, but into fresh pages: 95 ms
            # an epoch for 20,000 x 784 here); sparse rows are densified batch by batch
            Te = T_tr if (order is None or T_tr is None) else T_tr[order]
            Le = L_tr if (order is None or L_tr is None) else L_tr[order]
            We = sw_tr if (order is None or sw_tr is None) else sw_tr[order]
            accumulated = 0.0
            for s in range(0, n, batch_size):
                e = min(s + batch_size, n)
                if sparse:
                    rows = slice(s, e) if order is None else order[s:e]
                    xb = dense_rows(X_tr, rows, dtype)
                elif order is None:
                    xb = X_tr[s:e]
                else:   # mode="clip": np.take buffers its out= in mode "raise"
                    xb = np.take(X_tr, order[s:e], axis=0, out=xbuf[:e - s], mode="clip")
                swb = None if We is None else We[s:e]
                tb = None if Te is None else Te[s:e]
                lb = None if Le is None else Le[s:e]
                accumulated += step(xb, tb, lb, swb) * (e - s)
            est.n_iter_ += 1
            est.loss_ = accumulated / n
            est.t_ += n
            est.loss_curve_.append(est.loss_)
            if est.verbose:
                print("Iteration %d, loss = %.8f" % (est.n_iter_, est.loss_))
            _update_no_improvement_count(est, early, X_val, y_val, sw_val)
            solver.iteration_ends(est.t_)
            if est._no_improvement_count > est.n_iter_no_change:
                if early:
                    msg = ("Validation score did not improve more than tol=%f for %d "
                           "consecutive epochs." % (est.tol, est.n_iter_no_change))
                else:
                    msg = ("Training loss did not improve more than tol=%f for %d "
                           "consecutive epochs." % (est.tol, est.n_iter_no_change))
                if solver.trigger_stopping(msg, est.verbose):
                    stopped = True
                    break
                est._no_improvement_count = 0
            if incremental:
                break
            if est.n_iter_ == est.max_iter:
                warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the "
                              "optimization hasn't converged yet." % est.max_iter,
                              ConvergenceWarning)
    except KeyboardInterrupt:
        warnings.warn("Training interrupted by user.")
    if early and (not incremental or stopped):
        model.flat_params[...] = est._best_params  # the best weights seen
