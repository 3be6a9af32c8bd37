"""Numba kernels of batch normalisation in training mode, over a C-contiguous ``(M, C)`` matrix (one
column per channel: the channels-last memory of an NCHW batch, or a ``(N, C)`` batch of features).

Each direction is one pass that writes, after read-only passes that sum per channel:

* :func:`batchnorm_stats`: the batch mean, then the biased variance as the mean of ``(x - mean)^2``
  (two read-only passes, float64 sums: no cancellation as in ``E[x^2] - mean^2``);
* :func:`batchnorm_forward`: ``xhat = (x - mean) * invstd`` and ``y = gamma * xhat + beta`` in one pass;
* :func:`batchnorm_grad_sums`: ``sum g`` and ``sum g * xhat`` per channel (float64);
* :func:`batchnorm_backward`: ``dx = k / M * (M g - sum g - xhat * sum g xhat)``, ``k = gamma * invstd``.

The sums run over fixed blocks of :data:`BLOCK` rows in parallel, each block into its own row of
partial sums, and the partial sums are then added in block order, so the result does not depend on how
many threads ran (bit-reproducible training). ``tests/test_norm_kernels.py`` compares every kernel
with a NumPy twin; :func:`nnlite.ops.reference.batch_norm_forward` is the readable op they compute.
"""
from __future__ import annotations

import numpy as np

from .._numba import njit_parallel, prange

#: Rows per block of partial sums (fixed, so the rounding never depends on the thread count).
BLOCK = 512


def _batchnorm_stats(x, mean, var):
    """Per column of ``x`` ``(M, C)``: ``mean`` and biased ``var`` (float64 ``(C,)`` outputs), the
    variance as ``sum (x - mean)^2 / M`` in a second pass."""
    M, C = x.shape
    nb = (M + BLOCK - 1) // BLOCK
    part = np.zeros((nb, C), np.float64)
    for b in prange(nb):
        for m in range(b * BLOCK, min(M, (b + 1) * BLOCK)):
            for c in range(C):
                part[b, c] += x[m, c]
    for c in range(C):
        mean[c] = 0.0
    for b in range(nb):
        for c in range(C):
            mean[c] += part[b, c]
    for c in range(C):
        mean[c] /= M
    part2 = np.zeros((nb, C), np.float64)
    for b in prange(nb):
        for m in range(b * BLOCK, min(M, (b + 1) * BLOCK)):
            for c in range(C):
                d = x[m, c] - mean[c]
                part2[b, c] += d * d
    for c in range(C):
        var[c] = 0.0
    for b in range(nb):
        for c in range(C):
            var[c] += part2[b, c]
    for c in range(C):
        var[c] /= M


def _batchnorm_forward(x, mean, invstd, gamma, beta, xhat, y):
    """``xhat[m, c] = (x[m, c] - mean[c]) * invstd[c]``, ``y[m, c] = gamma[c] * xhat[m, c] + beta[c]``
    (``mean``, ``invstd``, ``gamma``, ``beta`` in the dtype of ``x``). Parallel over rows."""
    M, C = x.shape
    nb = (M + BLOCK - 1) // BLOCK
    for b in prange(nb):
        for m in range(b * BLOCK, min(M, (b + 1) * BLOCK)):
            for c in range(C):
                h = (x[m, c] - mean[c]) * invstd[c]
                xhat[m, c] = h
                y[m, c] = h * gamma[c] + beta[c]


def _batchnorm_grad_sums(g, xhat, sum_g, sum_gx):
    """``sum_g[c] = sum_m g[m, c]`` and ``sum_gx[c] = sum_m g[m, c] * xhat[m, c]`` (float64, block order)."""
    M, C = g.shape
    nb = (M + BLOCK - 1) // BLOCK
    part_g = np.zeros((nb, C), np.float64)
    part_gx = np.zeros((nb, C), np.float64)
    for b in prange(nb):
        for m in range(b * BLOCK, min(M, (b + 1) * BLOCK)):
            for c in range(C):
                gv = np.float64(g[m, c])
                part_g[b, c] += gv
                part_gx[b, c] += gv * xhat[m, c]
    for c in range(C):
        sum_g[c] = 0.0
        sum_gx[c] = 0.0
    for b in range(nb):
        for c in range(C):
            sum_g[c] += part_g[b, c]
            sum_gx[c] += part_gx[b, c]


def _batchnorm_backward(g, xhat, k_over_m, m, sum_g, sum_gx, dx):
    """``dx[m, c] = k_over_m[c] * ((m * g[m, c] - sum_g[c]) - xhat[m, c] * sum_gx[c])`` with ``k_over_m =
    gamma * invstd / M`` and ``m = M``, all in the dtype of ``g`` (the training-mode gradient of the
    class docstring of :class:`nnlite.layers.norm.BatchNorm2d`). Parallel over rows."""
    M, C = g.shape
    nb = (M + BLOCK - 1) // BLOCK
    for b in prange(nb):
        for r in range(b * BLOCK, min(M, (b + 1) * BLOCK)):
            for c in range(C):
                dx[r, c] = k_over_m[c] * ((m * g[r, c] - sum_g[c]) - xhat[r, c] * sum_gx[c])


batchnorm_stats = njit_parallel(_batchnorm_stats)
batchnorm_forward = njit_parallel(_batchnorm_forward)
batchnorm_grad_sums = njit_parallel(_batchnorm_grad_sums)
batchnorm_backward = njit_parallel(_batchnorm_backward)

__all__ = ["BLOCK", "batchnorm_stats", "batchnorm_forward", "batchnorm_grad_sums", "batchnorm_backward"]
