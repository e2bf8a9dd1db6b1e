"""The 'lbfgs' solver: scipy's L-BFGS-B over the network's ONE flat parameter buffer.

What it is for: ``fit_lbfgs``. Each evaluation writes the point into the flat
buffer and computes the gradient in ONE fused C call (``Sequential.
train_step_prepared``: forward, scikit-learn's loss as an nncore C loss with the rows'
sample weights, backward into the flat gradient buffer), per chunk of at most
``_CHUNK`` rows (a sparse X densified chunk by chunk), keeping the network's outputs;
the loss VALUE is scikit-learn's formula on those outputs (``_outputs.loss_value``),
then the L2 (and L1) terms of the weights are added. What it is not: the stochastic
solvers (``_stochastic``).

The fused call ends with an optimizer update (plain SGD, no momentum or decay): it
moves the parameters away from the point, which is written back before the next
chunk's call; every evaluation writes its own point first and the fit ends by writing
scipy's result. The gradient buffer is only read by that update.

The vector scipy sees is in scikit-learn's packing order (every layer's coefficients
(in, out) row by row, then every intercept), one gather / scatter per evaluation:
the same point in the same order as scikit-learn's run, so its line searches take
the same decisions while the sums agree to rounding. The value is computed as
scikit-learn computes it, not taken from the C loss: scikit-learn clips probabilities
to [eps, 1 - eps] inside its log loss, the C losses take log-softmax / log-sigmoid
exactly, and on separable data (saturated probabilities) that difference changes the
line searches' decisions within a few dozen iterations.

scipy's L-BFGS-B runs with ONE BLAS thread: its vector operations are level-1/2 BLAS on
n_params-long vectors, where OpenBLAS's threads cost more than they save (measured on 2
cores: 17,000 parameters, 100 iterations, 1.5 s with 2 BLAS threads, 0.03 s with 1),
and a single thread makes its sums independent of the BLAS thread count. nncore's own
threads (the forward and backward) are not limited.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from .. import optim
from ._data import dense_rows
from ._outputs import activate, loss_value, output_spec

__all__ = ["fit_lbfgs", "packing_order", "Evaluation"]

_CHUNK = 8192  # rows per fused C call: bounds the workspace, not the result


def packing_order(model: Any) -> np.ndarray:
    """Indices into ``model.flat_params`` in scikit-learn's packing order."""
    linears = [layer for layer in model.layers if getattr(layer, "weight", None) is not None]
    coefs, inters = [], []
    for layer in linears:
        w = layer.weight
        idx = w.offset + np.arange(w.size).reshape(w.shape)  # (out, in)
        coefs.append(idx.T.ravel())                          # (in, out) row by row
        inters.append(layer.bias.offset + np.arange(layer.bias.size))
    return np.concatenate(coefs + inters)


