"""The nncore command line, run in-process through main([...]) (one subprocess run of
``python -m nncore --version``). Every command, its outputs checked against the Python
API, and every kind of bad input: exit status 2, one line on stderr, no traceback."""
import os
import re
import subprocess
import sys
import types

import numpy as np
import pytest

import nncore
import nncore.nn as nn
from nncore import cli
from nncore import datasets as ds
from nncore import io as nio


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_error(capsys, *argv, match=None):
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nncore: error: "), err
    assert "Traceback" not in err
    if match:
        assert re.search(match, lines[0]), lines[0]
    return lines[0]


# ---------------------------------------------------------------- version

def test_version_in_process(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"nncore {nncore.__version__}"


def test_version_subprocess():
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(nncore.__file__))
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-m", "nncore", "--version"], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == f"nncore {nncore.__version__}"


# ------------------------------------------------------------------- demo

def _accuracy(out):
    m = re.search(r"test accuracy: ([0-9.]+)%", out)
    assert m, out
    return float(m.group(1)) / 100


def test_demo_short(capsys, tmp_path):
    code, out, err = run(capsys, "demo", "--epochs", 2, "--out-dir", tmp_path, "--verbose", 0,
                         "--no-plot", "--threads", 1)
    assert code == 0, err
    first = (tmp_path / cli.DEMO_MODEL).read_bytes()
    # same model file, bit for bit, at 2 threads
    assert run(capsys, "demo", "--epochs", 2, "--out-dir", tmp_path, "--verbose", 0,
               "--no-plot", "--threads", 2)[0] == 0
    assert (tmp_path / cli.DEMO_MODEL).read_bytes() == first
    path = tmp_path / cli.DEMO_MODEL
    assert path.exists() and str(path) in out and "training time:" in out
    # the printed accuracy is the saved model's on the fixed digits test split
    model = nio.load(path)
    _, Xte, _, yte = ds.load_digits_split()
    acc = float(np.mean(model.predict_classes(Xte) == yte))
    assert abs(acc - _accuracy(out)) < 1e-4
    # and `evaluate MODEL digits` uses the same split (stored in the file)
    code, out2, _ = run(capsys, "evaluate", path, "digits")
    assert code == 0 and f"accuracy: {100 * acc:.2f}%" in out2


@pytest.mark.slow
def test_demo_default_config_reaches_95_percent(capsys, tmp_path):
    # one thread: fastest for this small MLP on a busy 2-core machine; results are
    # bit-identical at any thread count
    code, out, err = run(capsys, "demo", "--out-dir", tmp_path, "--verbose", 0, "--no-plot",
                         "--threads", 1)
    assert code == 0, err
    assert _accuracy(out) >= 0.95


def test_demo_plot_path(capsys, tmp_path):   # matplotlib: a test dependency
    png = tmp_path / "pics" / "curve.png"
    png.parent.mkdir()
    code, out, err = run(capsys, "demo", "--epochs", 2, "--out-dir", tmp_path, "--verbose", 0,
                         "--plot", png, "--threads", 1)
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and str(png) in out
    assert not (tmp_path / cli.DEMO_PLOT).exists()  # only where it was asked for
    assert_error(capsys, "demo", "--plot", tmp_path / "nope" / "c.png", match="no directory")
    assert_error(capsys, "demo", "--plot", png, "--no-plot", match="exclude each other")


def test_demo_bad_out_dir(capsys, tmp_path):
    assert_error(capsys, "demo", "--out-dir", tmp_path / "nope", match="not a directory")
    assert_error(capsys, "demo", "--threads", 0, match="threads")


# ------------------------------------------------------------ train & co

def _circles_csv(path, n=300, labels=None):
    X, y = ds.make_circles(n_samples=n, noise=0.05, seed=1)
    with open(path, "w") as f:
        f.write("x0,label,x1\n")
        for xi, yi in zip(X, y):
            lab = labels[yi] if labels else yi
            f.write(f"{float(xi[0])!r},{lab},{float(xi[1])!r}\n")
    return X, y


