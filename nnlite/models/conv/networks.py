"""The residual denoiser's noise predictors: a small U-Net and a DnCNN stack, both fully convolutional.

Every convolution is "same"-padded (``padding = k // 2``), so both networks map ``(N, C, H, W)`` to
``(N, C, H, W)``; the U-Net needs H and W divisible by ``2 ** (depth - 1)`` (its max-pools), the DnCNN
takes any size.
"""
from __future__ import annotations

from ...layers import BatchNorm2d, Concat, Conv2d, MaxPool2d, ReLU, Sequential, Upsample

__all__ = ["ARCHITECTURES", "build_network"]

#: Bodies :class:`~nnlite.models.ResidualDenoiser` can use.
ARCHITECTURES = ("unet", "dncnn")


def _cbr(c_in, c_out, k, bn, rng, dtype, first=False):
    """Conv 'same' (no bias before a BatchNorm: BN removes it) [- BatchNorm] - ReLU."""
    use_bn = bn and not first
    layers = [Conv2d(c_in, c_out, k, padding=k // 2, bias=not use_bn, dtype=dtype, random_state=rng)]
    if use_bn:
        layers.append(BatchNorm2d(c_out, dtype=dtype))
    layers.append(ReLU())
    return layers


def _unet(C, width, depth, k, bn, rng, dtype):
    """A U-Net of ``depth`` levels, ``width * 2**d`` channels at level ``d`` (resolution ``/ 2**d``):
    two conv-BN-ReLU per level going down, max-pool between levels, nearest upsampling and a skip
    concatenation going up, one conv-BN-ReLU after each concatenation, a last 3x3 conv to ``C`` channels."""
    ch = [width * 2 ** d for d in range(depth)]

    def level(c_in, d, first=False):
        c = ch[d]
        layers = _cbr(c_in, c, k, bn, rng, dtype, first=first) + _cbr(c, c, k, bn, rng, dtype)
        if d == depth - 1:
            return layers
        inner = Sequential(MaxPool2d(2), *level(c, d + 1), Upsample(scale_factor=2))
        return layers + [Concat(None, inner)] + _cbr(c + ch[d + 1], c, k, bn, rng, dtype)

    return Sequential(*level(C, 0, first=True), Conv2d(ch[0], C, k, padding=k // 2, dtype=dtype, random_state=rng))


def _dncnn(C, width, depth, k, bn, rng, dtype):
    """DnCNN (Zhang et al. 2017): conv-ReLU, ``depth - 2`` x conv-BN-ReLU, conv to ``C`` channels."""
    layers = _cbr(C, width, k, bn, rng, dtype, first=True)
    for _ in range(depth - 2):
        layers += _cbr(width, width, k, bn, rng, dtype)
    layers.append(Conv2d(width, C, k, padding=k // 2, dtype=dtype, random_state=rng))
    return Sequential(*layers)


_BUILDERS = {"unet": _unet, "dncnn": _dncnn}


def build_network(architecture, channels, width, depth, kernel_size, batch_norm, rng, dtype) -> Sequential:
    """The ``architecture`` body (one of :data:`ARCHITECTURES`) for ``channels``-channel images; its
    layers draw their initial weights from ``rng`` in order."""
    return _BUILDERS[architecture](channels, width, depth, kernel_size, batch_norm, rng, dtype)
