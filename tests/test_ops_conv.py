"""The conv half of nnlite.ops: every op of the fast backend equals its readable twin in
nnlite.ops.reference (forward, input gradient and the gradients it adds into), on random and odd
shapes, strides 1 and 2, symmetric, asymmetric ('same' with an even kernel) and large paddings,
dilation, one input or one output channel, the banded mode, float32 and float64 and non-contiguous
inputs. The fast ops' special modes are checked to have really run.
"""
import inspect

import naive_conv as naive
import numpy as np
import pytest

import nnlite
from nnlite import ops
from nnlite.ops import _fast_conv as F
from nnlite.ops import reference as R

DTYPES = [np.float64, np.float32]


def _tol(dtype):
    return dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-5)


def _rand(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _non_contiguous(x):
    """``x``'s values in an array that is neither C- nor channels-last-contiguous (every other column)."""
    wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
    wide[..., ::2] = x
    return wide[..., ::2]


def _close(got, want, dtype, what):
    np.testing.assert_allclose(got, want, **_tol(dtype), err_msg=f"{what}: fast (got) vs reference (want)")


def test_both_backends_define_every_conv_op_with_one_signature():
    for name in ops._CONV_OPS:
        ref, fast = getattr(R, name), getattr(F, name)
        assert list(inspect.signature(ref).parameters) == list(inspect.signature(fast).parameters), name
    assert set(ops._CONV_OPS) <= set(ops.OPS)


# ------------------------------------------------------------------------------------------- conv2d
CONV_CASES = [  # (C_in, C_out, kernel, stride, ((top, bottom), (left, right)), dilation, x shape, fast mode)
    (3, 4, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), (2, 3, 7, 6), "cols"),
    (3, 5, (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), (2, 3, 9, 8), "cols"),           # stride 2
    (2, 3, (2, 2), (1, 1), ((0, 1), (0, 1)), (1, 1), (1, 2, 5, 5), "cols"),           # 'same', even kernel
    (2, 3, (2, 3), (1, 2), ((1, 1), (0, 0)), (2, 1), (2, 2, 8, 7), "cols"),           # dilation, uneven
    (3, 2, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), (2, 3, 6, 5), "cols"),           # C_out < C_in: flipped dx
    (3, 2, (3, 3), (1, 1), ((3, 3), (3, 3)), (1, 1), (2, 3, 4, 4), "cols"),           # padding > kernel - 1
    (1, 4, (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), (1, 1, 7, 7), "planar"),         # C_in = 1
    (1, 3, (3, 2), (1, 1), ((1, 2), (0, 1)), (1, 2), (2, 1, 6, 5), "planar"),
    (2, 1, (4, 4), (2, 2), ((1, 1), (1, 1)), (1, 1), (2, 2, 8, 9), "one_out"),        # C_out = 1
    (3, 1, (3, 2), (1, 1), ((0, 0), (1, 1)), (2, 1), (1, 3, 7, 6), "one_out"),
    (1, 1, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), (2, 1, 5, 4), "one_out"),
]


def _both(op, x, w, b, args, contiguous=True, seed=0):
    """Run ``op`` (``'conv2d'`` or ``'conv_transpose2d'``) forward and backward on both backends with the same
    inputs and ``dy``; return both (y, dx, dW, db) and the fast backend's record."""
    results, records = [], []
    for backend in (R, F):
        y, ctx = getattr(backend, f"{op}_forward")(x if contiguous else _non_contiguous(x), w, b, *args, {})
        dy = _rand(y.shape, x.dtype, seed + 3)
        dw, db = np.zeros_like(w), None if b is None else np.zeros_like(b)
        dx = getattr(backend, f"{op}_backward")(dy if contiguous else _non_contiguous(dy), ctx, dw, db)
        results.append((y, dx, dw, db))
        records.append(ctx)
    return results, records[1]


