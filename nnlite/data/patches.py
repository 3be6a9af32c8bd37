"""Training patches from whole photos of any sizes: random crops with the 8 flips and rotations.

A photo of ``H x W`` pixels holds ``(H - s + 1) * (W - s + 1)`` positions for an ``s x s`` patch.
:func:`sample_patches` picks each patch's photo with probability proportional to that count, then a
uniform position in it, so every position of every photo is equally likely: a big photo gives more
patches than a small one, in proportion to its area. With ``augment`` each patch is then one of the 8
symmetries of the square (4 rotations by 90 degrees, each with or without a left-right flip), the
augmentation DnCNN trains with.

>>> photos = [read_image("a.jpg"), read_image("b.png")]              # (H, W, 3), sizes differ  # doctest: +SKIP
>>> P = sample_patches(photos, 48, 20000, random_state=0)            # (20000, 48, 48, 3) float32  # doctest: +SKIP
"""
from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np

from ..random import as_generator
from .errors import DatasetError

__all__ = ["sample_patches", "transform_patch", "center_crop", "read_photos"]

#: The number of distinct flips / 90-degree rotations of a square patch.
N_TRANSFORMS = 8
#: Default ``max_bytes`` of :func:`sample_patches`: the largest patch array it allocates (2 GiB).
MAX_PATCH_BYTES = 2 << 30


def transform_patch(patch: np.ndarray, k: int) -> np.ndarray:
    """Symmetry ``k`` in ``0..7`` of a patch ``(s, s[, C])``: ``np.rot90(patch, k % 4)``, then for
    ``k >= 4`` a left-right flip. ``k = 0`` is the patch itself."""
    out = np.rot90(patch, k % 4, axes=(0, 1))
    return out[:, ::-1] if k >= 4 else out


def _check_images(images) -> list[np.ndarray]:
    if isinstance(images, np.ndarray):       # a stack (N, H, W[, C]) of images of one size
        if images.ndim not in (3, 4):
            raise ValueError(f"sample_patches: images as one array must be a stack (N, H, W) or (N, H, W, C), got "
                             f"shape {images.shape}; pass a list for a single image")
        images = list(images)
    try:
        images = [np.asarray(im) for im in images]
    except TypeError:
        raise TypeError(f"sample_patches: images must be a list of arrays (H, W) or (H, W, C), got "
                        f"{type(images).__name__}") from None
    if not images:
        raise ValueError("sample_patches: images is empty; give at least one image (H, W) or (H, W, C)")
    channels = set()
    for i, im in enumerate(images):
        if im.ndim not in (2, 3) or not np.issubdtype(im.dtype, np.number):
            raise ValueError(f"sample_patches: images[{i}] must be a numeric array (H, W) or (H, W, C), got shape "
                             f"{im.shape} and dtype {im.dtype}")
        channels.add(None if im.ndim == 2 else im.shape[2])
    if len(channels) > 1:
        kinds = ", ".join(sorted("grey (H, W)" if c is None else f"{c} channels" for c in channels))
        raise ValueError(f"sample_patches: images mix channel layouts ({kinds}); give all grey (H, W) or all "
                         "(H, W, C) with one C")
    return images


def _check_count(name, value, low=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"sample_patches: {name} must be an int >= {low}, got {value!r}")
    return int(value)


def patch_bytes(n: int, size: int, channels: int = 1) -> int:
    """Bytes of ``n`` float32 patches of ``size x size x channels``."""
    return int(n) * int(size) * int(size) * int(channels) * 4