def test_train_evaluate_predict_info_csv(capsys, tmp_path):
    data = tmp_path / "circles.csv"
    X, y = _circles_csv(data)
    model_path = tmp_path / "m.safetensors"
    code, out, err = run(capsys, "train", "--data", data, "--target", "label", "--hidden", "16,16",
                         "--activation", "tanh", "--epochs", 40, "--lr", 0.01, "--verbose", 0,
                         "--out", model_path)
    assert code == 0, err
    assert _accuracy(out) > 0.9 and model_path.exists()
    model = nio.load(model_path)
    assert model.in_features == 2 and model.out_features == 2
    # predict: one class per line, equal to the loaded model's predictions on raw features
    X32 = X.astype(np.float32)
    code, out, err = run(capsys, "predict", model_path, data, "--target", "label")
    assert code == 0, err
    got = np.array([int(s) for s in out.split()])
    assert np.array_equal(got, model.predict_classes(X32))
    assert np.mean(got == y) > 0.9
    # --out writes a CSV with a header
    preds = tmp_path / "preds.csv"
    code, out, _ = run(capsys, "predict", model_path, data, "--out", preds)
    assert code == 0 and "wrote 300 predictions" in out
    lines = preds.read_text().split()
    assert lines[0] == "class" and np.array_equal(np.array(lines[1:], int), got)
    # a CSV of features only works too
    feats = tmp_path / "feats.csv"
    np.savetxt(feats, X.astype(np.float64), delimiter=",", fmt="%r" if False else "%.17g",
               header="a,b", comments="")
    code, out, _ = run(capsys, "predict", model_path, feats)
    assert code == 0 and np.array_equal(np.array(out.split(), int), got)
    # evaluate: accuracy of the model on the whole file
    code, out, _ = run(capsys, "evaluate", model_path, data, "--target", "label")
    acc = float(np.mean(model.predict_classes(X32) == y))
    assert code == 0 and f"accuracy: {100 * acc:.2f}%" in out and "samples: 300" in out
    # info: architecture and parameter count
    code, out, _ = run(capsys, "info", model_path)
    assert code == 0 and f"parameters: {model.num_parameters:,}" in out
    assert "task: classification" in out and "nncore 0.1.0" in out


def test_train_text_labels_and_plot_option(capsys, tmp_path):
    data = tmp_path / "named.csv"
    _, y = _circles_csv(data, labels=["outer", "inner"])
    code, out, err = run(capsys, "train", "--data", data, "--target", "label", "--hidden", "8",
                         "--epochs", 3, "--verbose", 0, "--out", tmp_path / "m.safetensors",
                         "--plot", tmp_path / "c.png")
    assert code == 0, err
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"   # matplotlib: a test dependency
    code, out, _ = run(capsys, "predict", tmp_path / "m.safetensors", data)
    assert code == 0 and set(out.split()) <= {"inner", "outer"} and len(out.split()) == 300
    code, out, _ = run(capsys, "info", tmp_path / "m.safetensors")
    assert "classes ['inner', 'outer']" in out


def test_train_regression_npz(capsys, tmp_path):
    X, y = ds.make_regression(n_samples=200, n_features=3, noise=0.01, seed=2)
    data = tmp_path / "reg.npz"
    np.savez(data, X=X, y=y)
    mp = tmp_path / "r.safetensors"
    code, out, err = run(capsys, "train", "--data", data, "--hidden", "", "--epochs", 60,
                         "--lr", 0.05, "--verbose", 0, "--out", mp, "--optimizer", "sgd")
    assert code == 0, err
    assert "test loss (mse)" in out
    model = nio.load(mp)
    assert [type(layer).__name__ for layer in model.layers] == ["Linear"]
    code, out, _ = run(capsys, "predict", mp, data)
    vals = np.array([float(s) for s in out.split()], dtype=np.float32)
    assert np.array_equal(vals, model.predict(X)[:, 0])
    code, out, _ = run(capsys, "evaluate", mp, data)
    mse = float(np.mean((model.predict(X)[:, 0].astype(np.float64) - y) ** 2))
    got = float(re.search(r"loss \(mse\): (\S+)", out).group(1))
    assert code == 0 and abs(got - mse) <= 1e-4 * max(mse, 1e-3)


# ------------------------------------------------- validation vs test split

def _rows(a):
    return [r.tobytes() for r in np.ascontiguousarray(a)]


def _spy_fit(monkeypatch, capsys):
    """Record what Sequential.fit receives (training rows, validation_data) and what the
    command printed up to the end of training (stdout "out", stderr "err"); fit itself
    runs unchanged."""
    calls = []
    fit = nn.Sequential.fit

    def spy(self, x, y=None, *args, **kwargs):
        history = fit(self, x, y, *args, **kwargs)
        printed = capsys.readouterr()
        calls.append({"x": np.array(x), "val": kwargs.get("validation_data"),
                      "out": printed.out, "err": printed.err})
        return history
    monkeypatch.setattr(nn.Sequential, "fit", spy)
    return calls


def _test_lines(text):
    return [line for line in text.splitlines() if line.startswith("test ")]


