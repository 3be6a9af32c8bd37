"""Conv layers: forward equals the slow loop definition, backward passes gradcheck (float64, rel. error
< 1e-7, w.r.t. the input and every parameter), and bad shapes/arguments raise errors that name the layer.

Gradient checks stay away from kinks: MaxPool inputs have distinct values (no ties), and no ReLU is
involved except in the end-to-end check, whose pre-activations are checked to be away from 0.
"""
import re

import naive_conv as naive
import numpy as np
import pytest

import nnlite
from nnlite import (
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Concat,
    Conv2d,
    ConvTranspose2d,
    MaxPool2d,
    Residual,
    Sequential,
    Tanh,
    Upsample,
)

TOL = 1e-7
FAST = nnlite.ops.backend() == "fast"          # the fast backend's outputs are channels-last in memory
fast_only = pytest.mark.skipif(not FAST, reason="bands are a mode of the fast backend")


def _x(shape, seed=100):
    # seed differs from gradcheck's projection seed (0) so that R is not the input itself
    return np.random.default_rng(seed).standard_normal(shape)


def _check(module, x, tol=TOL, eps=1e-6):
    result = nnlite.gradcheck(module, x, eps=eps)
    assert result.max_rel_error < tol, f"\n{result}"
    assert "input" in result.errors
    return result


# ------------------------------------------------------------------------------------------- Conv2d
CONV_CASES = [  # (C_in, C_out, kernel, stride, padding, dilation, x shape)
    (2, 3, 3, 1, 0, 1, (2, 2, 6, 5)),
    (1, 4, 3, 2, 1, 1, (1, 1, 7, 7)),             # batch 1, one input channel (planar path), stride 2
    (3, 2, (3, 2), (2, 1), (1, 0), (2, 1), (2, 3, 8, 6)),  # non-square, dilation 2
    (2, 2, 3, 1, "same", 1, (2, 2, 5, 4)),
    (2, 3, 2, 1, "same", 2, (1, 2, 5, 5)),        # even kernel, dilation 2 ('same' pads 1 before, 1 after)
    (2, 1, 4, 2, 1, 1, (2, 2, 8, 9)),             # one output channel (direct kernel)
    (3, 1, (3, 2), 1, (0, 1), (2, 1), (1, 3, 7, 6)),   # one output channel, stride 1, dilation 2
    (1, 1, 3, 1, 1, 1, (2, 1, 5, 4)),             # one channel in and out
    (3, 2, 3, 1, 1, 1, (2, 3, 6, 5)),             # stride 1, C_out < C_in: dx as a conv of dy (flipped kernel)
    (4, 2, (3, 2), 1, (2, 0), (2, 1), (1, 4, 7, 6)),   # ... with dilation, uneven padding
    (3, 2, 3, 1, 3, 1, (2, 3, 4, 4)),             # ... padding > kernel - 1 (negative padding of the dx conv)
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_forward_matches_loops(case):
    cin, cout, k, s, p, d, shape = case
    conv = Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, dtype=np.float64, random_state=1)
    x = _x(shape)
    y = conv(x)
    pad = tuple(before for before, _ in conv._pads)
    want = naive.conv2d(x, conv.weight.data, conv.bias.data, conv.stride, pad, conv.dilation, y.shape[2:])
    assert y.shape == conv.output_shape(x.shape)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    if p == "same":
        assert y.shape[2:] == x.shape[2:]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_gradcheck(case):
    cin, cout, k, s, p, d, shape = case
    _check(Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, random_state=2), _x(shape))


def test_conv2d_float32_matches_float64_and_no_bias():
    conv = Conv2d(3, 4, 3, stride=2, padding=1, bias=False, random_state=0)
    assert conv.bias is None and conv.weight.dtype == np.float32
    x = _x((2, 3, 9, 9)).astype(np.float32)
    y32 = conv(x)
    assert y32.dtype == np.float32
    want = naive.conv2d(x, conv.weight.data, None, (2, 2), (1, 1))
    np.testing.assert_allclose(y32, want, rtol=1e-5, atol=1e-5)
    _check(Conv2d(3, 4, 3, stride=2, padding=1, bias=False, random_state=0), _x((1, 3, 5, 5)))


