"""Batch invariance of inference: row i of ``model(x)`` / ``model.predict`` has the
same bits whatever the batch size, the row's position in the batch and the thread
count, for every kernel family and both dtypes (a few rows take the GEMM's small
kernel, more rows its tiles: both must give each element the same chain over k).
Also: the weights packed once for inference are never served stale, whichever way
a parameter changes."""
import numpy as np
import pytest

import nncore
from nncore import nn, optim
from nncore import reference as ref

pytestmark = pytest.mark.kernel

BATCHES = (1, 2, 3, 5, 17, 33, 1000)
# tile-multiple widths, and widths / depths off every family's tile (and k past
# one KC block: 784, 1000)
SHAPES = [(64, 128, 64, 10), (37, 53, 29, 3), (784, 256, 128, 10), (1000, 19, 7)]


def _mlp(sizes, dtype, seed=0):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers, dtype=dtype, seed=seed)


def _forward_ref(model, x):
    """The NumPy oracle on float64 copies of the weights (no bits promised)."""
    out = np.asarray(x, np.float64)
    for layer in model:
        if isinstance(layer, nn.Linear):
            out = out @ np.asarray(layer.weight.data, np.float64).T
            out = out + np.asarray(layer.bias.data, np.float64)
        else:
            out = np.maximum(out, 0.0)
    return out


def _check_sub_batches(model, x, full, tag):
    """Every sub-batch of x (sizes BATCHES at the start, row 7 and the end) gives
    the bits of the same rows of ``full``, at 1 and 2 threads."""
    for threads in (1, 2):
        nncore.set_num_threads(threads)
        for b in BATCHES:
            for start in sorted({0, 7, len(x) - b}):
                if start + b > len(x):
                    continue
                np.testing.assert_array_equal(
                    model(x[start:start + b]), full[start:start + b],
                    err_msg=f"{tag}batch {b} at row {start}, {threads} thread(s)")


def _steps_then_check(model, xb, y, check):
    """check() on the packed weights, after a fused train step, after an unfused
    optimizer step."""
    check()  # packs the weights
    opt = optim.SGD(model.parameters(), lr=0.5)
    model.train_step(xb, y, loss="cross_entropy", optimizer=opt)
    check()
    model.zero_grad()
    out = model.forward(xb, training=True)
    model.backward(np.ones_like(out))
    opt.step()  # the unfused path
    check()


@pytest.fixture
def restore_threads():
    old = nncore.get_num_threads()
    yield
    nncore.set_num_threads(old)


@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join(map(str, s)))
def test_rows_do_not_depend_on_batch_position_or_threads(arch, dtype, sizes, restore_threads):
    model = _mlp(sizes, dtype)
    x = np.random.default_rng(1).standard_normal((1000, sizes[0])).astype(dtype)
    nncore.set_num_threads(2)
    full = model(x)
    # the whole batch is right (independent oracle), then every sub-batch matches it bitwise
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(full, _forward_ref(model, x), rtol=tol, atol=tol)
    _check_sub_batches(model, x, full, "")


def test_predict_batch_size_does_not_change_rows(arch, dtype, restore_threads):
    model = _mlp((37, 53, 29, 3), dtype, seed=3)
    x = np.random.default_rng(2).standard_normal((33, 37)).astype(dtype)
    whole = model(x)
    for threads in (1, 2):
        nncore.set_num_threads(threads)
        for bs in (1, 2, 3, 4, 5, 32, 1024):
            np.testing.assert_array_equal(model.predict(x, batch_size=bs), whole,
                                          err_msg=f"batch_size {bs}, {threads} thread(s)")


def test_single_row_matches_a_copy_strided_view(dtype):
    """A row read through a strided view (row stride > n_in) gives the same bits."""
    model = _mlp((64, 128, 64, 10), dtype)
    x = np.random.default_rng(4).standard_normal((6, 80)).astype(dtype)
    view = x[:, :64]
    np.testing.assert_array_equal(model(view[2:3]), model(np.ascontiguousarray(view))[2:3])


def test_inference_never_uses_stale_weights(arch, dtype):
    """Weights are packed once for inference; every way a parameter changes through
    the API shows in the next inference: a fused step, an unfused optimizer step,
    writes through ``Parameter.data`` and ``flat_params``, the same value written
    back, and a write through an array kept across inferences followed by
    ``model.touch()``."""
    model = _mlp((37, 53, 29, 3), dtype)
    x = np.random.default_rng(5).standard_normal((3, 37)).astype(dtype)
    xb = np.random.default_rng(6).standard_normal((40, 37)).astype(dtype)
    y = np.array([0, 1, 2] * 13 + [0])
    tol = 1e-4 if dtype == np.float32 else 1e-11

    def check():
        for inp in (x, xb, x[:1]):
            np.testing.assert_allclose(model(inp), _forward_ref(model, inp), rtol=tol,
                                       atol=tol)

    _steps_then_check(model, xb, y, check)
    model[0].weight.data[3, 5] += 1.0
    check()
    old = float(model[0].weight.data[0, 0])
    model[0].weight.data[0, 0] = old * -4.0 + 1.0
    check()
    model[0].weight.data[0, 0] = old  # back to what was packed before
    check()
    model[2].weight.data = np.zeros((29, 53), dtype)
    check()
    model.flat_params[:7] = 0.25
    check()
    model[-1].bias.data[:] = 7.0
    check()
    kept = model[0].weight.data
    model(x)
    kept[1, :] = -2.0  # through an array taken before the last inference
    model.touch()
    check()


