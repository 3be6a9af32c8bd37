"""Folders of PNG/JPEG images (a photo or anime-faces collection) as one float32 array, via Pillow.

Every file is decoded to float32 in [0, 1] first (so 16-bit PNGs keep their precision), converted to the
requested mode, then either resized and centre-cropped to ``size`` or cut into ``patch`` x ``patch``
tiles (or both: resize first, then tile).

Memory is bounded per file and in total: every file's width and height are read from its header, a
file of more than ``max_pixels`` pixels (a 79 KB PNG can declare 9000 x 9000, 972 MB as float32 RGB)
is refused before it is decoded, and so is a folder whose images, kept whole, would hold more than
``max_total_pixels`` pixels together (12 PNGs of 5000 x 5000, 876 KB in all, would take 3.6 GB). Only
regular files are listed, so a FIFO or device named ``*.png`` is never opened; sub-folders are searched
to a bounded depth (:data:`~nnlite.images.MAX_FOLDER_DEPTH`) without recursion.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..images import IMAGE_EXTENSIONS, ImageError, image_size, read_image, walk_images
from .errors import DatasetError

__all__ = ["load_image_folder", "IMAGE_EXTENSIONS"]


def _pair(value, argname):
    """An int or (h, w) pair of positive ints -> (h, w)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    try:
        h, w = value
        h, w = int(h), int(w)
        ok = h > 0 and w > 0 and h == value[0] and w == value[1]
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{argname} must be a positive int or a (height, width) pair of positive ints, "
                         f"got {value!r}")
    return h, w


def _list_files(root: Path, recursive: bool) -> list[Path]:
    from ..images.files import MAX_FOLDER_DEPTH

    notes: list[str] = []
    files = walk_images(root, MAX_FOLDER_DEPTH if recursive else 0, notes=notes)
    for note in notes:
        if recursive or "levels deep" not in note:
            warnings.warn(note, UserWarning, stacklevel=3)
    return files


#: Default ``max_pixels``: 25 megapixels (a 6000 x 4000 photo), 300 MB as float32 RGB.
MAX_PIXELS = 25_000_000
#: Default ``max_total_pixels``: 40 megapixels for all the images a folder gives whole, 480 MB as float32 RGB.
MAX_TOTAL_PIXELS = 40_000_000


def _check_total(files, root: Path, max_total_pixels: int | None, max_pixels: int | None,
                 what: str = "max_total_pixels"):
    """Refuse a folder whose images together declare more than ``max_total_pixels`` pixels, from their
    headers alone (a file whose header cannot be read, or over ``max_pixels``, is left to be reported on
    its own)."""
    if max_total_pixels is None:
        return
    sizes = []
    for f in files:
        try:
            w, h = image_size(f)
        except ImageError:
            continue
        if max_pixels is None or w * h <= max_pixels:
            sizes.append((w * h, f, w, h))
    total = sum(s[0] for s in sizes)
    if total > max_total_pixels:
        big = ", ".join(f"{f.relative_to(root).as_posix()} ({w}x{h})" for _, f, w, h in sorted(sizes, key=lambda s:
                                                                                            -s[0])[:3])
        raise DatasetError(f"the {len(sizes)} images hold {total / 1e6:.1f} megapixels together (largest: {big}), "
                           f"more than {what} = {max_total_pixels / 1e6:g} megapixels "
                           f"({max_total_pixels * 12 / 1e6:.0f} MB as float32 RGB); use fewer or smaller images, or "
                           f"a larger {what}", path=root)


def _check_pixels(path: Path, max_pixels: int | None):
    """Refuse a file whose header declares more than ``max_pixels`` pixels, before decoding it."""
    if max_pixels is None:
        return
    from PIL import Image

    try:
        with Image.open(path) as im:  # reads the header only
            w, h = im.size
    except Exception:  # not an image, or Pillow's own bomb check: read_image reports it
        return
    if w * h > max_pixels:
        raise DatasetError(f"image of {w}x{h} pixels ({w * h / 1e6:.1f} megapixels) is larger than max_pixels = "
                           f"{max_pixels} ({max_pixels / 1e6:.1f} megapixels); pass a larger max_pixels (or None) "
                           f"to load it", path=path)


