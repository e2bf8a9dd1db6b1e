"""pytest-benchmark suite for matmul: nncore vs NumPy on the same arrays.

    pytest benchmarks/bench_gemm.py --benchmark-group-by=param:case

Not part of the test run (tests/ holds the correctness tests); each case
checks its result once before timing.
"""
import numpy as np
import pytest

from nncore import ops

SHAPES = {
    "sq32": (32, 32, 32), "sq64": (64, 64, 64), "sq256": (256, 256, 256),
    "sq1024": (1024, 1024, 1024),
    "mlp128x784x256": (128, 784, 256), "mlp128x256x128": (128, 256, 128),
    "mlp512x1024x2048": (512, 1024, 2048),
}
FORMS = ["x@W", "x.T@g", "g@W.T"]


def operands(case, form, dtype):
    M, K, N = SHAPES[case]
    rng = np.random.default_rng(0)
    r = lambda *s: rng.standard_normal(s).astype(dtype)  # noqa: E731
    if form == "x@W":
        return r(M, K), r(K, N)
    if form == "x.T@g":
        return r(M, K).T, r(M, N)
    return r(M, N), r(K, N).T


@pytest.mark.parametrize("lib", ["nncore", "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("case", list(SHAPES))
def test_matmul(benchmark, case, form, dtype, lib):
    if case.startswith("sq") and form != "x@W":
        pytest.skip("square shapes: forward form only")
    a, b = operands(case, form, dtype)
    out = np.empty((a.shape[0], b.shape[1]), dtype)
    fn = (lambda: ops.matmul(a, b, out)) if lib == "nncore" else (
        lambda: np.matmul(a, b, out=out))
    fn()
    want = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(out, want, rtol=0, atol=float(
        np.finfo(dtype).eps * 8 * np.sqrt(a.shape[1]) * np.abs(want).max() + 1e-30))
    benchmark(fn)
    flops = 2.0 * a.shape[0] * a.shape[1] * b.shape[1]
    benchmark.extra_info["gflops"] = flops / benchmark.stats.stats.min / 1e9