def test_train_validation_rows_come_from_the_training_part(capsys, tmp_path, monkeypatch):
    """Regression: train passed the TEST split as validation_data, so the epoch lines'
    val_ metrics were test metrics. The validation rows are now a seeded slice of the
    training part; the test rows are scored once, after training."""
    data = tmp_path / "circles.csv"
    _circles_csv(data)
    X, y = ds.load_csv(data, target="label")      # as the command reads it
    Xpart, Xte, _, yte = ds.train_test_split(X, y, test_size=0.25, seed=3, stratify=y)
    calls = _spy_fit(monkeypatch, capsys)
    mp = tmp_path / "m.safetensors"
    code = cli.main([str(a) for a in (
        "train", "--data", data, "--target", "label", "--hidden", "8", "--epochs", 3,
        "--test-size", 0.25, "--val-size", 0.2, "--seed", 3, "--no-standardize",
        "--verbose", 2, "--out", mp)])
    out, err = capsys.readouterr()
    assert code == 0, err
    (call,) = calls
    Xval, yval = call["val"]
    fit_rows, val_rows, test_rows = set(_rows(call["x"])), set(_rows(Xval)), set(_rows(Xte))
    assert len(val_rows) == len(Xval) == int(np.ceil(0.2 * len(Xpart)))
    assert val_rows.isdisjoint(test_rows)
    assert val_rows.isdisjoint(fit_rows)
    assert val_rows | fit_rows == set(_rows(Xpart))
    # the epoch lines report those rows: the last one's val_accuracy is the final
    # model's accuracy on them (no standardization, so the saved model is that model)
    model = nio.load(mp)
    epoch_lines = [line for line in call["err"].splitlines() if line.startswith("Epoch ")]
    assert len(epoch_lines) == 3
    val_acc = float(re.search(r"val_accuracy=(\S+)", epoch_lines[-1]).group(1))
    assert abs(val_acc - np.mean(model.predict_classes(Xval) == yval)) < 1e-4
    # the test set: nothing printed about it until training ended, then one line,
    # the saved model's accuracy on the test rows
    assert _test_lines(call["out"]) == []
    (line,) = _test_lines(out)
    acc = np.mean(model.predict_classes(Xte) == yte)
    assert line.startswith(f"test accuracy: {100 * acc:.2f}%")
    # --val-size 0: no validation split, no val_ metrics
    calls.clear()
    assert cli.main([str(a) for a in (
        "train", "--data", data, "--target", "label", "--hidden", "8", "--epochs", 1,
        "--val-size", 0, "--verbose", 2, "--out", mp)]) == 0
    assert calls[0]["val"] is None
    assert "Epoch 1/1" in calls[0]["err"] and "val_" not in calls[0]["err"]
    assert len(calls[0]["x"]) == len(X) - int(np.ceil(0.2 * len(X)))


def test_demo_validation_rows_are_not_test_rows(capsys, tmp_path, monkeypatch):
    """Regression: demo's epoch lines called the digits test split "val". The demo
    standardizes, so rows are traced back through the scaler to the raw digits."""
    raw_of = {}
    transform = ds.StandardScaler.transform

    def spy_transform(self, X):
        Z = transform(self, X)
        raw_of.update(zip(_rows(Z), _rows(X)))
        return Z
    monkeypatch.setattr(ds.StandardScaler, "transform", spy_transform)
    calls = _spy_fit(monkeypatch, capsys)
    code = cli.main([str(a) for a in ("demo", "--epochs", 1, "--out-dir", tmp_path,
                                      "--verbose", 0, "--no-plot")])
    out, err = capsys.readouterr()
    assert code == 0, err
    (call,) = calls
    Xtr, Xte, _, _ = ds.load_digits_split()     # the fixed split `evaluate digits` uses
    val_rows = {raw_of[z] for z in _rows(call["val"][0])}
    fit_rows = {raw_of[z] for z in _rows(call["x"])}
    assert len(val_rows) == len(call["val"][0]) > 0
    assert val_rows.isdisjoint(_rows(Xte))
    assert val_rows | fit_rows == set(_rows(Xtr)) and not val_rows & fit_rows
    assert _test_lines(call["out"]) == [] and len(_test_lines(out)) == 1


def test_fold_scaler_is_exact_in_float64():
    rng = np.random.default_rng(0)
    X = rng.normal(5.0, 3.0, (50, 4))
    X[:, 2] = 1.0   # zero variance column
    sc = ds.StandardScaler().fit(X)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2), dtype="float64", seed=1)
    want = model.forward(sc.transform(X))
    cli._fold_scaler(model, sc)
    np.testing.assert_allclose(model.forward(X), want, rtol=1e-10, atol=1e-12)


