"""bf16 compute mode: the bf16 GEMM and whole networks against the NumPy twin.

Tolerances are derived, not guessed. The C GEMM and the twin round the same
operands to bfloat16 and multiply them exactly (a product of two bf16 values
is exact in float32); they differ only in how the k products are summed:
float64 then one rounding (twin), float32 in some fixed order (C). Any order of
a float32 sum of k terms is within gamma_k = k u / (1 - k u) (u = 2^-24) of
the exact sum times the sum of |terms| (Higham, Accuracy and Stability, 4.2),
plus u for each later float32 rounding (the twin's cast, beta*C, the bias).

Through a network a float32 difference can move an activation across a bf16
rounding boundary; since rounding is monotone, the operand difference is at
most round(v + e) - round(v - e) for a value v known to within e
(``_operand_bound``), and the bound of the next GEMM carries it:
|A'B' - AB| <= |dA||B| + |A||dB| + |dA||dB|.
"""
import pathlib
import pickle

import numpy as np
import pytest

import nncore
import nncore._core as _core
from nncore import _registry, config, datasets, nn, optim
from nncore import reference as R

U = 2.0 ** -24  # float32 unit roundoff


def _gamma(k):
    return k * U / (1 - k * U)


def _abs64(x):
    return np.abs(R.round_bf16(x)).astype(np.float64)


def _gemm_bound(a, b, k_extra_roundings=2):
    """Bound on |C GEMM - twin| for exact operands a (m, k), b (k, n)."""
    k = a.shape[1]
    s = _abs64(a) @ _abs64(b)
    return (_gamma(k) + k_extra_roundings * U) * s


def _operand_bound(v, e):
    """Bound on |bf16(v') - bf16(v)| over all v' with |v' - v| <= e (rounding is monotone)."""
    v = np.asarray(v, np.float64)
    lo = R.round_bf16((v - e).astype(np.float32)).astype(np.float64)
    hi = R.round_bf16((v + e).astype(np.float32)).astype(np.float64)
    mid = R.round_bf16(v.astype(np.float32)).astype(np.float64)
    # (v -+ e) itself rounded to float32 may move by half an ulp: widen by one ulp
    up = np.maximum(hi - mid, 0) + np.spacing(np.abs(hi).astype(np.float32)).astype(np.float64)
    dn = np.maximum(mid - lo, 0) + np.spacing(np.abs(lo).astype(np.float32)).astype(np.float64)
    return np.where(e > 0, np.maximum(up, dn), 0.0)


def _gemm_bound_perturbed(a, ea, b, eb):
    """Bound on |C GEMM(a', b') - twin GEMM(a, b)| for |a' - a| <= ea, |b' - b| <= eb."""
    da, db = _operand_bound(a, ea), _operand_bound(b, eb)
    A, B = _abs64(a), _abs64(b)
    k = a.shape[1]
    return ((A + da) @ (B + db)) * (_gamma(k) + 2 * U) + da @ B + A @ db + da @ db


def _rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# ------------------------------------------------------------- rounding


def test_round_bf16_ties_specials():
    x = np.array([1.0, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -2.5,
                  np.inf, -np.inf, 3.4e38, 0.0, -0.0], np.float32)
    got = R.round_bf16(x)
    # spacing of bf16 at 1 is 2^-7: ties go to the even mantissa
    want = np.array([1.0, 1.0, 1 + 2 ** -6, 1 + 2 ** -7, -2.5, np.inf, -np.inf, np.inf,
                     0.0, -0.0], np.float32)
    np.testing.assert_array_equal(got, want)
    assert np.signbit(got[-1])
    nan = R.round_bf16(np.array([np.nan, -np.nan], np.float32))
    assert np.isnan(nan).all() and np.signbit(nan[1]) and not np.signbit(nan[0])
    # every result is a bf16 value: low 16 bits clear, and within half a bf16 ulp
    v = _rand(np.random.default_rng(0), 10000)
    r = R.round_bf16(v)
    assert not (r.view(np.uint32) & 0xFFFF).any()
    assert (np.abs(r - v) <= np.abs(v) * 2.0 ** -8).all()


