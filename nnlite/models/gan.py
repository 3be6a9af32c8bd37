r"""Generative adversarial networks (Goodfellow et al., 2014), every gradient written out by hand.

Two players. The generator :math:`G` maps noise :math:`z \sim \mathcal N(0, I)` to an image; the
discriminator :math:`D` maps an image to a **logit** :math:`\ell` (probability "real" =
:math:`\sigma(\ell)`). With :math:`\mathrm{BCE}(\ell, t) = \max(\ell, 0) - \ell t + \log(1 + e^{-|\ell|})`
(binary cross-entropy on logits, exact and finite for any logit) and batches of :math:`B` samples:

.. math::
    L_D = \frac1B \sum_i \mathrm{BCE}(D(x_i), 1 - s) + \frac1B \sum_i \mathrm{BCE}(D(G(z_i)), 0),
    \qquad \frac{\partial L_D}{\partial \ell} = \frac{\sigma(\ell) - t}{B}

where :math:`s` is the one-sided label smoothing (Salimans et al., 2016: only the real targets move,
to 0.9 for ``label_smoothing=0.1``). The generator minimises the **non-saturating** loss

.. math::
    L_G = \frac1B \sum_i \mathrm{BCE}(D(G(z_i)), 1) = \frac1B \sum_i \log(1 + e^{-\ell_i}), \qquad
    \frac{\partial L_G}{\partial \ell} = \frac{\sigma(\ell) - 1}{B},

whose gradient is large exactly when :math:`D` rejects the fakes (the minimax loss
:math:`-\frac1B\sum \log(1 + e^{\ell})`, ``generator_loss='minimax'``, has gradient
:math:`-\sigma(\ell)/B`, which vanishes there). The gradient reaches :math:`G`'s weights by the chain
rule through :math:`D`: ``dL/dfake = D.backward(dL/dlogit)``, then ``G.backward(dL/dfake)``; only
:math:`G`'s optimizer steps afterwards, so :math:`D` does not move during the generator's update
(and :math:`G` does not move during the discriminator's, whose fakes are treated as constants).

Training alternates ``d_steps`` discriminator updates (each on a fresh batch of fakes) with one
generator update, both with Adam(lr=2e-4, betas=(0.5, 0.999)) as in DCGAN (Radford et al., 2016).

>>> from nnlite.models import GAN
>>> gan = GAN(random_state=0).fit(X_train, epochs=20)          # doctest: +SKIP
>>> images = gan.sample(64)                                     # (64, 28, 28) in [0, 1]
>>> gan.history_["d_loss"], gan.history_["g_loss"]              # one value per epoch
"""
from __future__ import annotations

import copy
import math
import numbers

import numpy as np

from ..layers import Dense, Dropout, Flatten, Reshape, Sequential
from ..layers.activations import LeakyReLU, ReLU, Sigmoid, Tanh, sigmoid
from ..module import Module
from ..optim import Adam
from ..random import as_generator, spawn
from ..trainer import Callback, Trainer
from ._base import BaseModel, NotFittedError, backward_layers, run_layers
from .autoencoder import DenoisingAutoencoder

__all__ = ["GAN", "AdversarialDenoiser", "SaveSamples", "bce_with_logits", "discriminator_loss",
           "generator_loss", "nearest_distances", "evaluate_samples", "GENERATOR_LOSSES", "ARCHITECTURES"]

GENERATOR_LOSSES = ("non_saturating", "minimax")
ARCHITECTURES = ("mlp", "dcgan")
_CHUNK = 2048


# ---------------------------------------------------------------------------------------- the losses
def bce_with_logits(logits, target):
    r"""Mean binary cross-entropy of logits against a target (a number or an array) and its gradient.

    .. math:: L = \frac1n \sum \max(\ell, 0) - \ell t + \log(1 + e^{-|\ell|}), \qquad
              \frac{\partial L}{\partial \ell} = \frac{\sigma(\ell) - t}{n}

    Returns ``(L, dL/dlogits)``; ``n`` is ``logits.size``.
    """
    logits = np.asarray(logits)
    n = logits.size
    t = np.asarray(target, dtype=logits.dtype)
    per = np.maximum(logits, 0) - logits * t + np.log1p(np.exp(-np.abs(logits)))
    grad = (sigmoid(logits) - t) / np.asarray(n, logits.dtype)
    return float(per.sum(dtype=np.float64)) / n, grad.astype(logits.dtype, copy=False)


def discriminator_loss(real_logits, fake_logits, real_target=1.0):
    """``L_D = BCE(real_logits, real_target) + BCE(fake_logits, 0)`` (each a mean over its batch).

    Returns ``(L_D, dL/dreal_logits, dL/dfake_logits)``. ``real_target = 1 - label_smoothing``.
    """
    lr, gr = bce_with_logits(real_logits, real_target)
    lf, gf = bce_with_logits(fake_logits, 0.0)
    return lr + lf, gr, gf


