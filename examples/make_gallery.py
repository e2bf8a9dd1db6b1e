"""Regenerate the gallery: run every example script, writing its PNG into docs/gallery/.

    python examples/make_gallery.py                 # all, full length, into docs/gallery/
    python examples/make_gallery.py neuron optimizers --quick --out /tmp/gallery
"""
import argparse
import importlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = ["activations", "neuron", "decision_boundaries", "backprop_by_hand", "optimizers",
           "learning_rate", "overfitting", "embed_in_c"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", metavar="NAME",
                   help=f"scripts to run (default: all of {', '.join(SCRIPTS)})")
    p.add_argument("--quick", action="store_true", help="fewer epochs, same claims")
    p.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "docs", "gallery"),
                   help="directory for the PNGs (default: docs/gallery/)")
    args = p.parse_args(argv)
    unknown = [n for n in args.names if n not in SCRIPTS]
    if unknown:
        p.error(f"unknown script {unknown[0]!r}; expected some of {', '.join(SCRIPTS)}")
    sys.path.insert(0, HERE)  # the scripts import each other's helper, _gallery
    for name in args.names or SCRIPTS:
        t0 = time.perf_counter()
        res = importlib.import_module(name).run(quick=args.quick, out=args.out)
        size = os.path.getsize(os.path.join(args.out, name + ".png"))
        print(f"{name}.png  {size / 1024:.0f} kB  {time.perf_counter() - t0:.1f} s  "
              f"{json.dumps(res)}")


if __name__ == "__main__":
    main()