def _edge_floats():
    """float32 patterns at every bf16 boundary: each of the 2^16 high halves with
    low halves 0, just under a tie, the tie, just over it and all ones (ties to
    even and odd, subnormals, max finite to inf, -0, inf, NaN payloads)."""
    hi = np.arange(1 << 16, dtype=np.uint32) << 16
    lows = np.array([0, 0x7FFF, 0x8000, 0x8001, 0xFFFF], np.uint32)
    return (hi[:, None] | lows[None, :]).ravel().view(np.float32)


def _round_bf16_oracle(x):
    """Round to nearest even by comparing the two neighbouring bf16 values in
    float64 (independent of the bias trick of round_bf16); finite only."""
    u = x.view(np.uint32)
    lo = (u & 0xFFFF0000).view(np.float32).astype(np.float64)
    step = np.ldexp(1.0, np.maximum(((u >> 23) & 0xFF).astype(np.int64), 1) - 134)
    hi = lo + np.copysign(step, lo)  # next bf16 away from zero; 2^128 stands for inf
    d_lo, d_hi = np.abs(x - lo), np.abs(hi - x)
    odd = ((u >> 16) & 1) == 1
    r = np.where((d_hi < d_lo) | ((d_hi == d_lo) & odd), hi, lo)
    return np.where(np.abs(r) >= 2.0 ** 128, np.copysign(np.inf, r), r).astype(np.float32)


def test_round_bf16_matches_independent_rounding():
    x = _edge_floats()
    got = R.round_bf16(x)
    fin = np.isfinite(x)
    np.testing.assert_array_equal(got[fin].view(np.uint32),
                                  _round_bf16_oracle(x[fin]).view(np.uint32))
    nan = np.isnan(x)
    # NaN: high half kept, quiet bit set (the instructions' rule)
    want = (x[nan].view(np.uint32) | 0x00400000) & 0xFFFF0000
    np.testing.assert_array_equal(got[nan].view(np.uint32), want)
    inf = np.isinf(x)
    np.testing.assert_array_equal(got[inf], x[inf])


@pytest.mark.kernel
def test_bgemm_rounds_operands_like_the_twin(arch):
    """C's operand rounding bit for bit against round_bf16 (k = 1, b = 1: C = bf16(a)),
    through the packed path (many rows) and the few-row path; hardware conversions
    flush subnormal inputs to zero, and the accumulator's +0 turns -0 into +0."""
    x = _edge_floats()
    want = R.round_bf16(x)
    sub = (np.abs(x) < np.finfo(np.float32).tiny) & (x != 0)
    one = np.ones((1, 1), np.float32)
    # x as A (many rows: packed path), as B row-major and as B^T (one row of A:
    # the few-row path where a family has one; B packers otherwise)
    runs = [(x[:, None], one), (one, x[None, :]), (one, np.ascontiguousarray(x[:, None]).T)]
    for a, b in runs:
        out = _core._bmatmul(a, b, np.empty((a.shape[0], b.shape[1]), np.float32),
                             1.0, 0.0).ravel()
        w, s = want, sub
        nan = np.isnan(w)
        assert (np.isnan(out) == nan).all()
        ok = (out == w) | nan | (s & (out == 0))
        assert ok.all(), (x[~ok][:5], out[~ok][:5], w[~ok][:5])
        exact = ~nan & ~s & (w != 0)
        np.testing.assert_array_equal(out[exact].view(np.uint32), w[exact].view(np.uint32))


# ----------------------------------------------------------------- GEMM


@pytest.mark.kernel
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (3, 40, 301), (2, 5, 48), (4, 3, 64), (5, 7, 3),
                                   (37, 45, 77), (130, 70, 801)])
@pytest.mark.parametrize("orient", ["x@W.T", "x.T@g", "g@W"])
def test_bgemm_vs_twin(arch, threads, m, n, k, orient):
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    if orient == "x@W.T":   # forward: x (m, k), W (n, k)
        a, b = _rand(rng, m, k), _rand(rng, n, k).T
    elif orient == "x.T@g":  # weight gradient: g (k, m) -> g.T, x (k, n)
        a, b = _rand(rng, k, m).T, _rand(rng, k, n)
    else:                   # input gradient: g (m, k), W (k, n)
        a, b = _rand(rng, m, k), _rand(rng, k, n)
    for beta, bias in [(0.0, None), (1.0, _rand(rng, n))]:
        c0 = _rand(rng, m, n)
        out = c0.copy() if beta else np.full((m, n), np.nan, np.float32)
        _core._bmatmul(a, b, out, 1.0, beta, bias)
        want = R.matmul_bf16(a, b, c0.copy(), 1.0, beta, bias)
        tol = _gemm_bound(a, b)
        if beta:
            tol = tol + 2 * U * np.abs(c0)
        if bias is not None:
            tol = tol + 2 * U * (np.abs(want) + np.abs(bias))
        assert np.isfinite(out).all()
        assert (np.abs(out.astype(np.float64) - want) <= tol).all()
    # bf16 differs from float32: a tight fp32 check would fail on generic data
    if k >= 77:
        assert np.abs(out - R.matmul(a, b, c0.copy(), 1.0, 1.0) - bias).max() > 1e-3