@pytest.mark.parametrize("cin,cout,k,s,p,bias", [
    (3, 1, 3, 1, 1, True), (3, 1, 4, 2, 1, False),        # one output channel: the direct kernel
    (5, 2, 3, 1, 1, True), (5, 3, (3, 2), 1, (2, 0), False),   # stride 1, C_out < C_in: dx as a conv of dy
])
def test_conv2d_fast_paths_float32_match_loops(cin, cout, k, s, p, bias):
    """The float32 forward and all three gradients of each special path against the loop definition."""
    conv = Conv2d(cin, cout, k, stride=s, padding=p, bias=bias, random_state=4)
    x = _x((2, cin, 7, 6)).astype(np.float32)
    y = conv(x)
    want = naive.conv2d(x, conv.weight.data, conv.bias.data if bias else None, conv.stride, _pad_before(conv),
                        conv.dilation, y.shape[2:])
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    dy = _x(y.shape, seed=5).astype(np.float32)
    dx = conv.backward(dy)
    assert dx.dtype == np.float32 and (dx.transpose(0, 2, 3, 1).flags.c_contiguous or not FAST)
    want_dx, want_dw, want_db = naive.conv2d_backward(x, conv.weight.data, dy, conv.stride, _pad_before(conv),
                                                      conv.dilation)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(conv.weight.grad, want_dw, rtol=1e-5, atol=1e-4)
    if bias:
        np.testing.assert_allclose(conv.bias.grad, want_db, rtol=1e-5, atol=1e-4)


def _pad_before(conv):
    return tuple(before for before, _ in conv._pads)


# ------------------------------------------------------------------------------------------- ConvTranspose2d
CONVT_CASES = [  # (C_in, C_out, kernel, stride, padding, output_padding, dilation, x shape)
    (2, 3, 3, 1, 0, 0, 1, (2, 2, 4, 3)),
    (3, 2, 3, 2, 1, 1, 1, (1, 3, 4, 4)),          # the DAE decoder block (7 -> 14 shape pattern), batch 1
    (2, 1, 3, 2, 1, 1, 1, (2, 2, 3, 4)),          # one output channel (planar path)
    (2, 2, (2, 3), (2, 1), (0, 1), (1, 0), (1, 2), (2, 2, 3, 3)),  # non-square, dilation on W
    (1, 2, 4, 2, 1, 0, 1, (2, 1, 3, 3)),
]


@pytest.mark.parametrize("case", CONVT_CASES)
def test_conv_transpose2d_forward_matches_loops(case):
    cin, cout, k, s, p, op, d, shape = case
    m = ConvTranspose2d(cin, cout, k, stride=s, padding=p, output_padding=op, dilation=d, dtype=np.float64,
                        random_state=3)
    x = _x(shape)
    y = m(x)
    want = naive.conv_transpose2d(x, m.weight.data, m.bias.data, m.stride, m.padding, m.output_padding, m.dilation)
    assert y.shape == want.shape == m.output_shape(x.shape)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CONVT_CASES)
def test_conv_transpose2d_gradcheck(case):
    cin, cout, k, s, p, op, d, shape = case
    _check(ConvTranspose2d(cin, cout, k, stride=s, padding=p, output_padding=op, dilation=d, random_state=4),
           _x(shape))


def test_conv_transpose_is_the_adjoint_of_conv():
    """<conv(x), y> == <x, conv_transpose(y)> with shared weights and no bias."""
    conv = Conv2d(3, 4, 3, stride=2, padding=1, bias=False, dtype=np.float64, random_state=0)
    convt = ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1, bias=False, dtype=np.float64)
    convt.weight.data[...] = conv.weight.data
    x, y = _x((2, 3, 8, 8)), _x((2, 4, 4, 4), seed=7)
    assert np.isclose(np.sum(conv(x) * y), np.sum(x * convt(y)), rtol=1e-12)


