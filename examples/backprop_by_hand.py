"""Backpropagation is the chain rule: a 2-layer network's gradients by hand, next to nncore's.

backprop_by_hand() writes the forward pass and the chain rule in a few lines of NumPy;
model.backward (nncore's C backward pass) gives the same gradients to ~1e-16 in
float64, and nc.check_gradients (finite differences) agrees to ~1e-10.
"""
import numpy as np

import nncore as nc
from _gallery import figure, main, save


def backprop_by_hand(x, y, W1, b1, W2, b2):
    """out = tanh(x W1^T + b1) W2^T + b2, L = mean((out - y)^2): L and dL/d(each parameter)."""
    z1 = x @ W1.T + b1                 # (n, hidden): each hidden neuron's weighted sum + bias
    a1 = np.tanh(z1)                   # (n, hidden): its activation
    out = a1 @ W2.T + b2               # (n, outputs)
    loss = np.mean((out - y) ** 2)
    d_out = 2.0 * (out - y) / out.size  # dL/d out
    d_W2 = d_out.T @ a1                # out = a1 W2^T + b2  =>  dL/dW2 = d_out^T a1
    d_b2 = d_out.sum(axis=0)
    d_a1 = d_out @ W2                  # back through the second layer's weights
    d_z1 = d_a1 * (1.0 - a1 ** 2)      # back through tanh: tanh'(z) = 1 - tanh(z)^2
    d_W1 = d_z1.T @ x
    d_b1 = d_z1.sum(axis=0)
    return loss, {"0.weight": d_W1, "0.bias": d_b1, "2.weight": d_W2, "2.bias": d_b2}


def run(quick=False, out="."):
    rng = np.random.default_rng(0)
    n = 8 if quick else 32
    x, y = rng.normal(size=(n, 3)), rng.normal(size=(n, 2))
    model = nc.nn.Sequential(nc.nn.Linear(3, 5), nc.nn.Tanh(), nc.nn.Linear(5, 2),
                             dtype="float64", seed=0)
    p = dict(model.named_parameters())
    loss, hand = backprop_by_hand(x, y, *(p[k].data for k in
                                          ("0.weight", "0.bias", "2.weight", "2.bias")))
    loss_fn = nc.losses.MSELoss()
    model.zero_grad()
    nc_loss = loss_fn(model.forward(x, training=True), y)
    model.backward(loss_fn.backward())  # nncore's backward pass, in C
    worst_fd, _, numeric = nc.check_gradients(model, x, y, loss_fn, return_all=True)
    names = list(hand)
    h = np.concatenate([hand[k].ravel() for k in names])
    g = np.concatenate([p[k].grad.ravel() for k in names])  # flat_grads order: the same
    scale = np.abs(g).max()
    res = {"loss by hand": float(loss), "loss by nncore": nc_loss,
           "max |hand - nncore| / max |gradient|": float(np.abs(h - g).max() / scale),
           "max |finite difference - nncore| / max |gradient|":
               float(np.abs(numeric - g).max() / scale),
           "check_gradients (worst relative error)": worst_fd}
    fig, ax = figure(2, width=4.4, height=3.6)
    ax[0, 0].plot([-scale, scale], [-scale, scale], color="0.7", lw=1)
    ax[0, 0].scatter(h, g, s=14, label="chain rule by hand (NumPy)")
    ax[0, 0].scatter(numeric, g, s=40, marker="+", color="k", label="finite differences")
    ax[0, 0].set(xlabel="gradient: by hand / finite differences",
                 ylabel="gradient: nncore model.backward", title=f"all {g.size} gradients")
    ax[0, 0].legend(fontsize=8)
    idx = np.arange(g.size)
    floor = 1e-18  # where an exact 0 difference is drawn on the log axis
    ax[0, 1].semilogy(idx, np.maximum(np.abs(h - g), floor), "o", ms=4, label="|hand - nncore|")
    ax[0, 1].semilogy(idx, np.maximum(np.abs(numeric - g), floor), "+", color="k",
                      label="|finite difference - nncore|")
    start = 0
    for k in names:  # label each parameter's block of entries
        ax[0, 1].axvline(start - 0.5, color="0.8", lw=0.8)
        ax[0, 1].text(start, 1e-5, k, fontsize=7)
        start += hand[k].size
    ax[0, 1].set(xlabel="parameter entry", ylabel="absolute difference",
                 title=f"differences (exact 0 drawn at {floor:g})", ylim=(floor / 3, 1e-4))
    ax[0, 1].legend(fontsize=8, loc="center left", bbox_to_anchor=(0.02, 0.65))
    save(fig, out, "backprop_by_hand.png")
    return res


if __name__ == "__main__":
    main(run, __doc__)
