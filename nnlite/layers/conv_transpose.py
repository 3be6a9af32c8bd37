"""Transposed 2-D convolution (NCHW): the backward-data pass of a convolution, as a layer.

Every input pixel adds a weighted copy of the kernel into the output, which is one BLAS product and
``col2im`` (the adjoint of ``im2col``)::

    X    = x as (N*H*W, C_in)                 one row per input pixel
    cols = X @ W_t                            (N*H*W, KH*KW*C_out)   W_t = W as (C_in, KH*KW*C_out)
    y    = col2im(cols) + b                   (N, C_out, OH, OW)

and its backward is ``im2col`` of ``dy`` and two more products: the pieces of
:class:`~nnlite.layers.conv.Conv2d` in the other order, with the same memory budget (bands of input
rows past ``COLS_BUDGET_BYTES``) and the same channels-last outputs (see :mod:`nnlite.layers.conv`).
A single output channel builds the column matrix planar, ``(KH*KW, N*H*W)``.
"""
from __future__ import annotations

import numpy as np

from .._validation import pair
from ..module import DEFAULT_DTYPE, Parameter, check_input
from ..ops import threads as _threads
from ..ops._kernels import conv as K
from ._conv_base import _band_rows, _ConvBase, _describe, _empty

__all__ = ["ConvTranspose2d"]


class ConvTranspose2d(_ConvBase):
    r"""Transposed 2-D convolution ("deconvolution"): the adjoint of :class:`~nnlite.layers.conv.Conv2d` w.r.t. its
    input.

    Every input pixel adds a weighted copy of the kernel into the output:

    .. math::
        y_{n,o,\; i s_h - p_h + k d_h,\; j s_w - p_w + l d_w} \mathrel{+}= W_{c,o,k,l}\, x_{n,c,i,j},
        \qquad y_{n,o,\cdot,\cdot} \mathrel{+}= b_o

    With ``X`` the input as ``(N*H*W, C_in)`` and ``W_t`` the weight as ``(C_in, KH*KW*C_out)``, forward
    is ``y = col2im(X W_t) + b``; backward, with ``G = im2col(dL/dy)`` ``(N*H*W, KH*KW*C_out)``, is

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
    channels-last in memory (see the module docstring).

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
        """``(N, C_out, OH, OW)`` for an input of shape ``(N, C_in, H, W)``."""
        N, _, H, W = input_shape
        OH, OW = (K.conv_transpose_output_size(s, self.kernel_size[a], self.stride[a], self.padding[a],
                                               self.output_padding[a], self.dilation[a])
                  for a, s in enumerate((H, W)))
        return N, self.out_channels, OH, OW

    def _geometry(self, H, W):
        # the transposed conv's input (H, W) plays the role of a Conv2d's output
        (KH, KW), (SH, SW), (PH, PW), (DH, DW) = self.kernel_size, self.stride, self.padding, self.dilation
        return KH, KW, SH, SW, PH, PW, DH, DW, H, W

    def forward(self, x):
        x = check_input(self, x, ndim=4, features=self.in_channels, axis=1, what="channels (NCHW)")
        _threads.sync_numba()                                              # prange threads per the BLAS policy
        w = self.weight.data
        xc = K.channels_last(x, w.dtype)                                   # (N, H, W, C_in)
        N, H, W, C = xc.shape
        _, Co, OH, OW = self.output_shape(x.shape)
        if OH < 1 or OW < 1:
            raise ValueError(f"{_describe(self)}: input of shape {x.shape} gives an empty output {(OH, OW)}; "
                             f"reduce padding {self.padding}")
        KH, KW = self.kernel_size
        M, R = N * H * W, KH * KW * Co
        w_t = np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(C, R)  # (C_in, KH*KW*C_out)
        X = xc.reshape(M, C)                                               # (N*H*W, C_in)
        geo = self._geometry(H, W)
        bias = self.bias.data if self.bias is not None else _empty(w.dtype)
        y = np.empty((N, OH, OW, Co), w.dtype)                             # channels-last output
        if Co == 1:
            cols_p = self._scratch("cols", (R, M), w.dtype)                 # planar (R, M)
            _threads.matmul(w_t.T, X.T, out=cols_p)
            K.col2im_planar(cols_p, *geo, bias, y.reshape(N, 1, OH, OW))
        else:
            band = _band_rows(N * H, W * R * w.dtype.itemsize)
            if band < N * H:                                                # huge: bands of input rows
                y[...] = bias if bias.size else 0
                cols = np.empty((band * W, R), w.dtype)
                for t0 in range(0, N * H, band):
                    t1 = min(t0 + band, N * H)
                    _threads.matmul(X[t0 * W:t1 * W], w_t, out=cols[:(t1 - t0) * W])
                    K.col2im_nhwc_add(cols, *geo, t0, t1, y)
            else:
                cols = self._scratch("cols", (M, R), w.dtype)               # (M, R)
                _threads.matmul(X, w_t, out=cols)
                K.col2im_nhwc(cols, *geo, bias, y)
        self._saved = (x.shape, (N, Co, OH, OW), X, w_t)
        return K.nchw_view(y)                                              # (N, C_out, OH, OW)

    def backward(self, dy):
        x_shape, y_shape, X, w_t = self._saved_state()
        dy = self._check_dy(dy, y_shape)
        w = self.weight.data
        N, C, H, W = x_shape
        _, Co, OH, OW = y_shape
        KH, KW = self.kernel_size
        M, R = N * H * W, KH * KW * Co
        geo = self._geometry(H, W)
        dyc = K.channels_last(dy, w.dtype)                                 # (N, OH, OW, C_out)
        if Co == 1:
            g_p = self._scratch("cols", (R, M), w.dtype)
            K.im2col_planar(dyc.reshape(N, 1, OH, OW), *geo, g_p)
            g = g_p.T                                                      # (M, R) view
        else:
            band = _band_rows(N * H, W * R * w.dtype.itemsize)
            g = self._scratch("cols", (M, R), w.dtype) if band >= N * H else np.empty((band * W, R), w.dtype)
        if self.bias is not None:                                          # 1^T dY: column sums by BLAS
            self.bias.grad += _threads.matmul(self._ones(N * OH * OW, w.dtype), dyc.reshape(-1, Co))[0]
        dx = np.empty((N, H, W, C), w.dtype)                               # channels-last
        dx2 = dx.reshape(M, C)
        if Co == 1 or g.shape[0] == M:                                     # whole column matrix at once
            if Co != 1:
                K.im2col_nhwc(dyc, *geo, 0, N * H, g)                      # (M, R)
            dw_t = _threads.matmul(X.T, g)                                 # (C_in, KH*KW*C_out)
            _threads.matmul(g, w_t.T, out=dx2)
        else:                                                              # bands of input rows
            dw_t = np.zeros((C, R), np.float64)
            for t0 in range(0, N * H, band):
                t1 = min(t0 + band, N * H)
                m, rows = (t1 - t0) * W, slice(t0 * W, t1 * W)
                K.im2col_nhwc(dyc, *geo, t0, t1, g)
                dw_t += _threads.matmul(X[rows].T, g[:m])
                _threads.matmul(g[:m], w_t.T, out=dx2[rows])
            dw_t = dw_t.astype(w.dtype)
        self.weight.grad += dw_t.reshape(C, KH, KW, Co).transpose(0, 3, 1, 2)
        return K.nchw_view(dx)                                             # (N, C_in, H, W)

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
