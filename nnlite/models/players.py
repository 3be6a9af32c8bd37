"""The two players of a GAN: generators (codes -> flat samples) and discriminators (flat samples -> logits).

Every builder returns a :class:`~nnlite.Sequential` that works on flat samples ``(N, n_features)``, so
:class:`~nnlite.models.GAN` and :class:`~nnlite.models.AdversarialDenoiser` treat an MLP player and a
convolutional one alike. A discriminator outputs one **logit** per sample, shape ``(N, 1)``, with no
sigmoid: the losses of :mod:`nnlite.losses` take logits.

* MLP: :func:`mlp_generator`, :func:`mlp_discriminator`;
* DCGAN-style (Radford et al., 2016), for images whose height and width are multiples of 4:
  :func:`dcgan_generator`, :func:`dcgan_discriminator`.
"""
from __future__ import annotations

import math

import numpy as np

from ..layers import Dense, Dropout, Flatten, Reshape, Sequential
from ..layers.activations import LeakyReLU, ReLU, Sigmoid, Tanh
from ..random import as_generator, spawn

__all__ = ["ARCHITECTURES", "LEAKY_SLOPE", "mlp_generator", "mlp_discriminator", "dcgan_generator",
           "dcgan_discriminator"]

#: Names of the built-in players.
ARCHITECTURES = ("mlp", "dcgan")

#: LeakyReLU slope of the players, as in DCGAN.
LEAKY_SLOPE = 0.2

#: The DCGAN players go from (H/4, W/4) to (H, W) in two stride-2 (transposed) convolutions.
_DCGAN_SCALE = 4


def mlp_generator(latent_dim, n_features, hidden=(256, 512), negative_slope=LEAKY_SLOPE, output_activation="tanh",
                  random_state=None, dtype=np.float32) -> Sequential:
    """``z -> Dense(h1, LeakyReLU) -> ... -> Dense(n_features, tanh|sigmoid)``."""
    rng = as_generator(random_state)
    sizes = (latent_dim, *hidden)
    layers = [Dense(a, b, activation="leaky_relu", alpha=negative_slope, dtype=dtype, random_state=rng)
              for a, b in zip(sizes[:-1], sizes[1:])]
    layers.append(Dense(sizes[-1], n_features, activation=output_activation, dtype=dtype, random_state=rng))
    layers[0].needs_input_grad = False          # nobody needs dL/dz
    return Sequential(*layers)


def mlp_discriminator(n_features, hidden=(512, 256), negative_slope=LEAKY_SLOPE, dropout=0.3, random_state=None,
                      dtype=np.float32) -> Sequential:
    """``x -> Dense(h1, LeakyReLU) [-> Dropout] -> ... -> Dense(1)`` (a logit; no sigmoid)."""
    rng = as_generator(random_state)
    drop_rng = spawn(rng)
    sizes = (n_features, *hidden)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers.append(Dense(a, b, activation="leaky_relu", alpha=negative_slope, dtype=dtype, random_state=rng))
        if dropout > 0:
            layers.append(Dropout(dropout, random_state=drop_rng))
    layers.append(Dense(sizes[-1], 1, activation=None, dtype=dtype, random_state=rng))
    return Sequential(*layers)


def _image_geometry(input_shape):
    """``(C, H, W)`` of samples of ``input_shape`` for the DCGAN players (H and W multiples of 4).

    ``input_shape`` is one sample's shape: ``(H, W)`` (grey), ``(C, H, W)``, or ``(H*W,)`` for flat
    square grey images.
    """
    if len(input_shape) == 2:
        c, (h, w) = 1, input_shape
    elif len(input_shape) == 3:
        c, h, w = input_shape
    elif len(input_shape) == 1 and math.isqrt(input_shape[0]) ** 2 == input_shape[0]:
        c, h = 1, math.isqrt(input_shape[0])
        w = h
    else:
        raise ValueError(f"GAN: the 'dcgan' players need image samples (N, H, W) or (N, C, H, W) (or flat square "
                         f"grey images), got samples of shape {tuple(input_shape)}")
    if h % _DCGAN_SCALE or w % _DCGAN_SCALE:
        raise ValueError(f"GAN: the 'dcgan' players upsample {_DCGAN_SCALE}x from (H/{_DCGAN_SCALE}, "
                         f"W/{_DCGAN_SCALE}): H and W must be multiples of {_DCGAN_SCALE}, got {h}x{w}")
    return c, h, w


def dcgan_generator(latent_dim, input_shape, channels=64, output_activation="tanh", random_state=None,
                    dtype=np.float32) -> Sequential:
    """DCGAN-style: ``z -> Dense(2c*H/4*W/4, ReLU) -> (2c, H/4, W/4) -> ConvT(c, 4, s2) -> BN -> ReLU
    -> ConvT(C, 4, s2) -> tanh -> flat``. Convolutions followed by batch norm have no bias (BN's beta
    replaces it; a bias there would get a zero gradient), as in PyTorch's DCGAN example."""
    from ..layers.conv import ConvTranspose2d
    from ..layers.norm import BatchNorm2d

    rng = as_generator(random_state)
    c, h, w = _image_geometry(input_shape)
    h4, w4 = h // _DCGAN_SCALE, w // _DCGAN_SCALE
    first = Dense(latent_dim, 2 * channels * h4 * w4, activation="relu", dtype=dtype, random_state=rng)
    first.needs_input_grad = False
    out_act = Tanh() if output_activation == "tanh" else Sigmoid()
    return Sequential(
        first, Reshape((2 * channels, h4, w4)),                                               # (N, 2c, H/4, W/4)
        ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1, bias=False, dtype=dtype, random_state=rng),
        BatchNorm2d(channels, dtype=dtype), ReLU(),                                          # (N, c, H/2, W/2)
        ConvTranspose2d(channels, c, 4, stride=2, padding=1, dtype=dtype, random_state=rng),  # (N, C, H, W)
        out_act, Flatten())                                                                  # (N, C*H*W)


def dcgan_discriminator(input_shape, channels=64, negative_slope=LEAKY_SLOPE, random_state=None,
                        dtype=np.float32) -> Sequential:
    """DCGAN-style: ``flat -> (C, H, W) -> Conv(c, 4, s2) -> LeakyReLU -> Conv(2c, 4, s2) -> BN -> LeakyReLU
    -> Dense(1)``."""
    from ..layers.conv import Conv2d
    from ..layers.norm import BatchNorm2d

    rng = as_generator(random_state)
    c, h, w = _image_geometry(input_shape)
    h4, w4 = h // _DCGAN_SCALE, w // _DCGAN_SCALE
    return Sequential(
        Reshape((c, h, w)),
        Conv2d(c, channels, 4, stride=2, padding=1, dtype=dtype, random_state=rng),               # (N, c, H/2, W/2)
        LeakyReLU(negative_slope),
        Conv2d(channels, 2 * channels, 4, stride=2, padding=1, bias=False, dtype=dtype,
               random_state=rng),                                                                 # (N, 2c, H/4, W/4)
        BatchNorm2d(2 * channels, dtype=dtype), LeakyReLU(negative_slope), Flatten(),
        Dense(2 * channels * h4 * w4, 1, activation=None, dtype=dtype, random_state=rng))
