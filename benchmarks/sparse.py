"""Sparse autoencoders on Fashion-MNIST: reconstruction error and code activity with and without the penalties.

Usage::

    NNLITE_DATA=../shared/data python -m benchmarks.sparse          # ~6 minutes on 2 cores
    python -m benchmarks.sparse --quick                                 # 6,000 images, 3 epochs
    python -m benchmarks.sparse --epochs 30

What is measured (not a pass/fail test):

* **Keras tutorial setting** ("Building Autoencoders in Keras", F. Chollet, 2016): 784-32-784, ReLU code,
  sigmoid output, per-pixel binary cross-entropy, L1 activity penalty on the code. The tutorial reports,
  on MNIST, a mean code activation of 3.33 with the penalty against 7.30 without at a similar test
  loss (~0.10 vs ~0.09). nnlite's ``l1`` is ``l1 * sum|h| / batch``, as Keras 1 (``l1 * sum_units
  mean_batch |h|``) and today's tf.keras (which divides the activity loss by the batch size): the
  tutorial's ``l1(10e-5)`` is our ``l1 = 1e-4``. Keras 2.0-2.2 summed the activity penalty over the
  batch instead; the same code run there is our ``l1 = 1e-4 * 256 = 0.0256`` at batch 256. The table
  sweeps l1 over 0, 1e-5, 1e-4, 1e-3 and 0.0256.
* **KL sparsity** (Ng's CS294A notes): 784-196-784 with a sigmoid code, target rho = 0.05, beta 0.003
  (Ng's beta = 3 on a per-sample summed error, rescaled to our per-pixel mean loss) and 0.03, against
  the same network without the penalty.
* For each: test BCE (mean per pixel, the reconstruction loss only), test MSE, the mean code activation
  (over test images and units, Keras' ``encoded_imgs.mean()``), the share of exactly-zero activations,
  the average number of units above 0.1 per image and the dead units (0 on every test image).
  Adam(1e-3, cosine decay), batch 256.

Figures in ``benchmarks/results/figures/``: the learned encoder features (first-layer weights, one tile
per code unit, each tile scaled to its own min..max, the most active units first: a dead unit keeps its
random initial weights and looks like noise) and reconstructions side by side.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks._markdown import table

RESULTS = Path(__file__).resolve().parent / "results"
FIGURES = RESULTS / "figures"


def tiles(weights, n):
    """The first ``n`` feature rows as images scaled to [0, 1] each (``(n, 28, 28)``)."""
    W = np.asarray(weights[:n], dtype=np.float64)
    lo, hi = W.min(1, keepdims=True), W.max(1, keepdims=True)
    return ((W - lo) / np.maximum(hi - lo, 1e-12)).reshape(-1, 28, 28)


def main(argv=None):
    from nnlite import plots
    from nnlite.data import load_fashion_mnist
    from nnlite.models import SparseAutoencoder

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--out", default=str(RESULTS / "sparse.md"))
    args = ap.parse_args(argv)
    X, _ = load_fashion_mnist("train")
    Xt, _ = load_fashion_mnist("test")
    if args.quick:
        X = X[:6000]
    epochs = args.epochs or (3 if args.quick else 10)
    t0, load0 = time.perf_counter(), os.getloadavg()[0]

    configs = [("no penalty (ReLU code)", dict(latent_dim=32)),
               ("l1 = 1e-5", dict(latent_dim=32, l1=1e-5)),
               ("l1 = 1e-4 (tutorial, Keras 1)", dict(latent_dim=32, l1=1e-4)),
               ("l1 = 1e-3", dict(latent_dim=32, l1=1e-3)),
               ("l1 = 0.0256 (tutorial, Keras 2.0)", dict(latent_dim=32, l1=0.0256)),
               ("no penalty (sigmoid code)", dict(latent_dim=196, code_activation="sigmoid")),
               ("KL rho = 0.05, beta = 0.003", dict(latent_dim=196, sparsity_target=0.05, sparsity_weight=0.003)),
               ("KL rho = 0.05, beta = 0.03", dict(latent_dim=196, sparsity_target=0.05, sparsity_weight=0.03))]
    rows, models, order = [], {}, {}
    for label, kw in configs:
        t = time.perf_counter()
        m = SparseAutoencoder(epochs=epochs, batch_size=256, random_state=0, **kw).fit(X)
        dt = time.perf_counter() - t
        H = m.encode(Xt)
        R = m.reconstruct(Xt).reshape(len(Xt), -1)
        bce = m.compute_loss(Xt)
        mse = float(np.mean((R - Xt.reshape(len(Xt), -1)) ** 2))
        dead = int(np.sum(~(H != 0).any(0)))
        rows.append([label, f"784-{m.latent_dim}-784", m._code_activation(), f"{bce:.4f}", f"{mse:.4f}",
                     f"{H.mean():.3f}", f"{np.mean(H == 0):.1%}", f"{np.mean((H > 0.1).sum(1)):.1f}",
                     f"{dead} / {m.latent_dim}", f"{dt:.0f}"])
        order[label] = np.argsort(-H.mean(0), kind="stable")             # most active units first
        models[label] = m
        print(" | ".join(rows[-1]), flush=True)
    headers = ["model", "net", "code", "test BCE", "test MSE", "mean code activation", "zeros",
               "units > 0.1 per image", "dead units", "train s"]
    t1 = table(headers, rows)
    print(t1)

    # figures: features and reconstructions
    show = ["no penalty (ReLU code)", "l1 = 1e-4 (tutorial, Keras 1)", "l1 = 1e-3", "no penalty (sigmoid code)",
            "KL rho = 0.05, beta = 0.003", "KL rho = 0.05, beta = 0.03"]
    fig = plots.image_rows([tiles(models[k].features()[order[k]], 16) for k in show], show,
                           title="Learned encoder features: first-layer weights of the 16 most active code units "
                                 "(each tile scaled to its own range)", max_cols=16)
    plots.save(fig, str(FIGURES / "sparse_features.png"))
    k = "l1 = 1e-4 (tutorial, Keras 1)"
    full = plots.image_grid(tiles(models[k].features()[order[k]], 32), ncols=8,
                            title="All 32 features of the L1-sparse ReLU code (l1 = 1e-4), most active first")
    plots.save(full, str(FIGURES / "sparse_features_l1.png"))
    idx = np.arange(12)
    recon_rows = [Xt[idx]] + [models[k].reconstruct(Xt[idx]) for k in show]
    fig = plots.image_rows(recon_rows, ["test image"] + show, title="Reconstructions of test images")
    plots.save(fig, str(FIGURES / "sparse_reconstructions.png"))

    total = time.perf_counter() - t0
    cmd_args = " ".join(argv if argv is not None else sys.argv[1:])
    lines = ["# Sparse autoencoders on Fashion-MNIST", "",
             f"Command: `python -m benchmarks.sparse{' ' + cmd_args if cmd_args else ''}`. "
             f"Python {platform.python_version()}, NumPy {np.__version__}, {os.cpu_count()} CPUs, load average "
             f"{load0:.1f} at start; total {total:.0f} s wall clock on a shared machine.", "",
             f"`SparseAutoencoder(..., epochs={epochs}, batch_size=256, random_state=0).fit(X)` on "
             f"{len(X)} training images (Adam 1e-3, cosine decay); metrics on the 10,000 test images. *test BCE* is "
             "the reconstruction loss alone (mean per pixel); *mean code activation* is Keras' "
             "`encoded_imgs.mean()` (the tutorial: 3.33 with L1 vs 7.30 without, on MNIST after 100 epochs).", "",
             t1, "",
             "Figures: `figures/sparse_features.png` (16 features per model), `figures/sparse_features_l1.png`, "
             "`figures/sparse_reconstructions.png`.", ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out} ({total:.0f} s)")


if __name__ == "__main__":
    main()
