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
# cross-entropy. As in chapter 3 the model computes it on the decoder's **logits** :math:`\ell`
# (the sigmoid is skipped while training), and the gradient that enters the decoder's last layer is
# just :math:`(\sigma(\ell) - x)/n`. From there the decoder's backward gives
# :math:`\partial L/\partial z` for the code and the encoder's backward continues to the input.
import inspect

import numpy as np
from matplotlib.figure import Figure

import nnlite
from nnlite import plots
from nnlite.data import load_font5x7
from nnlite.models import Autoencoder

print(inspect.getsource(Autoencoder._loss_forward_backward))

# %%
# Training, and the code space
# ----------------------------
X, chars = load_font5x7()                               # (32, 35) in {0, 1}
ae = Autoencoder(latent_dim=2, random_state=0).fit(X)
wrong = int(((ae.reconstruct(X) > 0.5) != X).sum())
print(f"{ae.n_epochs_} epochs; wrong pixels after thresholding: {wrong} of {X.size}")
Z = ae.encode(X)                                        # (32, 2)
fig = Figure(figsize=(6, 5))
ax = fig.subplots()
ax.scatter(Z[:, 0], Z[:, 1], s=8, color="0.7")
for (u, v), c in zip(Z, chars):
    ax.annotate(c, (u, v), ha="center", va="center", fontsize=13)
ax.set_xlabel("$z_1$")
ax.set_ylabel("$z_2$")
ax.set_title("Each glyph at its 2-D code")
print("wrote", plots.save(fig, "out/font_codes.png"))

# %%
# The gradient check
# ------------------
# ``loss_and_grad(x, target)`` is the model's training step without the optimizer: it adds every
# parameter's gradient and returns :math:`\partial L / \partial x` with the target held fixed. Checked
# in float64 on the model's own loss with respect to the input (which reaches every layer's backward).
# The check uses a small tanh model: ReLU has kinks, and a central
# difference that straddles one measures neither side's slope.
# The loss sums the BCE over every pixel, so it is large while each input's slope is small: with
# the default step :math:`h = 10^{-6}` float64 round-off in the loss dominates the central
# difference, and with :math:`h = 10^{-4}` its :math:`O(h^2)` truncation shows, near
# :math:`10^{-7}`. The check takes the larger step and a tolerance of :math:`10^{-6}`; a wrong
# derivative is off by far more (a factor, not a few ulps).
model = Autoencoder(latent_dim=2, hidden=(16,), activation="tanh", dtype=np.float64, random_state=0)
model.fit(X, epochs=3)
x = X[:4].astype(np.float64) * 0.8 + 0.1                # away from the saturated corners
target = X[:4].astype(np.float64)


def loss(x):
    model.zero_grad()
    return model.loss_and_grad(x, target)[0]


def grad(x):
    model.zero_grad()
    return model.loss_and_grad(x, target)[1]


result = nnlite.check_gradient(loss, grad, x, eps=1e-4, tol=1e-6, name="x")
print(result)
assert result.passed, result
