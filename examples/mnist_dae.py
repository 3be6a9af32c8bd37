"""
An MLP denoising autoencoder on Fashion-MNIST
=============================================

Denoise Fashion-MNIST (or MNIST) with an MLP denoising autoencoder: Gaussian and salt-and-pepper noise.
Run it with::

    NNLITE_DATA=../shared/data python examples/mnist_dae.py              # 5 epochs each, a few minutes
    NNLITE_DATA=../shared/data NNLITE_QUICK=1 python examples/mnist_dae.py   # 3,000 images, 1 epoch: a quick look

Trains the 784-512-128-32-128-512-784 DAE (ReLU, sigmoid output, MSE, Adam 1e-3, batch 128) twice:
on Gaussian noise (sigma 0.5, clipped to [0, 1]) and on salt-and-pepper noise (20% of the pixels set
to 0 or 1), fresh noise for every batch. Prints the mean PSNR and SSIM of the noisy and the denoised
test images and writes, in out/::

    mnist_dae_gaussian.png, mnist_dae_salt_and_pepper.png   clean / noisy / denoised, one per class
    mnist_dae_curves.png                                    training loss of both models

``DATASET = "mnist"`` below uses the MNIST test set (the only MNIST split on this machine): the first
8,000 images to train, the last 2,000 to test.
"""
import os
import time

import numpy as np

from nnlite import DenoisingAutoencoder, plots
from nnlite.data import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist
from nnlite.metrics import psnr, ssim

# -------------------------------------------------------------------------- settings
OUT = "out"
SEED = 0
NOISES = [("gaussian", 0.5), ("salt_and_pepper", 0.2)]   # (noise, level): sigma or fraction of pixels
EPOCHS = 5
QUICK = os.environ.get("NNLITE_QUICK") == "1"   # the quick setting the docs gallery runs: fewer images and epochs
DATASET = "fashion"     # or "mnist": the MNIST test set (the only MNIST split here), 8,000 to train, 2,000 to test
SUBSET = 3000 if QUICK else None    # train on the first N images only (None: all)
if QUICK:
    EPOCHS = 1
NOISE_NAMES = {"gaussian": "Gaussian noise, sigma = {:g} (clipped)", "salt_and_pepper": "salt-and-pepper noise, {:.0%}"}


def load(dataset, subset=None):
    """Flat float32 ``(train, test, test_labels, class_names)``."""
    if dataset == "fashion":
        Xtr, _ = load_fashion_mnist("train")
        Xte, yte = load_fashion_mnist("test")
        names = FASHION_MNIST_CLASSES
    else:
        X, y = load_mnist("test")
        Xtr, Xte, yte = X[:8000], X[8000:], y[8000:]
        names = tuple(str(d) for d in range(10))
    Xtr, Xte = Xtr.reshape(len(Xtr), -1), Xte.reshape(len(Xte), -1)
    if subset:
        Xtr = Xtr[:subset]
    return Xtr, Xte, np.asarray(yte), names


def make_dae(noise, level, epochs, seed=SEED):
    return DenoisingAutoencoder(noise=noise, noise_level=level, n_passes=1, n_copies=1, latent_dim=32,
                                hidden=(512, 128), loss="mse", lr=1e-3, batch_size=128, epochs=epochs,
                                lr_schedule="constant", random_state=seed)


def one_per_class(labels, n_classes=10):
    """Index of the first test image of each class."""
    return np.array([int(np.flatnonzero(labels == c)[0]) for c in range(n_classes) if np.any(labels == c)])


def denoising_figure(model, clean, noisy, labels, noise, level, path, class_names=FASHION_MNIST_CLASSES):
    """Clean / noisy / denoised rows, one test image per class, PSNRs in the title; returns the path."""
    idx = one_per_class(labels)
    den = model.reconstruct(noisy[idx])
    p_in = psnr(clean[idx], noisy[idx], reduction="none")
    p_out = psnr(clean[idx], den, reduction="none")
    cols = [f"{class_names[labels[i]]}\n{a:.1f} -> {b:.1f} dB" for i, a, b in zip(idx, p_in, p_out)]
    all_in, all_out = psnr(clean, noisy), psnr(clean, model.reconstruct(noisy))
    title = (f"MLP denoising autoencoder, {NOISE_NAMES[noise].format(level)}\n"
             f"mean PSNR over {len(clean):,} test images: noisy {all_in:.2f} dB -> denoised {all_out:.2f} dB")
    fig = plots.image_rows([clean[idx], noisy[idx], den], ["clean", "noisy", "denoised"], image_shape=(28, 28),
                           col_titles=cols, title=title, cell=1.05)
    return plots.save(fig, str(path))


print(f"quick setting (NNLITE_QUICK=1): {SUBSET:,} training images, {EPOCHS} epoch per model" if QUICK
      else "full run (NNLITE_QUICK is not set)")

# -------------------------------------------------------------------------- data
Xtr, Xte, yte, names = load(DATASET, SUBSET)
print(f"{DATASET}: {len(Xtr):,} training and {len(Xte):,} test images")
# -------------------------------------------------------------------------- one denoiser per noise
histories = {}
for noise, level in NOISES:
    rng = np.random.default_rng(1234)                               # one fixed noisy test set
    noisy = DenoisingAutoencoder(noise=noise, noise_level=level).add_noise(Xte, rng).astype(np.float32)
    t = time.perf_counter()
    dae = make_dae(noise, level, EPOCHS).fit(Xtr, verbose=1)
    den = dae.reconstruct(noisy)
    print(f"{noise} {level}: trained {EPOCHS} epochs in {time.perf_counter() - t:.0f} s; test PSNR "
          f"{psnr(Xte, noisy):.2f} -> {psnr(Xte, den):.2f} dB, "
          f"SSIM {ssim(Xte.reshape(-1, 28, 28), noisy.reshape(-1, 28, 28)):.3f} -> "
          f"{ssim(Xte.reshape(-1, 28, 28), den.reshape(-1, 28, 28)):.3f} (PSNR of the mean MSE over the test set, "
          f"not per image: {10 * np.log10(1 / np.mean((den - Xte) ** 2)):.2f} dB)")
    path = denoising_figure(dae, Xte, noisy, yte, noise, level, os.path.join(OUT, f"mnist_dae_{noise}.png"),
                            class_names=names)
    print(f"wrote {path}")
    histories[NOISE_NAMES[noise].format(level)] = dae.history_["loss"]
data = 'Fashion-MNIST' if DATASET == 'fashion' else 'MNIST'
fig = plots.curves(histories, list(histories), title=f"MLP DAE on {data}: training MSE per epoch",
                   ylabel="MSE (clean target)")
print(f"wrote {plots.save(fig, os.path.join(OUT, 'mnist_dae_curves.png'))}")
