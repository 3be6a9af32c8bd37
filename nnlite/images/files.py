"""Users' own image files: read any PNG/JPEG into [0, 1] floats, list the images of a folder, write one.

Reading converts what can sensibly be converted and says so (a *note*, collected in a list or issued
as a :class:`UserWarning`): palette images are expanded, transparency is composited on white (the
alpha channel is dropped), 16-bit images are scaled by 1/65535 (keeping their precision), 1-bit, CMYK
and other modes become RGB or grey, colour becomes grey (ITU-R BT.601 luma) when a grey model needs
it. What cannot be read raises :class:`ImageError` naming the file.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np

__all__ = ["ImageError", "read_image", "write_image", "list_images", "IMAGE_EXTENSIONS"]

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

    from ..atomic import atomic_write_bytes

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
