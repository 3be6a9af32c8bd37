"""
PCA and t-SNE views of a VAE's latent space
===========================================

2-D views of a 20-D VAE's latent space: PCA (NumPy SVD) and t-SNE (scikit-learn), coloured by class.
Run it with::

    NNLITE_DATA=../shared/data python examples/latent_views.py              # 10 epochs + t-SNE, some minutes
    NNLITE_DATA=../shared/data python examples/latent_views.py --epochs 2 --n-points 1000   # quick look

Trains the 784-400-20 VAE on Fashion-MNIST (as examples/mnist_vae.py), takes the posterior means
``mu`` of ``--n-points`` test images and writes out/latent_views.png: PCA on the left, t-SNE on the
right (or a note in its place when scikit-learn is missing: ``pip install nnlite[tsne]``).
PCA is the best *linear* 2-D view; t-SNE keeps neighbourhoods and separates classes more clearly,
but its distances between clusters and the clusters' sizes carry no meaning.
"""
import argparse
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__ and __doc__.strip().splitlines()[0])
    ap.add_argument("--epochs", type=int, default=1 if QUICK else EPOCHS)
    ap.add_argument("--n-points", type=int, default=500 if QUICK else N_POINTS)
    ap.add_argument("--subset", type=int, default=3000 if QUICK else None, help="train on the first N images only")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args(argv)
    print(f"quick setting (NNLITE_QUICK=1): {args.subset:,} training images, {args.epochs} epoch, "
          f"{args.n_points} points projected" if QUICK
          else "full run (NNLITE_QUICK is not set)")

    Xtr, _ = load_fashion_mnist("train")
    Xte, yte = load_fashion_mnist("test")
    Xtr = Xtr.reshape(len(Xtr), -1)[:args.subset]
    Xte = Xte.reshape(len(Xte), -1)
    t = time.perf_counter()
    vae = VAE(latent_dim=20, hidden=(400,), lr=1e-3, batch_size=128, epochs=args.epochs, lr_schedule="constant",
              random_state=SEED).fit(Xtr, verbose=1)
    print(f"VAE 784-400-20: {args.epochs} epochs in {time.perf_counter() - t:.0f} s")
    sel = np.random.default_rng(SEED).choice(len(Xte), size=min(args.n_points, len(Xte)), replace=False)
    mu = vae.transform(Xte[sel])                                          # (n, 20) posterior means
    views = pca_tsne_views(mu, yte[sel], FASHION_MNIST_CLASSES, perplexity=PERPLEXITY, random_state=SEED,
                           title=f"Posterior means of {len(sel):,} Fashion-MNIST test images in the 20-D latent "
                                 f"space of a VAE ({args.epochs} epochs), projected to 2-D")
    print(views.tsne_missing or f"t-SNE of {len(mu)} points: {views.tsne_seconds:.0f} s")
    print(f"wrote {plots.save(views.figure, os.path.join(args.out, 'latent_views.png'))}")


if __name__ == "__main__":
    main()
