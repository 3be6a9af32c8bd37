"""Command line: ``python -m nnlite <command>`` (also installed as ``nnlite``).

Each command is a subparser registered by a small ``_add_<command>(subparsers)`` function that sets
``func`` to the function running it, so new commands are added without touching the others::

    python -m nnlite demo --out out        # train the tiny-bitmap models and write the figures
    nnlite train vae --data fashion-mnist --latent-dim 20 --hidden 400 --epochs 10 --out runs/vae
    nnlite train vae ... --out runs/vae --resume          # continue a killed run, bit for bit
    nnlite denoise runs/dae/checkpoint.npz my_scan.png    # any size: tiles for MLP models
    nnlite sample runs/vae/checkpoint.npz -n 64
    nnlite interpolate runs/vae/checkpoint.npz 0 7
    nnlite latent runs/vae/checkpoint.npz --method pca
    nnlite gradcheck                                      # every layer's backward vs central differences
    nnlite bench                                          # python -m benchmarks

Exit codes: 0 success, 1 error (one line on stderr; ``--debug`` shows the traceback), 2 usage error.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np


def _add_demo(subparsers):
    p = subparsers.add_parser(
        "demo", help="train the font autoencoder, the denoiser and the emoji VAE; write figures",
        description="Train a 2-D autoencoder and a denoising autoencoder on the 5x7 font and a VAE on the "
                    "12x12 emojis, print what they achieve and write PNG figures (about a minute on 2 cores).")
    p.add_argument("--out", default="out", metavar="DIR", help="folder for the figures (default: out)")
    p.add_argument("--seed", type=int, default=0, help="random seed for all three models (default: 0)")
    p.add_argument("--quick", action="store_true", help="much shorter trainings, for a smoke test")
    p.set_defaults(func=_run_demo)


def _run_demo(args) -> int:
    from .demo import run_demo

    run_demo(args.out, random_state=args.seed, quick=args.quick)
    return 0


# ==================================================================================================
# train / denoise / sample / interpolate / latent / gradcheck / bench  (issue 8)
# ==================================================================================================
# Each command is a pair: _add_<name>(subparsers) declares the arguments and examples, _cmd_<name>(args)
# does the work and returns the exit code. Errors a user can fix are raised as UserError (or one of the
# library's ValueError subclasses) and printed as one line by main(); --debug shows the traceback.

class UserError(Exception):
    """A problem the user can fix: printed as one line, exit code 1."""


def _formatter():
    return argparse.RawDescriptionHelpFormatter


#: CLI name -> (class name in nnlite.models, kind, preset arguments). kind 'mlp': the model takes images
#: (N, H, W[, C]) and flattens them; 'conv': it takes (N, C, H, W). Names whose class is missing from
#: nnlite.models are not offered.
_MODEL_NAMES = {
    "autoencoder": ("Autoencoder", "mlp", {}),
    "ae": ("Autoencoder", "mlp", {}),
    "dae": ("DenoisingAutoencoder", "mlp", {}),
    "sparse-ae": ("SparseAutoencoder", "mlp", {}),
    "vae": ("VAE", "mlp", {}),
    "conv-dae": ("ConvDenoisingAutoencoder", "conv", {}),
    "conv-vae": ("ConvVAE", "conv", {}),
    "unet": ("ResidualDenoiser", "conv", {"architecture": "unet"}),
    "dncnn": ("ResidualDenoiser", "conv", {"architecture": "dncnn"}),
    "gan": ("GAN", "mlp", {}),
    "dcgan": ("GAN", "conv", {"generator": "dcgan"}),
}

_BUILTIN_DATA = ("font5x7", "emoji12", "mnist", "fashion-mnist", "cifar10")


def _available_models() -> dict:
    import nnlite.models as models

    return {name: spec for name, spec in _MODEL_NAMES.items() if hasattr(models, spec[0])}


def _model_class(name: str):
    import nnlite.models as models

    avail = _available_models()
    if name not in avail:
        raise UserError(f"unknown model {name!r}; available: {', '.join(avail)}")
    cls, kind, preset = avail[name]
    return getattr(models, cls), kind, dict(preset)


# ------------------------------------------------------------------------------------------ data
def _load_data(spec: str, split: str = "train", limit=None, size=None, grey=False, seed=0):
    """``(images, labels_or_None, names_or_None, description)``; images (N, H, W) or (N, H, W, 3) in [0, 1]."""
    from . import data

    key = spec.lower().replace("_", "-")
    labels = names = None
    if key == "font5x7":
        X, names = data.load_font5x7()
        X = X.reshape(-1, 7, 5)
        labels = np.arange(len(X))
    elif key == "emoji12":
        X, names = data.load_emoji12()
        X = X.reshape(-1, 12, 12)
        labels = np.arange(len(X))
    elif key in ("mnist", "fashion-mnist"):
        loader = data.load_mnist if key == "mnist" else data.load_fashion_mnist
        X, labels = loader(split=split)
        if key == "fashion-mnist":
            names = list(data.FASHION_MNIST_CLASSES)
    elif key == "cifar10":
        X, labels = data.load_cifar10(split=split, layout="NHWC")
        names = list(data.CIFAR10_CLASSES)
    elif os.path.isdir(os.path.expanduser(spec)):
        X, files = data.load_image_folder(os.path.expanduser(spec), size=size or 32, mode="L" if grey else "RGB")
        names = None
        labels = None
    else:
        hint = " (a folder of that name does not exist)" if os.sep in spec or spec.startswith(".") else ""
        raise UserError(f"unknown data set {spec!r}{hint}; use one of {', '.join(_BUILTIN_DATA)} or a folder of images")
    if grey and X.ndim == 4:
        X = X @ np.array([0.299, 0.587, 0.114], dtype=X.dtype)
    if limit is not None:
        if limit < 1:
            raise UserError(f"--limit must be >= 1, got {limit}")
        X = X[:limit]
        labels = None if labels is None else labels[:limit]
    return np.ascontiguousarray(X, dtype=np.float32), labels, names


def _to_model_input(X, kind):
    """MLP models take (N, H, W[, C]) as is (they flatten); conv models take (N, C, H, W)."""
    if kind == "conv":
        return X[:, None] if X.ndim == 3 else np.moveaxis(X, -1, 1).copy()
    return X


def _to_images(Y, image_shape):
    """Model outputs back to displayable (N, H, W) or (N, H, W, 3)."""
    Y = np.asarray(Y)
    h, w, c = image_shape
    if Y.ndim == 4 and Y.shape[1] in (1, 3) and Y.shape[-1] not in (1, 3):  # NCHW
        Y = np.moveaxis(Y, 1, -1)
    Y = Y.reshape((len(Y), h, w) + ((c,) if c == 3 else ()))
    return Y


def _image_shape_of(model, ck=None):
    if ck is not None and ck.extra.get("image_shape"):
        return tuple(ck.extra["image_shape"])
    shape = tuple(getattr(model, "input_shape_", ()) or ())
    if len(shape) == 2:
        return (shape[0], shape[1], 1)
    if len(shape) == 3:
        return (shape[1], shape[2], shape[0]) if shape[0] in (1, 3) and shape[2] not in (1, 3) else shape
    from .images import infer_image_shape

    return infer_image_shape(int(getattr(model, "n_features_in_", np.prod(shape) if shape else 0)))


# ------------------------------------------------------------------------------------------ figures
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _mosaic(images, ncols, pad=1):
    """(N, H, W[, 3]) -> one (rows*(H+pad)-pad, cols*(W+pad)-pad[, 3]) image on a grey background."""
    images = np.clip(np.asarray(images, dtype=np.float32), 0, 1)
    n, h, w = images.shape[:3]
    rows = int(np.ceil(n / ncols))
    extra = images.shape[3:]
    out = np.full((rows * (h + pad) - pad, ncols * (w + pad) - pad) + extra, 0.5, np.float32)
    for i, im in enumerate(images):
        r, c = divmod(i, ncols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = im
    return out


def _show(ax, img, title=None, ink=False):
    ax.imshow(img, cmap=("gray_r" if ink else "gray") if img.ndim == 2 else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)


def _save_fig(fig, path):
    fig.savefig(path, dpi=110, bbox_inches="tight", facecolor="white")
    if not hasattr(fig, "canvas") or fig.canvas.manager is not None:
        _plt().close(fig)
    return path


def _fig_rows(rows, titles, path, suptitle, ncols=None, ink=False):
    """Aligned rows of images (originals / reconstructions, clean / noisy / denoised, samples).

    ``ink=True`` (the bitmap fonts, emojis, MNIST-like data: dark ink on paper) uses nnlite.plots'
    style; otherwise images are shown as photographs (grey or colour), one mosaic per row.
    """
    rows = [np.clip(np.asarray(r, dtype=np.float32), 0, 1) for r in rows]
    if ink and rows[0].ndim == 3:
        from . import plots

        n = len(rows[0])
        cell = 0.7 if max(rows[0].shape[1:]) < 20 else 0.9
        fig = plots.image_rows(rows, titles, title=suptitle, cell=cell, max_cols=ncols or 16)
        plots.save(fig, str(path))
        return path
    from matplotlib.figure import Figure

    n = len(rows[0])
    ncols = min(n, ncols or 16)
    h, w = rows[0].shape[1:3]
    blocks = int(np.ceil(n / ncols))
    cell = 0.9 if max(h, w) <= 64 else 2.2
    width = min(16.0, 1.0 + ncols * cell)
    row_h = blocks * (width - 1.0) / ncols * h / w
    fig = Figure(figsize=(width, 0.6 + len(rows) * (row_h + 0.35)))
    axes = np.atleast_1d(fig.subplots(len(rows), 1))
    for ax, row, title in zip(axes, rows, titles):
        _show(ax, _mosaic(row, ncols, pad=max(1, h // 14)), title)
    fig.suptitle(suptitle)
    fig.tight_layout()
    return _save_fig(fig, path)


def _fig_history(history, path, title):
    plt = _plt()
    preferred = [k for k in ("loss", "recon", "kl", "d_loss", "g_loss", "d_real", "d_fake") if k in history]
    keys = preferred or [k for k in history if k != "samples_per_s" and not k.startswith("val_")]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.4), squeeze=False)
    for ax, k in zip(axes[0], keys):
        v = np.asarray(history[k], dtype=float)
        if len(v) > 2 and v.min() > 0 and v.max() / v.min() > 100:
            ax.set_yscale("log")
        ep = np.arange(1, len(history[k]) + 1)
        ax.plot(ep, history[k], marker="o" if len(ep) < 30 else None, label="train")
        if f"val_{k}" in history:
            ax.plot(ep, history[f"val_{k}"], marker="o" if len(ep) < 30 else None, label="validation")
            ax.legend()
        ax.set_xlabel("epoch")
        ax.set_ylabel(k)
        ax.set_title({"loss": "loss (lower is better)", "recon": "reconstruction (BCE)", "kl": "KL divergence",
                      "d_loss": "discriminator loss", "g_loss": "generator loss",
                      "d_real": "D(real): mean probability", "d_fake": "D(fake): mean probability"}.get(k, k))
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return _save_fig(fig, path)


def _fig_scatter(Z, labels, names, path, title, xlabel="z[0]", ylabel="z[1]"):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    if labels is not None and len(np.unique(labels)) <= 10:
        for k in np.unique(labels):
            sel = labels == k
            ax.scatter(Z[sel, 0], Z[sel, 1], s=8, alpha=0.7,
                       label=names[k] if names is not None and k < len(names) else str(k))
        ax.legend(fontsize=8, markerscale=2, loc="best")
    else:
        ax.scatter(Z[:, 0], Z[:, 1], s=14, alpha=0.8)
        if names is not None and labels is not None and len(Z) <= 64:
            for (x, y), k in zip(Z[:, :2], labels):
                ax.annotate(str(names[k]), (x, y), fontsize=8, xytext=(2, 2), textcoords="offset points")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _save_fig(fig, path)


# ------------------------------------------------------------------------------------------ checkpoints
def _load_model(path):
    from .checkpoint import read_checkpoint, restore_model

    ck = read_checkpoint(path)
    model = restore_model(path, ck)
    return model, ck


def _encode_mean(model, X):
    Z = model.encode(X)
    return Z[0] if isinstance(Z, tuple) else Z


def _out_dir(args, default):
    out = Path(args.out if args.out else default)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _say(*parts):
    print(*parts, flush=True)


# ------------------------------------------------------------------------------------------ train
_TRAIN_EXAMPLES = """examples:
  nnlite train autoencoder --data font5x7 --latent-dim 2 --out runs/font-ae
  nnlite train dae --data fashion-mnist --noise gaussian --noise-level 0.5 --epochs 5 --hidden 512,128 --latent-dim 32
  nnlite train vae --data mnist --split test --latent-dim 20 --hidden 400 --epochs 20 --batch-size 128
  nnlite train vae --data ~/pictures/faces --size 32 --grey --epochs 30
  nnlite train dae --data fashion-mnist --epochs 20 --out runs/f --resume   # continue a killed run