def test_bench_uses_bench_module(capsys, monkeypatch):
    seen = {}
    fake = types.ModuleType("nncore._bench")
    fake.main = lambda argv: seen.setdefault("argv", argv) and 0
    monkeypatch.setattr(cli, "_bench", fake)
    code, _, _ = run(capsys, "bench", "--quick")
    assert code == 0 and seen["argv"] == ["--quick"]


@pytest.mark.parametrize("args", [("bench",), ("bench", "nosuch"), ("bench", "train", "--rounds", "x"),
                                  ("bench", "train", "--workloads", "nope")])
def test_bench_argument_errors_are_one_line(capsys, args):
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "usage:" not in err


# ----------------------------------------------------------------- errors

def test_error_cases(capsys, tmp_path):
    csv = tmp_path / "ok.csv"
    _circles_csv(csv, n=40)
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("a,b\n1,2\n3\n")
    model = nn.Sequential(nn.Linear(3, 2))
    mp = tmp_path / "m3.safetensors"
    nio.save(model, mp)
    hostile = tmp_path / "hostile.safetensors"
    hostile.write_bytes(mp.read_bytes()[:-3])

    assert_error(capsys, "frobnicate", match="invalid choice")
    assert_error(capsys, "train", match="--data")
    assert_error(capsys, "train", "--data", "digits", "--hidden", "12,x", match="layer sizes")
    assert_error(capsys, "train", "--data", "digits", "--lr", "-1", match="lr")
    assert_error(capsys, "train", "--data", "digits", "--epochs", "0", match="epochs")
    assert_error(capsys, "train", "--data", "digits", "--dropout", "1.5", match="dropout")
    assert_error(capsys, "train", "--data", "digits", "--optimizer", "magic", match="optimizer")
    assert_error(capsys, "train", "--data", tmp_path / "missing.csv", match="no such data file")
    assert_error(capsys, "train", "--data", tmp_path, match="expected 'digits'")
    assert_error(capsys, "train", "--data", bad_csv, match="row 3 has 1 fields")
    assert_error(capsys, "train", "--data", csv, "--target", "nope", match="no column named")
    assert_error(capsys, "train", "--data", csv, "--out", tmp_path / "no" / "m.safetensors",
                 "--epochs", 1, "--verbose", 0, match="no directory")
    assert_error(capsys, "evaluate", tmp_path / "none.safetensors", csv, match="no such model")
    assert_error(capsys, "evaluate", hostile, csv, match="run past the end|truncated")
    assert_error(capsys, "evaluate", mp, csv, "--target", "label", match="2 feature columns")
    mp5 = tmp_path / "m5.safetensors"
    nio.save(nn.Sequential(nn.Linear(5, 2)), mp5)
    assert_error(capsys, "predict", mp5, csv, match="3 feature columns, the model expects 5")
    assert_error(capsys, "info", hostile)
    # --target with the bundled digits is a mistake (it used to be ignored, then stored
    # in the model file and applied to the next CSV evaluated): refused up front
    for cmd in (["train", "--data", "digits"], ["evaluate", mp, "digits"],
                ["predict", mp, "digits"]):
        assert_error(capsys, *cmd, "--target", "3", match="--target names a column")
    assert not (tmp_path / "model.safetensors").exists()
    # output directories are checked before any training or prediction
    assert_error(capsys, "train", "--data", "digits", "--epochs", 30, "--verbose", 0,
                 "--out", tmp_path / "m.safetensors", "--plot", tmp_path / "no" / "c.png",
                 match="cannot save the plot: no directory")
    assert not (tmp_path / "m.safetensors").exists()  # nothing trained or saved first
    assert_error(capsys, "predict", mp, csv, "--out", tmp_path / "no" / "p.csv",
                 match="cannot save the predictions: no directory")
    assert_error(capsys, "info", csv, match="header length|not an nncore|too short")
    code, out, err = run(capsys)
    assert code == 2 and "COMMAND" in out


# ------------------------------------------------------ review: the command line

def test_output_in_a_directory_no_file_can_be_made_in_is_refused_up_front(capsys, tmp_path,
                                                                         monkeypatch):
    """/proc exists but takes no new files (not even root's): `train --out /proc/m` trained
    to the end, then failed with a raw error about its temporary file. Now the output's
    directory is tried before any work."""
    if not os.path.isdir("/proc/self"):
        pytest.skip("needs /proc")
    calls = _spy_fit(monkeypatch, capsys)
    csv = tmp_path / "ok.csv"
    _circles_csv(csv, n=40)
    assert_error(capsys, "train", "--data", csv, "--epochs", 1, "--verbose", 0,
                 "--out", "/proc/nncore-m.safetensors",
                 match=r"cannot save the model: cannot create a file in /proc")
    assert calls == []
    mp = tmp_path / "m.safetensors"
    nio.save(nn.Sequential(nn.Linear(2, 2)), mp)
    assert_error(capsys, "predict", mp, csv, "--out", "/proc/nncore-p.csv",
                 match=r"cannot save the predictions: cannot create a file in /proc")
    assert not list(tmp_path.glob(".nncore-*"))


