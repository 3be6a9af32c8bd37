"""The reference backend: every op of :mod:`nnlite.ops` in plain NumPy, written to be read.

This is the code that runs under ``nnlite.use("reference")``, and the twin every fast kernel is tested
against. It imports nothing but NumPy.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


# --- linear layers, activations, losses, the VAE's sampling and KL ----------------------------------
def sigmoid(z):
    """``1 / (1 + e^{-z})`` from ``e = exp(-|z|)``, which never overflows."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1, e) / (1 + e)


#: The elementwise activations: name -> (``act(z, a)``, ``act'`` written from the output ``y = act(z)``),
#: so a layer keeps ``y`` only. ``a`` is leaky_relu's negative slope or elu's alpha.
ACTIVATIONS = {
    "identity": (lambda z, a: z, lambda y, a: np.ones_like(y)),
    "relu": (lambda z, a: np.maximum(z, 0), lambda y, a: y > 0),
    "leaky_relu": (lambda z, a: np.where(z > 0, z, a * z), lambda y, a: np.where(y > 0, 1, a)),
    "elu": (lambda z, a: np.where(z > 0, z, a * np.expm1(np.minimum(z, 0))), lambda y, a: np.where(y > 0, 1, y + a)),
    "sigmoid": (lambda z, a: sigmoid(z), lambda y, a: y * (1 - y)),
    "tanh": (lambda z, a: np.tanh(z), lambda y, a: 1 - y * y),
    "softplus": (lambda z, a: np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))), lambda y, a: -np.expm1(-y)),
}


def dense_forward(x, W, b, act="identity", alpha=0.0):
    r"""A fully connected layer, :math:`y = \mathrm{act}(x W + b)`: ``x`` ``(N, n_in)``, ``W`` ``(n_in, n_out)``,
    ``b`` ``(n_out,)`` or ``None``; returns ``y`` ``(N, n_out)``."""
    z = x @ W                                        # (N, n_out)
    if b is not None:
        z = z + b
    return ACTIVATIONS[act][0](z, alpha).astype(W.dtype, copy=False)


def dense_backward(dy, x, W, y, act, alpha, dW, db, overwrite=False, need_dx=True):
    r"""Gradients of ``y = act(x @ W + b)``: writes ``dW`` (and ``db``), returns ``dx`` (``None`` if not needed).

    .. math::
        dz = dy \odot \mathrm{act}'(z), \qquad dW \mathrel{+}= x^\top dz, \qquad
        db \mathrel{+}= \textstyle\sum_{\text{rows}} dz, \qquad dx = dz\, W^\top

    ``dy``, ``y`` ``(N, n_out)``, ``x`` ``(N, n_in)``. The parameters' gradients ``dW``, ``db`` (or ``None``)
    are added into, or written when ``overwrite`` (just cleared by ``zero_grad``: the same as adding to 0).
    """
    dz = (dy * ACTIVATIONS[act][1](y, alpha)).astype(dy.dtype, copy=False)     # (N, n_out)
    if overwrite:
        dW[...] = x.T @ dz                           # (n_in, n_out)
    else:
        dW += x.T @ dz
    if db is not None:
        db += dz.sum(axis=0)                         # (n_out,)
    return dz @ W.T if need_dx else None             # (N, n_in)


def bce_with_logits(x, t, scale=1.0):
    r"""Binary cross-entropy of logits ``x`` against targets ``t``: ``(sum of the terms, scale * dL/dx)``.

    .. math:: \ell = \max(x, 0) - x t + \log(1 + e^{-|x|}), \qquad
        \frac{\partial \ell}{\partial x} = \sigma(x) - t

    The sum is a float (accumulated in float64); the gradient has the shape and dtype of ``x``.
    """
    terms = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
    grad = (sigmoid(x) - t) * scale
    return float(terms.sum(dtype=np.float64)), grad.astype(x.dtype, copy=False)


def mse(p, t, scale=1.0):
    r"""Squared error: ``(sum((p - t)^2), scale * 2 (p - t))``.

    .. math:: \ell = (p - t)^2, \qquad \frac{\partial \ell}{\partial p} = 2 (p - t)
    """
    d = p - t
    return float((d * d).sum(dtype=np.float64)), (2 * scale * d).astype(p.dtype, copy=False)