The run folder gets checkpoint.npz (weights, optimizer, RNG states, history; resumable) with a readable
checkpoint.json beside it, history.json, history.csv and PNG figures. A killed run resumed with the same
command and --resume ends with bit-identical weights.
"""


def _add_train(sub):
    p = sub.add_parser("train", help="train a model on a data set; writes checkpoint, history and figures",
                       description="Train an autoencoder, denoising autoencoder, VAE (or a conv/GAN model when "
                                   "available) and write a resumable checkpoint, the history and figures.",
                       epilog=_TRAIN_EXAMPLES, formatter_class=_formatter())
    p.add_argument("model", help=f"one of: {', '.join(_available_models())}")
    p.add_argument("--data", required=True, metavar="DATASET",
                   help=f"{', '.join(_BUILTIN_DATA)}, or a folder of PNG/JPEG images")
    p.add_argument("--split", default="train", choices=("train", "test"),
                   help="which split of mnist/fashion-mnist/cifar10 (default train; only MNIST's test set may be "
                        "on your machine)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="use only the first N images")
    p.add_argument("--size", type=int, default=None, metavar="PX", help="image folders: resize/crop to PX x PX (32)")
    p.add_argument("--grey", action="store_true", help="convert colour images to grey")
    p.add_argument("--noise", default=None, help="dae: salt_and_pepper, bit_flip, gaussian or masking (default "
                                                 "salt_and_pepper)")
    p.add_argument("--noise-level", type=float, default=None, metavar="P",
                   help="dae: probability p in [0, 1], or sigma for gaussian (default 0.1)")
    p.add_argument("--epochs", type=int, default=None, help="epochs in total (default: the model's own choice)")
    p.add_argument("--latent-dim", type=int, default=None, metavar="M", help="size of the code (model default)")
    p.add_argument("--hidden", default=None, metavar="W1,W2", help="hidden layer widths, e.g. 512,128")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None, help="learning rate (model default)")
    p.add_argument("--seed", type=int, default=0, help="seed of everything random (default 0)")
    p.add_argument("--out", default=None, metavar="DIR", help="run folder (default runs/MODEL-DATASET)")
    p.add_argument("--resume", action="store_true",
                   help="continue from DIR/checkpoint.npz if it exists (same arguments as the first run)")
    p.add_argument("--checkpoint-every", type=int, default=1, metavar="EPOCHS", help="checkpoint period (default 1)")
    p.add_argument("--checkpoint-steps", type=int, default=None, metavar="STEPS",
                   help="also checkpoint every STEPS optimizer steps, inside epochs (long epochs); resume replays "
                        "the rest of the epoch exactly")
    p.add_argument("--threads", default="auto", metavar="N",
                   help="BLAS threads per matrix product: 'auto' (default: chosen from the shapes only, so "
                        "seeded runs repeat bit for bit), 'adaptive' (also 1 thread while the machine is busy; "
                        "faster on a shared machine, not bit-reproducible), 'max' or an int\n")
    p.set_defaults(func=_cmd_train)


def _model_kwargs(args, cls):
    import inspect

    accepted = inspect.signature(cls.__init__).parameters
    kw = {"random_state": args.seed}
    if args.latent_dim is not None:
        kw["latent_dim"] = args.latent_dim
    if args.hidden is not None:
        try:
            hidden = tuple(int(h) for h in args.hidden.split(",") if h.strip())
        except ValueError:
            raise UserError(f"--hidden must be comma-separated ints such as 512,128, got {args.hidden!r}") from None
        if "hidden" in accepted and cls.__init__.__defaults__ is not None and isinstance(
                inspect.signature(cls.__init__).parameters["hidden"].default, int):
            if len(hidden) != 1:
                raise UserError(f"{cls.__name__} has one hidden layer: give one width, e.g. --hidden 256")
            kw["hidden"] = hidden[0]
        elif "hidden" in accepted:
            kw["hidden"] = hidden
        else:  # GAN: both players
            kw["generator_hidden"], kw["discriminator_hidden"] = hidden[::-1], hidden
    if args.batch_size is not None:
        kw["batch_size"] = args.batch_size
    if args.lr is not None:
        kw["lr"] = args.lr
    if args.epochs is not None:
        kw["epochs"] = args.epochs
    if args.noise is not None or args.noise_level is not None:
        if "noise" not in accepted:
            raise UserError(f"--noise/--noise-level apply to denoising models (dae), not {args.model!r}")
        if args.noise is not None:
            kw["noise"] = args.noise
        if args.noise_level is not None:
            kw["noise_level"] = args.noise_level
    unknown = [k for k in kw if k not in accepted]
    if unknown:
        raise UserError(f"{cls.__name__} does not take {', '.join('--' + k.replace('_', '-') for k in unknown)}")
    return kw


def _cmd_train(args):
    from .checkpoint import CheckpointError, fit_resumable, read_checkpoint
    from .trainer import TrainingDivergedError

    cls, kind, preset = _model_class(args.model)
    if args.epochs is not None and args.epochs < 1:
        raise UserError(f"--epochs must be >= 1, got {args.epochs}")
    if args.checkpoint_every < 1:
        raise UserError(f"--checkpoint-every must be >= 1, got {args.checkpoint_every}")
    if args.checkpoint_steps is not None and args.checkpoint_steps < 1:
        raise UserError(f"--checkpoint-steps must be >= 1, got {args.checkpoint_steps}")
    if args.threads != "auto":
        from . import threads

        try:
            threads.set_policy(args.threads if args.threads in ("adaptive", "max") else int(args.threads))
        except ValueError:
            raise UserError(f"--threads must be 'auto', 'adaptive', 'max' or an int >= 1, got {args.threads!r}") from None
    model = cls(**preset, **_model_kwargs(args, cls))
    model._validate_params() if hasattr(model, "_validate_params") else None  # hyper-parameter errors first
    X, labels, names = _load_data(args.data, args.split, args.limit, args.size, args.grey, args.seed)
    image_shape = (X.shape[1], X.shape[2], X.shape[3] if X.ndim == 4 else 1)
    out = _out_dir(args, Path("runs") / f"{args.model}-{Path(args.data).name or 'data'}")
    ckpt = out / "checkpoint.npz"
    if ckpt.exists() and not args.resume:
        raise UserError(f"{ckpt} exists: pass --resume to continue that run, or choose another --out")
    if args.resume and not ckpt.exists():
        _say(f"note: {ckpt} does not exist yet; starting a fresh run")
    extra = {"data": args.data, "split": args.split, "limit": args.limit, "size": args.size, "grey": args.grey,
             "image_shape": list(image_shape), "kind": kind, "model": args.model}
    _say(f"training {cls.__name__} on {args.data}: {len(X)} images of {image_shape[0]}x{image_shape[1]}"
         f"{'x3' if image_shape[2] == 3 else ''}, seed {args.seed} -> {out}")
    Xin = _to_model_input(X, kind)
    from .callbacks import HistoryLogger

    import warnings

    try:
        with warnings.catch_warnings():  # overflow on the way to a NaN: the trainer's NaN guard reports it
            warnings.filterwarnings("ignore", category=RuntimeWarning, message=".*(overflow|invalid value)")
            model, resumed = fit_resumable(model, Xin, ckpt, resume=args.resume, epochs=args.epochs,
                                           every_epochs=args.checkpoint_every, every_steps=args.checkpoint_steps,
                                           extra=extra,
                                           callbacks=[HistoryLogger(out / "history")], verbose=1)
    except TrainingDivergedError as exc:
        kept = ""
        if ckpt.exists():
            try:
                kept = f"; the last good checkpoint is kept: {ckpt} (epoch {read_checkpoint(ckpt).epoch})"
            except CheckpointError:
                pass
        raise UserError(f"{exc}{kept}") from None
    if resumed is not None:
        _say(f"resumed from epoch {resumed} of {ckpt}")
    history = getattr(model, "history_", {})
    HistoryLogger(out / "history").write(history)
    written = [ckpt, out / "history.json", out / "history.csv"]
    written += _train_figures(model, cls, kind, X, labels, names, image_shape, out, args)
    if history.get("loss"):
        _say(f"final loss {history['loss'][-1]:.5g} after {len(history['loss'])} epochs")
    for p in written:
        _say(f"wrote {p}")
    return 0


_INK_DATA = ("font5x7", "emoji12", "mnist", "fashion-mnist")


def _is_ink(extra_or_name, image_shape):
    name = extra_or_name.get("data", "") if isinstance(extra_or_name, dict) else extra_or_name
    return str(name).lower().replace("_", "-") in _INK_DATA and image_shape[2] == 1


def _train_figures(model, cls, kind, X, labels, names, image_shape, out, args):
    title = f"{cls.__name__} on {args.data}"
    ink = _is_ink(args.data, image_shape)
    figs = []
    history = getattr(model, "history_", {})
    if history:
        figs.append(_fig_history(history, out / "history.png", f"{title}: training curves"))
    n = min(16, len(X))
    pick = np.linspace(0, len(X) - 1, n).astype(int)
    Xs = X[pick]
    Xin = _to_model_input(Xs, kind)
    if hasattr(model, "add_noise"):
        noisy = np.clip(model.add_noise(Xin, random_state=args.seed), 0, 1)
        den = model.reconstruct(noisy)
        figs.append(_fig_rows([Xs, _to_images(noisy, image_shape), _to_images(den, image_shape)],
                              ["clean", "noisy", "denoised"], out / "denoising.png",
                              f"{title}: clean / noisy ({model.noise} {model.noise_level}) / denoised", ink=ink))
    elif hasattr(model, "reconstruct"):
        rec = model.reconstruct(Xin)
        figs.append(_fig_rows([Xs, _to_images(rec, image_shape)], ["original", "reconstruction"],
                              out / "reconstructions.png", f"{title}: originals and reconstructions", ink=ink))
    if hasattr(model, "sample"):
        S = _to_images(model.sample(64, random_state=args.seed), image_shape)
        figs.append(_fig_rows([S[:32], S[32:]], ["samples", "samples"], out / "samples.png",
                              f"{title}: 64 new samples from z ~ N(0, I)", ncols=16, ink=ink))
    if hasattr(model, "encode") and getattr(model, "latent_dim", 0) == 2:
        Z = _encode_mean(model, _to_model_input(X[:5000], kind))
        figs.append(_fig_scatter(Z, None if labels is None else labels[:5000], names, out / "latent.png",
                                 f"{title}: 2-D latent codes"))
    return figs


# ------------------------------------------------------------------------------------------ denoise
_DENOISE_EXAMPLES = """examples:
  nnlite denoise runs/dae/checkpoint.npz scan.png --out clean/
  nnlite denoise runs/dae/checkpoint.npz photos/ --noise gaussian --noise-level 0.3   # add noise, then remove it

