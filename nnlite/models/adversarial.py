r"""A denoising autoencoder with an adversarial term, so that its outputs look like real images.

The reconstruction loss alone rewards the average of every plausible clean image, which is blurry. A
discriminator :math:`D` learns to tell clean images (target 1) from the autoencoder's denoised ones
(target 0) with :func:`nnlite.losses.discriminator_loss`, and the autoencoder adds
:math:`\lambda` times the non-saturating generator loss (:func:`nnlite.losses.generator_loss`) of
its outputs to its own loss, which pushes them towards images :math:`D` finds real: sharper, less
averaged.

>>> from nnlite.models import AdversarialDenoiser
>>> model = AdversarialDenoiser(noise="gaussian", noise_level=0.3, random_state=0).fit(X_train)  # doctest: +SKIP
>>> model.reconstruct(X_noisy)                                                                   # doctest: +SKIP
"""
from __future__ import annotations

import numbers

import numpy as np

from ..layers.activations import sigmoid
from ..losses import discriminator_loss, generator_loss
from ..optim import Adam, OptimizerGroup
from ..random import spawn
from ._base import backward_layers, run_layers
from .autoencoder import DenoisingAutoencoder
from .gan import DCGAN_BETAS, DCGAN_LR
from .players import LEAKY_SLOPE, mlp_discriminator

__all__ = ["AdversarialDenoiser"]

#: The name this model's optimizer group has in checkpoints (a checkpoint resumes only into the same name).
_OPTIMIZER_GROUP = "_WithDiscriminator"


class AdversarialDenoiser(DenoisingAutoencoder):
    r"""A denoising autoencoder with an adversarial term: ``L = recon + adversarial_weight * L_G``.

    A discriminator ``discriminator_`` learns to tell clean images from denoised ones (``L_D`` of
    :func:`nnlite.losses.discriminator_loss`, reals = clean batch, fakes = denoised batch). The
    autoencoder minimises its usual reconstruction loss plus :math:`\lambda` times the non-saturating
    generator loss on its outputs.

    With :math:`\hat x = \sigma(a)` (``a`` the decoder's logits) the gradient that reaches ``a`` is

    .. math::
        \frac{\partial L}{\partial a} = \underbrace{\frac{\hat x - x}{B n}}_{\text{BCE}}
            + \lambda\, \hat x (1 - \hat x) \odot D^\top\!\Big(\frac{\sigma(\ell) - 1}{B}\Big)

    (``D^T(.)`` is ``discriminator_.backward``). ``adversarial_weight=0`` is an ordinary
    :class:`DenoisingAutoencoder` (the discriminator is then not trained at all).

    Each training step first updates the discriminator once (on the clean batch and the current
    outputs), then computes the autoencoder's gradient through the updated discriminator.

    Parameters
    ----------
    adversarial_weight : float, default 0.01
        :math:`\lambda`.
    discriminator_hidden : tuple of int, default (256,)
    d_lr : float, default 2e-4
        Discriminator learning rate (Adam, betas (0.5, 0.999)).
    dropout : float, default 0.3
        Dropout in the discriminator.
    Other parameters as in :class:`DenoisingAutoencoder`. ``fit`` is :meth:`DenoisingAutoencoder.fit`
    (with ``callbacks=``); the discriminator trains alongside.
    """

    def __init__(self, adversarial_weight=0.01, discriminator_hidden=(256,), d_lr=DCGAN_LR, dropout=0.3,
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
        self._check_hidden(self.discriminator_hidden, "discriminator_hidden")
        if not (isinstance(self.dropout, numbers.Real) and 0 <= self.dropout < 1):
            raise ValueError(f"{self._name()}: dropout must be a number in [0, 1), got {self.dropout!r}")

    def _build(self, n_features, rng):
        super()._build(n_features, rng)
        hidden = self._check_hidden(self.discriminator_hidden, "discriminator_hidden")
        self.discriminator_ = mlp_discriminator(n_features, hidden, LEAKY_SLOPE, self.dropout, spawn(rng),
                                                np.dtype(self.dtype))

    def _before_fit(self, X, Xv):
        super()._before_fit(X, Xv)
        self.opt_d_ = Adam(self.discriminator_.parameters(), lr=self.d_lr, betas=DCGAN_BETAS)

    def _trainer_optimizer(self, opt):
        # ``opt`` holds every parameter, the discriminator's too, and the Trainer steps it; their gradients
        # are always 0 when it does (zeroed after each use in _adversarial_step), so its Adam moments stay 0
        # and its update of them is exactly 0: only opt_d_, stepped inside the training step, moves D.
        return OptimizerGroup({"model": opt, "discriminator": self.opt_d_}, stepped=("model",),
                              name=_OPTIMIZER_GROUP)

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
                logs["d_loss"] = discriminator_loss(D, x_clean, x_hat)[0]
                self.opt_d_.step()
            adv, g = generator_loss(D(x_hat), "non_saturating")
            dx_hat = D.backward(g)                                           # (B, n_features)
            D.zero_grad()
            d_logits_ae = d_logits_ae + lam * dx_hat * x_hat * (1 - x_hat)
            logs["loss"] = recon + lam * adv
            logs["adv"] = adv
        dx = self.encoder_.backward(backward_layers(body, d_logits_ae))      # (B, n_features)
        return logs, dx

    def _train_step(self, xb, yb):
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