def gaussian_sample_kl(h, eps, logvar_min=-np.inf, logvar_max=np.inf):
    r"""Draw ``z`` from the Gaussian an encoder head ``h = [mu | logvar]`` describes, and its KL to N(0, I).

    .. math::
        \sigma = e^{\frac12 \mathrm{logvar}}, \qquad z = \mu + \sigma \odot \varepsilon, \qquad
        \mathrm{KL} = -\tfrac12 \sum \big(1 + \mathrm{logvar} - \mu^2 - \sigma^2\big)

    ``h`` ``(N, 2L)``, ``eps`` ``(N, L)``, logvar clipped to ``[logvar_min, logvar_max]``. Returns ``(z, std, kl)``:
    ``z`` and ``std`` ``(N, L)``, ``kl`` summed over the batch (a float).
    """
    L = h.shape[1] // 2
    mu, logvar = h[:, :L], np.clip(h[:, L:], logvar_min, logvar_max)     # (N, L) each
    std = np.exp(0.5 * logvar)
    z = mu + std * eps
    kl = -0.5 * (1 + logvar - mu * mu - std * std).sum(dtype=np.float64)
    return z, std, float(kl)


def gaussian_sample_kl_backward(dz, h, std, eps, kl_scale, logvar_min=-np.inf, logvar_max=np.inf):
    r"""``dL/dh`` for ``L = sum(dz * z) + kl_scale * KL`` of :func:`gaussian_sample_kl` (``dz`` is ``dL/dz``).

    .. math::
        \frac{\partial L}{\partial \mu} = dz + s\,\mu, \qquad
        \frac{\partial L}{\partial \mathrm{logvar}} = dz \odot \varepsilon \odot \tfrac12 \sigma
            + s\, \tfrac12 (\sigma^2 - 1)

    with ``s = kl_scale``; ``dL/dlogvar`` is 0 where the clip was active. Returns ``(N, 2L)``.
    """
    L = h.shape[1] // 2
    mu, logvar = h[:, :L], h[:, L:]
    inside = (logvar >= logvar_min) & (logvar <= logvar_max)
    dmu = dz + kl_scale * mu
    dlogvar = (0.5 * dz * eps * std + 0.5 * kl_scale * (std * std - 1)) * inside
    return np.concatenate([dmu, dlogvar], axis=1).astype(h.dtype, copy=False)    # (N, 2L)


# --- convolution, batch norm, pooling, upsampling ---------------------------------------------------
# Images are NCHW: (N, C, H, W). ``padding`` of a convolution is ((top, bottom), (left, right));
# ``stride``, ``dilation``, ``kernel_size`` are (rows, columns) pairs.
class ConvContext(NamedTuple):
    """What a convolution's backward needs from its forward pass."""
    cols: np.ndarray         # conv2d: im2col(x) (N*OH*OW, C_in*KH*KW); conv_transpose2d: x as (N*H*W, C_in)
    weight: np.ndarray       # the layer's weight
    x_shape: tuple           # (N, C_in, H, W)
    stride: tuple
    padding: tuple           # ((top, bottom), (left, right))
    dilation: tuple


def _im2col(x, kernel_size, stride, padding, dilation, out_hw):
    """Every receptive field of ``x`` ``(N, C, H, W)`` as a row ``(c, kh, kw)``: ``(N*OH*OW, C*KH*KW)``."""
    (KH, KW), (SH, SW), (DH, DW), (OH, OW) = kernel_size, stride, dilation, out_hw
    N, C = x.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0), *padding))                    # (N, C, pt + H + pb, pl + W + pr)
    cols = np.empty((N, OH, OW, C, KH, KW), x.dtype)
    for kh in range(KH):
        for kw in range(KW):
            i, j = kh * DH, kw * DW                                # tap (kh, kw) of output (oh, ow) reads
            cols[..., kh, kw] = xp[:, :, i:i + SH * OH:SH, j:j + SW * OW:SW].transpose(0, 2, 3, 1)  # xp[i + SH*oh, ..]
    return cols.reshape(N * OH * OW, C * KH * KW)


