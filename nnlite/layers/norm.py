"""Batch normalisation (Ioffe & Szegedy, 2015) with running statistics, as PyTorch's BatchNorm1d/2d."""
from __future__ import annotations

import numbers

import numpy as np

from .. import ops
from .._validation import check_number, positive_int
from ..module import DEFAULT_DTYPE, Module, Parameter, check_dy, check_input


class _BatchNorm(Module):
    r"""Shared math; subclasses only turn their input into a ``(M, C)`` matrix and back.

    Training mode, per channel over the ``M`` values of the batch (and of the image, for 2-D):

    .. math::
        \mu = \frac{1}{M}\sum x, \quad \sigma^2 = \frac{1}{M}\sum (x - \mu)^2, \quad
        \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad y = \gamma \hat x + \beta

    .. math::
        \frac{\partial L}{\partial \beta} = \sum g, \quad
        \frac{\partial L}{\partial \gamma} = \sum g \hat x, \quad
        \frac{\partial L}{\partial x} = \frac{\gamma}{M\sqrt{\sigma^2 + \epsilon}}
        \Big(M g - \sum g - \hat x \sum g \hat x\Big)

    (``g = dL/dy``; the last two terms are the paths through ``mu`` and ``sigma``). The running
    statistics move by ``momentum``: ``running = (1 - momentum) * running + momentum * batch``, with the
    unbiased variance ``sigma^2 * M / (M - 1)`` (PyTorch's rule); ``momentum=None`` gives the cumulative
    average over all batches seen. Evaluation mode normalises with the running statistics, an affine
    map whose backward is ``dx = g * gamma / sqrt(running_var + eps)``. The selected backend of
    :mod:`nnlite.ops` computes both directions (:func:`nnlite.ops.reference.batch_norm_forward`,
    :func:`~nnlite.ops.reference.batch_norm_backward`).
    """

    _expected = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 dtype=DEFAULT_DTYPE):
        super().__init__()
        name = type(self).__name__
        num_features, eps = positive_int(name, "num_features", num_features), check_number(name, "eps", eps)
        if momentum is not None and (not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1):
            raise ValueError(f"{name}: momentum must be in [0, 1] or None (cumulative average), got {momentum!r}")
        self.num_features, self.eps, self.momentum, self.affine = int(num_features), float(eps), momentum, affine
        self.dtype = np.dtype(dtype)
        self._ctx, self._x_shape = None, None                            # what forward saves for backward
        C = self.num_features
        if affine:
            self.weight = Parameter(np.ones(C, self.dtype))     # gamma
            self.bias = Parameter(np.zeros(C, self.dtype))      # beta
        else:
            self.weight = None
            self.bias = None
        self.register_buffer("running_mean", np.zeros(C, self.dtype))
        self.register_buffer("running_var", np.ones(C, self.dtype))
        self.register_buffer("num_batches_tracked", np.zeros((), np.int64))
        # a 0-d counter, as PyTorch's (register_buffer's ascontiguousarray would make it shape (1,))
        object.__setattr__(self, "num_batches_tracked", np.zeros((), np.int64))

    def reset_running_stats(self):
        self.running_mean[...] = 0
        self.running_var[...] = 1
        self.num_batches_tracked[...] = 0

    # -- subclasses: x -> (M, C) matrix, and a (M, C) result back to x's shape
    def _to_matrix(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def _from_matrix(self, m, shape):  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x):
        X = self._to_matrix(x)                                           # (M, C)
        M, C = X.shape
        gamma = self.weight.data if self.affine else np.ones(C, X.dtype)
        beta = self.bias.data if self.affine else np.zeros(C, X.dtype)
        if self.training:
            if M < 2:
                raise ValueError(f"{type(self).__name__}: training needs more than 1 value per channel, got input "
                                 f"of shape {x.shape} (use eval() for single samples)")
            y, mean, var, self._ctx = ops.batch_norm_forward(X, gamma, beta, self.eps)   # the batch's statistics
            self._update_running(mean, var, M)
        else:
            y, _, _, self._ctx = ops.batch_norm_forward(X, gamma, beta, self.eps, self.running_mean, self.running_var)
        self._x_shape = x.shape
        return self._from_matrix(y, x.shape)

    def _update_running(self, mean, var, M):
        self.num_batches_tracked[...] += 1
        m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
        unbiased = var * M / (M - 1)
        dt = self.running_mean.dtype
        self.running_mean[...] = ((1 - m) * self.running_mean + m * mean).astype(dt)
        self.running_var[...] = ((1 - m) * self.running_var + m * unbiased).astype(dt)

    def backward(self, dy):
        dy = check_dy(self, dy, self._ctx, self._x_shape)                       # the input's shape
        grads = (self.weight.grad, self.bias.grad) if self.affine else (None, None)
        dx = ops.batch_norm_backward(self._to_matrix(dy), self._ctx, *grads)   # (M, C); adds dL/dgamma, dL/dbeta
        return self._from_matrix(dx, self._x_shape)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class BatchNorm2d(_BatchNorm):
    __doc__ = _BatchNorm.__doc__.replace("Shared math; subclasses only turn their input into a ``(M, C)`` "
                                         "matrix and back.", "Batch norm over ``(N, C, H, W)``: statistics "
                                         "per channel over ``M = N*H*W`` values.") + """
    Parameters
    ----------
    num_features : int
        ``C``.
    eps : float, default 1e-5
    momentum : float in [0, 1] or None, default 0.1
    affine : bool, default True (learnable ``weight`` = gamma, ``bias`` = beta)
    dtype : float32 or float64

    Buffers ``running_mean``, ``running_var``, ``num_batches_tracked`` (in ``state_dict``, as PyTorch).

    Shape
    -----
    ``(N, C, H, W)`` -> same shape (channels-last in memory, as the conv layers).
    """

    def _to_matrix(self, x):
        x = check_input(self, x, ndim=4, features=self.num_features, axis=1, what="channels (NCHW)")
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(self.dtype)
        N, C, H, W = x.shape
        return x.transpose(0, 2, 3, 1).reshape(N * H * W, C)            # (N*H*W, C); a view if channels-last

    def _from_matrix(self, m, shape):
        N, C, H, W = shape
        return m.reshape(N, H, W, C).transpose(0, 3, 1, 2)


class BatchNorm1d(_BatchNorm):
    __doc__ = _BatchNorm.__doc__.replace("Shared math; subclasses only turn their input into a ``(M, C)`` "
                                         "matrix and back.", "Batch norm over ``(N, C)`` or ``(N, C, L)``: "
                                         "statistics per feature over ``M = N`` (or ``N*L``) values.") + """
    Parameters
    ----------
    num_features, eps, momentum, affine, dtype : as :class:`BatchNorm2d`

    Shape
    -----
    ``(N, C)`` or ``(N, C, L)`` -> same shape.
    """

    def _to_matrix(self, x):
        x = check_input(self, x, ndim=(2, 3), features=self.num_features, axis=1, what="features")
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(self.dtype)
        if x.ndim == 2:
            return x
        N, C, L = x.shape
        return np.ascontiguousarray(x.transpose(0, 2, 1)).reshape(N * L, C)   # (N*L, C)

    def _from_matrix(self, m, shape):
        if len(shape) == 2:
            return m
        N, C, L = shape
        return m.reshape(N, L, C).transpose(0, 2, 1)


__all__ = ["BatchNorm1d", "BatchNorm2d"]
