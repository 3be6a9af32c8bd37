"""
The classic VAE on Fashion-MNIST
================================

The classic VAE (Kingma & Welling; PyTorch's example) on Fashion-MNIST: samples, interpolations, curves,
and a 2-D latent VAE whose latent space is drawn coloured by class and decoded on a grid.
Run it with::

    NNLITE_DATA=../shared/data python examples/mnist_vae.py                # 10 + 10 epochs, some minutes
    NNLITE_DATA=../shared/data NNLITE_QUICK=1 python examples/mnist_vae.py   # 3,000 images, 1 + 1 epochs: a quick look

Model: 784-400-20 (fc1 ReLU; mu and log-variance heads; 20-400 ReLU; 400-784 sigmoid), loss = BCE
summed over the pixels + KL, Adam 1e-3, batch 128. Writes, in out/::

    mnist_vae_samples.png          64 images decoded from z ~ N(0, I)
    mnist_vae_interpolation.png    decoded straight lines between the codes of two test images
    mnist_vae_reconstructions.png  test images and their reconstructions decode(mu)
    mnist_vae_curves.png           -ELBO, reconstruction and KL per image, training and test
    mnist_vae_latent_views.png     PCA and t-SNE (if scikit-learn is installed) of 3,000 test codes
    mnist_vae2d_latent.png         2-D latent VAE: test posterior means coloured by class
    mnist_vae2d_manifold.png       2-D latent VAE: images decoded on a 16 x 16 grid of z

``DATASET = "mnist"`` below trains on the first 8,000 MNIST test images and tests on the last
2,000 (only the MNIST test set is on this machine).
"""
import os
import time

import numpy as np

from nnlite import VAE, plots
from nnlite.data import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist
from nnlite.latent import pca_tsne_views, plot_projection
from nnlite.models import vae_negative_elbo

# -------------------------------------------------------------------------- settings
OUT = "out"
SEED = 0
EPOCHS = 10          # the 20-D model (the benchmark protocol)
EPOCHS_2D = 10       # the 2-D model
GRID = 16            # manifold grid is GRID x GRID images
GRID_RANGE = 3.0     # ... over [-3, 3]^2 of the 2-D latent space (the prior's +-3 sigma)
PAIRS = [(0, 1), (2, 8), (5, 7), (3, 4), (9, 6)]   # class pairs to interpolate between
PERPLEXITY = 30.0    # t-SNE of the latent codes
QUICK = os.environ.get("NNLITE_QUICK") == "1"   # the quick setting the docs gallery runs: fewer images and epochs
DATASET = "fashion"     # or "mnist": the MNIST test set (the only MNIST split here), 8,000 to train, 2,000 to test
SUBSET = 3000 if QUICK else None    # train on the first N images only (None: all)
N_VIEW = 500 if QUICK else 3000     # test codes drawn by PCA and t-SNE
if QUICK:
    EPOCHS, EPOCHS_2D = 1, 1


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


def make_vae(latent_dim, epochs, seed=SEED):
    return VAE(latent_dim=latent_dim, hidden=(400,), lr=1e-3, batch_size=128, epochs=epochs,
               lr_schedule="constant", random_state=seed)


def _names(dataset):
    return FASHION_MNIST_CLASSES if dataset == "fashion" else tuple(str(d) for d in range(10))


def samples_figure(vae, path, title):
    S = vae.sample(64, random_state=SEED)
    fig = plots.image_grid(S, (28, 28), ncols=8, cell=0.9, title=title)
    return plots.save(fig, str(path))


def interpolation_figure(vae, X, labels, names, path, steps=10):
    """One row per pair of test images: the two ends and ``steps`` decodings of ``(1-t) mu_a + t mu_b``."""
    rows, row_labels = [], []
    ts = np.linspace(0.0, 1.0, steps)
    for a, b in PAIRS:
        ia, ib = int(np.flatnonzero(labels == a)[0]), int(np.flatnonzero(labels == b)[0])
        mu = vae.transform(X[[ia, ib]])                                  # (2, m)
        Z = (1 - ts)[:, None] * mu[0] + ts[:, None] * mu[1]              # (steps, m)
        rows.append(np.concatenate([X[ia][None], vae.decode(Z).reshape(steps, -1), X[ib][None]]))
        row_labels.append(f"{names[a]}\n-> {names[b]}")
    # image_rows wants rows aligned across: here each "row" of the grid is one pair.
    grid = np.stack(rows)                                                # (pairs, steps + 2, 784)
    cols = ["test image A"] + [f"t={t:.2f}" for t in ts] + ["test image B"]
    fig = plots.image_rows(list(grid), row_labels, image_shape=(28, 28), col_titles=cols, cell=0.85, max_cols=steps + 2,
                           title="Interpolation in latent space: decode((1 - t) mu(A) + t mu(B)); "
                                 "ends are the real test images")
    return plots.save(fig, str(path))


def reconstruction_figure(vae, X, labels, names, path):
    idx = np.array([int(np.flatnonzero(labels == c)[0]) for c in range(10)])
    nelbo = vae_negative_elbo(vae, X[idx], random_state=SEED)
    fig = plots.image_rows([X[idx], vae.reconstruct(X[idx])], ["test image", "decode(mu)"], image_shape=(28, 28),
                           col_titles=[f"{names[labels[i]]}\n-ELBO {v:.0f}" for i, v in zip(idx, nelbo)],
                           cell=1.0, title="VAE reconstructions (per-image -ELBO in nats, z sampled)")
    return plots.save(fig, str(path))


