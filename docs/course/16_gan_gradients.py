r"""
16. GANs: the two losses, and the gradient through D into G
===========================================================

A GAN trains two networks against each other: a generator :math:`G` maps noise :math:`z` to
samples, and a discriminator :math:`D` maps a sample to a logit :math:`\ell`, high for "real".
Both losses are the binary cross-entropy of chapter 3 on :math:`D`'s logits; what differs is the
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
print("dL/dlogit, minimax       :", losses.generator_loss(ell, "minimax")[1] * 3)
print("dL/dlogit, non-saturating:", losses.generator_loss(ell, "non_saturating")[1] * 3)

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

# %%
# The gradient checks
# -------------------
# The generator's loss on the logits, then the composite :math:`D \circ G` as one Module: its check
# covers :math:`z` and every parameter of both players, which proves the path from the logit back
# through :math:`D`'s input into :math:`G`.
g64 = lambda l: losses.generator_loss(l)[0]            # noqa: E731
result = nnlite.check_gradient(g64, lambda l: losses.generator_loss(l)[1], rng.normal(size=(5, 1)),
                               name="logits")
print(result)
assert result.passed, result
result = nnlite.gradcheck(nnlite.Sequential(G, D), z)
print(result)
assert result.passed, result
