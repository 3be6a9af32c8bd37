r"""
10. The 5x7 font autoencoder and its 2-D code
=============================================

An autoencoder is an MLP trained to output its own input through a narrow middle layer, the code.
nnlite's font has 32 glyphs of :math:`5 \times 7 = 35` pixels; squeezing them through a code of
**two** numbers lets us draw the code space, one point per glyph.
"""

# %%
# The loss and where its gradient starts
# --------------------------------------
# The decoder ends in a sigmoid and the pixels are 0 or 1, so the natural loss is the binary
# cross-entropy. As in chapter 4 the model computes it on the decoder's **logits** :math:`\ell`
# (the sigmoid is skipped while training). :class:`~nnlite.models.Autoencoder` **averages** it over
# the :math:`n = N \cdot D` pixel terms of a batch of :math:`N` images of :math:`D` pixels
# (``reduction='mean'``):
#
# .. math::
#     L = \frac{1}{N D} \sum_{i=1}^{N} \sum_{d=1}^{D} \mathrm{BCE}(\ell_{id}, x_{id}), \qquad
#     \frac{\partial L}{\partial \ell_{id}} = \frac{\sigma(\ell_{id}) - x_{id}}{N D} .
#
# That gradient enters the decoder's last layer; the decoder's backward turns it into
# :math:`\partial L/\partial z` for the code, and the encoder's backward continues to the input,
# each layer adding its parameters' gradients on the way.
import inspect

import matplotlib.pyplot as plt
import numpy as np

import nnlite
from nnlite.data import load_font5x7
from nnlite.models import Autoencoder

print(inspect.getsource(Autoencoder._loss_forward_backward))

# %%
# Training, and the code space
# ----------------------------
X, chars = load_font5x7()                               # (32, 35) in {0, 1}
ae = Autoencoder(latent_dim=2, random_state=0).fit(X, epochs=600, verbose=0)
R = ae.reconstruct(X)                                   # (32, 35) probabilities
wrong = int(((R > 0.5) != X).sum())
print(f"{ae.n_epochs_} epochs; wrong pixels after thresholding: {wrong} of {X.size}")
assert wrong <= 10, wrong

# %%
# Left, each glyph at its 2-D code. Right, what the decoder makes of the codes on a grid spanning the
# same square: every point of the plane decodes to an image, and the glyphs' codes are where the
# decoder reproduces them.
Z = ae.encode(X)                                        # (32, 2)
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 5), layout="constrained")
ax0.scatter(Z[:, 0], Z[:, 1], s=8, color="0.7")
for (u, v), c in zip(Z, chars):
    ax0.annotate(c, (u, v), ha="center", va="center", fontsize=13)
ax0.set_xlabel("$z_1$")
ax0.set_ylabel("$z_2$")
ax0.set_title("Each glyph at its 2-D code")
k = 9
lo, hi = Z.min(axis=0), Z.max(axis=0)
u, v = np.meshgrid(np.linspace(lo[0], hi[0], k), np.linspace(hi[1], lo[1], k))
tiles = ae.decode(np.c_[u.ravel(), v.ravel()].astype(np.float32)).reshape(k, k, 7, 5)
canvas = np.ones((k * 8, k * 6))
for i in range(k):
    for j in range(k):
        canvas[i * 8:i * 8 + 7, j * 6:j * 6 + 5] = 1 - tiles[i, j]
ax1.imshow(canvas, cmap="gray", vmin=0, vmax=1)
ax1.set_title(f"The decoder on a {k}x{k} grid of codes over the same square")
ax1.set_xticks([])
ax1.set_yticks([])
plt.show()

# %%
# The loss is the mean, asserted
# ------------------------------
# From the decoder's output probabilities :math:`p = \sigma(\ell)` the loss of a batch is the mean of
# its :math:`N D` BCE terms (not their sum), and the gradient the BCE hands to the logits is
# :math:`(p - x)/(N D)`; both against the code, in float64:
model = Autoencoder(latent_dim=2, hidden=(16,), activation="tanh", dtype=np.float64, random_state=0)
model.fit(X, epochs=3, verbose=0)
x = X[:4].astype(np.float64) * 0.8 + 0.1                # away from the saturated corners
target = X[:4].astype(np.float64)
p = model.reconstruct(x)                                # (4, 35) = sigma(logits)
bce = -(target * np.log(p) + (1 - target) * np.log(1 - p))
model.zero_grad()
value, dx = model.loss_and_grad(x, target)
np.testing.assert_allclose(value, bce.mean(), rtol=1e-10)
assert not np.isclose(value, bce.sum())
logits = np.log(p) - np.log(1 - p)
bce_loss = nnlite.losses.BCEWithLogitsLoss()
bce_loss(logits, target)
np.testing.assert_allclose(bce_loss.backward(), (p - target) / target.size, rtol=1e-8, atol=1e-15)
print(f"L = {value:.6f} = mean of the {target.size} BCE terms (their sum is {bce.sum():.3f})")
print(f"|dL/dx|: median {np.median(np.abs(dx)):.1e}, smallest {np.abs(dx).min():.1e}")
assert np.median(np.abs(dx)) < 1e-3 and np.abs(dx).min() < 1e-6     # the sizes the next section relies on

# %%
# The gradient check: every parameter and the input
# -------------------------------------------------
# ``loss_and_grad(x, target)`` is the model's training step without the optimizer: it adds every
# parameter's gradient and returns :math:`\partial L / \partial x` with the target held fixed.
# :func:`nnlite.check_loss_gradients` checks all of them against numerical derivatives of the loss, in
# float64, on a small tanh model (ReLU has kinks, and a difference that straddles one measures neither
# side's slope).
#
# The step needs care here, and the reason is the mean. The loss is of order 1, but it is divided
# among :math:`N D = 140` terms, so a single input's or weight's gradient is of order
# :math:`10^{-3}` or less (the smallest entries of :math:`\partial L/\partial x` here are below
# :math:`10^{-6}`). Central differences with :math:`h = 10^{-6}` carry a round-off of about
# :math:`10^{-16} |L| / h = 10^{-10}`, already :math:`10^{-7}` of a gradient of :math:`10^{-3}`
# (chapter 6). The model check therefore takes a larger step, :math:`h = 10^{-3}`, with the five-point
# stencil
#
# .. math:: f'(x) \approx \frac{-f(x + 2h) + 8 f(x + h) - 8 f(x - h) + f(x - 2h)}{12 h},
#
# whose truncation error is :math:`O(h^4) \approx 10^{-12}` instead of :math:`O(h^2)`: less round-off
# at the same accuracy, and the bar stays :math:`10^{-7}`. To keep the page quick it checks 40 random
# coordinates of each tensor (every coordinate of the small ones).
with nnlite.ops.using("reference"):
    result = nnlite.check_loss_gradients(model, x, target, n_coords=40)
print(result)
assert result.passed, result
assert set(result.errors) == {name for name, _ in model.named_parameters()} | {"input"}

# %%
# Exercises
# ---------
# - ``docs/course/exercises/emoji_vae_backward.py`` wires an encoder and a decoder from layers and passes the
#   backward through them by hand (the VAE of chapter 12); start with this chapter's autoencoder:
#   ``forward`` through each layer, the BCE's gradient, then ``backward`` through each layer in reverse.
# - With ``reduction='sum'`` the gradient of every weight would be :math:`N D` times larger. What would
#   that change for Adam's step (chapter 8), and what for SGD's?