def test_output_path_that_is_a_directory_is_refused_up_front(capsys, tmp_path, monkeypatch):
    """Regression: an existing directory given as an output file passed the up-front
    check (its parent exists), so `train --out DIR` trained to the end and then failed
    with a raw '[Errno 21] ... .nncore-XXXX.tmp -> DIR', and `train --plot DIR` saved the
    model first and then exited 2. Now every output refuses a directory before any work."""
    calls = _spy_fit(monkeypatch, capsys)
    d = tmp_path / "adir"
    d.mkdir()
    csv = tmp_path / "ok.csv"
    _circles_csv(csv, n=40)
    mp = tmp_path / "m.safetensors"
    nio.save(nn.Sequential(nn.Linear(2, 2)), mp)
    assert_error(capsys, "train", "--data", csv, "--epochs", 1, "--verbose", 0, "--out", d,
                 match=f"cannot save the model: {re.escape(str(d))} is a directory")
    assert_error(capsys, "train", "--data", csv, "--epochs", 1, "--verbose", 0,
                 "--out", tmp_path / "new.safetensors", "--plot", d,
                 match="cannot save the plot: .* is a directory")
    assert calls == [] and not (tmp_path / "new.safetensors").exists()
    assert_error(capsys, "demo", "--epochs", 1, "--verbose", 0, "--no-plot", "--plot", d,
                 match="is a directory|exclude")
    assert_error(capsys, "demo", "--epochs", 1, "--verbose", 0, "--plot", d,
                 match="cannot save the plot: .* is a directory")
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / cli.DEMO_MODEL).mkdir()
    assert_error(capsys, "demo", "--epochs", 1, "--verbose", 0, "--no-plot",
                 "--out-dir", tmp_path / "demo", match="cannot save the model: .* is a directory")
    assert calls == []
    assert_error(capsys, "predict", mp, csv, "--out", d,
                 match="cannot save the predictions: .* is a directory")
    assert sorted(os.listdir(d)) == [] and not list(tmp_path.glob(".nncore-*"))


def test_export_import_to_a_directory_is_refused(capsys, tmp_path):
    pytest.importorskip("onnx")
    d = tmp_path / "adir"
    d.mkdir()
    mp = tmp_path / "m.safetensors"
    nio.save(nn.Sequential(nn.Linear(2, 2)), mp)
    onnx_path = tmp_path / "m.onnx"
    assert run(capsys, "export", mp, "--to", onnx_path)[0] == 0
    assert_error(capsys, "export", mp, "--to", d,
                 match="cannot save the ONNX file: .* is a directory")
    assert_error(capsys, "import", onnx_path, "--out", d,
                 match="cannot save the model: .* is a directory")
    assert os.listdir(d) == [] and not list(tmp_path.glob(".nncore-*"))


def test_predict_on_the_training_csv_with_text_labels_in_the_last_column(capsys, tmp_path):
    """Regression: a model trained on a CSV whose (default, last) label column holds text
    could not predict on that same file: predict read every column as a feature and
    failed on 'outer is not a number'."""
    data = tmp_path / "named.csv"
    X, y = ds.make_circles(n_samples=60, noise=0.05, seed=1)
    names = ["outer", "inner"]
    with open(data, "w") as f:
        f.write("x0,x1,label\n")
        for xi, yi in zip(X, y):
            f.write(f"{float(xi[0])!r},{float(xi[1])!r},{names[yi]}\n")
    mp = tmp_path / "m.safetensors"
    code, out, err = run(capsys, "train", "--data", data, "--hidden", "8", "--epochs", 2,
                         "--verbose", 0, "--out", mp)
    assert code == 0, err
    model = nio.load(mp)
    classes = sorted(names)                       # the stored class names, sorted
    want = [classes[i] for i in model.predict_classes(X.astype(np.float32))]
    code, out, err = run(capsys, "predict", mp, data)
    assert code == 0, err
    assert out.split() == want
    # a features-only file still works, and a bad feature cell is named as such
    feats = tmp_path / "feats.csv"
    np.savetxt(feats, X, delimiter=",", fmt="%.17g", header="x0,x1", comments="")
    code, out, err = run(capsys, "predict", mp, feats)
    assert code == 0 and out.split() == want, err
    bad = tmp_path / "bad.csv"
    bad.write_text("x0,x1,label\n0.5,0.5,inner\n0.1,oops,outer\n")
    assert_error(capsys, "predict", mp, bad, match=r"row 3, column 1 \('x1'\): 'oops'")