@pytest.mark.kernel
def test_bgemm_bit_identical_across_threads(arch):
    rng = np.random.default_rng(3)
    a, b = _rand(rng, 300, 513), _rand(rng, 513, 700)
    outs = []
    for t in (1, 2):
        with config.num_threads(t):
            out = np.empty((300, 700), np.float32)
            outs.append(_core._bmatmul(a, b, out, 1.0, 0.0).view(np.uint32))
    np.testing.assert_array_equal(outs[0], outs[1])


@pytest.mark.kernel
def test_portable_vs_hardware_family():
    """Families differ only in the order of the float32 sums: |c1 - c2| <= 2 gamma_k sum|ab|."""
    hw = [a for a in config.available_archs() if a in ("avx512_bf16", "amx")]
    if not hw:
        pytest.skip("no bf16 instructions on this CPU")
    rng = np.random.default_rng(4)
    a, b = _rand(rng, 100, 1000), _rand(rng, 1000, 90)
    old = config.get_arch()
    outs = {}
    try:
        for fam in ["ref", *hw]:
            config.set_arch(fam)
            outs[fam] = _core._bmatmul(a, b, np.empty((100, 90), np.float32), 1.0, 0.0)
    finally:
        config.set_arch(old)
    s = _abs64(a) @ _abs64(b)
    for fam in hw:
        assert (np.abs(outs[fam].astype(np.float64) - outs["ref"]) <= 2 * _gamma(1000) * s).all()


def test_amx_only_where_the_cpu_has_it():
    cpuinfo = pathlib.Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.exists() else ""
    if "amx_bf16" not in flags:
        assert "amx" not in config.available_archs()
        with pytest.raises(ValueError, match="not supported"):
            config.set_arch("amx")
    elif "amx_tile" in flags.split():
        # Linux lists amx_tile only when it saves tile state: the family must be
        # offered (not silently dropped, e.g. when arch_prctl refuses the tile data)
        assert "amx" in config.available_archs()
    else:
        pytest.skip("amx_bf16 without amx_tile listed: the kernel does not enable AMX")


# --------------------------------------------------------------- network


def _mlp(compute, seed=0, width=(33, 70, 20)):
    return nn.Sequential(nn.Linear(width[0], width[1]), nn.ReLU(),
                         nn.Linear(width[1], width[2]), dtype="float32", seed=seed,
                         compute_dtype=compute)


@pytest.mark.kernel
def test_forward_backward_vs_twin(arch, threads):
    """Forward, every weight gradient and (through the ReLU) dX = dY W, with the
    bound carried from layer to layer."""
    rng = np.random.default_rng(5)
    model = _mlp("bfloat16")
    x, dout = _rand(rng, 40, 33), _rand(rng, 40, 20)
    out = model.forward(x, training=True)
    model.zero_grad()
    model.backward(dout)
    twin = R.ReferenceNetwork.from_model(model, dtype=np.float32)
    twin.compute_dtype = "bfloat16"
    want = twin.forward(x, training=True)
    twin.backward(dout)
    W1, b1 = twin.params[0]["weight"], twin.params[0]["bias"]
    W2 = twin.params[2]["weight"]
    # layer 1: exact operands
    h_pre = R.matmul_bf16(x, W1.T) + b1
    e_h = _gemm_bound(x, W1.T) + 2 * U * (np.abs(h_pre) + np.abs(b1))
    h = np.maximum(h_pre, 0)
    # layer 2: h known to within e_h
    e_out = _gemm_bound_perturbed(h, e_h, W2.T, 0.0) + 2 * U * np.abs(want)
    assert (np.abs(out.astype(np.float64) - want) <= e_out).all()
    g = dict(model.named_parameters())
    # dW2 = dout^T h: dout exact, h within e_h
    e_dw2 = _gemm_bound_perturbed(dout.T, 0.0, h, e_h)
    assert (np.abs(g["2.weight"].grad.astype(np.float64) - twin.grads[2]["weight"]) <= e_dw2).all()
    # dh = dout W2 (exact operands), masked by the ReLU: rows where h_pre may change sign
    # are where e_h >= |h_pre|: none here (checked), so the masks agree
    assert (np.abs(h_pre) > e_h).all()
    dh = R.matmul_bf16(dout, W2) * (h_pre > 0)
    e_dh = (_gemm_bound(dout, W2) * (h_pre > 0))
    e_dw1 = _gemm_bound_perturbed(dh.T, e_dh.T, x, 0.0)
    assert (np.abs(g["0.weight"].grad.astype(np.float64) - twin.grads[0]["weight"]) <= e_dw1).all()


