"""Users' own image files: read any PNG/JPEG into [0, 1] floats, cut it into tiles for an MLP model,
put the tiles back together, and write the result.

Reading converts what can sensibly be converted and says so (a *note*, collected in a list or issued
as a :class:`UserWarning`): palette images are expanded, transparency is composited on white (the
alpha channel is dropped), 16-bit images are scaled by 1/65535 (keeping their precision), 1-bit, CMYK
and other modes become RGB or grey, colour becomes grey (ITU-R BT.601 luma) when a grey model needs
it. What cannot be read raises :class:`ImageError` naming the file.

Tiling lets a model trained on small images (MNIST's 28x28, the 5x7 font) process a photo of any size:
:func:`tile_image` cuts ``(H, W[, C])`` into overlapping ``(th, tw)`` tiles covering every pixel (small
images are padded by reflection), :func:`untile` averages the overlapping outputs back into an image of
the original size, and :func:`apply_tiled` does both around a function of flattened tiles. A fully
convolutional model takes any size instead: :func:`apply_blocks` runs it over big images in blocks
with a margin of context, so the result equals a whole-image pass.

Batches of images come in three layouts: ``(N, H, W)`` grey, ``(N, C, H, W)`` (NCHW, PyTorch's) and
``(N, H, W, C)`` (channels last, what :func:`nnlite.data.load_image_folder` returns).
:func:`to_nchw` reads any of them as NCHW and names the layout; :func:`from_nchw` goes back.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np

__all__ = ["ImageError", "read_image", "write_image", "list_images", "tile_image", "untile", "apply_tiled",
           "apply_blocks", "infer_image_shape", "to_nchw", "from_nchw", "IMAGE_EXTENSIONS"]

#: File name endings accepted when a folder is given (case-insensitive).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as Pillow's convert("L")


class ImageError(ValueError):
    """An image file cannot be read or used; the message names the file and what to do."""

    def __init__(self, message: str, path=None):
        self.path = None if path is None else os.fspath(path)
        if self.path is not None and not message.startswith(self.path):
            message = f"{self.path}: {message}"
        super().__init__(message)


def _note(notes, path, text):
    msg = f"{path}: {text}"
    if notes is None:
        warnings.warn(msg, UserWarning, stacklevel=3)
    else:
        notes.append(msg)


# ------------------------------------------------------------------------------------------ layouts
def _is_channels_last(shape) -> bool:
    return len(shape) == 4 and shape[-1] in (1, 3, 4) and shape[1] not in (1, 3, 4)


def to_nchw(X, name="X", owner="to_nchw"):
    """``X`` as an ``(N, C, H, W)`` array and the layout it came in: ``'NHW'``, ``'NCHW'`` or ``'NHWC'``.

    ``(N, H, W)`` is grey (C = 1). A 4-D array is channels-last (``'NHWC'``) when its last axis has 1, 3
    or 4 entries and its second axis does not, else NCHW. No copy when none is needed.
    """
    X = np.asarray(X)
    if X.ndim == 3:
        return X[:, None], "NHW"
    if X.ndim == 4:
        if _is_channels_last(X.shape):
            return X.transpose(0, 3, 1, 2), "NHWC"
        return X, "NCHW"
    raise ValueError(f"{owner}: {name} must be a batch of images, (N, H, W) grey, (N, C, H, W) or (N, H, W, C); "
                     f"got shape {X.shape}")


def from_nchw(Y, layout):
    """Inverse of :func:`to_nchw`: ``(N, C, H, W)`` back to ``layout``."""
    if layout == "NHW":
        return Y[:, 0]
    if layout == "NHWC":
        return Y.transpose(0, 2, 3, 1)
    return Y


def _check_images(owner, X, name="X", dtype=np.float32):
    """Validated NCHW float array of ``dtype`` (C-contiguous) and its layout."""
    X = np.asarray(X)
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
        raise TypeError(f"{owner}: {name} must be numeric, got dtype {X.dtype}")
    Xc, layout = to_nchw(X, name, owner)
    if len(Xc) == 0:
        raise ValueError(f"{owner}: {name} has no images")
    Xc = np.ascontiguousarray(Xc, dtype=dtype)
    if not np.all(np.isfinite(Xc)):
        raise ValueError(f"{owner}: {name} contains NaN or inf")
    return Xc, layout


# ------------------------------------------------------------------------------------------ reading
def read_image(path, mode: str | None = None, notes: list | None = None) -> np.ndarray:
    """Read an image file as float32 in [0, 1].

    Parameters
    ----------
    path : path-like
    mode : {None, 'L', 'RGB'}
        ``None`` keeps the file's nature: grey files give ``(H, W)``, colour files ``(H, W, 3)``.
        ``'L'`` always gives grey ``(H, W)``, ``'RGB'`` always ``(H, W, 3)``.
    notes : list, optional
        Conversion notes (``"photo.png: RGBA image: transparency composited on white"``) are appended
        here; without a list they are issued as ``UserWarning``.

    Raises
    ------
    ImageError
        Missing file, a folder, or a file Pillow cannot decode (truncated, not an image).
    """
    if mode not in (None, "L", "RGB"):
        raise ValueError(f"read_image: mode must be None, 'L' (grey) or 'RGB', got {mode!r}")
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise ImageError("no such image file", path)
    if path.is_dir():
        raise ImageError("is a folder; pass the image files (or use list_images to expand a folder)", path)
    try:
        with Image.open(path) as im:
            im.load()
            orig = im.mode
            if orig == "P":
                _note(notes, path, "palette image: expanded to RGB")
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif orig == "PA":
                _note(notes, path, "palette image: expanded to RGB")
                im = im.convert("RGBA")
            elif orig == "1":
                im = im.convert("L")
            elif orig in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
                _note(notes, path, f"{orig} image: converted to RGB")
                im = im.convert("RGB")
            elif orig in ("La", "RGBa"):
                im = im.convert("LA" if orig == "La" else "RGBA")
            arr = np.asarray(im)
            now = im.mode
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageError(f"cannot read the image: not a PNG/JPEG (or other format Pillow decodes), or the file is "
                         f"truncated or damaged ({type(exc).__name__}: {exc})", path) from None

    if now.startswith("I;16") or now == "I":
        if now == "I" and arr.size and int(arr.max()) > 65535:
            raise ImageError(f"32-bit integer image (values up to {int(arr.max())}): save it as 8- or 16-bit", path)
        _note(notes, path, "16-bit image: scaled to [0, 1] (precision kept)")
        x = arr.astype(np.float32) / np.float32(65535.0)
    elif now == "F":
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 1.0)
        if lo < 0 or hi > 1:
            _note(notes, path, f"floating-point image with values in [{lo:.3g}, {hi:.3g}]: clipped to [0, 1]")
        x = np.clip(arr.astype(np.float32), 0.0, 1.0)
    elif arr.dtype == np.uint8:
        x = arr.astype(np.float32) / np.float32(255.0)
    else:  # pragma: no cover - Pillow modes not covered above
        raise ImageError(f"unsupported image mode {now!r} (pixel type {arr.dtype})", path)
    if x.size == 0:
        raise ImageError(f"the image is empty ({x.shape[1] if x.ndim > 1 else 0}x{x.shape[0]} pixels)", path)

    if x.ndim == 3 and x.shape[2] in (2, 4):  # LA / RGBA
        alpha, x = x[..., -1:], x[..., :-1]
        if float(alpha.min()) < 1.0:
            _note(notes, path, f"{orig} image with transparency: composited on a white background, alpha dropped")
            x = x * alpha + (1.0 - alpha)
        else:
            _note(notes, path, f"{orig} image: alpha channel (fully opaque) dropped")
        if x.shape[2] == 1:
            x = x[..., 0]
    if x.ndim == 3 and x.shape[2] != 3:  # pragma: no cover
        raise ImageError(f"unsupported image with {x.shape[2]} channels (mode {orig})", path)

    if mode == "L" and x.ndim == 3:
        _note(notes, path, "colour image: converted to grey (BT.601 luma)")
        x = x @ _LUMA
    elif mode == "RGB" and x.ndim == 2:
        x = np.repeat(x[..., None], 3, axis=2)
    return np.ascontiguousarray(x, dtype=np.float32)


def list_images(paths) -> list[Path]:
    """Expand files and folders into image files (folders: their images, sorted, not recursive).

    Raises :class:`ImageError` for a missing path or a folder without images.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
                           and not f.name.startswith("."))
            if not found:
                raise ImageError(f"the folder holds no image files (looked for {', '.join(IMAGE_EXTENSIONS)})", p)
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise ImageError("no such file or folder", p)
    if not out:
        raise ValueError("no images given")
    return out


