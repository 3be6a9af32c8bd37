"""A convolutional VAE: conv encoder to ``(mu, logvar)``, transposed-conv decoder, Bernoulli likelihood
(summed BCE on logits) + KL; the reparameterisation and KL gradients of :mod:`nnlite.models.vae`."""
from __future__ import annotations

import numpy as np

from ...layers import Conv2d, ConvTranspose2d, Dense, Flatten, Reshape, Sequential, Sigmoid, get_activation
from ...losses import BCEWithLogitsLoss
from .._base import HIDDEN_ACTIVATIONS, BaseModel
from ..vae import VAE
from ._image_model import _check_channels, _StridedImageModel

__all__ = ["ConvVAE"]

#: Every conv of the encoder halves H and W exactly and every transposed conv doubles them:
#: ``(H + 2 * 1 - 4) / 2 + 1 = H / 2``.
_KERNEL, _STRIDE, _PADDING = 4, 2, 1


class ConvVAE(_StridedImageModel, VAE):
    r"""A convolutional VAE: conv encoder to ``(mu, logvar)``, transposed-conv decoder, Bernoulli pixels.

    With ``channels=(32, 64)``, ``hidden=256`` on ``(C, H, W)`` images (H, W multiples of 4)::

        encoder_: Conv2d(C, 32, 4, s2, p1) - ReLU - Conv2d(32, 64, 4, s2, p1) - ReLU - Flatten
                  - Dense(64*H/4*W/4, 256, relu) - Dense(256, 2*latent_dim)            -> [mu | logvar]
        decoder_: Dense(latent_dim, 256, relu) - Dense(256, 64*H/4*W/4, relu) - Reshape(64, H/4, W/4)
                  - ConvTranspose2d(64, 32, 4, s2, p1) - ReLU - ConvTranspose2d(32, C, 4, s2, p1)
                  - Flatten - Sigmoid

    Loss, gradients, sampling and interpolation are those of :class:`~nnlite.models.VAE` (negative ELBO
    = summed BCE on the decoder's logits + beta * KL, averaged over the batch; the reparameterisation and
    KL derivatives of :mod:`nnlite.models.vae`): only the networks differ.

    Parameters
    ----------
    latent_dim : int, default 16
    channels : tuple of int, default (32, 64)
        Channels after each stride-2 conv (image sides must be multiples of ``2 ** len(channels)``).
    hidden : int, default 256
        Width of the dense layer between the feature maps and the code (0: none).
    beta : float, default 1.0
    activation : str, default 'relu'
        After every hidden conv and dense layer (any name of ``nnlite.layers.ACTIVATIONS`` but softmax).
    optimizer, lr, epochs, batch_size, lr_schedule, dtype, random_state
        As :class:`~nnlite.models.VAE`; batch 128 by default. ``epochs=None``: about 3000 optimizer steps.

    Attributes
    ----------
    encoder_, decoder_ : nnlite.Sequential
    image_shape_, input_shape_, history_ ('loss', 'recon', 'kl', 'elbo'), loss_curve_ : as the VAE
    """

    _default_batch_size = 128
    _min_epochs = 3

    def __init__(self, latent_dim=16, channels=(32, 64), hidden=256, beta=1.0, activation="relu", optimizer="adam",
                 lr=1e-3, epochs=None, batch_size=128, lr_schedule="cosine", dtype=np.float32, random_state=None):
        BaseModel.__init__(self)
        self.latent_dim = latent_dim
        self.channels = channels
        self.hidden = hidden
        self.activation = activation
        self.beta = beta
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr_schedule = lr_schedule
        self.dtype = dtype
        self.random_state = random_state

    def _validate_params(self):
        self._check_int("latent_dim", self.latent_dim)
        _check_channels(self._name(), self.channels)
        self._check_int("hidden", self.hidden, low=0)
        self._check_positive("beta", self.beta, allow_zero=True)
        self._check_choice("activation", self.activation, HIDDEN_ACTIVATIONS)
        self._check_training()

    def _build(self, n_features, rng):
        C, H, W = self.image_shape_
        act = self.activation.lower()
        chans = _check_channels(self._name(), self.channels)
        f = 2 ** len(chans)
        feat = (chans[-1], H // f, W // f)
        n_feat = int(np.prod(feat))
        m, hid = int(self.latent_dim), int(self.hidden)
        dtype = np.dtype(self.dtype)
        enc = [Reshape(self.image_shape_)]
        c_in = C
        for c in chans:
            enc += [Conv2d(c_in, c, _KERNEL, stride=_STRIDE, padding=_PADDING, dtype=dtype, random_state=rng),
                    get_activation(act)]
            c_in = c
        enc.append(Flatten())
        if hid:
            enc.append(Dense(n_feat, hid, act, dtype=dtype, random_state=rng))
        enc.append(Dense(hid or n_feat, 2 * m, "identity", dtype=dtype, random_state=rng))
        dec = []
        if hid:
            dec.append(Dense(m, hid, act, dtype=dtype, random_state=rng))
        dec += [Dense(hid or m, n_feat, act, dtype=dtype, random_state=rng), Reshape(feat)]
        for c in list(chans[-2::-1]) + [C]:
            dec += [ConvTranspose2d(c_in, c, _KERNEL, stride=_STRIDE, padding=_PADDING, dtype=dtype,
                                    random_state=rng), get_activation(act)]
            c_in = c
        dec[-1] = Flatten()
        self.encoder_ = Sequential(*enc)
        self.decoder_ = Sequential(*dec, Sigmoid())
        self._bce = BCEWithLogitsLoss(reduction="sum")

    def interpolate(self, x_a, x_b, n=8):
        """``n`` images decoded along the straight line between the posterior means of two images.

        ``x_a``, ``x_b``: single images (one sample's shape as in ``fit``). Returns ``(n, *input_shape_)``.
        """
        self._check_fitted()
        n = self._check_int("n", n, low=2)
        pair = np.stack([np.asarray(x_a), np.asarray(x_b)])
        mu = self.transform(pair)                                  # (2, latent_dim)
        t = np.linspace(0.0, 1.0, n, dtype=mu.dtype)[:, None]
        return self.decode((1 - t) * mu[0] + t * mu[1])
