"""Fuzz nncore's Python file readers with atheris (coverage-guided, libFuzzer engine).

    python tests/fuzz/fuzz_python.py load  -max_total_time=60 tests/fuzz/corpus_model
    python tests/fuzz/fuzz_python.py csv   -max_total_time=60 tests/fuzz/corpus_csv
    python tests/fuzz/fuzz_python.py npz   -max_total_time=60 tests/fuzz/corpus_npz
    python tests/fuzz/fuzz_python.py onnx  -max_total_time=60 tests/fuzz/corpus_onnx

Targets: ``load`` (nncore.load / nncore.io.load on a model file), ``csv``
(nncore.datasets.load_csv), ``npz`` (nncore.datasets.load_npz) and ``onnx``
(nncore.onnx.load; needs the onnx package). The bytes are written to a temporary
file and read back. Next to the ONNX file lie the external data files its seeds name:
``m.onnx.data`` (:func:`onnx_external_data`), and ``outside.data``, a symlink to a
file outside that folder. The only allowed outcomes are a result
or ValueError / TypeError; anything else (another exception, a crash in C, a
MemoryError from a giant allocation that a header asked for) is a finding and
stops the fuzzer with the input saved as ``crash-*``.

Without atheris (no wheel for this Python), ``--hypothesis N`` runs the same
checks on N byte-mutated corpus files with hypothesis instead.
"""
from __future__ import annotations

import os
import sys
import tempfile
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
_TMP = tempfile.mkdtemp(prefix="nncore-fuzz-")
_PATH = {"load": os.path.join(_TMP, "m.safetensors"), "csv": os.path.join(_TMP, "d.csv"),
         "npz": os.path.join(_TMP, "d.npz"), "onnx": os.path.join(_TMP, "model", "m.onnx")}
CORPUS = {"load": "corpus_model", "csv": "corpus_csv", "npz": "corpus_npz",
          "onnx": "corpus_onnx"}


def onnx_external_data() -> bytes:
    """The bytes of ``m.onnx.data`` beside the fuzzed ONNX file (the seeds made by
    tests/make_onnx_fixtures.py point into it): 256 float32 values."""
    import numpy as np
    return (np.arange(256, dtype="<f4") / 64 - 2).tobytes()


def _onnx_folder() -> None:
    folder = os.path.dirname(_PATH["onnx"])
    if os.path.isdir(folder):
        return
    os.makedirs(folder)
    with open(os.path.join(folder, "m.onnx.data"), "wb") as f:
        f.write(onnx_external_data())
    with open(os.path.join(_TMP, "secret.data"), "wb") as f:
        f.write(onnx_external_data())
    os.symlink(os.path.join("..", "secret.data"), os.path.join(folder, "outside.data"))


def _modules(target: str = ""):
    import numpy as np
    import nncore.datasets as ds
    import nncore.io as nio
    if target == "onnx":
        import nncore.onnx as nxo
        _onnx_folder()
        return np, ds, nxo
    return np, ds, nio


def check(target: str, data: bytes) -> None:
    """Run one input; raise AssertionError / the unexpected exception on a finding."""
    np, ds, nio = _modules(target)
    path = _PATH[target]
    with open(path, "wb") as f:
        f.write(data)
    try:
        if target in ("load", "onnx"):
            with warnings.catch_warnings():   # dropped classifier post-processing
                warnings.simplefilter("ignore")
                model = nio.load(path)
            # a model that loads must run: one inference on a small batch
            x = np.linspace(-1, 1, 2 * model.in_features).reshape(2, -1)
            out = model.predict(x) if model.in_features < 10_000 else None
            assert out is None or out.shape == (2, model.out_features)
        elif target == "csv":
            X, y = ds.load_csv(path)
            assert X.ndim == 2 and (y is None or len(y) == len(X))
            X, y = ds.load_csv(path, header=False, target=None)
            assert y is None and X.ndim == 2
        else:
            X, y = ds.load_npz(path)
            assert X.ndim == 2 and np.isfinite(X).all()
            assert y is None or len(y) == len(X)
    except (ValueError, TypeError):
        pass


def _run_atheris(target: str, argv: list[str]) -> None:
    import atheris
    with atheris.instrument_imports(include=["nncore"]):
        _modules(target)

    def one(data: bytes) -> None:
        check(target, data)

    atheris.Setup([sys.argv[0]] + argv, one)
    atheris.Fuzz()


def _run_hypothesis(target: str, n: int) -> None:
    """Fallback: hypothesis draws a corpus file and byte-level edits of it."""
    from hypothesis import HealthCheck, given, settings, strategies as st
    corpus = os.path.join(HERE, CORPUS[target])
    seeds = [open(os.path.join(corpus, f), "rb").read() for f in sorted(os.listdir(corpus))]

    @st.composite
    def mutated(draw):
        b = bytearray(draw(st.sampled_from(seeds)))
        for _ in range(draw(st.integers(0, 8))):
            op = draw(st.sampled_from(["flip", "set", "cut", "insert"]))
            if op == "cut" and b:
                i = draw(st.integers(0, len(b)))
                b = b[:i] + b[i + draw(st.integers(0, 16)):]
            elif op == "insert":
                i = draw(st.integers(0, len(b)))
                b[i:i] = draw(st.binary(max_size=16))
            elif b:
                i = draw(st.integers(0, len(b) - 1))
                b[i] = (b[i] ^ (1 << draw(st.integers(0, 7)))) if op == "flip" else \
                    draw(st.sampled_from([0, 0xFF, 0x7F, 0x80, ord('"'), ord("9"), ord("{")]))
        return bytes(b)

    @settings(max_examples=n, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(mutated())
    def run(data):
        check(target, data)

    run()


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in CORPUS:
        sys.exit(f"usage: {sys.argv[0]} load|csv|npz|onnx [--hypothesis N | libFuzzer args]")
    target, rest = sys.argv[1], sys.argv[2:]
    if rest[:1] == ["--hypothesis"]:
        _run_hypothesis(target, int(rest[1]) if len(rest) > 1 else 500)
        print(f"fuzz_python {target}: hypothesis byte-mutation run passed")
        return
    _run_atheris(target, rest)


if __name__ == "__main__":
    main()
