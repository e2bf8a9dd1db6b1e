"""Decision boundaries of networks with 0, 1 and 2 hidden layers of different widths.

With no hidden layer the network is linear: its boundary is a straight line, which
separates neither concentric circles nor interleaved spirals. A hidden layer of
ReLU units bends it: a few units are enough for circles, spirals need many more
(or a second layer). Accuracy is measured on held-out points.
"""
import numpy as np

import nncore as nc
from _gallery import figure, main, save

HIDDEN = {"no hidden layer": [], "1 hidden layer, 8 units": [8],
          "1 hidden layer, 64 units": [64], "2 hidden layers, 64 + 64": [64, 64]}
DATA = {"circles": lambda: nc.datasets.make_circles(400, noise=0.08, seed=0),
        "spirals": lambda: nc.datasets.make_spirals(400, noise=0.05, seed=0)}


def build(widths):
    """2 inputs -> Linear + ReLU per hidden width -> 2 class scores."""
    layers, n = [], 2
    for w in widths:
        layers += [nc.nn.Linear(n, w), nc.nn.ReLU()]
        n = w
    return nc.nn.Sequential(*layers, nc.nn.Linear(n, 2), seed=0)


def run(quick=False, out="."):
    g = np.linspace(-1.4, 1.4, 60 if quick else 100)
    grid = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    fig, ax = figure(len(HIDDEN), len(DATA), width=2.5, height=2.6)
    res = {}
    for row, (dname, make) in enumerate(DATA.items()):
        X, y = make()
        Xtr, Xte, ytr, yte = nc.datasets.train_test_split(X, y, test_size=0.25, seed=0)
        for col, (name, widths) in enumerate(HIDDEN.items()):
            model = build(widths)
            model.fit(Xtr, ytr, loss="cross_entropy", epochs=100 if quick else 200,
                      optimizer=nc.optim.Adam(model.parameters(), lr=0.01),
                      batch_size=32, verbose=0, metrics=[])
            acc = model.evaluate(Xte, yte)["accuracy"]
            res[f"{dname}, {name}: test accuracy"] = acc
            p = nc.ops.softmax(model.predict(grid))[:, 1].reshape(len(g), len(g))
            a = ax[row, col]
            a.contourf(g, g, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.5)
            a.contour(g, g, p, levels=[0.5], colors="k", linewidths=1)
            a.scatter(Xtr[:, 0], Xtr[:, 1], c=ytr, cmap="RdBu_r", s=8, edgecolor="k",
                      linewidths=0.3)
            a.set(xticks=[], yticks=[], aspect="equal")
            a.set_title(f"{name}\ntest accuracy {acc:.0%}", fontsize=8)
        ax[row, 0].set_ylabel(dname, fontsize=11)
    fig.suptitle("points: training data; colour: P(class 1); black line: decision boundary",
                 fontsize=10)
    save(fig, out, "decision_boundaries.png")
    return res


if __name__ == "__main__":
    main(run, __doc__)
