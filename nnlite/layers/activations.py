"""Elementwise activations (and Softmax), each with its derivative beside it.

Every activation keeps what its derivative needs: the input ``x`` or, where the derivative is
cheaper in terms of the output (sigmoid, tanh, softmax, ELU), the output ``y``.
"""
from __future__ import annotations

import numpy as np

from ..module import Module, check_input


class _Elementwise(Module):
    def _check(self, x):
        x = check_input(self, x, ndim=tuple(range(1, 7)))
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float32)
        return x


class Identity(Module):
    """``y = x``; ``dx = dy``. Accepts any shape."""

    def forward(self, x):
        return x

    def backward(self, dy):
        return dy


class ReLU(_Elementwise):
    r"""``y = max(x, 0)``; ``dx = dy * [x > 0]`` (the kink at 0 gets derivative 0, as in PyTorch)."""

    def forward(self, x):
        x = self._check(x)
        self._mask = x > 0
        return np.maximum(x, 0, dtype=x.dtype)

    def backward(self, dy):
        return dy * self._mask


class LeakyReLU(_Elementwise):
    r"""``y = x`` for ``x > 0`` else ``negative_slope * x``; ``dx = dy * (1 or negative_slope)``."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        if not np.isfinite(negative_slope) or negative_slope < 0:
            raise ValueError(f"LeakyReLU: negative_slope must be a finite number >= 0, got {negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        x = self._check(x)
        self._slope = np.where(x > 0, 1, self.negative_slope).astype(x.dtype)
        return x * self._slope

    def backward(self, dy):
        return dy * self._slope

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(_Elementwise):
    r"""``y = x`` for ``x > 0`` else ``alpha (e^x - 1)``; ``dx = dy`` or ``dy (y + alpha)``."""

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        if not np.isfinite(alpha) or alpha <= 0:
            raise ValueError(f"ELU: alpha must be a finite number > 0, got {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, x):
        x = self._check(x)
        self._pos = x > 0
        y = np.where(self._pos, x, self.alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)
        self._y = y
        return y

    def backward(self, dy):
        return dy * np.where(self._pos, 1, self._y + self.alpha).astype(dy.dtype, copy=False)

    def extra_repr(self):
        return f"alpha={self.alpha}"


def sigmoid(x):
    """Logistic function ``1 / (1 + e^{-x})``, stable and accurate for any x.

    With ``e = exp(-|x|)`` (never overflows): ``1 / (1 + e)`` for x >= 0 and ``e / (1 + e)`` for x < 0,
    so tiny probabilities keep their full relative precision (sigmoid(-50) = 1.9e-22, not 0).
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


class Sigmoid(_Elementwise):
    r"""``y = 1 / (1 + e^{-x})``; ``dx = dy * y (1 - y)``."""

    def forward(self, x):
        self._y = sigmoid(self._check(x))
        return self._y

    def backward(self, dy):
        y = self._y
        return dy * y * (1 - y)


class Tanh(_Elementwise):
    r"""``y = tanh(x)``; ``dx = dy * (1 - y^2)``."""

    def forward(self, x):
        self._y = np.tanh(self._check(x))
        return self._y

    def backward(self, dy):
        return dy * (1 - self._y * self._y)


class Softplus(_Elementwise):
    r"""``y = log(1 + e^x)``, computed as ``max(x, 0) + log1p(e^{-|x|})``; ``dx = dy * sigmoid(x)``."""

    def forward(self, x):
        x = self._check(x)
        self._x = x
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    def backward(self, dy):
        return dy * sigmoid(self._x)


class Softmax(_Elementwise):
    r"""``y_i = e^{x_i} / \sum_j e^{x_j}`` along ``axis``; ``dx = y * (dy - \sum_j dy_j y_j)``."""

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        x = self._check(x)
        e = np.exp(x - x.max(axis=self.axis, keepdims=True))
        self._y = e / e.sum(axis=self.axis, keepdims=True)
        return self._y

    def backward(self, dy):
        y = self._y
        return y * (dy - (dy * y).sum(axis=self.axis, keepdims=True))

    def extra_repr(self):
        return f"axis={self.axis}"


#: Name -> activation class, for models that take ``activation='relu'``.
ACTIVATIONS = {
    "identity": Identity, "linear": Identity, "relu": ReLU, "leaky_relu": LeakyReLU, "elu": ELU,
    "sigmoid": Sigmoid, "tanh": Tanh, "softplus": Softplus, "softmax": Softmax,
}


def get_activation(activation) -> Module:
    """A fresh activation Module from a name (``'relu'``), a class, or a Module instance (returned as is)."""
    if isinstance(activation, Module):
        return activation
    if isinstance(activation, type) and issubclass(activation, Module):
        return activation()
    if isinstance(activation, str) and activation.lower() in ACTIVATIONS:
        return ACTIVATIONS[activation.lower()]()
    raise ValueError(f"unknown activation {activation!r}; valid names: {sorted(ACTIVATIONS)}")
