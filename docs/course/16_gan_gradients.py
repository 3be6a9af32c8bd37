r"""
16. GANs: the two losses, and the gradient through D into G
===========================================================

A GAN trains two networks against each other: a generator :math:`G` maps noise :math:`z` to
samples, and a discriminator :math:`D` maps a sample to a logit :math:`\ell`, high for "real".
Both losses are the binary cross-entropy of chapter 4 on :math:`D`'s logits; what differs is the
target, and which network's parameters move.
"""

# %%
# The discriminator's loss
# ------------------------
# Real samples should be called real (target 1, or :math:`1 - s` with one-sided label smoothing),
# fakes fake (target 0):
#
# .. math::
#     L_D = \mathrm{BCE}(D(x), 1) + \mathrm{BCE}(D(G(z)), 0), \qquad
#     \frac{\partial L_D}{\partial \ell} = \frac{\sigma(\ell) - t}{B} .
#
# The fakes are constants here: only :math:`D`'s parameters get a gradient.
import inspect

import matplotlib.pyplot as plt
import numpy as np

import nnlite
from nnlite import losses

print(inspect.getsource(losses.discriminator_loss))

# %%
# The generator's loss
# --------------------
# The minimax game asks :math:`G` to maximise :math:`D`'s loss, i.e. minimise
# :math:`-\mathrm{BCE}(\ell, 0) = -\log(1 + e^{\ell})`, whose gradient :math:`-\sigma(\ell)/B` vanishes
# exactly when :math:`D` confidently rejects the fakes (:math:`\ell \ll 0`), early in training. The
# **non-saturating** loss asks instead that the fakes be called real,
#
# .. math::
#     L_G = \mathrm{BCE}(D(G(z)), 1) = \frac1B \sum \log(1 + e^{-\ell}), \qquad
#     \frac{\partial L_G}{\partial \ell} = \frac{\sigma(\ell) - 1}{B},
#
# which is largest exactly there.
print(inspect.getsource(losses.generator_loss))
ell = np.array([-6.0, 0.0, 6.0])
sig = 1 / (1 + np.exp(-ell))
print("dL/dlogit, minimax       :", losses.generator_loss(ell, "minimax")[1] * 3)
print("dL/dlogit, non-saturating:", losses.generator_loss(ell, "non_saturating")[1] * 3)
np.testing.assert_allclose(losses.generator_loss(ell, "minimax")[1], -sig / 3, rtol=1e-12)
np.testing.assert_allclose(losses.generator_loss(ell, "non_saturating")[1], (sig - 1) / 3, rtol=1e-12)
np.testing.assert_allclose(losses.generator_loss(ell, "non_saturating")[0], np.mean(np.log1p(np.exp(-ell))),
                           rtol=1e-12)

# %%
# The picture: both generator losses and their gradients against the discriminator's logit on a fake.
# Early in training :math:`D` rejects the fakes (:math:`\ell \ll 0`, left): there the minimax loss is
# flat and its gradient vanishes, while the non-saturating one has its steepest slope.
t = np.linspace(-8, 8, 400)
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
for kind, color in (("minimax", "tab:orange"), ("non_saturating", "tab:blue")):
    values = [losses.generator_loss(np.array([v]), kind)[0] for v in t]
    grads = losses.generator_loss(t, kind)[1] * len(t)               # per fake (undo the mean over B)
    ax0.plot(t, values, color=color, label=kind.replace("_", "-"))
    ax1.plot(t, grads, color=color, label=kind.replace("_", "-"))
ax0.set_title("generator loss $L_G$")
ax1.set_title(r"$\partial L_G / \partial \ell$ (one fake)")
for ax in (ax0, ax1):
    ax.axvspan(-8, -3, color="0.9", zorder=0)
    ax.set_xlabel(r"D's logit $\ell$ on a fake (shaded: fakes confidently rejected)")
    ax.legend(fontsize=8)
plt.show()

