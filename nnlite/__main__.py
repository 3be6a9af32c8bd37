"""``python -m nnlite <command>``: see :mod:`nnlite.cli`."""
import sys

from .cli import main

sys.exit(main())
