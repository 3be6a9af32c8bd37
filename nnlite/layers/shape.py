"""Layers that only move numbers around: Flatten and Reshape."""
from __future__ import annotations

import numpy as np

from ..module import Module, check_input

#: Input ranks these layers accept: a batch axis and at least one more, up to (N, C, D, H, W, ...).
_RANKS = tuple(range(2, 7))


class Flatten(Module):
    """``(N, d1, d2, ...) -> (N, d1*d2*...)``; backward reshapes ``dy`` back to the input's shape."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(self, x, ndim=_RANKS)
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy.reshape(self._shape)


class Reshape(Module):
    """``(N, ...) -> (N, *shape)``, keeping the batch axis; backward restores the input's shape.

    Shape
    -----
    x : ``(N, *in_shape)`` with ``prod(in_shape) == prod(shape)`` -> ``(N, *shape)``
    """

    def __init__(self, shape: int | tuple[int, ...]) -> None:
        super().__init__()
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
        if any(s < 1 for s in shape):
            raise ValueError(f"Reshape: every target size must be >= 1, got {shape}")
        self.shape = shape

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(self, x, ndim=_RANKS)
        if int(np.prod(x.shape[1:])) != int(np.prod(self.shape)):
            raise ValueError(
                f"Reshape({self.shape}) expects {int(np.prod(self.shape))} values per sample, "
                f"got input of shape {x.shape} ({int(np.prod(x.shape[1:]))} per sample)"
            )
        self._shape = x.shape
        return x.reshape((x.shape[0],) + self.shape)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy.reshape(self._shape)

    def extra_repr(self) -> str:
        return f"{self.shape}"
