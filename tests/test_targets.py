"""One target check (nncore._targets) for every entry point: a loss object's call,
ops.loss, train_step, fit and evaluate give the same answer for the same target —
the same loss value (checked against nncore.reference) or the same exception.

Regression: integer-valued float labels ([0., 2., 1.]) were accepted by
CrossEntropyLoss and train_step but refused by fit/evaluate (TypeError) and ops.loss,
and bool labels were accepted by fit only: the check was written three times.
"""
import numpy as np
import pytest

from nncore import losses, nn, ops, optim
from nncore import reference as ref

ROWS = 4
X = np.random.default_rng(5).standard_normal((ROWS, 5))
LABELS = np.array([0, 2, 1, 1])

# loss name for the objects and fit, name for ops.loss, outputs of the model
LOSSES = {"ce": ("cross_entropy", "cross_entropy", 3),
          "bce": ("bce", "bce_logits", 1),
          "mse": ("mse", "mse", 2)}


def _model(nout):
    return nn.Sequential(nn.Linear(5, nout), dtype="float64", seed=3)


def _loss_object(loss, y):
    m = _model(LOSSES[loss][2])
    return losses.get(LOSSES[loss][0])(m(X), y)


def _ops_loss(loss, y):
    m = _model(LOSSES[loss][2])
    return ops.loss(LOSSES[loss][1], m(X), y)[0]


def _train_step(loss, y):
    m = _model(LOSSES[loss][2])
    return m.train_step(X, y, LOSSES[loss][0], optim.SGD(m.parameters(), lr=0.1))


def _fit(loss, y):
    m = _model(LOSSES[loss][2])
    h = m.fit(X, y, loss=LOSSES[loss][0], optimizer=optim.SGD(m.parameters(), lr=0.1),
              epochs=1, batch_size=ROWS, shuffle=False, verbose=0, metrics=[])
    return h["loss"][0]   # one batch: its loss, taken before the update


def _evaluate(loss, y):
    m = _model(LOSSES[loss][2])
    return m.evaluate(X, y, loss=LOSSES[loss][0])["loss"]


ENTRY_POINTS = {"loss object": _loss_object, "ops.loss": _ops_loss,
                "train_step": _train_step, "fit": _fit, "evaluate": _evaluate}


def _reference(loss, target):
    """The loss at the model's initial weights, from the NumPy reference."""
    m = _model(LOSSES[loss][2])
    out = ref.ReferenceNetwork.from_model(m).forward(X)
    return ref.loss(LOSSES[loss][1], out, target)[0]


# name: (loss, target, expected: the target as the reference reads it, or an exception)
CASES = {
    "ce int labels": ("ce", LABELS, LABELS),
    "ce float labels of integer value": ("ce", LABELS.astype(float), LABELS),
    "ce float32 labels of integer value": ("ce", LABELS.astype(np.float32), LABELS),
    "ce uint8 labels": ("ce", LABELS.astype(np.uint8), LABELS),
    "ce labels as a column": ("ce", LABELS.reshape(-1, 1), LABELS),
    "ce list of labels": ("ce", [0.0, 2.0, 1.0, 1.0], LABELS),
    "ce one-hot rows": ("ce", np.eye(3)[LABELS], np.eye(3)[LABELS]),
    "ce non-integer floats": ("ce", np.array([0.0, 1.5, 1.0, 1.0]), TypeError),
    "ce bool labels": ("ce", np.array([True, False, True, False]), TypeError),
    "ce text labels": ("ce", np.array(["a", "b", "c", "a"]), TypeError),
    "ce label out of range": ("ce", np.array([0, 3, 1, 1]), ValueError),
    "ce negative label": ("ce", np.array([0, -1, 1, 1]), ValueError),
    "ce float label out of range": ("ce", np.array([0.0, 3.0, 1.0, 1.0]), ValueError),
    "ce NaN label": ("ce", np.array([0.0, np.nan, 1.0, 1.0]), ValueError),
    "ce wrong length": ("ce", LABELS[:3], ValueError),
    "ce wrong 2-D shape": ("ce", np.zeros((ROWS, 4)), ValueError),
    "ce probabilities above 1": ("ce", 2 * np.eye(3)[LABELS], ValueError),
    "bce floats": ("bce", np.array([0.0, 1.0, 0.25, 1.0]), np.array([[0.0], [1.0], [0.25], [1.0]])),
    "bce column": ("bce", np.array([[0.0], [1.0], [0.25], [1.0]]),
                   np.array([[0.0], [1.0], [0.25], [1.0]])),
    "bce bools": ("bce", np.array([False, True, True, False]),
                  np.array([[0.0], [1.0], [1.0], [0.0]])),
    "bce int 0/1": ("bce", np.array([0, 1, 1, 0]), np.array([[0.0], [1.0], [1.0], [0.0]])),
    "bce above 1": ("bce", np.array([0.0, 1.5, 1.0, 1.0]), ValueError),
    "bce negative": ("bce", np.array([0.0, -0.5, 1.0, 1.0]), ValueError),
    "bce NaN": ("bce", np.array([0.0, np.nan, 1.0, 1.0]), ValueError),
    "bce wrong shape": ("bce", np.zeros((ROWS, 2)), ValueError),
    "bce text": ("bce", np.array(["a", "b", "c", "d"]), TypeError),
    "mse values": ("mse", np.arange(8.0).reshape(ROWS, 2), np.arange(8.0).reshape(ROWS, 2)),
    "mse bools": ("mse", np.eye(ROWS, 2, dtype=bool), np.eye(ROWS, 2)),
    "mse 1-D for two outputs": ("mse", np.arange(4.0), ValueError),
    "mse Inf": ("mse", np.full((ROWS, 2), np.inf), ValueError),
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("case", CASES)
def test_same_target_same_answer_at_every_entry_point(case, entry):
    loss, y, expected = CASES[case]
    run = ENTRY_POINTS[entry]
    if isinstance(expected, type):
        with pytest.raises(expected):
            run(loss, y)
    else:
        assert run(loss, y) == pytest.approx(_reference(loss, expected), rel=1e-12)


def test_fit_on_float_labels_of_integer_value_equals_fit_on_int_labels():
    Xb = np.random.default_rng(0).standard_normal((50, 5))
    yb = (Xb[:, 0] > 0).astype(int) + (Xb[:, 1] > 1)
    runs = []
    for labels in (yb, yb.astype(float)):
        m = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3), seed=1)
        h = m.fit(Xb, labels, loss="cross_entropy", epochs=3, batch_size=8, verbose=0,
                  validation_split=0.2)
        runs.append((m.flat_params.copy(), h["loss"], h["val_loss"], h["accuracy"]))
    assert np.array_equal(runs[0][0], runs[1][0])
    assert runs[0][1:] == runs[1][1:]


def test_loss_check_target_is_what_fit_trains_on():
    ce = losses.CrossEntropyLoss()
    got = ce.check_target([0.0, 2.0, 1.0], (3, 3), np.float32, "y")
    assert got.dtype == np.int64 and got.tolist() == [0, 2, 1]
    t = losses.MSELoss().check_target([1, 2, 3], (3, 1), np.float32)
    assert t.dtype == np.float32 and t.shape == (3, 1) and t.flags.c_contiguous
    with pytest.raises(ValueError, match=r"^y: class labels must be in \[0, 3\)"):
        ce.check_target([0, 5, 1], (3, 3), np.float32, "y")
