r"""Convolutional models for images: a conv denoising autoencoder, a residual (noise-predicting) denoiser
and a convolutional VAE, scikit-learn-like as the MLP models.

Images go in as ``(N, H, W)`` (grey), ``(N, C, H, W)`` (NCHW, PyTorch's layout) or ``(N, H, W, C)``
(channels last, what :func:`nnlite.data.load_image_folder` returns), and come back in the layout they
came in. A 4-D array is read as channels-last when its last axis has 1, 3 or 4 entries and its second
axis does not; otherwise as NCHW. Internally every network runs on NCHW.

=========================  ==================================================================================
model                      what it is
=========================  ==================================================================================
ConvDenoisingAutoencoder   ``Conv(C,32,3,s2,p1)-ReLU-Conv(32,64,3,s2,p1)-ReLU-ConvT(64,32)-ReLU-ConvT(32,C)-Sigmoid``
                           (the PyTorch tutorial's conv DAE), trained on freshly corrupted batches
ResidualDenoiser           the flagship: a fully convolutional network that predicts the *noise* ``n(y)``
                           of a noisy image ``y`` and returns ``y - n(y)`` (residual learning, DnCNN of
                           Zhang et al. 2017); body a small U-Net (default) or a DnCNN stack; any image
                           size at inference, big photos in overlapping tiles
ConvVAE                    conv encoder to ``(mu, logvar)``, transposed-conv decoder, Bernoulli likelihood
                           (summed BCE on logits) + KL; the reparameterisation/KL gradients of
                           :mod:`nnlite.models.vae`
=========================  ==================================================================================

The residual denoiser's gradient, with ``x`` the clean image, ``y`` the noisy one and
``\hat x = y - n_\theta(y)``: the loss ``L = \frac1D \sum (\hat x - x)^2`` gives
``dL/d\hat x = \frac2D (\hat x - x)``, and since ``\hat x`` depends on ``\theta`` only through
``-n_\theta(y)``, ``dL/dn = -dL/d\hat x`` is what is fed into the body's backward.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..layers import (BatchNorm2d, Concat, Conv2d, ConvTranspose2d, Dense, Flatten, MaxPool2d, ReLU, Reshape,
                      Sequential, Sigmoid, Upsample)
from ..losses import BCEWithLogitsLoss, MSELoss
from ..noise import NOISES, get_noise
from ..random import as_generator
from ..layers import get_activation
from ._base import HIDDEN_ACTIVATIONS, BaseModel, NotFittedError
from .autoencoder import DenoisingAutoencoder, _ResetGenerator
from .vae import VAE

__all__ = ["ConvDenoisingAutoencoder", "ResidualDenoiser", "ConvVAE", "to_nchw", "from_nchw"]

_CHUNK = 512  # images per forward pass at inference


# ---------------------------------------------------------------------------------------- image layouts
def _is_channels_last(shape) -> bool:
    return len(shape) == 4 and shape[-1] in (1, 3, 4) and shape[1] not in (1, 3, 4)


def to_nchw(X, name="X", owner="to_nchw"):
    """``X`` as an ``(N, C, H, W)`` array and the layout it came in: ``'NHW'``, ``'NCHW'`` or ``'NHWC'``.

    ``(N, H, W)`` is grey (C = 1). A 4-D array is channels-last (``'NHWC'``) when its last axis has 1, 3
    or 4 entries and its second axis does not, else NCHW. No copy when none is needed.
    """
    X = np.asarray(X)
    if X.ndim == 3:
        return X[:, None], "NHW"
    if X.ndim == 4:
        if _is_channels_last(X.shape):
            return X.transpose(0, 3, 1, 2), "NHWC"
        return X, "NCHW"
    raise ValueError(f"{owner}: {name} must be a batch of images, (N, H, W) grey, (N, C, H, W) or (N, H, W, C); "
                     f"got shape {X.shape}")


def from_nchw(Y, layout):
    """Inverse of :func:`to_nchw`: ``(N, C, H, W)`` back to ``layout``."""
    if layout == "NHW":
        return Y[:, 0]
    if layout == "NHWC":
        return Y.transpose(0, 2, 3, 1)
    return Y


def _check_images(owner, X, name="X", dtype=np.float32):
    """Validated NCHW float array of ``dtype`` (C-contiguous) and its layout."""
    X = np.asarray(X)
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
        raise TypeError(f"{owner}: {name} must be numeric, got dtype {X.dtype}")
    Xc, layout = to_nchw(X, name, owner)
    if len(Xc) == 0:
        raise ValueError(f"{owner}: {name} has no images")
    Xc = np.ascontiguousarray(Xc, dtype=dtype)
    if not np.all(np.isfinite(Xc)):
        raise ValueError(f"{owner}: {name} contains NaN or inf")
    return Xc, layout


class _ImageModel:
    """Image-aware ``_check_X`` for the BaseModel machinery: any layout in, flat NCHW rows out.

    Sets ``input_shape_`` (the sample shape as given), ``image_shape_`` ``(C, H, W)``, ``n_channels_``
    and ``n_features_in_`` on ``reset``; later calls need images of the fitted ``(C, H, W)``.
    """

    _size_multiple = 1          # H and W must be multiples of this in fit

    def _check_X(self, X, name="X", reset=False):
        dtype = np.dtype(self.dtype) if reset else self._param_dtype()
        X = np.asarray(X)
        if X.ndim == 2:
            if reset:
                raise ValueError(f"{self._name()}: {name} must be images, (N, H, W) grey, (N, C, H, W) or "
                                 f"(N, H, W, C); got a 2-D array of shape {X.shape} (reshape flat rows first, "
                                 "e.g. X.reshape(-1, 28, 28))")
            if X.shape[1] != self.n_features_in_:
                raise ValueError(f"{self._name()}: {name} has shape {X.shape}, but the model was fitted on images of "
                                 f"shape {self.input_shape_} ({self.n_features_in_} values)")
            Xc = np.ascontiguousarray(X, dtype=dtype)
            if not np.all(np.isfinite(Xc)):
                raise ValueError(f"{self._name()}: {name} contains NaN or inf")
            return Xc
        Xc, layout = _check_images(self._name(), X, name, dtype)
        if reset:
            C, H, W = Xc.shape[1:]
            m = self._size_multiple
            if H % m or W % m:
                raise ValueError(f"{self._name()}: image height and width must be multiples of {m} (the decoder "
                                 f"doubles the size {int(math.log2(m))} times), got {H}x{W}; crop or pad the images")
            self.input_shape_ = tuple(X.shape[1:])
            self.image_shape_ = (C, H, W)
            self.n_channels_ = C
            self.n_features_in_ = C * H * W
            self._layout = layout
        elif Xc.shape[1:] != self.image_shape_:
            raise ValueError(f"{self._name()}: {name} has images of shape (C, H, W) = {Xc.shape[1:]} (from an "
                             f"array of shape {X.shape}), but the model was fitted on {self.image_shape_}")
        return Xc.reshape(len(Xc), -1)

    def _as_input_shape(self, Y):
        """Flat NCHW rows ``(N, C*H*W)`` -> samples shaped as in ``fit``."""
        return from_nchw(Y.reshape((len(Y),) + self.image_shape_), self._layout)

    def _images(self, flat):
        return flat.reshape((len(flat),) + self.image_shape_)


class _StridedImageModel(_ImageModel):
    """An image model whose encoder halves H and W once per entry of ``self.channels`` (stride-2 convs)
    and whose decoder doubles them back: fitted images need H and W divisible by ``2 ** len(channels)``."""

    @property
    def _size_multiple(self):
        return 2 ** len(_check_channels(self._name(), self.channels))


def _check_channels(owner, channels, name="channels"):
    if isinstance(channels, numbers.Integral) and not isinstance(channels, bool):
        channels = (channels,)
    try:
        channels = tuple(channels)
    except TypeError:
        raise ValueError(f"{owner}: {name} must be a tuple of channel counts (ints >= 1), got {channels!r}")
    if not channels or any(not isinstance(c, numbers.Integral) or isinstance(c, bool) or c < 1 for c in channels):
        raise ValueError(f"{owner}: {name} must be a non-empty tuple of channel counts (ints >= 1), got {channels!r}")
    return tuple(int(c) for c in channels)


def _check_noise_args(model):
    """Validate ``noise``/``noise_level`` of a denoiser; sets ``model._noise_fn``."""
    name = model._name()
    fn = get_noise(model.noise) if (callable(model.noise) or model.noise in NOISES) else None
    if fn is None:
        raise ValueError(f"{name}: unknown noise {model.noise!r}; valid names are: {', '.join(sorted(NOISES))} "
                         "(or a callable noise(x, level, rng))")
    lvl = model.noise_level
    if not isinstance(lvl, numbers.Real) or isinstance(lvl, bool) or not np.isfinite(lvl):
        raise ValueError(f"{name}: noise_level must be a finite number, got {lvl!r}")
    if model.noise == "gaussian" and lvl < 0:
        raise ValueError(f"{name}: noise_level (sigma of 'gaussian') must be >= 0, got {lvl!r}")
    if isinstance(model.noise, str) and model.noise != "gaussian" and not 0 <= lvl <= 1:
        raise ValueError(f"{name}: noise_level (probability p of {model.noise!r}) must be in [0, 1], got {lvl!r}")
    model._noise_fn = fn


def _pad_to_multiple(x, m):
    """Reflect-pad ``x`` ``(N, C, H, W)`` at the bottom/right to multiples of ``m``; returns (padded, H, W)."""
    N, C, H, W = x.shape
    ph, pw = (-H) % m, (-W) % m
    if ph == 0 and pw == 0:
        return x, H, W
    mode = "reflect" if (ph < H and pw < W) else "symmetric" if (ph <= H and pw <= W) else "edge"
    return np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode=mode), H, W


# ---------------------------------------------------------------------------------------- conv DAE
class ConvDenoisingAutoencoder(_StridedImageModel, DenoisingAutoencoder):
    """A convolutional denoising autoencoder: stride-2 convs down, stride-2 transposed convs back up.

    With the default ``channels=(32, 64)`` on ``(N, 1, 28, 28)`` images::

        encoder_: Conv2d(1, 32, 3, s2, p1) - ReLU - Conv2d(32, 64, 3, s2, p1) - ReLU          -> (N, 64, 7, 7)
        decoder_: ConvTranspose2d(64, 32, 3, s2, p1, op1) - ReLU
                  - ConvTranspose2d(32, 1, 3, s2, p1, op1) - Sigmoid                          -> (N, 1, 28, 28)

    the conv DAE of the PyTorch/Keras tutorials (layers initialised as PyTorch does). Colour images work
    the same way (``C = 3``). Every training batch gets fresh noise; the loss compares the output with
    the clean batch.

    Parameters
    ----------
    noise : {'gaussian', 'salt_and_pepper', 'bit_flip', 'masking'} or callable, default 'gaussian'
        See :mod:`nnlite.noise`.
    noise_level : float, default 0.5
        ``sigma`` for 'gaussian' (clipped to [0, 1]), the probability ``p`` otherwise.
    channels : tuple of int, default (32, 64)
        Channels after each stride-2 conv; image sides must be multiples of ``2 ** len(channels)``.
    kernel_size : int (odd), default 3
    activation : str, default 'relu'
        Activation after every conv but the last (any name of ``nnlite.layers.ACTIVATIONS`` but softmax).
    loss : {'mse', 'bce'}, default 'mse'
        Mean squared error on the sigmoid output (as the tutorial), or BCE computed on its logits.
    n_passes : int, default 1
        Passes through the network in :meth:`reconstruct` (see :class:`DenoisingAutoencoder`).
    n_copies : int or None, default None
        Noisy copies of every image per epoch (``None``: 1 for 256 images or more).
    optimizer, lr, epochs, batch_size, lr_schedule, dtype, random_state
        As in :class:`~nnlite.models.Autoencoder`; defaults Adam, 1e-3, batch 128. ``epochs=None``
        trains for about 2345 optimizer steps (5 epochs of Fashion-MNIST), at least 5 epochs.

    Attributes
    ----------
    encoder_, decoder_ : nnlite.Sequential
        ``encoder_`` starts with a Reshape from flat rows to ``image_shape_``; ``decoder_`` ends with
        Flatten and Sigmoid.
    image_shape_ : (C, H, W)
    input_shape_ : tuple
        One sample's shape as given to ``fit`` (outputs come back in that layout).
    history_, loss_curve_, n_epochs_, n_iter_, batch_size_ : as :class:`~nnlite.models.Autoencoder`

    Examples
    --------
    >>> from nnlite.data import load_fashion_mnist
    >>> X, _ = load_fashion_mnist("train")                                   # (60000, 28, 28)
    >>> dae = ConvDenoisingAutoencoder(noise="gaussian", noise_level=0.5, random_state=0).fit(X)  # doctest: +SKIP
    >>> X_denoised = dae.reconstruct(dae.add_noise(X_test, random_state=1))  # doctest: +SKIP
    """

    _default_steps = 2345
    _min_epochs = 5
    _default_batch_size = 128

    def __init__(self, noise="gaussian", noise_level=0.5, channels=(32, 64), kernel_size=3, activation="relu",
                 loss="mse", n_passes=1, n_copies=None, optimizer="adam", lr=1e-3, epochs=None, batch_size=128,
                 lr_schedule="cosine", dtype=np.float32, random_state=None):
        BaseModel.__init__(self)
        self.noise = noise
        self.noise_level = noise_level
        self.channels = channels
        self.kernel_size = kernel_size
        self.activation = activation
        self.loss = loss
        self.n_passes = n_passes
        self.n_copies = n_copies
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr_schedule = lr_schedule
        self.dtype = dtype
        self.random_state = random_state

    def _validate_params(self):
        _check_channels(self._name(), self.channels)
        k = self.kernel_size
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1 or k % 2 == 0:
            raise ValueError(f"{self._name()}: kernel_size must be an odd int >= 1, got {k!r}")
        self._check_choice("activation", self.activation, HIDDEN_ACTIVATIONS)
        self._check_choice("loss", self.loss, ("mse", "bce"))
        _check_noise_args(self)
        self._check_int("n_passes", self.n_passes)
        self._check_int("n_copies", self.n_copies, allow_none=True)
        self._check_training()

    def _build(self, n_features, rng):
        C = self.image_shape_[0]
        chans = _check_channels(self._name(), self.channels)
        k, p = int(self.kernel_size), int(self.kernel_size) // 2
        dtype = np.dtype(self.dtype)
        enc = [Reshape(self.image_shape_)]
        c_in = C
        for c in chans:
            enc += [Conv2d(c_in, c, k, stride=2, padding=p, dtype=dtype, random_state=rng),
                    get_activation(self.activation)]
            c_in = c
        dec = []
        for c in list(chans[-2::-1]) + [C]:
            dec += [ConvTranspose2d(c_in, c, k, stride=2, padding=p, output_padding=1, dtype=dtype,
                                    random_state=rng), get_activation(self.activation)]
            c_in = c
        dec[-1] = Flatten()
        self.encoder_ = Sequential(*enc)
        self.decoder_ = Sequential(*dec, Sigmoid())
        self.output_activation = "sigmoid"
        self._set_loss()

    def _set_loss(self):
        self._uses_logits = self.loss.lower() == "bce"
        self._loss = BCEWithLogitsLoss() if self._uses_logits else MSELoss()

    def code_shape(self):
        """Shape ``(C_code, h, w)`` of one image's code (the encoder's output)."""
        self._check_fitted()
        C, H, W = self.image_shape_
        f = self._size_multiple
        return (_check_channels(self._name(), self.channels)[-1], H // f, W // f)

    def encode(self, X):
        """Feature maps ``(N, C_code, h, w)`` of images ``X`` (any accepted layout)."""
        flat = super().encode(X)
        return flat.reshape((len(flat),) + self.code_shape())

    def decode(self, Z):
        """Images (in the layout seen by ``fit``) from codes ``Z`` ``(N, *code_shape())``."""
        self._check_fitted()
        Z = np.asarray(Z)
        if Z.ndim != 4 or Z.shape[1:] != self.code_shape():
            raise ValueError(f"{self._name()}.decode expects codes of shape (N, {', '.join(map(str, self.code_shape()))})"
                             f", got {Z.shape}")
        Z = np.ascontiguousarray(Z, dtype=self._param_dtype())
        return self._as_input_shape(self._chunked(self.decoder_, Z))

    def _chunked(self, fn, A):
        outs = [fn(A[s:s + _CHUNK]) for s in range(0, len(A), _CHUNK)]
        return np.concatenate(outs) if len(outs) > 1 else outs[0]

    def reconstruct(self, X_noisy, n_passes=None):
        """Denoised images, in the layout and shape of ``X_noisy`` (``n_passes`` passes, default the
        constructor's), each pass ``decoder_(encoder_(x))``."""
        passes = self.n_passes if n_passes is None else self._check_int("n_passes", n_passes)
        self._check_fitted()
        X_noisy = np.asarray(X_noisy)
        out = self._check_X(X_noisy, "X_noisy")                       # flat NCHW rows
        for _ in range(passes):
            out = self._chunked(lambda a: self.decoder_(self.encoder_(a)), out)
        if X_noisy.ndim == 2:
            return out
        return from_nchw(self._images(out), to_nchw(X_noisy)[1])

    def denoise(self, X_noisy):
        """Same as :meth:`reconstruct` (the name :class:`ResidualDenoiser` uses)."""
        return self.reconstruct(X_noisy)


# ---------------------------------------------------------------------------------------- the flagship
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


ARCHITECTURES = ("unet", "dncnn")


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
        make = _unet if self.architecture == "unet" else _dncnn
        self.net_ = make(C, int(self.width), self._depth(), int(self.kernel_size), bool(self.batch_norm), rng,
                         np.dtype(self.dtype))
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
        N, C, H, W = x.shape
        if tile is None or (H <= tile and W <= tile):
            return self._net_any_size(x)
        m = self._size_multiple
        t = max(m, tile // m * m)                     # tile and margin aligned to the pooling grid
        margin = -(-self._margin // m) * m
        out = np.empty_like(x)
        for i0 in range(0, H, t):
            for j0 in range(0, W, t):
                a0, a1 = max(i0 - margin, 0), min(i0 + t + margin, H)
                b0, b1 = max(j0 - margin, 0), min(j0 + t + margin, W)
                block = self._net_any_size(np.ascontiguousarray(x[:, :, a0:a1, b0:b1]))
                i1, j1 = min(i0 + t, H), min(j0 + t, W)
                out[:, :, i0:i1, j0:j1] = block[:, :, i0 - a0:i1 - a0, j0 - b0:j1 - b0]
        return out


# ---------------------------------------------------------------------------------------- conv VAE
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
            enc += [Conv2d(c_in, c, 4, stride=2, padding=1, dtype=dtype, random_state=rng), get_activation(act)]
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
            dec += [ConvTranspose2d(c_in, c, 4, stride=2, padding=1, dtype=dtype, random_state=rng),
                    get_activation(act)]
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
