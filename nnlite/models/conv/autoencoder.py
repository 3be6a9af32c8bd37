"""A convolutional denoising autoencoder: stride-2 convs down, stride-2 transposed convs back up
(the conv DAE of the PyTorch/Keras tutorials), trained on freshly corrupted batches."""
from __future__ import annotations

import numpy as np

from ..._validation import check_odd_int
from ...images.layout import from_nchw, to_nchw
from ...layers import Conv2d, ConvTranspose2d, Flatten, Reshape, Sequential, Sigmoid, get_activation
from .._base import HIDDEN_ACTIVATIONS, BaseModel
from ..autoencoder import DenoisingAutoencoder
from ._image_model import _check_channels, _StridedImageModel

__all__ = ["ConvDenoisingAutoencoder"]


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
    _inference_rows = 512

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
        check_odd_int(self._name(), "kernel_size", self.kernel_size)
        self._check_choice("activation", self.activation, HIDDEN_ACTIVATIONS)
        self._check_choice("loss", self.loss, ("mse", "bce"))
        self._check_noise()
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
        Z = self._check_codes(Z, self.code_shape(), f"{self._name()}.decode")
        return self._as_input_shape(self._in_chunks(self.decoder_, Z))

    def reconstruct(self, X_noisy, n_passes=None):
        """Denoised images, in the layout and shape of ``X_noisy`` (``n_passes`` passes, default the
        constructor's), each pass ``decoder_(encoder_(x))``."""
        passes = self.n_passes if n_passes is None else self._check_int("n_passes", n_passes)
        self._check_fitted()
        X_noisy = np.asarray(X_noisy)
        out = self._check_X(X_noisy, "X_noisy")                       # flat NCHW rows
        for _ in range(passes):
            out = self._in_chunks(lambda a: self.decoder_(self.encoder_(a)), out)
        if X_noisy.ndim == 2:
            return out
        return from_nchw(self._images(out), to_nchw(X_noisy)[1])

    def denoise(self, X_noisy):
        """Same as :meth:`reconstruct` (the name :class:`ResidualDenoiser` uses)."""
        return self.reconstruct(X_noisy)
