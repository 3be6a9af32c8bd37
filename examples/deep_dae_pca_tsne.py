"""
A deep denoising autoencoder with a 10-D code, viewed with PCA and t-SNE
========================================================================

The PyTorch MLP denoiser of MNIST: encoder 784-256-128-32-16-10 (ReLU, the code linear), decoder
10-16-32-64-128-256-784 (ReLU, a sigmoid output), Gaussian noise of standard deviation 0.1 added to every
training image, the reconstruction compared with the clean image by a binary cross-entropy. Then the
10-D codes of held-out digits are drawn in 2-D by PCA and by t-SNE, and a 5-nearest-neighbour
classifier in each 2-D view measures which one separates the classes better. Run it with::

    NNLITE_DATA=../shared/data python examples/deep_dae_pca_tsne.py            # a few minutes
    NNLITE_DATA=../shared/data NNLITE_QUICK=1 python examples/deep_dae_pca_tsne.py   # seconds

Only the MNIST test set is on this machine: the model trains on its first 8,000 images and every
figure and number is on the last 2,000. t-SNE needs scikit-learn
(``pip install nnlite[tsne]``); without it the t-SNE panel and its accuracy are left out, and the
script says so. Writes, in out/::

    deep_dae_digits.png       one test digit of each class: clean, noisy (sigma 0.1), decoded
    deep_dae_latent.png       the 10-D codes of 10 random test digits, one bar chart each
    deep_dae_pca_tsne.png     PCA and t-SNE of the test codes, coloured by class, with 5-NN accuracy
"""
import os
import time

import numpy as np
from matplotlib.figure import Figure

from nnlite import plots
from nnlite.data import load_mnist
from nnlite.latent import pca, plot_projection, tsne
from nnlite.models import DenoisingAutoencoder

# -------------------------------------------------------------------------- settings
OUT = "out"
SEED = 0
HIDDEN = (256, 128, 32, 16)   # encoder widths before the 10-D code
DECODER = (16, 32, 64, 128, 256)   # decoder widths after it, as the write-up's decoder is written
LATENT = 10
SIGMA = 0.1                   # std of the Gaussian noise added to every training image
EPOCHS = 30
K = 5                         # neighbours of the k-NN accuracy in each 2-D view
QUICK = os.environ.get("NNLITE_QUICK") == "1"   # the quick setting the docs gallery runs: fewer images and epochs
N_TRAIN = 2000 if QUICK else 8000    # training images: the first N of the MNIST test set
N_VIEW = 600 if QUICK else 2000      # held-out images drawn and measured (of the last 2,000)
if QUICK:
    EPOCHS = 3


def widths(net):
    """The layer widths of an MLP, input first: '784-256-128-32-16-10'."""
    dense = [m for m in net if hasattr(m, "n_out")]
    return "-".join(str(w) for w in [dense[0].n_in] + [m.n_out for m in dense])


def knn_accuracy(Z, y, k=K):
    """Accuracy of a k-NN classifier in the view ``Z`` (N, 2): the first half predicts the second."""
    half = len(Z) // 2
    A, B = Z[:half], Z[half:]
    d = ((B[:, None, :] - A[None, :, :]) ** 2).sum(-1)          # (N - half, half)
    nn = np.argsort(d, axis=1)[:, :k]
    votes = y[:half][nn]                                        # (N - half, k)
    pred = np.array([np.bincount(v, minlength=10).argmax() for v in votes])
    return float(np.mean(pred == y[half:]))


print(f"quick setting (NNLITE_QUICK=1): {N_TRAIN:,} training images, {EPOCHS} epochs" if QUICK
      else "full run (NNLITE_QUICK is not set)")

# -------------------------------------------------------------------------- data and training
X, y = load_mnist("test")
X = X.reshape(len(X), -1)
Xtr, Xte, yte = X[:N_TRAIN], X[8000:8000 + N_VIEW], np.asarray(y[8000:8000 + N_VIEW])
print(f"MNIST test set: train on images 0..{N_TRAIN - 1}, evaluate on {len(Xte):,} of the last 2,000")

