r"""Pixel-unshuffle and pixel-shuffle: space to channels and back (FFDNet's half-resolution body, ESPCN's
sub-pixel output). Both are pure reshapes and transposes, so they stay plain NumPy under both backends.

With block factor ``r``, PyTorch's channel order (``torch.nn.PixelUnshuffle`` / ``PixelShuffle``):

.. math::
    u_{n,\, c r^2 + i r + j,\, h,\, w} = x_{n,\, c,\, h r + i,\, w r + j},
    \qquad 0 \le i, j < r

Each maps every input entry to exactly one output entry (a permutation), so each one's backward is the
other one's forward applied to ``dy``.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..module import Module, check_dy, check_input

__all__ = ["PixelUnshuffle", "PixelShuffle"]


def _check_factor(owner, factor):
    if not isinstance(factor, numbers.Integral) or isinstance(factor, bool) or factor < 1:
        raise ValueError(f"{owner}: the block factor must be an int >= 1, got {factor!r}")
    return int(factor)


def pixel_unshuffle(x: np.ndarray, r: int) -> np.ndarray:
    """``(N, C, H r, W r) -> (N, C r^2, H, W)`` (PyTorch's channel order, see the module)."""
    N, C, Hr, Wr = x.shape
    H, W = Hr // r, Wr // r
    blocks = x.reshape(N, C, H, r, W, r)                       # (N, C, H, i, W, j)
    return np.ascontiguousarray(blocks.transpose(0, 1, 3, 5, 2, 4)).reshape(N, C * r * r, H, W)


def pixel_shuffle(u: np.ndarray, r: int) -> np.ndarray:
    """``(N, C r^2, H, W) -> (N, C, H r, W r)``: the inverse of :func:`pixel_unshuffle`."""
    N, Cr2, H, W = u.shape
    C = Cr2 // (r * r)
    blocks = u.reshape(N, C, r, r, H, W)                       # (N, C, i, j, H, W)
    return np.ascontiguousarray(blocks.transpose(0, 1, 4, 2, 5, 3)).reshape(N, C, H * r, W * r)


class PixelUnshuffle(Module):
    r"""Every ``r x r`` block of pixels becomes ``r^2`` channels of one pixel.

    .. math::
        y_{n,\, c r^2 + i r + j,\, h,\, w} = x_{n,\, c,\, h r + i,\, w r + j}, \qquad
        \frac{\partial L}{\partial x_{n,c,hr+i,wr+j}} = \frac{\partial L}{\partial y_{n,\, c r^2 + i r + j,\, h,\, w}}

    (the backward is :class:`PixelShuffle`'s forward of ``dy``).

    Parameters
    ----------
    downscale_factor : int >= 1
        ``r``.

    Shape
    -----
    ``(N, C, H r, W r)`` -> ``(N, C r^2, H, W)``; H and W of the input must be multiples of ``r``.
    """

    def __init__(self, downscale_factor: int = 2):
        super().__init__()
        self.downscale_factor = _check_factor("PixelUnshuffle", downscale_factor)
        self._x_shape = None                                       # the last forward's input shape

    def forward(self, x):
        x = check_input(self, x, ndim=4)
        r = self.downscale_factor
        if x.shape[2] % r or x.shape[3] % r:
            raise ValueError(f"PixelUnshuffle({r}): input height and width must be multiples of {r}, got shape "
                             f"{x.shape}; pad the image first")
        self._x_shape = x.shape
        return pixel_unshuffle(x, r)                               # (N, C r^2, H / r, W / r)

    def backward(self, dy):
        N, C, H, W = self._x_shape or (0, 0, 0, 0)
        r = self.downscale_factor
        dy = check_dy(self, dy, self._x_shape, (N, C * r * r, H // r, W // r))
        return pixel_shuffle(dy, r)                                # (N, C, H, W)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class PixelShuffle(Module):
    r"""Every ``r^2`` channels of one pixel become an ``r x r`` block of pixels (the inverse of
    :class:`PixelUnshuffle`).

    .. math::
        y_{n,\, c,\, h r + i,\, w r + j} = x_{n,\, c r^2 + i r + j,\, h,\, w}, \qquad
        \frac{\partial L}{\partial x_{n,\, c r^2 + i r + j,\, h,\, w}} = \frac{\partial L}{\partial y_{n,c,hr+i,wr+j}}

    (the backward is :class:`PixelUnshuffle`'s forward of ``dy``).

    Parameters
    ----------
    upscale_factor : int >= 1
        ``r``.

    Shape
    -----
    ``(N, C r^2, H, W)`` -> ``(N, C, H r, W r)``; the input's channels must be a multiple of ``r^2``.
    """

    def __init__(self, upscale_factor: int = 2):
        super().__init__()
        self.upscale_factor = _check_factor("PixelShuffle", upscale_factor)
        self._x_shape = None                                       # the last forward's input shape

    def forward(self, x):
        x = check_input(self, x, ndim=4)
        r = self.upscale_factor
        if x.shape[1] % (r * r):
            raise ValueError(f"PixelShuffle({r}): input channels must be a multiple of {r * r}, got shape {x.shape}")
        self._x_shape = x.shape
        return pixel_shuffle(x, r)                                 # (N, C / r^2, H r, W r)

    def backward(self, dy):
        N, Cr2, H, W = self._x_shape or (0, 0, 0, 0)
        r = self.upscale_factor
        dy = check_dy(self, dy, self._x_shape, (N, Cr2 // (r * r), H * r, W * r))
        return pixel_unshuffle(dy, r)                              # (N, C r^2, H, W)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"