def test_pytorch_default_init_bounds_and_seeding():
    a, b = Conv2d(8, 16, 3, random_state=5), Conv2d(8, 16, 3, random_state=5)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    bound = 1 / np.sqrt(8 * 9)
    assert np.abs(a.weight.data).max() <= bound and np.abs(a.weight.data).max() > 0.9 * bound
    assert np.abs(a.bias.data).max() <= bound
    t = ConvTranspose2d(8, 16, 3, random_state=5)           # PyTorch's fan_in: weight.shape[1] * KH * KW
    assert np.abs(t.weight.data).max() <= 1 / np.sqrt(16 * 9)
    assert t.weight.shape == (8, 16, 3, 3) and a.weight.shape == (16, 8, 3, 3)


def test_conv_layers_match_torch_when_installed():
    torch = pytest.importorskip("torch")
    x = _x((2, 3, 9, 8))
    conv = Conv2d(3, 5, 3, stride=2, padding=1, dilation=2, dtype=np.float64, random_state=0)
    ref = torch.nn.Conv2d(3, 5, 3, stride=2, padding=1, dilation=2).double()
    convt = ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1, dtype=np.float64, random_state=0)
    reft = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1).double()
    for ours, theirs in ((conv, ref), (convt, reft)):
        theirs.weight.data = torch.tensor(ours.weight.data)
        theirs.bias.data = torch.tensor(ours.bias.data)
        tx = torch.tensor(x, requires_grad=True)
        ty = theirs(tx)
        y = ours(x)
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
        dy = _x(y.shape, seed=9)
        dx = ours.backward(dy)
        ty.backward(torch.tensor(dy))
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_backward_adds_into_grad_and_outputs_are_channels_last():
    conv = Conv2d(2, 3, 3, padding=1, dtype=np.float64, random_state=0)
    x = _x((2, 2, 5, 5))
    dy = _x((2, 3, 5, 5), seed=1)
    conv(x)
    conv.backward(dy)
    g1 = conv.weight.grad.copy()
    y = conv(x)
    conv.backward(dy)
    np.testing.assert_allclose(conv.weight.grad, 2 * g1, rtol=1e-12)
    assert y.transpose(0, 2, 3, 1).flags.c_contiguous or not FAST           # NCHW view of an NHWC buffer
    dx1 = conv.backward(dy)                     # a second backward after one forward (GAN-style reuse)
    np.testing.assert_allclose(conv.weight.grad, 3 * g1, rtol=1e-12)
    np.testing.assert_allclose(dx1, naive_dx(conv, dy), rtol=1e-10, atol=1e-12)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        Conv2d(2, 3, 3).backward(dy)


def naive_dx(conv, dy):
    """dL/dx of a stride-1 conv by its definition: the 'full' correlation of dy with the flipped kernel."""
    w = conv.weight.data
    flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)                     # (C_in, C_out, KH, KW)
    p = w.shape[2] - 1 - conv.padding[0]
    return naive.conv2d(dy, flipped, None, (1, 1), (p, p))


# ------------------------------------------------------------------------------------------- pooling / upsample
def _distinct(shape, seed=0):
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) / n * 4 - 2


@pytest.mark.parametrize("k,s,p,shape", [(2, None, 0, (2, 3, 6, 6)), (3, 2, 1, (1, 2, 7, 5)), ((2, 3), (1, 2), 0, (2, 1, 5, 7))])
def test_maxpool2d_forward_and_gradcheck(k, s, p, shape):
    pool = MaxPool2d(k, stride=s, padding=p)
    x = _distinct(shape)
    ks, ss, ps = pool.kernel_size, pool.stride, pool.padding
    want, _ = naive.maxpool2d(x, *ks, *ss, *ps)
    np.testing.assert_array_equal(pool(x), want)
    _check(pool, x)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("k,s,p,shape", [(2, None, 0, (2, 3, 6, 6)), (3, 2, 1, (1, 2, 7, 5))])
