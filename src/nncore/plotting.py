"""Training curves as images: loss and accuracy (train and validation) per epoch.

What it is for: ``History.plot(path)`` and ``nncore train --plot curve.png``.
What it is not: a plotting library; matplotlib is an optional extra
(``pip install 'nncore[plot]'``) imported only when a plot is asked for, and the
figure is drawn without pyplot (no global state, no display needed).
"""
from __future__ import annotations

import io
import math
import os
from typing import Any, Mapping, Sequence

from ._files import atomic_write

__all__ = ["plot_history", "MATPLOTLIB_HINT"]

MATPLOTLIB_HINT = "plotting needs matplotlib: pip install 'nncore[plot]'"

# panels: (title, [(history key, label)])
_PANELS = [
    ("loss", [("loss", "train"), ("val_loss", "validation")]),
    ("accuracy", [("accuracy", "train"), ("val_accuracy", "validation")]),
    ("learning rate", [("lr", "lr")]),
    ("gradient norm", [("grad_norm", "global"), ("grad_norm_max", "max")]),
]


def _series(h: Mapping[str, Sequence[float]], key: str) -> list[float] | None:
    v = h.get(key)
    if v is None or len(v) == 0:
        return None
    vals = [float(x) for x in v]
    if all(math.isnan(x) for x in vals):
        return None
    return vals


def plot_history(history: Any, path: str | os.PathLike | None = None,
                 title: str | None = None, dpi: int = 100) -> Any:
    """Draw per-epoch curves: loss and accuracy (train and validation), plus the learning
    rate and gradient norm when recorded.

    Parameters
    ----------
    history : History or dict
        A ``History`` from ``model.fit`` or its ``.history`` dict of per-epoch lists
        (keys ``loss``, ``val_loss``, ``accuracy``, ``val_accuracy``, ``lr``, ``grad_norm``).
    path : str or path-like, optional
        Write the figure there (format from the extension, PNG by default).
    title : str, optional
    dpi : int

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        Without matplotlib, with the command that installs it.
    ValueError
        When the history holds no loss or accuracy values.
    """
    h = getattr(history, "history", history)
    if not isinstance(h, Mapping):
        raise TypeError(f"expected a History or a dict of per-epoch lists, got "
                        f"{type(history).__name__}")
    panels = []
    for name, keys in _PANELS:
        lines = [(label, s) for key, label in keys if (s := _series(h, key)) is not None]
        if name == "learning rate" and lines and len(set(lines[0][1])) == 1:
            continue   # a constant learning rate says nothing a curve would add
        if lines:
            panels.append((name, lines))
    if not any(name in ("loss", "accuracy") for name, _ in panels):
        raise ValueError("the history has no 'loss' or 'accuracy' values to plot")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(MATPLOTLIB_HINT) from None

    from matplotlib.ticker import MaxNLocator
    rows = 2 if len(panels) == 4 else 1
    cols = (len(panels) + rows - 1) // rows
    fig = Figure(figsize=(4.4 * cols, 3.4 * rows), dpi=dpi)
    FigureCanvasAgg(fig)
    for i, (name, lines) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for label, vals in lines:
            ax.plot(range(1, len(vals) + 1), vals, marker="o" if len(vals) <= 30 else None,
                    markersize=3, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        if name in ("learning rate", "gradient norm") and all(
                v > 0 for _, vals in lines for v in vals if not math.isnan(v)):
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        if len(lines) > 1:
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        path = os.fspath(path)
        ext = os.path.splitext(path)[1].lower().lstrip(".")
        buf = io.BytesIO()   # drawn whole first: a failure leaves no half-written image
        fig.savefig(buf, format=ext if ext in ("png", "svg", "pdf") else "png")
        atomic_write(path, [buf.getvalue()])
    return fig
