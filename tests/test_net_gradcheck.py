"""Tier 2: float64 finite-difference checks of whole networks (every activation,
every loss) through nncore.check_gradients, and of the checker itself."""
import numpy as np
import pytest

import nncore.losses as losses
import nncore.nn as nn
from nncore.gradcheck import check_gradients
from _targets import random_targets

pytestmark = pytest.mark.kernel


def smooth_net(dtype="float64", seed=0, n_out=4):
    return nn.Sequential(
        nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 6), nn.GELU(), nn.Linear(6, 6),
        nn.GELU("tanh"), nn.Linear(6, 6), nn.SiLU(), nn.Linear(6, 6), nn.Softplus(),
        nn.Linear(6, 6), nn.Sigmoid(), nn.Linear(6, 6), nn.ELU(0.8), nn.Linear(6, 5),
        nn.Softmax(), nn.Linear(5, 5), nn.LogSoftmax(), nn.Linear(5, n_out),
        dtype=dtype, seed=seed)


LOSSES = [
    (losses.MSELoss(), "reg"), (losses.MSELoss(reduction="sum"), "reg"),
    (losses.L1Loss(), "reg"), (losses.HuberLoss(delta=0.3), "reg"),
    (losses.BCEWithLogitsLoss(), "bin"), (losses.CrossEntropyLoss(), "labels"),
    (losses.CrossEntropyLoss(label_smoothing=0.1, reduction="sum"), "labels"),
    (losses.CrossEntropyLoss(label_smoothing=0.05), "probs"),
    (losses.PoissonLoss(), "counts"),
]


@pytest.mark.parametrize("loss_fn,kind", LOSSES, ids=[repr(c[0]) for c in LOSSES])
def test_every_activation_every_loss(loss_fn, kind, threads):
    model = smooth_net(seed=1)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 5)) * 2
    y = random_targets(kind, rng, 6, 4)
    assert check_gradients(model, x, y, loss_fn) < 1e-6


@pytest.mark.parametrize("loss_fn,kind", LOSSES[:1] + LOSSES[5:6], ids=["mse", "ce"])
def test_piecewise_activations_and_dropout(loss_fn, kind):
    # ReLU / LeakyReLU kinks: small eps keeps every evaluation on one side of them
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 8),
                          nn.LeakyReLU(0.2), nn.Linear(8, 6), nn.Dropout(0.1), nn.Tanh(),
                          nn.Linear(6, 3), dtype="float64", seed=2)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((7, 4))
    y = random_targets(kind, rng, 7, 3)
    assert check_gradients(model, x, y, loss_fn, eps=1e-6) < 1e-6


def test_float32_model_checked_in_float64():
    model = smooth_net("float32", seed=4, n_out=3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = rng.integers(0, 3, 4)
    before = model.flat_params.copy()
    assert check_gradients(model, x, y, "cross_entropy") < 1e-6
    np.testing.assert_array_equal(model.flat_params, before)


def test_model_left_unchanged():
    model = smooth_net(seed=6)
    model.dropout_step = 17
    rng = np.random.default_rng(1)
    model.flat_grads[...] = rng.standard_normal(model.num_parameters)
    p, g = model.flat_params.copy(), model.flat_grads.copy()
    check_gradients(model, rng.standard_normal((3, 5)), rng.standard_normal((3, 4)), "mse")
    np.testing.assert_array_equal(model.flat_params, p)
    np.testing.assert_array_equal(model.flat_grads, g)
    assert model.dropout_step == 17


class _WrongMSE(losses.MSELoss):
    """An MSE whose backward is off by 10% (what a buggy backward looks like)."""

    def backward(self):
        return super().backward() * 1.1


def test_detects_a_wrong_gradient():
    model = smooth_net(seed=2)
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((5, 5)), rng.standard_normal((5, 4))
    assert check_gradients(model, x, y, _WrongMSE()) > 0.05
    err, analytic, numeric = check_gradients(model, x, y, losses.MSELoss(), return_all=True)
    assert err < 1e-6 and analytic.shape == numeric.shape == (model.num_parameters,)
