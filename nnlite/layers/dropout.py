"""Inverted dropout."""
from __future__ import annotations

import numpy as np

from ..module import Module, check_input
from ..random import as_generator


class Dropout(Module):
    r"""In training, zero each element with probability ``p`` and scale the rest by ``1/(1-p)``.

    .. math:: y = x \odot m / (1-p), \quad m_i \sim \text{Bernoulli}(1-p), \qquad dx = dy \odot m / (1-p)

    In eval mode (``model.eval()``) it is the identity. The mask comes from ``random_state``.
    """

    def __init__(self, p: float = 0.5, random_state=None):
        super().__init__()
        if not (0.0 <= p < 1.0):
            raise ValueError(f"Dropout: p must be in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = as_generator(random_state)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(self, x, ndim=tuple(range(1, 7)))
        if not self.training or self.p == 0.0:
            self._scale = None
            return x
        keep = self.rng.random(x.shape) >= self.p                                   # m, same shape as x
        self._scale = keep.astype(x.dtype) / np.asarray(1.0 - self.p, dtype=x.dtype)   # m / (1 - p)
        return x * self._scale

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy if self._scale is None else dy * self._scale

    def extra_repr(self) -> str:
        return f"p={self.p}"
