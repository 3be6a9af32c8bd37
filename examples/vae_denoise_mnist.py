"""
A denoising VAE: noisy images in, clean images out
==================================================

The MLP VAE of PyTorch's noisy-MNIST write-up (encoder 784-400 LeakyReLU(0.2) to a 20-D code, decoder
20-400 ReLU-784 sigmoid, loss BCE summed over pixels + KL) trained as a denoising VAE (Im et al., AAAI
2017): the encoder sees a freshly corrupted copy of every training image and the ELBO's reconstruction
term is taken against the clean one. Then the colour case: a convolutional denoising VAE on 32x32 photo
patches (CIFAR-10 is not on this machine) beside nnlite's conv denoising autoencoder and its flagship
ResidualDenoiser, trained on the same patches with the same noise, measured in PSNR. Run it with::

    NNLITE_DATA=../shared/data python examples/vae_denoise_mnist.py            # a few minutes
    NNLITE_DATA=../shared/data NNLITE_QUICK=1 python examples/vae_denoise_mnist.py   # seconds

Only the MNIST test set is on this machine: the models train on its first 8,000 images and are
measured on the last 2,000. Photo patches: training on the 12 nature photographs (resized to cover
256x256, cut into 32x32 tiles), testing on the 9 scikit-image photographs (resized to 128x128).
Writes, in out/::

    vae_denoise_mnist.png      clean / noisy / denoising-VAE output / plain-VAE output, test digits
    vae_denoise_curves.png     the denoising VAE's -ELBO, reconstruction and KL per image
    vae_denoise_colour.png     32x32 photo patches: clean / noisy / denoising VAE / conv DAE / flagship
"""
import os
import time

import numpy as np

from nnlite import plots
from nnlite.data import load_image_folder, load_mnist
from nnlite.metrics import psnr
from nnlite.models import VAE, ConvDenoisingAutoencoder, ConvVAE, ResidualDenoiser

# -------------------------------------------------------------------------- settings
OUT = "out"
SEED = 0
NOISE, LEVEL = "gaussian", 0.3        # MNIST: Gaussian noise of std 0.3, clipped to [0, 1]
COLOUR_LEVEL = 0.1                    # photo patches: std 0.1 (about 20 dB of noise)
EPOCHS = 10
COLOUR_EPOCHS = 6
QUICK = os.environ.get("NNLITE_QUICK") == "1"   # seconds: fewer images, one or two epochs (the docs gallery's run)
N_TRAIN = 2000 if QUICK else 8000   # MNIST training images: the first N of the test set; the last 2,000 measure
PHOTO_SIZE = 128 if QUICK else 256  # nature photographs resized to cover this, then cut into 32x32 patches
TEST_SIZE = 64 if QUICK else 128    # the test photographs, resized
if QUICK:
    EPOCHS, COLOUR_EPOCHS = 2, 1


print("quick setting (NNLITE_QUICK=1): 2,000 MNIST images, 2 epochs; few photo patches, 1 epoch" if QUICK
      else "full run (NNLITE_QUICK is not set)")
root = os.environ.get("NNLITE_DATA")
if not root:
    raise SystemExit("set NNLITE_DATA to the folder holding mnist/, photos/ and photos-nature/")
os.makedirs(OUT, exist_ok=True)

# -------------------------------------------------------------------------- MNIST: a denoising VAE and a plain one
X, y = load_mnist("test")
X = X.reshape(len(X), -1)
Xtr, Xte, yte = X[:N_TRAIN], X[8000:], np.asarray(y[8000:])
kw = dict(latent_dim=20, hidden=(400,), activation="leaky_relu:0.2", decoder_activation="relu", lr=1e-3,
          batch_size=128, epochs=EPOCHS, lr_schedule="constant", random_state=SEED)
t = time.perf_counter()
dvae = VAE(noise=NOISE, noise_level=LEVEL, **kw).fit(Xtr, validation_data=Xte)
plain = VAE(**kw).fit(Xtr)
print(f"MNIST: trained a denoising and a plain VAE, {EPOCHS} epochs on {N_TRAIN:,} images, "
      f"{time.perf_counter() - t:.0f} s")
noisy = dvae.add_noise(Xte, random_state=SEED)
rows = {"noisy input": noisy, "denoising VAE": dvae.reconstruct(noisy), "plain VAE": plain.reconstruct(noisy)}
res = {k: (float(np.mean(-(Xte * np.log(np.clip(v, 1e-7, 1)) + (1 - Xte) * np.log(np.clip(1 - v, 1e-7, 1)))
                         .sum(1))), float(psnr(Xte, v))) for k, v in rows.items()}
