"""Loss functions: ``forward(pred, target) -> float`` and ``backward() -> dL/dpred``.

``reduction='mean'`` divides by the number of elements (by the number of samples for
CrossEntropyLoss), ``'sum'`` adds everything up, as in PyTorch.

The adversarial losses of a GAN are functions: :func:`bce_with_logits` (``(L, dL/dlogits)`` for a
target that may be a number), :func:`generator_loss` and :func:`discriminator_loss` (which
backpropagates through the discriminator it is given).
"""
from __future__ import annotations

import numpy as np

from . import ops
from .layers.activations import sigmoid

_REDUCTIONS = ("mean", "sum")


class Loss:
    """Base class: validates arguments and shapes, caches what ``backward`` needs."""

    def __init__(self, reduction: str = "mean"):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def __call__(self, pred, target):
        return self.forward(pred, target)

    def _check_same_shape(self, pred, target):
        pred = np.asarray(pred)
        target = np.asarray(target)
        if pred.shape != target.shape:
            raise ValueError(
                f"{type(self).__name__}: pred and target must have the same shape, got pred {pred.shape} "
                f"and target {target.shape}"
            )
        if not np.issubdtype(pred.dtype, np.floating):
            pred = pred.astype(np.float64)
        return pred, target.astype(pred.dtype, copy=False)

    def _reduce(self, per_element: np.ndarray, count: int) -> float:
        total = float(per_element.sum(dtype=np.float64))
        return total / count if self.reduction == "mean" else total

    def _scale(self, count: int) -> float:
        return 1.0 / count if self.reduction == "mean" else 1.0

    def __repr__(self):
        return f"{type(self).__name__}(reduction={self.reduction!r})"


class MSELoss(Loss):
    r"""``L = mean((pred - target)^2)``; ``dL/dpred = 2 (pred - target) / n`` (the op ``mse``)."""

    def forward(self, pred, target):
        pred, target = self._check_same_shape(pred, target)
        self._n = pred.size
        total, self._grad = ops.mse(pred, target, self._scale(self._n))    # the sum and the gradient together
        return total / self._n if self.reduction == "mean" else total

    def backward(self):
        return self._grad


class L1Loss(Loss):
    r"""``L = mean|pred - target|``; ``dL/dpred = sign(pred - target) / n`` (0 where they are equal)."""

    def forward(self, pred, target):
        pred, target = self._check_same_shape(pred, target)
        diff = pred - target
        self._sign = np.sign(diff)
        self._n = pred.size
        return self._reduce(np.abs(diff), self._n)

    def backward(self):
        return self._sign * np.asarray(self._scale(self._n), dtype=self._sign.dtype)


class BCELoss(Loss):
    r"""Binary cross-entropy on probabilities.

    .. math:: L = -\frac1n \sum \big[t \log p + (1 - t) \log(1 - p)\big], \qquad
              \frac{\partial L}{\partial p} = \frac{1}{n} \frac{p - t}{p (1 - p)}

    ``p`` is clipped to ``[eps, 1 - eps]`` so the logs stay finite; where clipping is active the
    derivative of the clip is 0, so the gradient there is 0. Prefer :class:`BCEWithLogitsLoss`
    when the model can output logits: it is exact and stable for any logit.
    """

    def __init__(self, reduction: str = "mean", eps: float | None = None):
        super().__init__(reduction)
        if eps is not None and not (0 < eps < 0.5):
            raise ValueError(f"BCELoss: eps must be in (0, 0.5), got {eps!r}")
        self.eps = eps

    def forward(self, pred, target):
        pred, target = self._check_same_shape(pred, target)
        eps = self.eps if self.eps is not None else float(np.finfo(pred.dtype).eps)
        p = np.clip(pred, eps, 1 - eps)
        self._inside = (pred >= eps) & (pred <= 1 - eps)
        self._p, self._t, self._n = p, target, pred.size
        return self._reduce(-(target * np.log(p) + (1 - target) * np.log1p(-p)), self._n)

    def backward(self):
        p, t = self._p, self._t
        g = (p - t) / (p * (1 - p)) * np.asarray(self._scale(self._n), dtype=p.dtype)
        return g * self._inside