@pytest.mark.kernel
def test_train_step_vs_twin(arch):
    """One SGD step (MSE): parameters after the step within lr * (gradient bound) + rounding."""
    rng = np.random.default_rng(6)
    model = _mlp("bfloat16", width=(16, 48, 4))
    x, y = _rand(rng, 32, 16), _rand(rng, 32, 4)
    twin = R.ReferenceNetwork.from_model(model, dtype=np.float32)
    twin.compute_dtype = "bfloat16"
    lr = 0.05
    W1, b1, W2 = twin.params[0]["weight"], twin.params[0]["bias"], twin.params[2]["weight"]
    # forward bounds as in test_forward_backward_vs_twin
    h_pre = R.matmul_bf16(x, W1.T) + b1
    e_h = _gemm_bound(x, W1.T) + 2 * U * (np.abs(h_pre) + np.abs(b1))
    assert (np.abs(h_pre) > e_h).all()
    h = np.maximum(h_pre, 0)
    out = twin.forward(x)
    e_out = _gemm_bound_perturbed(h, e_h, W2.T, 0.0) + 2 * U * np.abs(out)
    # MSE mean: g = 2 (out - y) / (batch * outputs), float32
    scale = 2.0 / y.size
    g = (scale * (out - y)).astype(np.float32)
    e_g = scale * (e_out + 2 * U * (np.abs(out) + np.abs(y))) + 2 * U * np.abs(g)
    e_dw2 = _gemm_bound_perturbed(g.T, e_g.T, h, e_h)
    dh_mask = h_pre > 0
    e_dh = (_gemm_bound_perturbed(g, e_g, W2, 0.0)) * dh_mask
    dh = R.matmul_bf16(g, W2) * dh_mask
    e_dw1 = _gemm_bound_perturbed(dh.T, e_dh.T, x, 0.0)

    before = {n: p.data.copy() for n, p in model.named_parameters()}
    model.train_step(x, y, "mse", optim.SGD(model.parameters(), lr=lr))
    twin.zero_grad()
    twin.forward(x, training=True)
    twin.backward(g.astype(np.float32))
    for name, idx, kind, e in [("0.weight", 0, "weight", e_dw1), ("2.weight", 2, "weight", e_dw2)]:
        got = dict(model.named_parameters())[name].data
        want = before[name].astype(np.float64) - lr * twin.grads[idx][kind]
        tol = lr * e + 4 * U * (np.abs(want) + np.abs(before[name]))
        assert (np.abs(got.astype(np.float64) - want) <= tol).all(), name


@pytest.mark.kernel
def test_train_steps_bit_identical_across_threads(arch):
    rng = np.random.default_rng(7)
    x, y = _rand(rng, 300, 33), rng.integers(0, 20, 300)
    res = []
    for t in (1, 2):
        with config.num_threads(t):
            m = _mlp("bfloat16", width=(33, 300, 20))
            opt = optim.Adam(m.parameters(), lr=1e-3)
            for _ in range(3):
                m.train_step(x, y, "cross_entropy", opt)
            res.append(m.flat_params.copy().view(np.uint32))
    np.testing.assert_array_equal(res[0], res[1])


