"""nncore.losses' Python API against the reference losses, and its bad inputs."""
import numpy as np
import pytest

import nncore.losses as losses
from nncore import reference as ref
from _targets import random_targets


def tol(dtype):
    return 1e-12 if dtype == np.float64 else 1e-5


CASES = [
    (losses.MSELoss(), "mse", {}, "reg"),
    (losses.MSELoss(reduction="sum"), "mse", {}, "reg"),
    (losses.L1Loss(), "l1", {}, "reg"),
    (losses.HuberLoss(delta=0.7), "huber", {"delta": 0.7}, "reg"),
    (losses.BCEWithLogitsLoss(), "bce_logits", {}, "bin"),
    (losses.CrossEntropyLoss(), "cross_entropy", {}, "labels"),
    (losses.CrossEntropyLoss(label_smoothing=0.2, reduction="sum"), "cross_entropy",
     {"label_smoothing": 0.2}, "labels"),
    (losses.CrossEntropyLoss(label_smoothing=0.1), "cross_entropy", {"label_smoothing": 0.1},
     "probs"),
    (losses.PoissonLoss(), "poisson", {}, "counts"),
    (losses.PoissonLoss(reduction="sum"), "poisson", {}, "counts"),
]


@pytest.mark.parametrize("loss_fn,name,kw,kind", CASES, ids=[repr(c[0]) for c in CASES])
def test_value_and_gradient_vs_reference(loss_fn, name, kw, kind, dtype):
    rng = np.random.default_rng(0)
    out = (rng.standard_normal((7, 4)) * 3).astype(dtype)
    y = random_targets(kind, rng)
    value = loss_fn(out, y)
    t = y if kind == "labels" else np.asarray(y, dtype)
    r_value, r_grad = ref.loss(name, out, t, loss_fn.reduction, **kw)
    assert isinstance(value, float)
    assert value == pytest.approx(r_value, rel=tol(dtype), abs=tol(dtype))
    g = loss_fn.backward()
    assert g.dtype == dtype and g.shape == out.shape
    np.testing.assert_allclose(g, r_grad, rtol=tol(dtype), atol=tol(dtype))


def test_one_output_accepts_flat_targets():
    out = np.array([[1.0], [2.0], [4.0]])
    assert losses.MSELoss()(out, [1.0, 1.0, 1.0]) == pytest.approx((0 + 1 + 9) / 3)
    assert losses.L1Loss()(out, np.array([[1.0], [1.0], [1.0]])) == pytest.approx(4 / 3)


def test_cross_entropy_label_forms():
    out = np.random.default_rng(1).standard_normal((4, 3))
    ce = losses.CrossEntropyLoss()
    a = ce(out, np.array([0, 2, 1, 1]))
    assert ce(out, np.array([0.0, 2.0, 1.0, 1.0])) == a  # integral floats are labels
    assert ce(out, np.array([[0], [2], [1], [1]])) == a
    assert ce(out, np.eye(3)[[0, 2, 1, 1]]) == pytest.approx(a, rel=1e-12)  # one-hot rows
    assert ce(out, np.eye(3, dtype=np.int64)[[0, 2, 1, 1]]) == pytest.approx(a, rel=1e-12)
    assert ce.is_classification and not losses.MSELoss().is_classification


def test_bad_targets():
    out = np.zeros((4, 3))
    ce = losses.CrossEntropyLoss()
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        ce(out, [0, 1, 3, 0])
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        ce(out, [0, -1, 2, 0])
    with pytest.raises(TypeError, match="integers"):
        ce(out, [0, 1.5, 2, 0])
    with pytest.raises(TypeError, match="integers"):
        ce(out, np.array(["a", "b", "c", "d"]))
    with pytest.raises(ValueError, match="NaN or Inf"):
        ce(out, [0, np.nan, 2, 0])
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        ce(out, [0, 1, 2])
    with pytest.raises(ValueError, match="target shape"):
        losses.MSELoss()(out, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN or Inf"):
        losses.MSELoss()(out, np.full((4, 3), np.nan))
    with pytest.raises(ValueError, match="NaN or Inf"):
        losses.HuberLoss()(out, np.full((4, 3), -np.inf))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        losses.BCEWithLogitsLoss()(out, np.full((4, 3), 1.5))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ce(out, np.full((4, 3), -0.5))
    with pytest.raises(ValueError, match="Poisson targets .* must be >= 0"):
        losses.PoissonLoss()(out, np.full((4, 3), -0.5))
    with pytest.raises(ValueError, match="2-D"):
        losses.MSELoss()(np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="call loss_fn"):
        losses.L1Loss().backward()


def test_bad_settings_and_get():
    with pytest.raises(ValueError, match="reduction"):
        losses.MSELoss(reduction="none")
    with pytest.raises(ValueError, match="delta"):
        losses.HuberLoss(delta=0)
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.CrossEntropyLoss(label_smoothing=1.0)
    for name, cls in [("mse", losses.MSELoss), ("l1", losses.L1Loss), ("huber", losses.HuberLoss),
                      ("bce", losses.BCEWithLogitsLoss),
                      ("binary_cross_entropy", losses.BCEWithLogitsLoss),
                      ("cross_entropy", losses.CrossEntropyLoss), ("ce", losses.CrossEntropyLoss),
                      ("CE", losses.CrossEntropyLoss), ("poisson", losses.PoissonLoss)]:
        assert type(losses.get(name)) is cls
    obj = losses.HuberLoss(0.5)
    assert losses.get(obj) is obj and type(losses.get(losses.L1Loss)) is losses.L1Loss
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        losses.get("hinge")
    with pytest.raises(TypeError):
        losses.get(3)
    again = losses.from_config(obj.get_config())
    assert type(again) is losses.HuberLoss and again.delta == 0.5
