"""Gradient clipping (nncore.utils) vs nncore.reference, in place on the flat gradient buffer."""
import math

import numpy as np
import pytest

import nncore.utils as utils
from nncore import config
from nncore import reference as ref

from _fake_params import FakeModel

pytestmark = pytest.mark.kernel


def rtol(dtype):
    return 1e-12 if dtype == np.float64 else 2e-6


@pytest.mark.parametrize("sizes", [(5, 7, 3), (700, 600, 10)], ids=["small", "threaded"])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_reference(sizes, max_norm, dtype, threads, arch):
    model = FakeModel(sizes, dtype=dtype, pad=2)
    model.fill_grads(np.random.default_rng(0), scale=0.3)
    ps = model.parameters()
    want_norm, want = ref.clip_grad_norm([p.grad.copy() for p in ps], max_norm)
    before = model.flat_grads.copy()
    norm = utils.clip_grad_norm(ps, max_norm)
    assert isinstance(norm, float)
    assert norm == pytest.approx(want_norm, rel=rtol(dtype))
    for p, w in zip(ps, want):
        np.testing.assert_allclose(p.grad, w, rtol=rtol(dtype), atol=0)
    after = ref.grad_norm([p.grad for p in ps])
    if max_norm < want_norm:
        assert after <= max_norm * (1 + rtol(dtype))
    else:
        assert np.array_equal(model.flat_grads, before)  # untouched, bit for bit
    assert np.array_equal(model.flat_grads[:2], before[:2])  # outside any parameter


def test_clip_grad_norm_over_a_subset(dtype):
    model = FakeModel((5, 7, 3), dtype=dtype)
    model.fill_grads(np.random.default_rng(1))
    ps = model.parameters()
    sub = [ps[2], ps[0]]
    rest = [p.grad.copy() for p in ps[1::2]]
    want_norm, want = ref.clip_grad_norm([p.grad.copy() for p in sub], 0.1)
    assert utils.grad_norm(sub) == pytest.approx(want_norm, rel=rtol(dtype))
    assert utils.clip_grad_norm(sub, 0.1) == pytest.approx(want_norm, rel=rtol(dtype))
    for p, w in zip(sub, want):
        np.testing.assert_allclose(p.grad, w, rtol=rtol(dtype))
    for p, r in zip(ps[1::2], rest):
        assert np.array_equal(p.grad, r)
    # a single Parameter, the model itself, and duplicates (counted once) work too
    g0 = ps[0].grad.copy()
    assert utils.grad_norm(ps[0]) == pytest.approx(np.linalg.norm(g0), rel=rtol(dtype))
    assert utils.grad_norm([ps[0], ps[0]]) == pytest.approx(np.linalg.norm(g0), rel=rtol(dtype))
    assert utils.grad_norm(model) == pytest.approx(ref.grad_norm([p.grad for p in ps]),
                                                   rel=rtol(dtype))
    assert utils.clip_grad_norm([], 1.0) == 0.0


@pytest.mark.parametrize("sizes", [(5, 7, 3), (700, 600, 10)], ids=["small", "threaded"])
def test_clip_grad_value_matches_reference(sizes, dtype, threads):
    model = FakeModel(sizes, dtype=dtype, pad=1)
    model.fill_grads(np.random.default_rng(2))
    model.flat_grads[5] = np.nan
    ps = model.parameters()
    want = ref.clip_grad_value([p.grad.copy() for p in ps], 0.7)
    pad = model.flat_grads[0]
    utils.clip_grad_value(ps, 0.7)
    for p, w in zip(ps, want):
        np.testing.assert_array_equal(p.grad, w)  # clamping is exact
    assert np.isnan(model.flat_grads[5])
    assert model.flat_grads[0] == pad


def test_norm_over_segments_straddling_chunks_and_parts(threads):
    """Many segments whose sizes straddle the 8192-element chunks and the norm's parts."""
    shapes = [(8191,), (8193, 3), (1,), (16385,), (4095, 65), (3, 7), (200003,)]
    model = FakeModel(shapes=shapes, pad=5)
    model.fill_grads(np.random.default_rng(7))
    ps = model.parameters()[::-1]  # any order: segments are taken in buffer order
    want_norm, want = ref.clip_grad_norm([p.grad.copy() for p in ps], 3.0)
    assert utils.clip_grad_norm(ps, 3.0) == pytest.approx(want_norm, rel=1e-12)
    for p, w in zip(ps, want):
        np.testing.assert_allclose(p.grad, w, rtol=1e-12)


