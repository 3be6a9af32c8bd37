"""Slow, obvious loop twins of the conv kernels and layers (NCHW, one output element at a time).

Nothing here is clever: each function is the textbook definition, written so a reader can check it
against the docstring of the fast version. ``tests/test_conv_kernels.py`` and
``tests/test_conv_layers.py`` compare the Numba kernels and the layers with them.
"""
from __future__ import annotations

import math

import numpy as np


def conv2d(x, w, b, stride=(1, 1), pad=(0, 0), dilation=(1, 1), out_hw=None):
    """``y[n,o,i,j] = b[o] + sum_{c,k,l} w[o,c,k,l] * x[n, c, i*sh - ph + k*dh, j*sw - pw + l*dw]``
    (zero outside ``x``). ``pad`` is the padding before the first row/column; ``out_hw`` defaults to
    the symmetric-padding size."""
    N, C, H, W = x.shape
    O, _, KH, KW = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, pad, dilation
    if out_hw is None:
        out_hw = ((H + 2 * ph - dh * (KH - 1) - 1) // sh + 1, (W + 2 * pw - dw * (KW - 1) - 1) // sw + 1)
    OH, OW = out_hw
    y = np.zeros((N, O, OH, OW), np.float64)
    for n in range(N):
        for o in range(O):
            for i in range(OH):
                for j in range(OW):
                    s = 0.0 if b is None else float(b[o])
                    for c in range(C):
                        for k in range(KH):
                            for m in range(KW):
                                ih, iw = i * sh - ph + k * dh, j * sw - pw + m * dw
                                if 0 <= ih < H and 0 <= iw < W:
                                    s += float(w[o, c, k, m]) * float(x[n, c, ih, iw])
                    y[n, o, i, j] = s
    return y


def conv2d_backward(x, w, dy, stride=(1, 1), pad=(0, 0), dilation=(1, 1)):
    """Gradients of :func:`conv2d` by its definition: every output element ``y[n,o,i,j]`` sends
    ``dy[n,o,i,j] * w[o,c,k,m]`` to the pixel it read and ``dy[n,o,i,j] * x[n,c,ih,iw]`` to the weight.
    Returns ``(dx, dw, db)`` in float64."""
    N, C, H, W = x.shape
    O, _, KH, KW = w.shape
    (sh, sw), (ph, pw), (dh, dw_) = stride, pad, dilation
    OH, OW = dy.shape[2:]
    dx = np.zeros((N, C, H, W), np.float64)
    dw = np.zeros((O, C, KH, KW), np.float64)
    for n in range(N):
        for o in range(O):
            for i in range(OH):
                for j in range(OW):
                    g = float(dy[n, o, i, j])
                    for c in range(C):
                        for k in range(KH):
                            for m in range(KW):
                                ih, iw = i * sh - ph + k * dh, j * sw - pw + m * dw_
                                if 0 <= ih < H and 0 <= iw < W:
                                    dx[n, c, ih, iw] += g * float(w[o, c, k, m])
                                    dw[o, c, k, m] += g * float(x[n, c, ih, iw])
    return dx, dw, np.asarray(dy, np.float64).sum(axis=(0, 2, 3))


def conv_transpose2d(x, w, b, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1)):
    """Scatter form: ``y[n, o, i*sh - ph + k*dh, j*sw - pw + l*dw] += w[c, o, k, l] * x[n, c, i, j]``
    (dropping what falls outside the output), then ``+ b[o]``; PyTorch's output size."""
    N, C, H, W = x.shape
    _, O, KH, KW = w.shape
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    OH = (H - 1) * sh - 2 * ph + dh * (KH - 1) + oph + 1
    OW = (W - 1) * sw - 2 * pw + dw * (KW - 1) + opw + 1
    y = np.zeros((N, O, OH, OW), np.float64)
    for n in range(N):
        for c in range(C):
            for i in range(H):
                for j in range(W):
                    for o in range(O):
                        for k in range(KH):
                            for m in range(KW):
                                oh, ow = i * sh - ph + k * dh, j * sw - pw + m * dw
                                if 0 <= oh < OH and 0 <= ow < OW:
                                    y[n, o, oh, ow] += float(w[c, o, k, m]) * float(x[n, c, i, j])
    if b is not None:
        y += np.asarray(b, np.float64)[None, :, None, None]
    return y


