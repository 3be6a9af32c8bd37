"""IDX files: MNIST, Fashion-MNIST, KMNIST and EMNIST in their official format (``.gz`` or raw).

IDX layout (big-endian), as described on LeCun's MNIST page::

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4*d bytes   each dimension's size, uint32
    the rest    the data, C order, exactly prod(sizes) * itemsize bytes

:func:`read_idx` checks every one of these; corrupt input raises :class:`DatasetError` naming the file.
What it reads is bounded by the header: a file whose header declares more than ``max_bytes`` of data
is refused before any data is read, at most the declared bytes are decompressed, and bytes after them
are refused as soon as the first one arrives (the loaders pass the size of the largest official file).
Devices and FIFOs are refused unopened.
"""
from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zipfile
import zlib
from typing import BinaryIO

import numpy as np

from . import _locate
from ._bounded import GzipStream, describe_size, open_regular
from .errors import DatasetError

__all__ = ["read_idx", "load_mnist", "load_fashion_mnist", "load_kmnist", "load_emnist",
           "FASHION_MNIST_CLASSES", "KMNIST_CLASSES", "EMNIST_SUBSETS"]

#: IDX element-type codes -> big-endian NumPy dtypes.
IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}

#: Fashion-MNIST class names, index = label.
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
#: KMNIST (Kuzushiji-MNIST) class names (romanised hiragana), index = label.
KMNIST_CLASSES = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
#: EMNIST subsets -> number of classes (labels are 0..n-1, except ``letters``: 1..26).
EMNIST_SUBSETS = {"byclass": 62, "bymerge": 47, "balanced": 47, "letters": 27, "digits": 10, "mnist": 10}

_MAX_NDIM = 32
_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
#: Default ``max_bytes`` of :func:`read_idx`: above every MNIST-family file but EMNIST's by_class and
#: by_merge training images (547 MB; their loader passes their own size).
MAX_IDX_BYTES = 256 * 2**20
#: Compressed bytes accepted after the data (the gzip trailer, a little zero padding or empty members).
_GZIP_TAIL = 1 << 16
#: Unexpected trailing bytes counted for the message before giving up counting.
_TAIL_COUNT = 1 << 20


def read_idx(source: str | os.PathLike | BinaryIO, name: str | None = None,
             max_bytes: int | None = MAX_IDX_BYTES) -> np.ndarray:
    """Read one IDX file (gzip-compressed or raw; detected from the bytes, not the name).

    Parameters
    ----------
    source : path-like or binary file object
        The file (a regular file: devices and FIFOs are refused), or a readable and seekable file object
        (``open(p, 'rb')``, ``io.BytesIO``, a member opened from a zip).
    name : str, optional
        Name used in error messages (default: the path).
    max_bytes : int or None
        Largest data size accepted (prod(shape) * itemsize, as the header declares it), refused before
        any data is read; default :data:`MAX_IDX_BYTES` (256 MiB). ``None``: no limit.

    Returns
    -------
    ndarray
        Native-endian array of the shape and element type stored in the file (writable).

    Raises
    ------
    DatasetError
        Wrong magic number, unknown element type, more data declared than ``max_bytes``, truncated or
        over-long data, corrupt gzip stream, not a regular file.
    """
    return _read_idx(source, name, max_bytes, "max_bytes")


def _read_idx(source, name, max_bytes, limit_text) -> np.ndarray:
    """:func:`read_idx`, with ``limit_text`` saying where ``max_bytes`` comes from in its message."""
    if isinstance(source, (str, os.PathLike)):
        name = name or os.fspath(source)
        f, size = open_regular(source, "an IDX file", name=name)
        with f:
            return _read_idx_stream(f, name, max_bytes, limit_text, size)
    return _read_idx_stream(source, name or getattr(source, "name", None) or "<IDX stream>", max_bytes,
                            limit_text, None)


def _read_idx_stream(raw: BinaryIO, name: str, max_bytes, limit_text, size) -> np.ndarray:
    try:
        head = raw.read(2)
        raw.seek(-len(head), io.SEEK_CUR)
        compressed = head == _GZIP_MAGIC
        stream = GzipStream(raw, name) if compressed else raw
        return _parse(stream, name, compressed, max_bytes, limit_text, None if compressed else size)
    except DatasetError:
        raise
    except (EOFError, gzip.BadGzipFile, zlib.error, zipfile.BadZipFile) as exc:
        raise DatasetError(f"corrupt or truncated gzip data ({exc})", path=name) from exc
    except OSError as exc:
        raise DatasetError(f"cannot read the file ({exc})", path=name) from exc