print(f"MNIST, last 2,000 test images, Gaussian noise std {LEVEL}: per image BCE to the clean image / PSNR")
for k, (bce, p) in res.items():
    print(f"  {k:14s} BCE {bce:7.1f} nats   PSNR {p:5.2f} dB")
print(f"  denoising VAE test -ELBO (noisy input, clean target) {dvae.history_['val_loss'][-1]:.1f} nats")
idx = np.array([int(np.flatnonzero(yte == c)[0]) for c in range(10)])
fig = plots.image_rows([Xte[idx], noisy[idx], rows["denoising VAE"][idx], rows["plain VAE"][idx]],
                       ["clean", f"noisy (std {LEVEL})", "denoising VAE", "plain VAE"], image_shape=(28, 28),
                       col_titles=[f"{c}" for c in range(10)], cell=1.0,
                       title=f"Reconstructing MNIST from noisy images (test PSNR: denoising VAE "
                             f"{res['denoising VAE'][1]:.2f} dB, plain VAE {res['plain VAE'][1]:.2f} dB, "
                             f"noisy {res['noisy input'][1]:.2f} dB)")
paths = [plots.save(fig, os.path.join(OUT, "vae_denoise_mnist.png"))]
fig = plots.curves(dvae.history_, ["loss", "recon", "kl"], subplots=True, ylabel="nats per image",
                   labels={"loss": "-ELBO", "recon": "reconstruction (BCE against the clean image)",
                           "kl": "KL(q(z|noisy x) || N(0, I))", "val_loss": "test", "val_recon": "test",
                           "val_kl": "test"},
                   title="Denoising VAE 784-400-20 on noisy MNIST: loss terms per image")
paths.append(plots.save(fig, os.path.join(OUT, "vae_denoise_curves.png")))

# -------------------------------------------------------------------------- photo patches: three denoisers
train, _ = load_image_folder(os.path.join(root, "photos-nature"), size=PHOTO_SIZE, patch=32)
test, _ = load_image_folder(os.path.join(root, "photos"), size=TEST_SIZE, patch=32)
print(f"photo patches: {len(train):,} training and {len(test):,} test 32x32 RGB patches, Gaussian noise "
      f"std {COLOUR_LEVEL}, {COLOUR_EPOCHS} epochs each")
models = {
    "denoising VAE": ConvVAE(latent_dim=64, channels=(32, 64, 128), hidden=256, likelihood="gaussian",
                             output_variance=0.01, activation="leaky_relu:0.2", noise="gaussian",
                             noise_level=COLOUR_LEVEL, epochs=COLOUR_EPOCHS, batch_size=32, random_state=SEED),
    "conv DAE": ConvDenoisingAutoencoder(noise="gaussian", noise_level=COLOUR_LEVEL, channels=(32, 64),
                                         epochs=COLOUR_EPOCHS, batch_size=32, random_state=SEED),
    "flagship": ResidualDenoiser(noise="gaussian", noise_level=COLOUR_LEVEL, width=16 if QUICK else 24,
                                 epochs=COLOUR_EPOCHS, batch_size=16, random_state=SEED),
}
noisy = np.clip(test + COLOUR_LEVEL * np.random.default_rng(SEED).standard_normal(test.shape, np.float32), 0, 1)
out = {"noisy input": noisy}
for name, m in models.items():
    t = time.perf_counter()
    m.fit(train)
    out[name] = m.reconstruct(noisy)
    print(f"  {name:14s} trained in {time.perf_counter() - t:5.0f} s")
print("photo patches, test PSNR against the clean patch:")
scores = {k: float(psnr(test, np.clip(v, 0, 1))) for k, v in out.items()}
for k, p in scores.items():
    print(f"  {k:14s} {p:5.2f} dB")
print(f"  the flagship leads the denoising VAE by {scores['flagship'] - scores['denoising VAE']:.2f} dB")
pick = np.random.default_rng(SEED).choice(len(test), 8, replace=False)
fig = plots.photo_rows([test[pick]] + [out[k][pick] for k in out],
                       ["clean"] + [f"{k}: {scores[k]:.2f} dB" for k in out],
                       title=f"32x32 photo patches, Gaussian noise std {COLOUR_LEVEL}: test PSNR of each model")
paths.append(plots.save(fig, os.path.join(OUT, "vae_denoise_colour.png")))
for p in paths:
    print("wrote", p)