def test_avgpool2d_forward_and_gradcheck(k, s, p, shape, count_include_pad):
    pool = AvgPool2d(k, stride=s, padding=p, count_include_pad=count_include_pad)
    x = _x(shape)
    want = naive.avgpool2d(x, *pool.kernel_size, *pool.stride, *pool.padding, count_include_pad)
    np.testing.assert_allclose(pool(x), want, rtol=1e-12, atol=1e-14)
    _check(pool, x)


@pytest.mark.parametrize("kwargs,shape,out_hw", [(dict(scale_factor=2), (2, 3, 4, 5), (8, 10)),
                                                 (dict(scale_factor=(3, 1)), (1, 2, 3, 3), (9, 3)),
                                                 (dict(size=(6, 4)), (2, 1, 3, 2), (6, 4))])
def test_upsample_forward_and_gradcheck(kwargs, shape, out_hw):
    up = Upsample(**kwargs)
    x = _x(shape)
    y = up(x)
    assert y.shape[2:] == out_hw
    np.testing.assert_array_equal(y, naive.upsample_nearest(x, *out_hw))
    _check(up, x)


def test_upsample_matches_torch_on_a_fractional_scale():
    torch = pytest.importorskip("torch")
    x = _x((1, 2, 5, 7))
    y = Upsample(scale_factor=1.7)(x)
    ref = torch.nn.Upsample(scale_factor=1.7, mode="nearest")(torch.tensor(x)).numpy()
    np.testing.assert_array_equal(y, ref)


# ------------------------------------------------------------------------------------------- batch norm
def test_batchnorm2d_train_forward_running_stats_and_gradcheck():
    bn = BatchNorm2d(3, dtype=np.float64)
    bn.weight.data[...] = [0.5, 1.5, -2.0]
    bn.bias.data[...] = [0.1, -0.2, 0.3]
    x = _x((4, 3, 3, 5)) * 2 + 1
    y = bn(x)
    np.testing.assert_allclose(y, naive.batchnorm_train(x, bn.weight.data, bn.bias.data, 1e-5), rtol=1e-12, atol=1e-12)
    M = 4 * 3 * 5
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3)) * M / (M - 1)   # unbiased, as PyTorch
    np.testing.assert_allclose(bn.running_mean, 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * var, rtol=1e-12)
    assert int(bn.num_batches_tracked) == 1
    assert set(bn.state_dict()) == {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}
    _check(bn, x)


