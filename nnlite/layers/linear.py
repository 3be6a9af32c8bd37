"""Fully connected layer: the plain NumPy reference that :class:`~nnlite.Dense` fuses and speeds up."""
from __future__ import annotations

import math

import numpy as np

from .. import init as _init
from ..module import DEFAULT_DTYPE, Module, Parameter, check_input
from ..random import as_generator


class Linear(Module):
    r"""Affine map ``y = x @ W + b``, written as plainly as the maths.

    Its backward is the reference every fused layer is tested against: ``W.grad += x^T dy``,
    ``b.grad += sum_rows(dy)``, ``dx = dy W^T`` in NumPy. The models use :class:`~nnlite.Dense`, which
    is ``Sequential(Linear, activation)`` fused into one layer (same weights, same results).

    .. math::
        y = x W + b, \qquad
        \frac{\partial L}{\partial W} = x^\top \frac{\partial L}{\partial y}, \quad
        \frac{\partial L}{\partial b} = \sum_{\text{rows}} \frac{\partial L}{\partial y}, \quad
        \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} W^\top

    Parameters
    ----------
    n_in, n_out : int
        Input and output features.
    bias : bool
        Whether to add ``b``.
    init : str or None
        ``None`` is PyTorch's default, U(-1/sqrt(n_in), 1/sqrt(n_in)) for W and b; or one of
        ``nnlite.init.INITIALIZERS`` ('xavier_uniform', 'kaiming_normal', ...) for W, with b = 0.
    random_state : None, int or numpy.random.Generator

    Shape
    -----
    x : ``(N, n_in)`` (or ``(..., n_in)``) -> y : ``(N, n_out)``; ``weight`` ``(n_in, n_out)``, ``bias`` ``(n_out,)``.
    """

    def __init__(self, n_in: int, n_out: int, bias: bool = True, init: str | None = None,
                 dtype=DEFAULT_DTYPE, random_state=None) -> None:
        super().__init__()
        for name, v in (("n_in", n_in), ("n_out", n_out)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Linear: {name} must be an int >= 1, got {v!r}")
        if init is not None and init not in _init.INITIALIZERS:
            raise ValueError(f"Linear: unknown init {init!r}; valid: None, {sorted(_init.INITIALIZERS)}")
        self.n_in, self.n_out, self.init, self.dtype = int(n_in), int(n_out), init, np.dtype(dtype)
        self.weight = Parameter(np.zeros((self.n_in, self.n_out), self.dtype))
        self.bias = Parameter(np.zeros(self.n_out, self.dtype)) if bias else None
        self.reset_parameters(random_state)

    def reset_parameters(self, random_state=None) -> None:
        """Draw ``W`` (and ``b``) afresh from ``random_state``, as :meth:`__init__` does."""
        rng = as_generator(random_state)
        if self.init is None:
            bound = 1.0 / math.sqrt(self.n_in)
            self.weight.data[...] = _init.uniform(self.weight.shape, bound, rng, self.dtype)
            if self.bias is not None:
                self.bias.data[...] = _init.uniform(self.bias.shape, bound, rng, self.dtype)
        else:
            self.weight.data[...] = _init.INITIALIZERS[self.init](self.weight.shape, random_state=rng,
                                                                    dtype=self.dtype)
            if self.bias is not None:
                self.bias.data.fill(0)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(self, x, ndim=(2, 3, 4), features=self.n_in)
        x = np.asarray(x, dtype=self.weight.data.dtype)
        self._x = x                                   # (N, n_in), kept for dW
        y = x @ self.weight.data                      # (N, n_out)
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        x2 = self._x.reshape(-1, self.n_in)           # (N, n_in), leading axes flattened
        dy2 = dy.reshape(-1, self.n_out)              # (N, n_out)
        self.weight.grad += x2.T @ dy2                # (n_in, n_out)
        if self.bias is not None:
            self.bias.grad += dy2.sum(axis=0)         # (n_out,)
        return dy @ self.weight.data.T                # (N, n_in)

    def extra_repr(self) -> str:
        return f"{self.n_in}, {self.n_out}, bias={self.bias is not None}"