def test_inference_small_batch_rounds_too():
    """Batches of <= 4 rows (the few-row kernel on the packed bf16 weights) compute in bf16 too."""
    rng = np.random.default_rng(8)
    model = _mlp("bfloat16")
    x = _rand(rng, 3, 33)
    twin = R.ReferenceNetwork.from_model(model, dtype=np.float32)
    twin.compute_dtype = "bfloat16"
    W1, b1 = twin.params[0]["weight"], twin.params[0]["bias"]
    h_pre = R.matmul_bf16(x, W1.T) + b1
    e_h = _gemm_bound(x, W1.T) + 2 * U * (np.abs(h_pre) + np.abs(b1))
    want = twin.forward(x)
    e = _gemm_bound_perturbed(np.maximum(h_pre, 0), e_h, twin.params[2]["weight"].T, 0.0)
    assert (np.abs(model.predict(x).astype(np.float64) - want) <= e + 2 * U * np.abs(want)).all()


# ------------------------------------------------------------------ API


def test_compute_dtype_api_and_refusals():
    m = _mlp("float32")
    assert m.compute_dtype == "float32" and "compute_dtype" not in m.get_config()
    m.compute_dtype = "bfloat16"
    assert m.compute_dtype == "bfloat16" and m.get_config()["compute_dtype"] == "bfloat16"
    with pytest.raises(ValueError, match="compute_dtype must be one of"):
        m.compute_dtype = "float16"
    # a non-str (an unhashable list, a model file's JSON array) names what was expected
    for bad in (["bfloat16"], {"bfloat16": 1}):
        with pytest.raises(TypeError, match=r"compute_dtype must be a str.*'float32'.*got"):
            m.compute_dtype = bad
        with pytest.raises(TypeError, match=r"compute_dtype must be a str"):
            nn.Sequential(nn.Linear(3, 2), compute_dtype=bad)
    assert m.compute_dtype == "bfloat16"
    with pytest.raises(ValueError, match="float32 model.*float64"):
        nn.Sequential(nn.Linear(3, 2), dtype="float64", compute_dtype="bfloat16")
    m64 = nn.Sequential(nn.Linear(3, 2), dtype="float64")
    with pytest.raises(ValueError, match="float32 model"):
        m64.compute_dtype = "bfloat16"
    assert m64.compute_dtype == "float32"
    # the C API refuses too (nn_net_set_compute), not only the Python setter
    with pytest.raises(ValueError):
        m64._net.compute = _registry.COMPUTE["bfloat16"]
    with pytest.raises(ValueError):
        m._net.compute = 7
    assert m.compute_dtype == "bfloat16"


def test_save_load_round_trip(tmp_path):
    m = _mlp("bfloat16")
    path = tmp_path / "m.safetensors"
    m.save(path)
    back = nncore.io.load(path)
    assert back.compute_dtype == "bfloat16"
    x = _rand(np.random.default_rng(9), 10, 33)
    np.testing.assert_array_equal(back.predict(x), m.predict(x))
    assert "compute_dtype" in nncore.io.load_metadata(path)["config"]
    assert pickle.loads(pickle.dumps(m)).compute_dtype == "bfloat16"
    m.compute_dtype = "float32"
    m.save(path)
    assert nncore.io.load(path).compute_dtype == "float32"


# ------------------------------------------------------------- accuracy


@pytest.mark.slow
def test_digits_bf16_within_a_point_of_fp32():
    Xtr, Xte, ytr, yte = datasets.load_digits_split(test_size=0.2, seed=0)
    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-6
    Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd
    acc = {}
    for compute in ("float32", "bfloat16"):
        m = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                          nn.Linear(64, 10), seed=0, compute_dtype=compute)
        m.fit(Xtr, ytr, loss="cross_entropy", optimizer="adam", epochs=20, batch_size=32,
              verbose=0)
        acc[compute] = float((m.predict_classes(Xte) == yte).mean())
    assert acc["bfloat16"] >= 0.95
    assert abs(acc["bfloat16"] - acc["float32"]) <= 0.01, acc


def test_bgemm_k0_and_errors():
    rng = np.random.default_rng(10)
    c0, bias = _rand(rng, 3, 4), _rand(rng, 4)
    out = c0.copy()
    _core._bmatmul(np.empty((3, 0), np.float32), np.empty((0, 4), np.float32), out, 1.0, 2.0,
                   bias)
    np.testing.assert_array_equal(out, np.float32(2.0) * c0 + bias)
    with pytest.raises(TypeError, match="float32"):
        _core._bmatmul(np.ones((2, 2)), np.ones((2, 2)), np.empty((2, 2)), 1.0, 0.0)
