"""The register-blocked direct conv kernels (nnlite.ops._kernels.conv_direct) equal the loop twins of
tests/naive_conv.py: forward, data gradient (stride 1) and weight gradient, in float32 and float64.

The shapes are chosen against the blocking: odd H and W, W not a multiple of the pixel block, channel
counts that are not multiples of the vector width (3, 17, 18: a partial last block of output
channels and of input channels in the weight gradient), batch 1, stride 2, padding 0 to 2 (2 is more
than a 3x3 kernel's half: the flipped-kernel data gradient then crops its input), 1x1, 4x4 and
non-square kernels.
"""
import naive_conv as naive
import numpy as np
import pytest

from nnlite.ops._kernels import conv_direct as D

DTYPES = [np.float32, np.float64]

# (N, C_in, C_out, H, W, KH, KW, SH, SW, PH, PW)
GEOMETRIES = [
    (1, 3, 5, 5, 7, 3, 3, 1, 1, 1, 1),         # batch 1, tiny channel counts, one partial block of each
    (2, 17, 18, 6, 11, 3, 3, 1, 1, 1, 1),      # channels past one vector (float32 16, float64 8), W = 11
    (2, 4, 3, 7, 5, 3, 3, 2, 2, 1, 1),         # stride 2, odd sizes
    (1, 2, 3, 8, 8, 4, 4, 2, 2, 1, 1),         # 4x4 stride 2 (the ConvVAE's and DCGAN's encoder)
    (2, 3, 4, 5, 6, 3, 3, 1, 1, 0, 0),         # valid conv
    (1, 2, 2, 6, 5, 3, 3, 1, 1, 2, 2),         # padding larger than the kernel's half
    (2, 5, 20, 4, 9, 1, 1, 1, 1, 0, 0),        # 1x1
    (2, 3, 4, 7, 6, 3, 2, 1, 2, 1, 0),         # non-square kernel, stride only along W
]


def _tol(dtype):
    return dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


def _case(geo, dtype):
    N, Ci, Co, H, W, KH, KW, SH, SW, PH, PW = geo
    rng = np.random.default_rng(sum(geo))
    x = rng.standard_normal((N, Ci, H, W)).astype(dtype)                    # (N, C_in, H, W)
    w = rng.standard_normal((Co, Ci, KH, KW)).astype(dtype)
    b = rng.standard_normal(Co).astype(dtype)
    return x, w, b, rng


def _nhwc(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geo", GEOMETRIES)
def test_forward_matches_loops(geo, dtype):
    x, w, b, _ = _case(geo, dtype)
    SH, SW, PH, PW = geo[7:]
    for bias in (b, None):
        want = naive.conv2d(x, w, bias, (SH, SW), (PH, PW))                # (N, C_out, OH, OW)
        y = D.conv2d_forward(_nhwc(x), w, bias, (SH, SW), (PH, PW), want.shape[2:])
        assert y.dtype == dtype and y.shape == (want.shape[0], *want.shape[2:], want.shape[1])
        np.testing.assert_allclose(y.transpose(0, 3, 1, 2), want, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geo", GEOMETRIES)
def test_gradients_match_loops(geo, dtype):
    x, w, _, rng = _case(geo, dtype)
    N, Ci, Co, H, W, KH, KW, SH, SW, PH, PW = geo
    OH, OW = naive.conv2d(x[:1, :, :, :], w, None, (SH, SW), (PH, PW)).shape[2:]
    dy = rng.standard_normal((N, Co, OH, OW)).astype(dtype)
    want_dx, want_dw, _ = naive.conv2d_backward(x, w, dy, (SH, SW), (PH, PW))
    dw = D.conv2d_weight_grad(_nhwc(x), _nhwc(dy), (KH, KW), (SH, SW), (PH, PW))
    assert dw.shape == w.shape and dw.dtype == dtype
    np.testing.assert_allclose(dw, want_dw, **_tol(dtype))
    if (SH, SW) == (1, 1):
        dx = D.conv2d_data_grad(_nhwc(dy), w, (PH, PW), (H, W))
        assert dx.shape == (N, H, W, Ci) and dx.dtype == dtype
        np.testing.assert_allclose(dx.transpose(0, 3, 1, 2), want_dx, **_tol(dtype))


def test_weight_grad_reads_a_gradient_view():
    """A dy that is a transposed view (what a layer receives) gives the same result as a copy."""
    x, w, _, rng = _case(GEOMETRIES[1], np.float32)
    dy = rng.standard_normal((2, 6, 11, 18)).astype(np.float32).transpose(0, 3, 1, 2)   # NCHW view
    want = D.conv2d_weight_grad(_nhwc(x), _nhwc(dy), (3, 3), (1, 1), (1, 1))
    got = D.conv2d_weight_grad(_nhwc(x), dy.transpose(0, 2, 3, 1), (3, 3), (1, 1), (1, 1))
    np.testing.assert_array_equal(got, want)


def test_padded_places_and_crops():
    x = np.arange(2 * 3 * 4 * 2, dtype=np.float32).reshape(2, 3, 4, 2)
    xp = D.padded(x, 1, 2, 6, 7, slack=5)
    assert xp.shape == (2, 6, 7, 2)
    np.testing.assert_array_equal(xp[:, 1:4, 2:6], x)
    assert xp.sum() == x.sum()                                               # zeros everywhere else
    assert (xp.base[-5:] == 0).all()                                         # the slack after the end
    cropped = D.padded(x, -1, -1, 2, 2)                                      # negative offsets drop rows/columns
    np.testing.assert_array_equal(cropped, x[:, 1:3, 1:3])


def test_forward_result_does_not_depend_on_the_block_tail():
    """An output width that is one pixel past a whole number of blocks computes that last pixel too."""
    ow = D.BLOCK + 1
    x, w, b, _ = _case((1, 2, 3, 3, ow, 3, 3, 1, 1, 1, 1), np.float64)
    want = naive.conv2d(x, w, b, (1, 1), (1, 1))
    y = D.conv2d_forward(_nhwc(x), w, b, (1, 1), (1, 1), want.shape[2:])
    np.testing.assert_allclose(y[:, :, -1], want[:, :, :, -1].transpose(0, 2, 1), rtol=1e-12, atol=1e-12)


def test_lanes_and_block():
    assert D.lanes(np.float32) == 16 and D.lanes(np.float64) == 8
    assert D.BLOCK in (4, 8)