def _col2im(cols, x_shape, kernel_size, stride, padding, dilation, out_hw):
    """The adjoint of :func:`_im2col`: adds every entry of ``cols`` back onto the pixel it was copied from."""
    (KH, KW), (SH, SW), (DH, DW), (OH, OW) = kernel_size, stride, dilation, out_hw
    N, C, H, W = x_shape
    (pt, pb), (pl, pr) = padding
    cols = cols.reshape(N, OH, OW, C, KH, KW)
    xp = np.zeros((N, C, pt + H + pb, pl + W + pr), cols.dtype)
    for kh in range(KH):
        for kw in range(KW):
            i, j = kh * DH, kw * DW
            xp[:, :, i:i + SH * OH:SH, j:j + SW * OW:SW] += cols[..., kh, kw].transpose(0, 3, 1, 2)
    return xp[:, :, pt:pt + H, pl:pl + W]                          # (N, C, H, W), the padding dropped


def conv2d_forward(x, weight, bias, stride, padding, dilation, workspace=None):
    r"""2-D convolution as one matrix product over the column matrix :math:`X = \mathrm{im2col}(x)`
    ``(N*OH*OW, C_in*KH*KW)``: :math:`Y = X W_r^\top + b`, ``W_r`` the weight as ``(C_out, C_in*KH*KW)``.
    ``x`` ``(N, C_in, H, W)``, ``weight`` ``(C_out, C_in, KH, KW)``, ``bias`` ``(C_out,)`` or None. Returns ``y``
    ``(N, C_out, OH, OW)`` and the context for :func:`conv2d_backward`; ``workspace`` is unused here."""
    C_out, _, KH, KW = weight.shape
    N, _, H, W = x.shape
    OH = (H + sum(padding[0]) - dilation[0] * (KH - 1) - 1) // stride[0] + 1
    OW = (W + sum(padding[1]) - dilation[1] * (KW - 1) - 1) // stride[1] + 1
    cols = _im2col(x.astype(weight.dtype, copy=False), (KH, KW), stride, padding, dilation, (OH, OW))
    y = cols @ weight.reshape(C_out, -1).T                        # (N*OH*OW, C_out)
    if bias is not None:
        y += bias
    return y.reshape(N, OH, OW, -1).transpose(0, 3, 1, 2), ConvContext(cols, weight, x.shape, stride, padding, dilation)


def conv2d_backward(dy, ctx, weight_grad, bias_grad=None):
    r"""The gradients of :func:`conv2d_forward`, with :math:`G = \partial L/\partial y` as ``(N*OH*OW, C_out)``:

    .. math:: \frac{\partial L}{\partial W_r} = G^\top X, \quad \frac{\partial L}{\partial b} = \mathbf{1}^\top G,
        \quad \frac{\partial L}{\partial x} = \mathrm{col2im}(G W_r)

    The first two are added into ``weight_grad`` and ``bias_grad`` (None: no bias); the third is returned."""
    X, weight, x_shape, stride, padding, dilation = ctx
    C_out, _, KH, KW = weight.shape
    G = dy.astype(weight.dtype, copy=False).transpose(0, 2, 3, 1).reshape(-1, C_out)   # (N*OH*OW, C_out)
    weight_grad += (G.T @ X).reshape(weight.shape)
    if bias_grad is not None:
        bias_grad += G.sum(axis=0)
    return _col2im(G @ weight.reshape(C_out, -1), x_shape, (KH, KW), stride, padding, dilation, dy.shape[2:])


def conv_transpose2d_forward(x, weight, bias, stride, padding, output_padding, dilation, workspace=None):
    r"""Transposed convolution: the input gradient of :func:`conv2d_forward` (its adjoint), plus a bias.

    Each input pixel adds a weighted copy of the kernel into the output: with ``X`` = ``x`` as
    ``(N*H*W, C_in)`` and ``W_t`` = ``weight`` ``(C_in, C_out, KH, KW)`` as ``(C_in, C_out*KH*KW)``,

    .. math::
        y = \mathrm{col2im}(X W_t) + b

    ``padding`` (a pair) rows/columns are cut from each border of the full output and
    ``output_padding`` extra ones added at the bottom/right. Returns ``y`` ``(N, C_out, OH, OW)`` and the
    context for :func:`conv_transpose2d_backward`.
    """
    C_in, C_out, KH, KW = weight.shape
    N, _, H, W = x.shape
    OH = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (KH - 1) + output_padding[0] + 1
    OW = (W - 1) * stride[1] - 2 * padding[1] + dilation[1] * (KW - 1) + output_padding[1] + 1
    pads = ((padding[0], padding[0]), (padding[1], padding[1]))
    X = x.astype(weight.dtype, copy=False).transpose(0, 2, 3, 1).reshape(-1, C_in)       # (N*H*W, C_in)
    y = _col2im(X @ weight.reshape(C_in, -1), (N, C_out, OH, OW), (KH, KW), stride, pads, dilation, (H, W))
    if bias is not None:
        y += bias[:, None, None]
    return y, ConvContext(X, weight, x.shape, stride, pads, dilation)


