"""The learning rate: too small, about right, too large, and too large with gradient clipping.

A 8-32-32-1 ELU network fits a noisy linear target with mini-batch SGD. Too small a
rate crawls; a good one converges; too large a rate overshoots a little more at
every step, the gradient norm grows by orders of magnitude and the loss overflows
within a few steps: TerminateOnNaN stops the run and names the first layer whose
gradients went non-finite. The same large rate with clip_norm (every step's gradient
rescaled to norm <= 0.5) trains.
"""
import warnings

import numpy as np

import nncore as nc
from _gallery import figure, main, save

RUNS = {"lr 0.001 (too small)": (1e-3, None), "lr 0.03 (about right)": (3e-2, None),
        "lr 1.0 (too large)": (1.0, None), "lr 1.0 + clip_norm 0.5": (1.0, 0.5)}


class PerStep(nc.callbacks.Callback):
    """Records every step's loss and gradient norm (before clipping)."""

    def __init__(self):
        self.loss, self.grad_norm = [], []

    def on_batch_end(self, batch, logs=None):
        self.loss.append(logs["loss"])
        self.grad_norm.append(logs["grad_norm"])


def run(quick=False, out="."):
    X, y = nc.datasets.make_regression(n_samples=256, n_features=8, noise=0.1, seed=0)
    epochs = 10 if quick else 20
    fig, ax = figure(2, width=4.6, height=3.6, grid=True)
    res = {}
    for name, (lr, clip) in RUNS.items():
        model = nc.nn.Sequential(nc.nn.Linear(8, 32), nc.nn.ELU(), nc.nn.Linear(32, 32),
                                 nc.nn.ELU(), nc.nn.Linear(32, 1), seed=0)
        steps, nan = PerStep(), nc.callbacks.TerminateOnNaN()
        with warnings.catch_warnings():  # TerminateOnNaN warns; its message is printed below
            warnings.simplefilter("ignore", RuntimeWarning)
            model.fit(X, y, loss="mse", optimizer=nc.optim.SGD(model.parameters(), lr=lr),
                      epochs=epochs, batch_size=32, clip_norm=clip, verbose=0,
                      callbacks=[steps, nan])
        r = res[name] = {"steps": len(steps.loss), "first loss": steps.loss[0],
                         "last loss": steps.loss[-1], "largest gradient norm":
                         max(steps.grad_norm), "mean loss of the last 8 steps":
                         float(np.mean(steps.loss[-8:]))}
        t = np.arange(1, len(steps.loss) + 1)
        line = ax[0, 0].semilogy(t, steps.loss, label=name)[0]
        ax[0, 1].loglog(t, steps.grad_norm, color=line.get_color(), label=name)
        if nan.stopped_batch >= 0:
            r["TerminateOnNaN layer"] = nan.layer
            r["non-finite gradients"] = [k for k, p in model.named_parameters()
                                         if not np.isfinite(p.grad).all()]
            last = max(i for i, v in enumerate(steps.grad_norm) if np.isfinite(v))
            where = "all finite: the loss overflowed first"
            if nan.layer:  # e.g. "4.weight": a parameter of model[4]
                where = f"non-finite first\nin {nan.layer}, {model[int(nan.layer.split('.')[0])]!r}"
            ax[0, 1].plot(t[last], steps.grad_norm[last], "x", ms=10, color=line.get_color())
            ax[0, 1].annotate(f"TerminateOnNaN at step {len(steps.loss)}:\ngradients {where}",
                              (t[last], steps.grad_norm[last]), (4, 1e5), fontsize=8,
                              arrowprops=dict(arrowstyle="->"))
    ax[0, 0].set(xlabel="training step", ylabel="batch loss (MSE)", ylim=(1e-2, 1e2),
                 title="loss (lr 1.0 shoots off the top)")
    ax[0, 1].set(xlabel="training step (log scale)", title="gradient norm per step",
                 ylabel="global gradient norm, before clipping")
    ax[0, 0].legend(fontsize=8)
    save(fig, out, "learning_rate.png")
    return res


if __name__ == "__main__":
    main(run, __doc__)
