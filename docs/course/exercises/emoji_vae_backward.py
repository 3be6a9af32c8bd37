"""Exercise: the emoji VAE's backward, wired by hand through encoder, sampling, KL and decoder.

The course lab's variational autoencoder on 12x12 emoji (144 pixels in [0, 1]). ``forward`` is
written: it returns each sample's negative ELBO, so the grader checks every path of the loss.
Write ``backward``; it receives :math:`g = \\partial L / \\partial \\mathcal{L}_n` of shape ``(N, 1)``.

The forward pass, per sample
----------------------------
.. math::
    h = \\text{enc}(x) = [\\mu, \\log\\sigma^2], \\quad \\sigma = e^{\\log\\sigma^2 / 2}, \\quad
    z = \\mu + \\sigma \\odot \\varepsilon, \\quad \\ell = \\text{dec}(z) \\text{ (logits)},

.. math::
    \\mathcal{L} = \\underbrace{\\sum_p \\big(\\log(1 + e^{\\ell_p}) - x_p \\ell_p\\big)}_{\\text{BCE}}
    + \\underbrace{\\tfrac12 \\sum_k \\big(\\mu_k^2 + \\sigma_k^2 - 1 - \\log\\sigma_k^2\\big)}_{\\text{KL}}.

Derive
------
* BCE on logits: :math:`\\partial \\mathcal{L} / \\partial \\ell = \\text{sigmoid}(\\ell) - x`; then
  ``decoder.backward`` gives :math:`\\partial \\mathcal{L} / \\partial z`.
* Reparameterisation (:math:`\\varepsilon` fixed): :math:`\\partial z / \\partial \\mu = 1` and
  :math:`\\partial z / \\partial \\log\\sigma^2 = \\varepsilon \\sigma / 2`.
* KL: :math:`\\partial / \\partial \\mu = \\mu` and :math:`\\partial / \\partial \\log\\sigma^2 =
  (\\sigma^2 - 1)/2`, added to the sampling path's gradients.
* ``encoder.backward`` of :math:`[\\partial/\\partial\\mu, \\partial/\\partial\\log\\sigma^2]` gives one part
  of :math:`\\partial \\mathcal{L} / \\partial x`. The other: ``x`` is also the BCE's target, and
  :math:`\\partial \\text{BCE} / \\partial x_p = -\\ell_p`. Gradients add where a value is used twice.

Multiply everything by ``g`` (one number per sample). ``eps`` comes from ``self.rng``; the grader
restores it before every evaluation, so each forward sees the same noise.

Check your answer with ``nnlite gradcheck docs/course/exercises/emoji_vae_backward.py``.
"""
import numpy as np

import nnlite


class EmojiVAE(nnlite.Module):
    """144 pixels -> ``hidden`` tanh -> ``2 * latent`` (mu, log-variance); ``latent`` -> ``hidden`` tanh
    -> 144 logits. ``forward(x)`` returns the negative ELBO of each sample, ``(N, 1)``."""

    def __init__(self, n_pixels=144, hidden=16, latent=2, random_state=0):
        super().__init__()
        self.latent = latent
        self.encoder = nnlite.Sequential(nnlite.Linear(n_pixels, hidden, random_state=random_state), nnlite.Tanh(),
                                         nnlite.Linear(hidden, 2 * latent, random_state=random_state + 1))
        self.decoder = nnlite.Sequential(nnlite.Linear(latent, hidden, random_state=random_state + 2), nnlite.Tanh(),
                                         nnlite.Linear(hidden, n_pixels, random_state=random_state + 3))
        self.rng = np.random.default_rng(random_state)

    def forward(self, x):
        h = self.encoder(x)                                        # (N, 2 latent)
        mu, logvar = h[:, :self.latent], h[:, self.latent:]        # (N, latent) each
        std = np.exp(0.5 * logvar)
        eps = self.rng.standard_normal(mu.shape)                   # (N, latent)
        logits = self.decoder(mu + std * eps)                      # (N, 144)
        bce = np.sum(np.logaddexp(0.0, logits) - x * logits, axis=1)
        kl = 0.5 * np.sum(mu ** 2 + std ** 2 - 1.0 - logvar, axis=1)
        self._cache = (x, logits, mu, std, eps)
        return (bce + kl)[:, None]                                 # (N, 1)

    def backward(self, dy):
        raise NotImplementedError("your code here")


def _emoji_like(n, seed=0):
    """``n`` smooth 12x12 discs with eyes, flattened: values in (0, 1), like the lab's emoji."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:12, 0:12] / 11.0
    out = []
    for _ in range(n):
        cx, cy, r = rng.uniform(0.4, 0.6, 2).tolist() + [rng.uniform(0.3, 0.45)]
        face = 1 / (1 + np.exp((np.hypot(xx - cx, yy - cy) - r) * 30))
        eyes = sum(np.exp(-((xx - cx - dx) ** 2 + (yy - cy + 0.12) ** 2) / 0.002) for dx in (-0.12, 0.12))
        out.append(np.clip(0.05 + 0.85 * face - 0.6 * eyes, 0.02, 0.98).ravel())
    return np.array(out)                                           # (n, 144)


# The loss sums 144 pixels (about 100 per sample) while some weight gradients are near 1e-5: central
# differences lose digits to round-off there. The five-point rule with a larger step keeps the
# numerical gradients good to about 1e-7; the pass threshold 1e-5 leaves room for that, and a wrong
# backward (a term forgotten, a sign flipped) is off by far more.
GRADCHECK = [(EmojiVAE(), _emoji_like(3), {"eps": 1e-3, "stencil": 5, "tol": 1e-5})]
