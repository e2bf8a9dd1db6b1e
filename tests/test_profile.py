"""``Sequential.profile`` / ``nncore.profiling`` / ``nncore bench --profile``: the phase
timers of the fused C step (csrc/net.c, net_tmpl.h) and the table built on them.

Oracles: FLOP and byte counts are the closed forms from the shapes (2·m·n·k per GEMM,
each array read or written once), written out here independently of the module; the
profiled step's results are plain ``train_step``'s, bit for bit; the phase times add
up to no more than the C clock's whole step. Speeds are never asserted.
"""
import json

import numpy as np
import pytest

import nncore
import nncore.nn as nn
from nncore import _bench_profile, cli, optim, profiling

KEYS = {"layer", "name", "phase", "pass", "time_s", "flop", "gflops", "pct_peak", "bytes",
        "gb_s"}


def mlp(sizes, dtype, seed=3, extra=()):
    layers = list(extra)
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers, dtype=dtype, seed=seed)


def data(n_in, n_out, batch, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, n_in)).astype(dtype),
            rng.integers(0, n_out, size=batch))


def by_layer(prof):
    out = {}
    for r in prof.layers:
        out.setdefault(r["layer"], []).append(r)
    return out


# ------------------------------------------------------------------ counts

@pytest.mark.parametrize("sizes,batch", [((64, 128, 64, 10), 32), ((20, 7, 3), 3),
                                         ((33, 17, 9, 5, 2), 9)])
def test_flops_and_bytes_are_the_closed_forms(dtype, sizes, batch):
    model = mlp(sizes, dtype)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x, y = data(sizes[0], sizes[-1], batch, dtype)
    prof = model.profile(x, y, "cross_entropy", opt, steps=2)
    es = np.dtype(dtype).itemsize
    rows = by_layer(prof)
    assert sorted(rows) == list(range(len(model.layers)))
    for li, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        i = 2 * li                              # Linear, ReLU, Linear, ...
        got = {r["pass"]: r for r in rows[i]}
        want = {"GEMM+bias": 2 * batch * a * b, "dW GEMM": 2 * batch * a * b}
        if li > 0:                              # no dX for the first layer
            want["dX GEMM"] = 2 * batch * a * b
        assert {k: v["flop"] for k, v in got.items() if v["flop"]} == want
        assert got["db"]["bytes"] == (batch * b + b) * es and got["db"]["flop"] is None
        if li < len(sizes) - 2:                 # the ReLU after it: y read and written
            relu = {(r["phase"], r["pass"]): r["bytes"] for r in rows[i + 1]}
            assert relu == {("forward", "relu (after the GEMM)"): 2 * batch * b * es,
                            ("backward", "relu"): 3 * batch * b * es}
    # every GEMM of the step: forward, dW, and dX of all but the first layer
    macs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    assert sum(r["flop"] or 0 for r in prof.layers) == 2 * batch * (3 * sum(macs) - macs[0])
    passes = {r["pass"]: r for r in prof.passes}
    n = model.num_parameters
    assert n == sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    assert passes["optimizer"]["bytes"] == n * es * 7     # p, g in; p out; m, v in and out
    assert passes["grad norm"]["bytes"] == n * es
    # logits read, gradient written, int64 labels read
    assert passes["value and gradient"]["bytes"] == 2 * batch * sizes[-1] * es + 8 * batch


def test_rates_follow_from_times_and_counts(dtype):
    model = mlp((40, 30, 5), dtype)
    x, y = data(40, 5, 16, dtype)
    prof = model.profile(x, y, "cross_entropy", optim.SGD(model.parameters(), lr=0.1),
                         steps=3)
    assert prof.peak_gflops > 0
    for r in prof.layers + prof.passes:
        assert set(r) == KEYS
        if r["flop"]:
            assert r["gflops"] == pytest.approx(r["flop"] / r["time_s"] / 1e9)
            assert r["pct_peak"] == pytest.approx(100 * r["gflops"] / prof.peak_gflops)
            assert r["gb_s"] is None
        if r["bytes"]:
            assert r["gb_s"] == pytest.approx(r["bytes"] / r["time_s"] / 1e9)
            assert r["gflops"] is None and r["pct_peak"] is None
    # SGD without momentum keeps no state: p, g in, p out
    opt_row = next(r for r in prof.passes if r["pass"] == "optimizer")
    assert opt_row["bytes"] == 3 * model.num_parameters * np.dtype(dtype).itemsize