def test_batchnorm2d_eval_uses_running_stats_and_gradchecks():
    bn = BatchNorm2d(2, dtype=np.float64)
    bn.running_mean[...] = [0.5, -1.0]
    bn.running_var[...] = [2.0, 0.25]
    bn.eval()
    x = _x((2, 2, 3, 3))
    want = (x - bn.running_mean[None, :, None, None]) / np.sqrt(bn.running_var[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(bn(x), want, rtol=1e-12)
    before = bn.running_mean.copy()
    _check(bn, x)
    np.testing.assert_array_equal(bn.running_mean, before)


def test_batchnorm1d_2d_and_3d_inputs_gradcheck():
    for shape in ((6, 4), (3, 4, 5)):
        bn = BatchNorm1d(4, dtype=np.float64)
        bn.weight.data[...] = [1.0, -0.5, 2.0, 0.7]
        x = _x(shape) * 3
        y = bn(x)
        axes = (0,) if len(shape) == 2 else (0, 2)
        np.testing.assert_allclose(y.mean(axis=axes), bn.bias.data, atol=1e-12)
        _check(bn, x)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        BatchNorm1d(4)(np.ones((1, 4)))


def test_batchnorm_momentum_none_is_cumulative_average():
    bn = BatchNorm2d(1, momentum=None, dtype=np.float64)
    xs = [_x((2, 1, 2, 2), seed=s) for s in range(3)]
    for x in xs:
        bn(x)
    np.testing.assert_allclose(bn.running_mean, np.mean([x.mean() for x in xs]), rtol=1e-12)


# ------------------------------------------------------------------------------------------- skip connections
def test_residual_forward_and_gradcheck():
    body = Sequential(Conv2d(2, 3, 3, padding=1, random_state=0), Tanh(), Conv2d(3, 2, 3, padding=1, random_state=1))
    res = Residual(body)
    x = _x((2, 2, 5, 4))
    np.testing.assert_allclose(res(x), x + body(x), rtol=1e-6)
    r = _check(res, x)
    assert {"body.0.weight", "body.2.bias"} <= set(r.errors)


def test_residual_with_projection_shortcut_gradcheck():
    res = Residual(Conv2d(2, 4, 3, stride=2, padding=1, random_state=0), shortcut=Conv2d(2, 4, 1, stride=2, random_state=1))
    _check(res, _x((2, 2, 6, 6)))
    with pytest.raises(ValueError, match="Residual: body\\(x\\) has shape"):
        Residual(Conv2d(2, 4, 3, padding=1))(np.zeros((1, 2, 5, 5), np.float32))


def test_concat_unet_skip_forward_and_gradcheck():
    inner = Sequential(MaxPool2d(2), Conv2d(2, 3, 3, padding=1, random_state=0), Tanh(), Upsample(scale_factor=2))
    cat = Concat(None, inner)
    x = _distinct((2, 2, 4, 6), seed=3)
    y = cat(x)
    assert y.shape == (2, 5, 4, 6)
    np.testing.assert_array_equal(y[:, :2], x)
    np.testing.assert_array_equal(y[:, 2:], inner(x))
    assert y.transpose(0, 2, 3, 1).flags.c_contiguous or not FAST           # channels-last, as a conv's output
    r = _check(cat, x)
    assert "1.1.weight" in r.errors
    with pytest.raises(ValueError, match="agree on every axis"):
        Concat(None, MaxPool2d(2))(np.zeros((1, 1, 4, 4)))
    mixed = Concat(None, None)(np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3))   # identity twice
    np.testing.assert_array_equal(mixed, np.concatenate([np.arange(6).reshape(1, 1, 2, 3)] * 2, axis=1))
    rows = Concat(None, None, dim=2)(x)                                      # another axis: np.concatenate
    np.testing.assert_array_equal(rows, np.concatenate([x, x], axis=2))


def test_small_unet_and_dncnn_build_and_gradcheck():
    unet = Sequential(
        Conv2d(1, 3, 3, padding=1, random_state=0), Tanh(),
        Concat(None, Sequential(AvgPool2d(2), Conv2d(3, 4, 3, padding=1, random_state=1), Tanh(),
                                Upsample(scale_factor=2))),
        Conv2d(7, 1, 3, padding=1, random_state=2))
    x = _x((2, 1, 4, 4))
    assert unet(x).shape == x.shape
    _check(unet, x)
    # no bias before a BatchNorm (DnCNN's choice): BN removes it, its true gradient is exactly 0 and a
    # relative error of round-off against 0 means nothing. Batch 4: with 2 images the BN statistics make
    # some weight gradients cancel to ~1e-6 of the largest, where round-off dominates.
    dncnn = Residual(Sequential(Conv2d(1, 4, 3, padding=1, bias=False, random_state=3), BatchNorm2d(4), Tanh(),
                                Conv2d(4, 1, 3, padding=1, random_state=4)))
    _check(dncnn, _x((4, 1, 4, 4)))


def test_end_to_end_conv_dae_gradcheck_away_from_relu_kinks():
    net = Sequential(Conv2d(1, 3, 3, stride=2, padding=1, random_state=0), nnlite.ReLU(),
                     Conv2d(3, 4, 3, stride=2, padding=1, random_state=1), nnlite.ReLU(),
                     ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1, random_state=2), nnlite.ReLU(),
                     ConvTranspose2d(3, 1, 3, stride=2, padding=1, output_padding=1, random_state=3),
                     nnlite.Sigmoid())
    x = _x((2, 1, 8, 8))
    # Four layers deep, some input gradients are ~1e-5 of the largest; with eps = 1e-6 float64 round-off
    # alone gives them relative errors ~1e-6, so this check uses eps = 1e-4 (truncation error O(eps^2)
    # stays far below). Every ReLU input is > 20 * eps away from 0, so no perturbation crosses a kink.
    eps = 1e-4
    h = x
    for layer in Sequential(*[m for m in net]).double():
        if isinstance(layer, nnlite.ReLU):
            assert np.abs(h).min() > 20 * eps
        h = layer(h)
    _check(net, x, eps=eps)


