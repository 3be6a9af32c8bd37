"""The residual denoiser's noise predictors: a small U-Net and a DnCNN stack, both fully convolutional.

Every convolution is "same"-padded (``padding = k // 2``), so both networks map ``(N, C_in, H, W)`` to
``(N, C, H, W)``; the U-Net needs H and W divisible by ``2 ** (depth - 1)`` (its max-pools), the DnCNN
takes any size. ``C_in`` is ``C`` plus any extra input channels (a noise-level map).

Without BatchNorm (``batch_norm=False``, the blind denoisers FFDNet, FDnCNN and DRUNet) every
convolution keeps its bias; with it, the convolutions followed by a BatchNorm have none (BN's shift
replaces it). ``unshuffle=r`` wraps the body in :class:`~nnlite.layers.PixelUnshuffle` /
:class:`~nnlite.layers.PixelShuffle` (FFDNet): it runs on ``r^2`` times the channels at ``1/r`` of the
resolution, and H and W must be multiples of ``r`` too.
"""
from __future__ import annotations

import math

from ... import init as _init
from ...layers import BatchNorm2d, Concat, Conv2d, MaxPool2d, PixelShuffle, PixelUnshuffle, ReLU, Sequential, Upsample

__all__ = ["ARCHITECTURES", "INITS", "build_network"]

#: Bodies :class:`~nnlite.models.ResidualDenoiser` can use.
ARCHITECTURES = ("unet", "dncnn")
#: Weight initialisations of :func:`build_network` (``None``: the layers' own, PyTorch's).
INITS = ("orthogonal",)
#: Gain of the last convolution's orthogonal weight: the first noise estimates stay small (about what
#: PyTorch's initialisation gives), so training starts near the identity.
LAST_GAIN = 0.1


def _cbr(c_in, c_out, k, bn, rng, dtype, first=False):
    """Conv 'same' (no bias before a BatchNorm: BN removes it) [- BatchNorm] - ReLU."""
    use_bn = bn and not first
    layers = [Conv2d(c_in, c_out, k, padding=k // 2, bias=not use_bn, dtype=dtype, random_state=rng)]
    if use_bn:
        layers.append(BatchNorm2d(c_out, dtype=dtype))
    layers.append(ReLU())
    return layers


def _unet(c_in, c_out, width, depth, k, bn, rng, dtype):
    """A U-Net of ``depth`` levels, ``width * 2**d`` channels at level ``d`` (resolution ``/ 2**d``):
    two conv-BN-ReLU per level going down, max-pool between levels, nearest upsampling and a skip
    concatenation going up, one conv-BN-ReLU after each concatenation, a last 3x3 conv to ``c_out`` channels."""
    ch = [width * 2 ** d for d in range(depth)]

    def level(c, d, first=False):
        layers = _cbr(c, ch[d], k, bn, rng, dtype, first=first) + _cbr(ch[d], ch[d], k, bn, rng, dtype)
        if d == depth - 1:
            return layers
        inner = Sequential(MaxPool2d(2), *level(ch[d], d + 1), Upsample(scale_factor=2))
        return layers + [Concat(None, inner)] + _cbr(ch[d] + ch[d + 1], ch[d], k, bn, rng, dtype)

    return Sequential(*level(c_in, 0, first=True),
                      Conv2d(ch[0], c_out, k, padding=k // 2, dtype=dtype, random_state=rng))


def _dncnn(c_in, c_out, width, depth, k, bn, rng, dtype):
    """DnCNN (Zhang et al. 2017): conv-ReLU, ``depth - 2`` x conv-BN-ReLU, conv to ``c_out`` channels."""
    layers = _cbr(c_in, width, k, bn, rng, dtype, first=True)
    for _ in range(depth - 2):
        layers += _cbr(width, width, k, bn, rng, dtype)
    layers.append(Conv2d(width, c_out, k, padding=k // 2, dtype=dtype, random_state=rng))
    return Sequential(*layers)


_BUILDERS = {"unet": _unet, "dncnn": _dncnn}


def orthogonal_convs(net, rng):
    """Re-draw every convolution's weight of ``net`` as :func:`nnlite.init.orthogonal` (in the order the
    layers come), biases zero. The gain is ReLU's ``sqrt(2)`` for the hidden convolutions (each feeds a
    ReLU, which halves the second moment) and :data:`LAST_GAIN` for the last (it outputs the noise)."""
    convs = [m for m in net.modules() if isinstance(m, Conv2d)]
    for i, conv in enumerate(convs):
        gain = LAST_GAIN if i == len(convs) - 1 else math.sqrt(2.0)
        w = conv.weight.data
        w[...] = _init.orthogonal(w.shape, gain, rng, w.dtype)                   # (C_out, C_in, kh, kw)
        if conv.bias is not None:
            conv.bias.data.fill(0)


def build_network(architecture, channels, width, depth, kernel_size, batch_norm, rng, dtype, in_channels=None,
                  unshuffle=1, init=None) -> Sequential:
    """The ``architecture`` body (one of :data:`ARCHITECTURES`) for ``channels``-channel images; its
    layers draw their initial weights from ``rng`` in order.

    ``in_channels`` (default ``channels``): channels of the input, e.g. ``channels + 1`` with a noise-level
    map. ``unshuffle=r > 1``: ``PixelUnshuffle(r) - body - PixelShuffle(r)``, the body mapping
    ``in_channels * r^2`` channels to ``channels * r^2``. ``init='orthogonal'``: every convolution's weight
    re-drawn by :func:`orthogonal_convs` after the layers are built (from the same ``rng``).
    """
    c_in = channels if in_channels is None else in_channels
    r = int(unshuffle)
    body = _BUILDERS[architecture](c_in * r * r, channels * r * r, width, depth, kernel_size, batch_norm, rng, dtype)
    net = body if r == 1 else Sequential(PixelUnshuffle(r), body, PixelShuffle(r))
    if init == "orthogonal":
        orthogonal_convs(net, rng)
    elif init is not None:
        raise ValueError(f"build_network: unknown init {init!r}; valid: None, {', '.join(INITS)}")
    return net
