"""Users' own image files: read any PNG/JPEG into [0, 1] floats, list the images of a folder, write one.

Reading converts what can sensibly be converted and says so (a *note*, collected in a list or issued
as a :class:`UserWarning`): palette images are expanded, transparency is composited on white (the
alpha channel is dropped) unless ``keep_alpha`` asks for it, 16-bit grey images are scaled by 1/65535
(keeping their precision), 1-bit, CMYK and other modes become RGB or grey, colour becomes grey (ITU-R
BT.601 luma) when a grey model needs it. What cannot be read raises :class:`ImageError` naming the
file: a path that is not a regular file (a FIFO or a device is never opened), a 16-bit colour PNG
(Pillow decodes only 8 of its 16 bits per channel), NaN pixels in a floating-point image.

:func:`list_images` expands folders with their sub-folders, to a bounded depth, never following a
link to a folder, and leaves out the files :func:`output_names` marks as results of ``nnlite denoise``.
"""
from __future__ import annotations

import io
import os
import stat
import warnings
from pathlib import Path

import numpy as np

from .._validation import file_kind

__all__ = ["ImageError", "read_image", "write_image", "list_images", "walk_images", "image_size", "is_output_name",
           "IMAGE_EXTENSIONS", "MAX_FOLDER_DEPTH", "OUTPUT_SUFFIXES"]

#: File name endings accepted when a folder is given (case-insensitive).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")

#: Sub-folder levels :func:`list_images` searches below a folder it is given.
MAX_FOLDER_DEPTH = 32
#: Name endings (before the extension) of the files ``nnlite denoise`` writes: never read back as inputs.
OUTPUT_SUFFIXES = ("_denoised", "_compare")

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


def _check_regular(path: Path):
    """Refuse a path that is missing or not a regular file, from its ``stat`` alone (opening a FIFO blocks)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ImageError("no such image file", path) from None
    except OSError as exc:
        raise ImageError(f"cannot read the file ({exc.strerror or exc})", path) from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageError("is a folder; pass the image files (or use list_images to expand a folder)", path)
    if not stat.S_ISREG(st.st_mode):
        raise ImageError(f"is {file_kind(st.st_mode)}, expected an image file (a regular file)", path)


def _open(path: Path):
    """``path`` opened for reading without blocking on a FIFO swapped in after the check."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ImageError(f"is {file_kind(os.fstat(fd).st_mode)}, expected an image file (a regular file)", path)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _reason(exc) -> str:
    """A decoder's complaint without the file object's repr (the file is named by the message already)."""
    text = "cannot identify image file" if type(exc).__name__ == "UnidentifiedImageError" else str(exc)
    return f"{type(exc).__name__}: {text}"