# ------------------------------------------------------------------------------------------ writing
def write_image(path, image) -> Path:
    """Write a float image in [0, 1] (``(H, W)`` grey or ``(H, W, 3)`` RGB) as 8-bit PNG/JPEG, atomically.

    The format follows the file ending (``.png`` if there is none). Values are clipped to [0, 1].
    """
    from PIL import Image

    from .atomic import atomic_write_bytes

    x = np.asarray(image, dtype=np.float64)
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[..., 0]
    if not (x.ndim == 2 or (x.ndim == 3 and x.shape[2] == 3)):
        raise ValueError(f"write_image: expected an (H, W) or (H, W, 3) image, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"write_image: the image contains NaN or inf; not writing {path}")
    u8 = np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
    path = Path(path)
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        path = path.with_name(path.name + ".png")
    buf = io.BytesIO()
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG"}.get(path.suffix.lower(), None)
    Image.fromarray(u8).save(buf, format=fmt or Image.registered_extensions().get(path.suffix.lower(), "PNG"),
                             **({"quality": 95} if fmt == "JPEG" else {}))
    atomic_write_bytes(path, buf.getvalue())
    return path


# ------------------------------------------------------------------------------------------ tiling
def _pair(value, name):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    try:
        a, b = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive int or a (height, width) pair, got {value!r}") from None
    if a < 1 or b < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return a, b


def _starts(size, tile, step):
    """Tile origins along one axis: every ``step``, plus one flush with the end so all pixels are covered."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile + 1, step))
    if starts[-1] + tile < size:
        starts.append(size - tile)
    return starts


def tile_image(image, tile, stride=None):
    """Cut an image into tiles that cover every pixel.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)
    tile : int or (th, tw)
    stride : int or (sh, sw), optional
        Step between tile origins (default: ``tile``, no overlap). The last tile of each row/column is
        placed flush with the border, so tiles may overlap there. An image smaller than a tile is padded
        by reflection (by edge repetition where it is a single pixel wide).

    Returns
    -------
    tiles : ndarray of shape (n, th, tw[, C])
    layout : dict
        What :func:`untile` needs: original shape, padded shape, tile origins.
    """
    x = np.asarray(image)
    if x.ndim not in (2, 3):
        raise ValueError(f"tile_image: expected an (H, W) or (H, W, C) image, got shape {x.shape}")
    th, tw = _pair(tile, "tile")
    sh, sw = _pair(stride if stride is not None else (th, tw), "stride")
    H, W = x.shape[:2]
    ph, pw = max(th - H, 0), max(tw - W, 0)
    if ph or pw:
        pad = [(0, ph), (0, pw)] + [(0, 0)] * (x.ndim - 2)
        x = np.pad(x, pad, mode="reflect" if min(H, W) > 1 else "edge")
    ys, xs = _starts(x.shape[0], th, sh), _starts(x.shape[1], tw, sw)
    tiles = np.stack([x[y:y + th, z:z + tw] for y in ys for z in xs])
    layout = {"shape": (H, W) + tuple(np.shape(image)[2:]), "padded": x.shape, "tile": (th, tw), "ys": ys, "xs": xs}
    return tiles, layout


def untile(tiles, layout) -> np.ndarray:
    """Reassemble :func:`tile_image`'s tiles (possibly processed) into the original image size.

    Overlapping pixels are the mean of every tile covering them.
    """
    th, tw = layout["tile"]
    tiles = np.asarray(tiles)
    n = len(layout["ys"]) * len(layout["xs"])
    if tiles.shape[0] != n or tiles.shape[1:3] != (th, tw):
        raise ValueError(f"untile: expected {n} tiles of {th}x{tw}, got shape {tiles.shape}")
    rest = tiles.shape[3:]
    acc = np.zeros(tuple(layout["padded"][:2]) + rest, dtype=np.float64)
    count = np.zeros(tuple(layout["padded"][:2]), dtype=np.float64)
    k = 0
    for y in layout["ys"]:
        for z in layout["xs"]:
            acc[y:y + th, z:z + tw] += tiles[k]
            count[y:y + th, z:z + tw] += 1
            k += 1
    count = count.reshape(count.shape + (1,) * len(rest))
    out = acc / count
    H, W = layout["shape"][:2]
    return out[:H, :W].astype(tiles.dtype if np.issubdtype(tiles.dtype, np.floating) else np.float32)


def apply_tiled(fn, image, tile, channels: int = 1, stride=None, batch_size: int = 256):
    """Run ``fn`` (flat tiles ``(n, th*tw*channels)`` -> same shape) over a whole image, tile by tile.

    ``channels`` is what the model takes: 1 (grey) or 3 (RGB). A colour image given to a grey model is
    processed channel by channel (each channel as a grey image); a grey image given to a colour model is
    repeated over 3 channels and the result averaged back to grey. Returns an image of the input's shape.
    """
    x = np.asarray(image, dtype=np.float32)
    if channels not in (1, 3):
        raise ValueError(f"apply_tiled: channels must be 1 or 3, got {channels!r}")
    th, tw = _pair(tile, "tile")
    if x.ndim == 3 and channels == 1:
        return np.stack([apply_tiled(fn, x[..., c], tile, 1, stride, batch_size) for c in range(x.shape[2])], -1)
    if x.ndim == 2 and channels == 3:
        return apply_tiled(fn, np.repeat(x[..., None], 3, axis=2), tile, 3, stride, batch_size).mean(axis=2)
    tiles, layout = tile_image(x, (th, tw), stride)
    flat = tiles.reshape(len(tiles), -1)
    outs = []
    for s in range(0, len(flat), batch_size):
        out = np.asarray(fn(flat[s:s + batch_size]))
        if out.shape != flat[s:s + batch_size].shape:
            raise ValueError(f"apply_tiled: fn returned shape {out.shape} for tiles of shape "
                             f"{flat[s:s + batch_size].shape}; it must return one reconstruction per tile")
        outs.append(out)
    return untile(np.concatenate(outs).reshape(tiles.shape), layout)


def _pad_to_multiple(x, m):
    """Reflect-pad ``x`` ``(N, C, H, W)`` at the bottom/right to multiples of ``m``; returns (padded, H, W)."""
    N, C, H, W = x.shape
    ph, pw = (-H) % m, (-W) % m
    if ph == 0 and pw == 0:
        return x, H, W
    mode = "reflect" if (ph < H and pw < W) else "symmetric" if (ph <= H and pw <= W) else "edge"
    return np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode=mode), H, W


def apply_blocks(fn, x, tile, margin, multiple=1):
    """Run a fully convolutional ``fn`` (NCHW in, NCHW out, any H and W) over ``x`` ``(N, C, H, W)`` in
    ``tile x tile`` blocks, each read with ``margin`` pixels of context on every side.

    With a margin at least the network's receptive radius, every output pixel sees exactly the inputs
    a whole-image pass would give it, so the result equals ``fn(x)`` (up to float rounding) while each
    call of ``fn`` sees at most ``(tile + 2 * margin)**2`` pixels. ``tile`` and ``margin`` are rounded to
    the grid of ``multiple`` (a U-Net's pooling factor). An image no larger than ``tile`` goes whole.
    """
    N, C, H, W = x.shape
    if H <= tile and W <= tile:
        return fn(x)
    m = multiple
    t = max(m, tile // m * m)                     # tile and margin aligned to the pooling grid
    margin = -(-margin // m) * m
    out = np.empty_like(x)
    for i0 in range(0, H, t):
        for j0 in range(0, W, t):
            a0, a1 = max(i0 - margin, 0), min(i0 + t + margin, H)
            b0, b1 = max(j0 - margin, 0), min(j0 + t + margin, W)
            block = fn(np.ascontiguousarray(x[:, :, a0:a1, b0:b1]))
            i1, j1 = min(i0 + t, H), min(j0 + t, W)
            out[:, :, i0:i1, j0:j1] = block[:, :, i0 - a0:i1 - a0, j0 - b0:j1 - b0]
    return out


def infer_image_shape(n_features: int) -> tuple[int, int, int]:
    """Guess ``(height, width, channels)`` from a flat input size: 35 -> 7x5 (the font), s*s -> grey
    square, 3*s*s -> RGB square. Raises ``ValueError`` when there is no sensible guess."""
    if n_features == 35:
        return (7, 5, 1)
    s = int(round(np.sqrt(n_features)))
    if s * s == n_features:
        return (s, s, 1)
    s = int(round(np.sqrt(n_features / 3)))
    if 3 * s * s == n_features:
        return (s, s, 3)
    raise ValueError(f"cannot tell the image shape of a model with {n_features} inputs (not 7x5, s*s grey or "
                     "s*s*3 RGB); record image_shape when training")
