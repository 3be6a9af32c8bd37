"""Fully connected layer ``y = x @ W + b``: its forward and backward, computed by the backend's dense ops."""
from __future__ import annotations

import math

import numpy as np

from .. import init as _init
from .. import ops
from .._validation import positive_int
from ..module import DEFAULT_DTYPE, Module, Parameter, check_input
from ..random import as_generator


class Linear(Module):
    r"""Affine map ``y = x @ W + b``.

    ``forward`` and ``backward`` call :func:`nnlite.ops.reference.dense_forward` and
    :func:`~nnlite.ops.reference.dense_backward` (or their fast twins) with the activation
    :attr:`activation`: ``'identity'`` here, any elementwise activation in the subclass
    :class:`~nnlite.Dense`, which the models build on. Backward adds ``x^T dy`` into ``W.grad`` and
    ``sum_rows(dy)`` into ``b.grad`` and returns ``dy W^T``.

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

    Attributes
    ----------
    needs_input_grad : bool
        ``True`` (default). Set it to ``False`` on a network's first layer: ``backward`` then skips the
        product ``dz W^T`` (a third of the layer's backward cost) and returns ``None``, as PyTorch skips
        the gradient of an input that does not require one.

    Shape
    -----
    x : ``(N, n_in)`` (or ``(..., n_in)``) -> y : ``(N, n_out)``; ``weight`` ``(n_in, n_out)``, ``bias`` ``(n_out,)``.
    """

    #: The activation after the affine map, a name of ``nnlite.layers.ACTIVATIONS``, and its parameter.
    activation, alpha = "identity", 0.0
    needs_input_grad = True

    def __init__(self, n_in: int, n_out: int, bias: bool = True, init: str | None = None,
                 dtype=DEFAULT_DTYPE, random_state=None) -> None:
        super().__init__()
        n_in, n_out = positive_int("Linear", "n_in", n_in), positive_int("Linear", "n_out", n_out)
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
        W, b = self.weight.data, None if self.bias is None else self.bias.data
        self._x = np.ascontiguousarray(x.reshape(-1, self.n_in), dtype=W.dtype)    # (N, n_in), leading axes flat
        self._y = ops.dense_forward(self._x, W, b, self.activation, self.alpha)      # (N, n_out)
        return self._y.reshape(x.shape[:-1] + (self.n_out,))

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        if getattr(self, "_y", None) is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        dy2 = np.ascontiguousarray(np.reshape(dy, (-1, self.n_out)), dtype=self._y.dtype)   # (N, n_out)
        if dy2.shape != self._y.shape:
            raise ValueError(f"{type(self).__name__}.backward: dy has shape {np.shape(dy)}, "
                             f"the forward output had {self._y.shape}")
        dW, overwrite = self.weight.grad_to_write()   # overwrite: cleared by zero_grad, so write, not add
        db = None if self.bias is None else self.bias.grad
        dx = ops.dense_backward(dy2, self._x, self.weight.data, self._y, self.activation, self.alpha, dW, db,
                                overwrite, self.needs_input_grad)                    # (N, n_in) or None
        return None if dx is None else dx.reshape(np.shape(dy)[:-1] + (self.n_in,))

    def extra_repr(self) -> str:
        return f"{self.n_in}, {self.n_out}, bias={self.bias is not None}"
