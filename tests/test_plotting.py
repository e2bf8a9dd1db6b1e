"""nncore.plotting: a valid PNG of the curves (matplotlib is a test dependency), and a
clear message when matplotlib is missing."""
import struct
import sys

import pytest

from nncore import plotting

HISTORY = {"loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.7, 0.5],
           "accuracy": [0.5, 0.7, 0.8], "val_accuracy": [0.45, 0.66, 0.79],
           "lr": [1e-3, 1e-3, 5e-4]}


def test_png_written_and_valid(tmp_path):
    path = tmp_path / "curve.png"
    fig = plotting.plot_history(HISTORY, path, title="test")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"           # PNG signature
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    w_in, h_in = fig.get_size_inches()
    assert (width, height) == (round(w_in * fig.dpi), round(h_in * fig.dpi))
    assert data[-8:-4] == b"IEND" and len(data) > 5000
    assert len(fig.axes) == 3                          # loss, accuracy, lr


def test_history_object_and_missing_keys(tmp_path):

    class H:
        history = {"loss": [0.3, 0.2]}
    fig = plotting.plot_history(H(), tmp_path / "c.png")
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match="no 'loss' or 'accuracy'"):
        plotting.plot_history({"lr": [0.1]})
    with pytest.raises(TypeError):
        plotting.plot_history([1, 2, 3])


def test_missing_matplotlib_message(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ImportError, match=r"pip install 'nncore\[plot\]'"):
        plotting.plot_history(HISTORY, tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists()


def test_a_failed_plot_leaves_the_old_file_whole(tmp_path, monkeypatch):
    # the image is drawn in memory, then renamed into place: a drawing that fails
    # half-way never truncates the file the user had there
    path = tmp_path / "curve.png"
    path.write_bytes(b"the user's old image")
    from matplotlib.figure import Figure

    def broken(self, fname, **kw):
        fname.write(b"\x89PNG half")
        raise RuntimeError("disk full while drawing")
    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        plotting.plot_history(HISTORY, path)
    assert path.read_bytes() == b"the user's old image"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.png"]
