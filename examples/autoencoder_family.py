"""
The autoencoder family and a GAN on MNIST, side by side
=======================================================

The Keras write-up's whole family on one split: vanilla (one hidden layer), multilayer, convolutional,
sparse and denoising autoencoders, a VAE and a GAN. Each is measured the same way: reconstruction BCE per
image and PSNR on held-out digits for the autoencoders (the denoiser on noisy inputs, against the clean
digits), and for the two generators the coverage of the ten classes by 1,000 samples, judged by an MLP
classifier trained on the same training images (:func:`nnlite.models.evaluate_samples`). Run it with::

    NNLITE_DATA=../shared/data python examples/autoencoder_family.py            # some minutes
    NNLITE_DATA=../shared/data NNLITE_QUICK=1 python examples/autoencoder_family.py   # about a minute

Only the MNIST test set is on this machine: every model trains on its first 8,000 images and is
measured on the last 2,000. Writes, in out/::

    family_generated.png   "generated outputs of each network": reconstructions of the same test digits
                           by every autoencoder, samples of the VAE and the GAN
    family_denoising.png   "image denoising": noisy test digits and the denoising autoencoder's output
"""
import os
import time

import numpy as np

from nnlite import plots
from nnlite.data import load_mnist
from nnlite.metrics import psnr
from nnlite.models import (
    GAN,
    VAE,
    Autoencoder,
    ConvDenoisingAutoencoder,
    DenoisingAutoencoder,
    MLPClassifier,
    SparseAutoencoder,
    evaluate_samples,
)

# -------------------------------------------------------------------------- settings
OUT = "out"
SEED = 0
EPOCHS = 12            # the MLP autoencoders and the VAE (an epoch is seconds)
CONV_EPOCHS = 4        # the convolutional autoencoder (an epoch costs several MLP epochs)
GAN_EPOCHS = 8
NOISE_LEVEL = 0.3       # Gaussian noise of the denoising autoencoder (clipped to [0, 1])
QUICK = os.environ.get("NNLITE_QUICK") == "1"   # about a minute: 2,000 images, 1-3 epochs (the docs gallery's run)
N_TRAIN = 2000 if QUICK else 8000   # training images: the first N of the MNIST test set; the last 2,000 measure
if QUICK:
    EPOCHS, CONV_EPOCHS, GAN_EPOCHS = 1, 1, 3


def bce_per_image(X, R):
    R = np.clip(R, 1e-7, 1 - 1e-7)
    return float(np.mean(-(X * np.log(R) + (1 - X) * np.log(1 - R)).sum(axis=1)))

# -------------------------------------------------------------------------- data
print(f"quick setting (NNLITE_QUICK=1): {N_TRAIN:,} training images, {EPOCHS} epoch(s), GAN {GAN_EPOCHS}" if QUICK
      else f"full run (NNLITE_QUICK is not set): {EPOCHS} epochs per MLP autoencoder and the VAE, {CONV_EPOCHS} for "
           f"the convolutional one, {GAN_EPOCHS} for the GAN")
X, y = load_mnist("test")
X = X.reshape(len(X), -1)
Xtr, Xte, yte = X[:N_TRAIN], X[8000:], np.asarray(y[8000:])
ytr = np.asarray(y[:N_TRAIN])
print(f"MNIST test set: train on images 0..{N_TRAIN - 1}, measure on images 8000..9999")

