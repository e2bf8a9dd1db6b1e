"""A model trained in Python, run by a C program: the same predictions.

Trains a digits classifier, saves it (model.save), builds the C example examples/c
(libnncore from csrc/ alone, no Python; needs a C compiler and make) in a temporary
directory, runs `classify model.safetensors test.csv` and compares its class for
every test row with Python's model.predict.
"""
import os
import shutil
import subprocess
import tempfile

import numpy as np

import nncore as nc
from _gallery import figure, main, save

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_classify(tmp):
    """Copy csrc/ and examples/c/ into tmp, run make there; returns the program's path."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None or shutil.which("make") is None:
        raise RuntimeError("embed_in_c.py needs make and a C compiler ($CC, cc, gcc or clang)")
    shutil.copytree(os.path.join(ROOT, "csrc"), os.path.join(tmp, "csrc"),
                    ignore=shutil.ignore_patterns("*.o", "*.a", "*.so"))
    shutil.copytree(os.path.join(ROOT, "examples", "c"), os.path.join(tmp, "c"),
                    ignore=shutil.ignore_patterns("classify"))
    r = subprocess.run(["make", "-j2", "-C", os.path.join(tmp, "c"), "CSRC=../csrc"],
                       capture_output=True, text=True, env=dict(os.environ, CC=cc))
    if r.returncode != 0:
        raise RuntimeError(f"building examples/c failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return os.path.join(tmp, "c", "classify")


def run(quick=False, out="."):
    Xtr, Xte, ytr, yte = nc.datasets.load_digits_split(seed=0)
    model = nc.nn.Sequential(nc.nn.Linear(64, 32), nc.nn.ReLU(), nc.nn.Linear(32, 10), seed=0)
    model.fit(Xtr / 16, ytr, loss="cross_entropy", epochs=5 if quick else 20, verbose=0)
    python = model.predict_classes(Xte / 16)
    with tempfile.TemporaryDirectory() as tmp:
        classify = build_classify(tmp)
        model.save(os.path.join(tmp, "digits.safetensors"))
        np.savetxt(os.path.join(tmp, "test.csv"), Xte / 16, delimiter=",", fmt="%.9g")
        r = subprocess.run([classify, "digits.safetensors", "test.csv"], cwd=tmp,
                           capture_output=True, text=True, check=True)
    c = np.array([int(s) for s in r.stdout.split()])
    agree = int((c == python).sum())
    res = {"test rows": len(Xte), "C predictions equal to Python's": agree,
           "accuracy (C program)": float((c == yte).mean()),
           "accuracy (Python)": float((python == yte).mean())}
    fig, ax = figure(8, 2, width=1.25, height=1.75)
    for i, a in enumerate(ax.flat):
        a.imshow(Xte[i].reshape(8, 8), cmap="gray_r")
        a.set_title(f"C: {c[i]}  Py: {python[i]}", fontsize=9,
                    color="k" if c[i] == python[i] else "r")
        a.set(xticks=[], yticks=[])
        a.set_xlabel(f"true label {yte[i]}", fontsize=8)
    fig.suptitle(f"classify (C) and model.predict (Python) agree on {agree} of {len(Xte)} "
                 f"test digits", fontsize=10)
    save(fig, out, "embed_in_c.png")
    return res


if __name__ == "__main__":
    main(run, __doc__)