def sample_patches(images, size: int, n: int, random_state=None, augment: bool = True,
                   max_bytes: int | None = MAX_PATCH_BYTES) -> np.ndarray:
    """``n`` random ``size x size`` patches of ``images``, float32.

    Parameters
    ----------
    images : list of arrays ``(H, W)`` (grey) or ``(H, W, C)``, or one array ``(N, H, W[, C])``
        Sizes may differ; one channel layout for all.
    size : int
        Side of the square patches; every image must be at least ``size`` pixels a side.
    n : int >= 1
        Number of patches.
    random_state : None, int or numpy.random.Generator
    augment : bool, default True
        Apply one of the 8 flips / 90-degree rotations (:func:`transform_patch`), uniformly, to each.
    max_bytes : int or None, default :data:`MAX_PATCH_BYTES`
        Refuse, before allocating anything, ``n`` patches that would take more bytes than this.

    Returns
    -------
    ndarray of float32, shape ``(n, size, size)`` or ``(n, size, size, C)``

    Draws, in this order from one generator: the ``n`` image indices (``p`` proportional to the number
    of positions), then for each patch its row and column, then (``augment``) the ``n`` symmetries.
    """
    images = _check_images(images)
    size = _check_count("size", size)
    n = _check_count("n", n)
    for i, im in enumerate(images):
        if im.shape[0] < size or im.shape[1] < size:
            raise ValueError(f"sample_patches: images[{i}] is {im.shape[0]}x{im.shape[1]} pixels, smaller than "
                             f"a {size}x{size} patch; give patches of at most {min(im.shape[:2])} pixels or "
                             "leave that image out")
    need = patch_bytes(n, size, images[0].shape[2] if images[0].ndim == 3 else 1)
    if max_bytes is not None and need > max_bytes:
        raise ValueError(f"sample_patches: {n} patches of {size}x{size}"
                         f"{'x' + str(images[0].shape[2]) if images[0].ndim == 3 else ''} take {need:,} bytes "
                         f"({need / 2**30:.1f} GiB) as float32, more than max_bytes = {max_bytes:,} "
                         f"({max_bytes / 2**30:.1f} GiB); ask for fewer or smaller patches")
    rng = as_generator(random_state)
    positions = np.array([(im.shape[0] - size + 1) * (im.shape[1] - size + 1) for im in images], dtype=np.float64)
    which = rng.choice(len(images), size=n, p=positions / positions.sum())
    rows = np.empty(n, np.int64)
    cols = np.empty(n, np.int64)
    for j, i in enumerate(which):
        H, W = images[i].shape[:2]
        rows[j] = rng.integers(H - size + 1)
        cols[j] = rng.integers(W - size + 1)
    ks = rng.integers(N_TRANSFORMS, size=n) if augment else np.zeros(n, np.int64)
    out = np.empty((n, size, size, *images[0].shape[2:]), np.float32)
    for j in range(n):
        crop = images[which[j]][rows[j]:rows[j] + size, cols[j]:cols[j] + size]
        out[j] = transform_patch(crop, int(ks[j]))
    return out


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """A copy of the central ``size x size`` pixels of ``image`` ``(H, W[, C])`` (the whole side where it
    is shorter than ``size``): a copy, so keeping the crop does not keep the whole image alive."""
    image = np.asarray(image)
    H, W = image.shape[:2]
    top, left = max(0, (H - size) // 2), max(0, (W - size) // 2)
    return image[top:top + size, left:left + size].copy()


def read_photos(path, mode: str = "RGB", skipped: list | None = None, crop: int | None = None,
                max_total_pixels: int | None = None, progress=None) -> tuple[list[np.ndarray], list[str]]:
    """Every image of a folder (and its sub-folders), whole: ``(images, names)``.

    ``images`` is a list of float32 arrays in [0, 1], ``(H, W)`` for ``mode='L'`` or ``(H, W, 3)`` for
    ``'RGB'``, each of its own size; ``names`` their paths relative to ``path``. Files are found and
    decoded as :func:`~nnlite.data.load_image_folder` does, ``skipped`` likewise (a list collects the
    files that could not be read, each with a warning; without it such a file raises).

    ``crop``: keep only each image's :func:`center_crop` of that side, taken as it is read (memory then
    holds one whole image at a time). ``max_total_pixels`` (default, without ``crop``,
    :data:`~nnlite.data.folder.MAX_TOTAL_PIXELS`): refuse, from the files' headers and before decoding
    any, a folder whose images hold more pixels together. ``progress(done, total)`` is called after
    each file.
    """
    import warnings

    from .folder import (
        IMAGE_EXTENSIONS,
        MAX_PIXELS,
        MAX_TOTAL_PIXELS,
        _check_pixels,
        _check_total,
        _decode,
        _list_files,
    )

    if mode not in ("L", "RGB"):
        raise ValueError(f"read_photos: mode must be 'L' (grey) or 'RGB', got {mode!r}")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DatasetError("not a folder" if root.exists() else "folder not found", path=root)
    files = _list_files(root, True)
    if crop is None:
        _check_total(files, root, MAX_TOTAL_PIXELS if max_total_pixels is None else max_total_pixels, MAX_PIXELS)
    images, names = [], []
    for k, f in enumerate(files, 1):
        if progress is not None:
            progress(k - 1, len(files))
        rel = f.relative_to(root).as_posix()
        try:
            _check_pixels(f, MAX_PIXELS)
            image = _decode(f, mode)
            images.append(image if crop is None else center_crop(image, crop))
            del image
        except DatasetError as exc:
            if skipped is None:
                raise
            warnings.warn(f"skipped {exc}", UserWarning, stacklevel=2)
            skipped.append((rel, str(exc)))
            continue
        names.append(rel)
    if progress is not None:
        progress(len(files), len(files))
    if not images:
        raise DatasetError(f"no readable image files found (looked for {', '.join(IMAGE_EXTENSIONS)})", path=root)
    return images, names