def conv_transpose2d_backward(dy, ctx, weight_grad, bias_grad=None):
    r"""The gradients of :func:`conv_transpose2d_forward`, with ``G = im2col(dL/dy)`` ``(N*H*W, C_out*KH*KW)``:

    .. math::
        \frac{\partial L}{\partial W_t} = X^\top G, \quad
        \frac{\partial L}{\partial b_o} = \sum_{n,i,j} \frac{\partial L}{\partial y_{n,o,i,j}}, \quad
        \frac{\partial L}{\partial X} = G W_t^\top

    adding the first two into ``weight_grad`` and ``bias_grad`` (None: no bias); returns ``dL/dx``.
    """
    X, weight, (N, _, H, W), stride, pads, dilation = ctx
    C_in, C_out, KH, KW = weight.shape
    G = _im2col(dy.astype(weight.dtype, copy=False), (KH, KW), stride, pads, dilation, (H, W))
    weight_grad += (X.T @ G).reshape(weight.shape)
    if bias_grad is not None:
        bias_grad += dy.sum(axis=(0, 2, 3), dtype=weight.dtype)
    dX = G @ weight.reshape(C_in, -1).T                           # (N*H*W, C_in)
    return dX.reshape(N, H, W, C_in).transpose(0, 3, 1, 2)


class BatchNormContext(NamedTuple):
    """What batch norm's backward needs from its forward pass."""
    xhat: np.ndarray         # (M, C) normalised input
    invstd: np.ndarray       # (C,) 1 / sqrt(var + eps)
    gamma: np.ndarray        # (C,)
    batch: bool              # normalised by the batch's own statistics (training), not given ones


def batch_norm_forward(x, gamma, beta, eps, mean=None, var=None):
    r"""Batch normalisation of ``x`` ``(M, C)``, per column:

    .. math::
        \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad y = \gamma \hat x + \beta

    with the batch's mean and biased variance (training) when ``mean`` and ``var`` are None, else the
    given ones (evaluation, the running statistics). Returns ``y``, the ``mean`` and ``var`` used
    (float64 batch statistics in training) and the context for :func:`batch_norm_backward`.
    """
    batch = mean is None
    if batch:
        mean = x.mean(axis=0, dtype=np.float64)                   # (C,)
        var = ((x - mean) ** 2).mean(axis=0)                      # (C,) biased
    invstd = (1 / np.sqrt(np.asarray(var, np.float64) + eps)).astype(x.dtype)
    xhat = ((x - mean) * invstd).astype(x.dtype)                  # (M, C)
    return gamma * xhat + beta, mean, var, BatchNormContext(xhat, invstd, gamma, batch)


def batch_norm_backward(dy, ctx, gamma_grad=None, beta_grad=None):
    r"""The gradients of :func:`batch_norm_forward`, with ``g = dL/dy`` ``(M, C)``:

    .. math::
        \frac{\partial L}{\partial \beta} = \sum g, \quad
        \frac{\partial L}{\partial \gamma} = \sum g \hat x, \quad
        \frac{\partial L}{\partial x} = \frac{\gamma}{M\sqrt{\sigma^2 + \epsilon}}
        \Big(M g - \sum g - \hat x \sum g \hat x\Big)

    (sums over the ``M`` rows; the last two terms are the paths through the batch's mean and variance,
    absent when the statistics were given: then ``dL/dx = g \gamma / \sqrt{\sigma^2 + \epsilon}``).
    Adds into ``gamma_grad`` and ``beta_grad`` (None: not affine); returns ``dL/dx``.
    """
    xhat, invstd, gamma, batch = ctx
    g = dy.astype(xhat.dtype, copy=False)
    if gamma_grad is not None:
        gamma_grad += (g * xhat).sum(axis=0)
        beta_grad += g.sum(axis=0)
    if not batch:
        return g * (gamma * invstd)
    M = g.shape[0]
    return gamma * invstd / M * (M * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0))


