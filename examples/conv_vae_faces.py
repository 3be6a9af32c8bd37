"""
A five-layer convolutional VAE of 64x64 colour images
=====================================================

The conv VAE of the anime-faces write-up: five stride-2 convolutions take a 64x64 RGB image to 2x2x512,
a dense layer gives the mean and log-variance of the code, and five stride-2 transposed convolutions
bring a code back to 64x64; the reconstruction term is the summed squared error (a Gaussian decoder of
variance 1/2) and the loss the negative ELBO. The anime-faces folder is not on this machine, so the
script runs on 64x64 crops of the shared photographs; on your own folder of faces run::

    python examples/conv_vae_faces.py --folder ~/data/anime-faces            # any folder of images

which resizes every image to cover 64x64 and cuts out its centre (a tenth of the images is held out).
On the shared photographs each is resized to cover 256x256 and cut into 64x64 crops 32 pixels apart
(49 per photograph); every 7th photograph is held out whole. Here::

    NNLITE_DATA=../shared/data python examples/conv_vae_faces.py           # a few minutes
    NNLITE_DATA=../shared/data NNLITE_QUICK=1 python examples/conv_vae_faces.py   # seconds

Writes, in out/::

    conv_vae_faces_real.png           training images
    conv_vae_faces_curve.png          the negative ELBO per image, epoch by epoch
    conv_vae_faces_reconstruction.png images and their reconstructions decode(mu)
    conv_vae_faces_samples.png        decode(z), z drawn from the prior N(0, I)
    conv_vae_faces_interpolation.png  decodings along the line between the codes of two real images
"""
import argparse
import os
import time

import numpy as np

from nnlite import plots
from nnlite.data import load_image_folder
from nnlite.models import ConvVAE

