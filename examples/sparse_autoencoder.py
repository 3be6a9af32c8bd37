"""
Sparse autoencoders: L1 and KL sparsity
=======================================

Sparse autoencoders on Fashion-MNIST: what an L1 or a KL sparsity penalty does to the code and the features.
Run it with::

    NNLITE_DATA=../shared/data python examples/sparse_autoencoder.py       # ~1 minute; figures in out/

Three autoencoders 784 -> code -> 784 are trained: a 32-unit ReLU code without penalty, the same with
an L1 penalty on the code activations (fewer, smaller activations), and a 196-unit sigmoid code with
the KL sparsity penalty (every unit active ~5% of the time on average). The figures show the encoder's
features (what each code unit responds to) and the reconstructions.
"""
import os

import numpy as np

from nnlite import plots
from nnlite.data import load_fashion_mnist
from nnlite.models import SparseAutoencoder

# -------------------------------------------------------------------------- settings
N_TRAIN = 20000            # training images (of 60,000)
EPOCHS = 5
SEED = 0
OUT = "out"
QUICK = os.environ.get("NNLITE_QUICK") == "1"   # the quick setting the docs gallery runs: fewer images and epochs
if QUICK:
    N_TRAIN, EPOCHS = 3000, 1
print(f"quick setting (NNLITE_QUICK=1): {N_TRAIN:,} training images, {EPOCHS} epoch" if QUICK
      else "full run (NNLITE_QUICK is not set)")

X, _ = load_fashion_mnist("train")
Xt, _ = load_fashion_mnist("test")
X = X[:N_TRAIN]
models = {
    "ReLU code, no penalty": SparseAutoencoder(latent_dim=32, random_state=SEED),
    "ReLU code, L1 = 1e-3": SparseAutoencoder(latent_dim=32, l1=1e-3, random_state=SEED),
    "sigmoid code, KL rho = 0.05": SparseAutoencoder(latent_dim=196, sparsity_target=0.05, sparsity_weight=0.01,
                                                     random_state=SEED),
}
print(f"{'model':30s} {'test BCE':>9s} {'mean code activation':>21s} {'zeros':>7s}")
for name, m in models.items():
    m.fit(X, epochs=EPOCHS)
    stats = m.code_activation_stats(Xt)
    print(f"{name:30s} {m.compute_loss(Xt):9.4f} {stats['mean_activation']:21.3f} {stats['fraction_zero']:7.1%}")


def tiles(model, n=16):
    """The n most active units' first-layer weights as images, each scaled to [0, 1]."""
    W = model.features()[np.argsort(-model.encode(Xt).mean(0))[:n]]
    lo, hi = W.min(1, keepdims=True), W.max(1, keepdims=True)
    return ((W - lo) / np.maximum(hi - lo, 1e-12)).reshape(-1, 28, 28)


os.makedirs(OUT, exist_ok=True)
paths = [
    plots.save(plots.image_rows([tiles(m) for m in models.values()], list(models),
                                title="Encoder features of the 16 most active units (each tile scaled to its range)"),
               os.path.join(OUT, "sparse_features.png")),
    plots.save(plots.image_rows([Xt[:12]] + [m.reconstruct(Xt[:12]) for m in models.values()],
                                ["test image"] + list(models), title="Reconstructions"),
               os.path.join(OUT, "sparse_reconstructions.png")),
]
print("wrote", *paths, sep="\n  ")
