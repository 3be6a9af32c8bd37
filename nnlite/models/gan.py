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
The losses are :func:`nnlite.losses.discriminator_loss` and :func:`nnlite.losses.generator_loss`; the
players are built by :mod:`nnlite.models.players`.

>>> from nnlite.models import GAN
>>> gan = GAN(random_state=0).fit(X_train, epochs=20)          # doctest: +SKIP
>>> images = gan.sample(64)                                     # (64, 28, 28) in [0, 1]
>>> gan.history_["d_loss"], gan.history_["g_loss"]              # one value per epoch
"""
from __future__ import annotations

import copy
import numbers

import numpy as np

from ..callbacks import SampleMonitor
from ..layers.activations import sigmoid
from ..losses import GENERATOR_LOSSES, bce_with_logits, discriminator_loss, generator_loss
from ..metrics import spread_statistics
from ..module import Module
from ..optim import Adam, OptimizerGroup
from ..random import as_generator, spawn
from ..trainer import Trainer
from ._base import BaseModel
from .players import ARCHITECTURES, LEAKY_SLOPE, dcgan_discriminator, dcgan_generator, mlp_discriminator, mlp_generator

__all__ = ["GAN", "DCGAN_LR", "DCGAN_BETAS"]

#: Adam's learning rate and betas for both players, as in DCGAN (Radford et al., 2016).
DCGAN_LR = 2e-4
DCGAN_BETAS = (0.5, 0.999)

#: The name a GAN's optimizer group has in checkpoints (a checkpoint resumes only into the same name).
_OPTIMIZER_GROUP = "_Players"
#: Training samples (a fixed random subset) behind ``data_pixel_std_`` and the other data statistics.
_DATA_STATS_SAMPLES = 2000
#: Fixed codes whose samples :class:`~nnlite.callbacks.SampleMonitor` measures after every epoch.
_MONITOR_CODES = 256


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
    _fitted_attribute = "generator_"
    _inference_rows = 2048
    _min_epochs = 5

    def __init__(self, generator=None, discriminator=None, latent_dim=100, generator_hidden=(256, 512),
                 discriminator_hidden=(512, 256), negative_slope=LEAKY_SLOPE, dropout=0.3, channels=32,
                 output_activation="tanh", generator_loss="non_saturating", label_smoothing=0.0, d_steps=1,
                 lr=DCGAN_LR, d_lr=None, betas=DCGAN_BETAS, epochs=None, batch_size=64, dtype=np.float32,
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
        self._check_hidden(self.generator_hidden, "generator_hidden")
        self._check_hidden(self.discriminator_hidden, "discriminator_hidden")
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
    def fit(self, X, epochs=None, batch_size=None, lr=None, validation_data=None, verbose=1, callbacks=()):
        """Build both players for ``X`` (values in [0, 1]) and train them from scratch.

        Parameters
        ----------
        X : array ``(N, n_features)``, ``(N, H, W)`` or ``(N, C, H, W)``, values in [0, 1]
        epochs, batch_size : int, optional
            Override the constructor's (resolved as in every model: ``epochs=None`` and a constructor
            ``epochs=None`` give about 10,000 generator steps, at least 5 epochs).
        lr : float, optional
            Overrides the constructor's ``lr`` (the generator's, and the discriminator's unless ``d_lr``
            is given). Constant: GANs train without a learning-rate schedule here.
        validation_data : array, optional
            Held-out real samples (values in [0, 1]), evaluated after every epoch in eval mode against
            as many fakes from codes drawn once: ``history_['val_d_loss']``, ``'val_g_loss'``,
            ``'val_d_real'`` and ``'val_d_fake'``, the training entries' twins. A discriminator that
            scores training images far above held-out ones (``d_real`` against ``val_d_real``) is
            memorising them.
        verbose : int
            1 (default): a progress bar with the run's ETA on stderr (a line per epoch off a terminal);
            0: silent.
        callbacks : list of nnlite.Callback
            E.g. :class:`~nnlite.callbacks.SaveSamples` to write a sample grid every epoch,
            :class:`~nnlite.callbacks.ModelCheckpoint` to save resumable checkpoints.

        Returns
        -------
        self
        """
        self._validate_params()
        X = self._check_X(X, reset=True)
        Xv = None if validation_data is None else self._check_X(validation_data, "validation_data")
        for name, A in (("X", X), ("validation_data", Xv)):
            if A is not None and (A.min() < 0 or A.max() > 1):
                raise ValueError(f"{self._name()}: {name} must hold values in [0, 1] (got [{A.min():.4g}, "
                                 f"{A.max():.4g}]); rescale it, e.g. X / 255")
        rng = as_generator(self.random_state)
        init_rng, shuffle_rng, self._rng, monitor_rng = spawn(rng), spawn(rng), spawn(rng), spawn(rng)
        val_rng = spawn(rng)        # spawned last: the training draws are those of a run without validation
        self._build(self.n_features_in_, init_rng)
        bs, ep, lr, _ = self._resolve_schedule(len(X), epochs, batch_size, lr)
        betas = tuple(float(b) for b in self.betas)
        self.opt_g_ = Adam(self.generator_.parameters(), lr=lr, betas=betas)
        self.opt_d_ = Adam(self.discriminator_.parameters(), lr=lr if self.d_lr is None else self.d_lr, betas=betas)
        players = OptimizerGroup({"generator": self.opt_g_, "discriminator": self.opt_d_}, stepped=(),
                                 name=_OPTIMIZER_GROUP)     # both step inside _train_step, in order
        stats = spread_statistics(X[as_generator(0).permutation(len(X))[:_DATA_STATS_SAMPLES]])
        self.data_pixel_std_, self.data_mean_, self.data_intensity_std_ = (
            stats["pixel_std"], stats["mean"], stats["intensity_std"])
        z_monitor = monitor_rng.standard_normal((_MONITOR_CODES, self.latent_dim)).astype(np.dtype(self.dtype))
        self._X_players = self._to_player_range(X)          # what D sees as real
        self._real_target = 1.0 - float(self.label_smoothing)
        val = None
        if Xv is not None:   # each held-out sample is paired with one fixed code, so every epoch sees the same fakes
            val = (self._to_player_range(Xv), val_rng.standard_normal((len(Xv), self.latent_dim)).astype(X.dtype))
        trainer = Trainer(self, players, step=self._train_step, eval_step=self._eval_step, batch_size=bs, epochs=ep,
                          shuffle=True, random_state=shuffle_rng, callbacks=[SampleMonitor(z_monitor), *callbacks],
                          verbose=verbose, generators=[self._rng])
        try:
            history = trainer.fit(self._X_players, validation_data=val)
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
        fake = self.generator_(self._codes(len(x_real)))                    # (B, n_features)
        self.opt_d_.zero_grad()
        value, real_logits, fake_logits = discriminator_loss(self.discriminator_, x_real, fake, self._real_target)
        self.opt_d_.step()
        self._fake = fake
        return value, float(sigmoid(real_logits).mean()), float(sigmoid(fake_logits).mean())

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

    def _eval_step(self, xb, zb):
        """The training step's numbers on held-out reals ``xb`` (player range) and the fakes ``G(zb)``,
        forward only: no gradient, no update, no draw from the model's generator."""
        real_logits = self.discriminator_(xb)                               # (B, 1)
        fake_logits = self.discriminator_(self.generator_(zb))              # (B, 1)
        d_loss = bce_with_logits(real_logits, self._real_target)[0] + bce_with_logits(fake_logits, 0.0)[0]
        g_loss = generator_loss(fake_logits, self.generator_loss)[0]
        return {"d_loss": d_loss, "g_loss": g_loss, "d_real": float(sigmoid(real_logits).mean()),
                "d_fake": float(sigmoid(fake_logits).mean())}

    def score(self, X, y=None):
        """Not defined: the two players' losses rise and fall against each other, so no number of them
        ranks two GANs. Raises NotImplementedError naming what to use instead."""
        raise NotImplementedError(f"{self._name()}.score: a GAN has no loss that ranks models (its players' losses "
                                  "move against each other); judge its samples with "
                                  "nnlite.models.evaluate_samples(gan.sample(n), judge, X_train, X_test)")

    # ------------------------------------------------------------------ losses with gradients (for gradchecks)
    def discriminator_loss_and_grad(self, X_real, Z):
        """``L_D`` of real samples ``X_real`` (data range [0, 1]) and the fakes ``G(Z)``.

        Adds ``dL_D/dparam`` into the discriminator's ``.grad`` (call ``zero_grad()`` first); the fakes
        are constants, so the generator's ``.grad`` is untouched. Returns ``L_D``.
        """
        self._check_fitted()
        X = self._to_player_range(self._check_X(X_real, "X_real"))
        fake = self.generator_(np.ascontiguousarray(Z, dtype=self._param_dtype()))
        return discriminator_loss(self.discriminator_, X, fake, 1.0 - float(self.label_smoothing))[0]

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
        Z = self._check_codes(Z, (self.latent_dim,), f"{self._name()}.generate")
        self.eval()
        Y = self._to_data_range(self._in_chunks(self.generator_, Z))
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
