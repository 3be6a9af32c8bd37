r"""Variational autoencoder (Kingma & Welling, 2014) with every derivative written out.

Model. The encoder outputs, for each sample, the mean and log-variance of a diagonal Gaussian
:math:`q(z|x) = \mathcal N(\mu, \mathrm{diag}(\sigma^2))`, :math:`\log\sigma^2 = \mathrm{logvar}`.
A code is drawn with the reparameterisation trick and decoded to pixel probabilities:

.. math::
    \sigma = e^{\frac12 \mathrm{logvar}}, \qquad z = \mu + \sigma \odot \varepsilon, \quad
    \varepsilon \sim \mathcal N(0, I), \qquad \hat x = \mathrm{sigmoid}(g_\phi(z)).

Loss (the negative ELBO), per batch of :math:`B` samples, summed over the :math:`n` pixels and the
:math:`m` latent dimensions and averaged over the batch, as in PyTorch's VAE example:

.. math::
    L = \frac1B \sum_{i=1}^B \Big[\underbrace{\sum_{j=1}^n \mathrm{BCE}(\hat x_{ij}, x_{ij})}_{\text{recon}}
        + \beta\, \underbrace{\Big(-\tfrac12 \sum_{k=1}^m 1 + \mathrm{logvar}_{ik} - \mu_{ik}^2
        - e^{\mathrm{logvar}_{ik}}\Big)}_{\mathrm{KL}(q(z|x_i)\,\|\,\mathcal N(0, I))}\Big]

Gradients (``dz`` is what the decoder's backward returns for the reconstruction term):

.. math::
    \frac{\partial L}{\partial \mathrm{logits}} = \frac{\hat x - x}{B}, \qquad
    \frac{\partial L}{\partial \mu} = dz + \frac{\beta}{B}\mu, \qquad
    \frac{\partial L}{\partial \mathrm{logvar}} = dz \odot \varepsilon \odot \tfrac12\sigma
        + \frac{\beta}{B}\,\tfrac12\big(e^{\mathrm{logvar}} - 1\big).

Denoising ELBO (Im et al., "Denoising Criterion for Variational Auto-Encoding Framework", AAAI 2017).
With ``noise=`` the encoder sees a corrupted copy :math:`\tilde x \sim p(\tilde x|x)` of each training
image, drawn afresh every batch, and the reconstruction term is taken against the clean image:

.. math::
    L_{\mathrm{DVAE}} = \frac1B \sum_i \Big[\sum_j \mathrm{BCE}\big(\hat x_{ij}(z_i), x_{ij}\big)
        + \beta\,\mathrm{KL}\big(q(z|\tilde x_i)\,\|\,\mathcal N(0, I)\big)\Big], \qquad
    z_i = \mu(\tilde x_i) + \sigma(\tilde x_i) \odot \varepsilon_i .

Its gradients are the ones above with the encoder run on :math:`\tilde x`: the reconstruction gradient
:math:`(\hat x - x)/B` at the logits, :math:`dz` through the decoder, then ``[dL/dmu | dL/dlogvar]``
back through the encoder to :math:`\tilde x`. The derivative with respect to the clean target is
:math:`-\mathrm{logit}/B` (``d BCE / d x = -logit``); with respect to the encoder's input it is what the
encoder's backward returns. ``loss_and_grad(X_noisy, Y=X_clean)`` computes this loss and returns
:math:`\partial L / \partial \tilde x`; without ``Y`` the input is its own target and the two add.

The BCE is computed on the decoder's logits (``BCEWithLogitsLoss``): exact and finite for any logit.
``logvar`` is clamped to [-30, 20] before it is exponentiated (``exp(20)`` is a variance of 5e8; float32
overflows near ``exp(88)``); where the clamp is active its derivative is 0.

One ELBO step (:meth:`VAE._elbo_step`) computes the loss and its gradients for training, evaluation and
:meth:`VAE.loss_and_grad` alike: the sampling and the KL are the op ``gaussian_sample_kl`` and its
backward, the reconstruction term the op ``bce_with_logits`` (read them in
:mod:`nnlite.ops.reference`; ``nnlite.use("reference")`` runs exactly that code). The pure functions
below (``reparameterize``, ``kl_divergence`` and their backwards) are the same formulas one term at a
time, for evaluation (:func:`nnlite.models.elbo.vae_negative_elbo`) and for tests of the ops.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from .._validation import check_int
from ..layers.activations import Sigmoid, parse_activation
from ..random import as_generator
from ._base import BaseModel, mlp
from ._noise import _NoisyInputs

__all__ = ["VAE", "reparameterize", "reparameterize_backward", "kl_divergence", "kl_divergence_backward",
           "gaussian_nll", "gaussian_nll_backward"]

LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0


# ---------------------------------------------------------------------------------------- pure math
def _clamped(logvar):
    return np.clip(logvar, LOGVAR_MIN, LOGVAR_MAX)


def reparameterize(mu, logvar, eps):
    """``z = mu + exp(0.5 * logvar) * eps``; returns ``(z, std)``. All arrays ``(N, m)``."""
    std = np.exp(0.5 * _clamped(logvar))                  # (N, m), sigma
    return mu + std * eps, std


def reparameterize_backward(dz, eps, std, logvar=None):
    """``(dL/dmu, dL/dlogvar)`` from ``dL/dz`` for ``z = mu + exp(logvar/2) * eps``.

    ``dz/dmu = 1`` and ``dz/dlogvar = eps * std / 2`` (0 where ``logvar`` is clamped, if given).
    """
    dlogvar = dz * eps * (0.5 * std)
    if logvar is not None:
        dlogvar = dlogvar * ((logvar >= LOGVAR_MIN) & (logvar <= LOGVAR_MAX))
    return dz, dlogvar


def kl_divergence(mu, logvar):
    """Per-sample ``KL(N(mu, e^logvar) || N(0, I)) = -0.5 * sum_k (1 + logvar - mu^2 - e^logvar)``, shape ``(N,)``."""
    lv = _clamped(logvar)
    return -0.5 * np.sum(1.0 + lv - mu * mu - np.exp(lv), axis=-1)


def kl_divergence_backward(mu, logvar):
    """Derivatives of each sample's KL: ``dKL/dmu = mu``, ``dKL/dlogvar = 0.5 * (exp(logvar) - 1)``."""
    inside = (logvar >= LOGVAR_MIN) & (logvar <= LOGVAR_MAX)
    return mu.copy(), 0.5 * (np.exp(_clamped(logvar)) - 1.0) * inside


