"""The fast backend's convolution, batch norm, pooling, upsampling and channel concatenation.

Same signatures and results as the ops of :mod:`nnlite.ops.reference`, computed with the Numba kernels of
:mod:`nnlite.ops._kernels.conv` and :mod:`nnlite.ops._kernels.norm` and BLAS products whose thread count
:mod:`nnlite.ops.threads` picks.

Memory layout. The arrays come in and go out indexed NCHW, but the outputs (and input gradients) are
**channels-last** in memory, as PyTorch's ``torch.channels_last``: each is a transposed view of a
C-contiguous ``(N, H, W, C)`` buffer. The next op reads that buffer without a copy, and every kernel runs
over the ``C`` values of a pixel with a vectorised inner loop.

Convolution modes. :func:`conv2d_forward` turns the convolution into one BLAS product over a column
matrix, and picks how by shape (:func:`conv2d_mode`):

``one_out``
    One output channel: a direct kernel, no column matrix; backward makes both gradients in one pass
    (the product would be an outer product BLAS runs at a few GFLOP/s).
``planar``
    One input channel: the column matrix built planar, ``(KH*KW [+1], N*OH*OW)``, one long contiguous
    run per tap.
``cols``
    The general case: the column matrix ``(N*OH*OW, KH*KW*C_in [+1])``, one row per output pixel.
``bands``
    A column matrix past :data:`COLS_BUDGET_BYTES`: built a band of output rows at a time (forward and
    backward), so a whole photo through a wide layer does not need gigabytes.

The bias rides in the product (a column of ones in the column matrix, the bias as the last row of the
weight matrix), so forward adds it and backward gets its gradient without another pass. The input
gradient of a **stride-1** convolution with fewer output than input channels is the convolution of
``dy`` with the flipped kernel, whose column matrix ``(N*H*W, KH*KW*C_out)`` is smaller than the one
``col2im`` would read. Column matrices live in the caller's ``workspace`` dict, allocated once per
shape. What backward needs is kept in a :class:`Conv2dRecord` / :class:`ConvTranspose2dRecord`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import threads
from ._kernels import conv as K
from ._kernels import conv_direct as KD
from ._kernels import norm as KN

#: Largest column matrix (bytes) a convolution builds at once. Beyond it the op works in bands of rows,
#: recomputing the columns in backward.
COLS_BUDGET_BYTES = 64 * 2**20

_EMPTY = {}


def _empty(dtype):
    """A length-0 array: tells a kernel "no bias"."""
    dtype = np.dtype(dtype)
    if dtype not in _EMPTY:
        _EMPTY[dtype] = np.zeros(0, dtype)
    return _EMPTY[dtype]


def _band_rows(rows: int, bytes_per_row: int) -> int:
    """How many rows of a column matrix fit in ``COLS_BUDGET_BYTES`` (at least 1, at most ``rows``)."""
    return int(min(rows, max(1, COLS_BUDGET_BYTES // max(1, bytes_per_row))))


def _work(workspace, name: str, shape: tuple, dtype) -> np.ndarray:
    """The work array ``name`` of the caller's ``workspace`` (a dict), made anew when its shape or dtype
    changed; a fresh array when there is no workspace."""
    if workspace is None:
        return np.empty(shape, dtype)
    arr = workspace.get(name)
    if arr is None or arr.shape != shape or arr.dtype != dtype:
        arr = workspace[name] = np.empty(shape, dtype)
    return arr


def _ones(workspace, n: int, dtype) -> np.ndarray:
    """A ``(1, n)`` row of ones (column sums as a matrix product), kept in the workspace."""
    ones = None if workspace is None else workspace.get("ones")
    if ones is None or ones.shape != (1, n) or ones.dtype != dtype:
        ones = np.ones((1, n), dtype)
        if workspace is not None:
            workspace["ones"] = ones
    return ones


# ------------------------------------------------------------------------------------------------ conv2d
@dataclass
class Conv2dRecord:
    """What :func:`conv2d_backward` needs from :func:`conv2d_forward`. Its column matrix lives in the
    caller's workspace, so the next forward with that workspace overwrites it: run backward before
    the next forward, as the layers do."""
    mode: str                    # 'one_out', 'planar', 'cols' or 'bands' (see conv2d_mode)
    x_shape: tuple               # (N, C_in, H, W)
    y_shape: tuple               # (N, C_out, OH, OW)
    geometry: tuple              # (KH, KW, SH, SW, PH, PW, DH, DW, OH, OW): the kernels' arguments
    weight: np.ndarray           # (C_out, C_in, KH, KW), the caller's array
    has_bias: bool
    w_r: np.ndarray | None = None        # (KH*KW*C_in [+1], C_out), rows (kh, kw, c) [+ bias]; one_out: (KH, KW, C_in)
    cols: np.ndarray | None = None       # cols, planar: the column matrix as (N*OH*OW, KH*KW*C_in [+1])
    xc: np.ndarray | None = None         # one_out, bands: x channels-last (N, H, W, C_in)
    band: int = 0                        # bands: output rows per band
    workspace: dict | None = None


def conv2d_mode(N, C_in, C_out, OH, OW, KH, KW, has_bias, itemsize) -> tuple[str, int]:
    """How :func:`conv2d_forward` runs a convolution of this shape: ``(mode, rows per band)``."""
    if C_out == 1:
        return "one_out", 0
    if C_in == 1:
        return "planar", 0
    band = _band_rows(N * OH, OW * (KH * KW * C_in + has_bias) * itemsize)
    return ("bands", band) if band < N * OH else ("cols", 0)


def _weight_rows(weight, bias):
    """``W_r`` ``(KH*KW*C_in [+1], C_out)``: the weight with rows ``(kh, kw, c)``, the bias as the last row."""
    C_out, C_in, KH, KW = weight.shape
    R = KH * KW * C_in
    w_r = np.empty((R + (bias is not None), C_out), weight.dtype)
    w_r[:R] = weight.transpose(2, 3, 1, 0).reshape(R, C_out)
    if bias is not None:
        w_r[R] = bias
    return w_r


def conv2d_forward(x, weight, bias, stride, padding, dilation, workspace=None):
    """:func:`nnlite.ops.reference.conv2d_forward`, in the mode :func:`conv2d_mode` picks; ``y`` is
    channels-last in memory. Returns ``(y, Conv2dRecord)``."""
    threads.sync_numba()                                               # prange threads per the BLAS policy
    xc = K.channels_last(x, weight.dtype)                              # (N, H, W, C_in)
    N, H, W, C = xc.shape
    C_out, _, KH, KW = weight.shape
    (pt, pb), (pl, pr) = padding
    OH = K.conv_output_size(H, KH, stride[0], pt + pb, dilation[0])
    OW = K.conv_output_size(W, KW, stride[1], pl + pr, dilation[1])
    geo = (KH, KW, stride[0], stride[1], pt, pl, dilation[0], dilation[1], OH, OW)
    mode, band = conv2d_mode(N, C, C_out, OH, OW, KH, KW, bias is not None, weight.dtype.itemsize)
    if mode in ("planar", "cols", "bands") and direct_conv(C, C_out, OW, stride, dilation, weight.dtype):
        mode, band = "direct", 0                                       # register-blocked kernels (see below)
    rec = Conv2dRecord(mode, x.shape, (N, C_out, OH, OW), geo, weight, bias is not None, band=band,
                       workspace=workspace)
    y = np.empty((N, OH, OW, C_out), weight.dtype)                     # channels-last output
    _CONV2D_FORWARD[mode](xc, weight, bias, rec, y.reshape(N * OH * OW, C_out))
    return K.nchw_view(y), rec                                         # (N, C_out, OH, OW)


def _forward_one_out(xc, weight, bias, rec, y2):
    rec.w_r = np.ascontiguousarray(weight[0].transpose(1, 2, 0))      # (KH, KW, C_in)
    rec.xc = xc
    N, OH, OW = rec.y_shape[0], rec.y_shape[2], rec.y_shape[3]
    b = bias if bias is not None else np.zeros(1, weight.dtype)
    K.conv_one_out_forward(xc, rec.w_r, b, *rec.geometry[2:8], y2.reshape(N, OH, OW))


def _forward_planar(xc, weight, bias, rec, y2):
    rec.w_r = w_r = _weight_rows(weight, bias)
    N, H, W, _ = xc.shape
    R, M = w_r.shape[0] - rec.has_bias, y2.shape[0]
    cols_p = _work(rec.workspace, "cols", (w_r.shape[0], M), w_r.dtype)   # (R [+1], M); kernel fills rows < R
    K.im2col_planar(xc.reshape(N, 1, H, W), *rec.geometry, cols_p)
    if rec.has_bias:
        cols_p[R] = 1
    threads.matmul(cols_p.T, w_r, out=y2)                             # (M, C_out) = cols @ W_r (+ b)
    rec.cols = cols_p.T


def _forward_cols(xc, weight, bias, rec, y2):
    rec.w_r = w_r = _weight_rows(weight, bias)
    R, M = w_r.shape[0] - rec.has_bias, y2.shape[0]
    cols = _work(rec.workspace, "cols", (M, w_r.shape[0]), w_r.dtype)    # (M, R [+1]); kernel fills cols < R
    K.im2col_nhwc(xc, *rec.geometry, 0, xc.shape[0] * rec.geometry[-2], cols)
    if rec.has_bias:
        cols[:, R] = 1
    threads.matmul(cols, w_r, out=y2)                                 # (M, C_out) = cols @ W_r (+ b)
    rec.cols = cols


def _forward_bands(xc, weight, bias, rec, y2):
    rec.w_r = _weight_rows(weight, bias)
    rec.xc = xc
    _conv_bands(xc, rec.geometry, rec.w_r, rec.band, y2=y2)


def _conv_bands(xc, geo, w_r, band, y2=None, g=None, dx=None):
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
            threads.matmul(cols[:m], w_r, out=y2[rows])
        else:
            dw += threads.matmul(cols[:m].T, g[rows])
            threads.matmul(g[rows], w_r.T, out=dcols[:m])
            K.col2im_nhwc_add(dcols, *geo, t0, t1, dx)
    return None if dw is None else dw.astype(w_r.dtype)


def conv2d_backward(dy, ctx, weight_grad, bias_grad=None):
    """:func:`nnlite.ops.reference.conv2d_backward` for the mode that ran forward: adds into
    ``weight_grad`` and ``bias_grad``, returns ``dL/dx`` (channels-last in memory)."""
    N, C, H, W = ctx.x_shape
    _, Co, OH, OW = ctx.y_shape
    g = K.channels_last(dy, ctx.weight.dtype).reshape(N * OH * OW, Co)    # (M, C_out)
    dx = _CONV2D_BACKWARD[ctx.mode](g, ctx, weight_grad, bias_grad)
    return K.nchw_view(dx)                                             # (N, C_in, H, W)


def _add_weight_rows_grad(dw_r, rec, weight_grad, bias_grad):
    """``dL/dW_r`` ``(KH*KW*C_in [+1], C_out)`` into the weight's (and the bias's) gradient."""
    Co, C, KH, KW = rec.weight.shape
    R = KH * KW * C
    weight_grad += dw_r[:R].reshape(KH, KW, C, Co).transpose(3, 2, 0, 1)
    if bias_grad is not None:
        bias_grad += dw_r[R]                                           # sum of G over rows


def _backward_one_out(g, rec, weight_grad, bias_grad):                # both gradients in one pass
    N, C, H, W = rec.x_shape
    _, _, OH, OW = rec.y_shape
    KH, KW = rec.geometry[:2]
    dx = np.empty((N, H, W, C), rec.weight.dtype)
    dw_part = np.empty((N, KH, KW, C), rec.weight.dtype)              # per-image shares of dL/dW
    K.conv_one_out_backward(rec.xc, g.reshape(N, OH, OW), rec.w_r, *rec.geometry[2:8], dx, dw_part)
    weight_grad += dw_part.sum(axis=0).transpose(2, 0, 1)[None]
    if bias_grad is not None:
        bias_grad += g.sum(axis=0)
    return dx


def _backward_bands(g, rec, weight_grad, bias_grad):
    N, C, H, W = rec.x_shape
    dx = np.zeros((N, H, W, C), rec.weight.dtype)
    dw_r = _conv_bands(rec.xc, rec.geometry, rec.w_r, rec.band, g=g, dx=dx)
    _add_weight_rows_grad(dw_r, rec, weight_grad, bias_grad)
    return dx


def _backward_cols(g, rec, weight_grad, bias_grad):                   # cols and planar
    w, cols, w_r, geo = rec.weight, rec.cols, rec.w_r, rec.geometry
    N, C, H, W = rec.x_shape
    Co = w.shape[0]
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = geo
    _add_weight_rows_grad(threads.matmul(cols.T, g), rec, weight_grad, bias_grad)   # X^T G
    dx = np.empty((N, H, W, C), w.dtype)                               # channels-last
    if (SH, SW) == (1, 1) and Co < C and _band_rows(N * H, W * KH * KW * Co * w.dtype.itemsize) >= N * H:
        # stride 1: dL/dx is the convolution of g with the flipped kernel (C_out -> C_in channels), whose
        # column matrix (N*H*W, KH*KW*C_out) is smaller than the (M, KH*KW*C_in) of col2im(G W_r^T)
        geo_t = (KH, KW, 1, 1, DH * (KH - 1) - PH, DW * (KW - 1) - PW, DH, DW, H, W)
        gcols = _work(rec.workspace, "gcols", (N * H * W, KH * KW * Co), w.dtype)
        K.im2col_nhwc(g.reshape(N, OH, OW, Co), *geo_t, 0, N * H, gcols)
        w_f = w[:, :, ::-1, ::-1].transpose(2, 3, 0, 1).reshape(KH * KW * Co, C)   # flipped, (KH*KW*C_out, C_in)
        threads.matmul(gcols, w_f, out=dx.reshape(N * H * W, C))
    elif rec.mode == "planar":
        dcols_p = _work(rec.workspace, "dcols", cols.T.shape, w.dtype)   # (R [+1], M)
        threads.matmul(w_r, g.T, out=dcols_p)                         # planar dcols (last row unused)
        K.col2im_planar(dcols_p, *geo, _empty(w.dtype), dx.reshape(N, 1, H, W))
    else:
        dcols = _work(rec.workspace, "dcols", cols.shape, w.dtype)      # (M, R [+1])
        threads.matmul(g, w_r.T, out=dcols)                           # dcols (last column unused)
        K.col2im_nhwc(dcols, *geo, _empty(w.dtype), dx)
    return dx


#: mode -> (forward, backward) of :func:`conv2d_forward` / :func:`conv2d_backward`.
_CONV2D_FORWARD = {"one_out": _forward_one_out, "planar": _forward_planar, "cols": _forward_cols,
                   "bands": _forward_bands}
_CONV2D_BACKWARD = {"one_out": _backward_one_out, "planar": _backward_cols, "cols": _backward_cols,
                    "bands": _backward_bands}


# ------------------------------------------------------------------------------------------------ conv2d, direct
# Mode 'direct': the register-blocked kernels of nnlite.ops._kernels.conv_direct (no column matrix; forward
# and weight gradient at any stride, the data gradient as the flipped-kernel convolution at stride 1 and
# col2im(G W_r^T) otherwise). direct_conv chooses them by shape, from the crossovers measured by
# ``python -m benchmarks --what conv-layers`` (2-core AVX-512 Xeon, 2 threads; direct time / im2col time
# of forward, data gradient, weight gradient):
#
#   direct won: 28x28 16->16 0.26/0.53/0.35, 48->16 0.34/0.49/0.26; 14x14 32->32 0.63/0.74/1.04,
#     96->32 0.98/0.92/0.54; 48x48 32->32 0.28/0.24/0.46; 24x24 32->64 0.72/0.96/0.82, 64->64 0.71/0.90/0.77;
#     4x4 stride 2: 64x64 3->32 0.56/-/0.77, 32x32 32->64 0.87/-/0.72
#   im2col won: 12x12 64->128 1.67/2.49/2.32, 128->128 1.36/1.71/1.21; 7x7 32->64 0.99/2.08/1.60;
#     4x4 stride 2 on 16x16 64->128 1.03/-/1.19, on 8x8 128->256 3.1/-/2.3
#
# so: dilation 1, C_out >= DIRECT_MIN_OUT (fewer wastes a vector's lanes; of those only 32->3 was measured,
# direct 0.30/0.71/0.32, left on im2col), a row at least one pixel block wide (OW >= KD.BLOCK), and either
# a row of DIRECT_WIDE_ROW pixels or at most DIRECT_MAX_OUT_NARROW output channels. The data gradient runs
# direct when C_in >= DIRECT_MIN_OUT too (its output has C_in channels: 48x48 3->32 was 2.3x slower direct).
# One output channel keeps its own direct kernel ('one_out'), one input channel the planar im2col ('planar'):
# a whole fit of the conv DAE, the ConvVAE (32, 64) and the U-Net w16 ran 0-12% faster with their grey
# first layer planar than direct (the planar path's weight and data gradients beat the direct weight
# gradient plus a channels-last col2im).

#: Fewest output channels (of a direction's result) for the direct kernels.
DIRECT_MIN_OUT = 8
#: Output rows at least this wide run direct whatever the channel count.
DIRECT_WIDE_ROW = 16
#: Narrower rows run direct only up to this many output channels.
DIRECT_MAX_OUT_NARROW = 32


def direct_conv(C_in, C_out, OW, stride, dilation, dtype) -> bool:
    """Whether :func:`conv2d_forward` runs this shape with the direct kernels (mode ``'direct'``)."""
    return (tuple(dilation) == (1, 1) and np.dtype(dtype) in (np.float32, np.float64)
            and C_in > 1 and C_out >= DIRECT_MIN_OUT and OW >= KD.BLOCK
            and (OW >= DIRECT_WIDE_ROW or C_out <= DIRECT_MAX_OUT_NARROW))


def _forward_direct(xc, weight, bias, rec, y2):
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW = rec.geometry
    # rec.xc holds the *padded* input here (made once, read again by the weight gradient)
    rec.xc = KD.forward_padding(xc, (KH, KW), (SH, SW), (PH, PW), (OH, OW), rec.workspace)
    KD.conv2d_forward(None, weight, bias, (SH, SW), (PH, PW), (OH, OW), out=y2.reshape(xc.shape[0], OH, OW, -1),
                      xp=rec.xc)


def _backward_direct(g, rec, weight_grad, bias_grad):
    N, C, H, W = rec.x_shape
    _, Co, OH, OW = rec.y_shape
    KH, KW, SH, SW, PH, PW = rec.geometry[:6]
    w = rec.weight
    g4 = g.reshape(N, OH, OW, Co)                                      # (N, OH, OW, C_out)
    weight_grad += KD.conv2d_weight_grad(None, g4, (KH, KW), (SH, SW), (PH, PW), xp=rec.xc)
    if bias_grad is not None:                                          # 1^T G: column sums by BLAS
        bias_grad += threads.matmul(_ones(rec.workspace, g.shape[0], w.dtype), g)[0]
    if (SH, SW) == (1, 1) and C >= DIRECT_MIN_OUT:
        return KD.conv2d_data_grad(g4, w, (PH, PW), (H, W), rec.workspace)   # (N, H, W, C_in)
    w_r = _weight_rows(w, None)                                        # (KH*KW*C_in, C_out)
    dcols = _work(rec.workspace, "dcols", (g.shape[0], w_r.shape[0]), w.dtype)
    threads.matmul(g, w_r.T, out=dcols)                                # (M, KH*KW*C_in)
    dx = np.empty((N, H, W, C), w.dtype)
    K.col2im_nhwc(dcols, *rec.geometry, _empty(w.dtype), dx)
    return dx


_CONV2D_FORWARD["direct"] = _forward_direct
_CONV2D_BACKWARD["direct"] = _backward_direct


# ------------------------------------------------------------------------------------------------ conv_transpose2d
@dataclass
class ConvTranspose2dRecord:
    """What :func:`conv_transpose2d_backward` needs from :func:`conv_transpose2d_forward`."""
    mode: str                    # 'planar' (one output channel), 'cols' or 'bands'
    x_shape: tuple               # (N, C_in, H, W)
    y_shape: tuple               # (N, C_out, OH, OW)
    geometry: tuple              # (KH, KW, SH, SW, PH, PW, DH, DW, H, W): the input plays a conv's output
    X: np.ndarray                # x as (N*H*W, C_in)
    w_t: np.ndarray              # (C_in, KH*KW*C_out)
    band: int = 0                # bands: input rows per band
    workspace: dict | None = None


def conv_transpose2d_forward(x, weight, bias, stride, padding, output_padding, dilation, workspace=None):
    """:func:`nnlite.ops.reference.conv_transpose2d_forward`: ``cols = X W_t`` (BLAS), then ``col2im``;
    planar columns ``(KH*KW, N*H*W)`` for one output channel, bands of input rows past the budget."""
    threads.sync_numba()                                               # prange threads per the BLAS policy
    xc = K.channels_last(x, weight.dtype)                              # (N, H, W, C_in)
    N, H, W, C = xc.shape
    _, Co, KH, KW = weight.shape
    OH, OW = (K.conv_transpose_output_size(s, weight.shape[2 + a], stride[a], padding[a], output_padding[a],
                                           dilation[a]) for a, s in enumerate((H, W)))
    M, R = N * H * W, KH * KW * Co
    w_t = np.ascontiguousarray(weight.transpose(0, 2, 3, 1)).reshape(C, R)   # (C_in, KH*KW*C_out)
    X = xc.reshape(M, C)                                               # (N*H*W, C_in)
    geo = (KH, KW, stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1], H, W)
    b = bias if bias is not None else _empty(weight.dtype)
    y = np.empty((N, OH, OW, Co), weight.dtype)                        # channels-last output
    band = _band_rows(N * H, W * R * weight.dtype.itemsize)
    mode = "planar" if Co == 1 else "bands" if band < N * H else "cols"
    if mode == "planar":
        cols_p = _work(workspace, "cols", (R, M), weight.dtype)        # planar (R, M)
        threads.matmul(w_t.T, X.T, out=cols_p)
        K.col2im_planar(cols_p, *geo, b, y.reshape(N, 1, OH, OW))
    elif mode == "bands":                                              # huge: bands of input rows
        y[...] = b if b.size else 0
        cols = np.empty((band * W, R), weight.dtype)
        for t0 in range(0, N * H, band):
            t1 = min(t0 + band, N * H)
            threads.matmul(X[t0 * W:t1 * W], w_t, out=cols[:(t1 - t0) * W])
            K.col2im_nhwc_add(cols, *geo, t0, t1, y)
    else:
        cols = _work(workspace, "cols", (M, R), weight.dtype)          # (M, R)
        threads.matmul(X, w_t, out=cols)
        K.col2im_nhwc(cols, *geo, b, y)
    rec = ConvTranspose2dRecord(mode, x.shape, (N, Co, OH, OW), geo, X, w_t, band, workspace)
    return K.nchw_view(y), rec                                         # (N, C_out, OH, OW)


def conv_transpose2d_backward(dy, ctx, weight_grad, bias_grad=None):
    """:func:`nnlite.ops.reference.conv_transpose2d_backward`: ``G = im2col(dy)`` (planar for one output
    channel, bands past the budget), ``dW_t = X^T G``, ``dX = G W_t^T``."""
    N, C, H, W = ctx.x_shape
    _, Co, OH, OW = ctx.y_shape
    X, w_t, geo, ws = ctx.X, ctx.w_t, ctx.geometry, ctx.workspace
    KH, KW = geo[:2]
    M, R = N * H * W, KH * KW * Co
    dtype = w_t.dtype
    dyc = K.channels_last(dy, dtype)                                   # (N, OH, OW, C_out)
    if ctx.mode == "planar":
        g_p = _work(ws, "cols", (R, M), dtype)
        K.im2col_planar(dyc.reshape(N, 1, OH, OW), *geo, g_p)
        g = g_p.T                                                      # (M, R) view
    elif ctx.mode == "cols":
        g = _work(ws, "cols", (M, R), dtype)
    else:
        g = np.empty((ctx.band * W, R), dtype)
    if bias_grad is not None:                                          # 1^T dY: column sums by BLAS
        bias_grad += threads.matmul(_ones(ws, N * OH * OW, dtype), dyc.reshape(-1, Co))[0]
    dx = np.empty((N, H, W, C), dtype)                                 # channels-last
    dx2 = dx.reshape(M, C)
    if ctx.mode != "bands":                                            # whole column matrix at once
        if ctx.mode == "cols":
            K.im2col_nhwc(dyc, *geo, 0, N * H, g)                      # (M, R)
        dw_t = threads.matmul(X.T, g)                                  # (C_in, KH*KW*C_out)
        threads.matmul(g, w_t.T, out=dx2)
    else:                                                              # bands of input rows
        dw_t = np.zeros((C, R), np.float64)
        for t0 in range(0, N * H, ctx.band):
            t1 = min(t0 + ctx.band, N * H)
            m, rows = (t1 - t0) * W, slice(t0 * W, t1 * W)
            K.im2col_nhwc(dyc, *geo, t0, t1, g)
            dw_t += threads.matmul(X[rows].T, g[:m])
            threads.matmul(g[:m], w_t.T, out=dx2[rows])
        dw_t = dw_t.astype(dtype)
    weight_grad += dw_t.reshape(C, KH, KW, Co).transpose(0, 3, 1, 2)
    return K.nchw_view(dx)                                             # (N, C_in, H, W)


# ------------------------------------------------------------------------------------------------ batch norm
class BatchNormRecord(NamedTuple):
    xhat: np.ndarray             # (M, C)
    invstd: np.ndarray           # (C,) in the dtype of x
    gamma: np.ndarray            # (C,)
    batch: bool                  # the batch's own statistics (training)


def batch_norm_forward(x, gamma, beta, eps, mean=None, var=None):
    """:func:`nnlite.ops.reference.batch_norm_forward`; training: float64 sums over fixed blocks of rows
    (:mod:`nnlite.ops._kernels.norm`), then one pass writing ``xhat`` and ``y``."""
    batch = mean is None
    if batch:
        x = np.ascontiguousarray(x)
        C = x.shape[1]
        mean, var = np.empty(C, np.float64), np.empty(C, np.float64)
        KN.batchnorm_stats(x, mean, var)                               # (C,) each; var biased
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
        xhat, y = np.empty_like(x), np.empty_like(x)                   # (M, C) each, one pass
        KN.batchnorm_forward(x, mean.astype(x.dtype), invstd, gamma.astype(x.dtype, copy=False),
                             beta.astype(x.dtype, copy=False), xhat, y)
    else:
        invstd = (1.0 / np.sqrt(var.astype(np.float64) + eps)).astype(x.dtype)
        xhat = (x - mean.astype(x.dtype)) * invstd
        y = xhat * gamma + beta
    return y, mean, var, BatchNormRecord(xhat, invstd, gamma, batch)


def batch_norm_backward(dy, ctx, gamma_grad=None, beta_grad=None):
    """:func:`nnlite.ops.reference.batch_norm_backward`: float64 sums of ``g`` and ``g xhat`` in block
    order, then one pass writing ``dx``."""
    xhat, invstd, gamma, batch = ctx
    dt = xhat.dtype
    G = np.ascontiguousarray(dy, dtype=dt)                             # (M, C)
    M, C = G.shape
    sum_g, sum_gx = np.empty(C, np.float64), np.empty(C, np.float64)   # dL/dbeta, dL/dgamma
    KN.batchnorm_grad_sums(G, xhat, sum_g, sum_gx)
    if gamma_grad is not None:
        gamma_grad += sum_gx.astype(dt)
        beta_grad += sum_g.astype(dt)
    k = (gamma * invstd).astype(dt)
    if not batch:
        return G * k
    dx = np.empty_like(G)
    KN.batchnorm_backward(G, xhat, (k / M).astype(dt), dt.type(M), sum_g.astype(dt), sum_gx.astype(dt), dx)
    return dx


# ------------------------------------------------------------------------------------------------ pooling
class MaxPoolRecord(NamedTuple):
    x_shape: tuple               # (N, C, H, W)
    dtype: np.dtype
    argmax: np.ndarray           # (N, OH, OW, C): flat index ih*W + iw of each window's maximum


class AvgPoolRecord(NamedTuple):
    x_shape: tuple               # (N, C, H, W)
    dtype: np.dtype
    window: tuple                # (KH, KW, SH, SW, PH, PW)
    count_include_pad: bool


def _pool_setup(x, kernel_size, stride, padding):
    xc = K.channels_last(x)                                            # (N, H, W, C)
    N, H, W, C = xc.shape
    OH = K.conv_output_size(H, kernel_size[0], stride[0], 2 * padding[0])
    OW = K.conv_output_size(W, kernel_size[1], stride[1], 2 * padding[1])
    return xc, np.empty((N, OH, OW, C), xc.dtype), (*kernel_size, *stride, *padding)


def max_pool2d_forward(x, kernel_size, stride, padding):
    """:func:`nnlite.ops.reference.max_pool2d_forward` (the first maximum of a window wins, NaN wins)."""
    xc, y, window = _pool_setup(x, kernel_size, stride, padding)
    argmax = np.empty(y.shape, np.int32)                               # flat index ih*W + iw
    K.maxpool_forward(xc, *window, y, argmax)
    return K.nchw_view(y), MaxPoolRecord(x.shape, xc.dtype, argmax)


def max_pool2d_backward(dy, ctx):
    N, C, H, W = ctx.x_shape
    dx = np.empty((N, H, W, C), ctx.dtype)
    K.maxpool_backward(K.channels_last(dy, ctx.dtype), ctx.argmax, dx)
    return K.nchw_view(dx)


def avg_pool2d_forward(x, kernel_size, stride, padding, count_include_pad=True):
    """:func:`nnlite.ops.reference.avg_pool2d_forward`."""
    xc, y, window = _pool_setup(x, kernel_size, stride, padding)
    K.avgpool_forward(xc, *window, bool(count_include_pad), y)
    return K.nchw_view(y), AvgPoolRecord(x.shape, xc.dtype, window, bool(count_include_pad))


def avg_pool2d_backward(dy, ctx):
    N, C, H, W = ctx.x_shape
    dx = np.empty((N, H, W, C), ctx.dtype)
    K.avgpool_backward(K.channels_last(dy, ctx.dtype), *ctx.window, ctx.count_include_pad, dx)
    return K.nchw_view(dx)


# ------------------------------------------------------------------------------------------------ upsampling, concat
class UpsampleRecord(NamedTuple):
    x_shape: tuple
    dtype: np.dtype
    src_h: np.ndarray
    src_w: np.ndarray


def upsample_nearest2d_forward(x, src_h, src_w):
    """:func:`nnlite.ops.reference.upsample_nearest2d_forward`."""
    xc = K.channels_last(x)                                            # (N, H, W, C)
    y = np.empty((xc.shape[0], len(src_h), len(src_w), xc.shape[3]), xc.dtype)
    K.upsample_nearest_forward(xc, src_h, src_w, y)
    return K.nchw_view(y), UpsampleRecord(x.shape, xc.dtype, src_h, src_w)


def upsample_nearest2d_backward(dy, ctx):
    N, C, H, W = ctx.x_shape
    dx = np.empty((N, H, W, C), ctx.dtype)
    K.upsample_nearest_backward(K.channels_last(dy, ctx.dtype), ctx.src_h, ctx.src_w, dx)
    return K.nchw_view(dx)


def concat_channels(xs):
    """:func:`nnlite.ops.reference.concat_channels`, each array copied straight into its channel slice of
    one channels-last buffer (the layout the next conv reads without a copy)."""
    N, _, H, W = xs[0].shape
    sizes = [x.shape[1] for x in xs]
    buf = np.empty((N, H, W, sum(sizes)), np.result_type(*xs))          # (N, H, W, C_total)
    start = 0
    for x, size in zip(xs, sizes):
        buf[..., start:start + size] = x.transpose(0, 2, 3, 1)
        start += size
    return buf.transpose(0, 3, 1, 2)                                   # (N, C_total, H, W) view


__all__ = ["COLS_BUDGET_BYTES", "Conv2dRecord", "ConvTranspose2dRecord", "conv2d_mode", "conv2d_forward",
           "conv2d_backward", "conv_transpose2d_forward", "conv_transpose2d_backward", "batch_norm_forward",
           "batch_norm_backward", "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
           "avg_pool2d_backward", "upsample_nearest2d_forward", "upsample_nearest2d_backward", "concat_channels"]
