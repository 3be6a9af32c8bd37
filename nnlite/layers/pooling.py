"""Max and average pooling over NCHW batches, computed by the selected backend of :mod:`nnlite.ops`."""
from __future__ import annotations

import numpy as np

from .. import ops
from .._validation import pair
from ..module import Module, check_dy, check_input, layer_name
from ._conv_base import conv_output_size


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = pair(name, "kernel_size", kernel_size, 1)
        self.stride = self.kernel_size if stride is None else pair(name, "stride", stride, 1)
        self.padding = pair(name, "padding", padding, 0)
        self._ctx, self._y_shape = None, None                               # what forward saves for backward
        for axis in range(2):
            if self.padding[axis] > self.kernel_size[axis] // 2:
                raise ValueError(f"{name}: padding must be at most half the kernel size (0 <= padding <= "
                                 f"{self.kernel_size[axis] // 2} for kernel_size={kernel_size!r}), got "
                                 f"padding={padding!r}")

    def output_shape(self, input_shape):
        """``(N, C, OH, OW)`` with ``OH = floor((H + 2*padding - kernel_size) / stride) + 1``, as PyTorch."""
        N, C, H, W = input_shape
        OH = conv_output_size(H, self.kernel_size[0], self.stride[0], 2 * self.padding[0])
        OW = conv_output_size(W, self.kernel_size[1], self.stride[1], 2 * self.padding[1])
        return N, C, OH, OW

    def _prepare(self, x):
        x = check_input(self, x, ndim=4)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float32)
        self._y_shape = self.output_shape(x.shape)
        if self._y_shape[2] < 1 or self._y_shape[3] < 1:
            raise ValueError(f"{layer_name(self)}: input of shape {x.shape} is smaller "
                             f"than the window {self.kernel_size} after padding {self.padding}")
        return x

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    r"""Maximum over each ``KH x KW`` window, per channel.

    .. math::
        y_{n,c,i,j} = \max_{(k,l) \in \text{window}(i,j)} x_{n,c,k,l}, \qquad
        \frac{\partial L}{\partial x_{n,c,k,l}} = \sum_{(i,j):\ \operatorname{argmax}(i,j) = (k,l)}
        \frac{\partial L}{\partial y_{n,c,i,j}}

    The gradient flows only to the (first) maximum of each window; zero padding never wins (it is
    ``-inf``, as PyTorch). With ties the derivative is not defined: gradient checks use distinct values.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), default ``kernel_size``
    padding : int or (int, int), ``0 <= padding <= kernel_size // 2``

    Shape
    -----
    ``(N, C, H, W)`` -> ``(N, C, OH, OW)``, ``OH = floor((H + 2*padding - kernel_size) / stride) + 1``.
    """

    def forward(self, x):
        y, self._ctx = ops.max_pool2d_forward(self._prepare(x), self.kernel_size, self.stride, self.padding)
        return y                                                            # (N, C, OH, OW)

    def backward(self, dy):
        return ops.max_pool2d_backward(check_dy(self, dy, self._ctx, self._y_shape), self._ctx)


class AvgPool2d(_Pool2d):
    r"""Mean over each ``KH x KW`` window, per channel.

    .. math::
        y_{n,c,i,j} = \frac{1}{D_{ij}} \sum_{(k,l) \in \text{window}(i,j)} x_{n,c,k,l}, \qquad
        \frac{\partial L}{\partial x_{n,c,k,l}} = \sum_{(i,j) \ni (k,l)} \frac{1}{D_{ij}}
        \frac{\partial L}{\partial y_{n,c,i,j}}

    with ``D = KH*KW`` (zero padding counts, PyTorch's default) or, with ``count_include_pad=False``,
    the number of real pixels in the window.

    Parameters
    ----------
    kernel_size, stride, padding : as :class:`MaxPool2d`
    count_include_pad : bool, default True

    Shape
    -----
    ``(N, C, H, W)`` -> ``(N, C, OH, OW)``, ``OH = floor((H + 2*padding - kernel_size) / stride) + 1``.
    """

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x):
        y, self._ctx = ops.avg_pool2d_forward(self._prepare(x), self.kernel_size, self.stride, self.padding,
                                              self.count_include_pad)
        return y                                                            # (N, C, OH, OW)

    def backward(self, dy):
        return ops.avg_pool2d_backward(check_dy(self, dy, self._ctx, self._y_shape), self._ctx)

    def extra_repr(self):
        s = super().extra_repr()
        return s if self.count_include_pad else s + ", count_include_pad=False"


__all__ = ["MaxPool2d", "AvgPool2d"]