def _check_limit(name, value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
        raise ValueError(f"{name} must be a positive int or None, got {value!r}")


def _decode(path: Path, mode: str) -> np.ndarray:
    """Read one image as float32 in [0, 1]: (H, W) for mode 'L', (H, W, 3) for 'RGB'.

    Decoding is :func:`nnlite.images.read_image`'s (palette, 16-bit, CMYK, alpha on white). Of its
    conversion notes only the lossy one, transparency composited on white, becomes a warning here:
    a data set of colour files loaded as grey should not print one line per file.
    """
    notes: list[str] = []
    try:
        x = read_image(path, mode=mode, notes=notes)
    except ImageError as exc:
        raise DatasetError(str(exc), path=path) from None
    for note in notes:
        if "transparency" in note:
            warnings.warn(note, UserWarning, stacklevel=4)
    return x


def _resize(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """Resize a float image (H, W[, C]) to (h, w) with Pillow's antialiased bicubic filter, per channel."""
    from PIL import Image

    if x.shape[:2] == (h, w):
        return x
    channels = [x] if x.ndim == 2 else [x[..., c] for c in range(x.shape[2])]
    out = [np.asarray(Image.fromarray(np.ascontiguousarray(c), mode="F").resize((w, h), Image.Resampling.BICUBIC))
           for c in channels]
    y = out[0] if x.ndim == 2 else np.stack(out, axis=-1)
    return np.clip(y, 0.0, 1.0)


def _resize_center_crop(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """Scale so the image covers (h, w) keeping its aspect ratio, then cut the centre (h, w)."""
    H, W = x.shape[:2]
    scale = max(h / H, w / W)
    nh, nw = max(h, round(H * scale)), max(w, round(W * scale))
    x = _resize(x, nh, nw)
    top, left = (nh - h) // 2, (nw - w) // 2
    return x[top:top + h, left:left + w]


def _patches(x: np.ndarray, ph: int, pw: int, sh: int, sw: int) -> np.ndarray:
    """All (ph, pw) tiles at steps (sh, sw), row by row: (n, ph, pw[, C])."""
    H, W = x.shape[:2]
    if H < ph or W < pw:
        return np.empty((0, ph, pw) + x.shape[2:], dtype=x.dtype)
    win = np.lib.stride_tricks.sliding_window_view(x, (ph, pw), axis=(0, 1))  # (H-ph+1, W-pw+1, [C,] ph, pw)
    win = win[::sh, ::sw]
    if x.ndim == 3:
        win = np.moveaxis(win, 2, -1)  # (ny, nx, ph, pw, C)
    return win.reshape((-1, ph, pw) + x.shape[2:]).copy()


def load_image_folder(path, size=None, mode: str = "RGB", patch=None, stride=None, recursive: bool = True,
                      max_pixels: int | None = MAX_PIXELS, skipped: list | None = None,
                      max_total_pixels: int | None = MAX_TOTAL_PIXELS):
    """Load every image in a folder into one float32 array in [0, 1].

    Parameters
    ----------
    path : path-like
        The folder. Files ending in :data:`IMAGE_EXTENSIONS` are read in sorted order of their relative
        path; hidden files and folders (``.name``) are skipped.
    size : int or (height, width), optional
        Resize each image (bicubic, antialiased) so it covers ``size`` keeping its aspect ratio, then cut
        out the centre. Required unless ``patch`` is given or all images already share one size.
    mode : {'L', 'RGB'}
        Grey (BT.601 luma of colour images) or colour (grey images repeated over 3 channels). Palette,
        16-bit, CMYK and alpha images are converted; transparent pixels are composited on white, with a
        warning naming the file.
    patch : int or (height, width), optional
        Cut each image (after resizing, if ``size`` is given) into tiles of this size, row by row.
        Images smaller than a tile give none (with a warning naming them).
    stride : int or (height, width), optional
        Step between tiles; default ``patch`` (no overlap).
    recursive : bool
        Include sub-folders.
    max_pixels : int or None
        Largest width x height accepted per file, checked from the file's header before decoding;
        default :data:`MAX_PIXELS` (25 megapixels). ``None``: no limit.
    max_total_pixels : int or None
        Without ``size`` (images kept whole), the largest sum of width x height over all files, checked
        from their headers before any is decoded; default :data:`MAX_TOTAL_PIXELS` (40 megapixels).
        ``None``: no limit.
    skipped : list, optional
        Given a list, a file that cannot be read (damaged, too large, not an image) is skipped with a
        warning naming it and the reason, and ``(relative path, reason)`` is appended to the list;
        without it, such a file raises.

    Returns
    -------
    images : ndarray of float32, shape (N, H, W) for 'L' or (N, H, W, 3) for 'RGB'
    names : list of str
        For each row of ``images``, the file it comes from (path relative to ``path``, '/'-separated);
        a file cut into k tiles appears k times in a row.

    Raises
    ------
    DatasetError
        The folder is missing or holds no image, a file cannot be decoded, or sizes differ without ``size``.
    """
    if mode not in ("L", "RGB"):
        raise ValueError(f"mode must be 'L' (grey) or 'RGB', got {mode!r}")
    hw = None if size is None else _pair(size, "size")
    tile = None if patch is None else _pair(patch, "patch")
    if stride is not None and tile is None:
        raise ValueError("stride is only used with patch; give patch too")
    step = None if tile is None else (tile if stride is None else _pair(stride, "stride"))
    if max_pixels is not None and (isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer))
                                   or max_pixels < 1):
        raise ValueError(f"max_pixels must be a positive int or None, got {max_pixels!r}")
    _check_limit("max_total_pixels", max_total_pixels)

    root = Path(path).expanduser()
    if not root.is_dir():
        raise DatasetError("not a folder" if root.exists() else "folder not found", path=root)
    files = _list_files(root, recursive)
    if not files:
        raise DatasetError(f"no image files found (looked for {', '.join(IMAGE_EXTENSIONS)}"
                           f"{' in sub-folders too' if recursive else ''})", path=root)
    if hw is None:
        _check_total(files, root, max_total_pixels, max_pixels)

    arrays, names, seen = [], [], {}
    for f in files:
        rel = f.relative_to(root).as_posix()
        try:
            _check_pixels(f, max_pixels)
            x = _decode(f, mode)
        except DatasetError as exc:
            if skipped is None:
                raise
            warnings.warn(f"skipped {exc}", UserWarning, stacklevel=2)
            skipped.append((rel, str(exc)))
            continue
        if hw is not None:
            x = _resize_center_crop(x, *hw)
        if tile is not None:
            tiles = _patches(x, *tile, *step)
            if len(tiles) == 0:
                warnings.warn(f"{f}: image of size {x.shape[0]}x{x.shape[1]} is smaller than a "
                              f"{tile[0]}x{tile[1]} patch; skipped", UserWarning, stacklevel=2)
                continue
            arrays.append(tiles)
            names.extend([rel] * len(tiles))
        else:
            arrays.append(x[None])
            names.append(rel)
        seen.setdefault(arrays[-1].shape[1:3], rel)

    if not arrays and skipped:
        raise DatasetError(f"none of the {len(skipped)} image files could be read", path=root)
    if not arrays:
        raise DatasetError(f"no image is at least {tile[0]}x{tile[1]} pixels: no patches", path=root)
    if len(seen) > 1:
        listing = "; ".join(f"{n} is {s[0]}x{s[1]}" for s, n in list(seen.items())[:4])
        raise DatasetError(f"images have different sizes ({listing}); pass size=(height, width) to resize "
                           f"them", path=root)
    return np.concatenate(arrays, axis=0), names
