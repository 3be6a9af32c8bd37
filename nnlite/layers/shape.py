"""Layers that only move numbers around: Flatten and Reshape."""
from __future__ import annotations

import numpy as np

from ..module import Module, check_input


class Flatten(Module):
    """``(N, d1, d2, ...) -> (N, d1*d2*...)``; backward reshapes ``dy`` back to the input's shape."""

    def forward(self, x):
        x = check_input(self, x, ndim=tuple(range(2, 7)))
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self._shape)


class Reshape(Module):
    """``(N, ...) -> (N, *shape)``, keeping the batch axis; backward restores the input's shape.

    Shape
    -----
    x : ``(N, *in_shape)`` with ``prod(in_shape) == prod(shape)`` -> ``(N, *shape)``
    """

    def __init__(self, shape):
        super().__init__()
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
        if any(s < 1 for s in shape):
            raise ValueError(f"Reshape: every target size must be >= 1, got {shape}")
        self.shape = shape

    def forward(self, x):
        x = check_input(self, x, ndim=tuple(range(2, 7)))
        if int(np.prod(x.shape[1:])) != int(np.prod(self.shape)):
            raise ValueError(
                f"Reshape({self.shape}) expects {int(np.prod(self.shape))} values per sample, "
                f"got input of shape {x.shape} ({int(np.prod(x.shape[1:]))} per sample)"
            )
        self._shape = x.shape
        return x.reshape((x.shape[0],) + self.shape)

    def backward(self, dy):
        return dy.reshape(self._shape)

    def extra_repr(self):
        return f"{self.shape}"
