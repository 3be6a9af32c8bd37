"""The reference backend: every op of :mod:`nnlite.ops` in plain NumPy, written to be read.

This is the code that runs under ``nnlite.use("reference")``, and the twin every fast kernel is tested
against. It imports nothing but NumPy.
"""
from __future__ import annotations

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
    r"""A fully connected layer: ``y = act(x @ W + b)``.

    .. math:: y = \mathrm{act}(x W + b)

    ``x`` ``(N, n_in)``, ``W`` ``(n_in, n_out)``, ``b`` ``(n_out,)`` or ``None``; returns ``y`` ``(N, n_out)``.
    """
    z = x @ W                                        # (N, n_out)
    if b is not None:
        z = z + b
    return ACTIVATIONS[act][0](z, alpha).astype(W.dtype, copy=False)


def dense_backward(dy, x, W, y, act, alpha, dW, db, overwrite=False, need_dx=True):
    r"""Gradients of ``y = act(x @ W + b)``: writes ``dW`` (and ``db``), returns ``dx`` (``None`` if not needed).

    .. math::
        dz = dy \odot \mathrm{act}'(z), \qquad dW \mathrel{+}= x^\top dz, \qquad
        db \mathrel{+}= \textstyle\sum_{\text{rows}} dz, \qquad dx = dz\, W^\top

    ``dy``, ``y`` ``(N, n_out)``; ``x`` ``(N, n_in)``; ``dW`` ``(n_in, n_out)`` and ``db`` ``(n_out,)``
    (or ``None``) are the parameters' gradients, added into, or written when ``overwrite`` (a gradient
    just cleared by ``zero_grad``: the same result as adding into zeros).
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

    ``h`` ``(N, 2L)``, ``eps`` ``(N, L)``; ``logvar`` is clipped to ``[logvar_min, logvar_max]`` first.
    Returns ``(z, std, kl)``: ``z`` and ``std`` ``(N, L)``, ``kl`` summed over the batch (a float).
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