def _conv2d_both(case, dtype, bias=True, contiguous=True, seed=0):
    """conv2d of ``case`` on both backends (see :func:`_both`)."""
    cin, cout, k, s, p, d, shape, _ = case
    x = _rand(shape, dtype, seed)
    w = _rand((cout, cin) + k, dtype, seed + 1) * 0.5
    b = _rand((cout,), dtype, seed + 2) if bias else None
    return _both("conv2d", x, w, b, (s, p, d), contiguous, seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}to{c[1]}-k{c[2]}-s{c[3]}-p{c[4]}-d{c[5]}")
def test_conv2d_fast_equals_reference(case, dtype):
    (ref, fast), rec = _conv2d_both(case, dtype)
    assert rec.mode == case[-1], f"fast conv2d ran mode {rec.mode!r}, expected {case[-1]!r}"
    for got, want, what in zip(fast, ref, ("y", "dx", "dW", "db")):
        assert got.shape == want.shape and got.dtype == want.dtype == dtype, what
        _close(got, want, dtype, what)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("case", [CONV_CASES[1], CONV_CASES[6], CONV_CASES[8]], ids=["cols", "planar", "one_out"])
def test_conv2d_non_contiguous_inputs_and_no_bias(case, bias):
    (ref, fast), _ = _conv2d_both(case, np.float32, bias=bias, contiguous=False, seed=7)
    for got, want, what in zip(fast[:3], ref[:3], ("y", "dx", "dW")):
        _close(got, want, np.float32, what)
    assert fast[3] is None and ref[3] is None or bias


