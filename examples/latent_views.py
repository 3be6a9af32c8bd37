"""
PCA and t-SNE views of a VAE's latent space
===========================================

2-D views of a 20-D VAE's latent space: PCA (NumPy SVD) and t-SNE (scikit-learn), coloured by class.
Run it with::

    NNLITE_DATA=../shared/data python examples/latent_views.py              # 10 epochs + t-SNE, some minutes
    NNLITE_DATA=../shared/data NNLITE_QUICK=1 python examples/latent_views.py   # 1 epoch, 500 points: a quick look

Trains the 784-400-20 VAE on Fashion-MNIST (as examples/mnist_vae.py), takes the posterior means
``mu`` of ``N_POINTS`` test images and writes out/latent_views.png: PCA on the left, t-SNE on the
right (or a note in its place when scikit-learn is missing: ``pip install nnlite[tsne]``).
PCA is the best *linear* 2-D view; t-SNE keeps neighbourhoods and separates classes more clearly,
but its distances between clusters and the clusters' sizes carry no meaning.
"""
import os
import time

import numpy as np

from nnlite import VAE, plots
from nnlite.data import FASHION_MNIST_CLASSES, load_fashion_mnist
from nnlite.latent import pca_tsne_views

# -------------------------------------------------------------------------- settings
OUT = "out"
SEED = 0
EPOCHS = 10
N_POINTS = 3000      # test images projected (t-SNE takes about a minute for 3000 on 2 cores)
PERPLEXITY = 30.0
QUICK = os.environ.get("NNLITE_QUICK") == "1"   # the quick setting the docs gallery runs: fewer images and epochs
SUBSET = 3000 if QUICK else None    # train on the first N images only (None: all 60,000)
if QUICK:
    EPOCHS, N_POINTS = 1, 500

print(f"quick setting (NNLITE_QUICK=1): {SUBSET:,} training images, {EPOCHS} epoch, "
      f"{N_POINTS} points projected" if QUICK
      else "full run (NNLITE_QUICK is not set)")

# -------------------------------------------------------------------------- data and training
Xtr, _ = load_fashion_mnist("train")
Xte, yte = load_fashion_mnist("test")
Xtr = Xtr.reshape(len(Xtr), -1)[:SUBSET]
Xte = Xte.reshape(len(Xte), -1)
t = time.perf_counter()
vae = VAE(latent_dim=20, hidden=(400,), lr=1e-3, batch_size=128, epochs=EPOCHS, lr_schedule="constant",
          random_state=SEED).fit(Xtr, verbose=1)
print(f"VAE 784-400-20: {EPOCHS} epochs in {time.perf_counter() - t:.0f} s")

# -------------------------------------------------------------------------- the two views
sel = np.random.default_rng(SEED).choice(len(Xte), size=min(N_POINTS, len(Xte)), replace=False)
mu = vae.transform(Xte[sel])                                          # (n, 20) posterior means
views = pca_tsne_views(mu, yte[sel], FASHION_MNIST_CLASSES, perplexity=PERPLEXITY, random_state=SEED,
                       title=f"Posterior means of {len(sel):,} Fashion-MNIST test images in the 20-D latent "
                             f"space of a VAE ({EPOCHS} epochs), projected to 2-D")
print(views.tsne_missing or f"t-SNE of {len(mu)} points: {views.tsne_seconds:.0f} s")
print(f"wrote {plots.save(views.figure, os.path.join(OUT, 'latent_views.png'))}")
