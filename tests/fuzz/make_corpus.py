"""Write the seed corpora of the fuzz targets (deterministic: run it again, same files).

    python tests/fuzz/make_corpus.py            # writes tests/fuzz/corpus_*/

corpus_model/  model files: valid ones saved by nncore (float32 / float64, every layer
               type) and broken variants (truncated, lying header length, bad offsets,
               huge shapes, bad JSON, wrong dtypes ...). Used by the C reader target
               (fuzz_model_reader.c) and the Python nncore.load target.
corpus_json/   model-file headers alone (the JSON), for fuzz_json.c.
corpus_csv/    small CSV files, valid and broken, for nncore.datasets.load_csv.
corpus_npz/    small .npz archives, valid and broken, for nncore.datasets.load_npz.

The valid model files are built with nncore itself, so run it where nncore imports
(PYTHONPATH=src after an in-place build, or an installed nncore).
"""
from __future__ import annotations

import io
import json
import os
import struct
import sys
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def _models():
    import nncore.nn as nn
    out = {}
    out["mlp_f32"] = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), seed=1)
    out["mlp_f64"] = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Dropout(0.25),
                                   nn.Linear(3, 1, bias=False), dtype="float64", seed=2)
    out["every_act"] = nn.Sequential(
        nn.Linear(2, 3), nn.LeakyReLU(0.1), nn.ELU(0.5), nn.GELU(), nn.GELU("tanh"), nn.SiLU(),
        nn.Softplus(), nn.Sigmoid(), nn.Tanh(), nn.Linear(3, 3), nn.Softmax(), nn.LogSoftmax(),
        seed=3)
    out["single"] = nn.Sequential(nn.Linear(1, 1), seed=4)
    return out


def _split(raw: bytes):
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def _join(header, data: bytes, n: int | None = None) -> bytes:
    hb = header if isinstance(header, bytes) else json.dumps(header).encode()
    hb += b" " * (-(8 + len(hb)) % 8)
    return struct.pack("<Q", len(hb) if n is None else n) + hb + data


def _broken(raw: bytes) -> dict[str, bytes]:
    header, data = _split(raw)
    names = [k for k in header if k != "__metadata__"]
    first = names[0]
    out: dict[str, bytes] = {}

    def mut(name, fn, new_data=None):
        h = json.loads(json.dumps(header))
        fn(h)
        out[name] = _join(h, data if new_data is None else new_data)

    def cfg(fn):
        def change(h):
            c = json.loads(h["__metadata__"]["config"])
            fn(c)
            h["__metadata__"]["config"] = json.dumps(c)
        return change

    out["empty"] = b""
    out["short"] = raw[:5]
    out["truncated_header"] = raw[:20]
    out["truncated_data"] = raw[:-3]
    out["appended"] = raw + b"\0" * 8
    out["len_past_end"] = struct.pack("<Q", len(raw)) + raw[8:]
    out["len_huge"] = struct.pack("<Q", 2 ** 64 - 1) + raw[8:]
    out["len_zero"] = struct.pack("<Q", 0) + raw[8:]
    out["non_utf8"] = raw[:9] + b"\xff\xfe" + raw[11:]
    out["deep_json"] = _join(b"[" * 200 + b"]" * 200, b"")
    out["dup_key"] = _join(b'{"__metadata__": {}, "__metadata__": {}}', b"")
    mut("unknown_dtype", lambda h: h[first].update(dtype="Q7"))
    mut("f16_dtype", lambda h: h[first].update(dtype="F16"))
    mut("offsets_past_end", lambda h: h[first].update(data_offsets=[0, len(data) + 4]))
    mut("offsets_reversed", lambda h: h[first].update(
        data_offsets=h[first]["data_offsets"][::-1]))
    mut("offsets_negative", lambda h: h[first].update(data_offsets=[-8, 0]))
    mut("offsets_float", lambda h: h[first].update(data_offsets=[0.5, 8.5]))
    mut("huge_shape", lambda h: h[first].update(shape=[2 ** 40, 2 ** 40],
                                                data_offsets=[0, 2 ** 62]))
    mut("shape_overflow", lambda h: h[first].update(shape=[2 ** 62, 2 ** 62, 16]))
    mut("missing_tensor", lambda h: h.pop(names[-1]))
    mut("extra_tensor", lambda h: h.update({"99.weight": h[first]}))
    mut("no_metadata", lambda h: h.pop("__metadata__"))
    mut("wrong_format", lambda h: h["__metadata__"].update(format="pt"))
    mut("meta_not_str", lambda h: h["__metadata__"].update(extra=1))
    mut("config_not_json", lambda h: h["__metadata__"].update(config="{oops"))
    mut("arch_huge", cfg(lambda c: c["layers"][0].update(in_features=2 ** 40,
                                                         out_features=2 ** 40)))
    mut("arch_unknown_layer", cfg(lambda c: c["layers"].append({"type": "Conv2d"})))
    mut("arch_no_layers", cfg(lambda c: c.update(layers=[])))
    mut("arch_bad_dtype", cfg(lambda c: c.update(dtype="float16")))
    mut("arch_dropout_p1", cfg(lambda c: c["layers"].append({"type": "Dropout", "p": 1.0})))
    mut("arch_many_acts", cfg(lambda c: c["layers"].extend([{"type": "ReLU"}] * 500)))
    return out


