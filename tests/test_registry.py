"""The one registry of C codes (nncore/_registry.py) and everything derived from it.

Oracles: csrc/nncore.h itself, read here by a parser of its own (not setup.py's
generator, which only copies names), and nncore.reference for what each layer
computes. Forgetting one of the places a new activation needs (README
"Adding an activation") fails a test here.
"""
import inspect
import pathlib
import re

import numpy as np
import pytest

import nncore
from nncore import _core, _registry, cli, losses, nn, ops, optim, reference

HEADER = pathlib.Path(__file__).resolve().parents[1] / "csrc" / "nncore.h"


def header_enums():
    """{enum type: {member: value}} of every ``typedef enum {...} name;`` in nncore.h,
    values evaluated the C way (explicit, else previous + 1, starting at 0)."""
    text = re.sub(r"/\*.*?\*/|//[^\n]*", "", HEADER.read_text(), flags=re.S)
    enums = {}
    for body, name in re.findall(r"typedef enum\s*\{([^}]*)\}\s*(\w+);", text):
        members, value = {}, -1
        for item in filter(None, (s.strip() for s in body.split(","))):
            key, _, expr = (p.strip() for p in item.partition("="))
            value = int(expr, 0) if expr else value + 1
            members[key] = value
        enums[name] = members
    return enums


# ------------------------------------------------------------ C <-> bindings

def test_bindings_export_every_enum_of_the_header():
    """_core.C_ENUMS (generated from the header at build time, values from the C
    compiler) has exactly the header's enums, members, order and values; a stale
    build or a generator bug fails here."""
    want = header_enums()
    assert {"nn_status", "nn_dtype", "nn_act", "nn_loss_kind", "nn_reduction",
            "nn_optim_kind", "nn_layer_kind"} <= set(want)
    assert list(_core.C_ENUMS) == list(want)
    for name, members in want.items():
        assert list(_core.C_ENUMS[name].items()) == list(members.items()), name


def test_a_name_without_a_c_member_fails_loudly():
    with pytest.raises(ImportError, match="NN_ACT_NOT_A_KERNEL.*nn_act.*rebuild"):
        _registry._code("nn_act", "NN_ACT_NOT_A_KERNEL")


def test_code_tables_cover_their_enums():
    e = _core.C_ENUMS
    assert sorted(_registry.STATUS.values()) == sorted(e["nn_status"].values())
    assert sorted(_registry.DTYPES.values()) == sorted(e["nn_dtype"].values())
    assert sorted(_registry.LAYER_KINDS.values()) == sorted(e["nn_layer_kind"].values())
    assert sorted(_registry.REDUCTIONS.values()) == sorted(e["nn_reduction"].values())
    assert sorted(_registry.LOSS_KINDS.values()) == sorted(e["nn_loss_kind"].values())
    assert sorted(_registry.OPTIMIZERS.values()) == sorted(e["nn_optim_kind"].values())
    # the config module's status codes are the header's
    assert nncore.config._NN_OK == e["nn_status"]["NN_OK"]
    assert nncore.config._NN_ERR_UNSUPPORTED == e["nn_status"]["NN_ERR_UNSUPPORTED"]


# ------------------------------------------------------------- activations

def test_every_c_activation_has_one_registry_line():
    c_acts = _core.C_ENUMS["nn_act"]
    assert list(_registry.ACTIVATIONS) == [m[len("NN_ACT_"):].lower() for m in c_acts]
    for name, a in _registry.ACTIVATIONS.items():
        assert a.name == name and a.code == c_acts["NN_ACT_" + name.upper()]


def test_name_tables_agree_with_the_registry():
    names = tuple(_registry.ACTIVATIONS)
    assert ops.ACTIVATIONS == names                    # the kernels (nncore.ops)
    assert reference.ACTIVATIONS == names              # the oracle
    assert ops.ACT_CODES == {n: a.code for n, a in _registry.ACTIVATIONS.items()}
    assert set(nn.ACTIVATIONS) == set(names) | set(_registry.ACTIVATION_ALIASES)
    for alias, target in _registry.ACTIVATION_ALIASES.items():
        assert nn.ACTIVATIONS[alias] is nn.ACTIVATIONS[target]
    # the command line offers the hidden-layer kinds (elementwise, nonlinear)
    parser = cli._build_parser()
    for name in names:
        argv = ["train", "--data", "digits", "--activation", name]
        if name in _registry.HIDDEN_ACTIVATIONS:
            assert parser.parse_args(argv).activation == name
        else:
            assert _registry.ACTIVATIONS[name].rowwise or name == "identity"
            with pytest.raises(cli.CLIError, match="invalid choice"):
                parser.parse_args(argv)