def test_conv2d_reference_equals_the_loop_definition():
    x, w, b = _rand((2, 3, 7, 6), np.float64, 0), _rand((4, 3, 3, 2), np.float64, 1), _rand((4,), np.float64, 2)
    y, ctx = R.conv2d_forward(x, w, b, (2, 1), ((1, 1), (0, 0)), (1, 2))
    np.testing.assert_allclose(y, naive.conv2d(x, w, b, (2, 1), (1, 0), (1, 2), y.shape[2:]), rtol=1e-12, atol=1e-12)
    dy = _rand(y.shape, np.float64, 3)
    dw, db = np.zeros_like(w), np.zeros_like(b)
    dx = R.conv2d_backward(dy, ctx, dw, db)
    want_dx, want_dw, want_db = naive.conv2d_backward(x, w, dy, (2, 1), (1, 0), (1, 2))
    for got, want in ((dx, want_dx), (dw, want_dw), (db, want_db)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_conv2d_flipped_kernel_input_gradient_runs_for_stride_1_and_fewer_outputs(monkeypatch):
    """Stride 1 with C_out < C_in computes dx as a convolution of dy (no col2im); stride 2 uses col2im."""
    calls = []
    monkeypatch.setattr(F.K, "col2im_nhwc", lambda *a, f=F.K.col2im_nhwc: calls.append(1) or f(*a))
    _conv2d_both(CONV_CASES[4], np.float64)                  # 3 -> 2 channels, stride 1
    assert calls == []
    _conv2d_both(CONV_CASES[1], np.float64)                  # stride 2
    assert calls == [1]


def test_conv2d_backward_adds_into_the_gradients_and_may_run_twice():
    x, w, b = _rand((2, 3, 6, 6), np.float64, 0), _rand((4, 3, 3, 3), np.float64, 1), _rand((4,), np.float64, 2)
    for backend in (R, F):
        y, ctx = backend.conv2d_forward(x, w, b, (1, 1), ((1, 1), (1, 1)), (1, 1), {})
        dy = _rand(y.shape, np.float64, 3)
        dw, db = np.ones_like(w), np.ones_like(b)
        dx1 = backend.conv2d_backward(dy, ctx, dw, db)
        once = (dw - 1, db - 1)
        dx2 = backend.conv2d_backward(dy, ctx, dw, db)                # a second backward of one forward (GANs)
        np.testing.assert_allclose(dx1, dx2, rtol=1e-12)
        np.testing.assert_allclose(dw - 1, 2 * once[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(db - 1, 2 * once[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_bands_equal_reference(monkeypatch, dtype):
    """Past COLS_BUDGET_BYTES the fast ops build their column matrices a band of rows at a time."""
    monkeypatch.setattr(F, "COLS_BUDGET_BYTES", 200)
    (ref, fast), rec = _conv2d_both(CONV_CASES[1], dtype)
    assert rec.mode == "bands" and rec.band < 2 * rec.y_shape[2]
    for got, want, what in zip(fast, ref, ("y", "dx", "dW", "db")):
        _close(got, want, dtype, what)
    (ref, fast), rec = _conv_transpose2d_both(CONVT_CASES[1], dtype)
    assert rec.mode == "bands"
    for got, want, what in zip(fast, ref, ("y", "dx", "dW", "db")):
        _close(got, want, dtype, what)


# ------------------------------------------------------------------------------------------- conv_transpose2d
CONVT_CASES = [  # (C_in, C_out, kernel, stride, padding, output_padding, dilation, x shape, fast mode)
    (2, 3, (3, 3), (1, 1), (0, 0), (0, 0), (1, 1), (2, 2, 4, 3), "cols"),
    (3, 2, (3, 3), (2, 2), (1, 1), (1, 1), (1, 1), (2, 3, 4, 5), "cols"),     # the decoders' x2 block
    (2, 1, (3, 3), (2, 2), (1, 1), (1, 1), (1, 1), (2, 2, 3, 4), "planar"),   # C_out = 1
    (2, 2, (2, 3), (2, 1), (0, 1), (1, 0), (1, 2), (2, 2, 3, 3), "cols"),     # dilation, uneven
    (1, 2, (4, 4), (2, 2), (1, 1), (0, 0), (1, 1), (2, 1, 3, 3), "cols"),     # C_in = 1
    (2, 2, (3, 3), (1, 1), (1, 1), (1, 1), (2, 2), (1, 2, 4, 4), "cols"),     # output_padding < dilation
]


def _conv_transpose2d_both(case, dtype, contiguous=True, seed=0):
    """conv_transpose2d of ``case`` on both backends (see :func:`_both`)."""
    cin, cout, k, s, p, op, d, shape, _ = case
    x = _rand(shape, dtype, seed)
    w, b = _rand((cin, cout) + k, dtype, seed + 1) * 0.5, _rand((cout,), dtype, seed + 2)
    return _both("conv_transpose2d", x, w, b, (s, p, op, d), contiguous, seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONVT_CASES, ids=lambda c: f"{c[0]}to{c[1]}-k{c[2]}-s{c[3]}-p{c[4]}-op{c[5]}-d{c[6]}")
def test_conv_transpose2d_fast_equals_reference(case, dtype):
    (ref, fast), rec = _conv_transpose2d_both(case, dtype)
    assert rec.mode == case[-1]
    for got, want, what in zip(fast, ref, ("y", "dx", "dW", "db")):
        assert got.shape == want.shape and got.dtype == want.dtype == dtype, what
        _close(got, want, dtype, what)


def test_conv_transpose2d_non_contiguous_inputs():
    (ref, fast), _ = _conv_transpose2d_both(CONVT_CASES[1], np.float32, contiguous=False, seed=5)
    for got, want, what in zip(fast, ref, ("y", "dx", "dW", "db")):
        _close(got, want, np.float32, what)


def test_reference_conv_transpose_is_the_adjoint_of_conv():
    """<conv(x), y> = <x, conv_transpose(y)> with one weight: the transposed conv is conv's input gradient."""
    x, y = _rand((2, 3, 8, 7), np.float64, 0), _rand((2, 4, 4, 4), np.float64, 1)
    w = _rand((4, 3, 3, 3), np.float64, 2)
    conv_x, _ = R.conv2d_forward(x, w, None, (2, 2), ((1, 1), (1, 1)), (1, 1))
    convt_y, _ = R.conv_transpose2d_forward(y, w, None, (2, 2), (1, 1), (1, 0), (1, 1))
    assert convt_y.shape == x.shape
    assert np.isclose(np.sum(conv_x * y), np.sum(x * convt_y), rtol=1e-12)


# ------------------------------------------------------------------------------------------- batch norm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape,contiguous", [((40, 3), True), ((1200, 5), True), ((37, 4), False)])
def test_batch_norm_fast_equals_reference(dtype, training, shape, contiguous):
    M, C = shape
    x = _rand(shape, dtype, 0) * 3 + 1
    x = x if contiguous else np.asfortranarray(x)           # a (N, C) batch seen through a transpose
    gamma, beta = _rand((C,), dtype, 1), _rand((C,), dtype, 2)
    stats = {} if training else dict(mean=_rand((C,), dtype, 3), var=np.abs(_rand((C,), dtype, 4)) + 0.5)
    out = []
    for backend in (R, F):
        y, mean, var, ctx = backend.batch_norm_forward(x, gamma, beta, 1e-5, **stats)
        dgamma, dbeta = np.zeros_like(gamma), np.zeros_like(beta)
        dx = backend.batch_norm_backward(_rand(shape, dtype, 5), ctx, dgamma, dbeta)
        out.append((y, mean, var, dx, dgamma, dbeta))
    for got, want, what in zip(out[1], out[0], ("y", "mean", "var", "dx", "dgamma", "dbeta")):
        _close(np.asarray(got), np.asarray(want), dtype, what)
    assert out[1][0].dtype == out[0][0].dtype == out[1][3].dtype == dtype
    if training:
        np.testing.assert_allclose(out[0][1], x.astype(np.float64).mean(axis=0), rtol=1e-12)


def test_batch_norm_without_affine_gradients():
    x, g = _rand((20, 3), np.float64, 0), _rand((20, 3), np.float64, 1)
    ones, zeros = np.ones(3), np.zeros(3)
    dxs = [b.batch_norm_backward(g, b.batch_norm_forward(x, ones, zeros, 1e-5)[3]) for b in (R, F)]
    _close(dxs[1], dxs[0], np.float64, "dx")
    np.testing.assert_allclose(dxs[0].sum(axis=0), 0, atol=1e-12)     # the batch mean's path removes the mean


# ------------------------------------------------------------------------------------------- pooling
POOL_CASES = [((2, 2), (2, 2), (0, 0), (2, 3, 6, 6)), ((3, 3), (2, 2), (1, 1), (1, 2, 7, 5)),
              ((2, 3), (1, 2), (0, 1), (2, 1, 5, 7)), ((3, 2), (1, 1), (1, 0), (1, 4, 4, 5))]


def _distinct(shape, dtype, seed=0):
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n).reshape(shape) / n * 4 - 2).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("contiguous", [True, False])
@pytest.mark.parametrize("k,s,p,shape", POOL_CASES)
def test_max_pool2d_fast_equals_reference(k, s, p, shape, contiguous, dtype):
    x = _distinct(shape, dtype)                              # no ties: one maximum per window
    x_in = x if contiguous else _non_contiguous(x)
    out = []
    for backend in (R, F):
        y, ctx = backend.max_pool2d_forward(x_in, k, s, p)
        out.append((y, backend.max_pool2d_backward(_rand(y.shape, dtype, 1), ctx)))
    np.testing.assert_array_equal(out[1][0], out[0][0])
    _close(out[1][1], out[0][1], dtype, "dx")
    want, _ = naive.maxpool2d(x.astype(np.float64), *k, *s, *p)
    np.testing.assert_array_equal(out[0][0], want.astype(dtype))


def test_max_pool2d_ties_go_to_the_first_maximum_on_both_backends():
    x = np.zeros((1, 1, 2, 2))
    for backend in (R, F):
        y, ctx = backend.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
        dx = backend.max_pool2d_backward(np.ones_like(y), ctx)
        np.testing.assert_array_equal(dx[0, 0], [[1, 0], [0, 0]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("k,s,p,shape", POOL_CASES)
def test_avg_pool2d_fast_equals_reference(k, s, p, shape, count_include_pad, dtype):
    x = _non_contiguous(_rand(shape, dtype, 0))
    out = []
    for backend in (R, F):
        y, ctx = backend.avg_pool2d_forward(x, k, s, p, count_include_pad)
        out.append((y, backend.avg_pool2d_backward(_rand(y.shape, dtype, 1), ctx)))
    for got, want, what in zip(out[1], out[0], ("y", "dx")):
        _close(got, want, dtype, what)
    want = naive.avgpool2d(x.astype(np.float64), *k, *s, *p, count_include_pad)
    _close(out[0][0], want, dtype, "reference y vs loops")


# ------------------------------------------------------------------------------------------- upsampling, concat
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,out_hw", [((2, 3, 4, 5), (8, 10)), ((1, 2, 5, 7), (8, 11)), ((2, 1, 3, 2), (3, 5))])
def test_upsample_nearest2d_fast_equals_reference(shape, out_hw, dtype):
    from nnlite.layers.upsample import nearest_source_index

    src_h = nearest_source_index(shape[2], out_hw[0], None)
    src_w = nearest_source_index(shape[3], out_hw[1], None)
    x = _non_contiguous(_rand(shape, dtype, 0))
    out = []
    for backend in (R, F):
        y, ctx = backend.upsample_nearest2d_forward(x, src_h, src_w)
        out.append((y, backend.upsample_nearest2d_backward(_rand(y.shape, dtype, 1), ctx)))
    np.testing.assert_array_equal(out[1][0], out[0][0])
    np.testing.assert_array_equal(out[0][0], naive.upsample_nearest(x, *out_hw))
    _close(out[1][1], out[0][1], dtype, "dx")
    assert np.isclose(out[0][1].sum(), _rand(out[0][0].shape, dtype, 1).sum(), rtol=1e-5)   # every copy summed back


@pytest.mark.parametrize("dtype", DTYPES)
def test_concat_channels_fast_equals_reference(dtype):
    parts = [_rand((2, c, 3, 4), dtype, c) for c in (1, 3, 2)]
    parts[1] = _non_contiguous(parts[1])
    ref, fast = R.concat_channels(parts), F.concat_channels(parts)
    np.testing.assert_array_equal(fast, ref)
    assert fast.shape == (2, 6, 3, 4) and fast.transpose(0, 2, 3, 1).flags.c_contiguous


# ------------------------------------------------------------------------------------------- layers on the reference
@pytest.mark.parametrize("make,shape", [
    (lambda: nnlite.Conv2d(3, 4, 3, stride=2, padding=1, random_state=0), (2, 3, 6, 5)),
    (lambda: nnlite.Conv2d(2, 3, 2, padding="same", dilation=2, random_state=0), (1, 2, 5, 5)),
    (lambda: nnlite.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1, random_state=0), (2, 3, 3, 4)),
    (lambda: nnlite.BatchNorm2d(3), (4, 3, 3, 2)),
    (lambda: nnlite.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (1, 2, 5, 6)),
    (lambda: nnlite.Upsample(scale_factor=2), (2, 2, 3, 2)),
    (lambda: nnlite.Concat(None, nnlite.Sequential(nnlite.MaxPool2d(2), nnlite.Upsample(scale_factor=2))),
     (1, 2, 4, 4)),
])
def test_layers_gradcheck_on_the_reference_backend(make, shape):
    x = _distinct(shape, np.float64, seed=3)
    with ops.using("reference"):
        layer = make()
        result = nnlite.gradcheck(layer, x)
    assert ops.backend() == "fast"
    assert result.max_rel_error < 1e-7, f"\n{result}"
