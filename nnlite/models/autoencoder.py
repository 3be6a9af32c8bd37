"""Autoencoders as scikit-learn-like estimators: ``Autoencoder`` and ``DenoisingAutoencoder``.

An autoencoder is two MLPs trained together so that ``decoder(encoder(x)) ~ x``:

.. math::
    z = f_\\theta(x) \\in \\mathbb{R}^m, \\qquad \\hat x = g_\\phi(z) \\in [0, 1]^n, \\qquad
    L = \\frac{1}{N n} \\sum_{i, j} \\mathrm{BCE}(\\hat x_{ij}, x_{ij})

The backward pass is the chain rule run through the two Sequentials in reverse: the loss gives
``dL/dlogits = (sigmoid(logits) - x) / (N n)`` (BCE on the decoder's pre-sigmoid output, exact and
stable), ``decoder_.backward`` turns it into ``dL/dz``, and ``encoder_.backward`` into ``dL/dx``.

>>> from nnlite.data import load_font5x7
>>> from nnlite.models import Autoencoder
>>> X, chars = load_font5x7()
>>> ae = Autoencoder(latent_dim=2, random_state=0).fit(X)      # doctest: +SKIP
>>> Z = ae.encode(X)              # (32, 2) codes, one point per glyph
>>> X_hat = ae.reconstruct(X)     # (32, 35) pixel probabilities
"""
from __future__ import annotations

import math

import numpy as np

from ..losses import BCEWithLogitsLoss, MSELoss
from ._base import BaseModel, _NoInputGrad, backward_layers, mlp, run_layers
from ._noise import _NoisyInputs

__all__ = ["Autoencoder", "DenoisingAutoencoder"]


