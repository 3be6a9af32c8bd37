"""The batch-norm kernels of nnlite.ops._kernels.norm equal their NumPy twins (float32 and float64, row counts
below, at and across the block size), and their sums do not depend on the number of threads."""
import numba
import numpy as np
import pytest

from nnlite.ops._kernels import norm as KN

DTYPES = [np.float32, np.float64]
SHAPES = [(5, 7), (KN.BLOCK, 3), (2 * KN.BLOCK + 37, 4), (3, 1)]


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-13)


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 3 + 5).astype(dtype)            # offset mean: tests the 2-pass variance


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_stats_and_forward_match_numpy(shape, dtype):
    x = _data(shape, dtype)
    M, C = shape
    mean, var = np.full(C, np.nan), np.full(C, np.nan)
    KN.batchnorm_stats(x, mean, var)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(var, x64.var(axis=0), rtol=1e-12, atol=1e-14)
    invstd = (1 / np.sqrt(var + 1e-5)).astype(dtype)
    gamma, beta = _data(C, dtype, 1), _data(C, dtype, 2)
    xhat, y = np.full_like(x, np.nan), np.full_like(x, np.nan)
    KN.batchnorm_forward(x, mean.astype(dtype), invstd, gamma, beta, xhat, y)
    want_xhat = (x - mean.astype(dtype)) * invstd
    np.testing.assert_allclose(xhat, want_xhat, **_tol(dtype))
    np.testing.assert_allclose(y, want_xhat * gamma + beta, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_grad_sums_and_backward_match_numpy(shape, dtype):
    M, C = shape
    g, xhat = _data(shape, dtype, 3), _data(shape, dtype, 4)
    sum_g, sum_gx = np.full(C, np.nan), np.full(C, np.nan)
    KN.batchnorm_grad_sums(g, xhat, sum_g, sum_gx)
    g64, h64 = g.astype(np.float64), xhat.astype(np.float64)
    np.testing.assert_allclose(sum_g, g64.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sum_gx, (g64 * h64).sum(axis=0), rtol=1e-12)
    k = _data(C, dtype, 5)
    dx = np.full_like(g, np.nan)
    KN.batchnorm_backward(g, xhat, (k / M).astype(dtype), dtype(M), sum_g.astype(dtype), sum_gx.astype(dtype), dx)
    want = k.astype(np.float64) / M * (M * g64 - sum_g - h64 * sum_gx)
    scale = np.abs(k).max() * (np.abs(g64).max() + np.abs(h64 * sum_gx / M).max())   # size of the terms
    np.testing.assert_allclose(dx, want, rtol=0, atol=(1e-5 if dtype == np.float32 else 1e-13) * scale)


def test_sums_do_not_depend_on_the_thread_count():
    """Fixed blocks, added in block order: 1 and 2 threads give the same bits (reproducible training)."""
    x = _data((5 * KN.BLOCK + 11, 6), np.float32)
    out = []
    before = numba.get_num_threads()
    try:
        for n in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(n)
            mean, var, sg, sgx = (np.empty(6) for _ in range(4))
            KN.batchnorm_stats(x, mean, var)
            KN.batchnorm_grad_sums(x, x, sg, sgx)
            out.append(np.concatenate([mean, var, sg, sgx]))
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(out[0], out[1])
