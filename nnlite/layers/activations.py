"""Elementwise activations (and Softmax), each with its derivative beside it, and the one registry of
activation names.

These layers are plain NumPy under either backend of :mod:`nnlite.ops` (the fused forms that
:class:`~nnlite.Dense` uses are the ops ``dense_forward``/``dense_backward``).

Every activation keeps what its derivative needs: the input ``x`` or, where the derivative is
cheaper in terms of the output (sigmoid, tanh, softmax, ELU), the output ``y``. Every one maps an array
of any shape ``(N, ...)`` to an array of the same shape (Softmax normalises along ``axis``).

:data:`ACTIVATIONS` maps each name to its class. Everything else that speaks of activations by name
derives from it: :data:`ELEMENTWISE_ACTIVATIONS` (what a hidden layer of a model may use), and
:class:`~nnlite.Dense`, which fuses an activation class through the two class attributes below (the
backend's ``dense_forward`` op computes it by its registry name).

``elementwise``
    Whether ``y_i`` depends on ``x_i`` alone (every activation but Softmax): what Dense can fuse.
``dense_alpha``
    The constructor argument that ``Dense(..., alpha=)`` stands for (``'negative_slope'``, ``'alpha'``),
    or ``None`` when the activation has no parameter.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_choice, check_number
from ..module import Module, check_input

#: Input ranks an activation accepts: a batch of vectors (N, D) up to images and beyond, (N, C, H, W, ...).
_RANKS = tuple(range(1, 7))


class _Elementwise(Module):
    elementwise: bool = True
    dense_alpha: str | None = None

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = check_input(self, x, ndim=_RANKS)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float32)
        return x


class Identity(Module):
    """``y = x``; ``dx = dy``. Accepts any shape."""

    elementwise: bool = True
    dense_alpha: str | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy


class ReLU(_Elementwise):
    r"""Rectified linear unit; the kink at 0 gets derivative 0, as in PyTorch.

    .. math:: y = \max(x, 0), \qquad \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} [x > 0]
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check(x)
        self._mask = x > 0                                   # same shape as x, bool
        return np.maximum(x, 0, dtype=x.dtype)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * self._mask


class LeakyReLU(_Elementwise):
    r"""Leaky ReLU with slope ``a = negative_slope`` below 0.

    .. math:: y = \begin{cases} x & x > 0 \\ a x & x \le 0 \end{cases}, \qquad
        \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} \cdot (1 \text{ or } a)
    """

    dense_alpha = "negative_slope"

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = check_number("LeakyReLU", "negative_slope", negative_slope, allow_zero=True)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check(x)
        self._slope = np.where(x > 0, 1, self.negative_slope).astype(x.dtype)   # dy/dx, same shape as x
        return x * self._slope

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * self._slope

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(_Elementwise):
    r"""Exponential linear unit; below 0 its derivative ``a e^x`` is written from the output as ``y + a``.

    .. math:: y = \begin{cases} x & x > 0 \\ a (e^x - 1) & x \le 0 \end{cases}, \qquad
        \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} \cdot
        \begin{cases} 1 & x > 0 \\ y + a & x \le 0 \end{cases}
    """

    dense_alpha = "alpha"

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = check_number("ELU", "alpha", alpha)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check(x)
        self._pos = x > 0
        # expm1 of min(x, 0): the branch not taken must not overflow for large positive x
        y = np.where(self._pos, x, self.alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)
        self._y = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * np.where(self._pos, 1, self._y + self.alpha).astype(dy.dtype, copy=False)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function ``1 / (1 + e^{-x})``, stable and accurate for any x.

    With ``e = exp(-|x|)`` (never overflows): ``1 / (1 + e)`` for x >= 0 and ``e / (1 + e)`` for x < 0,
    so tiny probabilities keep their full relative precision (sigmoid(-50) = 1.9e-22, not 0).
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


class Sigmoid(_Elementwise):
    r"""Logistic function (see :func:`sigmoid` for the stable evaluation).

    .. math:: y = \frac{1}{1 + e^{-x}}, \qquad \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\, y (1 - y)
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._y = sigmoid(self._check(x))
        return self._y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y = self._y
        return dy * y * (1 - y)


class Tanh(_Elementwise):
    r"""Hyperbolic tangent.

    .. math:: y = \tanh x, \qquad \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} (1 - y^2)
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._y = np.tanh(self._check(x))
        return self._y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * (1 - self._y * self._y)


