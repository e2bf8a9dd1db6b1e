"""Crafted model files for the reader tests (Python: test_io.py, C: test_c_embedding.py)."""
import importlib.util
import json
import os
import struct

import nncore.io as nio
import nncore.nn as nn


def deep_model_file(directory, n_acts, width=4096):
    """A small file whose architecture puts `n_acts` Tanh layers between Linear(1, width)
    and Linear(width, 1): a few hundred kB that would ask for n_acts * width workspace
    values per input row. Returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    m = nn.Sequential(nn.Linear(1, width), nn.Linear(width, 1), seed=0)
    p = directory / "deep.safetensors"
    nio.save(m, p)
    raw = p.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header, data = json.loads(raw[8:8 + n]), raw[8 + n:]
    cfg = json.loads(header["__metadata__"]["config"])
    cfg["layers"] = [cfg["layers"][0]] + [{"type": "Tanh"}] * n_acts + [cfg["layers"][1]]
    header["__metadata__"]["config"] = json.dumps(cfg)
    w1, b1 = header.pop("1.weight"), header.pop("1.bias")
    header[f"{n_acts + 1}.weight"], header[f"{n_acts + 1}.bias"] = w1, b1
    hb = json.dumps(header).encode()
    hb += b" " * (-(8 + len(hb)) % 8)
    p.write_bytes(struct.pack("<Q", len(hb)) + hb + data)
    return p


FUZZ = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz")


def corpus_files(corpus):
    """(name, path) of every file of tests/fuzz/<corpus>, sorted."""
    d = os.path.join(FUZZ, corpus)
    return [(n, os.path.join(d, n)) for n in sorted(os.listdir(d))]


def corpus_models():
    """The models tests/fuzz/make_corpus.py saved as corpus_model/valid_<name> (rebuilt:
    the same seeds give the same weights)."""
    path = os.path.join(FUZZ, "make_corpus.py")
    spec = importlib.util.spec_from_file_location("make_corpus", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod._models()
