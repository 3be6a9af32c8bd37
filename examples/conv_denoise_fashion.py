"""
Conv denoisers on Fashion-MNIST
===============================

Denoise Fashion-MNIST with the conv models: the conv denoising autoencoder and the flagship ResidualDenoiser.
Run it with::

    NNLITE_DATA=../shared/data python examples/conv_denoise_fashion.py    # 10,000 images: a few minutes

Set ``SUBSET = 0`` below for the benchmark's protocol (all 60,000 training images).

For each noise (Gaussian sigma 0.5 clipped to [0, 1], salt-and-pepper 20%) two models are trained on
freshly corrupted training images against the clean ones:

* ``ConvDenoisingAutoencoder``: Conv(1,32,3,s2)-ReLU-Conv(32,64,3,s2)-ReLU-ConvT(64,32)-ReLU-ConvT(32,1)-Sigmoid,
  MSE, Adam 1e-3, batch 128 (the PyTorch/Keras tutorial's conv DAE);
* ``ResidualDenoiser``: a small U-Net that predicts the noise, subtracted from the input (residual learning).

Prints mean PSNR and SSIM of the noisy and denoised test images and writes, in out/::

    conv_fashion_gaussian.png, conv_fashion_salt_and_pepper.png    clean / noisy / conv DAE / flagship
"""
import os
import time

import numpy as np

from nnlite import plots
from nnlite.data import FASHION_MNIST_CLASSES, load_fashion_mnist
from nnlite.metrics import psnr, ssim
from nnlite.models.conv import ConvDenoisingAutoencoder, ResidualDenoiser

# -------------------------------------------------------------------------- settings
OUT = "out"
SEED = 0
QUICK = os.environ.get("NNLITE_QUICK") == "1"   # the quick setting the docs gallery runs: fewer images and epochs
SUBSET = 600 if QUICK else 10000        # train on the first N images (0: all 60,000, the benchmark's protocol)
EPOCHS = 3 if QUICK else 5                # epochs of the conv DAE
FLAGSHIP_EPOCHS = 1 if QUICK else 3       # epochs of the ResidualDenoiser
N_TEST = 500 if QUICK else 10000          # evaluate on the first N test images
NOISES = [("gaussian", 0.5), ("salt_and_pepper", 0.2)]
NAMES = {"gaussian": "Gaussian noise, sigma = {:g} (clipped)", "salt_and_pepper": "salt-and-pepper noise, {:.0%}"}

print(f"quick setting (NNLITE_QUICK=1): {SUBSET:,} training images, {EPOCHS} + {FLAGSHIP_EPOCHS} "
      f"epochs, {N_TEST:,} test images" if QUICK
      else "full run (NNLITE_QUICK is not set)")

# -------------------------------------------------------------------------- data
Xtr, _ = load_fashion_mnist("train")                                  # (60000, 28, 28) in [0, 1]
Xte, yte = load_fashion_mnist("test")
Xte, yte = Xte[:N_TEST], yte[:N_TEST]
if SUBSET:
    Xtr = Xtr[:SUBSET]
yte = np.asarray(yte)
show = np.array([int(np.flatnonzero(yte == c)[0]) for c in range(10)])  # one test image per class
print(f"Fashion-MNIST: {len(Xtr):,} training and {len(Xte):,} test images")

# -------------------------------------------------------------------------- two denoisers per noise
for noise, level in NOISES:
    dae = ConvDenoisingAutoencoder(noise=noise, noise_level=level, lr_schedule="constant", epochs=EPOCHS,
                                   random_state=SEED)
    flag = ResidualDenoiser(noise=noise, noise_level=level, width=16, epochs=FLAGSHIP_EPOCHS,
                            random_state=SEED)
    noisy = dae.add_noise(Xte, random_state=1234)                     # one fixed noisy test set
    outputs = {}
    for name, model in (("conv DAE", dae), ("flagship", flag)):
        t = time.perf_counter()
        model.fit(Xtr, verbose=1)
        outputs[name] = model.reconstruct(noisy)
        print(f"{noise} {level}, {name}: {model.n_epochs_} epochs in {time.perf_counter() - t:.0f} s; test PSNR "
              f"{psnr(Xte, noisy):.2f} -> {psnr(Xte, outputs[name]):.2f} dB, SSIM {ssim(Xte, noisy):.3f} -> "
              f"{ssim(Xte, outputs[name]):.3f}")
    cols = [FASHION_MNIST_CLASSES[yte[i]] for i in show]
    title = (f"{NAMES[noise].format(level)}; mean PSNR over {len(Xte):,} test images: noisy "
             f"{psnr(Xte, noisy):.2f} dB, conv DAE {psnr(Xte, outputs['conv DAE']):.2f} dB, "
             f"flagship {psnr(Xte, outputs['flagship']):.2f} dB")
    fig = plots.image_rows([Xte[show], noisy[show], outputs["conv DAE"][show], outputs["flagship"][show]],
                           ["clean", "noisy", "conv DAE", "flagship\n(ResidualDenoiser)"], col_titles=cols,
                           title=title, cell=1.05)
    print(f"wrote {plots.save(fig, os.path.join(OUT, f'conv_fashion_{noise}.png'))}")
