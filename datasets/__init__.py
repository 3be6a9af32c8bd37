"""Data files shipped with nnlite (installed as ``nnlite.datasets``); the loaders live in ``nnlite.data``."""
