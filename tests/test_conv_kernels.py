"""Every Numba kernel of nnlite.ops._kernels.conv equals its slow loop twin in tests/naive_conv.py.

Random shapes include odd sizes, stride 2, padding, dilation, non-square kernels and batch 1, in float32
and float64. Copy kernels (im2col, pooling forward, upsampling) must match exactly; kernels that add
(col2im, backward passes) match to float round-off of their dtype.
"""
import naive_conv as naive
import numpy as np
import pytest

from nnlite.ops._kernels import conv as K

DTYPES = [np.float32, np.float64]

# (N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW)
GEOMETRIES = [
    (2, 3, 7, 6, 3, 3, 1, 1, 0, 0, 1, 1),      # plain valid conv, odd sizes
    (1, 2, 9, 9, 3, 3, 2, 2, 1, 1, 1, 1),      # batch 1, stride 2, padding 1
    (3, 4, 8, 7, 3, 2, 2, 1, 2, 0, 2, 1),      # dilation 2, non-square kernel, padding > kernel/2
    (2, 1, 10, 5, 5, 3, 3, 2, 2, 1, 1, 2),     # one channel, stride 3, dilation on W
    (2, 5, 4, 4, 1, 1, 1, 1, 0, 0, 1, 1),      # 1x1 kernel
]