t = time.perf_counter()
dae = DenoisingAutoencoder(noise="gaussian", noise_level=SIGMA, n_passes=1, latent_dim=LATENT, hidden=HIDDEN,
                           decoder_hidden=DECODER, loss="bce", lr=1e-3, batch_size=128, epochs=EPOCHS,
                           random_state=SEED).fit(Xtr)
print(f"trained {EPOCHS} epochs in {time.perf_counter() - t:.0f} s; final training BCE {dae.loss_curve_[-1]:.4f}")
print(f"encoder {widths(dae.encoder_)}, decoder {widths(dae.decoder_)}")
noisy = dae.add_noise(Xte, random_state=SEED)
den = dae.reconstruct(noisy)
mse = float(np.mean((den - Xte) ** 2))
print(f"test MSE to the clean digit: noisy input {np.mean((noisy - Xte) ** 2):.4f}, decoded {mse:.4f}")

# -------------------------------------------------------------------------- figures
os.makedirs(OUT, exist_ok=True)
paths = []
# ---- one digit per class: clean / noisy / decoded
idx = np.array([int(np.flatnonzero(yte == c)[0]) for c in range(10)])
fig = plots.image_rows([Xte[idx], np.clip(noisy[idx], 0, 1), den[idx]],
                       ["clean", f"noisy (sigma {SIGMA})", "decoded"], image_shape=(28, 28),
                       col_titles=[str(c) for c in range(10)], cell=1.0,
                       title=f"Deep DAE, encoder {widths(dae.encoder_)}, decoder {widths(dae.decoder_)}: "
                             "one test digit of each class")
paths.append(plots.save(fig, os.path.join(OUT, "deep_dae_digits.png")))

# ---- the 10-D codes of 10 random digits
Z = dae.transform(Xte)                                       # (N, 10)
pick = np.random.default_rng(SEED).choice(len(Xte), 10, replace=False)
fig = Figure(figsize=(12, 4.6))
lim = np.abs(Z[pick]).max() * 1.1
for i, j in enumerate(pick):
    ax = fig.add_subplot(2, 10, i + 1)
    ax.imshow(Xte[j].reshape(28, 28), cmap="gray_r")
    ax.set_title(f"digit {yte[j]}", fontsize=9)
    ax.axis("off")
    ax = fig.add_subplot(2, 10, 11 + i)
    ax.bar(np.arange(LATENT), Z[j], color="tab:blue")
    ax.set_ylim(-lim, lim)
    ax.set_xticks([0, 5, 9])
    ax.tick_params(labelsize=7)
    if i:
        ax.set_yticklabels([])
fig.suptitle(f"The {LATENT}-D latent vectors of 10 random test digits (bar k = code component k)")
fig.tight_layout()
paths.append(plots.save(fig, os.path.join(OUT, "deep_dae_latent.png")))

# ---- PCA against t-SNE, and which separates the classes better
views = {"PCA": pca(Z)}
try:
    views["t-SNE"] = tsne(Z, perplexity=30.0, random_state=SEED)
except ImportError as e:
    print(f"t-SNE left out: {e}")
acc = {name: knn_accuracy(V, yte) for name, V in views.items()}
acc10 = knn_accuracy(Z, yte)
for name, a in acc.items():
    print(f"{K}-NN accuracy in the 2-D {name} view: {a:.3f}")
print(f"{K}-NN accuracy on the 10-D codes themselves: {acc10:.3f}")
if len(acc) == 2:
    best, other = sorted(acc, key=acc.get, reverse=True)
    print(f"{best} separates the classes better: {K}-NN accuracy {acc[best]:.3f} against {acc[other]:.3f} "
          f"for {other}")
fig = Figure(figsize=(6.2 * len(views), 5.6))
for i, (name, V) in enumerate(views.items()):
    ax = fig.add_subplot(1, len(views), i + 1)
    plot_projection(V, yte, class_names=[str(c) for c in range(10)], ax=ax, s=5,
                    title=f"{name} of the codes: {K}-NN accuracy {acc[name]:.3f}")
fig.suptitle(f"{len(Z):,} held-out test digits, their {LATENT}-D codes in 2-D "
             f"(5-NN accuracy on the 10-D codes: {acc10:.3f})")
fig.tight_layout()
paths.append(plots.save(fig, os.path.join(OUT, "deep_dae_pca_tsne.png")))
for p in paths:
    print("wrote", p)