def _windows(x, kernel_size, stride, out_hw):
    """Yield ``(kh, kw, view)``: for each window offset, the ``(N, C, OH, OW)`` strided view of ``x`` that
    offset reads (``x`` already padded)."""
    (KH, KW), (SH, SW), (OH, OW) = kernel_size, stride, out_hw
    for kh in range(KH):
        for kw in range(KW):
            yield kh, kw, x[:, :, kh:kh + SH * OH:SH, kw:kw + SW * OW:SW]


def _pool_out(x_shape, kernel_size, stride, padding):
    """``(OH, OW)`` of a pooling window sliding over ``x`` ``(N, C, H, W)`` padded by ``padding`` each side."""
    return tuple((x_shape[2 + a] + 2 * padding[a] - kernel_size[a]) // stride[a] + 1 for a in range(2))


def max_pool2d_forward(x, kernel_size, stride, padding):
    r"""``y[n, c, i, j]`` = the maximum of window ``(i, j)``; the padding (``-inf``) never wins, the first
    maximum wins a tie. Returns ``y`` and the context: ``x``'s shape and which tap won each window."""
    out_hw = _pool_out(x.shape, kernel_size, stride, padding)
    PH, PW = padding
    xp = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)), constant_values=-np.inf)
    taps = np.stack([v for _, _, v in _windows(xp, kernel_size, stride, out_hw)], axis=-1)  # (N, C, OH, OW, KH*KW)
    won = taps.argmax(axis=-1)                                    # tap kh*KW + kw of each window's maximum
    return taps.max(axis=-1), (x.shape, kernel_size, stride, padding, won)


def max_pool2d_backward(dy, ctx):
    r"""Each window's gradient goes to its maximum: :math:`\partial L/\partial x_{k,l} = \sum_{(i,j):
    \operatorname{argmax}(i,j) = (k,l)} \partial L/\partial y_{i,j}`."""
    (N, C, H, W), kernel_size, stride, (PH, PW), won = ctx
    dxp = np.zeros((N, C, H + 2 * PH, W + 2 * PW), dy.dtype)
    for kh, kw, view in _windows(dxp, kernel_size, stride, dy.shape[2:]):
        view += np.where(won == kh * kernel_size[1] + kw, dy, 0)  # adds into dxp through the view
    return dxp[:, :, PH:PH + H, PW:PW + W]


def avg_pool2d_forward(x, kernel_size, stride, padding, count_include_pad=True):
    r"""``y[n, c, i, j]`` = the sum of window ``(i, j)`` / ``D``, ``D = KH*KW`` (zero padding counts) or,
    with ``count_include_pad=False``, the number of real pixels in the window."""
    out_hw = _pool_out(x.shape, kernel_size, stride, padding)
    (PH, PW) = padding
    pads = ((0, 0), (0, 0), (PH, PH), (PW, PW))
    total = sum(v for _, _, v in _windows(np.pad(x, pads), kernel_size, stride, out_hw))
    if count_include_pad:
        divisor = np.full(out_hw, kernel_size[0] * kernel_size[1], x.dtype)
    else:                                                          # real pixels per window: pool a field of ones
        ones = np.pad(np.ones((1, 1) + x.shape[2:], x.dtype), pads)
        divisor = sum(v for _, _, v in _windows(ones, kernel_size, stride, out_hw))[0, 0]
    return total / divisor, (x.shape, kernel_size, stride, padding, divisor)


def avg_pool2d_backward(dy, ctx):
    r"""Every window adds ``dy / D`` to each of its pixels: the adjoint of :func:`avg_pool2d_forward`."""
    (N, C, H, W), kernel_size, stride, (PH, PW), divisor = ctx
    dxp = np.zeros((N, C, H + 2 * PH, W + 2 * PW), dy.dtype)
    for _, _, view in _windows(dxp, kernel_size, stride, dy.shape[2:]):
        view += dy / divisor
    return dxp[:, :, PH:PH + H, PW:PW + W]


