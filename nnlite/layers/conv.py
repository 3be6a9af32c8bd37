"""2-D convolution (NCHW), each direction one BLAS matrix product; the transposed convolution reuses it.

A convolution is a matrix product once every receptive field is copied into a row (``im2col``, a
Numba kernel)::

    cols = im2col(x)          # (N*OH*OW, KH*KW*C_in)   one row per output pixel
    y    = cols @ W_r + b     # (N*OH*OW, C_out)        NumPy BLAS, one call; W_r = W as (KH*KW*C_in, C_out)

and its backward is two more products and ``col2im``, the adjoint of ``im2col`` (it adds every column
entry back onto the pixel it was copied from). A transposed convolution is exactly the backward-data
pass of a convolution, so it uses the same pieces in the other order
(:class:`~nnlite.layers.conv_transpose.ConvTranspose2d`, importable from here too). The bias rides in
the product (a column of ones in ``cols``, the bias as an extra row of ``W_r``), so forward adds it
and backward gets its gradient without extra passes. Beyond ``COLS_BUDGET_BYTES`` (64 MB, set in
``nnlite.layers._conv_base``, which both layers read) the column matrix is built a band of rows at a
time, so a whole photo through a wide layer does not need gigabytes.

Two special paths for the small channel counts of image models: a Conv2d with **one output channel**
runs a direct Numba kernel (no column matrix, both gradients in one pass: the product would be an
outer product BLAS runs at a few GFLOP/s), and the input gradient of a **stride-1** Conv2d with fewer
output than input channels is the convolution of ``dy`` with the flipped kernel, whose column matrix
``(N*H*W, KH*KW*C_out)`` is smaller than the ``(N*OH*OW, KH*KW*C_in)`` that ``col2im`` would read.

Memory layout: arrays are indexed NCHW, ``(N, C, H, W)``, everywhere in the API, but the conv layers
store their outputs (and input gradients) **channels-last** in memory, as PyTorch's
``torch.channels_last``: the array returned is a transposed view of a C-contiguous ``(N, H, W, C)``
buffer. Values and indexing are those of any NCHW array; the next conv layer reads that buffer
without a copy, and every kernel runs over the ``C`` values of a pixel with a vectorised inner loop.
Call ``np.ascontiguousarray(y)`` if you need C order. Kernels: :mod:`nnlite.ops._kernels.conv`.
"""
from __future__ import annotations

import numpy as np

from .._validation import pair
from ..module import DEFAULT_DTYPE, Parameter, check_input
from ..ops import threads as _threads
from ..ops._kernels import conv as K
from ._conv_base import COLS_BUDGET_BYTES, _band_rows, _ConvBase, _describe, _empty  # noqa: F401 (the budget)
from .conv_transpose import ConvTranspose2d

__all__ = ["Conv2d", "ConvTranspose2d"]