def generator_loss(fake_logits, kind="non_saturating"):
    r"""The generator's loss on the discriminator's logits of its fakes, and its gradient.

    ``'non_saturating'``: :math:`L = \mathrm{BCE}(\ell, 1)`, :math:`\partial L/\partial\ell = (\sigma(\ell)-1)/n`.
    ``'minimax'``: :math:`L = -\mathrm{BCE}(\ell, 0)`, :math:`\partial L/\partial\ell = -\sigma(\ell)/n`.
    """
    if kind == "non_saturating":
        return bce_with_logits(fake_logits, 1.0)
    if kind == "minimax":
        value, grad = bce_with_logits(fake_logits, 0.0)
        return -value, -grad
    raise ValueError(f"generator_loss: kind must be one of {GENERATOR_LOSSES}, got {kind!r}")


# ---------------------------------------------------------------------------------------- the players
def mlp_generator(latent_dim, n_features, hidden=(256, 512), negative_slope=0.2, output_activation="tanh",
                  random_state=None, dtype=np.float32) -> Sequential:
    """``z -> Dense(h1, LeakyReLU) -> ... -> Dense(n_features, tanh|sigmoid)``."""
    rng = as_generator(random_state)
    sizes = (latent_dim, *hidden)
    layers = [Dense(a, b, activation="leaky_relu", alpha=negative_slope, dtype=dtype, random_state=rng)
              for a, b in zip(sizes[:-1], sizes[1:])]
    layers.append(Dense(sizes[-1], n_features, activation=output_activation, dtype=dtype, random_state=rng))
    layers[0].needs_input_grad = False          # nobody needs dL/dz
    return Sequential(*layers)


def mlp_discriminator(n_features, hidden=(512, 256), negative_slope=0.2, dropout=0.3, random_state=None,
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
    """``(C, H, W)`` of samples of ``input_shape`` for the conv players (H, W divisible by 4)."""
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
    if h % 4 or w % 4:
        raise ValueError(f"GAN: the 'dcgan' players upsample 4x from (H/4, W/4): H and W must be multiples of 4, "
                         f"got {h}x{w}")
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
    h4, w4 = h // 4, w // 4
    first = Dense(latent_dim, 2 * channels * h4 * w4, activation="relu", dtype=dtype, random_state=rng)
    first.needs_input_grad = False
    out_act = Tanh() if output_activation == "tanh" else Sigmoid()
    return Sequential(
        first, Reshape((2 * channels, h4, w4)),                                               # (N, 2c, H/4, W/4)
        ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1, bias=False, dtype=dtype, random_state=rng),
        BatchNorm2d(channels, dtype=dtype), ReLU(),                                          # (N, c, H/2, W/2)
        ConvTranspose2d(channels, c, 4, stride=2, padding=1, dtype=dtype, random_state=rng),  # (N, C, H, W)
        out_act, Flatten())                                                                  # (N, C*H*W)