MLP models work on tiles of the size they were trained on (28x28 for MNIST) laid over the whole image
with overlap (--stride), colour images channel by channel for grey models; convolutional models run on
the whole image. Each input gets <name>_denoised.png and a side-by-side <name>_compare.png.
"""


def _add_denoise(sub):
    p = sub.add_parser("denoise", help="denoise your own PNG/JPEG files with a trained model",
                       description="Denoise image files (any size) with a trained (denoising) autoencoder.",
                       epilog=_DENOISE_EXAMPLES, formatter_class=_formatter())
    p.add_argument("checkpoint", help="checkpoint.npz written by 'nnlite train'")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders of images")
    p.add_argument("--noise", default=None, help="first corrupt the images with this noise (to see the model at "
                                                 "work on clean pictures): salt_and_pepper, bit_flip, gaussian, masking")
    p.add_argument("--noise-level", type=float, default=0.1, metavar="P", help="level of --noise (default 0.1)")
    p.add_argument("--stride", type=int, default=None, metavar="PX",
                   help="step between tiles for MLP models (default half a tile: overlapping tiles are averaged)")
    p.add_argument("--invert", default="auto", choices=("auto", "yes", "no"),
                   help="models trained on light-ink-on-dark data (MNIST, the font: ink = 1) see dark-on-light "
                        "scans inverted; auto inverts such images (mostly light) for such models (default auto)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default: denoised/)")
    p.set_defaults(func=_cmd_denoise)


def _per_channel(fn, img, c):
    """Apply an image -> image function made for ``c`` channels to a grey or colour image."""
    if img.ndim == 3 and c == 1:
        return np.stack([np.asarray(fn(img[..., k])) for k in range(img.shape[2])], axis=-1)
    if img.ndim == 2 and c == 3:
        return np.asarray(fn(np.repeat(img[..., None], 3, axis=2))).mean(axis=2)
    return np.asarray(fn(img))


def _cmd_denoise(args):
    import inspect

    from .images import apply_tiled, list_images, read_image, write_image
    from .metrics import psnr
    from .noise import get_noise
    from .random import as_generator

    model, ck = _load_model(args.checkpoint)
    if not hasattr(model, "reconstruct"):
        raise UserError(f"{type(model).__name__} cannot reconstruct images; use an autoencoder, dae or vae checkpoint")
    kind = ck.extra.get("kind", "mlp")
    h, w, c = _image_shape_of(model, ck)
    files = list_images(args.images)
    noise_fn = get_noise(args.noise) if args.noise else None
    rng = as_generator(args.seed)
    out = _out_dir(args, "denoised")
    for i, f in enumerate(files, 1):
        notes = []
        img = read_image(f, mode=None, notes=notes)
        for note in notes:
            _say(f"note: {note}")
        invert = args.invert == "yes" or (args.invert == "auto" and _is_ink(ck.extra, (h, w, c))
                                          and float(img.mean()) > 0.5)
        if invert:
            if args.invert == "auto":
                _say(f"note: {f}: mostly light image and a model trained on ink = 1 ({ck.extra.get('data')}): "
                     "inverted before denoising and back after (--invert no to prevent)")
            img = 1.0 - img
        clean = None
        if noise_fn is not None:
            clean = img
            img = np.clip(noise_fn(img, args.noise_level, rng), 0, 1).astype(np.float32)
        any_size = "tile" in inspect.signature(getattr(model, "denoise", lambda x: x)).parameters
        if any_size:  # a fully convolutional denoiser: the whole image at once (in blocks if large)
            result = _per_channel(lambda im: model.denoise(im), img, c)
        else:
            stride = args.stride if args.stride else (max(1, h // 2), max(1, w // 2))
            if img.shape[0] < h or img.shape[1] < w:
                _say(f"note: {f}: {img.shape[1]}x{img.shape[0]} is smaller than the model's {w}x{h} tiles; "
                     "padded by reflection")
            tile_shape = (h, w) if c == 1 else (h, w, c)

            def fn(flat, tile_shape=tile_shape):  # flat (n, h*w*c) tiles, channels last
                return np.asarray(model.reconstruct(flat.reshape((len(flat),) + tile_shape))).reshape(len(flat), -1)

            result = apply_tiled(fn, img, (h, w), channels=c, stride=stride)
        if invert:
            img, result = 1.0 - img, 1.0 - np.asarray(result)
            clean = None if clean is None else 1.0 - clean
        stem = f.stem
        den_path = write_image(out / f"{stem}_denoised.png", result)
        panels = ([("clean", clean)] if clean is not None else []) + [("noisy" if clean is not None else "input", img),
                                                                        ("denoised", result)]
        plt = _plt()
        fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.6))
        for ax, (title, im) in zip(np.atleast_1d(axes), panels):
            if clean is not None and title != "clean":
                title += f"  PSNR {psnr(clean, np.clip(im, 0, 1)):.1f} dB"
            _show(ax, im, title)
        how = "whole image" if any_size else f"tiles of {h}x{w}"
        fig.suptitle(f"{f.name}: {type(model).__name__} ({how})")
        cmp_path = _save_fig(fig, out / f"{stem}_compare.png")
        _say(f"[{i}/{len(files)}] {f} -> {den_path}, {cmp_path}")
    return 0


# ------------------------------------------------------------------------------------------ sample
_SAMPLE_EXAMPLES = """examples:
  nnlite sample runs/vae/checkpoint.npz -n 64 --out samples/
  nnlite sample runs/vae/checkpoint.npz -n 16 --seed 3