def test_packed_weights_follow_the_active_family(dtype):
    """Weights packed under one kernel family are packed again under another."""
    from nncore import config
    archs = config.available_archs()
    old = config.get_arch()
    model = _mlp((37, 53, 29, 3), dtype)
    x = np.random.default_rng(8).standard_normal((5, 37)).astype(dtype)
    try:
        for a in archs + archs[:1]:
            config.set_arch(a)
            want = _forward_ref(model, x)
            tol = 1e-4 if dtype == np.float32 else 1e-11
            np.testing.assert_allclose(model(x), want, rtol=tol, atol=tol)
            np.testing.assert_allclose(model(x[:2]), want[:2], rtol=tol, atol=tol)
    finally:
        config.set_arch(old)


def test_small_path_matches_reference_products(arch, dtype):
    """1..4 rows through the GEMM directly (nncore.ops.matmul) against the oracle."""
    from nncore import ops
    rng = np.random.default_rng(7)
    for m in (1, 2, 3, 4):
        for n, k in ((1, 1), (17, 300), (70, 784), (33, 1)):
            a = rng.standard_normal((m, k)).astype(dtype)
            b = rng.standard_normal((n, k)).astype(dtype).T
            got = ops.matmul(a, b)
            want = ref.matmul(a, b)
            tol = 1e-4 if dtype == np.float32 else 1e-11
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.sqrt(k))
            # and the same bits as those rows inside a taller product
            tall = np.concatenate([a, rng.standard_normal((9, k)).astype(dtype)])
            np.testing.assert_array_equal(got, ops.matmul(tall, b)[:m])


# ------------------------------------------------------------- bf16 compute


def _mlp_bf16(sizes, seed=0):
    model = _mlp(sizes, np.float32, seed=seed)
    model.compute_dtype = "bfloat16"
    return model


@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join(map(str, s)))
def test_bf16_rows_do_not_depend_on_batch_position_or_threads(arch, sizes, restore_threads):
    """bf16 compute mode: every family (portable ones on their fp32 micro-kernel,
    avx512_bf16 on vdpbf16ps) gives a row the same bits at any batch size,
    position and thread count; the whole batch agrees with the bf16 oracle."""
    model = _mlp_bf16(sizes)
    x = np.random.default_rng(1).standard_normal((1000, sizes[0])).astype(np.float32)
    nncore.set_num_threads(2)
    full = model(x)
    twin = ref.ReferenceNetwork.from_model(model, dtype=np.float32)
    twin.compute_dtype = "bfloat16"
    want = twin.forward(x)
    # operands rounded alike and only the fp32 summation order differs, except
    # where that order flips a hidden value's bf16 rounding (one ulp of bf16)
    scale = np.abs(want).max()
    err = np.abs(full - want)
    assert (err <= 2.0 ** -7 * scale).all()
    assert np.mean(err <= 1e-4 * np.abs(want) + 1e-5 * scale) >= 0.99
    _check_sub_batches(model, x, full, "bf16, ")
    for threads in (1, 2):
        nncore.set_num_threads(threads)
        for bs in (1, 2, 3, 5, 32):
            np.testing.assert_array_equal(model.predict(x[:33], batch_size=bs), full[:33],
                                          err_msg=f"bf16 predict batch_size {bs}")


def _bf16_oracle_close(model, x, got):
    twin = ref.ReferenceNetwork.from_model(model, dtype=np.float32)
    twin.compute_dtype = model.compute_dtype
    want = twin.forward(x)
    scale = np.abs(want).max()
    assert (np.abs(got - want) <= 2.0 ** -7 * scale + 1e-6).all()


def test_bf16_packed_weights_never_stale_and_same_bits(arch):
    """bf16 inference reuses W^T rounded and packed once; it gives the bits of the
    unpacked GEMM (the training forward) and follows every change: a train step,
    an optimizer step, ``p.data`` writes, ``model.touch()``, the compute dtype
    switched away and back."""
    model = _mlp_bf16((37, 53, 29, 3))
    x = np.random.default_rng(5).standard_normal((3, 37)).astype(np.float32)
    xb = np.random.default_rng(6).standard_normal((40, 37)).astype(np.float32)
    y = np.array([0, 1, 2] * 13 + [0])

    def check():
        for inp in (x, xb, x[:1]):
            got = model(inp)
            np.testing.assert_array_equal(got, model.forward(inp, training=True))
            _bf16_oracle_close(model, inp, got)

    _steps_then_check(model, xb, y, check)
    model[0].weight.data[3, 5] += 1.0
    check()
    model[2].weight.data = np.zeros((29, 53), np.float32)
    check()
    kept = model[0].weight.data
    model(x)
    kept[1, :] = -2.0
    model.touch()
    check()
    fp32 = _mlp((37, 53, 29, 3), np.float32)
    fp32.flat_params[:] = model.flat_params
    model.compute_dtype = "float32"
    np.testing.assert_array_equal(model(xb), fp32(xb))  # not the bf16 pack
    model[0].weight.data[0, :] = 0.5  # changed while in fp32 mode
    model.compute_dtype = "bfloat16"
    check()


def test_bf16_packed_weights_follow_the_active_family():
    from nncore import config
    archs = config.available_archs()
    old = config.get_arch()
    model = _mlp_bf16((37, 53, 29, 3))
    x = np.random.default_rng(8).standard_normal((5, 37)).astype(np.float32)
    try:
        for a in archs + archs[:1]:
            config.set_arch(a)
            for inp in (x, x[:2]):
                got = model(inp)
                np.testing.assert_array_equal(got, model.forward(inp, training=True),
                                              err_msg=a)
                _bf16_oracle_close(model, inp, got)
    finally:
        config.set_arch(old)