def _csv_files() -> dict[str, bytes]:
    return {
        "valid": b"a,b,label\n1,2,0\n3.5,-4e-3,1\n",
        "no_header": b"1,2,0\n3,4,1\n",
        "named_target": b"x0,x1,y\n0.1,0.2,3\n",
        "crlf": b"a,b,y\r\n1,2,1\r\n",
        "ragged": b"a,b,y\n1,2\n3,4,5,6\n",
        "non_number": b"a,b,y\n1,zz,0\n",
        "nan_inf": b"a,b,y\nnan,inf,0\n-inf,1,1\n",
        "empty": b"",
        "header_only": b"a,b,y\n",
        "quoted": b'"a","b","y"\n"1","2","0"\n',
        "non_utf8": b"a,b,y\n\xff\xfe,1,0\n",
        "nul": b"a,b\x00,y\n1,2,0\n",
        "huge_number": b"a,y\n1e999,0\n",
        "many_cols": (",".join(f"c{i}" for i in range(300)) + "\n"
                      + ",".join("1" for _ in range(300)) + "\n").encode(),
    }


def _npz(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _npz_files() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 3)).astype(np.float32)
    y = np.arange(6) % 2
    good = _npz({"X": X, "y": y})
    out = {
        "valid": good,
        "x_only": _npz({"X": X}),
        "other_names": _npz({"data": X, "labels": y}),
        "f64_targets2d": _npz({"X": X.astype(np.float64), "y": rng.standard_normal((6, 2))}),
        "length_mismatch": _npz({"X": X, "y": y[:4]}),
        "x_1d": _npz({"X": X[:, 0], "y": y}),
        "x_3d": _npz({"X": X.reshape(6, 3, 1), "y": y}),
        "strings": _npz({"X": np.array([["a", "b"]]), "y": np.array([0])}),
        "nan": _npz({"X": np.full((2, 2), np.nan), "y": np.array([0, 1])}),
        "empty": _npz({"X": np.zeros((0, 3)), "y": np.zeros(0)}),
        "truncated": good[: len(good) // 2],
        "not_zip": b"PK\x03\x04" + b"\0" * 40,
        "empty_file": b"",
    }
    # an object array (needs pickle to read: must be refused, never unpickled)
    buf = io.BytesIO()
    np.savez(buf, X=np.array([{"a": 1}, None], dtype=object), y=np.array([0, 1]))
    out["object_pickle"] = buf.getvalue()
    # a zip whose member is not a valid .npy
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("X.npy", b"\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, "
                            b"'shape': (1000000000000, 3), }" + b" " * 60 + b"\n")
    out["npy_huge_shape"] = buf.getvalue()
    return out


def write(root: str = HERE) -> dict[str, int]:
    counts = {}
    sets = {"corpus_model": {}, "corpus_json": {}, "corpus_csv": _csv_files(),
            "corpus_npz": _npz_files()}
    import tempfile
    from nncore import io as nio
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in _models().items():
            p = os.path.join(tmp, name + ".safetensors")
            nio.save(model, p)
            with open(p, "rb") as f:
                raw = f.read()
            sets["corpus_model"][f"valid_{name}"] = raw
            if name in ("mlp_f32", "mlp_f64"):
                for bname, b in _broken(raw).items():
                    sets["corpus_model"][f"{name}_{bname}"] = b
            sets["corpus_json"][name] = raw[8:8 + struct.unpack("<Q", raw[:8])[0]]
    sets["corpus_json"]["empty_obj"] = b"{}"
    sets["corpus_json"]["escapes"] = b'{"a\\u00e9\\ud83d\\ude00": ["\\n", 1e-5, -0, true, null]}'
    sets["corpus_json"]["bad_surrogate"] = b'["\\ud800"]'
    sets["corpus_json"]["big_int"] = b"[123456789012345678901234567890, -9223372036854775808]"
    for d, files in sets.items():
        path = os.path.join(root, d)
        os.makedirs(path, exist_ok=True)
        for name, data in files.items():
            ext = {"corpus_model": ".safetensors", "corpus_json": ".json",
                   "corpus_csv": ".csv", "corpus_npz": ".npz"}[d]
            with open(os.path.join(path, name + ext), "wb") as f:
                f.write(data)
        counts[d] = len(files)
    return counts


if __name__ == "__main__":
    print(write(sys.argv[1] if len(sys.argv) > 1 else HERE))