# -------------------------------------------------------------------------- the autoencoders
common = dict(epochs=EPOCHS, batch_size=128, random_state=SEED)
autoencoders = {
    "vanilla 784-32-784": Autoencoder(latent_dim=32, hidden=(), **common),
    "multilayer 784-128-64-32": Autoencoder(latent_dim=32, hidden=(128, 64), **common),
    "convolutional": ConvDenoisingAutoencoder(noise="gaussian", noise_level=0.0, channels=(16, 32),
                                              **{**common, "epochs": CONV_EPOCHS}),
    "sparse (L1 on the code)": SparseAutoencoder(latent_dim=64, l1=1e-4, **common),
    "denoising": DenoisingAutoencoder(noise="gaussian", noise_level=NOISE_LEVEL, n_passes=1, latent_dim=32,
                                      hidden=(128,), **common),
}
rows, table = {}, []
idx = np.array([int(np.flatnonzero(yte == c)[0]) for c in range(10)])
noisy = np.clip(Xte + NOISE_LEVEL * np.random.default_rng(SEED).standard_normal(Xte.shape, np.float32), 0, 1)
for name, m in autoencoders.items():
    t = time.perf_counter()
    images = name == "convolutional"
    m.fit(Xtr.reshape(-1, 28, 28) if images else Xtr)
    inp = noisy if name == "denoising" else Xte
    R = m.reconstruct(inp.reshape(-1, 28, 28) if images else inp).reshape(len(Xte), -1)
    rows[name] = R[idx]
    table.append((name, bce_per_image(Xte, R), float(psnr(Xte, R)), None, time.perf_counter() - t))
    if name == "denoising":
        den = R

# -------------------------------------------------------------------------- the generators, judged by a classifier
judge = MLPClassifier(hidden=(256,), epochs=3 if QUICK else 10, random_state=SEED).fit(Xtr, ytr)
acc = float(np.mean(judge.predict(Xte) == yte))
print(f"judge classifier: accuracy {acc:.3f} on the held-out digits")
t = time.perf_counter()
vae = VAE(latent_dim=20, hidden=(400,), **common).fit(Xtr)
Rv = vae.reconstruct(Xte)
cov_vae = evaluate_samples(vae.sample(1000, random_state=SEED), judge, Xtr, Xte)["coverage"]
table.append(("VAE 784-400-20", bce_per_image(Xte, Rv), float(psnr(Xte, Rv)), cov_vae, time.perf_counter() - t))
rows["VAE (reconstruction)"] = Rv[idx]
t = time.perf_counter()
gan = GAN(latent_dim=64, epochs=GAN_EPOCHS, random_state=SEED).fit(Xtr)
S = gan.sample(1000, random_state=SEED).reshape(1000, -1)
cov_gan = evaluate_samples(S, judge, Xtr, Xte)["coverage"]
table.append(("GAN", None, None, cov_gan, time.perf_counter() - t))
rows["VAE samples"] = vae.sample(10, random_state=SEED).reshape(10, -1)
rows["GAN samples"] = S[:10]

# -------------------------------------------------------------------------- results
print(f"{'model':26s} {'BCE/image':>10s} {'PSNR dB':>8s} {'coverage':>9s} {'time s':>7s}")
for name, bce, p, cov, sec in table:
    print(f"{name:26s} {'' if bce is None else f'{bce:10.1f}':>10s} {'' if p is None else f'{p:8.2f}':>8s} "
          f"{'' if cov is None else f'{cov:9.1f}':>9s} {sec:7.0f}")
print("(the denoising autoencoder's BCE and PSNR are on noisy inputs against the clean digits; coverage = "
      "share of the 10 classes that get at least 5% of 1,000 samples)")

os.makedirs(OUT, exist_ok=True)
labels = ["test digit"] + list(rows)
fig = plots.image_rows([Xte[idx]] + list(rows.values()), labels, image_shape=(28, 28), cell=0.9,
                       title="Generated outputs of each network (rows 2-7: reconstructions of the top row; "
                             "last two: new samples)")
paths = [plots.save(fig, os.path.join(OUT, "family_generated.png"))]
k = np.arange(10)
fig = plots.image_rows([Xte[k], noisy[k], den[k]], ["clean", f"noisy (std {NOISE_LEVEL})", "denoised"],
                       image_shape=(28, 28), cell=1.0,
                       title=f"Image denoising: denoising autoencoder, test PSNR {psnr(Xte, den):.2f} dB "
                             f"(noisy {psnr(Xte, noisy):.2f} dB)")
paths.append(plots.save(fig, os.path.join(OUT, "family_denoising.png")))
for p in paths:
    print("wrote", p)
