"""The checkpoint format's constants and its error class."""
from __future__ import annotations

import os

import numpy as np

FORMAT_VERSION = 1
_META = "nnlite.json"
_MAGIC = "nnlite-checkpoint"

#: The arrays of a file may expand to at most this many times the file's size (or ``_MIN_READ_BUDGET``).
MAX_EXPANSION = 20
_MIN_READ_BUDGET = 64 * 2**20        # bytes: any file may hold this much, however small it is
_MAX_META_BYTES = 64 * 2**20         # the JSON metadata, as a NumPy unicode array (4 bytes a character)
_MAX_NDIM = 8                        # weights are at most 4-D; a header claiming more is not ours
_MAX_TREE_DEPTH = 16                 # optimizer states nest 3-5 levels deep
_WEIGHT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_BUFFER_DTYPES = _WEIGHT_DTYPES + (np.dtype(np.int64),)



class CheckpointError(ValueError):
    """A checkpoint file cannot be read, or does not fit the model/optimizer/trainer it is loaded into.

    The message names the file and the problem. ``path`` holds the file name.
    """

    def __init__(self, message: str, path=None):
        self.path = None if path is None else os.fspath(path)
        if self.path is not None and not message.startswith(self.path):
            message = f"{self.path}: {message}"
        super().__init__(message)
