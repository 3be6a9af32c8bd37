r"""
11. Denoising, and the nearest-glyph bound
==========================================

A denoising autoencoder is trained on corrupted inputs :math:`\tilde x = c(x)` against the clean
targets :math:`x`. The loss is :math:`L(g(f(\tilde x)), x)`: the noise is drawn before the forward
and is a constant of the step, so backprop is exactly the autoencoder's (chapter 5) with
:math:`\tilde x` as the input. Nothing new to derive, but a new question: how good can any
denoiser be?
"""

# %%
# The bound
# ---------
# On a font the clean images are known: 32 glyphs. The best guess of the clean glyph given a noisy
# one is the most likely glyph; for bit-flip or salt-and-pepper noise with a probability below 1/2
# and equally likely glyphs that is the glyph at the smallest Hamming distance. Its rate of exact
# recoveries bounds what any denoiser can reach on the same noisy samples.
import inspect

import numpy as np

import nnlite
from nnlite.data import load_font5x7
from nnlite.demo import nearest_glyph, recovery_stats
from nnlite.models import DenoisingAutoencoder

print(inspect.getsource(nearest_glyph))

# %%
# How the model corrupts its training batches (fresh noise for every batch, from its own seed):
print(inspect.getsource(DenoisingAutoencoder._train_input))

# %%
# Measured against the bound
# --------------------------
X, chars = load_font5x7()
dae = DenoisingAutoencoder(noise="salt_and_pepper", noise_level=0.3, random_state=0).fit(X)
for level in (0.1, 0.2, 0.3):
    s = recovery_stats(dae.reconstruct, X, "salt_and_pepper", level, n_samples=500, random_state=1)
    print(f"salt-and-pepper {level:.1f}: DAE {s['rate']:.1%} exact glyphs, "
          f"nearest-glyph bound {s['bound_rate']:.1%}")

# %%
# The gradient check
# ------------------
# The input of the network is the noisy batch; the target is clean. The check runs the model's own
# loss with a fixed noisy input and the clean target, on a small tanh model (no ReLU kinks).
# The loss sums the BCE over every pixel, so it is large while each input's slope is small: with
# the default step :math:`h = 10^{-6}` float64 round-off in the loss dominates the central
# difference, and with :math:`h = 10^{-4}` its :math:`O(h^2)` truncation shows, near
# :math:`10^{-7}`. The check takes the larger step and a tolerance of :math:`10^{-6}`; a wrong
# derivative is off by far more (a factor, not a few ulps).
model = DenoisingAutoencoder(noise="salt_and_pepper", noise_level=0.2, hidden=(16,), activation="tanh",
                             dtype=np.float64, random_state=0)
model.fit(X, epochs=2)
noisy = model.add_noise(X[:4], random_state=1).astype(np.float64) * 0.8 + 0.1
clean = X[:4].astype(np.float64)


def loss(x):
    model.zero_grad()
    return model.loss_and_grad(x, clean)[0]


def grad(x):
    model.zero_grad()
    return model.loss_and_grad(x, clean)[1]


result = nnlite.check_gradient(loss, grad, noisy, eps=1e-4, tol=1e-6, name="noisy input")
print(result)
assert result.passed, result