def _read_exactly(stream, n: int) -> bytearray:
    """Read up to ``n`` bytes in chunks (for the header: a few bytes)."""
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(min(_CHUNK, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def _read_into(stream, out: np.ndarray) -> int:
    """Fill the uint8 array ``out`` from ``stream`` in chunks; the number of bytes read.

    ``out`` comes from ``np.empty``: the pages of a large one are only committed as they are written,
    so a header that declares more than the stream holds costs only what is really read.
    """
    n, pos = len(out), 0
    while pos < n:
        chunk = stream.read(min(_CHUNK, n - pos))
        if not chunk:
            break
        out[pos:pos + len(chunk)] = np.frombuffer(chunk, np.uint8)
        pos += len(chunk)
    return pos


def _parse(stream, name: str, compressed: bool, max_bytes=None, limit_text="max_bytes",
           size=None) -> np.ndarray:
    """Parse an IDX stream; ``size`` is the raw file's length when known (then nothing past it is read)."""
    what = "gzip-compressed IDX" if compressed else "IDX"
    magic = _read_exactly(stream, 4)
    if len(magic) < 4:
        raise DatasetError(f"file too short for an IDX header: {len(magic)} bytes, expected at least 4 "
                           f"({what})", path=name)
    if magic[0] != 0 or magic[1] != 0:
        raise DatasetError(f"wrong magic number 0x{bytes(magic).hex()}: an IDX file starts with 0x0000 "
                           f"followed by a type code and the number of dimensions (e.g. 0x00000803 for "
                           f"images, 0x00000801 for labels)", path=name)
    code, ndim = magic[2], magic[3]
    if code not in IDX_DTYPES:
        valid = ", ".join(f"0x{c:02X} ({d.name})" for c, d in IDX_DTYPES.items())
        raise DatasetError(f"unknown IDX element type 0x{code:02X}; expected one of {valid}", path=name)
    if not 1 <= ndim <= _MAX_NDIM:
        raise DatasetError(f"IDX header gives {ndim} dimensions; expected 1 to {_MAX_NDIM}", path=name)
    dims_raw = _read_exactly(stream, 4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise DatasetError(f"truncated IDX header: {ndim} dimensions need {4 * ndim} bytes of sizes, "
                           f"found {len(dims_raw)}", path=name)
    shape = struct.unpack(f">{ndim}I", bytes(dims_raw))
    dtype = IDX_DTYPES[code]
    n_bytes = dtype.itemsize * math.prod(shape)  # Python ints: no overflow
    if dtype.itemsize * math.prod(s for s in shape if s) > np.iinfo(np.intp).max:
        raise DatasetError(f"IDX header gives impossible sizes {shape}: larger than any array", path=name)
    header = 4 + 4 * ndim
    held = None if size is None else max(size - header, 0)
    needs = f"shape {shape} of {dtype.name} needs {n_bytes} bytes after the header"
    if held is not None and held < n_bytes:  # a raw file: its size alone says it is truncated
        raise DatasetError(f"truncated data: {needs}, the file holds only {held}", path=name)
    if max_bytes is not None and n_bytes > max_bytes:
        raise DatasetError(f"IDX header declares shape {shape} of {dtype.name}: {describe_size(n_bytes)} of "
                           f"data, more than {limit_text} = {describe_size(max_bytes)}", path=name)
    if held is not None and held > n_bytes:
        raise DatasetError(f"{held - n_bytes} unexpected bytes after the data: {needs}, exactly", path=name)
    try:
        data = np.empty(n_bytes, np.uint8)
    except MemoryError:
        raise DatasetError(f"IDX header declares shape {shape} of {dtype.name}: {describe_size(n_bytes)} of "
                           f"data, more than this machine can allocate", path=name) from None
    got = _read_into(stream, data)
    if got < n_bytes:
        raise DatasetError(f"truncated data: {needs}, the file holds only {got}", path=name)
    if compressed:
        stream.limit_input(_GZIP_TAIL, f"more than {_GZIP_TAIL} bytes of gzip data after the end of the IDX "
                                       f"data: {needs}, exactly, then the file ends")
    extra = stream.read(1) if held is None else b""
    if extra:
        rest = 1 + len(_read_exactly(stream, _TAIL_COUNT))
        count = f"{rest}" if rest <= _TAIL_COUNT else f"more than {_TAIL_COUNT}"
        raise DatasetError(f"{count} unexpected bytes after the data: {needs}, exactly", path=name)
    array = data.view(dtype).reshape(shape)
    if dtype.itemsize > 1:
        array = array.astype(dtype.newbyteorder("="))
    return array


# --------------------------------------------------------------------------------------------------------
# MNIST-family loaders

_SPLIT_PREFIX = {"train": "train", "test": "t10k"}
_TORCHVISION_FOLDER = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}


def _check_split(split):
    if split not in _SPLIT_PREFIX:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def _convert(images: np.ndarray, dtype) -> np.ndarray:
    """uint8 images -> the requested dtype: uint8 as stored, floats scaled to [0, 1]."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be 'uint8', 'float32' or 'float64', got {dtype!r}") from None
    if dt == np.uint8:
        return images
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be 'uint8', 'float32' or 'float64', got {dtype!r}")
    out = images.astype(dt)
    out *= dt.type(1.0 / 255.0)
    return out


#: Images in the largest official file of each MNIST-family dataset and split (EMNIST: per subset).
_MAX_IMAGES = {"mnist": {"train": 60000, "test": 10000}, "fashion-mnist": {"train": 60000, "test": 10000},
               "kmnist": {"train": 60000, "test": 10000}}
_EMNIST_MAX_IMAGES = {"byclass": (697932, 116323), "bymerge": (697932, 116323), "balanced": (112800, 18800),
                      "letters": (124800, 20800), "digits": (240000, 40000), "mnist": (60000, 10000)}


def _load_pair(image_src, label_src, image_name, label_name, n_classes, dtype, label_offset=0,
               max_images=None, what="the dataset"):
    """Images and labels read and checked; ``max_images`` bounds what the headers may declare."""
    if max_images is None:
        images = read_idx(image_src, name=image_name)
        labels = read_idx(label_src, name=label_name)
    else:
        limit = f"the {max_images} images of 28x28 pixels of {what}"
        images = _read_idx(image_src, image_name, max_images * 28 * 28, limit)
        labels = _read_idx(label_src, label_name, max_images, f"the {max_images} labels of {what}")
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DatasetError(f"expected images of shape (N, 28, 28), got {images.shape}", path=image_name)
    if images.dtype != np.uint8:
        raise DatasetError(f"expected uint8 images (IDX type 0x08), got {images.dtype}", path=image_name)
    if labels.ndim != 1:
        raise DatasetError(f"expected labels of shape (N,), got {labels.shape}", path=label_name)
    if labels.dtype != np.uint8:
        raise DatasetError(f"expected uint8 labels (IDX type 0x08), got {labels.dtype}", path=label_name)
    if len(images) != len(labels):
        raise DatasetError(f"image/label count mismatch: {len(images)} images in {image_name} but "
                           f"{len(labels)} labels in {label_name}", path=label_name)
    if len(labels) and (labels.min() < label_offset or labels.max() >= n_classes):
        raise DatasetError(f"labels out of range: found {labels.min()}..{labels.max()}, expected "
                           f"{label_offset}..{n_classes - 1}", path=label_name)
    return _convert(images, dtype), labels.astype(np.int64)


def _load_idx_dataset(dataset, split, path, dtype, download, n_classes):
    _check_split(split)
    prefix = _SPLIT_PREFIX[split]
    names = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
    # Raw (decompressed) copies are accepted too, under the same name without .gz or with LeCun's
    # original dot ("t10k-images.idx3-ubyte", as some unzip tools produce), and torchvision's layout
    # (<root>/MNIST/raw/...), so a folder torchvision downloaded into works as ``path``.
    tv = f"{_TORCHVISION_FOLDER[dataset]}/raw/"
    alternatives = {n: [n[:-3], n[:-3].replace("-idx", ".idx"), tv + n, tv + n[:-3]] for n in names}
    image_path, label_path = _locate.fetch(dataset, names, path=path, download=download,
                                           alternatives=alternatives)
    return _load_pair(image_path, label_path, str(image_path), str(label_path), n_classes, dtype,
                      max_images=_MAX_IMAGES[dataset][split], what=f"{dataset}'s {split} split")


def load_mnist(split: str = "train", path=None, dtype="float32", download: bool = True):
    """MNIST handwritten digits (LeCun, Cortes & Burges).

    Parameters
    ----------
    split : {'train', 'test'}
        60,000 training or 10,000 test images.
    path : path-like, optional
        Folder holding ``train-images-idx3-ubyte.gz`` etc. (``.gz`` or decompressed; torchvision's
        ``<path>/MNIST/raw/`` layout works too). Default: search
        ``$NNLITE_DATA/mnist``, ``~/.cache/nnlite/mnist``, ``/usr/share/datasets/mnist``.
    dtype : {'float32', 'float64', 'uint8'}
        Floats are scaled to [0, 1]; ``uint8`` gives the stored 0..255 values.
    download : bool
        Fetch missing files from the official mirror (MD5-checked) into ``path`` or the cache.

    Returns
    -------
    images : ndarray of shape (N, 28, 28)
    labels : ndarray of shape (N,), int64 in 0..9

    Raises
    ------
    DatasetError
        Files missing (the message lists the paths tried) or corrupt (it names the file and the problem).
    """
    return _load_idx_dataset("mnist", split, path, dtype, download, 10)


def load_fashion_mnist(split: str = "train", path=None, dtype="float32", download: bool = True):
    """Fashion-MNIST (Zalando Research): 28x28 grey clothing images, 10 classes.

    Same arguments and returns as :func:`load_mnist`; the folder is ``fashion-mnist``. Class names:
    :data:`FASHION_MNIST_CLASSES`.
    """
    return _load_idx_dataset("fashion-mnist", split, path, dtype, download, 10)


def load_kmnist(split: str = "train", path=None, dtype="float32", download: bool = True):
    """Kuzushiji-MNIST (ROIS-DS CODH): 28x28 cursive Japanese characters, 10 classes.

    Same arguments and returns as :func:`load_mnist`; the folder is ``kmnist``. Class names:
    :data:`KMNIST_CLASSES`.
    """
    return _load_idx_dataset("kmnist", split, path, dtype, download, 10)


def load_emnist(split: str = "train", subset: str = "balanced", path=None, dtype="float32",
                download: bool = True):
    """EMNIST (Cohen et al. 2017): handwritten letters and digits, 28x28.

    Files ``emnist-<subset>-<train|test>-<images-idx3|labels-idx1>-ubyte.gz`` are read from the folder
    (``.gz`` or decompressed), or straight out of NIST's ``gzip.zip`` when only that is present
    (downloaded when missing: 535 MB).

    The stored images are transposed relative to MNIST; they are returned upright (as torchvision does).

    Parameters
    ----------
    subset : {'byclass', 'bymerge', 'balanced', 'letters', 'digits', 'mnist'}
        See :data:`EMNIST_SUBSETS` for the number of classes. ``letters`` labels run 1..26 as published.
    split, path, dtype, download
        As in :func:`load_mnist`; the folder is ``emnist``.

    Returns
    -------
    images : ndarray of shape (N, 28, 28)
    labels : ndarray of shape (N,), int64
    """
    _check_split(split)
    if subset not in EMNIST_SUBSETS:
        raise ValueError(f"unknown EMNIST subset {subset!r}; valid subsets: {', '.join(EMNIST_SUBSETS)}")
    names = [f"emnist-{subset}-{split}-images-idx3-ubyte.gz", f"emnist-{subset}-{split}-labels-idx1-ubyte.gz"]
    dirs = _locate.search_dirs("emnist", path)
    hits = [_locate.find_file(dirs, [n, n[:-3]]) for n in names]
    offset = 1 if subset == "letters" else 0
    n_classes = EMNIST_SUBSETS[subset]
    max_images = _EMNIST_MAX_IMAGES[subset][split == "test"]
    what = f"EMNIST {subset}'s {split} split"
    if all(h is not None for h in hits):
        images, labels = _load_pair(hits[0], hits[1], str(hits[0]), str(hits[1]), n_classes, dtype, offset,
                                    max_images, what)
    else:
        (archive,) = _locate.fetch("emnist", ["gzip.zip"], path=path, download=download)
        f, _ = open_regular(archive, "NIST's EMNIST gzip.zip")
        try:
            with f, zipfile.ZipFile(f) as z:
                members = [f"gzip/{n}" for n in names]
                for m, limit in zip(members, (max_images * 28 * 28, max_images)):
                    try:
                        info = z.getinfo(m)
                    except KeyError:
                        raise DatasetError(f"archive has no member {m}", path=archive) from None
                    # a stored .gz is about as large as its content; anything far larger is not one
                    if info.file_size > 2 * limit + (1 << 20):
                        raise DatasetError(f"member {m} holds {describe_size(info.file_size)}; the compressed "
                                           f"file of {what} holds at most {describe_size(limit)} of data",
                                           path=archive)
                with z.open(members[0]) as fi, z.open(members[1]) as fl:
                    images, labels = _load_pair(fi, fl, f"{archive}:{members[0]}", f"{archive}:{members[1]}",
                                                n_classes, dtype, offset, max_images, what)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DatasetError(f"cannot read the zip archive ({exc})", path=archive) from exc
    return np.ascontiguousarray(images.transpose(0, 2, 1)), labels