def image_size(path) -> tuple[int, int]:
    """``(width, height)`` of an image file from its header, without decoding the pixels.

    Raises :class:`ImageError` for anything but a regular file Pillow can identify.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    _check_regular(path)
    try:
        with warnings.catch_warnings(), _open(path) as f:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)   # the caller applies its own cap
            with Image.open(f) as im:
                return im.size
    except Image.DecompressionBombError as exc:
        raise ImageError(f"the image is larger than Pillow accepts ({exc})", path) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"cannot read the image: not a PNG/JPEG (or other format Pillow decodes), or the file is "
                         f"truncated or damaged ({_reason(exc)})", path) from None


def _is_16bit_colour(im) -> bool:
    """A PNG whose colour channels have 16 bits, which Pillow decodes to 8 (before ``load``)."""
    return any(str(getattr(t, "args", t[3] if len(t) > 3 else "")).startswith(("RGB;16", "RGBA;16"))
               for t in getattr(im, "tile", []) or [])


def read_image(path, mode: str | None = None, notes: list | None = None, keep_alpha: bool = False) -> np.ndarray:
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
    keep_alpha : bool, default False
        Return the alpha channel of an image that has one as the last channel, untouched: ``(H, W, 2)``
        grey + alpha or ``(H, W, 4)`` RGBA (``mode`` then applies to the colour channels). Without it,
        transparency is composited on white and alpha dropped.

    Raises
    ------
    ImageError
        Missing file, a folder, a FIFO or device, a file Pillow cannot decode (truncated, not an image),
        a 16-bit colour PNG, NaN pixels.
    """
    if mode not in (None, "L", "RGB"):
        raise ValueError(f"read_image: mode must be None, 'L' (grey) or 'RGB', got {mode!r}")
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    _check_regular(path)
    try:
        with _open(path) as f, Image.open(f) as im:
            if _is_16bit_colour(im):
                raise ImageError("16-bit colour PNG: Pillow decodes only 8 of the 16 bits of each colour channel, "
                                 "so its precision would be lost; save it as 8-bit colour (or 16-bit grey) to read it",
                                 path)
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
            arr = np.array(im)                                        # one copy, then Pillow's is let go
            now = im.mode
            im = None
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageError(f"cannot read the image: not a PNG/JPEG (or other format Pillow decodes), or the file is "
                         f"truncated or damaged ({_reason(exc)})", path) from None

    if now.startswith("I;16") or now == "I":
        if now == "I" and arr.size and int(arr.max()) > 65535:
            raise ImageError(f"32-bit integer image (values up to {int(arr.max())}): save it as 8- or 16-bit", path)
        _note(notes, path, "16-bit image: scaled to [0, 1] (precision kept)")
        x = arr.astype(np.float32)
        x *= np.float32(1 / 65535.0)                                  # in place: one float32 copy of the image
    elif now == "F":
        bad = int(np.isnan(arr).sum())
        if bad:
            raise ImageError(f"floating-point image with {bad} NaN pixel(s) of {arr.size}: expected numbers in [0, 1]; "
                             "replace the NaN values (np.nan_to_num) before saving", path)
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 1.0)
        if lo < 0 or hi > 1:
            _note(notes, path, f"floating-point image with values in [{lo:.3g}, {hi:.3g}]: clipped to [0, 1]")
        x = np.clip(arr.astype(np.float32), 0.0, 1.0)
    elif arr.dtype == np.uint8:
        x = arr.astype(np.float32)
        x /= np.float32(255.0)                                        # in place: one float32 copy of the image
    else:  # pragma: no cover - Pillow modes not covered above
        raise ImageError(f"unsupported image mode {now!r} (pixel type {arr.dtype})", path)
    del arr
    if x.size == 0:
        raise ImageError(f"the image is empty ({x.shape[1] if x.ndim > 1 else 0}x{x.shape[0]} pixels)", path)

    alpha = None
    if x.ndim == 3 and x.shape[2] in (2, 4):  # LA / RGBA
        alpha, x = x[..., -1:], x[..., :-1]
        if keep_alpha:
            if x.shape[2] == 1:
                x = x[..., 0]
        elif float(alpha.min()) < 1.0:
            _note(notes, path, f"{orig} image with transparency: composited on a white background, alpha dropped")
            x = x * alpha + (1.0 - alpha)
        else:
            _note(notes, path, f"{orig} image: alpha channel (fully opaque) dropped")
        if not keep_alpha:
            alpha = None
            if x.shape[2] == 1:
                x = x[..., 0]
    if x.ndim == 3 and x.shape[2] != 3:  # pragma: no cover
        raise ImageError(f"unsupported image with {x.shape[2]} channels (mode {orig})", path)

    if mode == "L" and x.ndim == 3:
        _note(notes, path, "colour image: converted to grey (BT.601 luma)")
        rgb, x = x, np.empty(x.shape[:2], np.float32)
        for r in range(0, len(x), 256):                               # row blocks: no float64 temporary
            x[r:r + 256] = rgb[r:r + 256] @ _LUMA
        del rgb
    elif mode == "RGB" and x.ndim == 2:
        x = np.repeat(x[..., None], 3, axis=2)
    if alpha is not None:
        x = np.concatenate([x if x.ndim == 3 else x[..., None], alpha], axis=2)
    return np.ascontiguousarray(x, dtype=np.float32)


def is_output_name(path) -> bool:
    """Whether a file name is one ``nnlite denoise`` writes (``*_denoised.*``, ``*_compare.*``)."""
    return Path(path).stem.endswith(OUTPUT_SUFFIXES)