def test_every_activation_layer_class_has_a_registry_line():
    classes = {c.__name__ for c in nn._Activation.__subclasses__() if c.__module__ == nn.__name__}
    assert classes == {a.layer for a in _registry.ACTIVATIONS.values()}
    for cls_name in classes:
        assert nn.layer_from_config({"type": cls_name}).__class__ is getattr(nn, cls_name)


@pytest.mark.parametrize("name", list(_registry.ACTIVATIONS))
def test_layer_config_reference_and_defaults_agree(name):
    a = _registry.ACTIVATIONS[name]
    layer = nn.ACTIVATIONS[name]()
    cfg = layer.get_config()
    assert cfg["type"] == a.layer
    assert _registry.activation_of_layer(cfg) == a
    # the layer's parameter: same name and default as the registry line
    if a.param is None:
        assert set(cfg) <= {"type"} | set(a.layer_kwargs) | {"approximate"}
    else:
        sig = inspect.signature(type(layer).__init__).parameters[a.param]
        assert sig.default == a.default == cfg[a.param]
        x = np.linspace(-3, 3, 13)
        # the reference's own default is the registry's too
        assert np.array_equal(reference.activation(x, name),
                              reference.activation(x, name, a.default))


@pytest.mark.kernel
@pytest.mark.parametrize("name", list(_registry.ACTIVATIONS))
def test_each_layer_runs_the_kernel_its_line_names(name):
    """The layer built from nn.ACTIVATIONS[name], in a float64 network, computes
    reference.activation(x, name) (a wrong code would compute another function),
    with a non-default parameter where the kernel has one."""
    a = _registry.ACTIVATIONS[name]
    kwargs = {a.param: a.default * 0.5 + 0.05} if a.param else {}
    layer = nn.ACTIVATIONS[name](**kwargs)
    model = nn.Sequential(nn.Linear(4, 5), layer, dtype="float64", seed=0)
    x = np.random.default_rng(1).standard_normal((6, 4))
    w = dict(model.named_parameters())
    pre = x @ w["0.weight"].data.T + w["0.bias"].data
    want = reference.activation(pre, name, kwargs.get(a.param))
    np.testing.assert_allclose(model(x), want, rtol=1e-12, atol=1e-14)
    # and ops runs the same kernel under the same name
    np.testing.assert_allclose(ops.activation(pre, name, kwargs.get(a.param)), want,
                               rtol=1e-12, atol=1e-14)


def test_reference_network_dispatches_through_the_registry():
    for name, a in _registry.ACTIVATIONS.items():
        cfg = nn.ACTIVATIONS[name]().get_config()
        got_name, got_param = reference._network._act_of(cfg)
        assert got_name == name
        assert got_param == (a.default if a.param else None)
    with pytest.raises(ValueError, match="unknown layer type 'NotALayer'"):
        reference._network._act_of({"type": "NotALayer"})


def test_subclass_of_an_activation_runs_its_base_kernel():
    class MyTanh(nn.Tanh):
        pass
    x = np.linspace(-2, 2, 8).reshape(2, 4)
    model = nn.Sequential(nn.Linear(4, 4), MyTanh(), dtype="float64", seed=3)
    w = dict(model.named_parameters())
    np.testing.assert_allclose(model(x), np.tanh(x @ w["0.weight"].data.T + w["0.bias"].data),
                               rtol=1e-12)


# ------------------------------------------------------- losses, optimizers

def test_loss_tables_agree_with_the_registry():
    kinds = _registry.LOSS_KINDS
    assert ops.LOSSES == tuple(_registry.LOSSES)
    assert ops.LOSS_CODES == {n: l.code for n, l in _registry.LOSSES.items()}
    # every nn_loss_kind is reachable from ops.loss (cross_entropy: labels or probabilities)
    assert set(ops.LOSS_CODES.values()) | {kinds["ce_probs"]} == set(kinds.values())
    # the loss classes run the kinds their names say
    assert losses.MSELoss()._c_spec()[0] == kinds["mse"]
    assert losses.L1Loss()._c_spec()[0] == kinds["l1"]
    assert losses.HuberLoss()._c_spec()[0] == kinds["huber"]
    assert losses.BCEWithLogitsLoss()._c_spec()[0] == kinds["bce_logits"]
    assert losses.CrossEntropyLoss()._c_spec(True)[0] == kinds["ce_labels"]
    assert losses.CrossEntropyLoss()._c_spec(False)[0] == kinds["ce_probs"]
    assert losses.PoissonLoss()._c_spec()[0] == kinds["poisson"]
    assert losses.MSELoss(reduction="sum")._c_spec()[1] == _registry.REDUCTIONS["sum"]


def test_every_c_optimizer_has_a_python_one():
    p = nn.Sequential(nn.Linear(2, 2)).parameters()
    for name in _registry.OPTIMIZERS:
        assert optim.get(name, p, lr=0.1)._kind == name
