"""2-D convolution and transposed convolution (NCHW), each direction one BLAS matrix product.

A convolution is a matrix product once every receptive field is copied into a row (``im2col``, a
Numba kernel)::

    cols = im2col(x)          # (N*OH*OW, KH*KW*C_in)   one row per output pixel
    y    = cols @ W_r + b     # (N*OH*OW, C_out)        NumPy BLAS, one call; W_r = W as (KH*KW*C_in, C_out)

and its backward is two more products and ``col2im``, the adjoint of ``im2col`` (it adds every column
entry back onto the pixel it was copied from). A transposed convolution is exactly the backward-data
pass of a convolution, so it uses the same pieces in the other order. The bias rides in the product
(a column of ones in ``cols``, the bias as an extra row of ``W_r``), so forward adds it and backward
gets its gradient without extra passes. Beyond ``COLS_BUDGET_BYTES`` (64 MB) the column matrix is
built a band of rows at a time, so a whole photo through a wide layer does not need gigabytes.

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
Call ``np.ascontiguousarray(y)`` if you need C order. Kernels: :mod:`nnlite._kernels.conv`.
"""
from __future__ import annotations

import math

import numpy as np

from .. import init as _init
from .. import threads as _threads
from .._kernels import conv as K
from ..module import DEFAULT_DTYPE, Module, Parameter, check_input
from ..random import as_generator

_EMPTY = {}

#: Largest column matrix (bytes) a layer builds at once. Beyond it (a whole photo through 64 channels
#: needs gigabytes) the layer works in bands of output rows, recomputing the columns in backward.
COLS_BUDGET_BYTES = 64 * 2**20


def _empty(dtype):
    """A length-0 array: tells a kernel "no bias"."""
    dtype = np.dtype(dtype)
    if dtype not in _EMPTY:
        _EMPTY[dtype] = np.zeros(0, dtype)
    return _EMPTY[dtype]


def _pair(layer: str, name: str, value, minimum: int) -> tuple[int, int]:
    """``value`` (int or pair of ints) as a pair, each ``>= minimum``, else a ValueError naming it."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{layer}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{layer}: {name} must be >= {minimum}, got {value!r}")
    return pair


def _positive_int(layer: str, name: str, value) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{layer}: {name} must be an int >= 1, got {value!r}")
    return int(value)


class _ScratchMixin:
    """Reusable work arrays (column matrices are megabytes: allocate them once per input shape)."""

    def _scratch(self, name: str, shape: tuple, dtype) -> np.ndarray:
        cache = self.__dict__.setdefault("_scratch_arrays", {})
        arr = cache.get(name)
        if arr is None or arr.shape != shape or arr.dtype != dtype:
            arr = np.empty(shape, dtype)
            cache[name] = arr
        return arr

    def _ones(self, n: int, dtype) -> np.ndarray:
        """A cached ``(1, n)`` row of ones (column sums as a matrix product)."""
        cache = self.__dict__.setdefault("_scratch_arrays", {})
        ones = cache.get("ones")
        if ones is None or ones.shape != (1, n) or ones.dtype != dtype:
            ones = cache["ones"] = np.ones((1, n), dtype)
        return ones

    def __getstate__(self):  # deepcopy / pickle without the work arrays
        state = self.__dict__.copy()
        state.pop("_scratch_arrays", None)
        state.pop("_saved", None)
        return state


class _ConvBase(_ScratchMixin, Module):
    def _init_common(self, in_channels, out_channels, kernel_size, stride, dilation, dtype):
        name = type(self).__name__
        self.in_channels = _positive_int(name, "in_channels", in_channels)
        self.out_channels = _positive_int(name, "out_channels", out_channels)
        self.kernel_size = _pair(name, "kernel_size", kernel_size, 1)
        self.stride = _pair(name, "stride", stride, 1)
        self.dilation = _pair(name, "dilation", dilation, 1)
        self.dtype = np.dtype(dtype)
        if not np.issubdtype(self.dtype, np.floating):
            raise TypeError(f"{name}: dtype must be a floating type, got {self.dtype}")

    def reset_parameters(self, random_state=None):
        """PyTorch's default: ``kaiming_uniform_(a=sqrt(5))`` = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the
        weight, and the same bound for the bias. ``fan_in = weight.shape[1] * KH * KW`` (as PyTorch
        computes it: ``in_channels*KH*KW`` for Conv2d, ``out_channels*KH*KW`` for ConvTranspose2d)."""
        rng = as_generator(random_state)
        w = self.weight.data
        fan_in = w.shape[1] * w.shape[2] * w.shape[3]
        bound = 1.0 / math.sqrt(fan_in)
        w[...] = _init.uniform(w.shape, bound, rng, self.dtype)
        if self.bias is not None:
            self.bias.data[...] = _init.uniform(self.bias.shape, bound, rng, self.dtype)

    def _saved_state(self):
        if getattr(self, "_saved", None) is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._saved

    def _check_dy(self, dy, shape):
        dy = np.asarray(dy)
        if dy.shape != shape:
            raise ValueError(f"{type(self).__name__}.backward expects dy of shape {shape} (the output of the "
                             f"last forward), got {dy.shape}")
        return dy


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
            self.padding = _pair(name, "padding", padding, 0)
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


class ConvTranspose2d(_ConvBase):
    r"""Transposed 2-D convolution ("deconvolution"): the adjoint of :class:`Conv2d` w.r.t. its input.

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
    dtype, random_state : as :class:`Conv2d`

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
        self.padding = _pair(name, "padding", padding, 0)
        self.output_padding = _pair(name, "output_padding", output_padding, 0)
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


def _band_rows(rows: int, bytes_per_row: int) -> int:
    """How many rows of a column matrix fit in ``COLS_BUDGET_BYTES`` (at least 1, at most ``rows``)."""
    return int(min(rows, max(1, COLS_BUDGET_BYTES // max(1, bytes_per_row))))


def _describe(layer) -> str:
    return f"{type(layer).__name__}({layer.extra_repr()})"


__all__ = ["Conv2d", "ConvTranspose2d"]
