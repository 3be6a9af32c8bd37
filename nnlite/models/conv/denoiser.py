r"""The flagship denoiser: a fully convolutional network that predicts the *noise* ``n(y)`` of a noisy
image ``y`` and returns ``y - n(y)`` (residual learning, DnCNN of Zhang et al. 2017); body a small
U-Net (default) or a DnCNN stack (:mod:`nnlite.models.conv.networks`); any image size at inference,
big photos in overlapping tiles.

With ``x`` the clean image, ``y`` the noisy one and ``\hat x = y - n_\theta(y)``: the loss
``L = \frac1D \sum (\hat x - x)^2`` gives ``dL/d\hat x = \frac2D (\hat x - x)``, and since ``\hat x``
depends on ``\theta`` only through ``-n_\theta(y)``, ``dL/dn = -dL/d\hat x`` is what is fed into the
body's backward.
"""
from __future__ import annotations

import numbers

import numpy as np

from ...images.layout import _check_images, from_nchw
from ...images.tiling import _pad_to_multiple, apply_blocks
from ...losses import MSELoss
from ...random import as_generator
from .._base import BaseModel, NotFittedError
from ..autoencoder import _ResetGenerator
from ._image_model import _check_noise_args, _ImageModel
from .networks import ARCHITECTURES, build_network

__all__ = ["ResidualDenoiser"]