"""


def _add_sample(sub):
    p = sub.add_parser("sample", help="draw new images from a generative model (vae, gan)",
                       description="Decode codes drawn from the prior N(0, I) of a VAE (or a GAN's generator).",
                       epilog=_SAMPLE_EXAMPLES, formatter_class=_formatter())
    p.add_argument("checkpoint")
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default: the checkpoint's folder)")
    p.set_defaults(func=_cmd_sample)


def _cmd_sample(args):
    if args.n < 1:
        raise UserError(f"-n must be >= 1, got {args.n}")
    model, ck = _load_model(args.checkpoint)
    if not hasattr(model, "sample"):
        raise UserError(f"{type(model).__name__} is not a generative model (no prior to sample from); "
                        "train a vae (or gan) for 'nnlite sample'")
    S = _to_images(model.sample(args.n, random_state=args.seed), _image_shape_of(model, ck))
    out = _out_dir(args, Path(args.checkpoint).parent)
    ncols = int(np.ceil(np.sqrt(args.n)))
    shape = _image_shape_of(model, ck)
    path = _fig_rows([S], [""], out / "samples.png",
                     f"{type(model).__name__}: {args.n} new samples from z ~ N(0, I) (seed {args.seed})",
                     ncols=ncols, ink=_is_ink(ck.extra, shape))
    np.save(out / "samples.npy", S)
    _say(f"wrote {path}")
    _say(f"wrote {out / 'samples.npy'}")
    return 0


# ------------------------------------------------------------------------------------------ interpolate
_INTERP_EXAMPLES = """examples:
  nnlite interpolate runs/vae/checkpoint.npz 0 7            # images 0 and 7 of the training data
  nnlite interpolate runs/font/checkpoint.npz a.png b.png --steps 12

