"""
An emoji VAE with a 2-D latent space
====================================

A variational autoencoder with a 2-D latent space on 12x12 emojis: reconstruct, then generate new ones.
Run it with::

    python examples/emoji_vae.py                 # ~10 s; figures in out/

Writes out/vae_training_set.png, out/vae_reconstructions.png, out/vae_traversal.png (15x15 images
decoded across the latent space), out/vae_curves.png (ELBO, reconstruction, KL) and out/vae_samples.png.
"""
import os
import time

import numpy as np

from nnlite import plots
from nnlite.data import load_emoji12
from nnlite.models import VAE

# -------------------------------------------------------------------------- settings
OUT = "out"
SEED = 0
LATENT_DIM = 2     # 2 so that the latent space can be walked on a grid
BETA = 1.0         # weight of the KL term (1 = the ELBO)
GRID = 15          # traversal is GRID x GRID images
QUICK = os.environ.get("NNLITE_QUICK") == "1"   # the quick setting the docs gallery runs: fewer images and epochs

print("quick setting (NNLITE_QUICK=1): on, and the same as the full run (this script takes seconds)" if QUICK
      else "full run (NNLITE_QUICK is not set)")
E, names = load_emoji12()                          # (34, 144) in {0, 0.5, 1}
t = time.perf_counter()
vae = VAE(latent_dim=LATENT_DIM, beta=BETA, random_state=SEED).fit(E)
h = vae.history_
print(f"trained {vae.n_epochs_} epochs in {time.perf_counter() - t:.1f} s: ELBO {h['elbo'][-1]:.2f} nats "
      f"= -(reconstruction {h['recon'][-1]:.2f} + KL {h['kl'][-1]:.2f})")

R = vae.reconstruct(E)                             # decoded posterior means
mae = np.abs(R - E).mean(axis=1)
print(f"per-emoji mean absolute error: max {mae.max():.4f} ({names[int(mae.argmax())]}), mean {mae.mean():.4f}")
mu, logvar = vae.encode(E)
print(f"posterior std of the codes: median {np.median(np.exp(0.5 * logvar)):.3f} (prior std 1)")

os.makedirs(OUT, exist_ok=True)
r = float(np.abs(mu).max()) * 1.15                 # walk a square around all training codes
paths = [
    plots.save(plots.image_grid(E, (12, 12), titles=names, ncols=9, cell=1.0, title="Training set"),
               os.path.join(OUT, "vae_training_set.png")),
    plots.save(plots.image_rows([E, R], ["original", "reconstruction"], image_shape=(12, 12), col_titles=names,
                                max_cols=17, title=f"Reconstructions (max per-emoji MAE {mae.max():.3f})"),
               os.path.join(OUT, "vae_reconstructions.png")),
    plots.save(plots.latent_grid(vae.decode, (-r, r), (-r, r), n=GRID, image_shape=(12, 12), codes=mu,
                                 code_labels=names, title=f"{GRID}x{GRID} decoded latent traversal"),
               os.path.join(OUT, "vae_traversal.png")),
    plots.save(plots.curves(h, ["elbo", "recon", "kl"], subplots=True, ylabel="nats",
                            labels={"elbo": "ELBO", "recon": "reconstruction (BCE)", "kl": "KL to N(0, I)"}),
               os.path.join(OUT, "vae_curves.png")),
    plots.save(plots.image_grid(vae.sample(32, random_state=SEED), (12, 12), ncols=16,
                                title="New emojis: decode(z), z ~ N(0, I)"),
               os.path.join(OUT, "vae_samples.png")),
]
print("figures:", *paths, sep="\n  ")
