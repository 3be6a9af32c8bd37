"""Transposed 2-D convolution (NCHW): the input gradient of a convolution, as a layer.

Every input pixel adds a weighted copy of the kernel into the output, which is one matrix product and
``col2im`` (the adjoint of ``im2col``)::

    X = x as (N*H*W, C_in)                    one row per input pixel
    y = col2im(X @ W_t) + b                   W_t = W as (C_in, C_out*KH*KW)

and its backward is ``im2col`` of ``dy`` and two more products: the pieces of
:class:`~nnlite.layers.conv.Conv2d` in the other order. The selected backend of :mod:`nnlite.ops`
computes them (:func:`nnlite.ops.reference.conv_transpose2d_forward` in plain NumPy).
"""
from __future__ import annotations

import numpy as np

from .. import ops
from .._validation import pair
from ..module import DEFAULT_DTYPE, Parameter, check_dy, check_input, layer_name
from ._conv_base import _ConvBase, conv_transpose_output_size

__all__ = ["ConvTranspose2d"]


class ConvTranspose2d(_ConvBase):
    r"""Transposed 2-D convolution ("deconvolution"): the adjoint of :class:`~nnlite.layers.conv.Conv2d` w.r.t. its
    input.

    Every input pixel adds a weighted copy of the kernel into the output:

    .. math::
        y_{n,o,\; i s_h - p_h + k d_h,\; j s_w - p_w + l d_w} \mathrel{+}= W_{c,o,k,l}\, x_{n,c,i,j},
        \qquad y_{n,o,\cdot,\cdot} \mathrel{+}= b_o

    With :math:`X` the input as ``(N*H*W, C_in)`` and :math:`W_t` the weight as ``(C_in, C_out*KH*KW)``,
    forward is :math:`y = \mathrm{col2im}(X W_t) + b`; backward, with :math:`G = \mathrm{im2col}(\partial L/\partial y)`
    ``(N*H*W, C_out*KH*KW)``, is

    .. math::
        \frac{\partial L}{\partial W_t} = X^\top G, \quad
        \frac{\partial L}{\partial b_o} = \sum_{n,i,j} \frac{\partial L}{\partial y_{n,o,i,j}}, \quad
        \frac{\partial L}{\partial X} = G W_t^\top

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int or (int, int), each >= 1
    padding : int or (int, int) >= 0 (rows/columns removed from each border of the full output)
    output_padding : int or (int, int), ``0 <= output_padding < max(stride, dilation)``: extra rows/columns
        at the bottom/right, to pick among the input sizes a strided Conv2d maps to the same output size
    bias : bool
    dtype, random_state : as :class:`~nnlite.layers.conv.Conv2d`

    Shape
    -----
    x ``(N, C_in, H, W)`` -> y ``(N, C_out, OH, OW)``,
    ``OH = (H - 1)*s_h - 2*p_h + d_h*(KH - 1) + output_padding_h + 1`` (same for W), as PyTorch.
    ``weight`` ``(C_in, C_out, KH, KW)`` (PyTorch's layout), ``bias`` ``(C_out,)``. ``y`` is
    channels-last in memory under the fast backend (see :mod:`nnlite.layers.conv`).

    Examples
    --------
    >>> import numpy as np, nnlite
    >>> up = nnlite.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1, random_state=0)
    >>> up(np.zeros((8, 64, 7, 7), np.float32)).shape
    (8, 32, 14, 14)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 dilation=1, bias: bool = True, dtype=DEFAULT_DTYPE, random_state=None):
        super().__init__()
        self._init_common(in_channels, out_channels, kernel_size, stride, dilation, dtype)
        name = type(self).__name__
        self.padding = pair(name, "padding", padding, 0)
        self.output_padding = pair(name, "output_padding", output_padding, 0)
        for axis in range(2):
            limit = max(self.stride[axis], self.dilation[axis])
            if self.output_padding[axis] >= limit:
                raise ValueError(
                    f"{name}: output_padding must satisfy 0 <= output_padding < max(stride, dilation) = {limit}, "
                    f"got output_padding={output_padding!r} with stride={stride!r}, dilation={dilation!r}")
        kh, kw = self.kernel_size
        self.weight = Parameter(np.zeros((self.in_channels, self.out_channels, kh, kw), self.dtype))
        self.bias = Parameter(np.zeros(self.out_channels, self.dtype)) if bias else None
        self.reset_parameters(random_state)

    def output_shape(self, input_shape):
        """``(N, C_out, OH, OW)`` for an input of shape ``(N, C_in, H, W)``; a ValueError when it is empty."""
        N, _, H, W = input_shape
        OH, OW = (conv_transpose_output_size(size, self.kernel_size[a], self.stride[a], self.padding[a],
                                             self.output_padding[a], self.dilation[a])
                  for a, size in enumerate((H, W)))
        if OH < 1 or OW < 1:
            raise ValueError(f"{layer_name(self)}: input of shape {tuple(input_shape)} gives an empty output "
                             f"{(OH, OW)}; reduce padding {self.padding}")
        return N, self.out_channels, OH, OW

    def forward(self, x):
        x = check_input(self, x, ndim=4, features=self.in_channels, axis=1, what="channels (NCHW)")
        self._y_shape = self.output_shape(x.shape)
        b = None if self.bias is None else self.bias.data
        y, self._ctx = ops.conv_transpose2d_forward(x, self.weight.data, b, self.stride, self.padding,
                                                    self.output_padding, self.dilation, self._work)
        return y                                                           # (N, C_out, OH, OW)

    def backward(self, dy):
        db = None if self.bias is None else self.bias.grad
        dy = check_dy(self, dy, self._ctx, self._y_shape)                  # (N, C_out, OH, OW)
        return ops.conv_transpose2d_backward(dy, self._ctx, self.weight.grad, db)   # dL/dx; adds dL/dW, dL/db

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
             f"padding={self.padding}")
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.bias is None:
            s += ", bias=False"
        return s
