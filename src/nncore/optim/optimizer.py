"""The Optimizer base class: parameter groups over ONE model's flat buffers.

The update itself is one fused C pass (csrc/optim.c) over the model's flat
parameter buffer. This class keeps PyTorch's surface — ``param_groups`` as a
list of dicts, ``step()``, ``zero_grad()``, ``state_dict()`` — and mirrors it
into a ``_COptim`` (the C struct, its segments and the state buffers) in
``_prepare()``, which both ``step()`` and the network's fused ``train_step``
call.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Iterable

import numpy as np

from .. import _core
from . import _checks
from ._params import ParameterTypeError, check_parameter, describe, is_parameter

__all__ = ["Optimizer"]


def _plain(v: Any) -> Any:
    """A copy of a hyperparameter with NumPy scalars as Python numbers (JSON-able)."""
    if isinstance(v, (np.generic, np.ndarray)):
        return v.tolist()
    if isinstance(v, (tuple, list)):
        return type(v)(_plain(x) for x in v)
    return copy.deepcopy(v)


def _frozen(v: Any) -> Any:
    """A hyperparameter as an immutable value that ``==`` compares by content: lists,
    tuples and arrays (e.g. ``betas``) become tuples (a later in-place edit shows)."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return tuple(_frozen(x) for x in v)
    if isinstance(v, np.generic):
        return v.item()
    return v


