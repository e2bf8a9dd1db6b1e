"""nncore.optim — optimizers as fused C updates over a model's flat parameter buffer.

PyTorch's names and update rules: `SGD`, `RMSprop`, `Adagrad`, `Adam`, `AdamW`,
each with optional ``l1`` and ``max_norm`` per parameter group; `get` builds
one from a name. Learning-rate schedules live in `nncore.optim.lr_scheduler`.
"""
from __future__ import annotations

from typing import Any

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "RMSprop", "Adagrad", "Adam", "AdamW", "get", "lr_scheduler"]

_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad, "adam": Adam, "adamw": AdamW}


def get(name: str | Optimizer, params: Any = None, **kwargs: Any) -> Optimizer:
    """An optimizer from its name ("sgd", "adam", "adamw", "rmsprop", "adagrad").

    Parameters
    ----------
    name : str or Optimizer
        Case-insensitive name; an Optimizer instance is returned as is (then
        ``params``, if given, must belong to the same model).
    params : iterable of Parameter or of dict
    **kwargs
        Hyperparameters for the optimizer's constructor.
    """
    if isinstance(name, Optimizer):
        if kwargs:
            raise TypeError(f"hyperparameters {sorted(kwargs)} given with an optimizer object")
        if params is not None:
            ps = [p for g in params for p in (g["params"] if isinstance(g, dict) else [g])]
            if any(getattr(p, "model", None) is not name.model for p in ps):
                raise ValueError("the optimizer was built on another model's parameters")
        return name
    if not isinstance(name, str):
        raise TypeError(f"optimizer must be a name or an Optimizer, got {type(name).__name__}")
    cls = _BY_NAME.get(name.strip().lower())
    if cls is None:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {sorted(_BY_NAME)}")
    if params is None:
        raise ValueError(f"optimizer {name!r} needs params (e.g. model.parameters())")
    return cls(params, **kwargs)
