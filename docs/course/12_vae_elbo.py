r"""
12. The VAE: reparameterisation and the KL gradient
===================================================

A variational autoencoder's encoder outputs, per sample, a Gaussian
:math:`q(z|x) = \mathcal N(\mu, \mathrm{diag}(\sigma^2))` as two vectors :math:`\mu` and
:math:`\mathrm{logvar} = \log \sigma^2`. A code is sampled, decoded, and the loss is the negative ELBO:
a reconstruction term plus the KL divergence of :math:`q` from the prior :math:`\mathcal N(0, I)`.
Two things need a derivative here that no layer has: the sampling, and the KL.
"""

# %%
# Reparameterisation
# ------------------
# Sampling :math:`z \sim \mathcal N(\mu, \sigma^2)` has no derivative in :math:`\mu`. Write the same
# sample as a deterministic function of the parameters and a noise drawn beforehand:
#
# .. math::
#     \varepsilon \sim \mathcal N(0, I), \qquad \sigma = e^{\frac12 \mathrm{logvar}}, \qquad
#     z = \mu + \sigma \odot \varepsilon .
#
# Now, line by line, with :math:`dz = \partial L / \partial z` from the decoder's backward:
#
# .. math::
#     \frac{\partial z}{\partial \mu} = 1
#     \;\Rightarrow\; \frac{\partial L}{\partial \mu} = dz,
#
#     \frac{\partial z}{\partial \mathrm{logvar}} = \varepsilon \odot \frac{\partial \sigma}{\partial \mathrm{logvar}}
#       = \varepsilon \odot \tfrac12 \sigma
#     \;\Rightarrow\; \frac{\partial L}{\partial \mathrm{logvar}} = dz \odot \varepsilon \odot \tfrac12\sigma .
import inspect

import numpy as np

import nnlite
from nnlite.data import load_emoji12
from nnlite.models import VAE
from nnlite.models import vae as vae_module

print(inspect.getsource(vae_module.reparameterize))
print(inspect.getsource(vae_module.reparameterize_backward))

# %%
# The KL term
# -----------
# For one latent dimension, with :math:`v = e^{\mathrm{logvar}} = \sigma^2`,
#
# .. math::
#     \mathrm{KL}\big(\mathcal N(\mu, v)\,\|\,\mathcal N(0, 1)\big)
#       = \mathbb E_q\Big[\log \frac{q(z)}{p(z)}\Big]
#       = \mathbb E_q\Big[-\tfrac12 \log v - \frac{(z - \mu)^2}{2v} + \frac{z^2}{2}\Big]
#       = -\tfrac12 \log v - \tfrac12 + \tfrac12 (v + \mu^2),
#
# using :math:`\mathbb E_q[(z - \mu)^2] = v` and :math:`\mathbb E_q[z^2] = v + \mu^2`. Summed over the
# :math:`m` dimensions this is :math:`-\frac12 \sum_k (1 + \mathrm{logvar}_k - \mu_k^2 - e^{\mathrm{logvar}_k})`.
# Its derivatives, term by term:
#
# .. math::
#     \frac{\partial\,\mathrm{KL}}{\partial \mu_k} = -\tfrac12 \cdot (-2\mu_k) = \mu_k, \qquad
#     \frac{\partial\,\mathrm{KL}}{\partial \mathrm{logvar}_k} = -\tfrac12 (1 - e^{\mathrm{logvar}_k})
#       = \tfrac12 \big(e^{\mathrm{logvar}_k} - 1\big).
#
# The KL is zero, with zero gradient, exactly at the prior: :math:`\mu = 0`, :math:`\mathrm{logvar} = 0`.
print(inspect.getsource(vae_module.kl_divergence))
print(inspect.getsource(vae_module.kl_divergence_backward))

# %%
# Both paths meet in the encoder
# ------------------------------
# With the loss averaged over a batch of :math:`B` and the KL weighted by :math:`\beta`,
#
# .. math::
#     \frac{\partial L}{\partial \mu} = dz + \frac{\beta}{B}\mu,
#
#     \frac{\partial L}{\partial \mathrm{logvar}} = dz \odot \varepsilon \odot \tfrac12\sigma
#       + \frac{\beta}{B}\,\tfrac12\big(e^{\mathrm{logvar}} - 1\big),
#
# concatenated into the gradient of the encoder's output. This is the model's step:
print(inspect.getsource(VAE._elbo_forward_backward))

# %%
# The KL alone, checked
# ---------------------
# :func:`nnlite.check_gradient` checks any scalar function against its gradient.
rng = np.random.default_rng(100)
mu, logvar = rng.normal(size=(5, 3)), rng.normal(scale=0.5, size=(5, 3))
h = np.concatenate([mu, logvar], axis=1)                 # the encoder's output, (B, 2m)


def kl_sum(h):
    return vae_module.kl_divergence(h[:, :3], h[:, 3:]).sum()


def kl_grad(h):
    return np.concatenate(vae_module.kl_divergence_backward(h[:, :3], h[:, 3:]), axis=1)


result = nnlite.check_gradient(kl_sum, kl_grad, h, name="(mu, logvar)")
print(result)
assert result.passed, result

# %%
# The whole negative ELBO, checked
# --------------------------------
# ``loss_and_grad`` runs the step above with a fixed :math:`\varepsilon` and returns the gradient with
# respect to the input images, which flows through the decoder, the reparameterisation, the KL and
# the encoder (and the images' second role, as the reconstruction target). A tanh model: no ReLU kinks.
# The loss sums the BCE over every pixel, so it is large while each input's slope is small: with
# the default step :math:`h = 10^{-6}` float64 round-off in the loss dominates the central
# difference, and with :math:`h = 10^{-4}` its :math:`O(h^2)` truncation shows, near
# :math:`10^{-7}`. The check takes the larger step and a tolerance of :math:`10^{-6}`; a wrong
# derivative is off by far more (a factor, not a few ulps).
E, names = load_emoji12()
vae = VAE(latent_dim=2, hidden=(16,), activation="tanh", dtype=np.float64, random_state=0).fit(E, epochs=3)
x = E[:4].astype(np.float64) * 0.8 + 0.1
eps = rng.normal(size=(4, 2))


def nelbo(x):
    vae.zero_grad()
    return vae.loss_and_grad(x, eps=eps)[0]


def nelbo_grad(x):
    vae.zero_grad()
    return vae.loss_and_grad(x, eps=eps)[1]


result = nnlite.check_gradient(nelbo, nelbo_grad, x, eps=1e-4, tol=1e-6, name="x")
print(result)
assert result.passed, result