def test_peak_is_measured_once_and_scales():
    p1 = profiling.fma_peak_gflops("float32", 1)
    assert p1 == profiling.fma_peak_gflops("float32", 1)      # cached per process
    assert profiling.fma_peak_gflops("float64", 1) == pytest.approx(p1 / 2)
    if (nncore._core._fma_peak_probe(10, 16) == nncore._core._fma_peak_probe(10, 16) or
            nncore._core._fma_peak_probe(10, 8) == nncore._core._fma_peak_probe(10, 8)):
        assert p1 > 0        # a CPU with AVX2 or AVX-512 has a number
    with pytest.raises(ValueError, match="float32 or float64"):
        profiling.fma_peak_gflops("int32")
    with pytest.raises(ValueError, match="threads"):
        profiling.fma_peak_gflops("float32", 0)


# ------------------------------------------------------------------ times

@pytest.mark.parametrize("batch", [3, 48])      # 3: the GEMM's small kernel of few rows
def test_phase_times_are_positive_and_add_up_to_the_step(dtype, threads, batch):
    model = mlp((64, 128, 64, 10), dtype)
    x, y = data(64, 10, batch, dtype)
    prof = model.profile(x, y, "cross_entropy", optim.Adam(model.parameters()), steps=5)
    assert prof.steps == 5 and prof.batch == batch and prof.threads == threads
    assert prof.total_s > 0 and prof.wall_s > 0
    assert all(r["time_s"] > 0 for r in prof.layers)
    named = [r for r in prof.passes if r["phase"] != "other"]
    assert all(r["time_s"] > 0 for r in named)
    measured = sum(r["time_s"] for r in prof.layers + named)
    # phases are nested inside the step on one clock: never more than the step; and
    # they cover it but for the bookkeeping between them
    assert measured <= prof.total_s * (1 + 1e-9)
    assert measured >= 0.5 * prof.total_s
    relu_fwd = [r for r in prof.layers if r["name"] == "ReLU()" and r["phase"] == "forward"]
    # a few rows take the GEMM's small kernel, then the same ReLU pass as a batch
    assert {r["pass"] for r in relu_fwd} == {"relu (after the GEMM)"}
    other = next(r for r in prof.passes if r["phase"] == "other")
    assert other["time_s"] == pytest.approx(prof.total_s - measured, abs=1e-12)


# ------------------------------------------------------------ same results

def test_profiling_does_not_change_the_steps(dtype, threads):
    extra = (nn.Dropout(0.2),)                  # the dropout step counter too
    runs = []
    for profiled in (False, True):
        model = mlp((30, 24, 16, 4), dtype, extra=extra)
        opt = optim.Adam(model.parameters(), lr=1e-2)
        x, y = data(30, 4, 20, dtype)
        if profiled:
            model.profile(x, y, "cross_entropy", opt, steps=6, warmup=2)
        else:
            for _ in range(8):
                model.train_step(x, y, "cross_entropy", opt)
        runs.append((model.flat_params.copy(), opt.state["exp_avg_sq"].copy(),
                     model.dropout_step, opt.step_count, model.last_grad_norm))
    (p0, v0, s0, c0, g0), (p1, v1, s1, c1, g1) = runs
    assert p0.tobytes() == p1.tobytes() and v0.tobytes() == v1.tobytes()
    assert (s0, c0, g0) == (s1, c1, g1) == (8, 8, g0)


def test_rounds_train_on_and_report_the_fastest(dtype):
    runs = []
    for profiled in (False, True):
        model = mlp((12, 10, 3), dtype)
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        x, y = data(12, 3, 10, dtype)
        if profiled:
            prof = model.profile(x, y, "cross_entropy", opt, steps=3, warmup=1, rounds=4)
        else:
            for _ in range(13):
                model.train_step(x, y, "cross_entropy", opt)
        runs.append(model.flat_params.copy())
    assert runs[0].tobytes() == runs[1].tobytes()
    assert prof.steps == 3 and prof.rounds == 4 and prof.to_dict()["rounds"] == 4
    assert "the fastest of 4 rounds" in str(prof)
    # the record holds the last round; the one shown is no slower
    _, ss, n = model._net.profile_read()
    assert n == 3
    assert prof.total_s <= ss[nncore._core.C_ENUMS["nn_prof_step_slot"]["NN_PROF_STEP_TOTAL"]] / n