class Conv2d(_ConvBase):
    r"""2-D convolution (cross-correlation, as every framework) over an NCHW batch.

    .. math::
        y_{n,o,i,j} = b_o + \sum_{c,k,l} W_{o,c,k,l}\; x_{n,c,\; i s_h - p_h + k d_h,\; j s_w - p_w + l d_w}

    (``x`` read as 0 outside the image). With ``X = im2col(x)`` of shape ``(N*OH*OW, KH*KW*C_in)``
    (one row per output pixel) and ``W_r`` the weight as ``(KH*KW*C_in, C_out)``, forward is
    ``Y = X W_r + b`` and backward, with ``G = dL/dy`` as ``(N*OH*OW, C_out)``, is

    .. math::
        \frac{\partial L}{\partial W_r} = X^\top G, \quad
        \frac{\partial L}{\partial b} = \mathbf{1}^\top G, \quad
        \frac{\partial L}{\partial x} = \mathrm{col2im}(G W_r^\top)

    where ``col2im``, the adjoint of ``im2col``, adds every column entry back onto the pixel it was
    copied from. With stride 1 the input gradient is also the correlation of ``G`` with the flipped
    kernel, ``dx_{n,c} = \sum_o \mathrm{flip}(W_{o,c}) \star G_{n,o}`` padded by ``d(K-1) - p``, used
    when ``C_out < C_in``; with ``C_out = 1`` a direct kernel computes all three formulas without ``X``.

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
    ``weight`` ``(C_out, C_in, KH, KW)``, ``bias`` ``(C_out,)``. ``y`` is channels-last in memory
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
            if padding == "valid":
                self._pad_before, self._pad_total = (0, 0), (0, 0)
            else:
                self._pad_total = tuple(d * (k - 1) for d, k in zip(self.dilation, self.kernel_size))
                self._pad_before = tuple(t // 2 for t in self._pad_total)
        else:
            self.padding = pair(name, "padding", padding, 0)
            self._pad_before = self.padding
            self._pad_total = tuple(2 * p for p in self.padding)
        kh, kw = self.kernel_size
        self.weight = Parameter(np.zeros((self.out_channels, self.in_channels, kh, kw), self.dtype))
        self.bias = Parameter(np.zeros(self.out_channels, self.dtype)) if bias else None
        self.reset_parameters(random_state)

    def output_shape(self, input_shape):
        """``(N, C_out, OH, OW)`` for an input of shape ``(N, C_in, H, W)``."""
        N, _, H, W = input_shape
        OH = K.conv_output_size(H, self.kernel_size[0], self.stride[0], self._pad_total[0], self.dilation[0])
        OW = K.conv_output_size(W, self.kernel_size[1], self.stride[1], self._pad_total[1], self.dilation[1])
        return N, self.out_channels, OH, OW

    def _geometry(self, OH, OW):
        (KH, KW), (SH, SW), (PH, PW), (DH, DW) = self.kernel_size, self.stride, self._pad_before, self.dilation
        return KH, KW, SH, SW, PH, PW, DH, DW, OH, OW

    def forward(self, x):
        x = check_input(self, x, ndim=4, features=self.in_channels, axis=1, what="channels (NCHW)")
        _threads.sync_numba()                                              # prange threads per the BLAS policy
        w = self.weight.data
        xc = K.channels_last(x, w.dtype)                                   # (N, H, W, C_in)
        N, H, W, C = xc.shape
        _, Co, OH, OW = self.output_shape(x.shape)
        if OH < 1 or OW < 1:
            raise ValueError(f"{_describe(self)}: input of shape {x.shape} is smaller than the (dilated) "
                             f"kernel {self.kernel_size} after padding {self.padding!r}")
        geo = self._geometry(OH, OW)
        KH, KW = self.kernel_size
        M, R = N * OH * OW, KH * KW * C
        has_b = self.bias is not None
        if Co == 1:                                                         # direct kernel, no column matrix
            w3 = np.ascontiguousarray(w[0].transpose(1, 2, 0))             # (KH, KW, C_in)
            bias = self.bias.data if has_b else np.zeros(1, w.dtype)
            y = np.empty((N, OH, OW, 1), w.dtype)
            K.conv_one_out_forward(xc, w3, bias, *geo[2:8], y.reshape(N, OH, OW))
            self._saved = ("one_out", x.shape, (N, Co, OH, OW), None, w3, xc, None)
            return K.nchw_view(y)
        # The bias rides in the product: a column of ones in cols and the bias as the last row of W_r, so
        # forward adds it and backward's X^T G yields its gradient (the column sums of G) for free.
        Rb = R + has_b
        w_r = np.empty((Rb, Co), w.dtype)                                  # (KH*KW*C_in [+1], C_out)
        w_r[:R] = w.transpose(2, 3, 1, 0).reshape(R, Co)                   # rows (kh, kw, c)
        if has_b:
            w_r[R] = self.bias.data
        y = np.empty((N, OH, OW, Co), w.dtype)                             # channels-last output
        if C == 1:                                                          # planar rows: long contiguous runs
            cols_p = self._scratch("cols", (Rb, M), w.dtype)                # (R [+1], M); kernel fills rows < R
            K.im2col_planar(xc.reshape(N, 1, H, W), *geo, cols_p)
            if has_b:
                cols_p[R] = 1
            _threads.matmul(cols_p.T, w_r, out=y.reshape(M, Co))           # (M, C_out) = cols @ W_r (+ b)
            self._saved = ("planar", x.shape, (N, Co, OH, OW), cols_p.T, w_r, None, None)
            return K.nchw_view(y)
        band = _band_rows(N * OH, OW * Rb * w.dtype.itemsize)
        if band < N * OH:                                                   # huge: bands of output rows
            self._conv_bands(xc, geo, w_r, band, y2=y.reshape(M, Co))
            self._saved = ("bands", x.shape, (N, Co, OH, OW), None, w_r, xc, band)
            return K.nchw_view(y)
        cols = self._scratch("cols", (M, Rb), w.dtype)                      # (M, R [+1]); kernel fills cols < R
        K.im2col_nhwc(xc, *geo, 0, N * OH, cols)
        if has_b:
            cols[:, R] = 1
        _threads.matmul(cols, w_r, out=y.reshape(M, Co))                   # (M, C_out) = cols @ W_r (+ b)
        self._saved = ("cols", x.shape, (N, Co, OH, OW), cols, w_r, None, None)
        return K.nchw_view(y)                                              # (N, C_out, OH, OW)

    def backward(self, dy):
        mode, x_shape, y_shape, cols, w_r, xc, band = self._saved_state()
        dy = self._check_dy(dy, y_shape)
        w = self.weight.data
        N, C, H, W = x_shape
        _, Co, OH, OW = y_shape
        KH, KW = self.kernel_size
        M, R = N * OH * OW, KH * KW * C
        g = K.channels_last(dy, w.dtype).reshape(M, Co)                   # (M, C_out)
        if mode == "one_out":                                              # direct kernel: both gradients in one pass
            w3 = w_r                                                       # (KH, KW, C_in)
            dx = np.empty((N, H, W, C), w.dtype)
            dw_part = np.empty((N, KH, KW, C), w.dtype)                    # per-image shares of dL/dW
            K.conv_one_out_backward(xc, g.reshape(N, OH, OW), w3, *self._geometry(OH, OW)[2:8], dx, dw_part)
            self.weight.grad += dw_part.sum(axis=0).transpose(2, 0, 1)[None]
            if self.bias is not None:
                self.bias.grad += g.sum(axis=0)
            return K.nchw_view(dx)
        if mode == "bands":                                                # banded forward: banded backward
            dx = np.zeros((N, H, W, C), w.dtype)
            dw_r = self._conv_bands(xc, self._geometry(OH, OW), w_r, band, g=g, dx=dx)
            self.weight.grad += dw_r[:R].reshape(KH, KW, C, Co).transpose(3, 2, 0, 1)
            if self.bias is not None:
                self.bias.grad += dw_r[R]
            return K.nchw_view(dx)
        dw_r = _threads.matmul(cols.T, g)                                  # (KH*KW*C_in [+1], C_out)
        self.weight.grad += dw_r[:R].reshape(KH, KW, C, Co).transpose(3, 2, 0, 1)
        if self.bias is not None:
            self.bias.grad += dw_r[R]                                      # sum of G over rows
        geo = self._geometry(OH, OW)
        dx = np.empty((N, H, W, C), w.dtype)                               # channels-last
        if self.stride == (1, 1) and Co < C and _band_rows(N * H, W * KH * KW * Co * w.dtype.itemsize) >= N * H:
            # stride 1: dL/dx is the convolution of g with the flipped kernel (C_out -> C_in channels), whose
            # column matrix (N*H*W, KH*KW*C_out) is smaller than the (M, KH*KW*C_in) of col2im(G W_r^T)
            DH, DW = self.dilation
            PH, PW = self._pad_before
            geo_t = (KH, KW, 1, 1, DH * (KH - 1) - PH, DW * (KW - 1) - PW, DH, DW, H, W)
            gcols = self._scratch("gcols", (N * H * W, KH * KW * Co), w.dtype)
            K.im2col_nhwc(g.reshape(N, OH, OW, Co), *geo_t, 0, N * H, gcols)
            w_f = w[:, :, ::-1, ::-1].transpose(2, 3, 0, 1).reshape(KH * KW * Co, C)   # flipped, (KH*KW*C_out, C_in)
            _threads.matmul(gcols, w_f, out=dx.reshape(N * H * W, C))
        elif mode == "planar":
            dcols_p = self._scratch("dcols", cols.T.shape, w.dtype)       # (R [+1], M)
            _threads.matmul(w_r, g.T, out=dcols_p)                        # planar dcols (last row unused)
            K.col2im_planar(dcols_p, *geo, _empty(w.dtype), dx.reshape(N, 1, H, W))
        else:
            dcols = self._scratch("dcols", cols.shape, w.dtype)           # (M, R [+1])
            _threads.matmul(g, w_r.T, out=dcols)                          # dcols (last column unused)
            K.col2im_nhwc(dcols, *geo, _empty(w.dtype), dx)
        return K.nchw_view(dx)                                             # (N, C_in, H, W)

    def _conv_bands(self, xc, geo, w_r, band, y2=None, g=None, dx=None):
        """Forward (``y2`` given) or backward (``g``, ``dx`` given; returns ``X^T G``) one band of
        ``band`` output rows at a time, so the column matrix never exceeds ``COLS_BUDGET_BYTES``."""
        N, H, W, C = xc.shape
        OH, OW = geo[-2], geo[-1]
        Rb, Co = w_r.shape
        R = geo[0] * geo[1] * C
        cols = np.empty((band * OW, Rb), w_r.dtype)
        if Rb > R:
            cols[:, R] = 1                                                 # the bias column
        dcols = np.empty_like(cols) if g is not None else None
        dw = np.zeros((Rb, Co), np.float64) if g is not None else None
        for t0 in range(0, N * OH, band):
            t1 = min(t0 + band, N * OH)
            m, rows = (t1 - t0) * OW, slice(t0 * OW, t1 * OW)
            K.im2col_nhwc(xc, *geo, t0, t1, cols)
            if g is None:
                _threads.matmul(cols[:m], w_r, out=y2[rows])
            else:
                dw += _threads.matmul(cols[:m].T, g[rows])
                _threads.matmul(g[rows], w_r.T, out=dcols[:m])
                K.col2im_nhwc_add(dcols, *geo, t0, t1, dx)
        return None if dw is None else dw.astype(w_r.dtype)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        s += f", padding={self.padding!r}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.bias is None:
            s += ", bias=False"
        return s