# %%
# Through D into G
# ----------------
# :math:`G`'s parameters reach the loss only through :math:`D`:
#
# .. math::
#     \frac{\partial L_G}{\partial \theta_G}
#       = \frac{\partial L_G}{\partial \ell}\, \frac{\partial D}{\partial x}\Big|_{x = G(z)}\,
#         \frac{\partial G}{\partial \theta_G} .
#
# So the generator's step runs :math:`D`'s backward to get :math:`\partial L_G/\partial x` (an input
# gradient: this is why a discriminator must return :math:`dx`), hands it to :math:`G`'s backward,
# and throws away the gradient it put into :math:`D`'s parameters (D does not move in G's step).
rng = np.random.default_rng(100)                # seed 100: not gradcheck's R (seed 0)
G = nnlite.Sequential(nnlite.Linear(4, 16, random_state=0), nnlite.LeakyReLU(0.2),
                      nnlite.Linear(16, 6, random_state=1), nnlite.Tanh())
D = nnlite.Sequential(nnlite.Linear(6, 16, random_state=2), nnlite.LeakyReLU(0.2),
                      nnlite.Linear(16, 1, random_state=3))
z = rng.normal(size=(5, 4))
G.zero_grad()
D.zero_grad()
fake = G(z)                                   # (B, 6)
value, dlogits = losses.generator_loss(D(fake))
dfake = D.backward(dlogits)                   # dL_G / d(fake), through D
G.backward(dfake)                             # into G's parameters
D.zero_grad()                                 # D does not move in G's step
print(f"L_G = {value:.4f}; |dL_G/dfake| = {np.abs(dfake).mean():.2e}")
assert all(not p.grad.any() for p in D.parameters()) and all(p.grad.any() for p in G.parameters())

# %%
# The chain above, by hand: :math:`D` here is Linear, LeakyReLU, Linear, so
# :math:`\partial L_G/\partial\,\mathrm{fake} = \big((g\, W_2^\top) \odot \mathrm{slope}\big) W_1^\top` with
# :math:`g = \partial L_G/\partial \ell` and the leaky slope 1 or 0.2 where the hidden pre-activation is
# positive or negative (asserted):
W1, b1, W2 = D[0].weight.data, D[0].bias.data, D[2].weight.data      # (6, 16), (16,), (16, 1)
pre = fake @ W1 + b1                                                   # (B, 16), D's hidden pre-activation
by_hand = ((dlogits @ W2.T) * np.where(pre > 0, 1.0, 0.2)) @ W1.T      # (B, 6)
np.testing.assert_allclose(dfake, by_hand, rtol=1e-4, atol=1e-7)   # the players are float32: to its rounding

# %%
# The gradient checks
# -------------------
# The generator's loss on the logits, then the composite :math:`D \circ G` as one Module: its check
# covers :math:`z` and every parameter of both players, which proves the path from the logit back
# through :math:`D`'s input into :math:`G`; it runs on the reference backend. One weight of :math:`D`
# here has a gradient of only :math:`2 \times 10^{-5}`, where the default step gives a relative error
# of :math:`9 \times 10^{-8}`, nearly all round-off; :math:`h = 10^{-5}` brings it to :math:`10^{-8}`
# (chapter 6).
g64 = lambda l: losses.generator_loss(l)[0]            # noqa: E731
result = nnlite.check_gradient(g64, lambda l: losses.generator_loss(l)[1], rng.normal(size=(5, 1)),
                               name="logits")
print(result)
assert result.passed, result
with nnlite.ops.using("reference"):
    result = nnlite.gradcheck(nnlite.Sequential(G, D), z, eps=1e-5)
print(result)
assert result.passed, result

# %%
# Exercises
# ---------
# - By hand: with one-sided label smoothing the real target is :math:`1 - s`. Derive
#   :math:`\partial L_D / \partial \ell` on a real sample and check it with
#   ``losses.discriminator_loss(D, real, fake, real_target=0.9)`` and :func:`nnlite.check_gradient`.
# - ``docs/course/exercises/emoji_vae_backward.py`` wires a backward through two networks by hand, as the
#   generator's step does through :math:`D` and :math:`G` here.