class ResidualDenoiser(_ImageModel, BaseModel):
    r"""The flagship denoiser: a fully convolutional network ``n_theta`` that predicts the noise of an image.

    .. math::
        \hat x = y - n_\theta(y), \qquad L = \frac{1}{N C H W} \sum (\hat x - x)^2

    for a noisy batch ``y`` and its clean version ``x`` (residual learning, as DnCNN: the network only
    has to model the noise, the image passes through the identity). The body ``n_theta`` is

    * ``'unet'`` (default): a U-Net of ``depth`` levels with ``width, 2*width, ...`` channels, BatchNorm,
      max-pool down, nearest upsampling and skip concatenations up; its receptive field covers a
      Fashion-MNIST image at ``depth=3``;
    * ``'dncnn'``: ``depth`` 3x3 convolutions of ``width`` channels with BatchNorm (DnCNN).

    Every layer is "same"-padded, so the model works on images of any size at inference
    (:meth:`denoise`): U-Net inputs are reflect-padded at the bottom/right to a multiple of
    ``2**(depth-1)`` and cropped back; images larger than ``tile`` pixels a side are processed in
    overlapping tiles with a margin wider than the receptive field, so the result equals a
    whole-image pass (up to float rounding) while memory stays bounded.

    Parameters
    ----------
    noise : {'gaussian', 'salt_and_pepper', 'bit_flip', 'masking'} or callable, default 'gaussian'
    noise_level : float, default 0.5
        As :class:`ConvDenoisingAutoencoder`. Fresh noise for every batch.
    architecture : {'unet', 'dncnn'}, default 'unet'
    width : int, default 16
        Channels of the first level (U-Net) or of every hidden layer (DnCNN).
    depth : int or None, default None
        Levels of the U-Net (default 3) or conv layers of the DnCNN (default 10).
    kernel_size : int (odd), default 3
    batch_norm : bool, default True
    clip : bool, default True
        Clip the denoised images to [0, 1] at inference (never during training).
    optimizer, lr, epochs, batch_size, lr_schedule, dtype, random_state
        As the other models; defaults Adam, 2e-3 with cosine decay, batch 64. ``epochs=None`` trains
        for about 4000 optimizer steps (at least 3 epochs).

    Attributes
    ----------
    net_ : nnlite.Sequential
        The noise predictor ``n_theta`` (NCHW in, NCHW out).
    image_shape_, input_shape_ : tuple
        What ``fit`` saw (``denoise`` accepts other sizes).
    history_, loss_curve_, n_epochs_, n_iter_, batch_size_ : as the other models

    Examples
    --------
    >>> den = ResidualDenoiser(noise="gaussian", noise_level=0.5, random_state=0).fit(X_train)  # doctest: +SKIP
    >>> photo_denoised = den.denoise(noisy_photo)         # (H, W, 3) or (H, W): any size      # doctest: +SKIP
    """

    _default_steps = 4000
    _min_epochs = 3
    _default_batch_size = 64
    _margin = 32           # tile margin (pixels), > the receptive radius of the default networks

    def __init__(self, noise="gaussian", noise_level=0.5, architecture="unet", width=16, depth=None,
                 kernel_size=3, batch_norm=True, clip=True, optimizer="adam", lr=2e-3, epochs=None, batch_size=64,
                 lr_schedule="cosine", dtype=np.float32, random_state=None):
        super().__init__()
        self.noise = noise
        self.noise_level = noise_level
        self.architecture = architecture
        self.width = width
        self.depth = depth
        self.kernel_size = kernel_size
        self.batch_norm = batch_norm
        self.clip = clip
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr_schedule = lr_schedule
        self.dtype = dtype
        self.random_state = random_state

    # ------------------------------------------------------------------ building
    def _depth(self):
        if self.depth is not None:
            return int(self.depth)
        return 3 if self.architecture == "unet" else 10

    @property
    def _size_multiple(self):
        return 2 ** (self._depth() - 1) if self.architecture == "unet" else 1

    def _validate_params(self):
        _check_noise_args(self)
        self._check_choice("architecture", self.architecture, ARCHITECTURES)
        self._check_int("width", self.width)
        low = 1 if self.architecture == "unet" else 2
        self._check_int("depth", self.depth, low=low, allow_none=True)
        k = self.kernel_size
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1 or k % 2 == 0:
            raise ValueError(f"{self._name()}: kernel_size must be an odd int >= 1, got {k!r}")
        for flag in ("batch_norm", "clip"):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise ValueError(f"{self._name()}: {flag} must be True or False, got {getattr(self, flag)!r}")
        self._check_training()

    def _check_fitted(self):
        if not hasattr(self, "net_"):
            raise NotFittedError(f"This {self._name()} instance is not fitted yet. Call 'fit' with appropriate "
                                 "data before using this method.")

    def _build(self, n_features, rng):
        C = self.image_shape_[0]
        arch = "unet" if self.architecture == "unet" else "dncnn"
        self.net_ = build_network(arch, C, int(self.width), self._depth(), int(self.kernel_size), bool(self.batch_norm),
                                  rng, np.dtype(self.dtype))
        self._loss = MSELoss()

    def _check_data_range(self, X):
        pass

    # ------------------------------------------------------------------ loss and gradients
    def _loss_forward_backward(self, y, x, backward=True):
        """MSE of ``y - net_(y)`` against ``x`` (both ``(N, C, H, W)``); adds gradients; returns ``(L, dL/dy)``."""
        n_hat = self.net_(y)                                     # (N, C, H, W) predicted noise
        x_hat = y - n_hat                                        # denoised
        value = self._loss.forward(x_hat, x)
        if not backward:
            return value, None
        g = self._loss.backward()                                # dL/dx_hat
        dy_body = self.net_.backward(-g)                         # dL/dn = -dL/dx_hat
        return value, g + dy_body                                # x_hat = y - n(y): identity path + body

    def loss_and_grad(self, X_noisy, X_clean):
        """Loss of the denoised ``X_noisy`` against ``X_clean`` and its gradients.

        Adds ``dL/dparam`` into every parameter's ``.grad`` (call ``zero_grad()`` first) and returns
        ``(L, dL/dX_noisy)`` as an NCHW array. No noise is added. Works in the parameters' dtype
        (``model.double()`` for gradient checks); BatchNorm uses batch statistics in train mode.
        """
        self._check_fitted()
        y, _ = _check_images(self._name(), X_noisy, "X_noisy", self._param_dtype())
        x, _ = _check_images(self._name(), X_clean, "X_clean", self._param_dtype())
        if y.shape != x.shape:
            raise ValueError(f"{self._name()}.loss_and_grad: X_noisy has shape {y.shape} (NCHW) but X_clean has "
                             f"{x.shape}")
        self._check_image_channels(y, "X_noisy")
        return self._loss_forward_backward(y, x)

    def _train_step(self, xb, yb):
        x = self._images(xb)
        y = self._noise_fn(x, self.noise_level, self._rng)      # fresh noise every batch
        value, _ = self._loss_forward_backward(y, x)
        return value

    def _before_fit(self, X, Xv):
        self._val_seed = int(self._rng.integers(2**63 - 1))
        self._val_rng = np.random.default_rng(self._val_seed)

    def _eval_step(self, xb, yb):
        x = self._images(xb)
        return self._loss_forward_backward(self._noise_fn(x, self.noise_level, self._val_rng), x, backward=False)[0]

    def _extra_callbacks(self):
        return [_ResetGenerator(self, self._val_seed)]

    # ------------------------------------------------------------------ Module interface (for gradcheck)
    def forward(self, x):
        """``x - net_(x)`` on NCHW input, no clipping, no validation."""
        return x - self.net_(x)

    def backward(self, dy):
        return dy - self.net_.backward(dy)

    # ------------------------------------------------------------------ inference
    def add_noise(self, X, random_state=None):
        """``X`` corrupted with this model's noise and level (a convenience for making test inputs)."""
        self._validate_params()
        return self._noise_fn(np.asarray(X), self.noise_level, as_generator(random_state))

    def _check_image_channels(self, x, name):
        if x.shape[1] != self.n_channels_:
            raise ValueError(f"{self._name()}: {name} has {x.shape[1]} channel(s) (NCHW shape {x.shape}), but the "
                             f"model was fitted on {self.n_channels_}-channel images")

    def predict_noise(self, X_noisy, tile=256):
        """The estimated noise ``X_noisy - denoise(X_noisy)`` before clipping, in the layout of ``X_noisy``."""
        return self._apply(X_noisy, tile, noise=True)

    def denoise(self, X_noisy, tile=256):
        """Denoised images of **any size**, in the layout of ``X_noisy``.

        Parameters
        ----------
        X_noisy : array
            A batch ``(N, H, W)``, ``(N, C, H, W)``, ``(N, H, W, C)``, or a single image ``(H, W)`` (grey
            model) or ``(H, W, C)``; values in [0, 1].
        tile : int or None, default 256
            Images with a side longer than this are processed in ``tile x tile`` blocks, each with a
            margin of 32 pixels of context (more than the network's receptive radius), so the result
            equals a whole-image pass. ``None``: always the whole image at once.
        """
        return self._apply(X_noisy, tile, noise=False)

    def reconstruct(self, X_noisy):
        """Same as :meth:`denoise` (the name the autoencoders use)."""
        return self.denoise(X_noisy)

    def _apply(self, X_noisy, tile, noise):
        self._check_fitted()
        if tile is not None:
            tile = self._check_int("tile", tile, low=8)
        X = np.asarray(X_noisy)
        single = X.ndim == 2 or (X.ndim == 3 and X.shape[-1] == self.n_channels_ and self.n_channels_ > 1
                                 and X.shape[0] not in (1, 3, 4))
        if X.ndim == 2 and self.n_channels_ != 1:
            raise ValueError(f"{self._name()}: a 2-D image (H, W) is grey, but the model was fitted on "
                             f"{self.n_channels_}-channel images")
        Xb = X[None] if single else X
        x, layout = _check_images(self._name(), Xb, "X_noisy", self._param_dtype())
        self._check_image_channels(x, "X_noisy")
        was_training = self.training
        self.eval()
        try:
            out = np.empty_like(x)
            for s in range(0, len(x), 64):
                out[s:s + 64] = self._apply_batch(x[s:s + 64], tile)
        finally:
            self.train(was_training)
        if noise:
            out = x - out
        elif self.clip:
            np.clip(out, 0, 1, out=out)
        out = from_nchw(out, layout)
        return out[0] if single else out

    def _net_any_size(self, x):
        """``x - net_(x)`` for ``x`` of any H, W (reflect-padded to the U-Net's size multiple)."""
        xp, H, W = _pad_to_multiple(x, self._size_multiple)
        y = xp - self.net_(xp)
        return y[:, :, :H, :W]

    def _apply_batch(self, x, tile):
        if tile is None:
            return self._net_any_size(x)
        return apply_blocks(self._net_any_size, x, tile, self._margin, self._size_multiple)
