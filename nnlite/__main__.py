"""``python -m nnlite <command>``: see :mod:`nnlite.cli`."""
import sys

from .cli import main

if __name__ == "__main__":      # importing the module (Sphinx's autosummary does) runs nothing
    sys.exit(main())
