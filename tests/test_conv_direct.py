"""The register-blocked direct conv kernels (nnlite.ops._kernels.conv_direct) equal the loop twins of
tests/naive_conv.py: forward, data gradient (stride 1) and weight gradient, in float32 and float64.

The shapes are chosen against the blocking: odd H and W, W not a multiple of the pixel block, channel
counts that are not multiples of the vector width (3, 17, 18: a partial last block of output
channels and of input channels in the weight gradient), batch 1, stride 2, padding 0 to 2 (2 is more
than a 3x3 kernel's half: the flipped-kernel data gradient then crops its input), 1x1, 4x4 and
non-square kernels.
"""
import os

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


# ------------------------------------------------------------------------------------------- through the fast op
# (C_in, C_out, kernel, stride, ((top, bottom), (left, right)), x shape): shapes the fast backend runs in
# mode 'direct' (C_out >= 8, a row at least one pixel block wide)
OP_CASES = [
    (3, 16, (3, 3), (1, 1), ((1, 1), (1, 1)), (2, 3, 9, 11)),              # C_in < 8: data gradient by col2im
    (9, 8, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 9, 8, 13)),               # direct data gradient
    (8, 17, (3, 3), (1, 1), ((0, 1), (0, 1)), (2, 8, 7, 12)),              # asymmetric ('same', even total)
    (4, 12, (4, 4), (2, 2), ((1, 1), (1, 1)), (2, 4, 18, 20)),             # stride 2: data gradient by col2im
    (16, 8, (1, 1), (1, 1), ((0, 0), (0, 0)), (2, 16, 3, 9)),              # 1x1
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("case", OP_CASES, ids=lambda c: f"{c[0]}to{c[1]}-k{c[2]}-s{c[3]}-p{c[4]}")
def test_fast_op_runs_direct_and_equals_reference(case, bias, dtype):
    from nnlite.ops import _fast_conv as F
    from nnlite.ops import reference as R

    cin, cout, k, s, p, shape = case
    rng = np.random.default_rng(cin * 100 + cout)
    x = rng.standard_normal(shape).astype(dtype)
    w = (rng.standard_normal((cout, cin) + k) * 0.3).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype) if bias else None
    outs = []
    for backend in (R, F):
        y, rec = backend.conv2d_forward(x, w, b, s, p, (1, 1), {})
        dy = np.random.default_rng(7).standard_normal(y.shape).astype(dtype)
        dw, db = np.zeros_like(w), (np.zeros_like(b) if bias else None)
        dx = backend.conv2d_backward(dy, rec, dw, db)
        outs.append((y, dx, dw, db))
    assert rec.mode == "direct", f"fast conv2d ran mode {rec.mode!r}"
    for got, want, what in zip(outs[1], outs[0], ("y", "dx", "dW", "db")):
        if want is None:
            assert got is None
            continue
        assert got.shape == want.shape and got.dtype == dtype, what
        np.testing.assert_allclose(got, want, err_msg=what, **_tol(dtype))


def test_direct_conv_crossovers():
    from nnlite.ops import _fast_conv as F

    wide = D.BLOCK
    assert F.direct_conv(16, 16, 28, (1, 1), (1, 1), np.float32)
    assert not F.direct_conv(16, 4, 28, (1, 1), (1, 1), np.float32)      # fewer output channels than DIRECT_MIN_OUT
    assert not F.direct_conv(16, 16, wide - 1, (1, 1), (1, 1), np.float32)   # narrower than one pixel block
    assert not F.direct_conv(16, 16, 28, (1, 1), (2, 2), np.float32)     # dilation
    assert not F.direct_conv(64, 128, 12, (1, 1), (1, 1), np.float32)    # many channels on a short row
    assert F.direct_conv(64, 128, 24, (1, 1), (1, 1), np.float32)        # the same on a long row
    assert F.direct_conv(96, 32, 14, (2, 2), (1, 1), np.float32)
    assert not F.direct_conv(16, 16, 28, (1, 1), (1, 1), np.float16)
    assert not F.direct_conv(1, 16, 28, (1, 1), (1, 1), np.float32)       # one input channel: the planar path


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1",
                    reason="thousands of forward passes: too slow as plain Python (the kernels are checked above)")
@pytest.mark.parametrize("stride", [1, 2])
def test_conv2d_layer_gradcheck_through_direct_kernels(stride):
    """float64 gradient check of Conv2d (input, weight and bias) on shapes the fast op runs directly."""
    import nnlite
    from nnlite.layers import Conv2d
    from nnlite.ops import _fast_conv as F

    layer = Conv2d(8, 9, 3, stride=stride, padding=1, dtype=np.float64, random_state=0)
    x = np.random.default_rng(100).standard_normal((2, 8, 5, 17))         # 17: two pixel blocks and a tail
    _, rec = F.conv2d_forward(x, layer.weight.data, layer.bias.data, (stride, stride), ((1, 1), (1, 1)),
                              (1, 1), {})
    assert rec.mode == "direct"
    result = nnlite.gradcheck(layer, x, eps=1e-4)                         # linear in x and W: no truncation error,
    assert result.max_rel_error < 1e-7, f"\n{result}"                     # a larger step shrinks the rounding error
    assert "input" in result.errors


def test_fast_op_reuses_its_workspace_across_shapes():
    """One workspace (a layer's) through a larger, a smaller and the larger shape again: the padded
    buffers it keeps are grown or cut to each shape, and every result equals a fresh computation."""
    from nnlite.ops import _fast_conv as F

    rng = np.random.default_rng(3)
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    ws = {}
    for shape in ((2, 8, 9, 17), (1, 8, 5, 9), (2, 8, 9, 17)):
        x = rng.standard_normal(shape).astype(np.float32)
        y, rec = F.conv2d_forward(x, w, None, (1, 1), ((1, 1), (1, 1)), (1, 1), ws)
        y0, rec0 = F.conv2d_forward(x, w, None, (1, 1), ((1, 1), (1, 1)), (1, 1), None)
        assert rec.mode == rec0.mode == "direct"
        np.testing.assert_array_equal(y, y0)
        dy = rng.standard_normal(y.shape).astype(np.float32)
        dw, dw0 = np.zeros_like(w), np.zeros_like(w)
        np.testing.assert_array_equal(F.conv2d_backward(dy, rec, dw), F.conv2d_backward(dy, rec0, dw0))
        np.testing.assert_array_equal(dw, dw0)
    assert "direct_x" in ws and "direct_g" in ws
