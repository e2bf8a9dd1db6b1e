"""One neuron learns AND and OR, but not XOR; a 2-4-1 network learns XOR.

A neuron is a weighted sum plus a bias, passed through an activation:
p = sigmoid(w . x + b). Its decision boundary p = 0.5 is the straight line
w . x + b = 0, and no straight line separates XOR's classes: with the
cross-entropy loss a neuron can do no better than ln 2 = 0.693 on XOR
(everything 50/50) and classify at most 3 of the 4 points. One hidden layer
of 4 tanh units bends the boundary and solves it.
"""
import numpy as np

import nncore as nc
from _gallery import figure, main, save

X = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=np.float64)  # -1 false, +1 true
TASKS = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "XOR": [0, 1, 1, 0]}


def train(hidden, y, epochs):
    """Sequential(Linear(2,1)) is one neuron; BCEWithLogits applies its sigmoid."""
    layers = ([nc.nn.Linear(2, hidden), nc.nn.Tanh(), nc.nn.Linear(hidden, 1)] if hidden
              else [nc.nn.Linear(2, 1)])
    model = nc.nn.Sequential(*layers, dtype="float64", seed=0)
    model.fit(X, y, loss="bce", optimizer=nc.optim.Adam(model.parameters(), lr=0.05),
              epochs=epochs, batch_size=4, verbose=0, metrics=[])
    return model, model.evaluate(X, y)


def run(quick=False, out="."):
    epochs = 150 if quick else 300
    runs = [("one neuron", 0, t) for t in TASKS] + [("2-4-1 network", 4, "XOR")]
    g = np.linspace(-2, 2, 60 if quick else 120)
    grid = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    fig, ax = figure(4, width=3.0, height=3.1)
    res = {}
    for a, (kind, hidden, task) in zip(ax[0], runs):
        y = np.array(TASKS[task])
        model, score = train(hidden, y, epochs)
        res[f"{kind} on {task}"] = dict(score)
        if not hidden:
            w, b = model[0].weight.data[0], model[0].bias.data[0]
            res[f"{kind} on {task}"]["w, b"] = [float(v) for v in (*w, b)]
            a.text(0, 1.75, f"w = ({w[0]:.2f}, {w[1]:.2f}), b = {b:.2f}", ha="center",
                   fontsize=8, bbox=dict(facecolor="w", alpha=0.8, lw=0))
        p = nc.ops.sigmoid(model.predict(grid)).reshape(len(g), len(g))  # the activation
        a.contourf(g, g, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
        a.contour(g, g, p, levels=[0.5], colors="k", linewidths=1.5)
        for cls, marker in ((0, "o"), (1, "s")):
            pts = X[y == cls]
            a.scatter(pts[:, 0], pts[:, 1], s=90, marker=marker, edgecolor="k",
                      c="tab:blue" if cls == 0 else "tab:red", label=f"class {cls}")
        a.set(title=f"{kind}: {task}\naccuracy {score['accuracy']:.0%}, loss {score['loss']:.3f}",
              xlabel="x1", ylabel="x2", aspect="equal")
    ax[0, 0].legend(loc="lower left", fontsize=8)
    fig.suptitle("colour: the network's probability of class 1; black line: p = 0.5")
    save(fig, out, "neuron.png")
    res["ln 2 (best loss of any single neuron on XOR)"] = float(np.log(2))
    return res


if __name__ == "__main__":
    main(run, __doc__)
