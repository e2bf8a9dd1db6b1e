"""nncore.progress: a live bar redrawn in place on a terminal, and one plain line per
epoch (no carriage returns) in a log, a pipe or a file."""
import io

import numpy as np
import pytest

import nncore.nn as nn
from nncore.progress import ProgressBar


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self):
        return True


def _epoch(stream, backend="builtin", batches=3):
    bar = ProgressBar(batches, 2, 5, stream=stream, min_interval=0.0, backend=backend)
    for b in range(batches):
        bar.update(b + 1, 10 * (b + 1), {"loss": 1.0 / (b + 1)})
    bar.close({"loss": 0.25, "val_loss": 0.5})
    return stream.getvalue()


def test_live_bar_on_a_terminal():
    out = _epoch(FakeTerminal())
    assert out.count("\r") == 4 and out.endswith("\n") and out.count("\n") == 1
    assert out.count("[") == 4                      # the bar, drawn at each update and at close
    last = out.rsplit("\r", 1)[1]
    assert last.startswith("Epoch 2/5 [") and " 3/3 " in last and "samples/s" in last
    assert "loss=0.25" in last and "val_loss=0.5" in last


@pytest.mark.parametrize("backend", ["auto", "builtin"])
def test_one_line_per_epoch_when_not_a_terminal(backend):
    out = _epoch(io.StringIO(), backend)
    assert "\r" not in out and "[" not in out
    lines = out.splitlines()
    assert len(lines) == 1 and out.endswith("\n")
    assert lines[0].startswith("Epoch 2/5 3/3 ") and "samples/s" in lines[0]
    assert "loss=0.25" in lines[0] and "val_loss=0.5" in lines[0]


def test_bad_backend():
    with pytest.raises(ValueError, match="backend"):
        ProgressBar(3, 1, 1, backend="rich")


def test_fit_verbose_1_into_a_log_writes_one_line_per_epoch(capsys):
    # capsys's stderr is not a terminal, as in CI or `... 2> log`
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 4)).astype(np.float32), rng.integers(0, 3, 64)
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), seed=0)
    m.fit(X, y, loss="ce", epochs=3, batch_size=4, verbose=1, validation_split=0.25)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert [ln.split()[:2] for ln in lines] == [["Epoch", f"{e}/3"] for e in (1, 2, 3)]
    assert all(" 12/12 " in ln and "val_loss=" in ln for ln in lines)
