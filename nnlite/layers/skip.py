"""Skip connections as ordinary one-input modules, so a :class:`~nnlite.Sequential` can hold them.

A branch point ``x -> (f(x), g(x))`` has the backward ``dx = f'(x)^T dy_f + g'(x)^T dy_g``: each branch
gets its share of the output gradient and the input gradients **add**. Two modules cover the usual
architectures:

* :class:`Residual` ``y = x + body(x)`` (ResNet; DnCNN predicts the noise ``body(x)`` and subtracts it),
* :class:`Concat` ``y = concat([f_1(x), f_2(x), ...], axis=1)`` with ``None`` meaning the identity, so
  ``Concat(None, inner)`` is a U-Net skip: the features of a level concatenated with what the
  deeper levels (``inner``) made of them.

Examples
--------
A DnCNN-style denoiser (the body predicts minus the noise) and a two-level U-Net, for ``(N, 1, H, W)``
images with even ``H, W``:

>>> from nnlite import Sequential, Conv2d, ReLU, BatchNorm2d, MaxPool2d, Upsample, Residual, Concat
>>> dncnn = Residual(Sequential(
...     Conv2d(1, 32, 3, padding=1), ReLU(),
...     Conv2d(32, 32, 3, padding=1), BatchNorm2d(32), ReLU(),
...     Conv2d(32, 1, 3, padding=1)))
>>> unet = Sequential(
...     Conv2d(1, 16, 3, padding=1), ReLU(),                       # level 1: 16 channels at H x W
...     Concat(None, Sequential(                                   # skip: [level-1 features, decoded]
...         MaxPool2d(2), Conv2d(16, 32, 3, padding=1), ReLU(),    # level 2 at H/2 x W/2
...         Upsample(scale_factor=2), Conv2d(32, 16, 3, padding=1), ReLU())),
...     Conv2d(32, 16, 3, padding=1), ReLU(),                      # 16 + 16 channels in
...     Conv2d(16, 1, 3, padding=1))
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..module import Module


def _check_branch(owner: str, i, branch):
    if branch is not None and not isinstance(branch, Module):
        raise TypeError(f"{owner}: branch {i} must be an nnlite Module or None (identity), "
                        f"got {type(branch).__name__}")


class Residual(Module):
    r"""``y = shortcut(x) + body(x)``, the shortcut being the identity unless given.

    .. math::
        y = s(x) + f(x), \qquad
        \frac{\partial L}{\partial x} = s'(x)^\top \frac{\partial L}{\partial y}
        + f'(x)^\top \frac{\partial L}{\partial y}

    Parameters
    ----------
    body : Module
        Must map ``x`` to an array of the shape of ``shortcut(x)``.
    shortcut : Module or None
        E.g. a 1x1 :class:`~nnlite.Conv2d` when ``body`` changes the channel count or the stride.

    Shape
    -----
    Any ``x`` for which ``body(x)`` and ``shortcut(x)`` have the same shape -> that shape.
    ``state_dict`` keys: ``body.*``, ``shortcut.*``.
    """

    def __init__(self, body: Module, shortcut: Module | None = None):
        super().__init__()
        _check_branch("Residual", "body", body)
        if body is None:
            raise TypeError("Residual: body must be an nnlite Module, got None")
        _check_branch("Residual", "shortcut", shortcut)
        self.body = body
        self.shortcut = shortcut

    def forward(self, x):
        fx = np.asarray(self.body(x))
        sx = np.asarray(x if self.shortcut is None else self.shortcut(x))
        if fx.shape != sx.shape:
            what = "the input" if self.shortcut is None else "shortcut(x)"
            raise ValueError(f"Residual: body(x) has shape {fx.shape} but {what} has shape {sx.shape}; "
                             "they must match (give a shortcut, e.g. a 1x1 Conv2d, to change channels or size)")
        return sx + fx

    def backward(self, dy):
        dx = self.body.backward(dy)
        ds = dy if self.shortcut is None else self.shortcut.backward(dy)
        return dx + ds

    def extra_repr(self):
        return "" if self.shortcut is not None else "shortcut=identity"


class Concat(Module):
    r"""``y = concatenate([f_1(x), ..., f_k(x)], axis=dim)``; a branch ``None`` is the identity.

    .. math::
        \frac{\partial L}{\partial x} = \sum_i f_i'(x)^\top \Big[\frac{\partial L}{\partial y}\Big]_i

    where ``[dy]_i`` is the slice of ``dy`` along ``dim`` that ``f_i`` produced.

    Parameters
    ----------
    *branches : Module or None
        At least one; ``Concat(None, inner)`` is a U-Net skip connection.
    dim : int, default 1
        The axis to concatenate along (channels of NCHW).

    Shape
    -----
    Every ``f_i(x)`` must agree on all axes but ``dim``; the output has the sum of their sizes on
    ``dim``. ``state_dict`` keys: ``'<branch index>.*'``. The channels of NCHW batches (``dim=1``) are
    joined by the backend's ``concat_channels`` op (channels-last in memory under the fast backend, as
    the conv layers' outputs).
    """

    def __init__(self, *branches, dim: int = 1):
        super().__init__()
        if not branches:
            raise ValueError("Concat: give at least one branch (a Module, or None for the identity)")
        for i, b in enumerate(branches):
            _check_branch("Concat", i, b)
            if b is not None:
                setattr(self, str(i), b)
        self._branches = list(branches)
        self.dim = int(dim)

    def forward(self, x):
        outs = [np.asarray(x if b is None else b(x)) for b in self._branches]
        ref = outs[0]
        d = self.dim % ref.ndim if ref.ndim else 0
        for o in outs:
            if o.ndim != ref.ndim or o.shape[:d] + o.shape[d + 1:] != ref.shape[:d] + ref.shape[d + 1:]:
                shapes = ", ".join(f"branch {j}: {p.shape}" for j, p in enumerate(outs))
                raise ValueError(f"Concat(dim={self.dim}): branch outputs must agree on every axis but {self.dim}; "
                                 f"got {shapes}")
        self._sizes = [o.shape[d] for o in outs]
        self._axis = d
        self._y_shape = None
        if ref.ndim == 4 and d == 1:
            y = ops.concat_channels(outs)                                        # (N, C_total, H, W)
        else:
            y = np.concatenate(outs, axis=d)
        self._y_shape = y.shape
        return y

    def backward(self, dy):
        if getattr(self, "_y_shape", None) is None:
            raise RuntimeError("Concat.backward called before forward")
        dy = np.asarray(dy)
        if dy.shape != self._y_shape:
            raise ValueError(f"Concat.backward expects dy of shape {self._y_shape}, got {dy.shape}")
        dx = None
        start = 0
        for b, size in zip(self._branches, self._sizes):
            index = [slice(None)] * dy.ndim
            index[self._axis] = slice(start, start + size)
            part = dy[tuple(index)]
            start += size
            g = part if b is None else b.backward(part)
            dx = np.array(g, copy=True) if dx is None else dx + g
        return dx

    def extra_repr(self):
        names = ", ".join("identity" if b is None else type(b).__name__ for b in self._branches)
        return f"[{names}], dim={self.dim}"


__all__ = ["Residual", "Concat"]