def test_timers_run_only_while_profiling(dtype):
    model = mlp((10, 8, 3), dtype)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x, y = data(10, 3, 8, dtype)
    with pytest.raises(ValueError, match="never turned on"):
        model._net.profile_read()
    model.profile(x, y, "cross_entropy", opt, steps=4)
    ls, ss, n = model._net.profile_read()
    for _ in range(3):                          # profiling is off again
        model.train_step(x, y, "cross_entropy", opt)
    model.forward(x, training=True)
    ls2, ss2, n2 = model._net.profile_read()
    assert n == n2 == 4 and ls.tobytes() == ls2.tobytes() and ss.tobytes() == ss2.tobytes()
    assert ls.shape == (len(model.layers), len(nncore._core.C_ENUMS["nn_prof_layer_slot"]))
    assert ss.shape == (len(nncore._core.C_ENUMS["nn_prof_step_slot"]),)


# ------------------------------------------------------------------ shapes

def test_to_dict_has_one_entry_per_layer_and_phase(dtype):
    # a leading dropout (no backward), a non-fused activation, a fused ReLU
    model = nn.Sequential(nn.Dropout(0.1), nn.Linear(12, 9), nn.Tanh(), nn.Linear(9, 6),
                          nn.ReLU(), nn.Linear(6, 2, bias=False), dtype=dtype)
    x = np.random.default_rng(1).standard_normal((7, 12))
    y = np.random.default_rng(2).standard_normal((7, 2))
    prof = model.profile(x, y, "mse", optim.SGD(model.parameters(), lr=0.01, momentum=0.9),
                         steps=2)
    d = prof.to_dict()
    assert {"total_s", "layers", "passes", "wall_s", "steps", "rounds", "batch", "threads",
            "dtype", "compute_dtype", "peak_gflops", "cpu", "arch", "model"} == set(d)
    assert d["total_s"] == prof.total_s and d["dtype"] == np.dtype(dtype).name
    assert json.loads(json.dumps(d)) == d                  # plain Python values
    phases = [(r["layer"], r["phase"], r["pass"]) for r in d["layers"]]
    assert phases == [
        (0, "forward", "dropout"),
        (1, "forward", "GEMM+bias"), (1, "backward", "dW GEMM"), (1, "backward", "db"),
        (2, "forward", "tanh"), (2, "backward", "tanh"),
        (3, "forward", "GEMM+bias"), (3, "backward", "dW GEMM"), (3, "backward", "db"),
        (3, "backward", "dX GEMM"),
        (4, "forward", "relu (after the GEMM)"), (4, "backward", "relu"),
        (5, "forward", "GEMM"), (5, "backward", "dW GEMM"), (5, "backward", "dX GEMM")]
    assert [r["name"] for r in d["layers"]][:2] == [repr(model.layers[0]),
                                                    repr(model.layers[1])]
    es = np.dtype(dtype).itemsize
    assert d["layers"][0]["bytes"] == 7 * 12 * (2 * es + 1)   # x in, y out, 1-byte mask
    # MSE: outputs and targets read, gradient written; SGD momentum: one state buffer
    passes = {r["pass"]: r["bytes"] for r in d["passes"]}
    assert passes["value and gradient"] == 3 * 7 * 2 * es
    assert passes["optimizer"] == 5 * model.num_parameters * es


def test_print_shows_the_table(capsys, dtype):
    model = mlp((16, 8, 4), dtype)
    x, y = data(16, 4, 8, dtype)
    prof = model.profile(x, y, "cross_entropy", optim.Adam(model.parameters()), steps=2)
    print(prof)
    out = capsys.readouterr().out
    assert profiling.cpu_name() in out and nncore.config.get_arch() in out
    assert f"{np.dtype(dtype).name}, batch 8" in out
    header = next(ln for ln in out.splitlines() if ln.startswith("layer"))
    assert header.split() == ["layer", "name", "phase", "pass", "time", "%", "step",
                              "GFLOP/s", "%", "peak", "GB/s"]
    for r in prof.layers:
        assert any(ln.split()[:1] == [str(r["layer"])] and r["pass"] in ln
                   for ln in out.splitlines())
    assert "Adam" in out and "total" in out
    assert "Profile 16-8-4" in repr(prof)


