r"""
12. The VAE: the ELBO, reparameterisation and the KL gradient
=============================================================

A variational autoencoder is a generative model: a prior :math:`p(z) = \mathcal N(0, I)` over codes
and a decoder :math:`p(x|z)` over images. Its encoder outputs, per image, a Gaussian
:math:`q(z|x) = \mathcal N(\mu, \mathrm{diag}(\sigma^2))` as two vectors :math:`\mu` and
:math:`\mathrm{logvar} = \log \sigma^2`. Training maximises a lower bound on :math:`\log p(x)`, the
ELBO; this chapter derives it, then the two derivatives no layer has: through the sampling, and of
the KL term.
"""

# %%
# The ELBO, derived
# -----------------
# The likelihood of an image integrates over every code, :math:`p(x) = \int p(x|z)\, p(z)\, dz`:
# intractable for a neural decoder. Multiply and divide by :math:`q(z|x)` inside the integral, and
# use Jensen's inequality (:math:`\log` is concave, so :math:`\log \mathbb E[Y] \ge \mathbb E[\log Y]`):
#
# .. math::
#     \log p(x) &= \log \mathbb E_{q(z|x)}\Big[\frac{p(x|z)\, p(z)}{q(z|x)}\Big]
#       \ \ge\ \mathbb E_{q(z|x)}\Big[\log \frac{p(x|z)\, p(z)}{q(z|x)}\Big] \\
#       &= \underbrace{\mathbb E_{q}\big[\log p(x|z)\big]}_{\text{reconstruction}}
#         - \underbrace{\mathrm{KL}\big(q(z|x)\,\|\,p(z)\big)}_{\text{regulariser}}
#       = \mathrm{ELBO}(x).
#
# How loose is it? Write :math:`p(x|z)\,p(z) = p(z|x)\,p(x)` in the middle expression: the ELBO is
# :math:`\mathbb E_q[\log p(x) + \log p(z|x) - \log q(z|x)]`, so
#
# .. math:: \log p(x) - \mathrm{ELBO}(x) = \mathrm{KL}\big(q(z|x)\,\|\,p(z|x)\big) \ \ge 0 :
#
# the gap is how far the encoder's :math:`q` is from the true posterior, and maximising the ELBO
# over the encoder pulls :math:`q` towards it while the decoder's part raises :math:`\log p(x)`.
#
# Both statements, asserted on a model small enough to have every term in closed form: one
# dimension, :math:`p(z) = \mathcal N(0, 1)`, :math:`p(x|z) = \mathcal N(z, s^2)`. Then
# :math:`p(x) = \mathcal N(0, 1 + s^2)` and the posterior is
# :math:`\mathcal N\big(x/(1 + s^2),\ s^2/(1 + s^2)\big)`. For :math:`q = \mathcal N(m, v)`,
# :math:`\mathbb E_q[\log p(x|z)] = -\frac12 \log(2\pi s^2) - \frac{(x - m)^2 + v}{2 s^2}` and the KL
# is derived below.
import inspect

import matplotlib.pyplot as plt
import numpy as np

import nnlite
from nnlite.data import load_emoji12
from nnlite.models import VAE
from nnlite.models import vae as vae_module
from nnlite.ops import reference


def show_ops(*names):
    """Print the reference backend's source of each op: an op renamed or removed fails here, loudly."""
    for name in names:
        print(inspect.getsource(getattr(reference, name)))


def kl_gauss(m1, v1, m2, v2):
    """KL(N(m1, v1) || N(m2, v2)), one dimension."""
    return 0.5 * (np.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1)


s2, x_obs = 0.5, 1.3
log_px = -0.5 * np.log(2 * np.pi * (1 + s2)) - x_obs ** 2 / (2 * (1 + s2))
post_m, post_v = x_obs / (1 + s2), s2 / (1 + s2)
m_grid = np.linspace(-1.0, 2.5, 141)
elbo = {}
for v in (post_v, 0.1, 1.0):
    recon = -0.5 * np.log(2 * np.pi * s2) - ((x_obs - m_grid) ** 2 + v) / (2 * s2)
    elbo[v] = recon - kl_gauss(m_grid, v, 0.0, 1.0)
    assert np.all(elbo[v] <= log_px + 1e-12)                                        # Jensen
    np.testing.assert_allclose(log_px - elbo[v], kl_gauss(m_grid, v, post_m, post_v), rtol=1e-10, atol=1e-12)
best = np.argmax(elbo[post_v])
np.testing.assert_allclose(elbo[post_v][best], log_px, atol=2e-4)          # tight at q = the posterior
print(f"log p(x) = {log_px:.4f}; the ELBO's maximum {elbo[post_v][best]:.4f} at m = {m_grid[best]:.3f} "
      f"(the posterior mean is {post_m:.3f})")