def test_nonfinite_gradients_propagate_like_torch():
    model = FakeModel((3, 2))
    model.fill_grads(np.random.default_rng(0))
    model.flat_grads[0] = np.nan
    assert np.isnan(utils.clip_grad_norm(model.parameters(), 1.0))
    assert np.all(np.isnan(model.flat_grads))


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
def test_norm_bit_identical_at_1_and_2_threads(dt):
    model = FakeModel((1100, 1000), dtype=dt)
    model.fill_grads(np.random.default_rng(3))
    norms, clipped = [], []
    for n in (1, 2):
        with config.num_threads(n):
            g = model.flat_grads.copy()
            norms.append(utils.grad_norm(model.parameters()))
            norms.append(utils.clip_grad_norm(model.parameters(), 10.0))
            clipped.append(model.flat_grads.copy())
            model.flat_grads[...] = g
    assert norms[0] == norms[1] == norms[2] == norms[3]
    assert np.array_equal(clipped[0], clipped[1])
    assert norms[0] == pytest.approx(ref.grad_norm([model.flat_grads]), rel=rtol(dt))


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
def test_norm_same_bits_in_every_family_and_near_exact(dt):
    """The sum of squares is a family kernel (optim_sumsq_tmpl.h) at each family's vector
    width; its order is fixed in the source, so every family and thread count gives the
    same bits, and those bits are within a few ulps of the exactly rounded norm."""
    # odd sizes: lane tails, pieces of segments cut by the norm's parts
    model = FakeModel(shapes=[(301, 257), (257,), (7, 3), (3,), (1000, 93), (93,)], dtype=dt)
    model.fill_grads(np.random.default_rng(11))
    model.flat_grads[5] = 1e3 if dt == np.float32 else 1e150  # a large term, no overflow
    old = config.get_arch()
    seen = {}
    try:
        for name in config.available_archs():
            config.set_arch(name)
            for n in (1, 2):
                with config.num_threads(n):
                    seen[name, n] = utils.grad_norm(model.parameters())
    finally:
        config.set_arch(old)
    assert len(set(seen.values())) == 1, seen
    g = model.flat_grads.astype(np.float64)
    exact = math.sqrt(math.fsum((g * g).tolist())) if dt == np.float32 else \
        float(np.linalg.norm(g / 1e150)) * 1e150
    assert seen[old, 1] == pytest.approx(exact, rel=1e-14 if dt == np.float32 else 1e-13)


def test_norm_rounds_each_double_square_before_adding():
    """A float64 sum of squares is two roundings per term in every family, never a fused
    multiply-add (the avx512f target implies FMA; contraction would change the bits).
    These two values, 32 apart (one accumulator lane), round differently under FMA."""
    a, b = 1.5540905021732678, 1.8223738275430703
    model = FakeModel(shapes=[(2, 32)], dtype=np.float64)
    model.flat_grads[...] = 0.0
    model.flat_grads[0], model.flat_grads[32] = a, b
    want = math.sqrt(a * a + b * b)  # Python rounds each product and the sum
    old = config.get_arch()
    try:
        for name in config.available_archs():
            config.set_arch(name)
            assert utils.grad_norm(model.parameters()) == want, name
    finally:
        config.set_arch(old)


def test_bad_arguments_raise():
    a, b = FakeModel((3, 2)), FakeModel((3, 2))
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="max_norm"):
            utils.clip_grad_norm(a.parameters(), bad)
        with pytest.raises(ValueError, match="clip value"):
            utils.clip_grad_value(a.parameters(), bad)
    with pytest.raises(TypeError):
        utils.clip_grad_norm(a.parameters(), "1")
    with pytest.raises(ValueError, match="one model"):
        utils.clip_grad_norm(a.parameters() + b.parameters(), 1.0)
    with pytest.raises(TypeError, match="Parameter"):
        utils.clip_grad_value([np.zeros(3)], 1.0)
    with pytest.raises(TypeError, match="Parameter"):
        utils.clip_grad_norm(np.zeros(3), 1.0)


def test_matches_torch_clip_grad_norm(torch):
    model = FakeModel((5, 7, 3), dtype=np.float64)
    model.fill_grads(np.random.default_rng(4))
    ts = [torch.zeros(p.shape, dtype=torch.float64, requires_grad=True) for p in model.parameters()]
    for t, p in zip(ts, model.parameters()):
        t.grad = torch.tensor(p.grad.copy())
    tn = float(torch.nn.utils.clip_grad_norm_(ts, 0.3))
    assert utils.clip_grad_norm(model.parameters(), 0.3) == pytest.approx(tn, rel=1e-12)
    for t, p in zip(ts, model.parameters()):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)