def upsample_nearest2d_forward(x, src_h, src_w):
    r"""``y[n, c, i, j] = x[n, c, src_h[i], src_w[j]]`` (each output pixel copies its source pixel)."""
    return x[:, :, src_h[:, None], src_w[None, :]], (x.shape, src_h, src_w)


def upsample_nearest2d_backward(dy, ctx):
    r"""The adjoint: every source pixel sums the gradients of its copies."""
    x_shape, src_h, src_w = ctx
    dx = np.zeros(x_shape, dy.dtype)
    np.add.at(dx, (slice(None), slice(None), src_h[:, None], src_w[None, :]), dy)
    return dx


def concat_channels(xs):
    """The arrays of ``xs`` ``(N, C_i, H, W)`` joined along the channels: ``(N, sum C_i, H, W)``."""
    return np.concatenate(xs, axis=1)


# --- optimizers' update rules -----------------------------------------------------------------------
def sgd_update(p, g, buf, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, first=False):
    r"""One SGD step on ``p`` in place (PyTorch's rule); ``buf`` is the momentum buffer (``None`` without).

    .. math::
        g \leftarrow g + \lambda p, \qquad b \leftarrow \mu b + (1 - \tau) g \ (b = g \text{ on the first step}),
        \qquad p \leftarrow p - \eta\,(g + \mu b \text{ if nesterov else } b)
    """
    if weight_decay:
        g = g + weight_decay * p
    if momentum:
        if first:
            buf[...] = g
        else:
            buf *= momentum
            buf += (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    p -= np.asarray(lr, p.dtype) * g


def rmsprop_update(p, g, square_avg, grad_avg, buf, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                   centered=False):
    r"""One RMSprop step on ``p`` in place (PyTorch's rule); the three state arrays are updated in place.

    .. math::
        s \leftarrow \alpha s + (1 - \alpha) g^2, \qquad
        d = \sqrt{s} + \epsilon \ \ \text{or, centered,} \ \sqrt{s - \bar g^2} + \epsilon
        \ \ (\bar g \leftarrow \alpha \bar g + (1 - \alpha) g), \qquad
        p \leftarrow p - \eta\, g / d \ \text{or, with momentum,}\ b \leftarrow \mu b + g / d,\ p \leftarrow p - \eta b
    """
    if weight_decay:
        g = g + weight_decay * p
    square_avg *= alpha
    square_avg += (1 - alpha) * g * g
    if centered:
        grad_avg *= alpha
        grad_avg += (1 - alpha) * g
        denom = np.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        denom = np.sqrt(square_avg) + eps
    if momentum:
        buf *= momentum
        buf += g / denom
        p -= np.asarray(lr, p.dtype) * buf
    else:
        p -= np.asarray(lr, p.dtype) * g / denom


def adam_update(p, g, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False):
    r"""One Adam step on ``p`` in place (Kingma & Ba; AdamW with ``decoupled``); ``m``, ``v`` updated in place.

    .. math::
        m \leftarrow \beta_1 m + (1 - \beta_1) g, \quad v \leftarrow \beta_2 v + (1 - \beta_2) g^2, \quad
        \hat m = \frac{m}{1 - \beta_1^t}, \quad \hat v = \frac{v}{1 - \beta_2^t}, \quad
        p \leftarrow p - \eta \frac{\hat m}{\sqrt{\hat v} + \epsilon}

    Weight decay: ``g + weight_decay * p`` (Adam's L2 penalty), or with ``decoupled`` (AdamW)
    ``p <- p - lr * weight_decay * p`` before the step. ``step`` is ``t``, counted from 1.
    """
    if weight_decay and decoupled:
        p -= lr * weight_decay * p
    elif weight_decay:
        g = g + weight_decay * p
    m[...] = beta1 * m + (1 - beta1) * g
    v[...] = beta2 * v + (1 - beta2) * g * g
    m_hat = m / (1 - beta1 ** step)
    v_hat = v / (1 - beta2 ** step)
    p -= lr * m_hat / (np.sqrt(v_hat) + eps)
