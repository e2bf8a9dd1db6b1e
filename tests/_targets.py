"""Random targets of each loss kind, shared by the loss and network tests."""


def random_targets(kind, rng, n=7, k=4):
    """Targets for n rows of k outputs.

    kind: "reg" (normal), "bin" (uniform in [0, 1]), "labels" (ints in [0, k)),
    "counts" (Poisson counts, zeros included), anything else: probability rows summing to 1.
    """
    if kind == "counts":
        return rng.poisson(2.0, (n, k)).astype(float)
    if kind == "reg":
        return rng.standard_normal((n, k))
    if kind == "bin":
        return rng.uniform(0, 1, (n, k))
    if kind == "labels":
        return rng.integers(0, k, n)
    p = rng.uniform(0, 1, (n, k))
    return p / p.sum(axis=1, keepdims=True)