# ------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("layer,x,match", [
    (Conv2d(3, 8, 3), np.zeros((2, 3, 8)), r"Conv2d\(3, 8.*expects a 4-D input, got shape \(2, 3, 8\)"),
    (Conv2d(3, 8, 3), np.zeros((2, 1, 8, 8)), r"Conv2d\(3, 8.*expects 3 channels.*got input of shape \(2, 1, 8, 8\)"),
    (ConvTranspose2d(4, 2, 3), np.zeros((2, 3, 5, 5)), r"ConvTranspose2d\(4, 2.*expects 4 channels.*\(2, 3, 5, 5\)"),
    (Conv2d(1, 2, 5), np.zeros((1, 1, 3, 3)), r"Conv2d.*smaller than the \(dilated\) kernel"),
    (MaxPool2d(2), np.zeros((4, 4)), r"MaxPool2d\(kernel_size=\(2, 2\).*expects a 4-D input"),
    (BatchNorm2d(3), np.zeros((2, 4, 5, 5)), r"BatchNorm2d\(3.*expects 3 channels"),
    (Upsample(2), np.zeros((2, 3)), r"Upsample\(scale_factor.*expects a 4-D input"),
])
def test_shape_errors_name_the_layer_and_shapes(layer, x, match):
    with pytest.raises(ValueError, match=match):
        layer(x)


