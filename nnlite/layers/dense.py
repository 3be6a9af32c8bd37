"""Dense: a Linear layer and its activation in one layer, with one fused Numba pass on each side."""
from __future__ import annotations

import numpy as np

from .. import threads as _threads
from .._kernels import dense as _k
from .._kernels.blas import matmul_acc
from ..module import DEFAULT_DTYPE, Module, check_input
from . import activations as _act
from .linear import Linear

#: Activation classes Dense can fuse, and the keyword holding their ``alpha``.
_FUSABLE = {_act.Identity: ("identity", None), _act.ReLU: ("relu", None),
            _act.LeakyReLU: ("leaky_relu", "negative_slope"), _act.ELU: ("elu", "alpha"),
            _act.Sigmoid: ("sigmoid", None), _act.Tanh: ("tanh", None), _act.Softplus: ("softplus", None)}
_DEFAULT_ALPHA = {"leaky_relu": 0.01, "elu": 1.0}
_VALID = sorted(set(_k.ACTIVATION_CODES))


def _resolve_activation(activation, alpha):
    """(name, alpha) from a name, an activation class or instance, or None (identity)."""
    if activation is None:
        name = "identity"
    elif isinstance(activation, str):
        name = activation.lower()
        if name not in _k.ACTIVATION_CODES:
            raise ValueError(f"Dense: unknown or non-elementwise activation {activation!r}; valid: {_VALID} "
                             "(for softmax use Linear followed by nnlite.Softmax)")
    else:
        inst = activation() if isinstance(activation, type) and issubclass(activation, Module) else activation
        if type(inst) not in _FUSABLE:
            raise ValueError(f"Dense: cannot fuse activation {activation!r}; valid: {_VALID} or one of "
                             f"{[c.__name__ for c in _FUSABLE]}")
        name, attr = _FUSABLE[type(inst)]
        if attr is not None:
            if alpha is not None and alpha != getattr(inst, attr):
                raise ValueError(f"Dense: alpha={alpha!r} contradicts {type(inst).__name__}({attr}="
                                 f"{getattr(inst, attr)!r})")
            alpha = getattr(inst, attr)
    name = "identity" if name == "linear" else name
    if alpha is None:
        alpha = _DEFAULT_ALPHA.get(name, 0.0)
    elif name not in _DEFAULT_ALPHA:
        raise ValueError(f"Dense: alpha is only used by 'leaky_relu' and 'elu', got alpha={alpha!r} "
                         f"with activation {name!r}")
    if not np.isfinite(alpha) or alpha < 0 or (name == "elu" and alpha <= 0):
        raise ValueError(f"Dense: alpha must be a finite number {'> 0' if name == 'elu' else '>= 0'} "
                         f"for {name!r}, got {alpha!r}")
    return name, float(alpha)