def test_npz_target_index_is_not_silently_ignored(capsys, tmp_path):
    """Regression: `--target 3` with an .npz file (whose arrays have names, not column
    indices) was ignored; the model trained on the default y and the file stored
    target 3, which `evaluate MODEL FILE.csv` then applied to a CSV's column 3."""
    X, y = ds.make_circles(n_samples=60, noise=0.05, seed=1)
    data = tmp_path / "d.npz"
    np.savez(data, X=X, labels=y)
    mapped = tmp_path / "u.npz"                    # item size 1: mappable in place
    np.savez(mapped, X=(X * 50 + 100).astype(np.uint8), labels=y.astype(np.uint8))
    mp = tmp_path / "m.safetensors"
    for cmd in (["train", "--data", data, "--epochs", 1, "--verbose", 0, "--out", mp],
                ["train", "--data", mapped, "--mmap", "--epochs", 1, "--verbose", 0,
                 "--out", mp]):
        assert_error(capsys, *cmd, "--target", "3", match=r"'3'.*\['X', 'labels'\]")
    assert not mp.exists()
    # an array name works, and is what the model file records
    code, out, err = run(capsys, "train", "--data", data, "--target", "labels", "--epochs", 1,
                         "--verbose", 0, "--out", mp)
    assert code == 0, err
    assert cli._model_meta(str(mp))["target"] == "labels"
    nio.save(nn.Sequential(nn.Linear(2, 2)), mp)
    assert_error(capsys, "evaluate", mp, data, "--target", "0", match=r"'0'.*\['X', 'labels'\]")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_regression_predictions_round_trip_exactly(capsys, tmp_path, dtype):
    """Regression: predictions were printed with 9 significant digits, exact for float32
    but not for a float64 model (up to 17 needed): the CSV disagreed with model.predict."""
    X, y = ds.make_regression(n_samples=80, n_features=3, n_targets=2, noise=0.01, seed=2)
    data = tmp_path / "reg.npz"
    np.savez(data, X=X, y=y)
    mp = tmp_path / "r.safetensors"
    code, _, err = run(capsys, "train", "--data", data, "--hidden", "5", "--epochs", 2,
                       "--verbose", 0, "--dtype", dtype, "--out", mp)
    assert code == 0, err
    model = nio.load(mp)
    want = model.predict(X.astype(dtype))
    assert want.dtype == np.dtype(dtype) and want.shape == (80, 2)
    code, out, err = run(capsys, "predict", mp, data)
    assert code == 0, err
    got = np.array([[float(v) for v in line.split(",")] for line in out.splitlines()])
    assert np.array_equal(got.astype(dtype), want)
    preds = tmp_path / "p.csv"
    assert run(capsys, "predict", mp, data, "--out", preds)[0] == 0
    lines = preds.read_text().splitlines()
    assert lines[0] == "prediction0,prediction1" and lines[1:] == out.splitlines()


def _no_benchmark(monkeypatch):
    """Fail the test if a benchmark starts: these arguments must be refused first."""
    from nncore import _bench

    def boom(*a, **k):
        raise AssertionError("a benchmark ran before the arguments were checked")
    for name in ("bench_train", "bench_infer", "bench_memory"):
        monkeypatch.setattr(_bench, name, boom)
    monkeypatch.setattr(nn.Sequential, "profile", boom)


@pytest.mark.parametrize("args, match", [
    (("train", "--rounds", "0"), r"--rounds: expected an integer >= 1, got '0'"),
    (("infer", "--rounds", "-3"), r"--rounds: expected an integer >= 1, got '-3'"),
    (("memory", "--steps", "0"), r"--steps: expected an integer >= 1, got '0'"),
    (("memory", "--steps", "-5"), r"--steps: expected an integer >= 1, got '-5'"),
    (("train", "--threads", "0"), r"--threads: expected an integer >= 1, got '0'"),
    (("train", "--workloads", "small,nope"), r"unknown workload 'nope'"),
    (("train", "--skip", "torh"), r"--skip: unknown peer 'torh'.*torch"),
    (("train", "--json", "{tmp}/no/r.json"), r"cannot write --json .*: no directory"),
    (("infer", "--json", "{tmp}"), r"cannot write --json .*: is a directory"),
    (("memory", "--json", "{tmp}/no/r.json"), r"cannot write --json .*: no directory"),
    (("--profile", "4-4", "--json", "{tmp}/no/r.json"), r"cannot write --json .*: no directory"),
    (("--profile", "4-4", "--json", "{tmp}"), r"cannot write --json .*: is a directory"),
])
def test_bench_bad_arguments_refused_before_running(capsys, tmp_path, monkeypatch, args, match):
    """Regression: --rounds 0 failed after the verification runs with 'no median for
    empty data'; memory --steps 0 or -5 printed 'RSS over -5 train steps' and exited 0;
    --workloads small,nope benchmarked small first; an unknown --skip name was ignored
    (the peer was timed); an unwritable --json path failed after the whole run."""
    _no_benchmark(monkeypatch)
    args = [a.format(tmp=tmp_path) for a in args]
    assert_error(capsys, "bench", *args, match=match)