A and B are image files (resized to the model's input size) or indices into the data set the model
was trained on. The codes are interpolated linearly and decoded.
"""


def _add_interpolate(sub):
    p = sub.add_parser("interpolate", help="walk the latent space between two images",
                       description="Encode two images, interpolate their codes linearly and decode the path.",
                       epilog=_INTERP_EXAMPLES, formatter_class=_formatter())
    p.add_argument("checkpoint")
    p.add_argument("a", metavar="A", help="image file or index into the training data")
    p.add_argument("b", metavar="B", help="image file or index into the training data")
    p.add_argument("--steps", type=int, default=10, help="images along the path, ends included (default 10)")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default: the checkpoint's folder)")
    p.set_defaults(func=_cmd_interpolate)


def _endpoint(spec, model, ck, image_shape, cache):
    from PIL import Image

    from .images import read_image

    h, w, c = image_shape
    if spec.lstrip("-").isdigit():
        if "X" not in cache:
            e = ck.extra
            if not e.get("data"):
                raise UserError("this checkpoint does not record its data set; give image files instead of indices")
            cache["X"] = _load_data(e["data"], e.get("split", "train"), e.get("limit"), e.get("size"),
                                    e.get("grey", False))[0]
        X = cache["X"]
        i = int(spec)
        if not 0 <= i < len(X):
            raise UserError(f"index {i} is out of range: the data set {ck.extra['data']} has {len(X)} images (0..{len(X) - 1})")
        return X[i]
    notes = []
    img = read_image(spec, mode="L" if c == 1 else "RGB", notes=notes)
    for note in notes:
        _say(f"note: {note}")
    if img.shape[:2] != (h, w):
        _say(f"note: {spec}: resized from {img.shape[1]}x{img.shape[0]} to the model's {w}x{h}")
        chans = [img] if img.ndim == 2 else [img[..., k] for k in range(3)]
        res = [np.asarray(Image.fromarray(ch, mode="F").resize((w, h), Image.Resampling.BICUBIC)) for ch in chans]
        img = np.clip(res[0] if img.ndim == 2 else np.stack(res, -1), 0, 1)
    return img


def _cmd_interpolate(args):
    if args.steps < 2:
        raise UserError(f"--steps must be >= 2, got {args.steps}")
    model, ck = _load_model(args.checkpoint)
    if not (hasattr(model, "encode") and hasattr(model, "decode")):
        raise UserError(f"{type(model).__name__} has no encoder/decoder to interpolate with")
    shape = _image_shape_of(model, ck)
    kind = ck.extra.get("kind", "mlp")
    cache = {}
    A, B = (_endpoint(s, model, ck, shape, cache) for s in (args.a, args.b))
    za, zb = (_encode_mean(model, _to_model_input(im[None], kind)) for im in (A, B))
    t = np.linspace(0, 1, args.steps, dtype=np.float32)[:, None]
    Z = (1 - t) * za + t * zb
    path_imgs = _to_images(model.decode(Z.astype(za.dtype)), shape)
    out = _out_dir(args, Path(args.checkpoint).parent)
    plt = _plt()
    fig, axes = plt.subplots(1, args.steps + 2, figsize=(1.2 * (args.steps + 2), 1.9))
    ink = _is_ink(ck.extra, shape)
    _show(axes[0], A, "A", ink)
    _show(axes[-1], B, "B", ink)
    for k in range(args.steps):
        _show(axes[k + 1], path_imgs[k], f"t={t[k, 0]:.2f}", ink)
    fig.suptitle(f"{type(model).__name__}: decoded path from code(A) to code(B)")
    path = _save_fig(fig, out / "interpolation.png")
    _say(f"wrote {path}")
    return 0


# ------------------------------------------------------------------------------------------ latent
_LATENT_EXAMPLES = """examples:
  nnlite latent runs/font-ae/checkpoint.npz --data font5x7
  nnlite latent runs/vae20/checkpoint.npz --data fashion-mnist --split test --limit 5000 --method pca
  nnlite latent runs/vae20/checkpoint.npz --data mnist --split test --method tsne   # needs scikit-learn

2-D codes are plotted as they are; larger codes are projected by PCA (NumPy SVD) or t-SNE
(scikit-learn, pip install nnlite[tsne]). Points are coloured by class when the data set has labels.
"""


def _add_latent(sub):
    p = sub.add_parser("latent", help="plot the latent codes of a data set (2-D, PCA or t-SNE)",
                       description="Encode a data set and plot its codes in 2-D.",
                       epilog=_LATENT_EXAMPLES, formatter_class=_formatter())
    p.add_argument("checkpoint")
    p.add_argument("--data", default=None, metavar="DATASET", help="data set (default: the one the model was trained on)")
    p.add_argument("--split", default=None, choices=("train", "test"))
    p.add_argument("--limit", type=int, default=5000, metavar="N", help="encode at most N images (default 5000)")
    p.add_argument("--method", default="auto", choices=("auto", "pca", "tsne"),
                   help="projection of codes larger than 2-D (auto: as is for 2-D, else PCA)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default: the checkpoint's folder)")
    p.set_defaults(func=_cmd_latent)


def _cmd_latent(args):
    model, ck = _load_model(args.checkpoint)
    if not hasattr(model, "encode"):
        raise UserError(f"{type(model).__name__} has no encoder")
    e = ck.extra
    data = args.data or e.get("data")
    if not data:
        raise UserError("give --data: this checkpoint does not record the data set it was trained on")
    split = args.split or (e.get("split", "train") if data == e.get("data") else "train")
    X, labels, names = _load_data(data, split, args.limit, e.get("size"), e.get("grey", False))
    Z = _encode_mean(model, _to_model_input(X, e.get("kind", "mlp")))
    m = Z.shape[1]
    method = args.method if args.method != "auto" else ("none" if m <= 2 else "pca")
    if m == 1:
        Z, xl, yl, how = np.c_[Z, np.zeros(len(Z))], "z[0]", "", "1-D codes"
    elif method == "none" or (m == 2 and method == "pca"):
        xl, yl, how = "z[0]", "z[1]", "2-D codes"
    elif method == "pca":
        C = Z - Z.mean(axis=0)
        _, s, Vt = np.linalg.svd(C, full_matrices=False)
        var = s ** 2 / max((s ** 2).sum(), 1e-30)
        Z = C @ Vt[:2].T
        xl, yl = f"PC1 ({var[0]:.0%} of variance)", f"PC2 ({var[1]:.0%} of variance)"
        how = f"PCA of {m}-D codes"
    else:
        try:
            from sklearn.manifold import TSNE
        except ImportError:
            raise UserError("t-SNE needs scikit-learn, which is not installed: pip install 'nnlite[tsne]' "
                            "(or use --method pca)") from None
        Z = TSNE(n_components=2, random_state=args.seed, init="pca").fit_transform(Z)
        xl, yl, how = "t-SNE 1", "t-SNE 2", f"t-SNE of {m}-D codes"
    out = _out_dir(args, Path(args.checkpoint).parent)
    path = _fig_scatter(Z, labels, names, out / f"latent_{method if m > 2 else '2d'}.png",
                        f"{type(model).__name__} on {data} ({split}, {len(X)} images): {how}", xl, yl)
    np.savez(out / "latent_codes.npz", codes=Z, labels=labels if labels is not None else np.zeros(0))
    _say(f"wrote {path}")
    return 0


# ------------------------------------------------------------------------------------------ gradcheck
def _add_gradcheck(sub):
    p = sub.add_parser("gradcheck", help="check every layer's backward against central differences",
                       description="Gradient-check every layer, loss and model of nnlite in float64 and print a "
                                   "table of relative errors max|a-b|/max(1e-8,|a|+|b|) (CS231n). Inputs are kept "
                                   "away from kinks (ReLU at 0). A teaching tool: read nnlite/gradcheck.py.",
                       epilog="examples:\n  nnlite gradcheck\n  nnlite gradcheck --only linear,tanh -v",
                       formatter_class=_formatter())
    p.add_argument("--only", default=None, metavar="NAMES", help="comma-separated names (substring match)")
    p.add_argument("-v", "--verbose", action="store_true", help="print every tensor's error, not one line per check")
    p.add_argument("--tol", type=float, default=1e-7, help="pass threshold on the relative error (default 1e-7)")
    p.set_defaults(func=_cmd_gradcheck)


def _gradcheck_cases():
    """(name, callable returning GradcheckResult) for every layer, loss and model that exists."""
    import types

    from . import layers as L, losses
    from .gradcheck import gradcheck as _gradcheck

    gc = types.SimpleNamespace(gradcheck=_gradcheck)

    rng = np.random.default_rng(0)

    def away(shape, margin=0.05):
        x = rng.standard_normal(shape)
        return np.where(np.abs(x) < margin, np.sign(x + 1e-12) * (margin + np.abs(x)), x)

    cases = [("Linear(5, 4)", lambda: gc.gradcheck(L.Linear(5, 4, random_state=0), away((3, 5))))]
    for name in ("ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Softplus", "Softmax", "Identity"):
        if hasattr(L, name):
            cases.append((name, lambda n=name: gc.gradcheck(getattr(L, n)(), away((3, 6)))))
    cases.append(("Dropout(0.3)", lambda: gc.gradcheck(L.Dropout(0.3, random_state=0), away((4, 5)))))
    cases.append(("Flatten", lambda: gc.gradcheck(L.Flatten(), away((2, 3, 4)))))
    cases.append(("Sequential MLP 6-8-3", lambda: gc.gradcheck(L.Sequential(
        L.Linear(6, 8, random_state=1), L.Tanh(), L.Linear(8, 3, random_state=2)), away((4, 6)))))
    import nnlite

    for cname, shape in (("Conv2d", (2, 2, 7, 7)), ("ConvTranspose2d", (2, 2, 4, 4))):
        cls = getattr(nnlite, cname, None)
        if cls is not None:
            cases.append((f"{cname}(2, 3, 3, stride=2, padding=1)", lambda c=cls, s=shape: gc.gradcheck(
                c(2, 3, 3, stride=2, padding=1, random_state=0), away(s))))
    for lname, make in (("MSELoss", lambda: (losses.MSELoss(), away((4, 3)), away((4, 3)))),
                        ("L1Loss", lambda: (losses.L1Loss(), away((4, 3)), away((4, 3)) + 3)),
                        ("BCELoss", lambda: (losses.BCELoss(), rng.uniform(0.1, 0.9, (4, 3)), rng.uniform(0, 1, (4, 3)))),
                        ("BCEWithLogitsLoss", lambda: (losses.BCEWithLogitsLoss(), away((4, 3)), rng.uniform(0, 1, (4, 3)))),
                        ("CrossEntropyLoss", lambda: (losses.CrossEntropyLoss(), away((4, 5)), rng.integers(0, 5, 4)))):
        cases.append((lname, lambda mk=make: gc.gradcheck(*mk())))
    try:
        import nnlite.models as models
    except ImportError:  # pragma: no cover
        models = None
    # Whole models: a deeper composition has smaller gradients, so round-off needs a larger step (1e-5).
    X = rng.uniform(0.05, 0.95, (6, 7))
    for mname in ("Autoencoder", "VAE"):
        if models is not None and hasattr(models, mname):
            def run(mname=mname):
                m = getattr(models, mname)(epochs=2, random_state=0, dtype=np.float64, activation="tanh",
                                           hidden=(5,), latent_dim=3).fit(X)
                return gc.gradcheck(m, X[:4], eps=1e-5)
            cases.append((f"{mname} 7-5-3-5-7, tanh (eps 1e-5)", run))
    return cases


def _cmd_gradcheck(args):
    cases = _gradcheck_cases()
    if args.only:
        wanted = [w.strip().lower() for w in args.only.split(",") if w.strip()]
        cases = [c for c in cases if any(w in c[0].lower() for w in wanted)]
        if not cases:
            raise UserError(f"--only {args.only!r} matches nothing; names: "
                            f"{', '.join(n for n, _ in _gradcheck_cases())}")
    _say(f"{'check':<46} {'tensors':>7}  {'max rel. error':>14}  {'worst tensor':<20} result")
    failed = 0
    for name, run in cases:
        try:
            r = run()
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            failed += 1
            _say(f"{name:<46} {'-':>7}  {'-':>14}  {type(exc).__name__ + ': ' + str(exc)[:60]:<24} ERROR")
            continue
        r.tol = args.tol
        ok = r.passed
        failed += not ok
        worst, _ = r.worst
        _say(f"{name:<46} {len(r.errors):>7}  {r.max_rel_error:>14.2e}  {worst:<20} {'ok' if ok else 'FAILED'}")
        if args.verbose:
            for line in str(r).splitlines():
                _say("    " + line)
    _say(f"{len(cases) - failed} of {len(cases)} passed (tolerance {args.tol:g}, float64, central differences)")
    return 0 if failed == 0 else 1


# ------------------------------------------------------------------------------------------ bench
def _add_bench(sub):
    p = sub.add_parser("bench", help="run the kernel benchmarks (python -m benchmarks)",
                       description="Run the benchmarks in the project's benchmarks/ package and print their tables. "
                                   "Extra arguments are passed on.",
                       epilog="examples:\n  nnlite bench --quick\n  nnlite bench --what kernels\n"
                              "  nnlite bench -- --help      # the benchmarks' own options",
                       formatter_class=_formatter())
    p.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for python -m benchmarks")
    p.set_defaults(func=_cmd_bench)


def _cmd_bench(args):
    import importlib.util
    import subprocess

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    spec = None
    try:
        spec = importlib.util.find_spec("benchmarks.__main__")
    except (ImportError, ValueError):
        spec = None
    if spec is None and not (root / "benchmarks" / "__main__.py").exists():
        raise UserError("no benchmarks found: 'python -m benchmarks' needs the project's benchmarks/ folder "
                        "(run from a source checkout)")
    rest = [a for a in args.rest if a != "--"]
    return subprocess.call([sys.executable, "-m", "benchmarks", *rest], env=env, cwd=str(root))


#: Functions that register a subcommand; append to this list to add one.
COMMANDS = [_add_demo, _add_train, _add_denoise, _add_sample, _add_interpolate, _add_latent, _add_gradcheck,
            _add_bench]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnlite", description="nnlite: from-scratch neural networks on NumPy.",
                                     epilog="Run 'nnlite <command> --help' for a command's options and examples. "
                                            "Exit codes: 0 ok, 1 error, 2 usage.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    sub.required = True
    for add in COMMANDS:
        add(sub)
    for command in sub.choices.values():  # --debug also after the command name
        if "--debug" not in command._option_string_actions:
            command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                                 help="show the full traceback on errors")
    return parser


def _expected_errors():
    """Exceptions that are the user's to fix: printed as one line (exit 1) unless --debug."""
    from .checkpoint import CheckpointError
    from .images import ImageError
    from .trainer import TrainingDivergedError

    errors = [UserError, CheckpointError, ImageError, TrainingDivergedError, ValueError, TypeError, OSError]
    try:
        from .data import DatasetError
        errors.append(DatasetError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


def main(argv=None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        if getattr(args, "command", None) == "bench":  # options of python -m benchmarks pass through
            args.rest = list(args.rest) + unknown
        else:
            parser.parse_args(argv)  # prints the usage error and exits with status 2
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("nnlite: interrupted", file=sys.stderr)
        return 130
    except _expected_errors() as exc:
        if args.debug:
            raise
        msg = str(exc).strip() or type(exc).__name__
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in msg:
            msg = f"{exc.filename}: {msg}"
        print(f"nnlite {args.command}: error: {' '.join(msg.split())}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a bug: still one line, with the way to the traceback
        if args.debug:
            raise
        print(f"nnlite {args.command}: internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
              "(run again with --debug for the traceback, and please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
