"""The package's shape: every nncore import at the top of its file, no import cycle, and
imports only downward through the layers below (one documented exception).

Read from the source with ``ast`` (nothing is imported for the static checks), then each
module is imported alone in a fresh interpreter.
"""
import ast
import importlib.util
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

import nncore

PKG_DIR = os.path.dirname(nncore.__file__)

# Bottom to top. A module may import modules of its own layer or of the layers below.
# A new module must be placed here (test_every_module_has_a_layer).
LAYERS = {
    # foundations: the C bindings, argument checks, files, the safetensors format leaf
    # (bytes, tensors and metadata, never a model: nn writes model files through it)
    1: ["nncore._core", "nncore._version", "nncore._validate", "nncore._files",
        "nncore._registry", "nncore.config", "nncore._safetensors", "nncore._rows"],
    # kernels and their Python faces, losses, optimizers, parameters, data, the oracle
    2: ["nncore.ops", "nncore._ops_gemm", "nncore._ops_kernels", "nncore._targets",
        "nncore.losses", "nncore.optim", "nncore.optim.*", "nncore.parameter",
        "nncore.nn_init", "nncore.utils", "nncore.datasets", "nncore.reference",
        "nncore.reference.*"],
    # the network: layers, Sequential (forward, backward, train_step, predict, save)
    # (profiling: the Profile of Sequential.profile, which nn imports; it drives the
    # model it is given without importing nn)
    3: ["nncore.nn", "nncore.gradcheck", "nncore.profiling"],
    # model files and checkpoints, on the format leaf
    4: ["nncore.io"],
    5: ["nncore.callbacks", "nncore.history", "nncore.progress", "nncore.plotting"],
    6: ["nncore.training"],
    # integrations (onnx, sklearn, distributed over MPI; _delegates hosts the methods
    # Sequential hands up, and builds the MPI communicator that training.fit takes
    # without importing nncore.distributed), the command line, the benchmark harness
    7: ["nncore.onnx", "nncore.onnx.*", "nncore.sklearn", "nncore.sklearn.*",
        "nncore.distributed", "nncore.distributed.*", "nncore._delegates", "nncore.cli",
        "nncore._bench", "nncore._bench_profile", "nncore.__main__"],
    8: ["nncore"],   # the package face imports what it re-exports
}

# The one import of an nncore module inside a function: Sequential.fit/evaluate/to_onnx/
# train_step(distributed=True) -> _delegates (which imports training, onnx and
# distributed at its top).
DELEGATE_MARKER = "# layering: the documented delegate"
DELEGATE = ("nncore.nn", "nncore._delegates")

# Modules that need an optional extra: without the package, importing them must fail
# with an ImportError that names the extra to install.
OPTIONAL = {"nncore.onnx": ("onnx", 'pip install "nncore[onnx]"'),
            "nncore.sklearn": ("sklearn", 'pip install "nncore[sklearn]"'),
            "nncore.distributed": ("mpi4py", 'pip install "nncore[mpi]"')}


def _module_name(path):
    rel = os.path.relpath(path, os.path.dirname(PKG_DIR))[:-3].replace(os.sep, ".")
    return rel[: -len(".__init__")] if rel.endswith(".__init__") else rel


def _sources():
    out = {}
    for root, _, files in os.walk(PKG_DIR):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(root, f)
                out[_module_name(path)] = path
    return out


SOURCES = _sources()
MODULES = set(SOURCES) | {"nncore._core"}   # _core is compiled (Cython)


def _layer(mod):
    for n, names in LAYERS.items():
        for pat in names:
            if mod == pat or (pat.endswith(".*") and mod.startswith(pat[:-1])):
                return n
    return None


def _resolve(mod, node):
    """The nncore modules an import node loads (a package and the submodules named);
    None for an import of another package."""
    is_pkg = SOURCES.get(mod, "").endswith("__init__.py")
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names if a.name.split(".")[0] == "nncore"]
        return _with_parents(mod, names) if names else None
    if node.level:
        parts = mod.split(".")
        base = parts if is_pkg else parts[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "nncore":
        return None
    found = [target]
    for a in node.names:
        sub = f"{target}.{a.name}"
        if sub in MODULES:
            found.append(sub)
    return _with_parents(mod, found)


def _with_parents(mod, targets):
    """Importing a.b.c runs a.b's __init__ too; a module's own packages (being imported
    already when it runs, like the root ``nncore``) are left out."""
    out = []
    for t in targets:
        parts = t.split(".")
        for i in range(1, len(parts) + 1):
            p = ".".join(parts[:i])
            if p != mod and not mod.startswith(p + ".") and p in MODULES and p not in out:
                out.append(p)
    return out


def _is_import_guard(node):
    """``try:`` of imports only, ``except ImportError`` (an optional dependency): its
    imports belong to the import block."""
    return (isinstance(node, ast.Try) and not node.finalbody and not node.orelse
            and all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in node.body)
            and all(isinstance(h.type, ast.Name) and h.type.id in ("ImportError",
                                                                   "ModuleNotFoundError")
                    for h in node.handlers))