class Autoencoder(BaseModel):
    """A fully connected autoencoder: ``encoder_`` maps ``n_features -> hidden -> latent_dim``,
    ``decoder_`` maps back through ``decoder_hidden`` (by default the hidden widths in reverse).

    Parameters
    ----------
    latent_dim : int, default 2
        Size of the code ``z``. 2 lets you plot the latent space.
    hidden : tuple of int, default (256, 128)
        Widths of the encoder's hidden layers. ``()`` (and ``decoder_hidden=()``) is a linear AE.
    decoder_hidden : tuple of int or None, default None
        Widths of the decoder's hidden layers, from the code out, as a Keras or PyTorch decoder is
        written on its own: ``hidden=(256, 128, 32, 16), decoder_hidden=(16, 32, 64, 128, 256)`` is the
        784-256-128-32-16-10 encoder with a 10-16-32-64-128-256-784 decoder. ``None`` mirrors the
        encoder (``hidden`` reversed).
    activation : str, default 'relu'
        Hidden activation, any of ``nnlite.layers.ACTIVATIONS`` but softmax.
    output_activation : {'sigmoid', 'identity'}, default 'sigmoid'
        Last layer of ``decoder_``. Pixels in [0, 1] want a sigmoid.
    loss : {'bce', 'mse'}, default 'bce'
        Reconstruction loss, averaged over pixels and samples. 'bce' needs the sigmoid output and is
        computed on its logits (``BCEWithLogitsLoss``); targets must lie in [0, 1].
    optimizer : str, default 'adam'
        Any name of ``nnlite.optim.OPTIMIZERS``.
    lr : float, default 1e-3
        Initial learning rate.
    epochs, batch_size : int or None
        ``None`` lets ``fit`` choose (see :meth:`fit`): full batches of up to 256 samples and enough
        epochs for about 2000 optimizer steps (at least 10 epochs).
    lr_schedule : {'cosine', 'constant'}, default 'cosine'
        Cosine decay of the learning rate to 1% of ``lr`` over the run.
    dtype : float32 or float64, default float32
    random_state : None, int or numpy.random.Generator
        Seeds the weights and the shuffling; same int => bit-identical fits.

    Attributes
    ----------
    encoder_, decoder_ : nnlite.Sequential
        The trained networks (``decoder_`` ends with the output activation).
    history_ : dict of lists
        Per-epoch ``'loss'`` (and ``'val_loss'`` with ``validation_data``), ``'samples_per_s'``.
    loss_curve_ : list of float
        ``history_['loss']``, as in scikit-learn's MLP.
    n_features_in_, input_shape_ : int, tuple
        What ``fit`` saw; ``decode`` and ``reconstruct`` return samples of ``input_shape_``.
    n_epochs_, n_iter_, batch_size_ : int
        Epochs and optimizer steps run, batch size used.
    """

    _default_steps = 2000

    def __init__(self, latent_dim=2, hidden=(256, 128), decoder_hidden=None, activation="relu",
                 output_activation="sigmoid", loss="bce", optimizer="adam", lr=1e-3, epochs=None, batch_size=None,
                 lr_schedule="cosine", dtype=np.float32, random_state=None):
        super().__init__()
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.decoder_hidden = decoder_hidden
        self.activation = activation
        self.output_activation = output_activation
        self.loss = loss
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr_schedule = lr_schedule
        self.dtype = dtype
        self.random_state = random_state

    # ------------------------------------------------------------------ building
    def _validate_params(self):
        self._check_int("latent_dim", self.latent_dim)
        self._check_common()
        self._decoder_widths()
        out = self._check_choice("output_activation", self.output_activation, ("sigmoid", "identity"))
        loss = self._check_choice("loss", self.loss, ("bce", "mse"))
        if loss == "bce" and out != "sigmoid":
            raise ValueError(f"{self._name()}: loss='bce' needs output_activation='sigmoid' (pixel probabilities), "
                             f"got output_activation={self.output_activation!r}; use loss='mse' for unbounded outputs")

    def _decoder_widths(self):
        """The decoder's hidden widths from the code out: ``decoder_hidden``, or ``hidden`` reversed."""
        if self.decoder_hidden is None:
            return self._check_hidden(self.hidden)[::-1]
        return self._check_hidden(self.decoder_hidden, "decoder_hidden")

    def _build(self, n_features, rng):
        hidden = self._check_hidden(self.hidden)
        dtype = np.dtype(self.dtype)
        self.encoder_ = mlp((n_features, *hidden, self.latent_dim), self.activation, rng, dtype)
        self.decoder_ = mlp((self.latent_dim, *self._decoder_widths(), n_features), self.activation, rng, dtype,
                            output_activation=self.output_activation.lower())
        self._set_loss()

    def _set_loss(self):
        self._uses_logits = self.loss.lower() == "bce"
        self._loss = BCEWithLogitsLoss() if self._uses_logits else MSELoss()

    def _check_data_range(self, X):
        if self.loss.lower() == "bce" and (X.min() < 0 or X.max() > 1):
            raise ValueError(f"{self._name()}: loss='bce' needs targets in [0, 1], got values in "
                             f"[{X.min():.4g}, {X.max():.4g}]; rescale X (e.g. X / 255) or use loss='mse'")

    # ------------------------------------------------------------------ loss and gradients
    def _loss_forward_backward(self, x_in, target):
        """One forward and backward pass; adds dL/dparam into ``.grad``; returns ``(L, dL/dx_in)``."""
        z = self.encoder_(x_in)                                   # (N, latent_dim)
        if self._uses_logits:
            body = list(self.decoder_)[:-1]                       # all but the final Sigmoid
            logits = run_layers(body, z)                          # (N, n_features)
            value = self._loss.forward(logits, target)
            dz = backward_layers(body, self._loss.backward())     # (N, latent_dim)
        else:
            out = self.decoder_(z)
            value = self._loss.forward(out, target)
            dz = self.decoder_.backward(self._loss.backward())
        dx = self.encoder_.backward(dz)                           # (N, n_features)
        return value, dx

    def loss_and_grad(self, X, Y=None):
        """Reconstruction loss of ``X`` against ``Y`` (default ``X``) and its gradients.

        Adds ``dL/dparam`` into every parameter's ``.grad`` (call ``zero_grad()`` first) and returns
        ``(L, dL/dX)``, the derivative through the encoder's input with the target held fixed (also
        when ``Y`` defaults to ``X``). No noise is added: for a denoising autoencoder pass the noisy input as ``X``
        and the clean target as ``Y``. Works in the parameters' dtype (``model.double()`` for gradchecks).
        """
        self._check_fitted()
        X = self._check_X(X)
        Y = X if Y is None else self._check_X(Y, "Y")
        if len(Y) != len(X):
            raise ValueError(f"{self._name()}.loss_and_grad: X has {len(X)} samples but Y has {len(Y)}")
        return self._loss_forward_backward(X, Y)

    def compute_loss(self, X, Y=None) -> float:
        """Mean reconstruction loss of ``X`` against ``Y`` (default ``X``), without touching gradients."""
        self._check_fitted()
        X = self._check_X(X)
        Y = X if Y is None else self._check_X(Y, "Y")
        total, n = 0.0, self._inference_rows
        for s in range(0, len(X), n):
            total += self._plain_loss(X[s:s + n], Y[s:s + n]) * len(X[s:s + n])
        return total / len(X)

    def _train_step(self, xb, yb):
        with _NoInputGrad(self.encoder_):               # no dL/dx while training: skip that product
            value, _ = self._loss_forward_backward(self._train_input(xb), yb)
        return value

    def _train_input(self, xb):
        return xb

    def _eval_step(self, xb, yb):
        return self._plain_loss(xb, yb)

    def _plain_loss(self, xb, yb):
        z = self.encoder_(xb)
        if self._uses_logits:
            return self._loss.forward(run_layers(list(self.decoder_)[:-1], z), yb)
        return self._loss.forward(self.decoder_(z), yb)

    # ------------------------------------------------------------------ Module interface (for gradcheck)
    def forward(self, x):
        """``decoder_(encoder_(x))`` on flat inputs ``(N, n_features_in_)``, no validation, no reshaping."""
        return self.decoder_(self.encoder_(x))

    def backward(self, dy):
        """``dL/dx`` from ``dL/dx_hat``, adding into every parameter's ``.grad``."""
        return self.encoder_.backward(self.decoder_.backward(dy))

    # ------------------------------------------------------------------ inference
    def encode(self, X):
        """Codes ``(N, latent_dim)`` of samples ``X`` (``(N, n_features)`` or ``(N, *input_shape_)``)."""
        self._check_fitted()
        X = self._check_X(X)
        return self._in_chunks(self.encoder_, X)

    def decode(self, Z):
        """Decoded samples ``(N, *input_shape_)`` (pixel probabilities with a sigmoid output) from codes."""
        self._check_fitted()
        Z = self._check_codes(Z, (self.latent_dim,), f"{self._name()}.decode")
        return self._as_input_shape(self._in_chunks(self.decoder_, Z))

    def reconstruct(self, X):
        """``decode(encode(X))``, in the shape of ``X``."""
        X = np.asarray(X)
        return self.decode(self.encode(X)).reshape(X.shape)

    # scikit-learn aliases
    def transform(self, X):
        """Same as :meth:`encode`."""
        return self.encode(X)

    def fit_transform(self, X, **fit_kwargs):
        """``fit(X, **fit_kwargs).encode(X)``."""
        return self.fit(X, **fit_kwargs).encode(X)

    def inverse_transform(self, Z):
        """Same as :meth:`decode`."""
        return self.decode(Z)


