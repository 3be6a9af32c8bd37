"""What every command shares: the user's errors, argument types, model names, checkpoints, figures."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


class UserError(Exception):
    """A problem the user can fix: printed as one line, exit code 1."""


def formatter():
    return argparse.RawDescriptionHelpFormatter


def say(*parts):
    print(*parts, flush=True)


def warn(message):
    """A line on stderr for a problem that does not stop the command (a skipped file)."""
    import sys

    print(f"nnlite: warning: {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ argument types
def int_at_least(low: int):
    """An argparse type: an int >= ``low`` (argparse names the argument and exits with status 2)."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an int >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an int >= {low}, got {value}")
        return value

    parse.__name__ = f"int >= {low}"
    return parse


positive_int = int_at_least(1)


def float_in(low: float, high: float = float("inf"), low_open: bool = False):
    """An argparse type: a finite float in ``[low, high]`` (``(low, high]`` with ``low_open``)."""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        below = value <= low if low_open else value < low
        if not np.isfinite(value) or below or value > high:
            where = f"{'>' if low_open else '>='} {low:g}" + (f" and <= {high:g}" if np.isfinite(high) else "")
            raise argparse.ArgumentTypeError(f"must be a finite number {where}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


positive_float = float_in(0.0, low_open=True)


def noise_level(text):
    """An argparse type: a noise level ``P`` (a finite number >= 0) or a range ``LOW:HIGH`` (a tuple)."""
    one = float_in(0.0)
    if ":" not in text:
        return one(text)
    low, _, high = text.partition(":")
    try:
        pair = (one(low), one(high))
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"a range LOW:HIGH needs two numbers >= 0, got {text!r} ({exc})") from None
    if pair[0] > pair[1]:
        raise argparse.ArgumentTypeError(f"a range LOW:HIGH needs LOW <= HIGH, got {text!r}")
    return pair


noise_level.__name__ = "noise level"


# ------------------------------------------------------------------------------------------ models
#: CLI name -> (class name in nnlite.models, kind, preset arguments). kind 'mlp': the model takes images
#: (N, H, W[, C]) and flattens them; 'conv': it takes (N, C, H, W). Names whose class is missing from
#: nnlite.models are not offered.
MODEL_NAMES = {
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


def available_models() -> dict:
    import nnlite.models as models

    return {name: spec for name, spec in MODEL_NAMES.items() if hasattr(models, spec[0])}


def model_class(name: str):
    """``(class, kind, preset arguments)`` of a CLI model name."""
    import nnlite.models as models

    avail = available_models()
    if name not in avail:
        raise UserError(f"unknown model {name!r}; available: {', '.join(avail)}")
    cls, kind, preset = avail[name]
    return getattr(models, cls), kind, dict(preset)


def load_model(path):
    """``(model, checkpoint)`` from a checkpoint written by ``nnlite train``."""
    from ..checkpoint import read_checkpoint
    from ..models.persistence import restore_model

    ck = read_checkpoint(path)
    return restore_model(path, ck), ck


def load_data(name, split="train", limit=None, size=None, grey=False):
    from ..data import load_dataset

    return load_dataset(name, split=split, limit=limit, size=size, grey=grey)


def encode_mean(model, X):
    """The code of ``X``: the mean of a VAE's posterior, or an autoencoder's code."""
    Z = model.encode(X)
    return Z[0] if isinstance(Z, tuple) else Z


def out_dir(args, default) -> Path:
    out = Path(args.out if args.out else default)
    out.mkdir(parents=True, exist_ok=True)
    return out


def free_path(path: Path, overwrite: bool) -> Path:
    """``path`` if it may be written: it does not exist yet, or ``overwrite`` is set."""
    if path.exists() and not overwrite:
        raise UserError(f"{path} exists: pass --overwrite to replace it, or choose another --out")
    return path


# ------------------------------------------------------------------------------------------ image layout
def to_model_input(X, kind):
    """MLP models take images (N, H, W[, C]) as they are (they flatten them); conv models take NCHW.

    The CLI's images are always ``(N, H, W)`` or channels last ``(N, H, W, C)``, so the conversion is
    stated, not guessed from the sizes (patches 3 or 4 pixels a side look like channels).
    """
    X = np.asarray(X)
    if kind != "conv":
        return X
    return np.ascontiguousarray(X[:, None] if X.ndim == 3 else X.transpose(0, 3, 1, 2))  # (N, C, H, W)


def to_images(Y, image_shape, kind="mlp"):
    """Model outputs back to displayable (N, H, W) or (N, H, W, 3): a conv model's outputs are NCHW, an MLP
    model's flat or channels last."""
    Y = np.asarray(Y)
    h, w, c = image_shape
    if kind == "conv" and Y.ndim == 4 and (Y.shape[1:] == (c, h, w) or Y.shape[1:] != (h, w, c)):
        Y = Y.transpose(0, 2, 3, 1)                                  # (N, C, H, W) -> (N, H, W, C)
    return Y.reshape((len(Y), h, w) + ((c,) if c == 3 else ()))


def image_shape_of(model, ck=None):
    """``(height, width, channels)`` of the images a model was trained on (as its run recorded them)."""
    from ..images import model_image_shape

    return model_image_shape(model, None if ck is None else ck.extra.get("image_shape"))


def is_ink(extra_or_name, image_shape) -> bool:
    """Whether a run's images are drawn as dark ink on paper: a grey data set of the ink kind."""
    from ..data import DATASETS

    name = extra_or_name.get("data", "") if isinstance(extra_or_name, dict) else extra_or_name
    entry = DATASETS.get(str(name).lower().replace("_", "-"))
    return entry is not None and entry[1] and image_shape[2] == 1


# ------------------------------------------------------------------------------------------ figures
#: Inches per image in the ink figures: the tiny bitmaps, and larger images such as MNIST.
INK_CELL_SMALL, INK_CELL = 0.7, 0.9
#: Images smaller than this (in pixels, either side) get the small cell.
SMALL_IMAGE = 20


def save_figure(fig, path) -> Path:
    from .. import plots

    plots.save(fig, str(path))
    return Path(path)


def figure_rows(rows, titles, path, title, ncols=None, ink=False) -> Path:
    """Aligned rows of images (originals / reconstructions, clean / noisy / denoised, samples): as ink on
    paper (:func:`nnlite.plots.image_rows`) or as photographs (:func:`nnlite.plots.photo_rows`)."""
    from .. import plots

    rows = [np.clip(np.asarray(r, dtype=np.float32), 0, 1) for r in rows]
    if ink and rows[0].ndim == 3:
        cell = INK_CELL_SMALL if max(rows[0].shape[1:]) < SMALL_IMAGE else INK_CELL
        fig = plots.image_rows(rows, titles, title=title, cell=cell, max_cols=ncols or 16)
    else:
        fig = plots.photo_rows(rows, titles, title=title, max_cols=ncols or 16)
    return save_figure(fig, path)