def _imports(mod):
    """[(node, [modules], at_top)] of every nncore import in a module. at_top: in the
    import block that opens the module (after the docstring, before other code)."""
    with open(SOURCES[mod], encoding="utf-8") as f:
        text = f.read()
    tree = ast.parse(text)
    head = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            head.add(id(node))
        elif _is_import_guard(node):   # try: import <optional> / except ImportError: ...
            head.update(id(n) for n in node.body)
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                  and node is tree.body[0]):
            break
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = _resolve(mod, node)
            if mods is not None:
                out.append((node, mods, id(node) in head, text.splitlines()[node.lineno - 1]))
    return out


def _graph():
    edges = {m: set() for m in SOURCES}
    for mod in SOURCES:
        for node, mods, at_top, line in _imports(mod):
            if at_top:
                edges[mod].update(m for m in mods if m != mod)
    return edges


def test_every_module_has_a_layer():
    missing = sorted(m for m in MODULES if _layer(m) is None)
    assert not missing, f"add these modules to LAYERS: {missing}"


def test_every_nncore_import_is_at_the_top_but_the_one_delegate():
    late = []
    for mod in sorted(SOURCES):
        for node, mods, at_top, line in _imports(mod):
            if not at_top:
                late.append((mod, tuple(mods), node.lineno, DELEGATE_MARKER in line))
    marked = [(m, mods) for m, mods, _, ok in late if ok]
    unmarked = [x for x in late if not x[3]]
    assert not unmarked, f"nncore imports below the top of their file: {unmarked}"
    assert marked == [(DELEGATE[0], (DELEGATE[1],))], marked


def _find_cycle(edges):
    """One cycle of the graph as a list of nodes (first == last), or None."""
    state = {}

    def visit(m, path):
        state[m] = 1
        for n in sorted(edges.get(m, ())):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state:
                found = visit(n, path + [n])
                if found:
                    return found
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state:
            found = visit(m, [m])
            if found:
                return found
    return None


def test_cycle_finder_finds_cycles():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle():
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_imports_run_down_the_layers():
    up = [(m, n, _layer(m), _layer(n)) for m, targets in _graph().items() for n in targets
          if n in MODULES and _layer(n) > _layer(m)]
    assert not up, f"imports running up the layers (module, import, layers): {up}"


def test_the_delegate_runs_up_and_nowhere_else():
    # the one late import is the only way up; it stays legal only because it is late
    assert _layer(DELEGATE[1]) > _layer(DELEGATE[0])
    assert DELEGATE[1] not in _graph()[DELEGATE[0]]


def test_the_static_reading_sees_the_known_imports():
    # guards the parser above: a reading that finds nothing would pass every test
    edges = _graph()
    assert {"nncore.nn", "nncore.io", "nncore.callbacks"} <= edges["nncore.training"]
    assert {"nncore._safetensors", "nncore.losses", "nncore.ops"} <= edges["nncore.nn"]
    assert "nncore._core" in edges["nncore.optim.optimizer"]
    assert "nncore.optim.lr_scheduler" in edges["nncore.callbacks"]
    # an optional import (try: ... except ImportError) is read as part of the import block
    assert {"nncore.training", "nncore.onnx", "nncore.distributed"} <= edges["nncore._delegates"]
    assert "nncore.distributed" not in edges["nncore.training"]   # fit takes a communicator
    assert {"nncore._files", "nncore.nn"} <= edges["nncore.onnx._export"]
    guard, other = ast.parse("try:\n import a\nexcept ImportError:\n a = None\n"
                             "try:\n import b\nexcept Exception:\n pass\n").body
    assert _is_import_guard(guard) and not _is_import_guard(other)


SUBMODULES = sorted(m for m in MODULES if m not in ("nncore", "nncore.__main__"))


def _missing_extra(mod):
    """The install hint of the optional extra `mod` needs, when that package is absent."""
    for pkg_mod, (dist, hint) in OPTIONAL.items():
        if (mod == pkg_mod or mod.startswith(pkg_mod + ".")) and \
                importlib.util.find_spec(dist) is None:
            return hint
    return None


def _import_alone(mod):
    r = subprocess.run([sys.executable, "-c", f"import {mod}"], capture_output=True,
                       text=True, timeout=300)
    last = r.stderr.strip().splitlines()[-1:]
    hint = _missing_extra(mod)
    if hint is not None:   # must fail, with an ImportError naming the extra
        ok = r.returncode != 0 and last and last[0].startswith("ImportError") and hint in last[0]
        return mod, 0 if ok else 1, last
    return mod, r.returncode, last if r.returncode else []


def test_each_module_imports_alone():
    # one fresh interpreter per module: its own imports must bring in all it needs, in
    # an order that works (a cycle shows as "partially initialized module");
    # __main__ runs the command line when imported and is left out
    with ThreadPoolExecutor(max_workers=4) as pool:
        failed = [r for r in pool.map(_import_alone, SUBMODULES) if r[1]]
    assert not failed, failed