class Evaluation:
    """scikit-learn's full-batch loss and gradient at a point, in packing order.

    Parameters
    ----------
    est : the estimator (model_, out_activation_, n_outputs_, alpha, l1)
    X : ndarray or CSR matrix (n, features)
    Y : ndarray (n, k)
        The binarized labels or the regression targets.
    sw : ndarray (n,) or None
    """

    def __init__(self, est: Any, X: Any, Y: np.ndarray, sw: np.ndarray | None) -> None:
        model = self.model = est.model_
        dtype = model.dtype
        self.name = est.out_activation_
        spec = output_spec(self.name, est.n_outputs_)
        self.grad_scale = spec.grad_scale
        loss = spec.c_loss
        self.c_spec = loss._c_spec(spec.labels)
        n = X.shape[0]
        self.sw_sum = float(n) if sw is None else float(sw.sum())
        self.alpha, self.l1 = float(est.alpha), float(est.l1)
        self.order = packing_order(model)
        self.n_coef = sum(p.size for p in model.parameters() if not p.is_bias)
        self.opt = optim.SGD(model.parameters(), lr=1.0)   # its update is discarded
        Yf = self.Yf = np.ascontiguousarray(Y, dtype=dtype)
        self.sw = sw
        self.P = np.zeros((n, model.out_features), dtype)   # the outputs of an evaluation
        target = loss.check_target(Yf.argmax(axis=1) if spec.labels else Yf,
                                   (n, model.out_features), dtype)
        sparse = sp.issparse(X)
        if not sparse:
            X = np.ascontiguousarray(X, dtype=dtype)   # once, not per evaluation
        # (x or rows of a sparse X, target, labels, weights, weight share, P's rows); a
        # chunk that weighs 0 is skipped, its rows of P set to 0 before each value
        self.chunks, self.skipped = [], []
        for s in range(0, n, _CHUNK):
            e = min(s + _CHUNK, n)
            w = None if sw is None else np.ascontiguousarray(sw[s:e], dtype=dtype)
            share = (e - s) if w is None else float(w.sum())
            if share == 0:
                self.skipped.append(slice(s, e))   # every row weighs 0: contributes nothing
                continue
            t = target[s:e]
            self.chunks.append((slice(s, e) if sparse else X[s:e], None if spec.labels else t,
                                t if spec.labels else None, w, share / self.sw_sum,
                                self.P[s:e]))
        self.X = X if sparse else None

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """(loss, gradient (float64, packing order)) at the point x (packing order)."""
        model, order = self.model, self.order
        flat, grads = model.flat_params, model.flat_grads
        flat[order] = x
        step, spec, opt = model.train_step_prepared, self.c_spec, self.opt
        if len(self.chunks) == 1:
            xb, t, lab, w, _, out = self.chunks[0]
            if self.X is not None:
                xb = dense_rows(self.X, xb, model.dtype)
            step(xb, t, lab, spec, opt, 0.0, 0.0, w, out)
            g = grads[order].astype(np.float64)
        else:
            g = np.zeros(len(order))
            point = flat.copy()
            for i, (xb, t, lab, w, share, out) in enumerate(self.chunks):
                if i:
                    flat[...] = point   # undo the previous chunk's update
                if self.X is not None:
                    xb = dense_rows(self.X, xb, model.dtype)
                step(xb, t, lab, spec, opt, 0.0, 0.0, w, out)
                g += share * grads[order]
        g /= self.grad_scale
        for rows in self.skipped:
            self.P[rows] = 0.0   # finite (the activation below works in place)
        value = loss_value(self.name, self.Yf, activate(self.name, self.P), self.sw)
        wts = x[:self.n_coef]
        g[:self.n_coef] += (self.alpha / self.sw_sum) * wts
        value += 0.5 * self.alpha * float(np.dot(wts, wts)) / self.sw_sum
        if self.l1:
            g[:self.n_coef] += (self.l1 / self.sw_sum) * np.sign(wts)
            value += self.l1 * float(np.abs(wts).sum()) / self.sw_sum
        return value, g


def fit_lbfgs(est: Any, X: Any, Y: np.ndarray, sw: np.ndarray | None) -> None:
    """Minimize the full-batch loss; sets ``n_iter_`` and ``loss_``."""
    fun = Evaluation(est, X, Y, sw)
    flat, order = est.model_.flat_params, fun.order

    iters = [0]

    def report(intermediate_result: Any) -> None:
        iters[0] += 1
        print("Iteration %d, loss = %.8f" % (iters[0], intermediate_result.fun))

    with threadpool_limits(limits=1, user_api="blas"):
        res = scipy.optimize.minimize(
            fun, flat[order].astype(np.float64), method="L-BFGS-B", jac=True,
            options={"maxfun": est.max_fun, "maxiter": est.max_iter, "gtol": est.tol},
            callback=report if est.verbose else None)
    if res.status != 0:
        msg = res.message.decode() if isinstance(res.message, bytes) else res.message
        warnings.warn(f"lbfgs failed to converge after {res.nit} iteration(s) (status="
                      f"{res.status}):\n{msg}\n\nIncrease the number of iterations to improve "
                      f"the convergence (max_iter={est.max_iter}).", ConvergenceWarning)
    est.n_iter_ = min(int(res.nit), est.max_iter)
    est.loss_ = float(res.fun)
    flat[order] = res.x
