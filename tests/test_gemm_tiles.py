"""GEMM at the edges of each kernel family's own register tile and cache blocks
(the avx512_skx 12x32 / 12x16 tiles and their cpuid-derived blocks as much as
the others), against nncore.reference; bit-identical across thread counts with
threading forced down to tiny products; the micro-kernel probe and the
blocking report."""
import os

import numpy as np
import pytest

from nncore import _core, config, nn, ops
from nncore import reference as ref

from test_gemm import bound, check, rand

pytestmark = pytest.mark.kernel


def _key(dtype):
    return "f64" if dtype == np.float64 else "f32"


def _edges(x):
    """Sizes around a tile/block edge x: the cases a clipped write-out must get right."""
    return sorted({1, max(1, x - 1), x, x + 1})


@pytest.fixture
def tiny_threshold():
    """Let GEMMs of any size use threads, so the thread split lands inside small shapes."""
    _core._gemm_tune_threshold(1)
    yield
    _core._gemm_tune_threshold(0)


def test_tile_edges_vs_reference(arch, dtype):
    mr, nr, kc, mc, nc = _core._gemm_blocking()[_key(dtype)]
    rng = np.random.default_rng(mr * 100 + nr)
    # past the tile: remainders of 1, 4, 5 and 8 rows (avx512_skx computes those
    # with 4- and 8-row kernels) and of half a tile of columns (one vector of B)
    ms = sorted(set(_edges(mr) + [2 * mr + 1, mr + 4, mr + 5, mr + 8]))
    ns = sorted(set(_edges(nr) + _edges(max(1, nr // 2)) + [2 * nr - 1, nr + nr // 2 + 1]))
    for m in ms:
        for n in ns:
            for k in (1, 2, 5, 17):
                check(rand(rng, (m, k), dtype), rand(rng, (k, n), dtype))


def test_cache_block_edges_vs_reference(arch, threads, dtype):
    mr, nr, kc, mc, nc = _core._gemm_blocking()[_key(dtype)]
    rng = np.random.default_rng(kc)
    for m, k, n in [(mc + 1, kc + 1, nr + 3), (mr + 1, kc - 1, nc + 1), (mc - 1, 2 * kc + 3, 2 * nr + 1)]:
        a, b = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype)
        check(a, b)
        check(np.asfortranarray(a), np.asfortranarray(b))  # column-major: the other packers


@pytest.mark.parametrize("beta", [0.0, 1.0, -0.5])
def test_beta_and_transposes_at_tile_edges(arch, threads, dtype, beta):
    mr, nr = _core._gemm_blocking()[_key(dtype)][:2]
    rng = np.random.default_rng(12)
    m, k, n = 2 * mr + 3, 37, 3 * nr - 5
    a0, b0 = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype)
    for a in (a0, a0.T.copy().T):  # row-major A, and a transposed view (x.T)
        for b in (b0, b0.T.copy().T):  # row-major B, and a transposed view (W.T)
            out = rand(rng, (m, n), dtype)
            if beta == 0:
                out[:] = np.nan  # beta 0 never reads C
            got = check(a, b, out, 1.5, beta)
            assert np.isfinite(got).all()


def test_k_one_is_one_rounded_product(arch, threads, dtype):
    # k = 1: each element is a single product, rounded once, whatever the tile
    mr, nr = _core._gemm_blocking()[_key(dtype)][:2]
    rng = np.random.default_rng(13)
    for m, n in [(mr + 5, nr + 7), (1, 3 * nr), (4 * mr + 1, 1)]:
        a, b = rand(rng, (m, 1), dtype), rand(rng, (1, n), dtype)
        np.testing.assert_array_equal(ops.matmul(a, b), ref.matmul(a, b))
        np.testing.assert_array_equal(ops.matmul(a, b), a * b)


def test_threads_bitwise_identical_at_tile_edges(arch, dtype, tiny_threshold):
    mr, nr, kc, mc, nc = _core._gemm_blocking()[_key(dtype)]
    rng = np.random.default_rng(14)
    for m, k, n in [(2 * mr + 1, kc + 3, 4 * nr + 1), (5 * mr - 1, 7, 2 * nr + 3),
                    (mc + mr + 1, 33, nr + 1), (3, kc + 1, 9 * nr + 5)]:
        a, b = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype)
        res = []
        for t in (1, 2, 3):
            with config.num_threads(t):
                res.append(ops.matmul(a, b))
                res.append(ops.matmul(a.T.copy().T, b.T.copy().T))
        for r in res[1:]:
            assert np.array_equal(r, res[0])


def test_narrow_product_has_the_bits_of_the_tiles(arch, dtype, tiny_threshold):
    """C one register sliver wide (n <= nr: a 10-class output layer) with many rows
    takes the small kernel on A in place; each of its columns must have the bits
    of the same column in a wider product (which the tiles compute), at 1 and 2
    threads (rows split among the team), with alpha and beta too."""
    mr, nr, kc, mc, nc = _core._gemm_blocking()[_key(dtype)]
    rng = np.random.default_rng(15)
    for m, k in [(5, 7), (mr + 1, kc + 3), (600, 33), (131, 2 * kc + 1)]:
        a = rand(rng, (m, k), dtype)
        wide = rand(rng, (k, 2 * nr + 1), dtype)
        c0 = rand(rng, (m, wide.shape[1]), dtype)
        with config.num_threads(1):
            tiles = ops.matmul(a, wide)
            tiles_ab = ops.matmul(a, wide, out=c0.copy(), alpha=1.5, beta=-0.5)
        for n in sorted({1, 3, nr - 1, nr}):
            narrow = np.ascontiguousarray(wide[:, :n])
            for t in (1, 2):
                with config.num_threads(t):
                    # the narrow path against nncore.reference, then bit for bit vs the tiles
                    check(a, narrow)
                    check(a, narrow, np.ascontiguousarray(c0[:, :n]), alpha=1.5, beta=-0.5)
                    np.testing.assert_array_equal(
                        ops.matmul(a, narrow), tiles[:, :n],
                        err_msg=f"m={m} k={k} n={n}, {t} thread(s)")
                    # alpha and beta (C read), and beta 0 never reading a NaN C
                    np.testing.assert_array_equal(
                        ops.matmul(a, narrow, out=np.ascontiguousarray(c0[:, :n]),
                                   alpha=1.5, beta=-0.5), tiles_ab[:, :n],
                        err_msg=f"alpha/beta m={m} k={k} n={n}, {t} thread(s)")
                    np.testing.assert_array_equal(
                        ops.matmul(a, narrow, out=np.full((m, n), np.nan, dtype), beta=0.0),
                        tiles[:, :n], err_msg=f"NaN C m={m} k={k} n={n}, {t} thread(s)")


def test_narrow_packed_layer_with_bias_has_the_bits_of_a_wider_one(arch, dtype, tiny_threshold):
    """Inference weights packed once (B pre-packed) plus the bias: a Linear of nr
    outputs (one sliver: the small kernel) gives the bits of the first nr outputs of
    a Linear of 2 nr + 8 with the same first rows (the tiles), any batch."""
    rng = np.random.default_rng(16)
    mr, nr, kc = _core._gemm_blocking()[_key(dtype)][:3]
    k = 2 * kc + 5   # past two KC blocks
    wide = nn.Sequential(nn.Linear(k, 2 * nr + 8), dtype=dtype, seed=1)
    narrow = nn.Sequential(nn.Linear(k, nr), dtype=dtype, seed=2)
    narrow[0].weight.data[...] = wide[0].weight.data[:nr]
    narrow[0].bias.data[...] = rng.standard_normal(nr)
    wide[0].bias.data[:nr] = narrow[0].bias.data
    narrow.touch()
    wide.touch()
    x = rand(rng, (600, k), dtype)
    with config.num_threads(1):
        want = wide(x)[:, :nr]
    w, b = narrow[0].weight.data, narrow[0].bias.data
    exact = x.astype(np.float64) @ w.T.astype(np.float64) + b
    assert np.all(np.abs(want - exact) <= bound(x, w.T, None, 1.0, 0.0, dtype)
                  + 2 * np.finfo(dtype).eps * np.abs(exact)), "wide layer vs float64 oracle"
    for t in (1, 2):
        with config.num_threads(t):
            for rows in (slice(0, 600), slice(3, 20), slice(7, 8)):
                np.testing.assert_array_equal(narrow(x[rows]), want[rows],
                                              err_msg=f"rows {rows}, {t} thread(s)")


def test_ukr_probe_counts_flops(arch, dtype):
    mr, nr = _core._gemm_blocking()[_key(dtype)][:2]
    f64 = dtype == np.float64
    assert _core._ukr_probe(3, 40, 2, f64) == 2.0 * mr * nr * 40 * 2 * 3
    assert _core._ukr_probe(0, 1, 1, f64) == 0.0
    for bad in [(1, 0, 1), (1, 5, 0), (-1, 5, 1)]:
        with pytest.raises(ValueError, match="bad arguments"):
            _core._ukr_probe(*bad, f64)


def test_blocking_report_is_consistent(arch):
    blk = _core._gemm_blocking()
    for key in ("f32", "f64"):
        mr, nr, kc, mc, nc = blk[key]
        assert mr >= 1 and nr >= 1 and kc >= 1
        assert mc % mr == 0 and nc % nr == 0
        assert f"{mr}x{nr} kc {kc} mc {mc} nc {nc}" in config.show_config(print_out=False)["gemm"]


def _sysfs_cache(level, kinds):
    """Size in bytes of cpu0's cache at `level` of a type in `kinds`, from sysfs."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for d in sorted(os.listdir(base)):
            p = os.path.join(base, d)
            if not d.startswith("index"):
                continue
            with open(os.path.join(p, "level")) as f:
                lv = int(f.read())
            with open(os.path.join(p, "type")) as f:
                ty = f.read().strip()
            with open(os.path.join(p, "size")) as f:
                sz = f.read().strip()
            if lv == level and ty in kinds:
                return int(sz[:-1]) * {"K": 1024, "M": 1 << 20}[sz[-1]]
    except (OSError, ValueError, KeyError):
        pass
    return None


def test_skx_blocks_follow_the_cache_sizes():
    if "avx512_skx" not in config.available_archs():
        pytest.skip("needs a CPU with AVX-512")
    l1d, l2 = _sysfs_cache(1, ("Data",)), _sysfs_cache(2, ("Unified",))
    if not l1d or not l2:
        pytest.skip("cache sizes not in sysfs")
    old = config.get_arch()
    try:
        config.set_arch("avx512_skx")
        blk = _core._gemm_blocking()
    finally:
        config.set_arch(old)
    for key, elem in (("f32", 4), ("f64", 8)):
        mr, nr, kc, mc, nc = blk[key]
        assert (mr, nr) == ((12, 32) if key == "f32" else (12, 16))
        # the A sliver (mr x kc) takes at most a quarter of L1d, the B panel
        # (kc x nc) at most half of L2, the A block (mc x kc) at most an eighth
        want_kc = min(max(l1d // (4 * mr * elem) // 8 * 8, 64), 1024)
        assert kc == want_kc
        assert nc == min(max(l2 // (2 * kc * elem) // nr * nr, 4 * nr), 8192)
        assert mc == max(l2 // (8 * kc * elem) // mr * mr, 4 * mr)
