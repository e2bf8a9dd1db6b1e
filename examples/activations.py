"""Activation functions and their derivatives, as nncore's C kernels compute them.

f(x) is nc.ops.activation(x, name); f'(x) is nc.ops.activation_backward(1, x, f(x), name):
the same kernels a network runs forward and backward. Each derivative is checked
against a central finite difference of the forward kernel.
"""
import numpy as np

import nncore as nc
from _gallery import figure, main, save

NAMES = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "silu", "softplus"]
PARAM = {"leaky_relu": 0.1}  # a visible slope (the default 0.01 looks like ReLU)


def f(x, name):
    return nc.ops.activation(x, name, PARAM.get(name))


def df(x, name):
    return nc.ops.activation_backward(np.ones_like(x), x, f(x, name), name, PARAM.get(name))


def run(quick=False, out="."):
    x = np.linspace(-4.0, 4.0, 200 if quick else 800)  # even count: x = 0 (a kink) not on it
    h = 1e-6
    fig, axes = figure(4, 2, width=2.6, height=2.3, grid=True)
    res = {"f(0)": {}, "f'(0.5)": {}, "max |f' - finite difference|": {}}
    for name, ax in zip(NAMES, axes.flat):
        y, dy = f(x, name), df(x, name)
        fd = (f(x + h, name) - f(x - h, name)) / (2 * h)
        res["f(0)"][name] = float(f(np.zeros(1), name)[0])
        res["f'(0.5)"][name] = float(df(np.full(1, 0.5), name)[0])
        res["max |f' - finite difference|"][name] = float(np.abs(dy - fd).max())
        ax.plot(x, y, label="f(x)")
        ax.plot(x, dy, "--", label="f'(x)")
        ax.set(title=name if name not in PARAM else f"{name} ({PARAM[name]})",
               ylim=(-1.3, 2.3), xlabel="x")
        ax.axhline(0, color="k", lw=0.5)
    axes[0, 0].legend(fontsize=8, loc="upper left")
    fig.suptitle("f = nc.ops.activation (solid), f' = nc.ops.activation_backward (dashed)")
    save(fig, out, "activations.png")
    return res


if __name__ == "__main__":
    main(run, __doc__)