class Optimizer:
    """Base class of nncore's optimizers.

    Parameters
    ----------
    params : iterable of Parameter or of dict
        The parameters to optimize (``model.parameters()``), or parameter
        groups: dicts with a ``"params"`` list and per-group settings, e.g.
        ``[{"params": weights}, {"params": biases, "weight_decay": 0}]``.
        All parameters must belong to ONE model.
    defaults : dict
        Default hyperparameters for groups that do not set them.

    Attributes
    ----------
    param_groups : list of dict
        PyTorch-like groups; hyperparameters may be changed between steps
        (they are checked again at the next step). The constructor rejects
        ``lr <= 0``; later changes (``opt.lr = ...``, schedules, group edits)
        may set ``lr = 0`` (a step then leaves the parameters unchanged).
    defaults : dict
    model : the model whose flat buffers are updated.

    Notes
    -----
    Subclasses set ``_kind`` (the C algorithm), ``_slots`` (state buffer name
    -> C slot), and implement ``_check_group`` / ``_c_group``.
    """

    _kind: str = ""
    _slots: dict[str, int] = {}

    def __init__(self, params: Iterable[Any], defaults: dict) -> None:
        if not self._kind:
            raise TypeError("Optimizer is a base class; use SGD, RMSprop, Adagrad, Adam or AdamW")
        defaults = dict(defaults)
        defaults.setdefault("l1", 0.0)
        defaults.setdefault("max_norm", None)
        _checks.positive(defaults["lr"], "learning rate")
        self._check_group(defaults)
        self.defaults = defaults
        self.param_groups: list[dict] = []
        self._model: Any = None
        self._c: Any = None
        self._seg_key: tuple | None = None
        self._sig: tuple | None = None
        self._seg_cache: tuple[list[int], list[int]] = ([], [])
        self._snap: list[dict] | None = None   # param_groups as of the last _prepare
        self._snap_flat: Any = None            # and the model's flat buffer then
        self._initialized: set[int] = set()
        for g in self._as_groups(params):
            self.add_param_group(g)
        self._prepare()

    # ------------------------------------------------------------ groups

    def _as_groups(self, params: Any) -> list[dict]:
        name = type(self).__name__
        if is_parameter(params) or isinstance(params, (dict, str, bytes, np.ndarray)) or \
                not hasattr(params, "__iter__"):
            hint = " (did you mean model.parameters()?)" if hasattr(params, "parameters") else ""
            raise ParameterTypeError(f"{name}: params must be an iterable of Parameters or of "
                                     f"dicts, got {describe(params)}{hint}")
        items = list(params)
        if not items:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if all(isinstance(i, dict) for i in items):
            return items
        if any(isinstance(i, dict) for i in items):
            raise ParameterTypeError(f"{name}: params mixes Parameters and group dicts")
        return [{"params": items}]

    def add_param_group(self, param_group: dict) -> None:
        """Add a group (dict with ``"params"`` and optional settings); checked like __init__.

        Unlike PyTorch, which counts steps per parameter, nncore has ONE step count
        for the whole optimizer (the C pass, ``step_count``): a group added after
        some steps continues that count, so Adam's bias correction and Adagrad's
        ``lr_decay`` treat its parameters as already that many steps old, and SGD
        starts their momentum buffers at zero (``(1 - dampening) * g``) rather
        than at ``g``. Add groups before the first step to match PyTorch.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise ParameterTypeError(f"{name}: a parameter group must be a dict, "
                                     f"got {describe(param_group)}")
        if "params" not in param_group:
            raise ValueError(f"{name}: parameter group has no 'params' entry")
        group = dict(param_group)
        ps = group["params"]
        if is_parameter(ps):
            ps = [ps]
        elif isinstance(ps, (str, bytes, np.ndarray, dict)) or not hasattr(ps, "__iter__"):
            raise ParameterTypeError(f"{name}: group 'params' must be Parameters, "
                                     f"got {describe(ps)}")
        ps = list(ps)
        where = f"{name} (group {len(self.param_groups)})"
        if not ps:
            raise ValueError(f"{where}: optimizer got an empty parameter list")
        for p in ps:
            check_parameter(p, where)
        model = self._model if self._model is not None else ps[0].model
        for p in ps:
            if p.model is not model:
                raise ValueError(f"{where}: all parameters must belong to one model; "
                                 f"parameter {getattr(p, 'name', '?')!r} belongs to another")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        offsets = {int(p.offset) for g in self.param_groups for p in g["params"]}
        for p in ps:
            if id(p) in seen or int(p.offset) in offsets:
                raise ValueError(f"{where}: parameter {getattr(p, 'name', '?')!r} appears "
                                 f"more than once")
            seen.add(id(p))
            offsets.add(int(p.offset))
        for k, v in self.defaults.items():
            group.setdefault(k, copy.deepcopy(v))
        group["params"] = ps
        _checks.positive(group["lr"], "learning rate")
        self._check_group(group)
        self._model = model
        self.param_groups.append(group)

    @property
    def model(self) -> Any:
        """The model whose parameters this optimizer updates."""
        return self._model

    @property
    def lr(self) -> float:
        """Learning rate of the first group; setting it sets every group."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        # >= 0, unlike the constructor's > 0: a schedule may anneal to exactly 0
        _checks.nonneg(value, "learning rate")
        for g in self.param_groups:
            g["lr"] = value

    # ------------------------------------------------------------ subclass hooks

    def _check_group(self, g: dict) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _c_group(self, g: dict) -> dict:  # pragma: no cover - overridden
        raise NotImplementedError

    def _needed(self) -> set[str]:
        """State buffers the current groups need (all of _slots by default)."""
        return set(self._slots)

    def _init_state(self, name: str, buf: np.ndarray, offsets: list[tuple[int, int, dict]]) -> None:
        """Fill a fresh state buffer's segments (zeros already)."""

    # ------------------------------------------------------------ the C mirror

    def _prepare(self):
        """Bring the C optimizer in line with param_groups and return it (a ``_COptim``).

        Checks every group's hyperparameters again (they may have been edited),
        rebuilds segments when group membership changed and allocates the state
        buffers the groups need. The returned object stays the same for the
        optimizer's life.
        """
        c = self._c
        # fast path (every train_step): the groups compare equal to the copy taken at
        # the last full pass (one C-level comparison of lists and dicts), same buffer
        if (c is not None and self._snap is not None and self.param_groups == self._snap
                and self._model.flat_params is self._snap_flat):
            return c
        model = self._model
        flat = model.flat_params
        if self._c is None:
            self._c = _core._COptim(self._kind, flat.dtype, flat.shape[0])
        c = self._c
        if c.n_elements != flat.shape[0] or c.dtype != flat.dtype:
            raise ValueError(f"{type(self).__name__}: the model's parameter buffer changed "
                             f"({c.n_elements} {c.dtype} -> {flat.shape[0]} {flat.dtype})")
        # fast path (every train_step): nothing changed since the last call
        sig = tuple(tuple((k, _frozen(v)) for k, v in g.items() if k != "params")
                    for g in self.param_groups)
        key = tuple(tuple(map(id, g["params"])) for g in self.param_groups)
        if sig == self._sig and key == self._seg_key:
            return c
        cgroups = []
        for g in self.param_groups:
            self._check_group(g)
            h = self._c_group(g)
            h["lr"] = float(g["lr"])
            h["weight_decay"] = float(g["weight_decay"])
            h["l1"] = float(g["l1"])
            h["max_norm"] = float(g["max_norm"]) if g["max_norm"] is not None else 0.0
            cgroups.append(h)
            hb = dict(h)
            hb["max_norm"] = 0.0  # biases are not max-norm constrained
            cgroups.append(hb)
        if len(cgroups) != c.n_groups:
            self._seg_key = None  # C group indices of the segments change with the count
        c.set_groups(cgroups)
        if key != self._seg_key:
            self._set_segments(c)
            self._seg_key = key
        self._ensure_state(c)
        self._sig = sig
        self._snap, self._snap_flat = self._snapshot(), flat
        return c

    def _snapshot(self) -> list[dict] | None:
        """A copy of param_groups that ``==`` tells from any later edit, or None.

        Lists (``params``, a ``betas`` list) are copied, so appending to them or
        assigning into them makes the groups compare unequal; other values are
        compared by ``==`` as the signature of the full pass does. Parameters are
        told apart by identity (``list ==`` tries ``is`` first, and a Parameter
        without its own ``__eq__`` compares by identity only); a parameter type that
        defines ``__eq__`` gets no snapshot: every call takes the full pass. So do
        groups holding a NumPy array (``betas=np.array(...)``): ``==`` on arrays
        is elementwise, and the snapshot would share the array an in-place edit changes.
        """
        snap = []
        for g in self.param_groups:
            if not isinstance(g, dict) or any(type(p).__eq__ is not object.__eq__
                                              for p in g["params"]) or any(
                    isinstance(v, np.ndarray) for v in g.values()):
                return None
            snap.append({k: list(v) if isinstance(v, list) else v for k, v in g.items()})
        return snap

    def _set_segments(self, c) -> None:
        segs = []
        for gi, g in enumerate(self.param_groups):
            for p in g["params"]:
                check_parameter(p, type(self).__name__)
                if p.model is not self._model:
                    raise ValueError(f"{type(self).__name__}: all parameters must belong to one "
                                     f"model; {getattr(p, 'name', '?')!r} belongs to another")
                size = int(p.size)
                rows = int(getattr(p, "rows", p.shape[0] if len(p.shape) > 1 else 1))
                cols = int(getattr(p, "cols", size // max(rows, 1)))
                if rows * cols != size:
                    rows, cols = 1, size
                segs.append((int(p.offset), size, rows, cols, 2 * gi + int(bool(p.is_bias))))
        segs.sort()
        for a, b in zip(segs, segs[1:]):
            if a[0] + a[1] > b[0]:
                raise ValueError(f"{type(self).__name__}: parameters overlap in the flat buffer "
                                 f"(offsets {a[0]} and {b[0]})")
        c.set_segments([s[0] for s in segs], [s[1] for s in segs], [s[2] for s in segs],
                       [s[3] for s in segs], [s[4] for s in segs])
        self._seg_cache = ([s[0] for s in segs], [s[1] for s in segs])

    def _ensure_state(self, c) -> None:
        needed = self._needed()
        for name, slot in self._slots.items():
            buf = c.get_state(slot)
            if name in needed and buf is None:
                buf = np.zeros(c.n_elements, dtype=c.dtype)
                c.set_state(slot, buf)
            if buf is not None:
                fresh = [(int(p.offset), int(p.size), g) for g in self.param_groups
                         for p in g["params"] if int(p.offset) not in self._initialized]
                if fresh:
                    self._init_state(name, buf, fresh)
        for g in self.param_groups:
            for p in g["params"]:
                self._initialized.add(int(p.offset))

    # ------------------------------------------------------------ the public API

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """One update of every parameter from its current gradient.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss (called first).

        Returns
        -------
        The closure's loss, or None.
        """
        loss = closure() if closure is not None else None
        c = self._prepare()
        c.step(self._model.flat_params, self._model.flat_grads)
        return loss

    def zero_grad(self) -> None:
        """Set the gradients of this optimizer's parameters to zero."""
        grads = self._model.flat_grads
        for g in self.param_groups:
            for p in g["params"]:
                grads[int(p.offset):int(p.offset) + int(p.size)] = 0

    @property
    def step_count(self) -> int:
        """Updates done so far (Adam's t after the last step)."""
        return 0 if self._c is None else int(self._c.step_count)

    @property
    def state(self) -> dict[str, np.ndarray]:
        """The state buffers by name (read-only views, flat like model.flat_params)."""
        c = self._prepare()
        out = {}
        for name, slot in self._slots.items():
            buf = c.get_state(slot)
            if buf is not None:
                v = buf.view()
                v.flags.writeable = False
                out[name] = v
        return out

    def penalty(self) -> float:
        """The regularization term the penalties minimize, for reporting with the loss.

        Sum over groups of ``weight_decay / 2 * ||p||^2`` (coupled decay; not for
        AdamW, whose decay is not a gradient of a loss) plus ``l1 * |p|_1``.
        """
        flat = self._model.flat_params
        total = 0.0
        for g in self.param_groups:
            wd = float(g["weight_decay"]) if self._kind != "adamw" else 0.0
            l1 = float(g["l1"])
            if wd == 0 and l1 == 0:
                continue
            for p in g["params"]:
                x = flat[int(p.offset):int(p.offset) + int(p.size)].astype(np.float64)
                total += 0.5 * wd * float(x @ x) + l1 * float(np.abs(x).sum())
        return total

    def state_dict(self) -> dict:
        """Everything needed to resume: step count, hyperparameters, state buffers (copies).

        Returns
        -------
        dict
            ``{"optimizer": class name, "step": int, "n_elements": int,
            "dtype": str, "param_groups": [...], "layout": [[offset, size], ...],
            "state": {name: ndarray (n_elements,)}}``; each group lists its
            parameters as indices into ``layout`` (PyTorch style).
        """
        c = self._prepare()
        groups, layout = [], []
        for g in self.param_groups:
            d = {k: _plain(v) for k, v in g.items() if k != "params"}
            d["params"] = list(range(len(layout), len(layout) + len(g["params"])))
            layout.extend([int(p.offset), int(p.size)] for p in g["params"])
            groups.append(d)
        state = {}
        for name, slot in self._slots.items():
            buf = c.get_state(slot)
            if buf is not None:
                state[name] = buf.copy()
        return {"optimizer": type(self).__name__, "step": int(c.step_count),
                "n_elements": int(c.n_elements), "dtype": str(c.dtype),
                "param_groups": groups, "layout": layout, "state": state}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a `state_dict()` of the same optimizer type over the same parameters.

        Hyperparameters, step count and state buffers are copied in (never
        shared). Raises ValueError (nothing is changed) when the type, groups,
        parameter layout or buffer sizes differ.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict):
            raise TypeError(f"{name}.load_state_dict: expected a dict, got {describe(state_dict)}")
        missing = {"optimizer", "step", "param_groups", "layout", "state"} - set(state_dict)
        if missing:
            raise ValueError(f"{name}.load_state_dict: state dict lacks {sorted(missing)}")
        if state_dict["optimizer"] != name:
            raise ValueError(f"{name}.load_state_dict: state dict is for "
                             f"{state_dict['optimizer']}, not {name}")
        c = self._prepare()
        step = state_dict["step"]
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"{name}.load_state_dict: invalid step count {step!r}")
        saved_groups = state_dict["param_groups"]
        if not isinstance(saved_groups, (list, tuple)) or len(saved_groups) != len(self.param_groups):
            n = len(saved_groups) if isinstance(saved_groups, (list, tuple)) else saved_groups
            raise ValueError(f"{name}.load_state_dict: state dict has {n} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        layout = [[int(p.offset), int(p.size)] for g in self.param_groups for p in g["params"]]
        saved_layout = [[int(a), int(b)] for a, b in state_dict["layout"]]
        if saved_layout != layout:
            raise ValueError(f"{name}.load_state_dict: the saved parameter layout "
                             f"({len(saved_layout)} parameters) does not match this optimizer's "
                             f"({len(layout)} parameters at the same offsets and sizes)")
        new_groups = []
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if not isinstance(s, dict) or len(s.get("params", ())) != len(g["params"]):
                raise ValueError(f"{name}.load_state_dict: group {i} holds a different number "
                                 f"of parameters")
            ng = dict(g)
            ng.update({k: copy.deepcopy(v) for k, v in s.items() if k != "params"})
            self._check_group(ng)
            new_groups.append(ng)
        saved_state = state_dict["state"]
        if not isinstance(saved_state, dict):
            raise ValueError(f"{name}.load_state_dict: 'state' must be a dict of arrays")
        arrays = {}
        for k, v in saved_state.items():
            if k not in self._slots:
                raise ValueError(f"{name}.load_state_dict: unknown state buffer {k!r}; "
                                 f"{name} keeps {sorted(self._slots)}")
            a = np.asarray(v)
            if a.shape != (c.n_elements,) or not np.issubdtype(a.dtype, np.floating):
                raise ValueError(f"{name}.load_state_dict: state buffer {k!r} has shape "
                                 f"{a.shape} dtype {a.dtype}, expected ({c.n_elements},) floats")
            arrays[k] = a
        # everything checked: apply
        for g, ng in zip(self.param_groups, new_groups):
            g.clear()
            g.update(ng)
        c = self._prepare()
        for k, slot in self._slots.items():
            buf = c.get_state(slot)
            if k in arrays:
                if buf is None:
                    buf = np.zeros(c.n_elements, dtype=c.dtype)
                    c.set_state(slot, buf)
                np.copyto(buf, arrays[k], casting="unsafe")
            elif buf is not None:
                buf[...] = 0
        c.step_count = int(step)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i} ({len(g['params'])} parameters)")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)
