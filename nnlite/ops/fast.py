"""The fast backend: every op of :mod:`nnlite.ops` through Numba kernels, direct BLAS calls and the
thread policy. Same signatures and results as :mod:`nnlite.ops.reference`, its readable twin.
"""
from __future__ import annotations

import numpy as np

from . import reference, threads
from ._kernels import dense as _kd
from ._kernels import optim as _ko
from ._kernels.blas import matmul_acc

# --- linear layers, activations, losses, the VAE's sampling and KL ----------------------------------
#: Activation name -> the branch of the fused kernels of ``_kernels/dense.py`` that computes it.
_ACT_CODES = {"identity": _kd.IDENTITY, "relu": _kd.RELU, "leaky_relu": _kd.LEAKY_RELU, "elu": _kd.ELU,
              "sigmoid": _kd.SIGMOID, "tanh": _kd.TANH, "softplus": _kd.SOFTPLUS}


def dense_forward(x, W, b, act="identity", alpha=0.0):
    """:func:`nnlite.ops.reference.dense_forward`: the product on BLAS (threads from the policy of
    :mod:`nnlite.ops.threads`), then one Numba pass adds the bias and applies the activation in place."""
    y = threads.matmul(np.ascontiguousarray(x, dtype=W.dtype), W)              # (N, n_out), z without b
    return _kd.bias_act_forward(y, b, _ACT_CODES[act], alpha)                   # y = act(z + b) in place


def dense_backward(dy, x, W, y, act, alpha, dW, db, overwrite=False, need_dx=True):
    """:func:`nnlite.ops.reference.dense_backward`: one Numba pass for ``dz = dy * act'`` and ``db``, then
    ``dW (+)= x^T dz`` as one BLAS ``gemm`` straight into the gradient (it writes when ``overwrite``)."""
    code = _ACT_CODES[act]
    if code == _kd.IDENTITY:
        dz = dy                                                                 # act' = 1
        if db is not None:
            db += dz.sum(axis=0)
    else:
        dz = _kd.act_backward(dy, y, code, alpha, out=np.empty_like(y), db=db)  # (N, n_out); db += sum
    matmul_acc(dW, x.T, dz, overwrite=overwrite)                                # (n_in, n_out)
    return threads.matmul(dz, W.T) if need_dx else None                         # (N, n_in)


def _fusable(a, t) -> bool:
    """Whether the fused loss kernels apply (float32/64, same dtype, C-contiguous, not empty)."""
    return (a.dtype in (np.float32, np.float64) and t.dtype == a.dtype and a.ndim >= 1 and a.size > 0
            and a.flags.c_contiguous and t.flags.c_contiguous)


def bce_with_logits(x, t, scale=1.0):
    """:func:`nnlite.ops.reference.bce_with_logits` in one Numba pass (the sum and the gradient together)."""
    if not _fusable(x, t):
        return reference.bce_with_logits(x, t, scale)
    grad = np.empty_like(x)
    return _kd.bce_with_logits(x, t, grad, scale), grad


def mse(p, t, scale=1.0):
    """:func:`nnlite.ops.reference.mse` in one Numba pass (the sum and the gradient together)."""
    if not _fusable(p, t):
        return reference.mse(p, t, scale)
    grad = np.empty_like(p)
    return _kd.mse(p, t, grad, scale), grad


def gaussian_sample_kl(h, eps, logvar_min=-np.inf, logvar_max=np.inf):
    """:func:`nnlite.ops.reference.gaussian_sample_kl` in one Numba pass over ``(mu, logvar)``."""
    L = h.shape[1] // 2
    z, std = np.empty((h.shape[0], L), h.dtype), np.empty((h.shape[0], L), h.dtype)    # (N, L)
    kl = _kd.gaussian_sample_kl(h[:, :L], h[:, L:], eps, z, std, logvar_min, logvar_max)
    return z, std, kl


def gaussian_sample_kl_backward(dz, h, std, eps, kl_scale, logvar_min=-np.inf, logvar_max=np.inf):
    """:func:`nnlite.ops.reference.gaussian_sample_kl_backward` in one Numba pass, written into the two
    halves of ``dL/dh`` (no concatenation)."""
    L = h.shape[1] // 2
    dh = np.empty_like(h)                                                       # (N, 2L) = [dmu | dlogvar]
    _kd.gaussian_sample_kl_backward(dz, h[:, :L], h[:, L:], std, eps, kl_scale, dh[:, :L], dh[:, L:],
                                    logvar_min, logvar_max)
    return dh


# --- convolution, batch norm, pooling, upsampling ---------------------------------------------------
from ._fast_conv import (  # noqa: E402, F401 (the conv half of the ops, in its own module)
    avg_pool2d_backward,
    avg_pool2d_forward,
    batch_norm_backward,
    batch_norm_forward,
    concat_channels,
    conv2d_backward,
    conv2d_forward,
    conv_transpose2d_backward,
    conv_transpose2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    upsample_nearest2d_backward,
    upsample_nearest2d_forward,
)

# --- optimizers' update rules -----------------------------------------------------------------------
# SGD and RMSprop are the reference's NumPy: a few in-place array operations, no kernel pays off.
sgd_update = reference.sgd_update
rmsprop_update = reference.rmsprop_update


def adam_update(p, g, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False):
    """:func:`nnlite.ops.reference.adam_update` as one fused Numba pass over the flat arrays (the
    ``parallel=True`` kernel for big arrays when the thread policy gives Numba more than one thread)."""
    arrays = (p, g, m, v)
    if not all(a.flags.c_contiguous for a in arrays):
        return reference.adam_update(p, g, m, v, step, lr, beta1, beta2, eps, weight_decay, decoupled)
    parallel = p.size >= _ko.PARALLEL_MIN_SIZE and threads.sync_numba() > 1
    kernel = _ko._adam_parallel if parallel else _ko._adam_serial
    kernel(*(a.reshape(-1) for a in arrays), lr, beta1, beta2, eps, 1.0 - beta1**step, 1.0 - beta2**step,
           weight_decay, decoupled)