def im2col_nhwc(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """``cols[(n*OH + oh)*OW + ow, (kh*KW + kw)*C + c] = x[n, ih, iw, c]`` or 0; ``x`` is ``(N, H, W, C)``."""
    N, H, W, C = x.shape
    cols = np.zeros((N * OH * OW, KH * KW * C), x.dtype)
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                for kh in range(KH):
                    for kw in range(KW):
                        for c in range(C):
                            ih, iw = oh * SH - PH + kh * DH, ow * SW - PW + kw * DW
                            if 0 <= ih < H and 0 <= iw < W:
                                cols[(n * OH + oh) * OW + ow, (kh * KW + kw) * C + c] = x[n, ih, iw, c]
    return cols


def col2im_nhwc(cols, shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, bias=None):
    """Scatter every column entry back where :func:`im2col_nhwc` took it from (float64), plus ``bias``."""
    N, H, W, C = shape
    out = np.zeros(shape, np.float64)
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                for kh in range(KH):
                    for kw in range(KW):
                        for c in range(C):
                            ih, iw = oh * SH - PH + kh * DH, ow * SW - PW + kw * DW
                            if 0 <= ih < H and 0 <= iw < W:
                                out[n, ih, iw, c] += cols[(n * OH + oh) * OW + ow, (kh * KW + kw) * C + c]
    if bias is not None:
        out += np.asarray(bias, np.float64)
    return out


def im2col_planar(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """``cols[(c*KH + kh)*KW + kw, (n*OH + oh)*OW + ow] = x[n, c, ih, iw]`` or 0; ``x`` is NCHW."""
    N, C, H, W = x.shape
    x_nhwc = x.transpose(0, 2, 3, 1)
    cols = im2col_nhwc(x_nhwc, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)      # columns ordered (kh, kw, c)
    cols = cols.reshape(N * OH * OW, KH, KW, C).transpose(3, 1, 2, 0)      # -> (c, kh, kw, position)
    return np.ascontiguousarray(cols.reshape(C * KH * KW, N * OH * OW))


def col2im_planar(cols, shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, bias=None):
    """Adjoint of :func:`im2col_planar` (loops), plus ``bias``; ``shape`` is NCHW."""
    N, C, H, W = shape
    out = np.zeros(shape, np.float64)
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                r = (c * KH + kh) * KW + kw
                for n in range(N):
                    for oh in range(OH):
                        for ow in range(OW):
                            ih, iw = oh * SH - PH + kh * DH, ow * SW - PW + kw * DW
                            if 0 <= ih < H and 0 <= iw < W:
                                out[n, c, ih, iw] += cols[r, (n * OH + oh) * OW + ow]
    if bias is not None:
        out += np.asarray(bias, np.float64)[None, :, None, None]
    return out


def _windows(H, W, KH, KW, SH, SW, PH, PW):
    OH = (H + 2 * PH - KH) // SH + 1
    OW = (W + 2 * PW - KW) // SW + 1
    for i in range(OH):
        for j in range(OW):
            h0, w0 = i * SH - PH, j * SW - PW
            cells = [(a, b) for a in range(h0, h0 + KH) for b in range(w0, w0 + KW) if 0 <= a < H and 0 <= b < W]
            yield i, j, cells
    return OH, OW


def maxpool2d(x, KH, KW, SH, SW, PH, PW):
    """Max of each window over real pixels (NCHW), and the first position holding it (flat ``ih*W + iw``)."""
    N, C, H, W = x.shape
    OH, OW = (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1
    y = np.zeros((N, C, OH, OW), x.dtype)
    arg = np.zeros((N, C, OH, OW), np.int64)
    for n in range(N):
        for c in range(C):
            for i, j, cells in _windows(H, W, KH, KW, SH, SW, PH, PW):
                vals = [x[n, c, a, b] for a, b in cells]
                k = int(np.argmax(vals))
                y[n, c, i, j] = vals[k]
                arg[n, c, i, j] = cells[k][0] * W + cells[k][1]
    return y, arg


def maxpool2d_backward(dy, arg, shape):
    dx = np.zeros(shape, np.float64)
    N, C, OH, OW = dy.shape
    W = shape[3]
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    k = arg[n, c, i, j]
                    dx[n, c, k // W, k % W] += dy[n, c, i, j]
    return dx


def avgpool2d(x, KH, KW, SH, SW, PH, PW, count_include_pad=True):
    N, C, H, W = x.shape
    OH, OW = (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1
    y = np.zeros((N, C, OH, OW), np.float64)
    for n in range(N):
        for c in range(C):
            for i, j, cells in _windows(H, W, KH, KW, SH, SW, PH, PW):
                div = KH * KW if count_include_pad else len(cells)
                y[n, c, i, j] = sum(float(x[n, c, a, b]) for a, b in cells) / div
    return y


def avgpool2d_backward(dy, shape, KH, KW, SH, SW, PH, PW, count_include_pad=True):
    N, C, H, W = shape
    dx = np.zeros(shape, np.float64)
    for n in range(N):
        for c in range(C):
            for i, j, cells in _windows(H, W, KH, KW, SH, SW, PH, PW):
                div = KH * KW if count_include_pad else len(cells)
                for a, b in cells:
                    dx[n, c, a, b] += dy[n, c, i, j] / div
    return dx


def upsample_nearest(x, OH, OW):
    """``y[n, c, i, j] = x[n, c, floor(i * H / OH), floor(j * W / OW)]`` (exact for integer factors)."""
    N, C, H, W = x.shape
    y = np.zeros((N, C, OH, OW), x.dtype)
    for i in range(OH):
        for j in range(OW):
            y[:, :, i, j] = x[:, :, min(math.floor(i * H / OH), H - 1), min(math.floor(j * W / OW), W - 1)]
    return y


def upsample_nearest_backward(dy, shape):
    N, C, H, W = shape
    OH, OW = dy.shape[2:]
    dx = np.zeros(shape, np.float64)
    for i in range(OH):
        for j in range(OW):
            dx[:, :, min(math.floor(i * H / OH), H - 1), min(math.floor(j * W / OW), W - 1)] += dy[:, :, i, j]
    return dx


def batchnorm_train(x, gamma, beta, eps):
    """Per-channel normalisation of NCHW ``x`` with the batch's mean and biased variance (float64)."""
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = ((x - mean) ** 2).mean(axis=(0, 2, 3), keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma[None, :, None, None] + beta[None, :, None, None]
