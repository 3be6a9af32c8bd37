"""Dense: a Linear layer and its activation in one layer (the backend's dense ops fuse the two)."""
from __future__ import annotations

import numpy as np

from ..module import DEFAULT_DTYPE, Module
from .activations import ACTIVATIONS, ELEMENTWISE_ACTIVATIONS, activation_name, parse_activation
from .linear import Linear

#: The activation classes Dense fuses: the elementwise ones of the registry, in registry order.
_FUSABLE = tuple(dict.fromkeys(c for c in ACTIVATIONS.values() if c.elementwise))


def _resolve_activation(activation, alpha) -> tuple[type[Module], float]:
    """(activation class, alpha) from a spec (``'relu'``, ``'leaky_relu:0.2'``: see
    :func:`~nnlite.layers.activations.parse_activation`), an activation class or instance, or None (identity)."""
    valid = list(ELEMENTWISE_ACTIVATIONS)
    if activation is None:
        cls = ACTIVATIONS["identity"]
    elif isinstance(activation, str):
        if ":" not in activation and activation.lower() not in valid:
            raise ValueError(f"Dense: unknown or non-elementwise activation {activation!r}; valid: {valid} "
                             "(for softmax use Linear followed by nnlite.Softmax)")
        name, own = parse_activation("Dense", activation)
        cls = ACTIVATIONS[name]
        if own is not None:
            if alpha is not None and alpha != own:
                raise ValueError(f"Dense: alpha={alpha!r} contradicts activation {activation!r}")
            alpha = own
    else:
        inst = activation() if isinstance(activation, type) and issubclass(activation, Module) else activation
        cls = type(inst)
        if cls not in _FUSABLE:
            raise ValueError(f"Dense: cannot fuse activation {activation!r}; valid: {valid} or one of "
                             f"{[c.__name__ for c in _FUSABLE]}")
        if cls.dense_alpha is not None:
            own = getattr(inst, cls.dense_alpha)
            if alpha is not None and alpha != own:
                raise ValueError(f"Dense: alpha={alpha!r} contradicts {cls.__name__}({cls.dense_alpha}={own!r})")
            alpha = own
    name = activation_name(cls)
    if cls.dense_alpha is None:
        if alpha is not None:
            with_alpha = [activation_name(c) for c in _FUSABLE if c.dense_alpha is not None]
            raise ValueError(f"Dense: alpha is only used by {' and '.join(map(repr, with_alpha))}, got "
                             f"alpha={alpha!r} with activation {name!r}")
        return cls, 0.0
    if alpha is None:
        alpha = getattr(cls(), cls.dense_alpha)                 # the activation's own default
    strict = cls is ACTIVATIONS["elu"]                           # ELU needs alpha > 0, LeakyReLU >= 0
    if not np.isfinite(alpha) or alpha < 0 or (strict and alpha <= 0):
        raise ValueError(f"Dense: alpha must be a finite number {'> 0' if strict else '>= 0'} "
                         f"for {name!r}, got {alpha!r}")
    return cls, float(alpha)


class Dense(Linear):
    r"""Fully connected layer with a fused activation: ``y = act(x @ W + b)``.

    Its twin is ``Sequential(Linear(n_in, n_out), act)``: the same parameters, layout, initialisation
    draws and maths (``tests/test_kernels_dense.py`` proves the forward output, ``dx``, ``dW`` and ``db``
    equal in float32 and float64 for every activation), and it loads the twin's weights (``state_dict``
    keys ``weight``/``bias`` here, ``0.weight``/``0.bias`` there). ``forward`` and ``backward`` are
    :class:`Linear`'s, with the activation passed to the ops :func:`nnlite.ops.reference.dense_forward`
    and :func:`~nnlite.ops.reference.dense_backward`; the fast backend fuses the bias and the activation
    into one Numba pass over the product on each side, and writes ``W.grad`` with one BLAS ``gemm``.

    .. math::
        z = x W + b, \quad y = \mathrm{act}(z), \qquad
        \frac{\partial L}{\partial z} = \frac{\partial L}{\partial y} \odot \mathrm{act}'(z), \quad
        \frac{\partial L}{\partial W} = x^\top \frac{\partial L}{\partial z}, \quad
        \frac{\partial L}{\partial b} = \sum_{\text{rows}} \frac{\partial L}{\partial z}, \quad
        \frac{\partial L}{\partial x} = \frac{\partial L}{\partial z} W^\top

    ``act'`` is computed from the output ``y`` (see :data:`nnlite.ops.reference.ACTIVATIONS`), so the layer keeps
    ``x`` and ``y`` only. Do not modify the returned ``y`` in place before calling ``backward``.

    Parameters
    ----------
    n_in, n_out : int
        Input and output features.
    activation : str, activation class or instance, or None
        Any name of ``nnlite.layers.ELEMENTWISE_ACTIVATIONS`` ('identity' (None), 'relu', 'leaky_relu',
        'elu', 'sigmoid', 'tanh', 'softplus'), or ``nnlite.LeakyReLU(0.2)`` etc. (not softmax, which is
        not elementwise).
    bias : bool
    init : str or None
        As for :class:`Linear` (``None``: PyTorch's default).
    alpha : float or None
        Negative slope of 'leaky_relu' (default 0.01) or alpha of 'elu' (default 1.0): the defaults of
        :class:`~nnlite.LeakyReLU` and :class:`~nnlite.ELU`.
    dtype, random_state
        As for :class:`Linear`.

    Attributes
    ----------
    activation : str
        The activation's name in :data:`nnlite.layers.ACTIVATIONS` ('identity' for None or 'linear').
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

    def __init__(self, n_in: int, n_out: int, activation: str | type | Module | None = "relu", bias: bool = True,
                 init: str | None = None, alpha: float | None = None, dtype=DEFAULT_DTYPE, random_state=None):
        act_cls, alpha = _resolve_activation(activation, alpha)
        super().__init__(n_in, n_out, bias=bias, init=init, dtype=dtype, random_state=random_state)
        self.activation = activation_name(act_cls)
        self.alpha = alpha
        self._act_cls = act_cls

    def extra_repr(self) -> str:
        act = repr(self.activation)
        if self._act_cls.dense_alpha is not None:
            act += f", alpha={self.alpha}"
        return f"{self.n_in}, {self.n_out}, activation={act}, bias={self.bias is not None}"
