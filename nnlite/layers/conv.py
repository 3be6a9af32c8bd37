"""2-D convolution (NCHW): one im2col path, computed by the selected backend of :mod:`nnlite.ops`.

A convolution is a matrix product once every receptive field is copied into a row (``im2col``)::

    X = im2col(x)            # (N*OH*OW, C_in*KH*KW)   one row per output pixel
    Y = X @ W_r.T + b        # (N*OH*OW, C_out)        W_r = W as (C_out, C_in*KH*KW)

and its backward is two more products and ``col2im``, the adjoint of ``im2col`` (it adds every column
entry back onto the pixel it was copied from). A transposed convolution is exactly the input gradient
of a convolution, so it uses the same pieces in the other order
(:class:`~nnlite.layers.conv_transpose.ConvTranspose2d`, importable from here too).

The layer holds the parameters and checks the arguments; :func:`nnlite.ops.reference.conv2d_forward`
and :func:`~nnlite.ops.reference.conv2d_backward` are the computation in plain NumPy. The fast backend
computes the same with Numba kernels and chooses its mode by shape (im2col and one BLAS product,
register-blocked direct kernels where they measured faster, a direct kernel for one output channel,
bands of rows for huge images: :mod:`nnlite.ops._fast_conv`); its outputs are channels-last in memory,
as PyTorch's ``torch.channels_last``: NCHW arrays whose ``(N, H, W, C)`` buffer is contiguous.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from .._validation import pair
from ..module import DEFAULT_DTYPE, Parameter, check_dy, check_input, layer_name
from ._conv_base import _ConvBase
from .conv_transpose import ConvTranspose2d

__all__ = ["Conv2d", "ConvTranspose2d"]


class Conv2d(_ConvBase):
    r"""2-D convolution (cross-correlation, as every framework) over an NCHW batch.

    .. math::
        y_{n,o,i,j} = b_o + \sum_{c,k,l} W_{o,c,k,l}\; x_{n,c,\; i s_h - p_h + k d_h,\; j s_w - p_w + l d_w}

    (``x`` read as 0 outside the image). With :math:`X = \mathrm{im2col}(x)` of shape
    ``(N*OH*OW, C_in*KH*KW)`` (one row per output pixel), :math:`W_r` the weight as ``(C_out, C_in*KH*KW)``
    and :math:`G = \partial L / \partial y` as ``(N*OH*OW, C_out)``:

    .. math::
        Y = X W_r^\top + b, \qquad
        \frac{\partial L}{\partial W_r} = G^\top X, \quad
        \frac{\partial L}{\partial b} = \mathbf{1}^\top G, \quad
        \frac{\partial L}{\partial x} = \mathrm{col2im}(G W_r)

    where ``col2im``, the adjoint of ``im2col``, adds every column entry back onto the pixel it was
    copied from. With stride 1 the input gradient is also a convolution of :math:`G` with the flipped
    kernel, padded by :math:`d(K-1) - p`:

    .. math::
        \frac{\partial L}{\partial x_{n,c}} = \sum_o \mathrm{flip}(W_{o,c}) \star G_{n,o}

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int or (int, int), each >= 1
    padding : int or (int, int) >= 0, or 'valid' (0) or 'same' (output size = input size; stride 1 only;
        an odd total padding puts the extra row/column at the bottom/right, as PyTorch)
    bias : bool
    dtype : float32 (default) or float64
    random_state : None, int or numpy.random.Generator (initialisation, see :meth:`reset_parameters`)

    Shape
    -----
    x ``(N, C_in, H, W)`` -> y ``(N, C_out, OH, OW)`` with
    ``OH = floor((H + 2*p_h - d_h*(KH-1) - 1) / s_h) + 1`` (same for W), as PyTorch.
    ``weight`` ``(C_out, C_in, KH, KW)``, ``bias`` ``(C_out,)``. ``y`` is channels-last in memory under the fast backend
    (see the module docstring).

    Examples
    --------
    >>> import numpy as np, nnlite
    >>> conv = nnlite.Conv2d(1, 32, 3, stride=2, padding=1, random_state=0)
    >>> conv(np.zeros((8, 1, 28, 28), np.float32)).shape
    (8, 32, 14, 14)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 bias: bool = True, dtype=DEFAULT_DTYPE, random_state=None):
        super().__init__()
        self._init_common(in_channels, out_channels, kernel_size, stride, dilation, dtype)
        name = type(self).__name__
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"{name}: padding must be an int >= 0, a pair of them, 'valid' or 'same'; "
                                 f"got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"{name}: padding='same' needs stride=1, got stride={stride!r}")
            self.padding = padding
            totals = (0, 0) if padding == "valid" else [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
        else:
            self.padding = pair(name, "padding", padding, 0)
            totals = [2 * p for p in self.padding]
        self._pads = tuple((t // 2, t - t // 2) for t in totals)        # ((top, bottom), (left, right))
        kh, kw = self.kernel_size
        self.weight = Parameter(np.zeros((self.out_channels, self.in_channels, kh, kw), self.dtype))
        self.bias = Parameter(np.zeros(self.out_channels, self.dtype)) if bias else None
        self.reset_parameters(random_state)

    def output_shape(self, input_shape):
        """``(N, C_out, OH, OW)`` for an input of shape ``(N, C_in, H, W)``; a ValueError when it is empty."""
        N, _, H, W = input_shape
        (KH, KW), (SH, SW), (DH, DW), ((pt, pb), (pl, pr)) = self.kernel_size, self.stride, self.dilation, self._pads
        OH, OW = (H + pt + pb - DH * (KH - 1) - 1) // SH + 1, (W + pl + pr - DW * (KW - 1) - 1) // SW + 1
        if OH < 1 or OW < 1:
            raise ValueError(f"{layer_name(self)}: input of shape {tuple(input_shape)} is smaller than the (dilated) "
                             f"kernel {self.kernel_size} after padding {self.padding!r}")
        return N, self.out_channels, OH, OW

    def forward(self, x):
        x = check_input(self, x, ndim=4, features=self.in_channels, axis=1, what="channels (NCHW)")
        self._y_shape = self.output_shape(x.shape)
        b = None if self.bias is None else self.bias.data
        y, self._ctx = ops.conv2d_forward(x, self.weight.data, b, self.stride, self._pads, self.dilation, self._work)
        return y                                                           # (N, C_out, OH, OW)

    def backward(self, dy):
        db = None if self.bias is None else self.bias.grad
        dy = check_dy(self, dy, self._ctx, self._y_shape)                  # (N, C_out, OH, OW)
        return ops.conv2d_backward(dy, self._ctx, self.weight.grad, db)    # dL/dx; adds dL/dW, dL/db

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        s += f", padding={self.padding!r}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.bias is None:
            s += ", bias=False"
        return s
