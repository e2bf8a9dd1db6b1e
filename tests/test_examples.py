"""The gallery (examples/*.py): every script runs with --quick into a temporary directory,
writes its picture there, and the numbers it returns show the claim it makes.

Each claim is checked against an independent oracle: a closed form (the derivative of an
activation, ln 2 as the best loss of one neuron on XOR), finite differences, or another
run of the same script (plain SGD vs momentum, no regularization vs L2). Thresholds come
from the concept, with room for seeds: they were checked on several seeds of each setup.
Skipped without matplotlib (the scripts draw) or without the source tree's examples/.
"""
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("matplotlib")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
SCRIPTS = ["activations", "neuron", "decision_boundaries", "backprop_by_hand", "optimizers",
           "learning_rate", "overfitting", "embed_in_c"]
MAX_PNG = 150 * 1024  # the committed pictures are shown by the README

if not os.path.isdir(EXAMPLES):
    pytest.skip("examples/ not available (installed package without the source tree)",
                allow_module_level=True)


def _run(name, tmp_path, monkeypatch):
    """Import examples/<name>.py (as a module of its own) and run(quick=True) into tmp_path."""
    monkeypatch.syspath_prepend(EXAMPLES)  # the scripts import _gallery
    spec = importlib.util.spec_from_file_location(f"_example_{name}",
                                                  os.path.join(EXAMPLES, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "out"
    res = mod.run(quick=True, out=str(out))
    png = out / f"{name}.png"
    assert [p.name for p in out.iterdir()] == [png.name]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and 0 < png.stat().st_size <= MAX_PNG
    json.dumps(res)  # the command line prints them as one JSON line
    return res


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def test_activations_derivatives_match_closed_forms_and_finite_differences(tmp_path,
                                                                           monkeypatch):
    res = _run("activations", tmp_path, monkeypatch)
    assert set(res["max |f' - finite difference|"]) == {
        "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "silu", "softplus"}
    # central differences with h = 1e-6 in float64 are good to ~1e-9; a wrong derivative
    # is off by far more than 1e-6 somewhere on [-4, 4]
    assert max(res["max |f' - finite difference|"].values()) < 1e-6
    s, x = _sigmoid(0.5), 0.5
    phi, Phi = math.exp(-x * x / 2) / math.sqrt(2 * math.pi), 0.5 * (1 + math.erf(x / 2 ** 0.5))
    want = {"sigmoid": s * (1 - s), "tanh": 1 - math.tanh(x) ** 2, "relu": 1.0,
            "leaky_relu": 1.0, "elu": 1.0, "gelu": Phi + x * phi,
            "silu": s * (1 + x * (1 - s)), "softplus": s}
    for name, v in want.items():
        assert res["f'(0.5)"][name] == pytest.approx(v, rel=1e-12, abs=1e-15), name
    assert res["f(0)"]["sigmoid"] == 0.5 and res["f(0)"]["softplus"] == pytest.approx(
        math.log(2), rel=1e-15)
    assert all(res["f(0)"][k] == 0 for k in ("tanh", "relu", "leaky_relu", "elu", "gelu", "silu"))


def test_neuron_learns_and_or_but_not_xor_which_2_4_1_solves(tmp_path, monkeypatch):
    res = _run("neuron", tmp_path, monkeypatch)
    assert res["one neuron on AND"]["accuracy"] == 1.0
    assert res["one neuron on OR"]["accuracy"] == 1.0
    xor = res["one neuron on XOR"]
    # no line separates XOR: at most 3 of 4 points, and the cross-entropy of any
    # sigmoid(w.x + b) on XOR is >= ln 2 (convexity of softplus; symmetric points)
    assert xor["accuracy"] <= 0.75
    assert xor["loss"] >= math.log(2) - 1e-9
    net = res["2-4-1 network on XOR"]
    assert net["accuracy"] == 1.0 and net["loss"] < 0.1 * math.log(2)


def test_decision_boundaries_need_hidden_layers(tmp_path, monkeypatch):
    res = _run("decision_boundaries", tmp_path, monkeypatch)
    acc = {k.replace(": test accuracy", ""): v for k, v in res.items()}
    for data in ("circles", "spirals"):  # a straight line: near chance on both (50%)
        assert acc[f"{data}, no hidden layer"] < 0.8
    for hidden in ("1 hidden layer, 8 units", "1 hidden layer, 64 units",
                   "2 hidden layers, 64 + 64"):
        assert acc[f"circles, {hidden}"] >= 0.95
    # spirals: 8 units are not enough; 64 do better, two layers of 64 better still
    narrow = acc["spirals, 1 hidden layer, 8 units"]
    assert acc["spirals, 1 hidden layer, 64 units"] >= max(0.8, narrow + 0.05)
    assert acc["spirals, 2 hidden layers, 64 + 64"] >= max(0.9, narrow + 0.15)


def test_backprop_by_hand_equals_nncore_backward(tmp_path, monkeypatch):
    res = _run("backprop_by_hand", tmp_path, monkeypatch)
    assert res["loss by nncore"] == pytest.approx(res["loss by hand"], rel=1e-12)
    assert res["max |hand - nncore| / max |gradient|"] < 1e-12
    assert res["max |finite difference - nncore| / max |gradient|"] < 1e-6
    assert res["check_gradients (worst relative error)"] < 1e-6


def test_momentum_and_adaptive_optimizers_beat_plain_sgd(tmp_path, monkeypatch):
    res = _run("optimizers", tmp_path, monkeypatch)
    sgd = res["SGD"]["training loss"]
    for name in ("SGD + momentum 0.9", "Nesterov momentum 0.9", "RMSprop", "Adam",
                 "AdamW (weight decay 0.01)"):
        assert res[name]["training loss"] < 0.5 * sgd, name
    assert all(r["test accuracy"] > 0.5 for r in res.values())  # all of them learn (chance 0.1)


def test_large_learning_rate_diverges_and_clipping_rescues_it(tmp_path, monkeypatch):
    res = _run("learning_rate", tmp_path, monkeypatch)
    small, right = res["lr 0.001 (too small)"], res["lr 0.03 (about right)"]
    large, clipped = res["lr 1.0 (too large)"], res["lr 1.0 + clip_norm 0.5"]
    full = clipped["steps"]
    assert small["steps"] == right["steps"] == full
    # too large: stopped by TerminateOnNaN within a few steps, after the gradient norm exploded
    assert large["steps"] < full and not math.isfinite(large["last loss"])
    assert large["largest gradient norm"] > 1e3 * clipped["largest gradient norm"]
    bad = large["non-finite gradients"]
    assert large["TerminateOnNaN layer"] in bad
    assert large["TerminateOnNaN layer"] == max(bad, key=lambda n: int(n.split(".")[0]))
    # clipped: the same rate trains (every step finite, loss well below where it started)
    assert math.isfinite(clipped["largest gradient norm"])
    assert clipped["mean loss of the last 8 steps"] < 0.5 * clipped["first loss"]
    # a good rate ends lower than a too small one in the same number of steps
    assert right["mean loss of the last 8 steps"] < 0.5 * small["mean loss of the last 8 steps"]


def test_regularization_shrinks_the_overfitting_gap(tmp_path, monkeypatch):
    res = _run("overfitting", tmp_path, monkeypatch)
    none = res["no regularization"]
    assert none["training loss"] < 1e-3 * none["validation loss"]  # memorized
    for name in ("L2 (weight_decay=0.1)", "L1 (l1=0.03)", "dropout 0.5"):
        r = res[name]
        assert r["gap"] < 0.8 * none["gap"], name
        assert r["training loss"] > none["training loss"], name   # fits the noise less
    es = res["early stopping (patience 20)"]
    assert es["epochs run"] < none["epochs run"]
    # restore_best_weights: the weights kept score the best validation loss seen
    assert es["validation loss"] == pytest.approx(es["best validation loss in training"],
                                                  rel=1e-12)
    assert es["validation loss"] <= none["validation loss"]


@pytest.mark.slow
def test_embed_in_c_predictions_equal_python(tmp_path, monkeypatch):
    if shutil.which("make") is None or not (os.environ.get("CC") or shutil.which("cc")
                                            or shutil.which("gcc") or shutil.which("clang")):
        pytest.skip("no C compiler or make")
    res = _run("embed_in_c", tmp_path, monkeypatch)
    assert res["test rows"] == 360
    assert res["C predictions equal to Python's"] == res["test rows"]
    assert res["accuracy (C program)"] == res["accuracy (Python)"] > 0.5


def test_command_line_writes_into_out_only_and_prints_json(tmp_path, monkeypatch):
    cwd, out = tmp_path / "cwd", tmp_path / "pictures"
    cwd.mkdir()
    before = sorted(os.listdir(EXAMPLES))
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, "backprop_by_hand.py"),
                        "--quick", "--out", str(out)], cwd=cwd, capture_output=True, text=True,
                       env=dict(os.environ, MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1"))
    assert r.returncode == 0, r.stderr
    assert os.listdir(out) == ["backprop_by_hand.png"] and os.listdir(cwd) == []
    assert sorted(os.listdir(EXAMPLES)) == before  # nothing written next to the script
    printed = json.loads(r.stdout.splitlines()[-1])
    assert printed == _run("backprop_by_hand", tmp_path, monkeypatch)  # deterministic
    assert "check_gradients (worst relative error): " in r.stdout


def test_make_gallery_runs_the_named_scripts(tmp_path):
    script = os.path.join(EXAMPLES, "make_gallery.py")
    r = subprocess.run([sys.executable, script, "activations", "neuron", "--quick", "--out",
                        str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path)) == ["activations.png", "neuron.png"]
    r = subprocess.run([sys.executable, script, "nonesuch"], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown script 'nonesuch'" in r.stderr


def test_committed_gallery_has_every_picture_small_and_linked():
    gallery = os.path.join(ROOT, "docs", "gallery")
    with open(os.path.join(EXAMPLES, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    for name in SCRIPTS:
        png = os.path.join(gallery, name + ".png")
        assert os.path.getsize(png) <= MAX_PNG, name
        assert f"../docs/gallery/{name}.png" in readme and f"{name}.py" in readme, name
