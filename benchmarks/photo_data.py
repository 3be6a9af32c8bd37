"""The photographs the shipped photo denoiser is trained and measured on, in one place.

The photos are the two folders of ``$NNLITE_DATA`` (``photos/``: scikit-image's sample images;
``photos-nature/``: 12 nature photographs from Debian's ``mate-backgrounds``). Every photo is read as
float32 in [0, 1] and, when its long side exceeds :data:`MAX_SIDE`, shrunk by the smallest integer
factor that brings it under (a box filter: each output pixel is the mean of ``f x f`` input pixels).
That keeps the held-out evaluation affordable on 2 cores and averages away most of the JPEG blocking
of the nature photos, which a denoiser would otherwise learn as "clean" texture.

The split:

* :data:`HELD_OUT` -- never seen in training: two scikit-image photos (chelsea the cat, a retina) and
  two of the best-preserved nature photos (Dune, RainDrops, about 0.55 bytes per pixel of JPEG).
* :data:`TRAIN_RGB` -- the other colour photos, except :data:`EXCLUDED`.
* :data:`TRAIN_GREY` -- the grey versions of :data:`TRAIN_RGB` plus the three grey photos.
* :data:`EXCLUDED` -- two nature photos so strongly compressed (0.04-0.05 bytes per pixel) that their
  8x8 JPEG blocks survive the 2x shrink; trained on, they would teach blocking as image content.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

#: Long side, in pixels, above which a photo is shrunk by an integer factor.
MAX_SIDE = 1280

#: Photos of both kinds never used in training: name -> folder.
HELD_OUT = {"chelsea.png": "photos", "retina.jpg": "photos", "Dune.jpg": "photos-nature",
            "RainDrops.jpg": "photos-nature"}
#: Colour training photos: name -> folder.
TRAIN_RGB = {"astronaut.png": "photos", "coffee.png": "photos", "hubble_deep_field.jpg": "photos",
             "ihc.png": "photos", **{name: "photos-nature" for name in (
                 "Blinds.jpg", "Garden.jpg", "GreenMeadow.jpg", "LadyBird.jpg", "Storm.jpg", "TwoWings.jpg",
                 "Wood.jpg", "YellowFlower.jpg")}}
#: Grey-only photos (also trained on by the grey model, with the grey versions of TRAIN_RGB).
GREY_ONLY = {"camera.png": "photos", "moon.png": "photos", "coins.png": "photos"}
TRAIN_GREY = {**TRAIN_RGB, **GREY_ONLY}
#: Photos left out of training, and why.
EXCLUDED = {"Aqua.jpg": "JPEG at 0.05 bytes per pixel: visible 8x8 blocks",
            "FreshFlower.jpg": "JPEG at 0.04 bytes per pixel: visible 8x8 blocks"}


def data_root() -> Path | None:
    """``$NNLITE_DATA`` when it holds both photo folders, else ``None``."""
    root = os.environ.get("NNLITE_DATA")
    if not root:
        return None
    root = Path(root).expanduser()
    return root if all((root / d).is_dir() for d in ("photos", "photos-nature")) else None


def require_root() -> Path:
    """:func:`data_root`, or a ``SystemExit`` that says what to set."""
    root = data_root()
    if root is None:
        raise SystemExit("photos/ and photos-nature/ not found: set NNLITE_DATA to the data folder "
                         f"(NNLITE_DATA={os.environ.get('NNLITE_DATA')!r})")
    return root


def shrink(image: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """``image`` (H, W[, C]) shrunk by the smallest integer factor ``f`` with ``max(H, W) / f <= max_side``
    (box filter; rows and columns beyond a multiple of ``f`` are dropped)."""
    f = max(1, math.ceil(max(image.shape[:2]) / max_side))
    if f == 1:
        return image
    H, W = (image.shape[0] // f) * f, (image.shape[1] // f) * f
    blocks = image[:H, :W].reshape(H // f, f, W // f, f, *image.shape[2:])
    return blocks.mean(axis=(1, 3), dtype=np.float64).astype(np.float32)


def load_photo(name: str, folder: str, grey: bool = False, root: Path | None = None) -> np.ndarray:
    """One photo, float32 in [0, 1]: ``(H, W)`` grey or ``(H, W, 3)``, shrunk as the module says."""
    from nnlite.images import read_image

    root = require_root() if root is None else root
    return shrink(read_image(root / folder / name, mode="L" if grey else "RGB"))


def load_set(photos: dict, grey: bool = False, root: Path | None = None) -> dict:
    """``{name: image}`` for a dict of ``name -> folder`` such as :data:`TRAIN_RGB`."""
    return {name: load_photo(name, folder, grey, root) for name, folder in photos.items()}