class Dense(Linear):
    r"""Fully connected layer with a fused activation: ``y = act(x @ W + b)``.

    The same parameters, layout, initialisation and ``state_dict`` keys as :class:`Linear`
    (``weight`` ``(n_in, n_out)``, ``bias`` ``(n_out,)``), so ``Dense(a, b, 'relu')`` is a drop-in for
    ``Sequential(Linear(a, b), ReLU())`` (whose keys are ``0.weight``/``0.bias``) and loads its weights.
    It is faster: the product goes to BLAS (thread count chosen by :mod:`nnlite.threads`), the bias
    and activation are **one** Numba pass in place over the product, and the backward pass is one
    Numba pass for ``dz = dy * act'`` and the bias gradient, then ``W.grad += x^T dz`` as a single BLAS
    call that accumulates (no temporary) and ``dx = dz W^T``.

    .. math::
        z = x W + b, \quad y = \mathrm{act}(z), \qquad
        \frac{\partial L}{\partial z} = \frac{\partial L}{\partial y} \odot \mathrm{act}'(z), \quad
        \frac{\partial L}{\partial W} = x^\top \frac{\partial L}{\partial z}, \quad
        \frac{\partial L}{\partial b} = \sum_{\text{rows}} \frac{\partial L}{\partial z}, \quad
        \frac{\partial L}{\partial x} = \frac{\partial L}{\partial z} W^\top

    ``act'`` is computed from the output ``y`` (see :mod:`nnlite._kernels.dense`), so the layer keeps
    ``x`` and ``y`` only. Do not modify the returned ``y`` in place before calling ``backward``.

    Parameters
    ----------
    n_in, n_out : int
        Input and output features.
    activation : str, activation class or instance, or None
        'identity' (None), 'relu', 'leaky_relu', 'elu', 'sigmoid', 'tanh', 'softplus', or
        ``nnlite.LeakyReLU(0.2)`` etc. (not softmax, which is not elementwise).
    bias : bool
    init : str or None
        As for :class:`Linear` (``None``: PyTorch's default).
    alpha : float or None
        Negative slope of 'leaky_relu' (default 0.01) or alpha of 'elu' (default 1.0).
    dtype, random_state
        As for :class:`Linear`.

    Attributes
    ----------
    needs_input_grad : bool
        ``True`` (default). Set it to ``False`` on a network's first layer: ``backward`` then skips the
        product ``dz W^T`` (a third of the layer's backward cost) and returns ``None``, as PyTorch skips
        the gradient of an input that does not require one.

    Shape
    -----
    x : ``(N, n_in)`` (or ``(..., n_in)``) -> y : ``(N, n_out)``; ``weight`` ``(n_in, n_out)``, ``bias`` ``(n_out,)``.

    Examples
    --------
    >>> import numpy as np, nnlite
    >>> layer = nnlite.Dense(784, 400, activation="relu", random_state=0)
    >>> y = layer(np.zeros((128, 784), np.float32))
    >>> y.shape
    (128, 400)
    """

    def __init__(self, n_in: int, n_out: int, activation="relu", bias: bool = True, init: str | None = None,
                 alpha: float | None = None, dtype=DEFAULT_DTYPE, random_state=None):
        name, alpha = _resolve_activation(activation, alpha)
        super().__init__(n_in, n_out, bias=bias, init=init, dtype=dtype, random_state=random_state)
        self.activation = name
        self.alpha = alpha
        self._code = _k.ACTIVATION_CODES[name]
        self.needs_input_grad = True
        self._dz = None                               # scratch (N, n_out), reused between steps

    def forward(self, x):
        x = check_input(self, x, ndim=(2, 3, 4), features=self.n_in)
        W = self.weight.data
        lead = x.shape[:-1]
        x2 = np.ascontiguousarray(x.reshape(-1, self.n_in), dtype=W.dtype)   # (N, n_in)
        y = _threads.matmul(x2, W)                                           # (N, n_out)
        _k.bias_act_forward(y, None if self.bias is None else self.bias.data, self._code, self.alpha)
        self._x, self._y = x2, y
        return y.reshape(lead + (self.n_out,))

    def backward(self, dy):
        if getattr(self, "_y", None) is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        y, x2 = self._y, self._x
        W = self.weight.data
        dy2 = np.ascontiguousarray(np.reshape(dy, (-1, self.n_out)), dtype=y.dtype)   # (N, n_out)
        if dy2.shape != y.shape:
            raise ValueError(f"{type(self).__name__}.backward: dy has shape {np.shape(dy)}, "
                             f"the forward output had {y.shape}")
        db = None if self.bias is None else self.bias.grad
        if self._code == _k.IDENTITY:
            dz = dy2                                                           # act' = 1
            if db is not None:
                db += dz.sum(axis=0)
        else:
            if self._dz is None or self._dz.shape != y.shape or self._dz.dtype != y.dtype:
                self._dz = np.empty_like(y)
            dz = _k.act_backward(dy2, y, self._code, self.alpha, out=self._dz, db=db)
        dW, overwrite = self.weight.grad_to_write()                            # overwrite: cleared by zero_grad
        matmul_acc(dW, x2.T, dz, overwrite=overwrite)                          # (n_in, n_out) += x^T dz
        if not self.needs_input_grad:
            return None
        dx = _threads.matmul(dz, W.T)                                          # (N, n_in)
        return dx.reshape(np.shape(dy)[:-1] + (self.n_in,))

    def extra_repr(self):
        act = repr(self.activation)
        if self.activation in _DEFAULT_ALPHA:
            act += f", alpha={self.alpha}"
        return f"{self.n_in}, {self.n_out}, activation={act}, bias={self.bias is not None}"