class Softplus(_Elementwise):
    r"""Smooth ReLU, computed as ``max(x, 0) + log1p(e^{-|x|})`` (no overflow for large ``x``).

    .. math:: y = \log(1 + e^x), \qquad \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\,
        \mathrm{sigmoid}(x)
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check(x)
        self._x = x
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * sigmoid(self._x)


class Softmax(_Elementwise):
    r"""Normalised exponentials along ``axis`` (not elementwise, so :class:`~nnlite.Dense` cannot fuse it).

    .. math:: y_i = \frac{e^{x_i}}{\sum_j e^{x_j}}, \qquad
        \frac{\partial L}{\partial x_i} = y_i \Big(\frac{\partial L}{\partial y_i}
        - \sum_j \frac{\partial L}{\partial y_j} y_j\Big)
    """

    elementwise = False

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check(x)
        e = np.exp(x - x.max(axis=self.axis, keepdims=True))      # shifted by the max: no overflow
        self._y = e / e.sum(axis=self.axis, keepdims=True)
        return self._y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y = self._y
        return y * (dy - (dy * y).sum(axis=self.axis, keepdims=True))   # sum keeps axis: broadcasts back

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


#: Name -> activation class: the one registry of activation names (``activation='relu'``).
ACTIVATIONS: dict[str, type[Module]] = {
    "identity": Identity, "linear": Identity, "relu": ReLU, "leaky_relu": LeakyReLU, "elu": ELU,
    "sigmoid": Sigmoid, "tanh": Tanh, "softplus": Softplus, "softmax": Softmax,
}

#: Names of the elementwise activations (every one but softmax), sorted: what a model's hidden layers
#: may use, and what :class:`~nnlite.Dense` fuses.
ELEMENTWISE_ACTIVATIONS: tuple[str, ...] = tuple(sorted(name for name, cls in ACTIVATIONS.items()
                                                        if cls.elementwise))


def activation_name(cls: type) -> str | None:
    """The registry's first name for an activation class (``ELU`` -> ``'elu'``), or ``None`` if absent."""
    return next((name for name, c in ACTIVATIONS.items() if c is cls), None)


def parse_activation(owner, activation, name="activation") -> tuple[str, float | None]:
    """An elementwise activation spec as ``(name, alpha)``: ``'relu'`` -> ``('relu', None)``, and for the
    activations with a parameter, ``'leaky_relu:0.2'`` -> ``('leaky_relu', 0.2)`` (LeakyReLU's negative
    slope) or ``'elu:0.5'`` -> ``('elu', 0.5)`` (ELU's alpha). ``None`` as alpha is the activation's own
    default. The one reader of these specs: the models' ``activation=`` and :class:`~nnlite.Dense`."""
    if isinstance(activation, str) and ":" in activation:
        base, _, arg = activation.partition(":")
        base = base.strip().lower()
        with_alpha = sorted(n for n in ELEMENTWISE_ACTIVATIONS if ACTIVATIONS[n].dense_alpha is not None)
        if base not in with_alpha:
            raise ValueError(f"{owner}: {name} {activation!r} gives a parameter to {base!r}, but only "
                             f"{' and '.join(with_alpha)} take one (e.g. 'leaky_relu:0.2')")
        try:
            alpha = float(arg)
        except ValueError:
            raise ValueError(f"{owner}: {name} {activation!r}: the part after ':' must be a number, got {arg!r}") \
                from None
        if not np.isfinite(alpha) or alpha < 0 or (base == "elu" and alpha == 0):
            raise ValueError(f"{owner}: {name} {activation!r}: the parameter must be a finite number "
                             f"{'> 0' if base == 'elu' else '>= 0'}, got {alpha!r}")
        return base, alpha
    return check_choice(owner, name, activation, ELEMENTWISE_ACTIVATIONS), None


def get_activation(activation) -> Module:
    """A fresh activation Module from a name (``'relu'``), a spec with its parameter (``'leaky_relu:0.2'``,
    read by :func:`parse_activation`), a class, or a Module instance (returned as is)."""
    if isinstance(activation, str) and ":" in activation:
        base, alpha = parse_activation("get_activation", activation)
        cls = ACTIVATIONS[base]
        return cls(**{cls.dense_alpha: alpha})
    if isinstance(activation, Module):
        return activation
    if isinstance(activation, type) and issubclass(activation, Module):
        return activation()
    if isinstance(activation, str) and activation.lower() in ACTIVATIONS:
        return ACTIVATIONS[activation.lower()]()
    raise ValueError(f"unknown activation {activation!r}; valid names: {sorted(ACTIVATIONS)}")
