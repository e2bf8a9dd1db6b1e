"""scikit-learn's stochastic solvers run by nncore's fused C optimizers.

What it is for: :class:`Solver` holds an nncore optimizer over ONE network and sets
its hyperparameters before every step so that the C update equals scikit-learn's
'sgd' and 'adam' updates, and keeps scikit-learn's learning-rate schedules
(``iteration_ends``, ``trigger_stopping``). What it is not: the epoch loop
(``_stochastic``) or the loss (``_outputs``).

Why a mapping rather than new C code: the formulas differ from nncore's
(PyTorch's) only by where constants sit, and every difference can be moved into
a hyperparameter that may change between steps. With g the gradient of the C loss,
``g = c * g_sk`` (``c`` is the loss's ``grad_scale``, see ``_outputs``) and L2
``alpha / 2 * ||W||^2 / n_batch`` on the weights (never the biases):

- weight decay of the weights group ``c * alpha / n_batch`` (coupled: added to g,
  so the whole gradient is ``c`` times scikit-learn's);
- Adam: scikit-learn steps ``p -= lr_t m / (sqrt(v) + eps)`` with
  ``lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)`` (Kingma & Ba's efficient form, eps
  before the bias correction): nncore's ``Adam(eps_hat=True)``, with ``c * eps`` (m
  and v of ``c * g`` are c and c^2 times scikit-learn's; the step is scale-free);
- SGD: scikit-learn keeps a velocity ``u = momentum u - lr g_sk`` (the learning
  rate inside); nncore a buffer ``b = momentum b + g`` and ``p -= lr' b``. With
  ``lr' = lr / c``, ``u = -lr' b`` while lr' stays; when it changes (the
  'invscaling' and 'adaptive' schedules, once per epoch) the buffer is rescaled by
  ``lr'_old / lr'_new`` so the identity holds again. Nesterov: both step
  ``momentum u - lr g``.

The results agree with scikit-learn's to rounding (the same operations in another
order). nncore's own solvers ('adamw', 'rmsprop', 'adagrad') keep their PyTorch
formulas with ``lr = learning_rate_init``; 'adamw' takes ``alpha`` as its
decoupled weight decay, the others as the coupled L2 above.
"""
from __future__ import annotations

import math
from typing import Any

from .. import optim
from ..nn import Sequential

__all__ = ["Solver"]


