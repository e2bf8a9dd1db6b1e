"""A per-epoch progress bar for ``fit(verbose=1)``, written to stderr.

On a terminal: a live bar, redrawn in place (``\r``) at most every ``min_interval``
seconds, so the cost per batch is one clock read and a comparison. Anywhere else (a
CI log, a pipe, a file): no ``\r`` redraws, one line per epoch when it ends, as Keras
does. Uses tqdm instead when it is installed and ``backend="tqdm"`` is asked for
(``"auto"`` picks tqdm only if it is importable AND the stream is a terminal).
Not here: logging to files, notebooks widgets.
"""
from __future__ import annotations

import sys
import time
from typing import IO, Any

__all__ = ["ProgressBar", "format_logs"]


def format_logs(logs: dict, keys: list[str] | None = None) -> str:
    """``"loss=0.1234 accuracy=0.9500"`` for the float values of ``logs``."""
    parts = []
    for k, v in logs.items():
        if keys is not None and k not in keys:
            continue
        if isinstance(v, float):
            parts.append(f"{k}={v:.4g}")
    return " ".join(parts)


class ProgressBar:
    """One bar per epoch: ``Epoch 3/10 [=====>    ] 120/200 loss=0.31 1.2e+04 samples/s``.

    The bar is live only when ``stream.isatty()``; otherwise :meth:`update` writes
    nothing and :meth:`close` writes the epoch's one line
    (``Epoch 3/10 200/200 loss=0.31 val_loss=0.35 1.2e+04 samples/s 0.52s``).

    Parameters
    ----------
    total : int
        Batches in the epoch.
    epoch, epochs : int
        1-based epoch number and epoch count, for the label.
    stream : file, optional
        Defaults to ``sys.stderr``.
    width : int
        Characters of the bar itself.
    min_interval : float
        Seconds between redraws (the last batch always redraws).
    backend : {"auto", "builtin", "tqdm"}
    """

    def __init__(self, total: int, epoch: int, epochs: int, stream: IO[str] | None = None,
                 width: int = 24, min_interval: float = 0.1, backend: str = "auto") -> None:
        self.total = max(int(total), 1)
        self.label = f"Epoch {epoch}/{epochs}"
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.min_interval = min_interval
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._samples = 0
        self._tqdm: Any = None
        if backend not in ("auto", "builtin", "tqdm"):
            raise ValueError(f"backend must be 'auto', 'builtin' or 'tqdm', got {backend!r}")
        isatty = getattr(self.stream, "isatty", None)
        self.live = bool(isatty()) if callable(isatty) else False
        if backend != "builtin":
            if backend == "tqdm" or self.live:
                try:
                    from tqdm import tqdm
                    self._tqdm = tqdm(total=self.total, desc=self.label, file=self.stream,
                                      leave=True, unit="batch", mininterval=min_interval)
                except ImportError:
                    if backend == "tqdm":
                        raise
        self._n = 0

    def update(self, n_batches: int, samples: int, logs: dict | None = None,
               loss: float | None = None) -> None:
        """Batches done so far in this epoch, samples done so far, running values
        (``logs``, or just the running ``loss``: no dict is built unless drawing)."""
        self._samples = samples
        if self._tqdm is None and not self.live:  # a log: only close() writes
            self._n = n_batches
            return
        now = time.perf_counter()
        if n_batches < self.total and now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        if logs is None and loss is not None:
            logs = {"loss": loss}
        if self._tqdm is not None:
            self._tqdm.update(n_batches - self._n)
            self._n = n_batches
            if logs:
                self._tqdm.set_postfix_str(self._suffix(logs, now), refresh=False)
            return
        self._n = n_batches
        self._draw(self._suffix(logs or {}, now), end="")

    def _suffix(self, logs: dict, now: float) -> str:
        dt = max(now - self.start, 1e-9)
        return f"{format_logs(logs)} {self._samples / dt:.3g} samples/s"

    def _draw(self, suffix: str, end: str) -> None:
        if not self.live:  # a log: one plain line, no bar, no carriage return
            self.stream.write(f"{self.label} {self._n}/{self.total} {suffix}{end}")
            self.stream.flush()
            return
        frac = min(self._n / self.total, 1.0)
        filled = int(round(frac * self.width))
        bar = "=" * max(filled - 1, 0) + (">" if 0 < filled < self.width else
                                          ("=" if filled else ""))
        bar = bar.ljust(self.width)
        self.stream.write(f"\r{self.label} [{bar}] {self._n}/{self.total} {suffix}{end}")
        self.stream.flush()

    def close(self, logs: dict | None = None) -> None:
        """Final line for the epoch, with the epoch's values (loss, val_loss, ...)."""
        now = time.perf_counter()
        if self._tqdm is not None:
            if logs:
                self._tqdm.set_postfix_str(self._suffix(logs, now), refresh=True)
            self._tqdm.close()
            return
        self._draw(f"{self._suffix(logs or {}, now)} {now - self.start:.2f}s", end="\n")