fig, ax = plt.subplots(figsize=(7, 3.8), layout="constrained")
ax.axhline(log_px, color="k", lw=1.5, label=r"$\log p(x)$")
for v, curve in elbo.items():
    label = f"v = {v:.3f} (the posterior's)" if v == post_v else f"v = {v:g}"
    ax.plot(m_grid, curve, label=rf"ELBO of $q = N(m, v)$, {label}")
k = np.argmin(np.abs(m_grid - 1.6))
ax.annotate("", (m_grid[k], log_px), (m_grid[k], elbo[0.1][k]), arrowprops=dict(arrowstyle="<->", color="tab:orange"))
ax.text(m_grid[k] + 0.05, (elbo[0.1][k] + log_px) / 2, r"gap $=\mathrm{KL}(q\,\|\,p(z|x))$", fontsize=9,
        va="center", color="tab:orange")
ax.axvline(post_m, color="0.5", ls=":", lw=1)
ax.set_xlabel("$m$, the mean of $q$")
ax.set_ylabel("nats")
ax.set_ylim(log_px - 2.2, log_px + 0.3)
ax.legend(fontsize=8, loc="lower left")
ax.set_title(r"$p(z) = N(0, 1)$, $p(x|z) = N(z, 0.5)$, $x = 1.3$")
plt.show()

# %%
# The VAE's loss
# --------------
# nnlite's VAE has a Bernoulli decoder: pixel :math:`d` is 1 with probability :math:`\sigma(\ell_d(z))`,
# so :math:`-\log p(x|z) = \sum_d \mathrm{BCE}(\ell_d(z), x_d)`, the BCE of chapter 4 **summed** over the
# pixels: the log-likelihood of the whole image (unlike the autoencoder of chapter 10, which averages,
# this sum is what the ELBO prescribes). The loss of a batch of :math:`B` images is the negative ELBO
# per image, with the KL weighted by :math:`\beta` (1 for the ELBO itself):
#
# .. math::
#     L = \frac1B \sum_{i=1}^{B} \Big[\sum_d \mathrm{BCE}\big(\ell_d(z_i), x_{id}\big)
#         + \beta\, \mathrm{KL}\big(q(z|x_i)\,\|\,p(z)\big)\Big],
#     \qquad z_i \sim q(z|x_i) .
#
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
#
# The Monte-Carlo gradient
# ------------------------
# The reconstruction term is an expectation over :math:`q`, and the step above differentiates **one
# sample** of it. That is legitimate because, after reparameterisation, the distribution of
# :math:`\varepsilon` does not depend on :math:`(\mu, \sigma)`, so the gradient moves inside the
# expectation:
#
# .. math::
#     \nabla_{\mu, \sigma}\, \mathbb E_{z \sim q}[f(z)]
#       = \nabla_{\mu, \sigma}\, \mathbb E_{\varepsilon}[f(\mu + \sigma \varepsilon)]
#       = \mathbb E_{\varepsilon}\big[\nabla_{\mu, \sigma} f(\mu + \sigma\varepsilon)\big] .
#
# So the gradient computed with **one** :math:`\varepsilon` per image is an **unbiased** estimate of
# the ELBO's gradient: right on average, noisy in each step; the batch average and the many steps of
# training average the noise out. (The KL term has a closed form, so its gradient is exact.)
#
# Checked on :math:`f(z) = z^2`, whose expectation is known: :math:`\mathbb E[f] = \mu^2 + \sigma^2`,
# so :math:`\partial/\partial\mu = 2\mu` and :math:`\partial/\partial\mathrm{logvar} = \sigma^2`. The
# one-sample estimates come from the reference op :func:`~nnlite.ops.reference.gaussian_sample_kl_backward`
# (with :math:`dz = f'(z) = 2z` and no KL), one per row of a batch of 20,000 draws; their mean must be
# within 4 standard errors of the exact gradient (asserted):
mu, logvar = 0.7, np.log(0.6)
n = 20_000
eps = np.random.default_rng(1).normal(size=(n, 1))
h = np.tile([[mu, logvar]], (n, 1))                                 # (n, 2) = [mu | logvar]
z, std, _ = reference.gaussian_sample_kl(h, eps)
g = reference.gaussian_sample_kl_backward(2 * z, h, std, eps, kl_scale=0.0)      # (n, 2): one estimate a row
exact = np.array([2 * mu, np.exp(logvar)])
stderr = g.std(axis=0) / np.sqrt(n)
print(f"exact gradient (mu, logvar): {exact}; mean of {n} one-sample estimates: {g.mean(axis=0).round(4)} "
      f"+- {stderr.round(4)}")
