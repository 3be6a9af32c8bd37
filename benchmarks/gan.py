"""GANs on Fashion-MNIST and MNIST, judged without pretrained networks; the adversarial denoiser's PSNR.

Usage::

    NNLITE_DATA=../shared/data python -m benchmarks.gan            # ~11 min on 2 idle cores (35 min at load 10-17)
    python -m benchmarks.gan --quick                                   # a smoke run (~1 minute)
    python -m benchmarks.gan --only fashion,mnist,adversarial --fashion-epochs 12 --mnist-epochs 30
    python -m benchmarks.gan --only adversarial --weights 0,0.03,0.1,0.3 --out benchmarks/results/gan_adversarial.md
    python -m benchmarks.gan --only fashion --architecture dcgan --fashion-epochs 10 \
        --out benchmarks/results/gan_dcgan.md                          # ~10 min on 2 idle cores

What is measured (nothing here is a pass/fail test):

* **Judge**: an nnlite :class:`~nnlite.models.MLPClassifier` (784-256-10) trained on the real
  training images; its test accuracy is printed.
* **GAN**: ``GAN(label_smoothing=0.1, random_state=0)`` (MLP players: G 100-256-512-784 tanh,
  D 784-512-256-1 with LeakyReLU(0.2) and dropout 0.3, non-saturating loss, Adam(2e-4, (0.5, 0.999)),
  batch 64); with ``--architecture dcgan`` the DCGAN players instead (``GAN(generator='dcgan')``: a
  transposed-convolution generator with batch norm and a strided-convolution discriminator). Per epoch:
  both losses, the mean of ``sigmoid(D(x))`` and ``sigmoid(D(G(z)))``, and the spread of 256 samples
  from fixed codes (per-pixel standard deviation across samples and the standard deviation of their
  mean intensities) beside the same numbers on the real data. A collapsed generator shows a
  pixel spread near 0.
* **Samples vs real held-out images**, 2000 of each: the judge's class histogram (coverage = share of
  classes receiving >= 5% of the samples, entropy / log 10), its mean confidence, and the median
  Euclidean distance to the nearest training image, divided by the same median for real test images
  (near 0 = memorised copies; near 1 = as far from the training set as unseen real images).
* **Adversarial denoiser** (Fashion-MNIST, Gaussian noise sigma 0.3): PSNR, SSIM and a sharpness ratio
  (mean |image gradient| of the output / of the clean image) for ``adversarial_weight`` 0 and > 0.

MNIST: only the 10,000-image test set is on this machine; the GAN and the judge train on its first 8,000
images and the last 2,000 are the held-out real images. Per-epoch sample grids go to ``out/gan/``;
summary figures and the tables to ``benchmarks/results/``.
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
CLASSES = {"fashion": ["T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                       "boot"],
           "mnist": [str(d) for d in range(10)]}


def load(name, quick):
    from nnlite.data import load_fashion_mnist, load_mnist

    if name == "fashion":
        X, y = load_fashion_mnist("train")
        Xt, yt = load_fashion_mnist("test")
        if quick:
            X, y = X[:6000], y[:6000]
        return X, y, Xt[:2000], yt[:2000], "Fashion-MNIST: 60,000 training images, first 2,000 test images held out"
    X, y = load_mnist("test")
    return (X[:8000], y[:8000], X[8000:], y[8000:],
            "MNIST (test set only on this machine): first 8,000 images for training, last 2,000 held out")


def sharpness(images):
    """Mean absolute difference between neighbouring pixels (horizontal and vertical), per image set."""
    im = np.asarray(images, dtype=np.float64).reshape(len(images), 28, 28)
    return float(np.abs(np.diff(im, axis=1)).mean() + np.abs(np.diff(im, axis=2)).mean())


def evolution_figure(snapshots, title, n_show=12):
    """Rows = epochs, columns = the same codes z: how the samples of fixed codes evolve."""
    from nnlite import plots

    keep = snapshots if len(snapshots) <= 8 else [snapshots[i] for i in
                                                  np.unique(np.linspace(0, len(snapshots) - 1, 8).round().astype(int))]
    rows = [imgs[:n_show] for _, imgs in keep]
    labels = [f"epoch {ep}" for ep, _ in keep]
    return plots.image_rows(rows, labels, title=title, max_cols=n_show)


def stats_figure(history, data_stats, title):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 3.6))
    axes = fig.subplots(1, 3)
    ep = np.arange(1, len(history["d_loss"]) + 1)
    axes[0].plot(ep, history["d_loss"], label="discriminator $L_D$")
    axes[0].plot(ep, history["g_loss"], label="generator $L_G$ (non-saturating)")
    axes[0].set_title("losses")
    axes[1].plot(ep, history["d_real"], label="mean D(x), real")
    axes[1].plot(ep, history["d_fake"], label="mean D(G(z)), fake")
    axes[1].axhline(0.5, color="0.6", lw=0.8, ls=":")
    axes[1].set_ylim(0, 1)
    axes[1].set_title("discriminator's outputs")
    axes[2].plot(ep, history["sample_pixel_std"], label="samples: per-pixel std across samples")
    axes[2].axhline(data_stats[0], color="C0", ls="--", label="real data: same")
    axes[2].plot(ep, history["sample_intensity_std"], label="samples: std of mean intensity")
    axes[2].axhline(data_stats[1], color="C1", ls="--", label="real data: same")
    axes[2].set_ylim(bottom=0)
    axes[2].set_title("spread of samples (0 = collapse)")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def histogram_figure(hist_fake, hist_real, classes, title):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.4))
    ax = fig.subplots()
    x = np.arange(len(classes))
    ax.bar(x - 0.2, hist_real, width=0.4, label="real held-out images")
    ax.bar(x + 0.2, hist_fake, width=0.4, label="GAN samples")
    ax.axhline(0.05, color="0.4", ls=":", lw=1, label="5% (coverage threshold)")
    ax.set_xticks(x, classes, rotation=30)
    ax.set_ylabel("share of images")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def bench_gan(name, epochs, quick, out_dir, lines, architecture="mlp"):
    from nnlite import plots
    from nnlite.models import GAN, MLPClassifier, SaveSamples, evaluate_samples

    X, y, Xt, yt, what = load(name, quick)
    lines += [f"## {what}", ""]
    t = time.perf_counter()
    judge = MLPClassifier(hidden=(256,), epochs=3 if quick else 10, random_state=0).fit(X, y)
    acc = judge.score(Xt, yt)
    t_judge = time.perf_counter() - t
    print(f"[{name}] judge MLPClassifier(784-256-10): test accuracy {acc:.4f} ({t_judge:.0f} s)", flush=True)
    lines += [f"Judge: `MLPClassifier(hidden=(256,), epochs={judge.n_epochs_}, random_state=0)` trained on the "
              f"training images: **held-out accuracy {acc:.4f}** ({t_judge:.0f} s).", ""]

    arch = "" if architecture == "mlp" else f"_{architecture}"            # file-name tag
    label = "MLP GAN" if architecture == "mlp" else "DCGAN"
    call = "GAN(label_smoothing=0.1, random_state=0)" if architecture == "mlp" else \
        f"GAN(generator='{architecture}', label_smoothing=0.1, random_state=0)"
    saver = SaveSamples(str(out_dir / f"{name}{arch}_epoch{{epoch:03d}}.png"), n=64,
                        title=f"{label} on {'Fashion-MNIST' if name == 'fashion' else 'MNIST'}")
    gan = GAN(generator=None if architecture == "mlp" else architecture, label_smoothing=0.1, random_state=0)
    t = time.perf_counter()
    gan.fit(X, epochs=epochs, callbacks=[saver], verbose=0)
    t_gan = time.perf_counter() - t
    h = gan.history_
    print(f"[{name}] {label}: {epochs} epochs, {gan.n_iter_} generator steps in {t_gan:.0f} s", flush=True)
    rows = []
    for e in range(len(h["d_loss"])):
        rows.append([e + 1, f"{h['d_loss'][e]:.3f}", f"{h['g_loss'][e]:.3f}", f"{h['d_real'][e]:.3f}",
                     f"{h['d_fake'][e]:.3f}", f"{h['sample_pixel_std'][e]:.3f}",
                     f"{h['sample_intensity_std'][e]:.3f}", f"{h['sample_mean'][e]:.3f}"])
    rows.append(["real data", "", "", "", "", f"{gan.data_pixel_std_:.3f}", f"{gan.data_intensity_std_:.3f}",
                 f"{gan.data_mean_:.3f}"])
    t1 = table(["epoch", "L_D", "L_G", "D(x)", "D(G(z))", "pixel std across samples", "std of mean intensity",
                "mean pixel"], rows)
    print(t1)
    lines += [f"{label}: `{call}.fit(X, epochs={epochs})`: batch {gan.batch_size_}, "
              f"{gan.n_iter_} generator steps, **{t_gan:.0f} s**. Spread statistics on 256 samples of fixed codes "
              "after each epoch; last row: real training images.", "", t1, ""]

    samples = gan.sample(2000, random_state=1)
    ev = evaluate_samples(samples, judge, X, Xt)
    ref = evaluate_samples(Xt, judge, X, Xt)
    rows = []
    for row_label, r in ((f"{label} samples", ev), ("real held-out images", ref)):
        rows.append([row_label, f"{r['coverage']:.0%}", f"{r['entropy_ratio']:.3f}", f"{r['confidence']:.3f}",
                     f"{r['class_histogram'].min():.3f}", f"{r['class_histogram'].max():.3f}",
                     f"{r['nn_dist_samples']:.2f}", f"{r['nn_ratio']:.2f}", f"{r['copies']:.1%}"])
    t2 = table(["2000 images", "classes >= 5%", "entropy / log 10", "judge confidence", "smallest class share",
                "largest class share", "median NN dist to train", "NN dist / real test's", "closer than 1st pct"],
               rows)
    hist = table(["class"] + CLASSES[name], [
        [f"{label} samples"] + [f"{v:.3f}" for v in ev["class_histogram"]],
        ["real held-out"] + [f"{v:.3f}" for v in ref["class_histogram"]]])
    print(t2)
    print(hist)
    lines += ["Mode coverage and novelty (judge = the classifier above; NN = nearest training image, Euclidean "
              "on 784 pixels in [0, 1]; *closer than 1st pct* = share of images nearer to a training image than "
              "99% of real held-out images are):", "", t2, "", "Class histogram (share of images per predicted "
              "class):", "", hist, ""]

    tag = "Fashion-MNIST" if name == "fashion" else "MNIST"
    figs = {
        f"gan_{name}{arch}_samples.png": plots.image_grid(
            samples[:100], ncols=10, title=f"{label} on {tag}: 100 samples after {epochs} epochs"),
        f"gan_{name}{arch}_evolution.png": evolution_figure(
            saver.snapshots, f"{label} on {tag}: samples of the same 12 codes z, epoch by epoch"),
        f"gan_{name}{arch}_curves.png": stats_figure(h, (gan.data_pixel_std_, gan.data_intensity_std_),
                                                     f"{label} on {tag}: training curves (one point per epoch)"),
        f"gan_{name}{arch}_classes.png": histogram_figure(ev["class_histogram"], ref["class_histogram"],
                                                          CLASSES[name], f"{tag}: classes of 2000 {label} samples "
                                                          f"vs real images (judge accuracy {acc:.1%})"),
    }
    # nearest training images of a few samples: the "not memorised" check made visible
    flatX = X.reshape(len(X), -1)
    show = samples[:10].reshape(10, -1)
    d2 = (show ** 2).sum(1)[:, None] + (flatX ** 2).sum(1)[None] - 2 * show @ flatX.T
    nn = flatX[np.argmin(d2, axis=1)]
    figs[f"gan_{name}{arch}_nearest.png"] = plots.image_rows(
        [samples[:10], nn.reshape(samples[:10].shape)], [f"{label} sample", "nearest training image"],
        title=f"{tag}: samples beside their nearest training image (Euclidean)")
    for fname, fig in figs.items():
        plots.save(fig, str(FIGURES / fname))
    lines += ["Figures: " + ", ".join(f"`figures/{f}`" for f in figs) + f"; per-epoch grids in `{out_dir}/`.", ""]
    return {"acc": acc, "ev": ev, "ref": ref, "t": t_gan}


def bench_adversarial(quick, lines, weights=None, suffix=""):
    from nnlite import plots
    from nnlite.data import load_fashion_mnist
    from nnlite.metrics import psnr, ssim
    from nnlite.models import AdversarialDenoiser
    from nnlite.noise import gaussian

    X, _ = load_fashion_mnist("train")
    Xt, _ = load_fashion_mnist("test")
    n = 6000 if quick else 20000
    X, Xt = X[:n], Xt[:2000]
    sigma = 0.3
    noisy = gaussian(Xt, sigma, np.random.default_rng(123))
    if weights is None:
        weights = (0.0, 0.1) if quick else (0.0, 0.003, 0.01, 0.03)
    epochs = 3 if quick else 10
    rows, outs = [], {}
    for lam in weights:
        t = time.perf_counter()
        m = AdversarialDenoiser(adversarial_weight=lam, noise="gaussian", noise_level=sigma, latent_dim=64,
                                hidden=(512,), epochs=epochs, batch_size=128, random_state=0).fit(X)
        dt = time.perf_counter() - t
        den = m.reconstruct(noisy)
        outs[lam] = den
        rows.append([lam, f"{psnr(Xt, den):.2f}", f"{ssim(Xt, den):.4f}", f"{sharpness(den) / sharpness(Xt):.3f}",
                     f"{dt:.0f}"])
        print(f"[adversarial] lambda={lam}: PSNR {rows[-1][1]} dB, SSIM {rows[-1][2]}, sharpness {rows[-1][3]}",
              flush=True)
    rows.append(["noisy input", f"{psnr(Xt, noisy):.2f}", f"{ssim(Xt, noisy):.4f}",
                 f"{sharpness(noisy) / sharpness(Xt):.3f}", ""])
    t3 = table(["adversarial_weight", "PSNR dB", "SSIM", "sharpness / clean's", "train s"], rows)
    print(t3)
    lines += [f"## Adversarial denoiser: Fashion-MNIST, Gaussian noise sigma {sigma}", "",
              f"`AdversarialDenoiser(adversarial_weight=lam, noise='gaussian', noise_level={sigma}, latent_dim=64, "
              f"hidden=(512,), epochs={epochs}, batch_size=128, random_state=0)` trained on {n} training images, "
              f"evaluated on the first 2000 test images with one fixed noise draw. *Sharpness* = mean absolute "
              "difference of neighbouring pixels of the output divided by that of the clean images (1 = as much "
              "edge contrast as the clean images; a blurry reconstruction is below 1).", "", t3, ""]
    idx = np.arange(12)
    rows_img = [Xt[idx], noisy[idx]] + [outs[lam][idx] for lam in weights]
    labels = ["clean", f"noisy (sigma {sigma})"] + [f"lambda = {lam}" for lam in weights]
    fig = plots.image_rows(rows_img, labels, title="Denoising with an adversarial term: "
                           "reconstruction + lambda * non-saturating GAN loss")
    fname = f"adversarial_denoiser{suffix}.png"
    plots.save(fig, str(FIGURES / fname))
    lines += [f"Figure: `figures/{fname}`.", ""]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small data and few epochs: a smoke run")
    ap.add_argument("--only", default="fashion,mnist,adversarial")
    ap.add_argument("--fashion-epochs", type=int, default=None)
    ap.add_argument("--mnist-epochs", type=int, default=None)
    ap.add_argument("--out", default=str(RESULTS / "gan.md"))
    ap.add_argument("--grids", default="out/gan", help="folder for the per-epoch sample grids")
    ap.add_argument("--weights", default=None, help="adversarial weights to compare, e.g. 0,0.03,0.1,0.3")
    ap.add_argument("--architecture", default="mlp", choices=["mlp", "dcgan"],
                    help="the GAN's players: MLPs (default) or DCGAN convolutions")
    args = ap.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    valid = {"fashion", "mnist", "adversarial"}
    if set(only) - valid:
        ap.error(f"--only: unknown {sorted(set(only) - valid)}; valid: {sorted(valid)}")
    import numpy
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    cmd_args = " ".join(argv if argv is not None else sys.argv[1:])
    lines = ["# GANs and the adversarial denoiser", "",
             f"Command: `python -m benchmarks.gan{' ' + cmd_args if cmd_args else ''}`. "
             f"Python {platform.python_version()}, NumPy {numpy.__version__}, {os.cpu_count()} CPUs, load average "
             f"{load0:.1f} at start (a machine shared with other programs: times are wall-clock seconds).", ""]
    out_dir = Path(args.grids)
    epochs = {"fashion": args.fashion_epochs or (2 if args.quick else 10),
              "mnist": args.mnist_epochs or (3 if args.quick else 25)}
    for name in ("fashion", "mnist"):
        if name in only:
            bench_gan(name, epochs[name], args.quick, out_dir, lines, args.architecture)
    if "adversarial" in only:
        weights = None if args.weights is None else tuple(float(w) for w in args.weights.split(","))
        stem = Path(args.out).stem
        bench_adversarial(args.quick, lines, weights, "" if stem == "gan" else "_" + stem)
    total = time.perf_counter() - t0
    lines.insert(3, f"Total {total:.0f} s wall clock.\n")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out} ({total:.0f} s)")


if __name__ == "__main__":
    main()