def _out_size(size, k, s, p, d):
    return K.conv_output_size(size, k, s, 2 * p, d)


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geo", GEOMETRIES)
def test_im2col_col2im_nhwc_match_loops(geo, dtype):
    N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW = geo
    OH, OW = _out_size(H, KH, SH, PH, DH), _out_size(W, KW, SW, PW, DW)
    rng = np.random.default_rng(sum(geo))
    x = rng.standard_normal((N, H, W, C)).astype(dtype)
    cols = np.full((N * OH * OW, KH * KW * C), np.nan, dtype)             # NaN: every entry must be written
    K.im2col_nhwc(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, 0, N * OH, cols)
    want_cols = naive.im2col_nhwc(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    np.testing.assert_array_equal(cols, want_cols)
    # a band of output rows [t0, t1) (what the layers use on huge images)
    t0, t1 = 1, max(2, N * OH - 1)
    band = np.full(((t1 - t0) * OW, KH * KW * C + 1), np.nan, dtype)        # an extra column stays untouched
    K.im2col_nhwc(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, t0, t1, band)
    np.testing.assert_array_equal(band[:, :-1], want_cols[t0 * OW:t1 * OW])
    assert np.isnan(band[:, -1]).all()

    g = rng.standard_normal(cols.shape).astype(dtype)
    for bias in (np.zeros(0, dtype), rng.standard_normal(C).astype(dtype)):
        out = np.full((N, H, W, C), np.nan, dtype)
        K.col2im_nhwc(g, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, bias, out)
        want = naive.col2im_nhwc(g, (N, H, W, C), KH, KW, SH, SW, PH, PW, DH, DW, OH, OW,
                                 bias if bias.size else None)
        np.testing.assert_allclose(out, want, **_tol(dtype))
    # band version adds the rows of [t0, t1) only
    base = rng.standard_normal((N, H, W, C)).astype(dtype)
    out = base.copy()
    K.col2im_nhwc_add(g[t0 * OW:t1 * OW], KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, t0, t1, out)
    g_band = np.zeros_like(g)
    g_band[t0 * OW:t1 * OW] = g[t0 * OW:t1 * OW]
    want = base + naive.col2im_nhwc(g_band, (N, H, W, C), KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    np.testing.assert_allclose(out, want, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geo", GEOMETRIES)
def test_im2col_col2im_planar_match_loops(geo, dtype):
    N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW = geo
    OH, OW = _out_size(H, KH, SH, PH, DH), _out_size(W, KW, SW, PW, DW)
    rng = np.random.default_rng(sum(geo) + 1)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    cols = np.full((C * KH * KW, N * OH * OW), np.nan, dtype)
    K.im2col_planar(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, cols)
    np.testing.assert_array_equal(cols, naive.im2col_planar(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW))

    g = rng.standard_normal(cols.shape).astype(dtype)
    for bias in (np.zeros(0, dtype), rng.standard_normal(C).astype(dtype)):
        out = np.full((N, C, H, W), np.nan, dtype)
        K.col2im_planar(g, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, bias, out)
        want = naive.col2im_planar(g, (N, C, H, W), KH, KW, SH, SW, PH, PW, DH, DW, OH, OW,
                                   bias if bias.size else None)
        np.testing.assert_allclose(out, want, **_tol(dtype))


def test_col2im_is_the_adjoint_of_im2col():
    """<im2col(x), g> == <x, col2im(g)>: the identity that makes col2im the backward of im2col."""
    rng = np.random.default_rng(3)
    N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW = 2, 3, 9, 8, 3, 3, 2, 2, 1, 1, 1, 1
    OH, OW = _out_size(H, KH, SH, PH, DH), _out_size(W, KW, SW, PW, DW)
    x = rng.standard_normal((N, H, W, C))
    cols = np.empty((N * OH * OW, KH * KW * C))
    K.im2col_nhwc(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, 0, N * OH, cols)
    g = rng.standard_normal(cols.shape)
    back = np.empty_like(x)
    K.col2im_nhwc(g, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, np.zeros(0), back)
    assert np.isclose(np.sum(cols * g), np.sum(x * back), rtol=1e-12)


POOLS = [  # (N, C, H, W, KH, KW, SH, SW, PH, PW)
    (2, 3, 6, 6, 2, 2, 2, 2, 0, 0),
    (1, 2, 7, 5, 3, 3, 2, 2, 1, 1),            # batch 1, odd sizes, overlapping windows, padding
    (2, 1, 5, 8, 3, 2, 1, 3, 1, 0),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geo", GEOMETRIES)
def test_one_output_channel_kernels_match_loops(geo, dtype):
    """The direct conv to one output channel: forward, and both gradients of its one backward pass."""
    N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW = geo
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((1, C, KH, KW)).astype(dtype)
    b = rng.standard_normal(1).astype(dtype)
    OH, OW = _out_size(H, KH, SH, PH, DH), _out_size(W, KW, SW, PW, DW)
    xc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    w3 = np.ascontiguousarray(w[0].transpose(1, 2, 0))                      # (KH, KW, C)
    y = np.full((N, OH, OW), np.nan, dtype)
    K.conv_one_out_forward(xc, w3, b, SH, SW, PH, PW, DH, DW, y)
    want = naive.conv2d(x, w, b, (SH, SW), (PH, PW), (DH, DW), (OH, OW))
    np.testing.assert_allclose(y, want[:, 0], **_tol(dtype))
    dy = rng.standard_normal((N, 1, OH, OW)).astype(dtype)
    dx = np.full((N, H, W, C), np.nan, dtype)
    dw_part = np.full((N, KH, KW, C), np.nan, dtype)
    K.conv_one_out_backward(xc, np.ascontiguousarray(dy[:, 0]), w3, SH, SW, PH, PW, DH, DW, dx, dw_part)
    want_dx, want_dw, _ = naive.conv2d_backward(x, w, dy, (SH, SW), (PH, PW), (DH, DW))
    np.testing.assert_allclose(dx.transpose(0, 3, 1, 2), want_dx, **_tol(dtype))
    np.testing.assert_allclose(dw_part.sum(axis=0).transpose(2, 0, 1)[None], want_dw, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geo", POOLS)
def test_maxpool_kernels_match_loops(geo, dtype):
    N, C, H, W, KH, KW, SH, SW, PH, PW = geo
    rng = np.random.default_rng(sum(geo))
    x = rng.permutation(N * C * H * W).reshape(N, C, H, W).astype(dtype) / 7   # distinct values: no ties
    OH, OW = _out_size(H, KH, SH, PH, 1), _out_size(W, KW, SW, PW, 1)
    y = np.empty((N, OH, OW, C), dtype)
    arg = np.empty((N, OH, OW, C), np.int32)
    K.maxpool_forward(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), KH, KW, SH, SW, PH, PW, y, arg)
    want_y, want_arg = naive.maxpool2d(x, KH, KW, SH, SW, PH, PW)
    np.testing.assert_array_equal(y.transpose(0, 3, 1, 2), want_y)
    np.testing.assert_array_equal(arg.transpose(0, 3, 1, 2), want_arg)

    dy = rng.standard_normal((N, C, OH, OW)).astype(dtype)
    dx = np.full((N, H, W, C), np.nan, dtype)
    K.maxpool_backward(np.ascontiguousarray(dy.transpose(0, 2, 3, 1)), arg, dx)
    np.testing.assert_allclose(dx.transpose(0, 3, 1, 2), naive.maxpool2d_backward(dy, want_arg, x.shape),
                               **_tol(dtype))


def test_maxpool_first_maximum_wins_ties():
    x = np.ones((1, 1, 2, 2, 1))[..., 0].transpose(0, 2, 3, 1).copy()        # all equal, (N, H, W, C)
    y, arg = np.empty((1, 1, 1, 1)), np.empty((1, 1, 1, 1), np.int32)
    K.maxpool_forward(x, 2, 2, 2, 2, 0, 0, y, arg)
    assert arg[0, 0, 0, 0] == 0 and y[0, 0, 0, 0] == 1.0


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geo", POOLS)
def test_avgpool_kernels_match_loops(geo, dtype, count_include_pad):
    N, C, H, W, KH, KW, SH, SW, PH, PW = geo
    rng = np.random.default_rng(sum(geo) + 5)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    OH, OW = _out_size(H, KH, SH, PH, 1), _out_size(W, KW, SW, PW, 1)
    y = np.empty((N, OH, OW, C), dtype)
    K.avgpool_forward(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), KH, KW, SH, SW, PH, PW, count_include_pad, y)
    np.testing.assert_allclose(y.transpose(0, 3, 1, 2), naive.avgpool2d(x, KH, KW, SH, SW, PH, PW, count_include_pad),
                               **_tol(dtype))
    dy = rng.standard_normal((N, C, OH, OW)).astype(dtype)
    dx = np.full((N, H, W, C), np.nan, dtype)
    K.avgpool_backward(np.ascontiguousarray(dy.transpose(0, 2, 3, 1)), KH, KW, SH, SW, PH, PW, count_include_pad, dx)
    want = naive.avgpool2d_backward(dy, x.shape, KH, KW, SH, SW, PH, PW, count_include_pad)
    np.testing.assert_allclose(dx.transpose(0, 3, 1, 2), want, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,out_hw", [((2, 3, 4, 5), (8, 10)), ((1, 2, 3, 3), (9, 9)), ((2, 1, 5, 4), (5, 12))])
def test_upsample_nearest_kernels_match_loops(shape, out_hw, dtype):
    from nnlite.layers.upsample import nearest_source_index
    rng = np.random.default_rng(len(shape) + out_hw[0])
    x = rng.standard_normal(shape).astype(dtype)
    N, C, H, W = shape
    OH, OW = out_hw
    sh, sw = nearest_source_index(H, OH, OH / H), nearest_source_index(W, OW, OW / W)
    y = np.empty((N, OH, OW, C), dtype)
    K.upsample_nearest_forward(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), sh, sw, y)
    np.testing.assert_array_equal(y.transpose(0, 3, 1, 2), naive.upsample_nearest(x, OH, OW))
    dy = rng.standard_normal((N, C, OH, OW)).astype(dtype)
    dx = np.full((N, H, W, C), np.nan, dtype)
    K.upsample_nearest_backward(np.ascontiguousarray(dy.transpose(0, 2, 3, 1)), sh, sw, dx)
    np.testing.assert_allclose(dx.transpose(0, 3, 1, 2), naive.upsample_nearest_backward(dy, shape), **_tol(dtype))


def test_kernels_keep_their_plain_python_twin():
    """``.py_func`` is the uncompiled kernel: run one small case through it (what NUMBA_DISABLE_JIT runs)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 5, 4, 2))
    OH, OW = _out_size(5, 3, 2, 1, 1), _out_size(4, 3, 2, 1, 1)
    a = np.empty((OH * OW, 18))
    b = np.empty_like(a)
    K.im2col_nhwc(x, 3, 3, 2, 2, 1, 1, 1, 1, OH, OW, 0, OH, a)
    def py(kernel):  # under NUMBA_DISABLE_JIT=1 the kernel is plain Python already
        return getattr(kernel, "py_func", kernel)

    py(K.im2col_nhwc)(x, 3, 3, 2, 2, 1, 1, 1, 1, OH, OW, 0, OH, b)
    np.testing.assert_array_equal(a, b)
    out_a, out_b = np.empty_like(x), np.empty_like(x)
    K.col2im_nhwc(a, 3, 3, 2, 2, 1, 1, 1, 1, OH, OW, np.zeros(0), out_a)
    py(K.col2im_nhwc)(a, 3, 3, 2, 2, 1, 1, 1, 1, OH, OW, np.zeros(0), out_b)
    np.testing.assert_allclose(out_a, out_b, rtol=1e-14)


@pytest.mark.parametrize("size,k,s,p,d,want", [(28, 3, 2, 1, 1, 14), (14, 3, 2, 1, 1, 7), (7, 5, 1, 0, 1, 3),
                                               (9, 3, 1, 0, 3, 3), (5, 2, 3, 0, 1, 2)])
def test_conv_output_size_is_pytorchs_formula(size, k, s, p, d, want):
    assert K.conv_output_size(size, k, s, 2 * p, d) == want


@pytest.mark.parametrize("size,k,s,p,op,d,want", [(7, 3, 2, 1, 1, 1, 14), (14, 3, 2, 1, 1, 1, 28), (4, 4, 2, 1, 0, 1, 8),
                                                  (5, 3, 1, 0, 0, 2, 9)])
def test_conv_transpose_output_size_is_pytorchs_formula(size, k, s, p, op, d, want):
    assert K.conv_transpose_output_size(size, k, s, p, op, d) == want
