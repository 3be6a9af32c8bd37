"""A convolutional VAE: conv encoder to ``(mu, logvar)``, transposed-conv decoder, Bernoulli likelihood
(summed BCE on logits) or Gaussian (summed squared error over a fixed or learned variance) + KL; the
reparameterisation and KL gradients of :mod:`nnlite.models.vae`."""
from __future__ import annotations

import numpy as np

from ...layers import Conv2d, ConvTranspose2d, Dense, Flatten, Reshape, Sequential, Sigmoid, get_activation
from ...layers.activations import parse_activation
from ...module import Parameter
from .._base import BaseModel
from ..vae import VAE, gaussian_nll, gaussian_nll_backward
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
    KL derivatives of :mod:`nnlite.models.vae`), the denoising ELBO with ``noise=`` included: only the
    networks differ, and the likelihood may be Gaussian.

    With ``likelihood='gaussian'`` the decoder's sigmoid output is the mean of
    :math:`p(x|z) = \mathcal N(\hat x, \sigma^2 I)` and the reconstruction term is
    :func:`nnlite.models.vae.gaussian_nll` (its gradient derived there):

    .. math::
        \mathrm{recon} = \sum_j \frac{(\hat x_j - x_j)^2}{2\sigma^2} + \frac n2 \log(2\pi\sigma^2)

    ``output_variance=0.5`` makes it the summed squared error (plus a constant), the loss of the usual
    PyTorch conv-VAE of faces; ``output_variance='learned'`` learns :math:`\log\sigma^2` as one more
    parameter (``output_logvar_``), with :math:`\partial L/\partial\log\sigma^2 =
    \frac1B\sum_{ij}\big[\frac12 - (\hat x_{ij} - x_{ij})^2 / 2\sigma^2\big]`.

    The five-layer network of 64x64 colour faces is ``ConvVAE(latent_dim=128, channels=(32, 64, 128, 256,
    512), likelihood='gaussian', activation='leaky_relu:0.2')``: five stride-2 convs take 64x64 to 2x2
    and five stride-2 transposed convs bring it back.

    Parameters
    ----------
    latent_dim : int, default 16
    channels : tuple of int, default (32, 64)
        Channels after each stride-2 conv (image sides must be multiples of ``2 ** len(channels)``).
    hidden : int, default 256
        Width of the dense layer between the feature maps and the code (0: none).
    beta : float, default 1.0
    activation : str, default 'relu'
        After every hidden conv and dense layer (any name of ``nnlite.layers.ACTIVATIONS`` but softmax;
        ``'leaky_relu:0.2'`` gives LeakyReLU a slope of 0.2, plain ``'leaky_relu'`` has 0.01).
    likelihood : {'bernoulli', 'gaussian'}, default 'bernoulli'
        The decoder's distribution: Bernoulli pixels (summed BCE; data in [0, 1]) or Gaussian (above).
    output_variance : float or 'learned', default 0.5
        The Gaussian's :math:`\sigma^2` (unused with 'bernoulli').
    noise, noise_level
        As :class:`~nnlite.models.VAE`: a denoising VAE when ``noise`` is given.
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
                 lr=1e-3, epochs=None, batch_size=128, lr_schedule="cosine", dtype=np.float32, random_state=None,
                 likelihood="bernoulli", output_variance=0.5, noise=None, noise_level=0.1):
        BaseModel.__init__(self)
        self.likelihood = likelihood
        self.output_variance = output_variance
        self.noise = noise
        self.noise_level = noise_level
        self.decoder_activation = None
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
        parse_activation(self._name(), self.activation)
        self._check_training()
        self._check_vae_options()
        self._check_choice("likelihood", self.likelihood, ("bernoulli", "gaussian"))
        v = self.output_variance
        if not (isinstance(v, str) and v == "learned") and not (
                isinstance(v, (int, float, np.floating)) and not isinstance(v, bool) and np.isfinite(v) and v > 0):
            raise ValueError(f"{self._name()}: output_variance must be a number > 0 or 'learned', got {v!r}")

    def _gaussian(self):
        return self.likelihood.lower() == "gaussian"

    def _check_data_range(self, X):
        if not self._gaussian():
            super()._check_data_range(X)

    def _build(self, n_features, rng):
        C, H, W = self.image_shape_
        act, alpha = parse_activation(self._name(), self.activation)
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
                    get_activation(self.activation)]
            c_in = c
        enc.append(Flatten())
        if hid:
            enc.append(Dense(n_feat, hid, act, alpha=alpha, dtype=dtype, random_state=rng))
        enc.append(Dense(hid or n_feat, 2 * m, "identity", dtype=dtype, random_state=rng))
        dec = []
        if hid:
            dec.append(Dense(m, hid, act, alpha=alpha, dtype=dtype, random_state=rng))
        dec += [Dense(hid or m, n_feat, act, alpha=alpha, dtype=dtype, random_state=rng), Reshape(feat)]
        for c in list(chans[-2::-1]) + [C]:
            dec += [ConvTranspose2d(c_in, c, _KERNEL, stride=_STRIDE, padding=_PADDING, dtype=dtype,
                                    random_state=rng), get_activation(self.activation)]
            c_in = c
        dec[-1] = Flatten()
        self.encoder_ = Sequential(*enc)
        self.decoder_ = Sequential(*dec, Sigmoid())
        if self._gaussian() and self.output_variance == "learned":
            self.output_logvar_ = Parameter(np.zeros(1), dtype=dtype)       # log sigma^2, starts at sigma^2 = 1
        elif "output_logvar_" in vars(self):                                 # refitted with a fixed variance
            del self.output_logvar_

    def _output_logvar(self):
        if "output_logvar_" in vars(self):
            return self.output_logvar_.data
        return float(np.log(self.output_variance))

    def _recon_forward(self, logits, X):
        if not self._gaussian():
            return super()._recon_forward(logits, X)
        return float(np.sum(gaussian_nll(logits, X, self._output_logvar())))

    def _recon_backward(self, logits, X, scale):
        if not self._gaussian():
            return super()._recon_backward(logits, X, scale)
        dlogits, dx, dlogvar = gaussian_nll_backward(logits, X, self._output_logvar())
        if "output_logvar_" in vars(self):
            self.output_logvar_.grad += dlogvar * float(scale)
        return dlogits * scale, dx * scale

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
