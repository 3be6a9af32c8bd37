"""Fused optimizer updates: one pass over each parameter array instead of NumPy's five temporaries.

Twins: ``tests/test_optim.py`` checks each kernel against the update rule written out in NumPy.
"""
from __future__ import annotations

import math

from .._numba import njit, njit_parallel, prange

#: Arrays smaller than this are updated by the serial kernel (thread start-up costs more than it saves).
PARALLEL_MIN_SIZE = 1 << 16


def _adam(p, g, m, v, lr, beta1, beta2, eps, bias_correction1, bias_correction2, weight_decay, decoupled):
    """In place, on flat arrays of equal length (PyTorch's Adam/AdamW rule)::

        decoupled (AdamW): p -= lr * weight_decay * p          else: g += weight_decay * p
        m = beta1 m + (1 - beta1) g ;  v = beta2 v + (1 - beta2) g^2
        p -= (lr / bias_correction1) * m / (sqrt(v) / sqrt(bias_correction2) + eps)
    """
    step_size = lr / bias_correction1
    sqrt_bc2 = math.sqrt(bias_correction2)
    for i in prange(p.shape[0]):
        gi = g[i]
        if weight_decay != 0.0:
            if decoupled:
                p[i] -= lr * weight_decay * p[i]
            else:
                gi = gi + weight_decay * p[i]
        mi = beta1 * m[i] + (1.0 - beta1) * gi
        vi = beta2 * v[i] + (1.0 - beta2) * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] -= step_size * mi / (math.sqrt(vi) / sqrt_bc2 + eps)


_adam_serial = njit(_adam)
_adam_parallel = njit_parallel(_adam)


def adam_update(p, g, m, v, lr, beta1, beta2, eps, bias_correction1, bias_correction2, weight_decay, decoupled):
    """Dispatch to the serial or parallel kernel by size; all arrays flat and contiguous."""
    kernel = _adam_parallel if p.shape[0] >= PARALLEL_MIN_SIZE else _adam_serial
    kernel(p, g, m, v, lr, beta1, beta2, eps, bias_correction1, bias_correction2, weight_decay, decoupled)