def test_bench_json_is_written_whole_or_not_at_all(capsys, tmp_path, monkeypatch):
    """--json goes through a temporary file: a failure while writing leaves the old
    file as it was (it was opened with 'w' and left truncated)."""
    from nncore import _bench
    out = tmp_path / "r.json"
    out.write_text('{"old": 1}')
    seen = {}

    def fake_memory(steps, workload="small"):
        seen["threads"] = nncore.get_num_threads()
        return {"workload": workload, "steps": steps, "rss_start": 0, "rss_end": 0,
                "rss_growth": 0, "rss_growth_last_80pct": 0, "rss_samples": [],
                "python_heap_growth_1000_steps": 0, "bad": object()}
    monkeypatch.setattr(_bench, "bench_memory", fake_memory)
    code, _, err = run(capsys, "bench", "memory", "--steps", 3, "--threads", 1,
                       "--json", out)
    assert code != 0 and out.read_text() == '{"old": 1}'
    assert not list(tmp_path.glob(".nncore-*"))
    assert seen["threads"] == 1          # memory honours --threads too (it was ignored)
    monkeypatch.setattr(_bench, "bench_memory",
                        lambda steps, workload="small": {
                            k: v for k, v in fake_memory(steps, workload).items()
                            if k != "bad"})
    code, out_text, err = run(capsys, "bench", "memory", "--steps", 3, "--json", out)
    assert code == 0, err
    import json
    got = json.loads(out.read_text())
    assert got["memory"]["steps"] == 3 and got["threads"] == 2


@pytest.mark.parametrize("meta, match", [
    ({"task": '"classification"', "classes": '["a"]'}, r"'classes'.*3 names.*got \['a'\]"),
    ({"task": '"classification"', "classes": '{"a": 1}'}, r"'classes'.*3 names"),
    ({"task": '"classification"', "classes": '"abc"'}, r"'classes'.*3 names"),
    ({"task": '"classification"', "classes": '[[1], [2], [3]]'}, r"'classes'.*3 names"),
    ({"task": '"classification"', "classes": '["a", "a", "b"]'}, r"'classes'.*distinct"),
    ({"task": '"banana"'}, r"'task'.*'classification' or 'regression', got 'banana'"),
    ({"task": "[1]"}, r"'task'.*'classification' or 'regression', got \[1\]"),
    ({"split": "[1, 2]"}, r"'split'.*test_size.*seed.*got \[1, 2\]"),
    ({"split": '{"test_size": "x", "seed": 0}'}, r"'split'.*test_size"),
])
def test_model_file_with_broken_metadata_is_one_line(capsys, tmp_path, meta, match):
    """Regression: the metadata `nncore train` stores (task, classes, split) was used as
    found: too few class names made predict die with an IndexError traceback, a split
    that is not a dict an AttributeError traceback, a dict of classes a KeyError
    traceback, a nested list or a string printed garbage labels with status 0, an
    unknown task printed raw outputs."""
    mp = tmp_path / "m.safetensors"
    nio.save(nn.Sequential(nn.Linear(64, 3)), mp, metadata=meta)
    for cmd in ("predict", "evaluate"):
        line = assert_error(capsys, cmd, mp, "digits", match=match)
        assert str(mp) in line


def test_absurd_layer_sizes_are_one_line(capsys, tmp_path):
    """Regression: --hidden 2**62 died with a MemoryError traceback (the core's message
    was already clear) and --hidden 2**63 with 'OverflowError: Python int too large to
    convert to C long'."""
    mp = tmp_path / "m.safetensors"
    assert_error(capsys, "train", "--data", "digits", "--hidden", str(2 ** 63), "--epochs", 1,
                 "--verbose", 0, "--out", mp, match=r"--hidden: layer sizes must be .*2\*\*63")
    assert_error(capsys, "train", "--data", "digits", "--hidden", f"8,{2 ** 62}", "--epochs", 1,
                 "--verbose", 0, "--out", mp, match=r"cannot allocate .* bytes")
    assert not mp.exists()