def _bce_with_logits_terms(x, t):
    """``max(x, 0) - x t + log(1 + e^{-|x|})`` elementwise: the BCE of logits ``x``, finite for any ``x``."""
    return np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))


class BCEWithLogitsLoss(Loss):
    r"""Binary cross-entropy on logits ``x`` (probability ``sigmoid(x)``), stable for any ``|x|``.

    .. math:: L = \frac1n \sum \big[\max(x, 0) - x t + \log(1 + e^{-|x|})\big], \qquad
              \frac{\partial L}{\partial x} = \frac{\sigma(x) - t}{n}

    (derived in :func:`bce_with_logits`, the same loss as a function of a logit array and a target that
    may be a number; computed by the op ``bce_with_logits``).
    """

    def forward(self, pred, target):
        x, t = self._check_same_shape(pred, target)
        self._n = x.size
        total, self._grad = ops.bce_with_logits(x, t, self._scale(self._n))    # the sum and the gradient
        return total / self._n if self.reduction == "mean" else total

    def backward(self):
        return self._grad


class CrossEntropyLoss(Loss):
    r"""Softmax cross-entropy on logits ``(N, C)`` and integer class labels ``(N,)``.

    .. math:: L = \frac1N \sum_i \Big(\log \sum_c e^{x_{ic}} - x_{i y_i}\Big), \qquad
              \frac{\partial L}{\partial x} = \frac{\text{softmax}(x) - \text{onehot}(y)}{N}

    The log-sum-exp subtracts each row's maximum first, so huge logits do not overflow.
    """

    def forward(self, pred, target):
        x = np.asarray(pred)
        y = np.asarray(target)
        if x.ndim != 2:
            raise ValueError(f"CrossEntropyLoss expects logits of shape (N, C), got {x.shape}")
        if y.shape != (x.shape[0],):
            raise ValueError(
                f"CrossEntropyLoss expects integer labels of shape ({x.shape[0]},) for logits {x.shape}, got {y.shape}"
            )
        if not np.issubdtype(y.dtype, np.integer):
            if np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)):
                y = y.astype(np.int64)
            else:
                raise TypeError(f"CrossEntropyLoss expects integer class labels, got dtype {y.dtype}")
        if y.size and (y.min() < 0 or y.max() >= x.shape[1]):
            raise ValueError(
                f"CrossEntropyLoss: labels must be in [0, {x.shape[1] - 1}], got values in [{y.min()}, {y.max()}]"
            )
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float64)
        shifted = x - x.max(axis=1, keepdims=True)
        logsumexp = np.log(np.exp(shifted).sum(axis=1))
        rows = np.arange(x.shape[0])
        self._softmax = np.exp(shifted - logsumexp[:, None])
        self._y, self._n = y, x.shape[0]
        return self._reduce(logsumexp - shifted[rows, y], self._n)

    def backward(self):
        g = self._softmax.copy()
        g[np.arange(self._n), self._y] -= 1
        return g * np.asarray(self._scale(self._n), dtype=g.dtype)


# ---------------------------------------------------------------------------------------- adversarial losses
#: The generator losses :func:`generator_loss` knows.
GENERATOR_LOSSES = ("non_saturating", "minimax")


def bce_with_logits(logits, target) -> tuple[float, np.ndarray]:
    r"""Mean binary cross-entropy of logits against a target (a number or an array) and its gradient.

    With :math:`\sigma(\ell) = 1 / (1 + e^{-\ell})`, :math:`\log \sigma(\ell) = -\log(1 + e^{-\ell})` and
    :math:`\log(1 - \sigma(\ell)) = -\ell - \log(1 + e^{-\ell})`, so

    .. math::
        \mathrm{BCE}(\ell, t) = -t \log \sigma(\ell) - (1 - t) \log(1 - \sigma(\ell))
            = \max(\ell, 0) - \ell t + \log(1 + e^{-|\ell|}),
        \qquad \frac{\partial\, \mathrm{BCE}}{\partial \ell} = (1 - t) - (1 - \sigma(\ell)) = \sigma(\ell) - t

    (the right-hand form never takes the exponential of a positive number, so it is finite for any
    logit). Returns ``(L, dL/dlogits)`` with :math:`L = \frac1n \sum \mathrm{BCE}` and
    :math:`\partial L / \partial \ell = (\sigma(\ell) - t) / n`, ``n = logits.size``; ``dL/dlogits`` has
    the shape and dtype of ``logits``. :class:`BCEWithLogitsLoss` is the same loss as a :class:`Loss`.
    """
    logits = np.asarray(logits)
    n = logits.size
    t = np.asarray(target, dtype=logits.dtype)
    per = _bce_with_logits_terms(logits, t)
    grad = (sigmoid(logits) - t) / np.asarray(n, logits.dtype)
    return float(per.sum(dtype=np.float64)) / n, grad.astype(logits.dtype, copy=False)


