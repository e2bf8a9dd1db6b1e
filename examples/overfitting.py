"""Overfitting, and four cures: L2, L1, dropout, early stopping.

30 noisy samples; the target is linear in 3 of the 20 inputs (the other 17 are noise).
A 20-128-1 ReLU network (2,817 parameters) memorizes them: its training loss goes to
~0 while the loss on 200 new samples stays high. L2 (weight_decay) and L1 (l1) pull
weights towards 0, dropout trains a different random sub-network at each step: all
three fit the noise less and shrink the gap between validation and training loss.
Early stopping halts when the validation loss stops improving and restores the best
epoch's weights.
"""
import numpy as np

import nncore as nc
from _gallery import figure, main, save

CURES = {"no regularization": {}, "L2 (weight_decay=0.1)": {"weight_decay": 0.1},
         "L1 (l1=0.03)": {"l1": 0.03}, "dropout 0.5": {"dropout": 0.5},
         "early stopping (patience 20)": {"early_stopping": True}}


def data():
    X3, y = nc.datasets.make_regression(230, n_features=3, noise=0.5, seed=0, dtype="float64")
    X = np.hstack([X3, np.random.default_rng(1).normal(size=(230, 17))])  # + 17 noise inputs
    return X[:30], y[:30], X[30:], y[30:]


def train(epochs, weight_decay=0.0, l1=0.0, dropout=0.0, early_stopping=False):
    Xtr, ytr, Xva, yva = data()
    drop = [nc.nn.Dropout(dropout)] if dropout else []
    model = nc.nn.Sequential(nc.nn.Linear(20, 128), nc.nn.ReLU(), *drop, nc.nn.Linear(128, 1),
                             dtype="float64", seed=0)
    opt = nc.optim.Adam(model.parameters(), lr=3e-3, weight_decay=weight_decay, l1=l1)
    stop = nc.callbacks.EarlyStopping(patience=20, restore_best_weights=True)
    h = model.fit(Xtr, ytr, loss="mse", optimizer=opt, epochs=epochs, batch_size=30,
                  validation_data=(Xva, yva), callbacks=[stop] if early_stopping else [],
                  verbose=0)
    final = {"training loss": model.evaluate(Xtr, ytr)["loss"],  # the weights kept at the end
             "validation loss": model.evaluate(Xva, yva)["loss"]}
    final["gap"] = final["validation loss"] - final["training loss"]
    final["epochs run"] = len(h["loss"])
    final["best validation loss in training"] = min(h["val_loss"])
    return h, final


def run(quick=False, out="."):
    epochs = 150 if quick else 300
    fig, ax = figure(3, 2, width=3.5, height=2.9, grid=True)
    res = {}
    for a, (name, cure) in zip(ax.flat, CURES.items()):
        h, res[name] = train(epochs, **cure)
        a.semilogy(h["loss"], label="training")
        a.semilogy(h["val_loss"], label="validation")
        if "early_stopping" in cure:
            best = int(np.argmin(h["val_loss"]))
            a.plot(best, h["val_loss"][best], "o", color="k", label="restored (best)")
        a.set(title=name, xlabel="epoch", ylabel="MSE", ylim=(1e-4, 30), xlim=(0, epochs))
        a.legend(fontsize=7, loc="lower left")
    names = list(res)[::-1]
    ax[1, 2].barh([n.split(" (")[0] for n in names], [res[n]["gap"] for n in names],
                  color="tab:purple")
    ax[1, 2].set(title="the gap at the end", xlabel="validation loss - training loss")
    save(fig, out, "overfitting.png")
    return res


if __name__ == "__main__":
    main(run, __doc__)