def test_predictions_csv_quotes_class_names(capsys, tmp_path):
    """Regression: class names were written bare, so a name with a comma or a quote
    (read from a quoted CSV field) made a one-column predictions CSV ragged."""
    import csv
    data = tmp_path / "q.csv"
    X, y = ds.make_circles(n_samples=60, noise=0.05, seed=1)
    names = ['big, round', 'say "hi"']
    with open(data, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x0", "x1", "label"])
        for xi, yi in zip(X, y):
            w.writerow([repr(float(xi[0])), repr(float(xi[1])), names[yi]])
    mp = tmp_path / "m.safetensors"
    code, _, err = run(capsys, "train", "--data", data, "--hidden", "16,16", "--epochs", 40,
                       "--lr", 0.01, "--activation", "tanh", "--verbose", 0, "--out", mp)
    assert code == 0, err
    model = nio.load(mp)
    want = [sorted(names)[i] for i in model.predict_classes(X.astype(np.float32))]
    assert set(want) == set(names)
    preds = tmp_path / "p.csv"
    assert run(capsys, "predict", mp, data, "--out", preds)[0] == 0
    with open(preds, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["class"] and rows[1:] == [[c] for c in want]
    code, out, _ = run(capsys, "predict", mp, data)
    assert code == 0 and [r[0] for r in csv.reader(out.splitlines())] == want


def test_outputs_never_replace_special_files_or_symlinks(capsys, tmp_path):
    """Regression: outputs are renamed into place, so `--out` naming a FIFO or a device
    replaced it with a regular file (run as root, `predict --out /dev/full` turned
    /dev/full into a file and reported 'wrote 10 predictions', status 0), and `--out`
    naming a symlink replaced the link instead of writing the file it points to."""
    import stat
    csv = tmp_path / "ok.csv"
    X, _ = _circles_csv(csv, n=20)
    mp = tmp_path / "m.safetensors"
    nio.save(nn.Sequential(nn.Linear(2, 2)), mp)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert_error(capsys, "predict", mp, csv, "--out", fifo,
                 match=r"cannot save the predictions: .*fifo is not a regular file")
    assert_error(capsys, "train", "--data", csv, "--epochs", 1, "--verbose", 0, "--out", fifo,
                 match=r"cannot save the model: .*fifo is not a regular file")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    # a symlink: the file it points to is written, the link stays
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    code, _, err = run(capsys, "predict", mp, csv, "--target", "label", "--out", link)
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real)
    want = nio.load(mp).predict_classes(X.astype(np.float32))
    assert real.read_text().split() == ["class"] + [str(int(c)) for c in want]
    mlink = tmp_path / "model-link.safetensors"
    mlink.symlink_to(mp)
    code, _, err = run(capsys, "train", "--data", csv, "--hidden", "3", "--epochs", 1,
                       "--verbose", 0, "--out", mlink)
    assert code == 0, err
    assert mlink.is_symlink() and nio.load(mp).layers[0].out_features == 3


def test_outputs_to_a_pipe_behind_a_symlink(capsys, tmp_path, monkeypatch):
    """/dev/stdout is a symlink to /proc/self/fd/1: a model or predictions file there is
    refused (it would be renamed over the link), bench --json streams into it."""
    import json
    from nncore import _bench
    csv = tmp_path / "ok.csv"
    _circles_csv(csv, n=20)
    mp = tmp_path / "m.safetensors"
    nio.save(nn.Sequential(nn.Linear(2, 2)), mp)
    r, w = os.pipe()
    try:
        link = tmp_path / "stdout"
        link.symlink_to(f"/proc/self/fd/{w}")
        assert_error(capsys, "predict", mp, csv, "--target", "label", "--out", link,
                     match="is not a regular file")
        monkeypatch.setattr(_bench, "bench_memory", lambda steps, workload="small": {
            "workload": workload, "steps": steps, "rss_start": 0, "rss_end": 0,
            "rss_growth": 0, "rss_growth_last_80pct": 0, "rss_samples": [],
            "python_heap_growth_1000_steps": 0})
        code, _, err = run(capsys, "bench", "memory", "--steps", 2, "--json", link)
        assert code == 0, err
        assert link.is_symlink()
        os.close(w)
        w = None
        with os.fdopen(r, "rb") as f:
            r = None
            assert json.loads(f.read())["memory"]["steps"] == 2
    finally:
        for fd in (r, w):
            if fd is not None:
                os.close(fd)