def dcgan_discriminator(input_shape, channels=64, negative_slope=0.2, random_state=None,
                        dtype=np.float32) -> Sequential:
    """DCGAN-style: ``flat -> (C, H, W) -> Conv(c, 4, s2) -> LeakyReLU -> Conv(2c, 4, s2) -> BN -> LeakyReLU
    -> Dense(1)``."""
    from ..layers.conv import Conv2d
    from ..layers.norm import BatchNorm2d

    rng = as_generator(random_state)
    c, h, w = _image_geometry(input_shape)
    return Sequential(
        Reshape((c, h, w)),
        Conv2d(c, channels, 4, stride=2, padding=1, dtype=dtype, random_state=rng),               # (N, c, H/2, W/2)
        LeakyReLU(negative_slope),
        Conv2d(channels, 2 * channels, 4, stride=2, padding=1, bias=False, dtype=dtype,
               random_state=rng),                                                                 # (N, 2c, H/4, W/4)
        BatchNorm2d(2 * channels, dtype=dtype), LeakyReLU(negative_slope), Flatten(),
        Dense(2 * channels * (h // 4) * (w // 4), 1, activation=None, dtype=dtype, random_state=rng))


class _TwoOptimizers:
    """Two optimizers the Trainer sees as one. ``lead`` is the one the learning-rate schedule moves (its
    ``lr`` and ``hyper`` are shown); both states go into checkpoints, under the keys ``keys``, so a
    resumed run continues exactly. Subclasses say what ``zero_grad`` and ``step`` do."""

    keys = ("lead", "other")

    def __init__(self, lead, other):
        self.lead, self.other = lead, other

    @property
    def hyper(self):
        return self.lead.hyper

    @property
    def lr(self):
        return self.lead.lr

    @lr.setter
    def lr(self, value):
        self.lead.lr = value

    def state_dict(self):
        return {"type": type(self).__name__, self.keys[0]: self.lead.state_dict(),
                self.keys[1]: self.other.state_dict()}

    def load_state_dict(self, sd):
        self.lead.load_state_dict(sd[self.keys[0]])
        self.other.load_state_dict(sd[self.keys[1]])


class _Players(_TwoOptimizers):
    """A GAN's two players' Adams (generator first).

    The updates happen *inside* the training step (the generator's forward must see the freshly updated
    discriminator), so ``step()`` does nothing; ``zero_grad()`` clears both players.
    """

    keys = ("generator", "discriminator")

    def zero_grad(self):
        self.lead.zero_grad()
        self.other.zero_grad()

    def step(self):
        pass


class _WithDiscriminator(_TwoOptimizers):
    """An :class:`AdversarialDenoiser`'s optimizers: the autoencoder's, which the Trainer steps (it holds
    every parameter; the discriminator's gradients are 0 when it steps), and the discriminator's Adam, which
    the training step steps itself. Before both were checkpointed, a resumed run restarted the
    discriminator's moments from zero."""

    keys = ("model", "discriminator")

    def zero_grad(self):
        self.lead.zero_grad()

    def step(self):
        self.lead.step()


class _Monitor(Callback):
    """After every epoch: the spread of samples drawn from a fixed batch of codes (a collapse detector).

    ``sample_pixel_std``: per-pixel standard deviation across the samples, averaged over pixels (0 when
    every sample is the same image); ``sample_mean``: mean pixel value; ``sample_intensity_std``: the
    standard deviation of the samples' mean intensities. Compare with ``data_pixel_std_`` etc.
    """

    def __init__(self, model):
        self.model = model

    def on_epoch_end(self, trainer, epoch, logs):
        stats = _pixel_stats(self.model.generate(self.model._z_monitor).reshape(len(self.model._z_monitor), -1))
        for k, v in stats.items():
            trainer.history.setdefault("sample_" + k, []).append(v)
            logs["sample_" + k] = v
        self.model.train()


def _pixel_stats(flat):
    flat = np.asarray(flat, dtype=np.float64)
    return {"pixel_std": float(flat.std(axis=0).mean()), "mean": float(flat.mean()),
            "intensity_std": float(flat.mean(axis=1).std())}


class SaveSamples(Callback):
    """Save a grid of samples from a fixed batch of codes after every ``every`` epochs (and the last).

    Parameters
    ----------
    path : str
        A file name with ``{epoch}`` in it (``'out/gan_epoch{epoch:03d}.png'``).
    n : int
        Number of samples (from the same ``z`` every epoch, so the grids show one set of codes evolving).
    every : int
    title : str
        Figure title; the epoch is appended.
    random_state : seed of the fixed codes.

    Attributes
    ----------
    paths : list of str
        Files written, in order. ``snapshots`` holds ``(epoch, images)`` for a summary figure.
    """

    def __init__(self, path, n=64, every=1, title="GAN samples", random_state=0):
        if "{epoch" not in path:
            raise ValueError(f"SaveSamples: path must contain '{{epoch}}' (e.g. 'samples_{{epoch:03d}}.png'), "
                             f"got {path!r}")
        self.path, self.n, self.every, self.title = path, int(n), int(every), title
        self.random_state = random_state
        self.paths, self.snapshots = [], []

    def on_train_begin(self, trainer):
        model = trainer.model
        self._z = as_generator(self.random_state).standard_normal((self.n, model.latent_dim))

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch % self.every and epoch != trainer.epochs:
            return
        from .. import plots

        model = trainer.model
        images = model.generate(self._z)
        model.train()
        self.snapshots.append((epoch, images))
        fig = plots.image_grid(images, ncols=int(math.ceil(math.sqrt(self.n))),
                               title=f"{self.title}, epoch {epoch} (same {self.n} codes z every epoch)")
        self.paths.append(plots.save(fig, self.path.format(epoch=epoch)))


# ---------------------------------------------------------------------------------------- the model
class GAN(BaseModel):
    """A GAN with scikit-learn-like ``fit(X)`` / ``sample(n)``.

    Parameters
    ----------
    generator : None, 'mlp', 'dcgan' or nnlite.Module, default None
        ``None``/'mlp': ``z -> 256 -> 512 -> n_features`` with LeakyReLU(0.2) and a tanh output, sized
        from the data in ``fit``. 'dcgan': a transposed-convolution generator with batch norm (images
        with H and W divisible by 4). A Module maps ``(N, latent_dim)`` to flat samples
        ``(N, n_features)`` in the range of ``output_activation``; it is deep-copied by ``fit``.
    discriminator : None, 'mlp', 'dcgan' or nnlite.Module, default None
        ``None``: 'dcgan' if the generator is 'dcgan', else 'mlp' (``n_features -> 512 -> 256 -> 1``,
        LeakyReLU(0.2), dropout). A Module maps flat samples to logits ``(N, 1)`` (no sigmoid).
    latent_dim : int, default 100
    generator_hidden, discriminator_hidden : tuple of int, default (256, 512), (512, 256)
        Widths of the MLP players.
    negative_slope : float, default 0.2
        LeakyReLU slope of the MLP players (and of the DCGAN discriminator).
    dropout : float, default 0.3
        Dropout after each hidden layer of the MLP discriminator (0 turns it off).
    channels : int, default 32
        Base width of the DCGAN players (generator: 2c -> c -> C channels; discriminator: c -> 2c).
    output_activation : {'tanh', 'sigmoid'}, default 'tanh'
        Generator output. With 'tanh' the players work on data rescaled to [-1, 1] (``2 x - 1``);
        ``sample`` always returns images in the data's [0, 1].
    generator_loss : {'non_saturating', 'minimax'}, default 'non_saturating'
    label_smoothing : float in [0, 0.5), default 0.0
        One-sided: the discriminator's target for real images is ``1 - label_smoothing``.
    d_steps : int, default 1
        Discriminator updates per generator update (each on a fresh real batch and fresh fakes).
    lr : float, default 2e-4
        Adam learning rate of the generator (and of the discriminator unless ``d_lr`` is given).
    d_lr : float or None
    betas : pair, default (0.5, 0.999)
    epochs : int or None
        ``None``: enough epochs for about 10,000 generator steps (at least 5).
    batch_size : int, default 64
    dtype : float32 or float64
    random_state : None, int or Generator
        Seeds both players' weights, dropout masks, the codes z and the shuffling: same int =>
        bit-identical fits.

    Attributes
    ----------
    generator_, discriminator_ : nnlite.Module
    history_ : dict of lists, one value per epoch
        ``d_loss``, ``g_loss``; ``d_real`` and ``d_fake``, the mean of ``sigmoid(D(x))`` and of
        ``sigmoid(D(G(z)))`` (before the discriminator's update); ``sample_pixel_std``, ``sample_mean``,
        ``sample_intensity_std``: the spread of 256 samples from fixed codes (see ``data_pixel_std_``).
    data_pixel_std_, data_mean_, data_intensity_std_ : float
        The same statistics on (up to 2000 of) the training samples.
    n_features_in_, input_shape_, n_epochs_, n_iter_ : as in the other models
    """

    _default_steps = 10000
    _min_epochs = 5

    def __init__(self, generator=None, discriminator=None, latent_dim=100, generator_hidden=(256, 512),
                 discriminator_hidden=(512, 256), negative_slope=0.2, dropout=0.3, channels=32,
                 output_activation="tanh", generator_loss="non_saturating", label_smoothing=0.0, d_steps=1,
                 lr=2e-4, d_lr=None, betas=(0.5, 0.999), epochs=None, batch_size=64, dtype=np.float32,
                 random_state=None):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.generator_hidden = generator_hidden
        self.discriminator_hidden = discriminator_hidden
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.channels = channels
        self.output_activation = output_activation
        self.generator_loss = generator_loss
        self.label_smoothing = label_smoothing
        self.d_steps = d_steps
        self.lr = lr
        self.d_lr = d_lr
        self.betas = betas
        self.epochs = epochs
        self.batch_size = batch_size
        self.dtype = dtype
        self.random_state = random_state

    # ------------------------------------------------------------------ validation
    def _check_player(self, name, value):
        if value is None or isinstance(value, Module):
            return value
        if isinstance(value, str) and value.lower() in ARCHITECTURES:
            return value.lower()
        raise ValueError(f"{self._name()}: {name} must be None, one of {list(ARCHITECTURES)} or an nnlite Module, "
                         f"got {value!r}")

    def _validate_params(self):
        self._check_player("generator", self.generator)
        self._check_player("discriminator", self.discriminator)
        self._check_int("latent_dim", self.latent_dim)
        self._check_int("channels", self.channels)
        for name in ("generator_hidden", "discriminator_hidden"):
            hidden = getattr(self, name)
            try:
                self._check_hidden(hidden)
            except ValueError:
                raise ValueError(f"{self._name()}: {name} must be a tuple of layer widths (ints >= 1), "
                                 f"got {hidden!r}") from None
        self._check_positive("negative_slope", self.negative_slope, allow_zero=True)
        if not (isinstance(self.dropout, numbers.Real) and 0 <= self.dropout < 1):
            raise ValueError(f"{self._name()}: dropout must be a number in [0, 1), got {self.dropout!r}")
        self._check_choice("output_activation", self.output_activation, ("tanh", "sigmoid"))
        self._check_choice("generator_loss", self.generator_loss, GENERATOR_LOSSES)
        ls = self.label_smoothing
        if not (isinstance(ls, numbers.Real) and not isinstance(ls, bool) and 0 <= ls < 0.5):
            raise ValueError(f"{self._name()}: label_smoothing must be a number in [0, 0.5) (the real target is "
                             f"1 - label_smoothing), got {ls!r}")
        self._check_int("d_steps", self.d_steps)
        self._check_positive("lr", self.lr)
        if self.d_lr is not None:
            self._check_positive("d_lr", self.d_lr)
        try:
            b1, b2 = self.betas
            ok = 0 <= b1 < 1 and 0 <= b2 < 1
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"{self._name()}: betas must be a pair of numbers in [0, 1), got {self.betas!r}")
        self._check_int("epochs", self.epochs, allow_none=True)
        self._check_int("batch_size", self.batch_size)
        if self.dtype is None or np.dtype(self.dtype) not in (np.float32, np.float64):
            raise ValueError(f"{self._name()}: dtype must be float32 or float64, got {self.dtype!r}")
        as_generator(self.random_state)

    def _check_fitted(self):
        if not hasattr(self, "generator_"):
            raise NotFittedError(f"This {self._name()} instance is not fitted yet. Call 'fit' with appropriate "
                                 "data before using this method.")

    # ------------------------------------------------------------------ building
    def _build(self, n_features, rng):
        dtype = np.dtype(self.dtype)
        g_rng, d_rng = spawn(rng), spawn(rng)
        gen = self._check_player("generator", self.generator) or "mlp"
        disc = self._check_player("discriminator", self.discriminator)
        if disc is None:
            disc = "dcgan" if gen == "dcgan" else "mlp"
        out = self.output_activation.lower()
        if gen == "mlp":
            G = mlp_generator(self.latent_dim, n_features, self.generator_hidden, self.negative_slope, out, g_rng,
                              dtype)
        elif gen == "dcgan":
            G = dcgan_generator(self.latent_dim, self.input_shape_, self.channels, out, g_rng, dtype)
        else:
            G = copy.deepcopy(gen).astype(dtype)
        if disc == "mlp":
            D = mlp_discriminator(n_features, self.discriminator_hidden, self.negative_slope, self.dropout, d_rng,
                                  dtype)
        elif disc == "dcgan":
            D = dcgan_discriminator(self.input_shape_, self.channels, self.negative_slope, d_rng, dtype)
        else:
            D = copy.deepcopy(disc).astype(dtype)
        self.generator_ = G
        self.discriminator_ = D
        # check the players fit together before training starts
        z = np.zeros((2, self.latent_dim), dtype)
        fake = G(z)
        if np.shape(fake) != (2, n_features):
            raise ValueError(f"{self._name()}: the generator maps (N, {self.latent_dim}) codes to {np.shape(fake)[1:]},"
                             f" expected flat samples of {n_features} features")
        logits = D(np.ascontiguousarray(fake))
        if np.shape(logits) != (2, 1):
            raise ValueError(f"{self._name()}: the discriminator must output one logit per sample, shape (N, 1); "
                             f"got {np.shape(logits)[1:]} per batch of 2")

    # ------------------------------------------------------------------ data scaling
    def _to_player_range(self, X):
        """Data in [0, 1] -> the generator's output range ([-1, 1] for tanh)."""
        if self.output_activation.lower() == "tanh":
            return X * np.asarray(2, X.dtype) - np.asarray(1, X.dtype)
        return X

    def _to_data_range(self, Y):
        if self.output_activation.lower() == "tanh":
            return (Y + 1) * 0.5
        return Y

    # ------------------------------------------------------------------ training
    def fit(self, X, epochs=None, batch_size=None, callbacks=(), verbose=0):
        """Build both players for ``X`` (values in [0, 1]) and train them from scratch.

        Parameters
        ----------
        X : array ``(N, n_features)``, ``(N, H, W)`` or ``(N, C, H, W)``, values in [0, 1]
        epochs, batch_size : int, optional
            Override the constructor's.
        callbacks : list of nnlite.Callback
            E.g. :class:`SaveSamples` to write a sample grid every epoch.
        verbose : int

        Returns
        -------
        self
        """
        self._validate_params()
        X = self._check_X(X, reset=True)
        if X.min() < 0 or X.max() > 1:
            raise ValueError(f"{self._name()}: X must hold values in [0, 1] (got [{X.min():.4g}, {X.max():.4g}]); "
                             "rescale it, e.g. X / 255")
        rng = as_generator(self.random_state)
        init_rng, shuffle_rng, self._rng, monitor_rng = spawn(rng), spawn(rng), spawn(rng), spawn(rng)
        self._build(self.n_features_in_, init_rng)
        dtype = np.dtype(self.dtype)
        betas = tuple(float(b) for b in self.betas)
        self.opt_g_ = Adam(self.generator_.parameters(), lr=self.lr, betas=betas)
        self.opt_d_ = Adam(self.discriminator_.parameters(), lr=self.lr if self.d_lr is None else self.d_lr,
                           betas=betas)
        bs = min(self._check_int("batch_size", self.batch_size if batch_size is None else batch_size), len(X))
        ep = self.epochs if epochs is None else self._check_int("epochs", epochs)
        if ep is None:
            ep = max(self._min_epochs, math.ceil(self._default_steps / math.ceil(len(X) / bs)))
        stats = _pixel_stats(X[as_generator(0).permutation(len(X))[:2000]])
        self.data_pixel_std_, self.data_mean_, self.data_intensity_std_ = (
            stats["pixel_std"], stats["mean"], stats["intensity_std"])
        self._z_monitor = monitor_rng.standard_normal((256, self.latent_dim)).astype(dtype)
        self._X_players = self._to_player_range(X)          # what D sees as real
        self._real_target = 1.0 - float(self.label_smoothing)
        trainer = Trainer(self, _Players(self.opt_g_, self.opt_d_), step=self._train_step, batch_size=bs, epochs=ep,
                          shuffle=True, random_state=shuffle_rng, callbacks=[_Monitor(self), *callbacks],
                          verbose=verbose, generators=[self._rng])
        try:
            history = trainer.fit(self._X_players)
        finally:
            del self._X_players
        self.history_ = {k: list(v) for k, v in history.items()}
        self.loss_curve_ = self.history_["g_loss"]
        self.n_epochs_, self.n_iter_, self.batch_size_ = trainer.epoch, trainer.global_step, bs
        self.eval()
        return self

    def _codes(self, n):
        return self._rng.standard_normal((n, self.latent_dim)).astype(self._param_dtype())

    def _discriminator_step(self, x_real):
        """One discriminator update on real samples (player range) and fresh fakes.

        The fakes are computed by the generator but treated as constants (nothing is propagated into
        the generator, whose parameters do not change). The generator's layers keep the forward pass of
        these fakes, which the following generator update reuses.
        """
        G, D = self.generator_, self.discriminator_
        fake = G(self._codes(len(x_real)))                                  # (B, n_features)
        self.opt_d_.zero_grad()
        real_logits = D(x_real)                                             # (B, 1)
        lr_, g_real = bce_with_logits(real_logits, self._real_target)
        D.backward(g_real)
        fake_logits = D(fake)                                               # (B, 1)
        lf_, g_fake = bce_with_logits(fake_logits, 0.0)
        D.backward(g_fake)
        self.opt_d_.step()
        self._fake = fake
        return lr_ + lf_, float(sigmoid(real_logits).mean()), float(sigmoid(fake_logits).mean())

    def _generator_step(self):
        """One generator update on the fakes of the last discriminator step, through the updated D."""
        G, D = self.generator_, self.discriminator_
        self.opt_g_.zero_grad()
        logits = D(self._fake)                                              # (B, 1)
        value, g_logits = generator_loss(logits, self.generator_loss)
        G.backward(D.backward(g_logits))                                    # dL/dfake (B, n_features) -> G
        D.zero_grad()                                                       # D's share is not used
        self.opt_g_.step()
        self._fake = None
        return value

    def _train_step(self, xb, _yb):
        for k in range(self.d_steps):
            if k:   # further discriminator steps each see another random real batch
                xb = self._X_players[self._rng.integers(0, len(self._X_players), len(xb))]
            d_loss, d_real, d_fake = self._discriminator_step(xb)
        g_loss = self._generator_step()
        return {"d_loss": d_loss, "g_loss": g_loss, "d_real": d_real, "d_fake": d_fake}

    # ------------------------------------------------------------------ losses with gradients (for gradchecks)
    def discriminator_loss_and_grad(self, X_real, Z):
        """``L_D`` of real samples ``X_real`` (data range [0, 1]) and the fakes ``G(Z)``.

        Adds ``dL_D/dparam`` into the discriminator's ``.grad`` (call ``zero_grad()`` first); the fakes
        are constants, so the generator's ``.grad`` is untouched. Returns ``L_D``.
        """
        self._check_fitted()
        X = self._to_player_range(self._check_X(X_real, "X_real"))
        fake = self.generator_(np.ascontiguousarray(Z, dtype=self._param_dtype()))
        target = 1.0 - float(self.label_smoothing)
        D = self.discriminator_
        lr_, g = bce_with_logits(D(X), target)
        D.backward(g)
        lf_, g = bce_with_logits(D(fake), 0.0)
        D.backward(g)
        return lr_ + lf_

    def generator_loss_and_grad(self, Z):
        """``L_G`` of the fakes ``G(Z)``; adds ``dL_G/dparam`` into the ``.grad`` of **both** players
        (the discriminator's share is what backpropagation through it produces; training discards it).
        Returns ``L_G``."""
        self._check_fitted()
        G, D = self.generator_, self.discriminator_
        fake = G(np.ascontiguousarray(Z, dtype=self._param_dtype()))
        value, g = generator_loss(D(fake), self.generator_loss)
        G.backward(D.backward(g))
        return value

    # ------------------------------------------------------------------ Module interface
    def forward(self, z):
        """``generator_(z)``: flat samples in the players' range (no validation)."""
        return self.generator_(z)

    def backward(self, dy):
        return self.generator_.backward(dy)

    # ------------------------------------------------------------------ generation
    def generate(self, Z):
        """Images ``(N, *input_shape_)`` in [0, 1] from codes ``Z`` ``(N, latent_dim)`` (eval mode)."""
        self._check_fitted()
        Z = np.asarray(Z)
        if Z.ndim != 2 or Z.shape[1] != self.latent_dim:
            raise ValueError(f"{self._name()}.generate expects codes of shape (N, {self.latent_dim}), got {Z.shape}")
        Z = np.ascontiguousarray(Z, dtype=self._param_dtype())
        self.eval()
        outs = [np.array(self.generator_(Z[s:s + _CHUNK])) for s in range(0, len(Z), _CHUNK)]
        Y = self._to_data_range(np.concatenate(outs))
        return self._as_input_shape(np.clip(Y, 0, 1))

    def sample(self, n, random_state=None):
        """``n`` new images ``(n, *input_shape_)`` in [0, 1].

        ``random_state=None`` draws the codes from the model's own generator (so successive calls give
        new samples); an int gives the same samples every time.
        """
        self._check_fitted()
        n = self._check_int("n", n)
        rng = self._rng if random_state is None else as_generator(random_state)
        return self.generate(rng.standard_normal((n, self.latent_dim)))


# ---------------------------------------------------------------------------------------- judging samples
def nearest_distances(A, B, chunk=1024):
    """Euclidean distance from every row of ``A`` ``(n, d)`` to its nearest row of ``B`` ``(m, d)``, ``(n,)``.

    ``|a - b|^2 = |a|^2 + |b|^2 - 2 a.b`` by chunks of ``A`` (float64 accumulation of the norms,
    products in float32 through BLAS), clipped at 0 before the square root.
    """
    A = np.asarray(A, dtype=np.float32).reshape(len(A), -1)
    B = np.asarray(B, dtype=np.float32).reshape(len(B), -1)
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"nearest_distances: A has {A.shape[1]} features per row, B has {B.shape[1]}")
    bb = np.einsum("ij,ij->i", B, B, dtype=np.float64)
    out = np.empty(len(A))
    for s in range(0, len(A), chunk):
        a = A[s:s + chunk]
        aa = np.einsum("ij,ij->i", a, a, dtype=np.float64)
        d2 = aa[:, None] + bb[None, :] - 2.0 * (a @ B.T).astype(np.float64)
        out[s:s + chunk] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


def evaluate_samples(samples, classifier, X_train, X_test, n_classes=None, min_share=0.05, max_test=2000):
    """Judge generated images without any pretrained network.

    Parameters
    ----------
    samples : array ``(n, ...)`` in [0, 1]
    classifier : fitted :class:`~nnlite.models.MLPClassifier` trained on the real training images
    X_train, X_test : the real training images and held-out real images
    min_share : a class counts as covered if it receives at least this share of the samples

    Returns
    -------
    dict with
        ``class_histogram`` (share of samples per class), ``coverage`` (fraction of classes with at least
        ``min_share``), ``entropy`` (nats) and ``entropy_ratio`` (entropy / log n_classes, 1 = uniform),
        ``confidence`` (mean max class probability), ``nn_dist_samples`` / ``nn_dist_test`` (median
        distance to the nearest training image of the samples / of real test images) and their ratio
        ``nn_ratio`` (near 0 = copies of training images; near 1 = as novel as unseen real images), and
        ``copies`` (fraction of samples closer to a training image than the 1st percentile of the test
        images' nearest distances).
    """
    samples = np.asarray(samples).reshape(len(samples), -1)
    proba = classifier.predict_proba(samples)
    k = proba.shape[1] if n_classes is None else int(n_classes)
    hist = np.bincount(proba.argmax(axis=1), minlength=k) / len(samples)
    nz = hist[hist > 0]
    entropy = 0.0 - float((nz * np.log(nz)).sum())     # 0.0 - : no "-0.0" for a single class
    X_train = np.asarray(X_train).reshape(len(X_train), -1)
    X_test = np.asarray(X_test).reshape(len(X_test), -1)[:max_test]
    d_samples = nearest_distances(samples, X_train)
    d_test = nearest_distances(X_test, X_train)
    return {
        "class_histogram": hist,
        "coverage": float(np.mean(hist >= min_share)),
        "entropy": entropy,
        "entropy_ratio": entropy / math.log(k),
        "confidence": float(proba.max(axis=1).mean()),
        "nn_dist_samples": float(np.median(d_samples)),
        "nn_dist_test": float(np.median(d_test)),
        "nn_ratio": float(np.median(d_samples) / np.median(d_test)),
        "copies": float(np.mean(d_samples < np.percentile(d_test, 1))),
    }


# ---------------------------------------------------------------------------------------- adversarial denoiser
class AdversarialDenoiser(DenoisingAutoencoder):
    r"""A denoising autoencoder with an adversarial term: ``L = recon + adversarial_weight * L_G``.

    A discriminator ``discriminator_`` learns to tell clean images from denoised ones (``L_D`` of the
    module docstring, reals = clean batch, fakes = denoised batch). The autoencoder minimises its usual
    reconstruction loss plus :math:`\lambda` times the non-saturating generator loss on its outputs,
    which pushes the outputs towards images the discriminator finds real: sharper, less averaged.

    With :math:`\hat x = \sigma(a)` (``a`` the decoder's logits) the gradient that reaches ``a`` is

    .. math::
        \frac{\partial L}{\partial a} = \underbrace{\frac{\hat x - x}{B n}}_{\text{BCE}}
            + \lambda\, \hat x (1 - \hat x) \odot D^\top\!\Big(\frac{\sigma(\ell) - 1}{B}\Big)

    (``D^T(.)`` is ``discriminator_.backward``). ``adversarial_weight=0`` is an ordinary
    :class:`DenoisingAutoencoder` (the discriminator is then not trained at all).

    Parameters
    ----------
    adversarial_weight : float, default 0.01
        :math:`\lambda`.
    discriminator_hidden : tuple of int, default (256,)
    d_lr : float, default 2e-4
        Discriminator learning rate (Adam, betas (0.5, 0.999)).
    dropout : float, default 0.3
        Dropout in the discriminator.
    Other parameters as in :class:`DenoisingAutoencoder`.
    """

    def __init__(self, adversarial_weight=0.01, discriminator_hidden=(256,), d_lr=2e-4, dropout=0.3,
                 noise="salt_and_pepper", noise_level=0.1, n_passes=1, n_copies=None, latent_dim=32,
                 hidden=(256,), activation="relu", lr=2e-3, epochs=None, batch_size=None, lr_schedule="cosine",
                 dtype=np.float32, random_state=None):
        super().__init__(noise=noise, noise_level=noise_level, n_passes=n_passes, n_copies=n_copies,
                         latent_dim=latent_dim, hidden=hidden, activation=activation, output_activation="sigmoid",
                         loss="bce", optimizer="adam", lr=lr, epochs=epochs, batch_size=batch_size,
                         lr_schedule=lr_schedule, dtype=dtype, random_state=random_state)
        self.adversarial_weight = adversarial_weight
        self.discriminator_hidden = discriminator_hidden
        self.d_lr = d_lr
        self.dropout = dropout

    def _validate_params(self):
        super()._validate_params()
        self._check_positive("adversarial_weight", self.adversarial_weight, allow_zero=True)
        self._check_positive("d_lr", self.d_lr)
        self._check_hidden(self.discriminator_hidden)
        if not (isinstance(self.dropout, numbers.Real) and 0 <= self.dropout < 1):
            raise ValueError(f"{self._name()}: dropout must be a number in [0, 1), got {self.dropout!r}")

    def _build(self, n_features, rng):
        super()._build(n_features, rng)
        self.discriminator_ = mlp_discriminator(n_features, self._check_hidden(self.discriminator_hidden), 0.2,
                                                self.dropout, spawn(rng), np.dtype(self.dtype))

    def fit(self, X, epochs=None, batch_size=None, lr=None, validation_data=None, verbose=0):
        """As :meth:`DenoisingAutoencoder.fit`, with the discriminator trained alongside."""
        return super().fit(X, epochs=epochs, batch_size=batch_size, lr=lr, validation_data=validation_data,
                           verbose=verbose)

    def _autoencoder_parameters(self):
        return self.encoder_.parameters() + self.decoder_.parameters()

    def _before_fit(self, X, Xv):
        super()._before_fit(X, Xv)
        self.opt_d_ = Adam(self.discriminator_.parameters(), lr=self.d_lr, betas=(0.5, 0.999))

    def _trainer_optimizer(self, opt):
        return _WithDiscriminator(opt, self.opt_d_)

    def _adversarial_step(self, x_noisy, x_clean, train_d=True):
        """Forward/backward of ``recon + lambda * L_G``; first (if ``train_d``) one discriminator update.

        Adds the autoencoder's gradients into its ``.grad``; returns ``(dict of the losses, dL/dx_noisy)``.
        """
        lam = float(self.adversarial_weight)
        body = list(self.decoder_)[:-1]
        z = self.encoder_(x_noisy)                                           # (B, latent_dim)
        logits = run_layers(body, z)                                         # (B, n_features)
        x_hat = sigmoid(logits)                                              # (B, n_features)
        recon = self._loss.forward(logits, x_clean)
        d_logits_ae = self._loss.backward()                                  # (B, n_features)
        logs = {"loss": recon, "recon": recon}
        if lam > 0:
            D = self.discriminator_
            if train_d:
                self.opt_d_.zero_grad()
                real_logits = D(x_clean)
                l1, g = bce_with_logits(real_logits, 1.0)
                D.backward(g)
                fake_logits = D(x_hat)
                l2, g = bce_with_logits(fake_logits, 0.0)
                D.backward(g)
                self.opt_d_.step()
                logs["d_loss"] = l1 + l2
            adv, g = generator_loss(D(x_hat), "non_saturating")
            dx_hat = D.backward(g)                                           # (B, n_features)
            D.zero_grad()
            d_logits_ae = d_logits_ae + lam * dx_hat * x_hat * (1 - x_hat)
            logs["loss"] = recon + lam * adv
            logs["adv"] = adv
        dx = self.encoder_.backward(backward_layers(body, d_logits_ae))      # (B, n_features)
        return logs, dx

    def _train_step(self, xb, yb):
        # BaseModel.fit's optimizer holds every parameter, the discriminator's too. Their gradients are
        # always 0 when it steps (zeroed after each use above), so its Adam moments stay 0 and its update
        # of them is exactly 0: only opt_d_ moves the discriminator.
        return self._adversarial_step(self._train_input(xb), yb)[0]

    def loss_and_grad(self, X, Y=None, train_d=False):
        """``recon + lambda * L_G`` of noisy ``X`` against clean ``Y``; adds the autoencoder's gradients.

        The discriminator is not updated (``train_d=False``) and its ``.grad`` is left at 0. Returns
        ``(L, dL/dX)``.
        """
        self._check_fitted()
        X = self._check_X(X)
        Y = X if Y is None else self._check_X(Y, "Y")
        logs, dx = self._adversarial_step(X, Y, train_d=train_d)
        return logs["loss"], dx