def _scalar(a):
    """A float from a number or a one-element array (a learned log-variance parameter)."""
    return float(np.asarray(a).reshape(-1)[0])


def gaussian_nll(logits, x, log_var):
    r"""Per-sample Gaussian reconstruction term, shape ``(N,)``: ``-log N(x | sigmoid(logits), e^log_var I)``.

    .. math::
        \mathrm{NLL}_i = \sum_{j=1}^n \Big[\frac{(\hat x_{ij} - x_{ij})^2}{2 e^{s}} + \frac{s + \log 2\pi}{2}\Big],
        \qquad \hat x = \mathrm{sigmoid}(\mathrm{logits}),

    ``s = log_var`` one scalar shared by every pixel (clamped to [-30, 20]). With ``e^s = 1/2`` it is the
    summed squared error plus the constant ``n/2 log(pi)``. ``logits``, ``x``: ``(N, n)``.
    """
    s = min(max(_scalar(log_var), LOGVAR_MIN), LOGVAR_MAX)
    r = 1.0 / (1.0 + np.exp(-logits)) - x                                     # (N, n), x_hat - x
    n = r.shape[-1]
    return np.sum(r * r, axis=-1) * (0.5 * np.exp(-s)) + 0.5 * n * (s + np.log(2 * np.pi))


def gaussian_nll_backward(logits, x, log_var):
    r"""Derivatives of ``gaussian_nll(logits, x, log_var).sum()``: ``(d/dlogits, d/dx, d/dlog_var)``.

    .. math::
        \frac{\partial}{\partial \mathrm{logit}_{ij}} = \frac{\hat x_{ij} - x_{ij}}{e^s}\,\hat x_{ij}(1 - \hat x_{ij}),
        \qquad \frac{\partial}{\partial x_{ij}} = -\frac{\hat x_{ij} - x_{ij}}{e^s}, \qquad
        \frac{\partial}{\partial s} = \sum_{ij} \Big[\frac12 - \frac{(\hat x_{ij} - x_{ij})^2}{2 e^s}\Big]

    (the last one 0 where ``s`` is clamped). The sigmoid's derivative is ``x_hat (1 - x_hat)``.
    """
    lv = _scalar(log_var)
    s = min(max(lv, LOGVAR_MIN), LOGVAR_MAX)
    xh = 1.0 / (1.0 + np.exp(-logits))
    r = xh - x
    inv = np.exp(-s)
    dx = -r * inv
    dlogits = -dx * xh * (1.0 - xh)
    dlogvar = (0.5 * r.size - 0.5 * inv * float(np.sum(r * r))) * (LOGVAR_MIN <= lv <= LOGVAR_MAX)
    return dlogits.astype(logits.dtype, copy=False), dx.astype(logits.dtype, copy=False), dlogvar


