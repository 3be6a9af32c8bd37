"""
A 2-D font autoencoder
======================

Squeeze the 32 glyphs of a 5x7 font through a 2-D code and back, then look at the code space.
Run it with::

    python examples/font_autoencoder.py          # ~5 s; figures in out/

Writes out/font_ae_reconstructions.png, out/font_ae_latent.png and out/font_ae_latent_grid.png.
"""
import os
import time

import numpy as np

from nnlite import plots
from nnlite.data import load_font5x7
from nnlite.models import Autoencoder

# -------------------------------------------------------------------------- settings
OUT = "out"            # where the figures go
SEED = 0               # same seed => same weights, same pictures
LATENT_DIM = 2         # 2 so that we can draw the code space
GRID = 20              # decoded grid is GRID x GRID images
QUICK = os.environ.get("NNLITE_QUICK") == "1"   # the quick setting the docs gallery runs: fewer images and epochs

# -------------------------------------------------------------------------- data and training
print("quick setting (NNLITE_QUICK=1): on, and the same as the full run (this script takes seconds)" if QUICK
      else "full run (NNLITE_QUICK is not set)")
X, chars = load_font5x7()                      # (32, 35) in {0, 1}; chars '`', 'a', ..., '█'
print(f"font: {X.shape[0]} glyphs of {X.shape[1]} pixels")

t = time.perf_counter()
ae = Autoencoder(latent_dim=LATENT_DIM, random_state=SEED).fit(X)   # defaults: (256, 128) ReLU, BCE, Adam
print(f"trained {ae.n_epochs_} full-batch epochs in {time.perf_counter() - t:.1f} s; "
      f"final loss {ae.loss_curve_[-1]:.2e}")
print(ae.encoder_)

R = ae.reconstruct(X)                          # pixel probabilities
wrong = ((R > 0.5) != (X > 0.5)).sum(axis=1)   # per glyph
print(f"wrong pixels after thresholding at 0.5: {int(wrong.sum())} in total, glyphs with errors: "
      f"{[c for c, w in zip(chars, wrong) if w]}")

# -------------------------------------------------------------------------- figures
os.makedirs(OUT, exist_ok=True)
paths = [
    plots.save(plots.image_rows([X, R], ["original", "reconstruction"], image_shape=(7, 5), col_titles=chars,
                                title=f"35 -> {LATENT_DIM} -> 35 pixels: {int(wrong.sum())} wrong pixels"),
               os.path.join(OUT, "font_ae_reconstructions.png")),
]
Z = ae.encode(X)                               # (32, 2)
paths.append(plots.save(plots.latent_scatter(Z, labels=chars, images=X, image_shape=(7, 5),
                                             title="Each glyph at its 2-D code"),
                        os.path.join(OUT, "font_ae_latent.png")))
lo, hi = Z.min(0), Z.max(0)
pad = 0.08 * (hi - lo)
paths.append(plots.save(plots.latent_grid(ae.decode, (lo[0] - pad[0], hi[0] + pad[0]),
                                          (lo[1] - pad[1], hi[1] + pad[1]), n=GRID, image_shape=(7, 5),
                                          codes=Z, code_labels=chars,
                                          title=f"Decoded {GRID}x{GRID} grid over the latent space"),
                        os.path.join(OUT, "font_ae_latent_grid.png")))
# Nearest neighbours in code space: which glyphs does the AE find similar?
d = np.linalg.norm(Z[:, None] - Z[None], axis=-1) + np.eye(len(Z)) * 1e9
print("closest pairs in the code space:",
      ", ".join(f"{chars[i]}/{chars[j]}" for i, j in sorted({tuple(sorted((i, int(d[i].argmin()))))
                                                             for i in range(len(Z))})[:8]))
print("figures:", *paths, sep="\n  ")
