"""The one exception nnlite's data loaders raise for bad or missing dataset files."""
from __future__ import annotations

import os

__all__ = ["DatasetError"]


class DatasetError(ValueError):
    """A dataset file is missing, corrupt or not what its loader expects.

    Subclasses :class:`ValueError`, so ``except ValueError`` keeps working. The message always names the
    file (or folder) and the problem: what arrived and what was expected, or which paths were tried.

    Attributes
    ----------
    path : str or None
        The file or folder the error is about, when there is one.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        self.path = None if path is None else os.fspath(path)
        if self.path is not None and self.path not in message:
            message = f"{self.path}: {message}"
        super().__init__(message)