# ---------------------------------------------------------------------------------------- the model
class VAE(_NoisyInputs, BaseModel):
    r"""A fully connected VAE with a Bernoulli decoder; with ``noise=``, a denoising VAE.

    Training minimises the negative ELBO, averaged over a batch of :math:`B` samples,

    .. math::
        L = \frac1B \sum_i \Big[\sum_j \mathrm{BCE}(\hat x_{ij}, x_{ij})
            + \beta\,\mathrm{KL}\big(q(z|x_i)\,\|\,\mathcal N(0, I)\big)\Big],

    with :math:`z = \mu + e^{\mathrm{logvar}/2} \odot \varepsilon` (the reparameterisation). With
    ``noise=`` the encoder sees a freshly corrupted copy :math:`\tilde x` of each image and the BCE is
    still taken against the clean :math:`x` (the denoising ELBO of Im et al., 2017). The gradients of
    both are derived in :mod:`nnlite.models.vae`.

    Parameters
    ----------
    latent_dim : int, default 2
        Size of ``z``. 2 lets you plot and walk the latent space; ``latent_dim=20, hidden=(400,)`` is
        the classic MNIST model of Kingma & Welling / PyTorch's example.
    hidden : tuple of int, default (256, 128)
        Encoder widths; the decoder uses them reversed.
    beta : float, default 1.0
        Weight of the KL term (beta-VAE; 1 is the ELBO).
    activation : str, default 'relu'
        Hidden activation of the encoder (and of the decoder unless ``decoder_activation`` is given):
        a name of ``nnlite.layers.ACTIVATIONS`` but softmax, with its parameter after a colon where it
        takes one: ``'leaky_relu:0.2'`` is ``LeakyReLU(negative_slope=0.2)`` (plain ``'leaky_relu'``
        has slope 0.01), ``'elu:0.5'`` is ``ELU(alpha=0.5)``.
    decoder_activation : str, optional
        Hidden activation of the decoder (``None``: ``activation``). PyTorch's denoising-VAE of noisy
        MNIST is ``VAE(latent_dim=20, hidden=(400,), activation='leaky_relu:0.2', decoder_activation='relu')``.
    noise : {'salt_and_pepper', 'bit_flip', 'gaussian', 'masking'}, callable or None, default None
        ``None``: a plain VAE. Otherwise every training batch is corrupted afresh with this noise (see
        :mod:`nnlite.noise`) before the encoder, and the ELBO's reconstruction term is taken against the
        clean batch (the denoising ELBO); validation batches get the fixed validation noise.
    noise_level : float, default 0.1
        Gaussian sigma, or the corruption probability of the other noises.
    optimizer, lr, epochs, batch_size, lr_schedule, dtype, random_state
        As in :class:`~nnlite.models.Autoencoder`. ``epochs=None`` trains for about 3000 optimizer steps.

    Attributes
    ----------
    encoder_ : nnlite.Sequential
        ``n_features -> hidden -> 2 * latent_dim``; columns ``[:latent_dim]`` are ``mu``, the rest ``logvar``.
    decoder_ : nnlite.Sequential
        ``latent_dim -> hidden reversed -> n_features``, ending with a Sigmoid.
    history_ : dict of lists
        Per epoch, sample-averaged: ``'loss'`` (negative ELBO), ``'recon'`` (summed BCE), ``'kl'`` and
        ``'elbo'`` (= -loss); ``'val_*'`` with ``validation_data``.
    loss_curve_ : list of float

    Examples
    --------
    >>> from nnlite.data import load_emoji12
    >>> from nnlite.models import VAE
    >>> E, names = load_emoji12()                              # (34, 144): 12x12 emojis in [0, 1]
    >>> vae = VAE(latent_dim=2, random_state=0).fit(E, verbose=0)
    >>> mu, logvar = vae.encode(E)                             # (34, 2) each
    >>> vae.sample(16, random_state=0).shape                   # new emojis from the prior
    (16, 144)
    >>> vae.decode([[0.5, -1.0]]).shape                        # the emoji at one point of the latent plane
    (1, 144)

    A denoising VAE of noisy digits (PyTorch's example network)::

        dvae = VAE(latent_dim=20, hidden=(400,), activation="leaky_relu:0.2", decoder_activation="relu",
                   noise="gaussian", noise_level=0.3).fit(X_clean)
        denoised = dvae.reconstruct(X_noisy)                   # the decoder's mean
    """

    _default_steps = 3000
    #: The validation generator is re-seeded every epoch from a seed a checkpoint holds: not saved itself.
    _val_rng_in_checkpoint = False

    def __init__(self, latent_dim=2, hidden=(256, 128), beta=1.0, activation="relu", optimizer="adam", lr=1e-3,
                 epochs=None, batch_size=None, lr_schedule="cosine", dtype=np.float32, random_state=None,
                 noise=None, noise_level=0.1, decoder_activation=None):
        super().__init__()
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.beta = beta
        self.activation = activation
        self.decoder_activation = decoder_activation
        self.noise = noise
        self.noise_level = noise_level
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr_schedule = lr_schedule
        self.dtype = dtype
        self.random_state = random_state

    def _validate_params(self):
        self._check_int("latent_dim", self.latent_dim)
        self._check_common()
        self._check_positive("beta", self.beta, allow_zero=True)
        self._check_vae_options()

    def _check_vae_options(self):
        """``decoder_activation``, ``noise`` and ``noise_level`` (sets ``_noise_fn``, ``None`` without noise)."""
        if self.decoder_activation is not None:
            parse_activation(self._name(), self.decoder_activation, "decoder_activation")
        if self.noise is None:
            self._noise_fn = None
        else:
            self._check_noise()

    def _decoder_act(self):
        return self.activation if self.decoder_activation is None else self.decoder_activation

    def _build(self, n_features, rng):
        hidden = self._check_hidden(self.hidden)
        m = self.latent_dim
        dtype = np.dtype(self.dtype)
        self.encoder_ = mlp((n_features, *hidden, 2 * m), self.activation, rng, dtype)
        self.decoder_ = mlp((m, *hidden[::-1], n_features), self._decoder_act(), rng, dtype,
                            output_activation="sigmoid")

    def _check_data_range(self, X):
        if X.min() < 0 or X.max() > 1:
            raise ValueError(f"{self._name()}: the Bernoulli decoder needs data in [0, 1], got values in "
                             f"[{X.min():.4g}, {X.max():.4g}]; rescale X (e.g. X / 255)")

    # ------------------------------------------------------------------ loss and gradients
    def _split(self, h):
        m = self.latent_dim
        return h[:, :m], h[:, m:]                            # mu (N, m), logvar (N, m)

    def _draw_eps(self, shape, dtype, rng):
        return rng.standard_normal(shape, dtype=dtype if dtype in (np.float32, np.float64) else np.float64)

    def _decoder_body(self):
        """The decoder's layers before its output Sigmoid: ``z`` to the logits, which the BCE takes (exact)."""
        *body, last = self.decoder_.children()
        if not isinstance(last, Sigmoid):
            raise ValueError(f"{self._name()}: decoder_ must end with a Sigmoid, got {type(last).__name__}")
        return body

    def _elbo_step(self, X, eps, X_in=None, backward=True, need_dx=True):
        """The negative ELBO of the batch ``X`` with noise ``eps`` (the module docstring's maths) and, with
        ``backward``, its gradients. Returns ``(loss, recon, kl, dX)``.

        The encoder sees ``X_in`` (a corrupted ``X``: the denoising ELBO) or, if ``None``, ``X`` itself;
        ``X`` is the reconstruction target. The gradients are added into the parameters' ``.grad``;
        ``dX`` is ``dL/dX_in`` through the encoder, plus the target's share without ``X_in`` (``None``
        when not ``need_dx``: training needs none, and the first layer then skips that product).
        """
        B, beta = len(X), float(self.beta)
        encoder, decoder = list(self.encoder_.children()), self._decoder_body()
        h = X if X_in is None else X_in
        for layer in encoder:
            h = layer(h)                                                        # (B, 2m) = [mu | logvar]
        z, std, kl = ops.gaussian_sample_kl(h, eps, LOGVAR_MIN, LOGVAR_MAX)     # (B, m) each; KL summed
        logits = z
        for layer in decoder:
            logits = layer(logits)                                              # (B, n)
        recon, kl = self._recon_forward(logits, X) / B, kl / B                  # per-sample means
        loss = recon + beta * kl
        if not backward:
            return loss, recon, kl, None
        dz, dtarget = self._recon_backward(logits, X, np.asarray(1.0 / B, dtype=logits.dtype))
        for layer in reversed(decoder):
            dz = layer.backward(dz)                                             # (B, m) at the end
        dh = ops.gaussian_sample_kl_backward(dz, h, std, eps, beta / B, LOGVAR_MIN, LOGVAR_MAX)   # (B, 2m)
        encoder[0].needs_input_grad = need_dx
        try:
            for layer in reversed(encoder):
                dh = layer.backward(dh)                                         # (B, n) at the end, or None
        finally:
            encoder[0].needs_input_grad = True
        if dh is not None and X_in is None:
            dh += dtarget                                                       # X is also the target
        return loss, recon, kl, dh

    def _recon_forward(self, logits, X):
        """The reconstruction term summed over the batch: BCE of the decoder's logits against ``X``."""
        recon, self._dlogits = ops.bce_with_logits(logits, X, 1.0)
        return recon

    def _recon_backward(self, logits, X, scale):
        """``(dL/dlogits, dL/dX)`` of ``scale * recon`` (``d BCE / d target = -logit``)."""
        return self._dlogits * scale, -(logits * scale)

    def loss_and_grad(self, X, eps=None, random_state=None, Y=None):
        """Negative ELBO of ``X`` and its gradients; ``eps`` ``(N, latent_dim)`` is the reparameterisation
        noise (drawn from ``random_state`` when not given).

        Adds ``dL/dparam`` into every parameter's ``.grad`` (call ``zero_grad()`` first) and returns
        ``(loss, dL/dX)``. Without ``Y`` that is the total derivative: ``X`` is both the encoder's input and
        the reconstruction target (``d BCE / d target = -logit``). With ``Y`` (the clean images of a noisy
        ``X``) the loss is the denoising ELBO, reconstruction against ``Y``, and ``dL/dX`` is the
        derivative through the encoder only. No noise is added here. Works in the parameters' dtype
        (``model.double()`` for gradient checks).
        """
        X, Y, eps = self._loss_inputs(X, Y, eps, random_state)
        loss, _, _, dX = self._elbo_step(Y if Y is not None else X, eps, X_in=None if Y is None else X)
        return loss, dX

    def compute_loss(self, X, eps=None, random_state=None, Y=None) -> dict:
        """``{'loss', 'recon', 'kl', 'elbo'}`` of ``X`` (per-sample means), one draw of ``eps``; with ``Y``
        the denoising ELBO of the encoder input ``X`` and target ``Y``, as in :meth:`loss_and_grad`."""
        X, Y, eps = self._loss_inputs(X, Y, eps, random_state)
        loss, recon, kl, _ = self._elbo_step(Y if Y is not None else X, eps, X_in=None if Y is None else X,
                                             backward=False)
        return {"loss": loss, "recon": recon, "kl": kl, "elbo": -loss}

    def _loss_inputs(self, X, Y, eps, random_state):
        self._check_fitted()
        X = self._check_X(X)
        if Y is not None:
            Y = self._check_X(Y, "Y")
            if Y.shape != X.shape:
                raise ValueError(f"{self._name()}: Y (the clean targets) must match X, got Y of shape "
                                 f"{Y.shape} for X of shape {X.shape}")
        return X, Y, self._check_eps(eps, len(X), random_state)

    def _check_eps(self, eps, n, random_state):
        dtype = self._param_dtype()
        if eps is None:
            return self._draw_eps((n, self.latent_dim), dtype, as_generator(random_state))
        eps = np.asarray(eps, dtype=dtype)
        if eps.shape != (n, self.latent_dim):
            raise ValueError(f"{self._name()}: eps must have shape ({n}, {self.latent_dim}), got {eps.shape}")
        return eps

    def _train_step(self, xb, yb):
        x_in = None if self._noise_fn is None else self._train_input(xb)   # noise first, then eps
        eps = self._draw_eps((len(xb), self.latent_dim), xb.dtype, self._rng)
        loss, recon, kl, _ = self._elbo_step(xb, eps, X_in=x_in, need_dx=False)
        return {"loss": loss, "recon": recon, "kl": kl}

    def _eval_step(self, xb, yb):
        x_in = None if self._noise_fn is None else self._val_input(xb)
        eps = self._draw_eps((len(xb), self.latent_dim), xb.dtype, self._val_generator())
        loss, recon, kl, _ = self._elbo_step(xb, eps, X_in=x_in, backward=False)
        return {"loss": loss, "recon": recon, "kl": kl}

    def _after_fit(self):
        h = self.history_
        h["elbo"] = [-v for v in h["loss"]]
        if "val_loss" in h:
            h["val_elbo"] = [-v for v in h["val_loss"]]

    # ------------------------------------------------------------------ Module interface (for gradcheck)
    def forward(self, x):
        """Reconstruction probabilities through one sampled code, ``eps`` drawn from the model's generator.

        Flat input ``(N, n_features_in_)``; no validation. ``gradcheck`` restores the generator before
        each evaluation, so every evaluation sees the same ``eps``.
        """
        h = self.encoder_(x)                                                    # (N, 2m) = [mu | logvar]
        eps = self._draw_eps((len(h), self.latent_dim), h.dtype, self._rng)
        z, std, _ = ops.gaussian_sample_kl(h, eps, LOGVAR_MIN, LOGVAR_MAX)
        self._cache = (h, std, eps)
        return self.decoder_(z)

    def backward(self, dy):
        h, std, eps = self._cache
        dz = self.decoder_.backward(dy)
        return self.encoder_.backward(ops.gaussian_sample_kl_backward(dz, h, std, eps, 0.0, LOGVAR_MIN, LOGVAR_MAX))

    # ------------------------------------------------------------------ inference
    def encode(self, X):
        """``(mu, logvar)``, each ``(N, latent_dim)``: the posterior ``q(z|x)`` of every sample."""
        self._check_fitted()
        X = self._check_X(X)
        H = self._in_chunks(self.encoder_, X)                     # (N, 2m)
        mu, logvar = self._split(H)
        return mu.copy(), logvar.copy()

    def transform(self, X):
        """The posterior means ``mu`` ``(N, latent_dim)`` (scikit-learn style)."""
        return self.encode(X)[0]

    def decode(self, Z):
        """Pixel probabilities ``(N, *input_shape_)`` in [0, 1] for codes ``Z`` ``(N, latent_dim)``."""
        self._check_fitted()
        Z = self._check_codes(Z, (self.latent_dim,), f"{self._name()}.decode")
        return self._as_input_shape(self._in_chunks(self.decoder_, Z))

    def add_noise(self, X, random_state=None):
        """``X`` corrupted with this model's ``noise`` at ``noise_level`` (test inputs for a denoising VAE)."""
        self._validate_params()
        if self._noise_fn is None:
            raise ValueError(f"{self._name()}: add_noise needs a noise; this model has noise=None "
                             "(give noise='gaussian', noise_level=0.1, say)")
        return super().add_noise(X, random_state)

    def reconstruct(self, X, sample=False, random_state=None):
        """``decode(mu)`` (or ``decode(z)`` with ``z`` drawn from ``q(z|x)`` if ``sample``), shaped like ``X``:
        the decoder's mean. For a denoising VAE pass the noisy images: the result is their clean estimate."""
        X = np.asarray(X)
        mu, logvar = self.encode(X)
        if sample:
            eps = self._draw_eps(mu.shape, mu.dtype, as_generator(random_state))
            mu, _ = reparameterize(mu, logvar, eps)
        return self.decode(mu).reshape(X.shape)

    def sample(self, n, random_state=None):
        """``n`` new samples ``(n, *input_shape_)``: ``decode(z)`` with ``z ~ N(0, I)``."""
        self._check_fitted()
        n = check_int(f"{self._name()}.sample", "n", n)
        z = self._draw_eps((n, self.latent_dim), self._param_dtype(), as_generator(random_state))
        return self.decode(z)