def test_a_bf16_model_is_measured_against_the_float32_peak_and_says_so(capsys):
    # the only measured peak is float32's; a bf16 GEMM (vdpbf16ps: 2 products per lane)
    # can pass 100% of it, so the table must name both the compute mode and that peak
    profs = {}
    for mode in ("float32", "bfloat16"):
        model = nn.Sequential(nn.Linear(48, 64), nn.ReLU(), nn.Linear(64, 10),
                              compute_dtype=mode)
        x, y = data(48, 10, 32, "float32")
        profs[mode] = prof = model.profile(x, y, "cross_entropy",
                                           optim.SGD(model.parameters(), lr=0.01), steps=2)
        assert prof.compute_dtype == mode == prof.to_dict()["compute_dtype"]
        assert prof.dtype == "float32"
        assert prof.peak_gflops == profiling.fma_peak_gflops("float32", prof.threads)
        for r in prof.layers:
            if r["gflops"] is not None:
                assert r["pct_peak"] == pytest.approx(100 * r["gflops"] / prof.peak_gflops)
    bf16 = str(profs["bfloat16"]).splitlines()
    assert bf16[0].startswith("nncore profile: 48-64-10, float32 (compute bfloat16), batch 32")
    assert "; % peak: of this float32 FMA peak, which bfloat16 GEMMs can pass" in bf16[1]
    fp32 = str(profs["float32"]).splitlines()
    assert fp32[0].startswith("nncore profile: 48-64-10, float32, batch 32")
    assert "compute" not in fp32[0] and "% peak:" not in fp32[1]


# --------------------------------------------------------------- bad input

def test_bad_arguments_raise(dtype):
    model = mlp((6, 4, 2), dtype)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x, y = data(6, 2, 5, dtype)
    with pytest.raises(ValueError, match="steps must be >= 1, got 0"):
        model.profile(x, y, "cross_entropy", opt, steps=0)
    with pytest.raises(TypeError, match="steps must be an int"):
        model.profile(x, y, "cross_entropy", opt, steps=2.5)
    with pytest.raises(ValueError, match="warmup must be >= 0"):
        model.profile(x, y, "cross_entropy", opt, warmup=-1)
    with pytest.raises(ValueError, match="rounds must be >= 1"):
        model.profile(x, y, "cross_entropy", opt, rounds=0)
    with pytest.raises(ValueError, match="another model"):
        model.profile(x, y, "cross_entropy", optim.SGD(mlp((6, 4, 2), dtype).parameters()))
    with pytest.raises(ValueError, match="6"):
        model.profile(x[:, :5], y, "cross_entropy", opt)
    with pytest.raises(ValueError):
        model.profile(x, y, "no_such_loss", opt)
    for spec in ("64-x-10", "64", "64-0-10", "", "-5-3"):
        with pytest.raises(ValueError, match="ARCH must be"):
            _bench_profile.parse_arch(spec)
    assert _bench_profile.parse_arch("mnist") == ((784, 256, 128, 10), 128)
    assert _bench_profile.parse_arch("64-128-64-10") == ((64, 128, 64, 10), 32)
    assert _bench_profile.parse_arch("5-3") == ((5, 3), None)


# ---------------------------------------------------------------------- CLI

def test_cli_bench_profile_prints_the_table(capsys, tmp_path):
    path = tmp_path / "prof.json"
    code = cli.main(["bench", "--profile", "64-128-64-10", "--steps", "3", "--rounds", "2",
                     "--threads", "1", "--json", str(path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "64-128-64-10, float32, batch 32, 1 thread, mean of 3 steps (the fastest of 2" in out
    assert profiling.cpu_name() in out
    for name in ("Linear(64, 128)", "Linear(128, 64)", "Linear(64, 10)", "ReLU()", "Adam"):
        assert name in out
    d = json.loads(path.read_text())
    assert d["batch"] == 32 and d["steps"] == 3 and d["rounds"] == 2 and len(d["layers"]) == 15


def test_cli_bench_profile_help(capsys):
    assert cli.main(["bench", "--profile", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--profile ARCH" in out and "--rounds" in out


@pytest.mark.parametrize("argv,match", [
    (["--profile", "64-0-10"], "ARCH must be"),
    (["--profile", "64-128-10", "--steps", "0"], "must be >= 1"),
    (["--profile", "64-128-10", "--rounds", "0"], "must be >= 1"),
    (["--profile"], "expected one argument"),
    (["--profile", "mnist", "--bogus"], "unrecognized"),
])
def test_cli_bench_profile_bad_arguments(capsys, argv, match):
    code = cli.main(["bench", *argv])
    _, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and match in lines[0] and "Traceback" not in err
