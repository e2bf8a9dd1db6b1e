"""Six optimizers train the same network from the same initial weights on the same batches.

The task: the 8x8 handwritten digits bundled with nncore, a 64-64-10 ReLU network,
mini-batches of 64. Plain SGD and the two momentum variants use lr = 0.01, the
adaptive methods (RMSprop, Adam, AdamW) their usual lr = 0.001. Momentum, which
keeps a running average of past gradients, and the adaptive methods, which scale
each parameter's step by its gradient history, reach a far lower training loss than
plain SGD in the same number of steps.
"""
import nncore as nc
from _gallery import figure, main, save

OPTIMIZERS = {
    "SGD": lambda p: nc.optim.SGD(p, lr=0.01),
    "SGD + momentum 0.9": lambda p: nc.optim.SGD(p, lr=0.01, momentum=0.9),
    "Nesterov momentum 0.9": lambda p: nc.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True),
    "RMSprop": lambda p: nc.optim.RMSprop(p, lr=1e-3),
    "Adam": lambda p: nc.optim.Adam(p, lr=1e-3),
    "AdamW (weight decay 0.01)": lambda p: nc.optim.AdamW(p, lr=1e-3, weight_decay=0.01),
}


def run(quick=False, out="."):
    Xtr, Xte, ytr, yte = nc.datasets.load_digits_split(seed=0)
    scaler = nc.datasets.StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    epochs, batch = (8 if quick else 20), 64
    steps = -(-len(Xtr) // batch)  # per epoch
    fig, ax = figure(2, width=4.6, height=3.6, grid=True)
    res = {}
    for name, make in OPTIMIZERS.items():
        model = nc.nn.Sequential(nc.nn.Linear(64, 64), nc.nn.ReLU(), nc.nn.Linear(64, 10),
                                 seed=0)  # same seed: same initial weights, same batches
        h = model.fit(Xtr, ytr, loss="cross_entropy", optimizer=make(model.parameters()),
                      epochs=epochs, batch_size=batch, validation_data=(Xte, yte), verbose=0)
        x = [steps * (e + 1) for e in range(epochs)]
        # dashed: the variants that nearly coincide with their base method here
        style = dict(ls="--" if name.startswith(("Nesterov", "AdamW")) else "-", label=name)
        ax[0, 0].semilogy(x, h["loss"], **style)
        ax[0, 1].plot(x, h["val_accuracy"], **style)
        res[name] = {"training loss": h["loss"][-1], "test accuracy": h["val_accuracy"][-1]}
    ax[0, 0].set(xlabel="training steps", ylabel="training loss (epoch mean, log scale)",
                 title="loss")
    ax[0, 1].set(xlabel="training steps", ylabel="accuracy on held-out digits",
                 title="test accuracy")
    ax[0, 1].legend(fontsize=8, loc="lower right")
    save(fig, out, "optimizers.png")
    return res


if __name__ == "__main__":
    main(run, __doc__)
