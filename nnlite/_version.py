"""The version of nnlite: one leaf module that the package, the command line, the checkpoint writer and
setup.cfg (``version = attr: nnlite._version.__version__``) all read."""

__version__ = "0.1.0"
