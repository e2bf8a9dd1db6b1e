"""``python -m nncore``: the command line (see nncore.cli)."""
import sys

from .cli import main

sys.exit(main())