@pytest.mark.parametrize("make,match", [
    (lambda: Conv2d(3, 8, 0), r"Conv2d: kernel_size must be >= 1, got 0"),
    (lambda: Conv2d(3, 8, 3, stride=0), r"stride must be >= 1, got 0"),
    (lambda: Conv2d(3, 8, 3, padding=-1), r"padding must be >= 0, got -1"),
    (lambda: Conv2d(3, 8, 3, padding="full"), r"padding must be .*'same'; got 'full'"),
    (lambda: Conv2d(3, 8, 3, stride=2, padding="same"), r"padding='same' needs stride=1"),
    (lambda: Conv2d(0, 8, 3), r"in_channels must be an int >= 1, got 0"),
    (lambda: ConvTranspose2d(3, 8, 3, stride=2, output_padding=2), r"output_padding must satisfy 0 <= output_padding < max\(stride, dilation\) = 2"),
    (lambda: MaxPool2d(2, padding=2), r"padding must be at most half the kernel size"),
    (lambda: Upsample(scale_factor=2, mode="bicubic"), r"unknown mode 'bicubic'; valid modes: nearest"),
    (lambda: Upsample(), r"exactly one of scale_factor and size"),
    (lambda: BatchNorm2d(3, momentum=1.5), r"momentum must be in \[0, 1\]"),
])
def test_bad_constructor_arguments_name_argument_value_and_range(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_state_dict_round_trip_and_float64_cast():
    net = Sequential(Conv2d(1, 2, 3, random_state=0), BatchNorm2d(2), ConvTranspose2d(2, 1, 3, random_state=1))
    state = net.state_dict()
    assert "1.running_var" in state and "0.weight" in state
    other = Sequential(Conv2d(1, 2, 3, random_state=9), BatchNorm2d(2), ConvTranspose2d(2, 1, 3, random_state=8))
    other.load_state_dict(state)
    x = _x((2, 1, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(net.eval()(x), other.eval()(x))
    y64 = other.double()(x.astype(np.float64))
    assert y64.dtype == np.float64


@fast_only
def test_huge_inputs_run_in_bands_with_the_same_results(monkeypatch):
    """Past COLS_BUDGET_BYTES the layers build their column matrices a band of rows at a time (a whole
    photo through 64 channels would need gigabytes): same outputs and gradients, and still gradchecked."""
    import nnlite.ops._fast_conv as conv_mod  # the budget both fast conv ops read
    import nnlite.ops._kernels.conv as kernels
    x = _x((2, 3, 7, 6))
    layers = [Conv2d(3, 4, 3, stride=2, padding=1, dtype=np.float64, random_state=0),
              ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1, dtype=np.float64, random_state=1)]
    for layer in layers:
        y_full = layer(x)
        dy = _x(y_full.shape, seed=4)
        layer.zero_grad()
        dx_full = layer.backward(dy)
        g_full = (layer.weight.grad.copy(), layer.bias.grad.copy())
        monkeypatch.setattr(conv_mod, "COLS_BUDGET_BYTES", 1)          # one row of the column matrix per band
        bands = []                                                     # col2im of a band: only the banded path
        monkeypatch.setattr(kernels, "col2im_nhwc_add",
                            lambda *a, f=kernels.col2im_nhwc_add, seen=bands: seen.append(1) or f(*a))
        y = layer(x)
        layer.zero_grad()
        dx = layer.backward(dy)
        np.testing.assert_allclose(y, y_full, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dx, dx_full, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.weight.grad, g_full[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.bias.grad, g_full[1], rtol=1e-12, atol=1e-12)
        assert len(bands) > 1, f"{type(layer).__name__} did not work in bands"
        _check(layer, _x((1, 3, 4, 5)))
        monkeypatch.undo()


def test_conv_layers_keep_their_import_paths():
    """ConvTranspose2d lives in nnlite.layers.conv_transpose and is still importable from nnlite.layers.conv."""
    import pickle

    import nnlite
    from nnlite.layers import conv, conv_transpose
    from nnlite.layers.conv import Conv2d, ConvTranspose2d
    from nnlite.ops._fast_conv import COLS_BUDGET_BYTES

    assert ConvTranspose2d is conv_transpose.ConvTranspose2d is nnlite.ConvTranspose2d
    assert Conv2d is nnlite.Conv2d and conv.__all__ == ["Conv2d", "ConvTranspose2d"]
    assert COLS_BUDGET_BYTES == 64 * 2**20
    layer = ConvTranspose2d(2, 3, 3, stride=2, random_state=0)
    x = _x((1, 2, 4, 4)).astype(np.float32)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(layer))(x), layer(x))


@pytest.mark.parametrize("make", [
    lambda: nnlite.Conv2d(2, 3, 3, padding=1, random_state=0),
    lambda: nnlite.ConvTranspose2d(2, 3, 3, stride=2, random_state=0),
    lambda: nnlite.MaxPool2d(2),
    lambda: nnlite.AvgPool2d(2),
    lambda: nnlite.Upsample(scale_factor=2),
    lambda: nnlite.BatchNorm2d(2),
    lambda: nnlite.layers.PixelUnshuffle(2),
    lambda: nnlite.layers.PixelShuffle(1),
], ids=["Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "Upsample", "BatchNorm2d", "PixelUnshuffle",
        "PixelShuffle"])
def test_backward_checks_dy_against_the_last_forward(make):
    """Every image layer refuses a backward before any forward, and a dy whose shape is not the output's,
    with the layer's name and both shapes."""
    layer = make()
    name = type(layer).__name__
    with pytest.raises(RuntimeError, match=f"{name}.backward called before forward"):
        layer.backward(np.zeros((2, 2, 4, 4)))
    y = layer(np.random.default_rng(0).random((2, 2, 4, 4)))
    wrong = y.shape[:-1] + (y.shape[-1] + 1,)
    with pytest.raises(ValueError, match=re.escape(f"{name}.backward expects dy of the output shape {y.shape}, got {wrong}")):
        layer.backward(np.zeros(wrong))
    assert layer.backward(np.ones_like(y)).shape == (2, 2, 4, 4)
