"""What the gallery scripts share: the command line (--quick, --out), the figure, the save.

Not a plotting library: each script draws its own axes. Figures are built without
pyplot (no global state, no display), so the scripts run anywhere, e.g. on a server.
"""
import argparse
import io
import json
import os

from matplotlib.figure import Figure
from PIL import Image  # a dependency of matplotlib

DPI = 100  # with 256 colours, the committed PNGs stay well under 150 kB


def figure(ncols, nrows=1, width=3.4, height=3.0, grid=False):
    """A Figure and its (nrows, ncols) axes, always as a 2-D array; grid: faint grid lines."""
    fig = Figure(figsize=(width * ncols, height * nrows), dpi=DPI)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for a in axes.flat if grid else []:
        a.grid(alpha=0.3)
    return fig, axes


def save(fig, out, name):
    """Lay fig out tightly and write it to out/name (out created if missing) as a 256-colour
    PNG; returns the path."""
    fig.tight_layout()
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, name)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    buf.seek(0)
    Image.open(buf).convert("RGB").quantize(256).save(path, optimize=True)
    return path


def main(run, doc):
    """Command line of a gallery script: run(quick, out), print its numbers, then one JSON line."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer epochs, same claim")
    p.add_argument("--out", default=".", help="directory for the picture (default: .)")
    args = p.parse_args()
    res = run(quick=args.quick, out=args.out)
    for key, value in res.items():
        _show(key, value)
    print(json.dumps(res))


def _show(key, value, indent=""):
    if isinstance(value, dict):
        print(f"{indent}{key}:")
        for k, v in value.items():
            _show(k, v, indent + "  ")
    else:
        print(f"{indent}{key}: {value:.6g}" if isinstance(value, float)
              else f"{indent}{key}: {value}")
