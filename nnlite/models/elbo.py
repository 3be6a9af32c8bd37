"""The negative ELBO of a fitted VAE on held-out images: the number its papers and PyTorch's example report."""
from __future__ import annotations

import numpy as np

from ..metrics import _REDUCTIONS, _reduce
from ..random import as_generator
from .vae import VAE, kl_divergence, reparameterize

__all__ = ["vae_negative_elbo"]


def vae_negative_elbo(model, X, n_samples: int = 1, random_state=None, reduction: str = "none",
                      return_terms: bool = False, chunk: int = 2048):
    r"""Per-image negative ELBO of a fitted :class:`nnlite.VAE` (Bernoulli decoder), in nats.

    .. math::
        -\mathrm{ELBO}(x) = \underbrace{\sum_{j=1}^{n} \mathrm{BCE}(\hat x_j(z), x_j)}_{\text{recon}}
          + \underbrace{-\tfrac12 \sum_{k=1}^{m} \big(1 + \log\sigma_k^2 - \mu_k^2 - \sigma_k^2\big)}_{\mathrm{KL}},
        \qquad z = \mu + \sigma \odot \varepsilon,\ \varepsilon \sim \mathcal N(0, I)

    the BCE summed over the image's pixels, ``z`` sampled as in training (averaged over ``n_samples``
    draws). This is "the test loss per image" of PyTorch's VAE example (its BCE-sum + KL summed over
    the test set and divided by its size). The BCE is computed from the decoder's logits
    (``softplus(l) - x l``), exactly; PyTorch's ``binary_cross_entropy`` on sigmoid outputs clamps
    ``log`` at -100, which only matters for saturated pixels. The KL term uses the model's clamped
    ``logvar``, as in training. Computed in float64 from the model's activations.

    Parameters
    ----------
    model : nnlite.VAE
        A fitted VAE (its ``decoder_`` ending with a Sigmoid).
    X : array of shape ``(N, n_features)`` or ``(N, H, W)``
        Images in [0, 1].
    n_samples : int
        Draws of ``z`` per image (1: the training estimate; more: less noisy).
    random_state : None, int or numpy.random.Generator
        Seeds the draws of ``eps``.
    reduction : {'none', 'mean'}
        Per-image values ``(N,)`` or their mean (a float).
    return_terms : bool
        Also return the reconstruction and KL terms: ``(nelbo, recon, kl)``, each reduced alike.
    chunk : int
        Images per pass (bounds memory; does not change the result for a given ``random_state``).
    """
    if not isinstance(model, VAE):
        raise TypeError(f"vae_negative_elbo: model must be a fitted nnlite.VAE, got {type(model).__name__}")
    model._check_fitted()
    if reduction not in _REDUCTIONS:
        raise ValueError(f"vae_negative_elbo: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"vae_negative_elbo: n_samples must be an int >= 1, got {n_samples!r}")
    X = model._check_X(X)                                                   # (N, n) in the model's dtype
    if X.min() < 0 or X.max() > 1:
        raise ValueError(f"vae_negative_elbo: X must be in [0, 1] (Bernoulli decoder), got values in "
                         f"[{X.min():.4g}, {X.max():.4g}]")
    body = model._decoder_body()                                            # up to the logits (checked)
    rng = as_generator(random_state)
    m = model.latent_dim
    recon = np.zeros(len(X))
    kl = np.zeros(len(X))
    for s in range(0, len(X), chunk):
        xb = X[s:s + chunk]                                                 # (B, n)
        h = model.encoder_(xb)                                              # (B, 2m)
        mu, logvar = h[:, :m], h[:, m:]
        kl[s:s + len(xb)] = kl_divergence(mu.astype(np.float64), logvar.astype(np.float64))
        x64 = xb.astype(np.float64)
        for _ in range(n_samples):
            eps = rng.standard_normal(mu.shape, dtype=mu.dtype)
            z, _ = reparameterize(mu, logvar, eps)                         # (B, m)
            logits = z
            for layer in body:
                logits = layer(logits)                                      # (B, n), before the Sigmoid
            l64 = logits.astype(np.float64)
            recon[s:s + len(xb)] += np.sum(np.logaddexp(0.0, l64) - x64 * l64, axis=1) / n_samples
    nelbo = recon + kl
    if return_terms:
        return _reduce(nelbo, reduction), _reduce(recon, reduction), _reduce(kl, reduction)
    return _reduce(nelbo, reduction)


# ---------------------------------------------------------------------------------------- generated samples
