"""
A convolutional VAE on Fashion-MNIST
====================================

A convolutional VAE on Fashion-MNIST: reconstructions, samples from the prior, and interpolations.
Run it with::

    NNLITE_DATA=../shared/data python examples/conv_vae.py                  # 60,000 images, 8 epochs
    NNLITE_DATA=../shared/data NNLITE_QUICK=1 python examples/conv_vae.py    # 2,000 images, 1 epoch: a quick look

Model (``nnlite.models.ConvVAE``, latent_dim 16): Conv(1,32,4,s2)-ReLU-Conv(32,64,4,s2)-ReLU-Dense(3136,256)
-Dense(256, 2x16) -> (mu, logvar); z = mu + exp(logvar/2) * eps; Dense(16,256)-Dense(256,3136)-
ConvT(64,32,4,s2)-ReLU-ConvT(32,1,4,s2)-Sigmoid. Loss: summed BCE (on logits) + KL, averaged over the batch
(the negative ELBO). Writes, in out/::

    conv_vae_reconstructions.png   test images and their reconstructions decode(mu)
    conv_vae_samples.png           decode(z), z ~ N(0, I): new images from the prior
    conv_vae_interpolations.png    decode((1 - t) mu_a + t mu_b) between pairs of test images
    conv_vae_curves.png            negative ELBO, reconstruction term and KL per epoch
"""
import os
import time

import numpy as np

from nnlite import plots
from nnlite.data import FASHION_MNIST_CLASSES, load_fashion_mnist
from nnlite.models.conv import ConvVAE

# -------------------------------------------------------------------------- settings
OUT = "out"
SEED = 0
QUICK = os.environ.get("NNLITE_QUICK") == "1"   # the quick setting the docs gallery runs: fewer images and epochs
EPOCHS = 1 if QUICK else 8              # passes over the training images
SUBSET = 2000 if QUICK else 0           # train on the first N images (0: all 60,000)
LATENT = 16                             # dimensions of the code z

print(f"quick setting (NNLITE_QUICK=1): {SUBSET:,} training images, {EPOCHS} epoch(s)" if QUICK
      else "full run (NNLITE_QUICK is not set)")

# -------------------------------------------------------------------------- data and training
Xtr, _ = load_fashion_mnist("train")
Xte, yte = load_fashion_mnist("test")
if SUBSET:
    Xtr = Xtr[:SUBSET]
yte = np.asarray(yte)
vae = ConvVAE(latent_dim=LATENT, epochs=EPOCHS, random_state=SEED)
t, c = time.perf_counter(), time.process_time()
vae.fit(Xtr, validation_data=Xte[:2000], verbose=1)
h = vae.history_
print(f"trained {EPOCHS} epochs on {len(Xtr):,} images in {time.perf_counter() - t:.0f} s "
      f"({time.process_time() - c:.0f} CPU s); test negative ELBO {h['val_loss'][-1]:.1f} nats/image "
      f"(reconstruction {h['val_recon'][-1]:.1f} + KL {h['val_kl'][-1]:.1f})")

# -------------------------------------------------------------------------- figures
show = np.array([int(np.flatnonzero(yte == c)[k]) for k in range(2) for c in range(10)])
rec = vae.reconstruct(Xte[show])
fig = plots.image_rows([Xte[show], rec], ["test image", "reconstruction"],
                       col_titles=[FASHION_MNIST_CLASSES[yte[i]] for i in show], max_cols=10, cell=0.95,
                       title=f"Conv VAE (latent {LATENT}): test images and decode(mu)")
print(f"wrote {plots.save(fig, os.path.join(OUT, 'conv_vae_reconstructions.png'))}")

samples = vae.sample(64, random_state=1)
fig = plots.image_grid(samples, ncols=16, cell=0.75,
                       title=f"Conv VAE: 64 samples decode(z), z ~ N(0, I) in {LATENT} dimensions")
print(f"wrote {plots.save(fig, os.path.join(OUT, 'conv_vae_samples.png'))}")

pairs = [(0, 1), (2, 3), (5, 7), (8, 9), (4, 6), (1, 9)]           # (class a, class b)
rows, labels = [], []
for a, b in pairs:
    xa = Xte[np.flatnonzero(yte == a)[3]]
    xb = Xte[np.flatnonzero(yte == b)[3]]
    path = vae.interpolate(xa, xb, n=10)
    rows.append(np.concatenate([xa[None], path, xb[None]]))
    labels.append(f"{FASHION_MNIST_CLASSES[a]}\n-> {FASHION_MNIST_CLASSES[b]}")
fig = plots.image_rows(rows, labels, col_titles=["image A"] + [f"t={t:.2f}" for t in np.linspace(0, 1, 10)]
                       + ["image B"], cell=0.8,
                       title="Conv VAE interpolations: decode((1 - t) mu_A + t mu_B), "
                             "the real test images at both ends")
print(f"wrote {plots.save(fig, os.path.join(OUT, 'conv_vae_interpolations.png'))}")

fig = plots.curves(h, ["loss", "recon", "kl"], ylabel="nats per image", subplots=True,
                   labels={"loss": "negative ELBO", "recon": "reconstruction (summed BCE)", "kl": "KL",
                           "val_loss": "test", "val_recon": "test", "val_kl": "test"},
                   title="Conv VAE on Fashion-MNIST: training (solid) and test (dashed) per epoch")
print(f"wrote {plots.save(fig, os.path.join(OUT, 'conv_vae_curves.png'))}")