class DenoisingAutoencoder(_NoisyInputs, Autoencoder):
    """An autoencoder trained to map corrupted inputs to clean ones (Vincent et al., 2008).

    Every training batch is corrupted afresh with ``noise`` (drawn from the model's seed, so a new
    noise sample every epoch) and the loss compares the reconstruction with the *clean* batch.

    Parameters
    ----------
    noise : {'salt_and_pepper', 'bit_flip', 'gaussian', 'masking'} or callable, default 'salt_and_pepper'
        See :mod:`nnlite.noise`; a callable is called as ``noise(x, noise_level, rng)``.
    noise_level : float, default 0.1
        ``p`` (fraction of corrupted pixels) or, for 'gaussian', ``sigma``.
    n_passes : int or 'auto', default 'auto'
        How many times :meth:`reconstruct` runs the network, feeding each output back as the next
        input. One pass gives the network's estimate of each pixel's posterior mean; on 1-bit data
        thresholding that can mix several likely clean images (on the 5x7 font at bit-flip p=0.2 the
        best possible single pass recovers ~5 points fewer glyphs than the nearest-glyph decoder), and
        further passes settle on one of them. ``'auto'``: 3 passes when every training value was 0 or 1
        (``binary_data_``), else 1, the classic single pass that grey images (MNIST, photos) want.
        ``n_passes_`` is the number used.
    n_copies : int or None, default None
        Each epoch shows every sample this many times, each copy with its own noise. ``None``:
        ``ceil(256 / N)`` so that tiny data sets (32 glyphs) still fill a batch of 256 noisy samples;
        1 for data sets of 256 samples or more.
    latent_dim : int, default 32
        Wider than the plain autoencoder's 2: denoising does not need a plottable code, and a wide code
        learns faster. Pass ``latent_dim=2`` to plot it.
    hidden : tuple of int, default (256,)
    decoder_hidden : tuple of int or None, default None
        The decoder's hidden widths from the code out; ``None`` mirrors ``hidden``.
    lr : float, default 2e-3
    Other parameters as in :class:`Autoencoder`. ``epochs=None`` trains for about 4000 optimizer steps.
    """

    _default_steps = 4000
    _binary_data_passes = 3      # n_passes='auto' on data whose every value is 0 or 1

    def __init__(self, noise="salt_and_pepper", noise_level=0.1, n_passes="auto", n_copies=None, latent_dim=32,
                 hidden=(256,), decoder_hidden=None, activation="relu", output_activation="sigmoid", loss="bce",
                 optimizer="adam", lr=2e-3, epochs=None, batch_size=None, lr_schedule="cosine", dtype=np.float32,
                 random_state=None):
        super().__init__(latent_dim=latent_dim, hidden=hidden, decoder_hidden=decoder_hidden, activation=activation,
                         output_activation=output_activation, loss=loss, optimizer=optimizer, lr=lr, epochs=epochs,
                         batch_size=batch_size, lr_schedule=lr_schedule, dtype=dtype, random_state=random_state)
        self.noise = noise
        self.noise_level = noise_level
        self.n_passes = n_passes
        self.n_copies = n_copies

    def _validate_params(self):
        super()._validate_params()
        self._check_noise()
        if self.n_passes != "auto":
            self._check_int("n_passes", self.n_passes)
        self._check_int("n_copies", self.n_copies, allow_none=True)

    def _copies(self, n):
        if self.n_copies is not None:
            return int(self.n_copies)
        return max(1, math.ceil(self._default_batch_size / n))

    def fit(self, X, epochs=None, batch_size=None, lr=None, validation_data=None, verbose=1, callbacks=()):
        """As :meth:`Autoencoder.fit`; each epoch sees ``n_copies`` freshly corrupted copies of ``X``."""
        self._validate_params()
        X_arr = np.asarray(X)
        copies = self._copies(len(X_arr)) if X_arr.ndim >= 1 and len(X_arr) else 1
        X_train = np.concatenate([X_arr] * copies) if copies > 1 else X_arr
        # Known before training, so checkpoints written during fit carry them too.
        self.binary_data_ = bool(((X_arr == 0) | (X_arr == 1)).all())
        auto = self._binary_data_passes if self.binary_data_ else 1
        self.n_passes_ = auto if self.n_passes == "auto" else int(self.n_passes)
        super().fit(X_train, epochs=epochs, batch_size=batch_size, lr=lr, validation_data=validation_data,
                    verbose=verbose, callbacks=callbacks)
        self.n_copies_ = copies
        return self

    def _eval_step(self, xb, yb):
        return self._plain_loss(self._val_input(xb), yb)

    def reconstruct(self, X_noisy, n_passes=None):
        """Denoised ``X_noisy``: ``n_passes`` (default: the constructor's) passes through the network."""
        if n_passes is None:
            self._check_fitted()
            passes = self.n_passes_      # the constructor's n_passes, with 'auto' resolved by fit
        else:
            passes = self._check_int("n_passes", n_passes)
        X_noisy = np.asarray(X_noisy)
        out = X_noisy
        for _ in range(passes):
            out = super().reconstruct(out)
        return out
