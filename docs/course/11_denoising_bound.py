r"""
11. Denoising, and the nearest-glyph bound
==========================================

A denoising autoencoder is trained on corrupted inputs :math:`\tilde x = c(x)` against the clean
targets :math:`x`. The loss is :math:`L(g(f(\tilde x)), x)`: the noise is drawn before the forward
and is a constant of the step, so backprop is exactly the autoencoder's (chapter 10) with
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

import matplotlib.pyplot as plt
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
# The bound is an expectation; on 500 noisy samples per level the denoiser's rate could exceed the
# bound's by chance, by a sampling error of about :math:`\sqrt{r(1 - r)/500} \le 2.2\%`, and it is
# asserted within three of those.
X, chars = load_font5x7()
dae = DenoisingAutoencoder(noise="salt_and_pepper", noise_level=0.3, random_state=0).fit(X, epochs=600, verbose=0)
for level in (0.1, 0.2, 0.3):
    s = recovery_stats(dae.reconstruct, X, "salt_and_pepper", level, n_samples=500, random_state=1)
    print(f"salt-and-pepper {level:.1f}: DAE {s['rate']:.1%} exact glyphs, "
          f"nearest-glyph bound {s['bound_rate']:.1%}")
    assert s["rate"] <= s["bound_rate"] + 3 * np.sqrt(0.25 / 500), s

# %%
# The picture: noisy glyphs (level 0.3), what the denoiser makes of them, what the nearest glyph is,
# and the clean glyph. Where the noise has made a glyph closer to another one, no denoiser can tell.
noisy = dae.add_noise(X[:12], random_state=2)             # (12, 35), the model's level 0.3
rows = {"noisy": noisy, "denoised": dae.reconstruct(noisy),
        "nearest glyph": X[nearest_glyph(noisy, X, rng=0)], "clean": X[:12]}
fig, axes = plt.subplots(4, 12, figsize=(9, 4), layout="constrained")
for r, (name, images) in enumerate(rows.items()):
    for c in range(12):
        axes[r, c].imshow(1 - images[c].reshape(7, 5), cmap="gray", vmin=0, vmax=1)
        axes[r, c].set_xticks([])
        axes[r, c].set_yticks([])
    axes[r, 0].set_ylabel(name, fontsize=9)
plt.show()

# %%
# The loss, asserted
# ------------------
# The input of the network is the noisy batch; the target is clean. The loss is the autoencoder's
# (chapter 10), the mean BCE of the denoised output against the **clean** glyphs; with a fixed noisy
# batch, asserted against the model's own ``loss_and_grad``:
model = DenoisingAutoencoder(noise="salt_and_pepper", noise_level=0.2, hidden=(16,), activation="tanh",
                             dtype=np.float64, random_state=0)
model.fit(X, epochs=2, verbose=0)
noisy = model.add_noise(X[:4], random_state=1).astype(np.float64) * 0.8 + 0.1
clean = X[:4].astype(np.float64)
p = model.reconstruct(noisy, n_passes=1)                # one pass: what the loss sees
model.zero_grad()
value, _ = model.loss_and_grad(noisy, clean)
np.testing.assert_allclose(value, np.mean(-(clean * np.log(p) + (1 - clean) * np.log(1 - p))), rtol=1e-10)

# %%
# The gradient check: every parameter and the noisy input
# -------------------------------------------------------
# As in chapter 10 (the loss is a mean over :math:`N D` terms: the five-point stencil, tolerance
# :math:`10^{-7}`, 40 random coordinates per tensor), on a small tanh model (no ReLU kinks), on the
# reference backend. One of the sampled weights of the first layer has a gradient of
# :math:`6 \times 10^{-7}`, a thousandth of the typical one; at :math:`h = 10^{-3}` the loss's
# round-off is :math:`7 \times 10^{-8}` of it, right at the bar. The step :math:`h = 3 \times 10^{-3}`
# divides the round-off by 3 while the truncation (:math:`h^4 \approx 10^{-10}`) stays far below.
with nnlite.ops.using("reference"):
    result = nnlite.check_loss_gradients(model, noisy, clean, n_coords=40, eps=3e-3)
print(result)
assert result.passed, result
assert set(result.errors) == {name for name, _ in model.named_parameters()} | {"input"}

# %%
# Exercises
# ---------
# - ``docs/course/exercises/dropout.py``: dropout corrupts the *hidden* units the way this model
#   corrupts its input, with a mask drawn for each batch. Write its backward for a fixed mask and
#   grade it with ``nnlite gradcheck docs/course/exercises/dropout.py``.
# - For bit-flip noise of probability :math:`q`, show that the nearest glyph in Hamming distance is the
#   most likely one when :math:`q < 1/2` and the glyphs are equally likely.