class Solver:
    """An nncore optimizer driven with scikit-learn's hyperparameters.

    Parameters
    ----------
    est : the estimator (reads solver, learning_rate*, momentum, beta_*, epsilon, ...)
    model : Sequential
        The network whose flat buffers are updated.

    Attributes
    ----------
    learning_rate : float
        scikit-learn's current learning rate (Adam: its bias-corrected step size
        after the last step, as scikit-learn's optimizer reports it).
    opt : nncore.optim.Optimizer
    """

    def __init__(self, est: Any, model: Sequential, c: float) -> None:
        self.kind = est.solver
        self.lr_schedule = est.learning_rate
        self.learning_rate_init = float(est.learning_rate_init)
        self.learning_rate = self.learning_rate_init
        self.power_t = float(est.power_t)
        self.momentum = float(est.momentum)
        self.nesterov = bool(est.nesterovs_momentum) and self.momentum > 0
        self.beta_1, self.beta_2 = float(est.beta_1), float(est.beta_2)
        self.epsilon = float(est.epsilon)
        self.alpha, self.l1 = float(est.alpha), float(est.l1)
        self.c = float(c)      # the C loss's gradient / scikit-learn's (see the module doc)
        self._lr_c = None      # SGD: the nncore lr of the last step
        self._build(model)

    def _build(self, model: Sequential) -> None:
        weights = [p for p in model.parameters() if not p.is_bias]
        biases = [p for p in model.parameters() if p.is_bias]
        groups = [{"params": weights}, {"params": biases}]
        lr = self.learning_rate_init
        if self.kind == "sgd":
            self.opt = optim.SGD(groups, lr=lr, momentum=self.momentum, nesterov=self.nesterov)
        elif self.kind == "adam":
            self.opt = optim.Adam(groups, lr=lr, betas=(self.beta_1, self.beta_2),
                                  eps=self.c * self.epsilon, eps_hat=True)
        elif self.kind == "adamw":
            self.opt = optim.AdamW(groups, lr=lr, betas=(self.beta_1, self.beta_2),
                                   eps=self.epsilon, weight_decay=0.0)
            self.opt.param_groups[0]["weight_decay"] = self.alpha
        elif self.kind == "rmsprop":
            self.opt = optim.RMSprop(groups, lr=lr)
        elif self.kind == "adagrad":
            self.opt = optim.Adagrad(groups, lr=lr)
        else:
            raise ValueError(f"{self.kind!r} is not a stochastic solver")
        self._weights = self.opt.param_groups[0]
        self._all = self.opt.param_groups
        self._key = None   # (sw_sum, learning rate) of the settings in the optimizer

    def refresh(self, est: Any) -> None:
        """A partial_fit call reusing this solver: the penalties as the estimator has them
        now (scikit-learn keeps its optimizer between calls but reads ``alpha`` at every
        step, so ``set_params(alpha=...)`` between calls takes effect)."""
        self.alpha, self.l1 = float(est.alpha), float(est.l1)
        if self.kind == "adamw":
            self._weights["weight_decay"] = self.alpha
        self._key = None   # the next before_step sets the groups again

    # ------------------------------------------------------------ every step
    def before_step(self, sw_sum: float) -> None:
        """Set the hyperparameters of the next step from the batch's weight sum (its row
        count without sample weights). Only a change (a batch of another weight, a new
        learning rate) edits the optimizer's groups, so its next ``_prepare`` (in
        ``train_step_prepared`` or ``step``) takes its fast path otherwise."""
        key = (sw_sum, self.learning_rate)
        if key == self._key:
            return
        c = self.c
        w = self._weights
        if self.kind != "adamw":
            w["weight_decay"] = c * self.alpha / sw_sum
        w["l1"] = c * self.l1 / sw_sum
        if self.kind == "sgd":
            lr_c = self.learning_rate / c
            if self._lr_c is not None and lr_c != self._lr_c and self.momentum > 0:
                self._scale_buffer("momentum_buffer", self._lr_c / lr_c)
            self._lr_c = lr_c
            for g in self._all:
                g["lr"] = lr_c
        self._key = key

    def _scale_buffer(self, name: str, f: float) -> None:
        sd = self.opt.state_dict()
        if name in sd["state"]:
            sd["state"][name] *= f
            self.opt.load_state_dict(sd)

    # ------------------------------------------------ scikit-learn's schedule
    def iteration_ends(self, time_step: int) -> None:
        """End of an epoch after ``time_step`` samples: 'invscaling' decays the rate;
        Adam reports scikit-learn's bias-corrected step size of its last step."""
        if self.kind == "sgd" and self.lr_schedule == "invscaling":
            self.learning_rate = self.learning_rate_init / (time_step + 1) ** self.power_t
        elif self.kind == "adam" and self.opt.step_count:
            t = self.opt.step_count
            self.learning_rate = (self.learning_rate_init * math.sqrt(1 - self.beta_2 ** t)
                                  / (1 - self.beta_1 ** t))

    def trigger_stopping(self, msg: str, verbose: Any) -> bool:
        """No improvement for n_iter_no_change epochs: stop (True), or for SGD with
        'adaptive', divide the rate by 5 and go on until it is <= 1e-6."""
        if self.kind != "sgd" or self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False

    # ------------------------------------------------------------- pickling
    # The C optimizer is not pickled: its hyperparameters and state buffers are
    # (state_dict), and ``rebind`` puts them on the unpickled estimator's network.
    def __getstate__(self) -> dict:
        state = {k: v for k, v in self.__dict__.items()
                 if k not in ("opt", "_weights", "_all")}
        state["_opt_state"] = self.opt.state_dict()
        return state

    def rebind(self, model: Sequential) -> None:
        """After unpickling: the optimizer rebuilt on ``model`` with its saved state."""
        opt_state = self.__dict__.pop("_opt_state")
        self._build(model)
        self.opt.load_state_dict(opt_state)
