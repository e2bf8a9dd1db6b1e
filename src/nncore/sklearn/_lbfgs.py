"""The 'lbfgs' solver: scipy's L-BFGS-B over the network's ONE flat parameter buffer.

What it is for: ``fit_lbfgs``. Each evaluation copies the point into the flat
buffer, runs the C forward and backward over the data (in chunks of rows, a sparse
X densified chunk by chunk) with scikit-learn's loss gradient w (act(z) - y) / sum(w)
from NumPy, adds the L2 (and L1) gradient of the weights, and hands back the flat
gradient. What it is not: the stochastic solvers (``_stochastic``).

The vector scipy sees is in scikit-learn's packing order (every layer's coefficients
(in, out) row by row, then every intercept), one gather / scatter per evaluation:
the same point in the same order as scikit-learn's run, so its line searches take
the same decisions while the sums agree to rounding.

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
from threadpoolctl import threadpool_limits
from sklearn.exceptions import ConvergenceWarning

from ._data import dense_rows
from ._outputs import activate, loss_value

__all__ = ["fit_lbfgs", "packing_order"]

_CHUNK = 8192  # rows per forward/backward call: bounds the workspace, not the result


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


def loss_and_grad(est: Any, X: Any, Yf: np.ndarray, sw: np.ndarray | None) -> float:
    """scikit-learn's full-batch loss at the model's current weights; leaves its
    gradient in ``model.flat_grads``."""
    model = est.model_
    n = X.shape[0]
    sw_sum = float(n) if sw is None else float(sw.sum())
    P = np.empty((n, model.out_features), model.dtype)
    model.zero_grad()
    for s in range(0, n, _CHUNK):
        e = min(s + _CHUNK, n)
        p = activate(est.out_activation_, model.forward(dense_rows(X, slice(s, e), model.dtype),
                                                        training=True))
        P[s:e] = p
        d = p - Yf[s:e]
        if sw is not None:
            d *= sw[s:e, None]
        d /= sw_sum
        model.backward(d)
    value = loss_value(est.out_activation_, Yf, P, sw)
    sq = l1 = 0.0
    for p in model.parameters():
        if p.is_bias:
            continue
        w = p.data.reshape(-1)
        sq += float(np.dot(w, w))
        p.grad[...] += (est.alpha / sw_sum) * p.data
        if est.l1:
            l1 += float(np.abs(w).sum())
            p.grad[...] += (est.l1 / sw_sum) * np.sign(p.data)
    return value + 0.5 * est.alpha * sq / sw_sum + est.l1 * l1 / sw_sum


def fit_lbfgs(est: Any, X: Any, Y: np.ndarray, sw: np.ndarray | None) -> None:
    """Minimize the full-batch loss; sets ``n_iter_`` and ``loss_``."""
    model = est.model_
    flat, grads = model.flat_params, model.flat_grads
    order = packing_order(model)
    Yf = np.ascontiguousarray(Y, dtype=model.dtype)

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        flat[order] = x
        value = loss_and_grad(est, X, Yf, sw)
        return value, grads[order].astype(np.float64)

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