def generator_loss(fake_logits, kind: str = "non_saturating") -> tuple[float, np.ndarray]:
    r"""A GAN generator's loss on the discriminator's logits of its fakes, and its gradient.

    ``'non_saturating'``: :math:`L = \mathrm{BCE}(\ell, 1) = \frac1n \sum \log(1 + e^{-\ell})`,
    :math:`\partial L/\partial\ell = (\sigma(\ell)-1)/n`: large exactly where the discriminator rejects
    the fakes (Goodfellow et al., 2014).
    ``'minimax'``: :math:`L = -\mathrm{BCE}(\ell, 0) = -\frac1n \sum \log(1 + e^{\ell})`,
    :math:`\partial L/\partial\ell = -\sigma(\ell)/n`, which vanishes there.

    Returns ``(L, dL/dfake_logits)``.
    """
    if kind == "non_saturating":
        return bce_with_logits(fake_logits, 1.0)
    if kind == "minimax":
        value, grad = bce_with_logits(fake_logits, 0.0)
        return -value, -grad
    raise ValueError(f"generator_loss: kind must be one of {GENERATOR_LOSSES}, got {kind!r}")


def discriminator_loss(discriminator, real, fake, real_target: float = 1.0) -> tuple[float, np.ndarray, np.ndarray]:
    r"""A GAN discriminator's loss on a batch of real and a batch of fake samples, backpropagated.

    .. math::
        L_D = \mathrm{BCE}(D(x_{real}), t_{real}) + \mathrm{BCE}(D(x_{fake}), 0), \qquad
        \frac{\partial L_D}{\partial \ell} = \frac{\sigma(\ell) - t}{B}

    each BCE a mean over its batch of :math:`B` samples (:func:`bce_with_logits`). ``real_target`` is
    ``1 - label_smoothing`` for one-sided label smoothing (Salimans et al., 2016: only the real targets
    move). ``discriminator`` is a Module mapping samples to logits ``(B, 1)``; this runs it on ``real``,
    backpropagates, then on ``fake``, backpropagates, so ``dL_D/dparam`` is **added** into its ``.grad``
    (zero it first). The fakes are constants: whatever made them gets no gradient.

    Returns ``(L_D, real_logits, fake_logits)``.
    """
    real_logits = discriminator(real)                                   # (B, 1)
    l_real, g_real = bce_with_logits(real_logits, real_target)
    discriminator.backward(g_real)
    fake_logits = discriminator(fake)                                   # (B, 1)
    l_fake, g_fake = bce_with_logits(fake_logits, 0.0)
    discriminator.backward(g_fake)
    return l_real + l_fake, real_logits, fake_logits


#: Name -> loss class.
LOSSES = {"mse": MSELoss, "l1": L1Loss, "bce": BCELoss, "bce_with_logits": BCEWithLogitsLoss,
          "cross_entropy": CrossEntropyLoss}


def get_loss(loss, **kwargs) -> Loss:
    """A loss from a name (``'mse'``), a class or an instance (returned as is)."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, type) and issubclass(loss, Loss):
        return loss(**kwargs)
    if isinstance(loss, str) and loss.lower() in LOSSES:
        return LOSSES[loss.lower()](**kwargs)
    raise ValueError(f"unknown loss {loss!r}; valid names: {sorted(LOSSES)}")