# -------------------------------------------------------------------------- settings
OUT = "out"
SEED = 0
CHANNELS = (32, 64, 128, 256, 512)   # the write-up's five conv layers each way
LATENT = 128
EPOCHS = 6
STRIDE = 32         # photo crops overlap by half: 49 crops of each photograph resized to 256x256
HELD_OUT = 7        # every 7th photograph (3 of 21) is held out whole: none of its crops is trained on
QUICK = os.environ.get("NNLITE_QUICK") == "1"   # the quick setting the docs gallery runs: fewer images and epochs
if QUICK:                # seconds: smaller photos, narrow layers, 2 epochs
    EPOCHS, CHANNELS, PHOTO_SIZE, STRIDE = 2, tuple(c // 8 for c in CHANNELS), 128, 64
else:
    PHOTO_SIZE = 256    # each photograph is resized to cover PHOTO_SIZE x PHOTO_SIZE before it is cut

# The one real option: your own folder of images instead of the shared photographs.
ap = argparse.ArgumentParser(description="A five-layer convolutional VAE of 64x64 colour images.")
ap.add_argument("--folder", help="a folder of images (faces): each resized to cover 64x64, centre cut")
FOLDER = ap.parse_args().folder


def photo_crops(size, stride):
    """64x64 crops of the shared photographs: each resized to cover ``size`` and cut into 64x64 tiles
    ``stride`` pixels apart; returns the crops and, for each, the photograph it comes from."""
    root = os.environ.get("NNLITE_DATA")
    if not root:
        raise SystemExit("set NNLITE_DATA to the folder holding photos/ and photos-nature/, or pass --folder")
    parts = [load_image_folder(os.path.join(root, sub), size=size, patch=64, stride=stride)
             for sub in ("photos-nature", "photos")]
    return np.concatenate([p[0] for p in parts]), [f"{sub}/{n}" for sub, p in zip(("nature", "photos"), parts)
                                                    for n in p[1]]


print(f"quick setting (NNLITE_QUICK=1): 64x64 crops of 128x128 photos, channels {CHANNELS}, {EPOCHS} epochs"
      if QUICK else "full run (NNLITE_QUICK is not set)")

# -------------------------------------------------------------------------- data
rng = np.random.default_rng(SEED)
if FOLDER:
    X, _ = load_image_folder(FOLDER, size=64)
    what = f"the images of {FOLDER}"
    X = X[rng.permutation(len(X))]
    n_test = max(8, len(X) // 10)
    Xtr, Xte = X[n_test:], X[:n_test]
else:
    X, names = photo_crops(PHOTO_SIZE, STRIDE)
    photos = sorted(set(names))
    held = set(photos[HELD_OUT - 1::HELD_OUT])
    test = np.array([n in held for n in names])
    Xtr, Xte = X[~test], X[test]
    Xtr, Xte = Xtr[rng.permutation(len(Xtr))], Xte[rng.permutation(len(Xte))]
    what = "64x64 crops of the shared photographs"
    print(f"crops {STRIDE} px apart; held out whole: {', '.join(sorted(held))}")
print(f"{len(Xtr):,} training and {len(Xte):,} held-out images of {what}, shape {X.shape[1:]}")

# -------------------------------------------------------------------------- training
vae = ConvVAE(latent_dim=LATENT, channels=CHANNELS, hidden=0, likelihood="gaussian", output_variance=0.5,
              activation="leaky_relu:0.2", lr=1e-3, batch_size=16, epochs=EPOCHS, random_state=SEED)
t = time.perf_counter()
vae.fit(Xtr, validation_data=Xte)
print(f"trained {EPOCHS} epochs in {time.perf_counter() - t:.0f} s")
print(vae.encoder_)
h = vae.history_
print(f"-ELBO per image: training {h['loss'][0]:.0f} -> {h['loss'][-1]:.0f}, held-out "
      f"{h['val_loss'][0]:.0f} -> {h['val_loss'][-1]:.0f} (summed squared error + a constant "
      f"{0.5 * Xtr[0].size * np.log(np.pi):.0f} + KL)")
R = vae.reconstruct(Xte)
mse = float(np.mean((R - Xte) ** 2))
Rtr = vae.reconstruct(Xtr[:len(Xte)])
mse_tr = float(np.mean((Rtr - Xtr[:len(Xte)]) ** 2))
print(f"reconstruction PSNR: training images {10 * np.log10(1 / mse_tr):.2f} dB, held-out "
      f"{10 * np.log10(1 / mse):.2f} dB (mean squared error per pixel {mse_tr:.4f}, {mse:.4f})")

# -------------------------------------------------------------------------- figures
os.makedirs(OUT, exist_ok=True)
paths = [plots.save(plots.photo_rows([Xtr[:32]], ["training images"], title=f"Original images: {what}"),
                    os.path.join(OUT, "conv_vae_faces_real.png"))]
fig = plots.curves(h, ["loss"], ylabel="-ELBO per image", labels={"loss": "training", "val_loss": "held-out"},
                   title="Learning curve of the negative ELBO (summed squared error + KL)")
paths.append(plots.save(fig, os.path.join(OUT, "conv_vae_faces_curve.png")))
k = min(16, len(Xte))
fig = plots.photo_rows([Xtr[:k], Rtr[:k], Xte[:k], R[:k]],
                       ["training image", "its reconstruction decode(mu)", "held-out image",
                        "its reconstruction decode(mu)"],
                       title=f"Reconstructions: training images {10 * np.log10(1 / mse_tr):.1f} dB, held-out "
                             f"photographs {10 * np.log10(1 / mse):.1f} dB PSNR")
paths.append(plots.save(fig, os.path.join(OUT, "conv_vae_faces_reconstruction.png")))
S = vae.sample(32, random_state=SEED)
paths.append(plots.save(plots.photo_rows([S[:16], S[16:]], ["z ~ N(0, I)", "z ~ N(0, I)"],
                                         title="Images synthesised from codes drawn from the prior p(z)"),
                        os.path.join(OUT, "conv_vae_faces_samples.png")))
rows, titles = [], []
for a, b in ((0, 1), (2, 3)):
    line = vae.interpolate(Xtr[a], Xtr[b], n=8)
    rows.append(np.concatenate([Xtr[a][None], line, Xtr[b][None]]))
    titles.append(f"training image {a} | decode((1 - t) mu_{a} + t mu_{b}), t = 0 .. 1 | training image {b}")
paths.append(plots.save(plots.photo_rows(rows, titles, title="Interpolation between the codes of two real images"),
                        os.path.join(OUT, "conv_vae_faces_interpolation.png")))
for p in paths:
    print("wrote", p)