def walk_images(root, max_depth: int = MAX_FOLDER_DEPTH, exclude=(), notes: list | None = None) -> list[Path]:
    """The image files under a folder and its sub-folders, sorted by relative path.

    Hidden files and folders (``.name``) are left out, links to folders are not followed, folders in
    ``exclude`` (resolved paths) are not entered, and folders more than ``max_depth`` levels below
    ``root`` are not searched (a note says so). Only regular files (or links to them) are listed. The
    walk keeps its own stack, so a deeply nested tree cannot exhaust Python's recursion limit.
    """
    root = Path(root)
    skip = {Path(e).resolve() for e in exclude}
    found, stack, too_deep = [], [(root, 0)], 0
    while stack:
        folder, depth = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            if folder == root:
                raise ImageError(f"cannot list the folder ({exc.strerror or exc})", root) from None
            _note(notes, folder, f"cannot list the folder ({exc.strerror or exc}); skipped")
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth >= max_depth:
                        too_deep += 1
                    elif Path(entry.path).resolve() not in skip:
                        stack.append((Path(entry.path), depth + 1))
                elif entry.is_file() and Path(entry.name).suffix.lower() in IMAGE_EXTENSIONS:
                    found.append(Path(entry.path))
            except OSError:
                continue
    if too_deep:
        _note(notes, root, f"{too_deep} folder(s) more than {max_depth} levels deep were not searched")
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def list_images(paths, recursive: bool = True, max_depth: int = MAX_FOLDER_DEPTH, exclude=(),
                skip_outputs: bool = False, notes: list | None = None) -> list[Path]:
    """Expand files and folders into image files.

    Parameters
    ----------
    paths : path-like or list of them
        Files are kept as they are (they must exist); folders give their image files, sorted.
    recursive : bool, default True
        Also the images of sub-folders, down to ``max_depth`` levels (:func:`walk_images`).
    exclude : list of path-like
        Folders not entered (an output folder inside an input folder).
    skip_outputs : bool, default False
        Leave out files of folders named as ``nnlite denoise`` names its results (:func:`is_output_name`),
        with a note.
    notes : list, optional
        Where notes go (else ``UserWarning``).

    Raises
    ------
    ImageError
        For a missing path, or a folder without images.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            found = walk_images(p, max_depth if recursive else 0, exclude, notes)
            if skip_outputs:
                mine = [f for f in found if is_output_name(f)]
                if mine:
                    _note(notes, p, f"{len(mine)} file(s) named as denoising results (*_denoised.*, *_compare.*) "
                                    "left out")
                found = [f for f in found if not is_output_name(f)]
            if not found:
                raise ImageError(f"the folder holds no image files (looked for {', '.join(IMAGE_EXTENSIONS)}"
                                 f"{' in it and its sub-folders' if recursive else ''})", p)
            out.extend(found)
        elif p.exists() or p.is_symlink():
            out.append(p)
        else:
            raise ImageError("no such file or folder", p)
    if not out:
        raise ValueError("no images given")
    return out


# ------------------------------------------------------------------------------------------ writing
def write_image(path, image) -> Path:
    """Write a float image in [0, 1] as 8-bit PNG/JPEG, atomically: ``(H, W)`` grey, ``(H, W, 3)`` RGB, or
    with an alpha channel last, ``(H, W, 2)`` grey + alpha and ``(H, W, 4)`` RGBA (PNG keeps it).

    The format follows the file ending (``.png`` if there is none). Values are clipped to [0, 1].
    """
    from PIL import Image

    from ..atomic import atomic_write_bytes

    x = np.asarray(image)
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[..., 0]
    if not (x.ndim == 2 or (x.ndim == 3 and x.shape[2] in (2, 3, 4))):
        raise ValueError(f"write_image: expected an (H, W), (H, W, 3) image, or one with alpha last ((H, W, 2), "
                         f"(H, W, 4)), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"write_image: the image contains NaN or inf; not writing {path}")
    u8 = np.empty(x.shape, np.uint8)
    for r in range(0, x.shape[0], 256):                          # row blocks: no full-size float temporaries
        u8[r:r + 256] = np.round(np.clip(np.asarray(x[r:r + 256], np.float32), 0.0, 1.0) * 255.0)
    path = Path(path)
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        path = path.with_name(path.name + ".png")
    buf = io.BytesIO()
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG"}.get(path.suffix.lower(), None)
    if fmt == "JPEG" and u8.ndim == 3 and u8.shape[2] in (2, 4):
        raise ValueError(f"write_image: JPEG has no alpha channel; write {path.name} as .png")
    Image.fromarray(u8).save(buf, format=fmt or Image.registered_extensions().get(path.suffix.lower(), "PNG"),
            **({"quality": 95} if fmt == "JPEG" else {}))
    atomic_write_bytes(path, buf.getvalue())
    return path