assert np.all(np.abs(g.mean(axis=0) - exact) < 4 * stderr)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained")
for ax, k, name in zip(axes, (0, 1), (r"\mu", r"\mathrm{logvar}")):
    ax.hist(g[:, k], bins=80, color="0.7")
    ax.axvline(exact[k], color="tab:red", lw=2, label=f"exact gradient {exact[k]:.3f}")
    ax.axvline(g[:, k].mean(), color="k", ls="--", label=f"mean of the estimates {g[:, k].mean():.3f}")
    ax.set_title(rf"one-sample estimates of $\partial\, E[z^2] / \partial {name}$")
    ax.legend(fontsize=8)
plt.show()

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
# The closed form against the op, and against a Monte-Carlo estimate of
# :math:`\mathbb E_q[\log q(z) - \log p(z)]` from its definition (within 4 standard errors), asserted:
_, _, kl_op = reference.gaussian_sample_kl(np.array([[mu, logvar]]), np.zeros((1, 1)))
kl_closed = -0.5 * np.log(np.exp(logvar)) - 0.5 + 0.5 * (np.exp(logvar) + mu ** 2)
log_ratio = (-0.5 * logvar - (z - mu) ** 2 / (2 * np.exp(logvar))) - (-0.5 * z ** 2)     # log q - log p
np.testing.assert_allclose(kl_op, kl_closed, rtol=1e-12)
assert abs(log_ratio.mean() - kl_closed) < 4 * log_ratio.std() / np.sqrt(n)
print(f"KL: op {kl_op:.5f}, closed form {kl_closed:.5f}, Monte-Carlo {log_ratio.mean():.5f}")

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
# concatenated into the gradient of the encoder's output. These are the ops of the reference backend,
# and the model's step that calls them:
show_ops("gaussian_sample_kl", "gaussian_sample_kl_backward")
print(inspect.getsource(VAE._elbo_step))

# %%
# The KL alone, checked
# ---------------------
# :func:`nnlite.check_gradient` checks any scalar function against its gradient.
rng = np.random.default_rng(100)
mu_b, logvar_b = rng.normal(size=(5, 3)), rng.normal(scale=0.5, size=(5, 3))
h = np.concatenate([mu_b, logvar_b], axis=1)             # the encoder's output, (B, 2m)


def kl_sum(h):
    return vae_module.kl_divergence(h[:, :3], h[:, 3:]).sum()


def kl_grad(h):
    return np.concatenate(vae_module.kl_divergence_backward(h[:, :3], h[:, 3:]), axis=1)


result = nnlite.check_gradient(kl_sum, kl_grad, h, name="(mu, logvar)")
print(result)
assert result.passed, result

# %%
# The whole negative ELBO, checked: every parameter and the input
# ---------------------------------------------------------------
# ``loss_and_grad(x, eps=eps)`` runs the step above with a fixed :math:`\varepsilon` (one draw per
# image, held fixed so that the loss is a function to differentiate) and adds every parameter's
# gradient; it returns the gradient with respect to the input images, which flows through the decoder,
# the reparameterisation, the KL and the encoder (and the images' second role, as the reconstruction
# target). :func:`nnlite.check_loss_gradients` checks all of them, on a tanh model (no ReLU kinks), on
# the reference backend. The loss **sums** the BCE over 144 pixels, so it is near 100 while a pixel's
# gradient can be :math:`10^{-5}`: the round-off of the loss, :math:`10^{-16} \cdot 100 / h`, is a
# hundred times larger than for chapter 10's mean. The check takes the five-point stencil with
# :math:`h = 3 \times 10^{-3}` (truncation :math:`h^4 \approx 10^{-10}`), tolerance :math:`10^{-7}`,
# on 20 random coordinates of each tensor.
E, names = load_emoji12()
vae = VAE(latent_dim=2, hidden=(16,), activation="tanh", dtype=np.float64, random_state=0)
vae.fit(E, epochs=3, verbose=0)
x = E[:4].astype(np.float64) * 0.8 + 0.1
eps = rng.normal(size=(4, 2))
with nnlite.ops.using("reference"):
    result = nnlite.check_loss_gradients(vae, x, loss_kwargs=dict(eps=eps), eps=3e-3, n_coords=20)
print(result)
assert result.passed, result
assert set(result.errors) == {name for name, _ in vae.named_parameters()} | {"input"}

# %%
# Exercises
# ---------
# - ``docs/course/exercises/emoji_vae_backward.py``: the 12x12 emoji VAE built from layers, with its backward
#   wired by hand: through the decoder, the reparameterisation and the KL (the two formulas above),
#   then the encoder. Grade it with ``nnlite gradcheck docs/course/exercises/emoji_vae_backward.py``.
# - By hand: with a Gaussian decoder :math:`p(x|z) = \mathcal N(\hat x(z), s^2 I)`, show that
#   :math:`-\log p(x|z)` is the squared error scaled by :math:`1/(2s^2)` plus a constant. What does
#   :math:`s` trade off against the KL?