def curves_figure(vae, path, title):
    h = vae.history_
    labels = {"loss": "-ELBO (recon + KL)", "recon": "reconstruction (BCE summed over pixels)",
              "kl": "KL(q(z|x) || N(0, I))", "val_loss": "test", "val_recon": "test", "val_kl": "test"}
    fig = plots.curves(h, ["loss", "recon", "kl"], subplots=True, labels=labels, title=title,
                       ylabel="nats per image")
    for ax in fig.axes:
        for line in ax.get_lines()[:1]:
            line.set_label("training (mean over the epoch)")
        ax.legend(fontsize=8)
    return plots.save(fig, str(path))


def latent2d_figures(vae2, X, labels, names, folder, prefix):
    mu = vae2.transform(X)
    fig = plot_projection(mu, labels, class_names=names, xlabel="$z_1$ (posterior mean)",
                          ylabel="$z_2$ (posterior mean)", s=4,
                          title=f"2-D latent VAE: the {len(X):,} test images at their posterior means")
    p1 = plots.save(fig, os.path.join(folder, f"{prefix}2d_latent.png"))
    fig = plots.latent_grid(vae2.decode, (-GRID_RANGE, GRID_RANGE), (-GRID_RANGE, GRID_RANGE), n=GRID,
                            image_shape=(28, 28),
                            title=f"2-D latent VAE: images decoded on a {GRID}x{GRID} grid of z in "
                                  f"[-{GRID_RANGE:g}, {GRID_RANGE:g}]^2", size=10)
    p2 = plots.save(fig, os.path.join(folder, f"{prefix}2d_manifold.png"))
    return [p1, p2]


def vae_figures(vae, X, labels, folder, prefix="mnist_vae", dataset="fashion"):
    """The 20-D model's figures (samples, interpolation, reconstructions, curves); returns the paths."""
    names = _names(dataset)
    data = "Fashion-MNIST" if dataset == "fashion" else "MNIST"
    return [
        samples_figure(vae, os.path.join(folder, f"{prefix}_samples.png"),
                       f"64 samples from the prior: decode(z), z ~ N(0, I), VAE 784-400-{vae.latent_dim} on {data}"),
        interpolation_figure(vae, X, labels, names, os.path.join(folder, f"{prefix}_interpolation.png")),
        reconstruction_figure(vae, X, labels, names, os.path.join(folder, f"{prefix}_reconstructions.png")),
        curves_figure(vae, os.path.join(folder, f"{prefix}_curves.png"),
                      f"VAE 784-400-{vae.latent_dim} on {data}: loss terms per image"),
    ]


print(f"quick setting (NNLITE_QUICK=1): {SUBSET:,} training images, "
      f"{EPOCHS} + {EPOCHS_2D} epochs" if QUICK
      else "full run (NNLITE_QUICK is not set)")

# -------------------------------------------------------------------------- the 20-D VAE
Xtr, Xte, yte, names = load(DATASET, SUBSET)
print(f"{DATASET}: {len(Xtr):,} training and {len(Xte):,} test images")
t = time.perf_counter()
vae = make_vae(20, EPOCHS).fit(Xtr, validation_data=Xte, verbose=1)
nelbo, recon, kl = vae_negative_elbo(vae, Xte, random_state=SEED, reduction="mean", return_terms=True)
print(f"20-D VAE: {EPOCHS} epochs in {time.perf_counter() - t:.0f} s; test -ELBO {nelbo:.2f} nats/image "
      f"(reconstruction {recon:.2f} + KL {kl:.2f})")
for p in vae_figures(vae, Xte, yte, OUT, dataset=DATASET):
    print(f"wrote {p}")

# -------------------------------------------------------------------------- its latent space in 2-D: PCA and t-SNE
sel = np.random.default_rng(SEED).choice(len(Xte), size=N_VIEW, replace=False)
data = "Fashion-MNIST" if DATASET == "fashion" else "MNIST"
views = pca_tsne_views(vae.transform(Xte[sel]), yte[sel], names, perplexity=PERPLEXITY, random_state=SEED,
                       title=f"Posterior means of {len(sel):,} {data} test images in the 20-D latent space, "
                             "projected to 2-D")
print(views.tsne_missing or f"t-SNE of {len(sel)} points: {views.tsne_seconds:.0f} s")
print(f"wrote {plots.save(views.figure, os.path.join(OUT, 'mnist_vae_latent_views.png'))}")

# -------------------------------------------------------------------------- a 2-D VAE: its latent space drawn directly
t = time.perf_counter()
vae2 = make_vae(2, EPOCHS_2D).fit(Xtr, verbose=1)
print(f"2-D VAE: {EPOCHS_2D} epochs in {time.perf_counter() - t:.0f} s; test -ELBO "
      f"{vae_negative_elbo(vae2, Xte, random_state=SEED, reduction='mean'):.2f} nats/image")
for p in latent2d_figures(vae2, Xte, yte, names, OUT, "mnist_vae"):
    print(f"wrote {p}")
