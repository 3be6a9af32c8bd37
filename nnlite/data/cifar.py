"""CIFAR-10 and CIFAR-100 in the official "python version" (Krizhevsky 2009).

Accepted on disk (searched as described in :mod:`nnlite.data._locate`, folders ``cifar-10`` / ``cifar-100``):

* ``cifar-10-python.tar.gz`` (read directly, nothing is extracted), or
* the extracted ``cifar-10-batches-py/`` folder, or ``path`` pointing into it.

Each batch file is a pickled dict: ``b'data'`` a uint8 array of shape (N, 3072) whose rows hold the red,
then green, then blue 32x32 plane, each row-major; ``b'labels'`` a list of N ints (CIFAR-100:
``b'fine_labels'`` and ``b'coarse_labels'``). ``batches.meta`` (CIFAR-100: ``meta``) holds the class names.

Security: pickles can run arbitrary code when loaded. These files are unpickled with
:class:`RestrictedUnpickler`, which resolves only the globals a NumPy array's pickle names
(``numpy.ndarray``, ``numpy.dtype``, ``numpy.core.multiarray._reconstruct``, ``numpy.core.numeric._frombuffer``;
``_codecs.encode`` for latin-1 bytes and argument-less ``bytes()``), and even those only to inert stand-ins
that record their arguments: no NumPy code runs on untrusted state. Once the pickle is read, each recorded array is
checked (a plain numeric type code, a byte order, a shape, exactly ``prod(shape) * itemsize`` bytes)
and only then built with ``numpy.frombuffer``. Any other global (``os.system``, ``builtins.eval``, ...)
raises :class:`DatasetError` before anything is called.

Bounded reading: each batch file (or archive member) is refused before it is read when it is larger
than the largest official one can be (its images at up to 2 bytes a pixel, as NumPy's protocol-2
pickles store them from Python 3, plus 256 bytes of labels and file name per image); the whole
archive is read through a cap on its decompressed size; devices and FIFOs are refused unopened; and the
containers of a pickle are rebuilt once each, however often the pickle refers to them.
"""
from __future__ import annotations

import bz2
import codecs
import io
import lzma
import math
import pickle
import tarfile
import zlib
from pathlib import Path

import numpy as np

from . import _locate
from ._bounded import CappedReader, GzipStream, describe_size, open_regular, read_all
from .errors import DatasetError
from .idx import _convert

__all__ = ["load_cifar10", "load_cifar100", "cifar10_class_names", "cifar100_class_names",
           "CIFAR10_CLASSES", "RestrictedUnpickler"]

#: CIFAR-10 class names, index = label (the content of ``batches.meta``).
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

#: Array element types a pickled batch may use (plain numbers only: no objects, records or strings).
_SAFE_TYPECODES = {"b1", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f2", "f4", "f8"}
_MAX_NDIM = 32


class _NdarrayClass:
    """Stand-in for the ``numpy.ndarray`` global (only ever passed to ``_reconstruct``)."""


class _DtypeStub:
    """Records ``numpy.dtype(spec, align, copy)`` and its state; validated later by :meth:`resolve`."""

    def __init__(self, spec=None, align=False, copy=False):
        self.spec, self.state = spec, None

    def __setstate__(self, state):
        self.state = state

    def resolve(self, name: str) -> np.dtype:
        spec = self.spec.decode("latin1") if isinstance(self.spec, bytes) else self.spec
        if spec not in _SAFE_TYPECODES:
            raise DatasetError(f"unsupported array element type {spec!r} in the pickle; expected one of "
                               f"{sorted(_SAFE_TYPECODES)}", path=name)
        order = self.state[1] if isinstance(self.state, tuple) and len(self.state) > 1 else "|"
        order = order.decode("latin1") if isinstance(order, bytes) else order
        if order not in ("<", ">", "|", "="):
            raise DatasetError(f"bad byte order {order!r} for array type {spec}", path=name)
        dtype = np.dtype(spec)
        return dtype.newbyteorder(order) if order in "<>" else dtype


class _ArrayStub:
    """Records an ndarray's (shape, dtype, order, raw bytes); built by :meth:`resolve` after checks."""

    def __init__(self, shape=None, dtype=None, data=None, order="C"):
        self.shape, self.dtype, self.data, self.order = shape, dtype, data, order

    def __setstate__(self, state):
        # ndarray.__reduce__ state: (version, shape, dtype, is_fortran, raw bytes); version-less in old pickles
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]
        if not (isinstance(state, tuple) and len(state) == 4):
            raise pickle.UnpicklingError("malformed ndarray state")
        self.shape, self.dtype, fortran, self.data = state
        self.order = "F" if fortran else "C"

    def resolve(self, name: str) -> np.ndarray:
        if not isinstance(self.dtype, _DtypeStub):
            raise DatasetError("malformed array in the pickle: no dtype", path=name)
        dtype = self.dtype.resolve(name)
        shape = self.shape
        if not (isinstance(shape, tuple) and len(shape) <= _MAX_NDIM
                and all(isinstance(s, int) and s >= 0 for s in shape)):
            raise DatasetError(f"malformed array shape {shape!r} in the pickle", path=name)
        data = self.data
        if isinstance(data, pickle.PickleBuffer):
            data = bytes(data)
        if not isinstance(data, (bytes, bytearray)):
            raise DatasetError(f"array data must be bytes, got {type(data).__name__}", path=name)
        expected = math.prod(shape) * dtype.itemsize
        if len(data) != expected:
            raise DatasetError(f"array of shape {shape} and type {dtype} needs {expected} bytes, the pickle "
                               f"holds {len(data)}", path=name)
        order = self.order.decode("latin1") if isinstance(self.order, bytes) else self.order
        if order not in ("C", "F"):
            raise DatasetError(f"bad array order {order!r}", path=name)
        array = np.frombuffer(data, dtype=dtype).reshape(shape, order=order)
        return array.astype(dtype.newbyteorder("="), order="C")  # native, writable copy


def _reconstruct_stub(subtype, shape, typecode):
    """Stand-in for ``numpy.core.multiarray._reconstruct``: the array is filled in by ``__setstate__``."""
    if subtype is not _NdarrayClass:
        raise pickle.UnpicklingError("_reconstruct of something other than numpy.ndarray")
    return _ArrayStub()


def _frombuffer_stub(buf, dtype, shape, order):
    """Stand-in for ``numpy.core.numeric._frombuffer`` (arrays pickled with protocol 5)."""
    return _ArrayStub(shape, dtype, buf, order)


def _latin1_encode(text, encoding="latin1"):
    """``_codecs.encode`` as protocol-2 pickles use it for bytes; only latin-1 is honoured."""
    if not isinstance(text, str) or not isinstance(encoding, str) \
            or encoding.replace("-", "").replace("_", "").lower() not in ("latin1", "iso88591"):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return codecs.encode(text, "latin1")


def _empty_bytes(*args):
    """``bytes()`` as protocol 0-2 pickles write an empty byte string; any argument is refused."""
    if args:
        raise pickle.UnpicklingError("refusing bytes() with arguments")
    return b""


_ALLOWED = {
    ("__builtin__", "bytes"): _empty_bytes,
    ("builtins", "bytes"): _empty_bytes,
    ("numpy", "ndarray"): _NdarrayClass,
    ("numpy", "dtype"): _DtypeStub,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct_stub,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct_stub,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer_stub,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer_stub,
    ("_codecs", "encode"): _latin1_encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that builds only plain containers and (checked) NumPy arrays.

    Dicts, lists, tuples, str, bytes, ints and floats need no globals. The few globals of a NumPy
    array's pickle resolve to inert stand-ins (see the module docstring); :meth:`load` then turns them
    into arrays after validating them. Any other global raises :class:`DatasetError` naming it and the file.

    Parameters
    ----------
    file : binary file object
        The pickle.
    name : str
        Name used in messages.
    max_array_bytes : int, optional
        Most bytes all arrays together may hold once built, and most bytes ``_codecs.encode`` may make.
        Default: the size of ``file`` when it is an ``io.BytesIO`` (each array's bytes are in the pickle
        once; arrays built again and again on one shared string could otherwise multiply it), else no limit.
    """

    def __init__(self, file, name: str = "<pickle>", max_array_bytes: int | None = None):
        super().__init__(file, encoding="bytes")
        self._name = name
        if max_array_bytes is None and isinstance(file, io.BytesIO):
            max_array_bytes = file.getbuffer().nbytes
        self._max_array_bytes = self._encode_left = max_array_bytes

    def _encode(self, text, encoding="latin1"):
        """``_codecs.encode``, charged to ``max_array_bytes``: a pickle may encode one string many times."""
        if self._encode_left is not None:
            self._encode_left -= len(text) if isinstance(text, str) else 0
            if self._encode_left < 0:
                raise DatasetError("the pickle encodes more bytes than it holds: one string encoded again and "
                                   "again", path=self._name)
        return _latin1_encode(text, encoding)

    def find_class(self, module, name):
        if (module, name) == ("_codecs", "encode"):
            return self._encode
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise DatasetError(f"refusing to unpickle global {module}.{name}: a CIFAR batch holds only dicts, "
                               f"lists, bytes and NumPy arrays (possibly a malicious file)",
                               path=self._name) from None

    def load(self):
        return _Rebuild(self._name, self._max_array_bytes)(super().load(), 0)


class _Rebuild:
    """Replace the stand-ins inside plain containers by validated arrays / dtypes.

    Each container and stand-in is rebuilt once, remembered by ``id``, and shared where the pickle
    shares it: a pickle can refer to one list many times (``b = [a, a]; c = [b, b]; ...``), and
    rebuilding each reference anew would take time exponential in the depth. The arrays built may hold
    ``max_array_bytes`` in all.
    """

    def __init__(self, name: str, max_array_bytes: int | None):
        self.name, self.left, self.done = name, max_array_bytes, {}

    def __call__(self, obj, depth: int):
        if depth > 50:
            raise DatasetError("pickle nested too deeply for a CIFAR batch", path=self.name)
        if obj is _NdarrayClass:
            raise DatasetError("stray numpy.ndarray reference in the pickle", path=self.name)
        if not isinstance(obj, (dict, list, tuple, _ArrayStub, _DtypeStub)):
            return obj
        seen = self.done.get(id(obj))
        if seen is not None:
            return seen[1]
        if isinstance(obj, (_ArrayStub, _DtypeStub)):
            out = obj.resolve(self.name)
            if isinstance(out, np.ndarray) and self.left is not None:
                self.left -= out.nbytes
                if self.left < 0:
                    raise DatasetError("the arrays in the pickle hold more bytes than the pickle itself: "
                                       "several arrays built on one shared string of bytes", path=self.name)
        elif isinstance(obj, dict):
            out = {self(k, depth + 1): self(v, depth + 1) for k, v in obj.items()}
        elif isinstance(obj, list):
            out = [self(v, depth + 1) for v in obj]
        else:
            out = tuple(self(v, depth + 1) for v in obj)
        self.done[id(obj)] = (obj, out)  # obj kept alive, so its id stays its own
        return out


def _unpickle(data: bytes, name: str):
    try:
        return RestrictedUnpickler(io.BytesIO(data), name).load()
    except DatasetError:
        raise
    except Exception as exc:  # any parse failure of a corrupt pickle; no code can have run
        raise DatasetError(f"not a valid pickle ({type(exc).__name__}: {exc})", path=name) from exc


def _as_str_keys(obj, name: str) -> dict:
    if not isinstance(obj, dict):
        raise DatasetError(f"expected a pickled dict, got {type(obj).__name__}", path=name)
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _parse_batch(data: bytes, name: str, label_key: str, n_classes: int):
    """One pickled batch -> (uint8 images (N, 3, 32, 32), int64 labels (N,))."""
    d = _as_str_keys(_unpickle(data, name), name)
    for key in ("data", label_key):
        if key not in d:
            raise DatasetError(f"missing key b'{key}' (keys found: {sorted(d, key=repr)})", path=name)
    images = d["data"]
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2 \
            or images.shape[1] != 3072:
        desc = (f"{images.dtype} array of shape {images.shape}" if isinstance(images, np.ndarray)
                else type(images).__name__)
        raise DatasetError(f"b'data' must be a uint8 array of shape (N, 3072), got {desc}", path=name)
    raw = d[label_key]
    if isinstance(raw, (list, tuple)) and not all(isinstance(v, int) for v in raw):
        # checked before np.asarray, which would walk (and multiply) nested lists
        bad = next(v for v in raw if not isinstance(v, int))
        raise DatasetError(f"b'{label_key}' must be a list of N ints, got a {type(bad).__name__} among them",
                           path=name)
    try:
        labels = np.asarray(raw)
    except Exception as exc:
        raise DatasetError(f"b'{label_key}' is not a list of ints ({exc})", path=name) from exc
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DatasetError(f"b'{label_key}' must be a list of N ints, got {labels.dtype} values of shape "
                           f"{labels.shape}", path=name)
    if len(labels) != len(images):
        raise DatasetError(f"image/label count mismatch: {len(images)} rows in b'data' but {len(labels)} "
                           f"entries in b'{label_key}'", path=name)
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise DatasetError(f"labels out of range: found {labels.min()}..{labels.max()}, expected "
                           f"0..{n_classes - 1}", path=name)
    return images.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _parse_names(data: bytes, name: str, key: str) -> list[str]:
    d = _as_str_keys(_unpickle(data, name), name)
    if key not in d:
        raise DatasetError(f"missing key b'{key}' (keys found: {sorted(d, key=repr)})", path=name)
    names = d[key]
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, (bytes, str)) for n in names):
        raise DatasetError(f"b'{key}' must be a list of strings, got {type(names).__name__}", path=name)
    return [n.decode("utf-8") if isinstance(n, bytes) else n for n in names]


# --------------------------------------------------------------------------------------------------------
# Finding and reading the files

_SPECS = {
    # dataset -> (archive name, extracted folder, {split: batch files}, meta file, classes per label mode)
    "cifar-10": ("cifar-10-python.tar.gz", "cifar-10-batches-py",
                 {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]},
                 "batches.meta", {"labels": 10}),
    "cifar-100": ("cifar-100-python.tar.gz", "cifar-100-python",
                  {"train": ["train"], "test": ["test"]}, "meta", {"fine_labels": 100, "coarse_labels": 20}),
}
#: Images in each official batch file, by dataset and split.
_IMAGES_PER_FILE = {"cifar-10": {"train": 10000, "test": 10000}, "cifar-100": {"train": 50000, "test": 10000}}
#: Most bytes a pickled batch spends per image: 3072 pixels at up to 2 bytes each (NumPy's protocol-2
#: pickles written by Python 3 store the pixels as a latin-1 string in UTF-8), labels and a file name.
_BYTES_PER_IMAGE = 2 * 3072 + 256
_META_MAX = 1 << 20
#: Decompressed bytes allowed in an archive beyond its batch and meta files (readme, tar headers).
_ARCHIVE_SLACK = 16 << 20
#: Largest single record tarfile may read (a PAX or GNU long-name header); real ones are a few hundred bytes.
_TAR_MAX_RECORD = 1 << 20


def _file_caps(dataset: str) -> dict[str, int]:
    """Largest size each file of ``dataset`` can have, by file name."""
    _, _, splits, meta, _ = _SPECS[dataset]
    caps = {n: _IMAGES_PER_FILE[dataset][split] * _BYTES_PER_IMAGE + (1 << 20)
            for split, files in splits.items() for n in files}
    caps[meta] = _META_MAX
    return caps


def _find_source(dataset: str, path, download: bool) -> Path:
    """The extracted folder or the .tar.gz holding ``dataset``, downloading the archive if needed."""
    archive, folder, splits, meta, _ = _SPECS[dataset]
    for d in _locate.search_dirs(dataset, path):
        if (d / folder).is_dir():
            return d / folder
        if _locate.present(d / meta) or _locate.present(d / splits["test"][0]):
            return d
        if _locate.present(d / archive):
            return d / archive
    hint = f"(The extracted folder {folder}/ is accepted instead of {archive}.)"
    (found,) = _locate.fetch(dataset, [archive], path=path, download=download, hint=hint)
    return found


def _decompressed(f, name: str):
    """A ``read(n)`` stream of the tar inside ``f``: gzip (the official), bzip2, xz or none."""
    head = f.read(6)
    f.seek(0)
    if head[:2] == b"\x1f\x8b":
        return GzipStream(f, name)
    if head[:3] == b"BZh":
        return bz2.BZ2File(f)
    if head == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(f)
    return f


def _read_members(source: Path, names: list[str], dataset: str = "cifar-10") -> dict[str, tuple[bytes, str]]:
    """Bytes of each named batch file, from a folder or straight out of the tar archive.

    No file is read that is larger than the largest official one (:func:`_file_caps`); the archive is
    read through a :class:`CappedReader` bounded by the sum of those sizes.
    """
    label = dataset.upper()
    caps = _file_caps(dataset)
    out = {}
    if source.is_dir():
        for n in names:
            p = source / n
            if not _locate.present(p):
                raise DatasetError(f"missing batch file {n} (expected in the extracted folder)", path=p)
            out[n] = (read_all(p, f"{label}'s {n}", caps[n]), str(p))
        return out
    wanted = set(names)
    f, _ = open_regular(source, f"the {label} archive")
    try:
        with f:
            stream = CappedReader(_decompressed(f, str(source)), sum(caps.values()) + _ARCHIVE_SLACK,
                                  _TAR_MAX_RECORD, str(source), f"the {label} archive")
            with tarfile.open(fileobj=stream, mode="r:") as tar:
                for member in tar:  # one forward pass; nothing is written to disk
                    base = member.name.rsplit("/", 1)[-1]
                    if member.isfile() and base in wanted and base not in out:
                        where = f"{source}:{member.name}"
                        if member.size > caps[base]:
                            raise DatasetError(f"archive member {member.name} holds "
                                               f"{describe_size(member.size)}; {label}'s {base} holds at most "
                                               f"{describe_size(caps[base])}", path=source)
                        out[base] = (_read_member(tar.extractfile(member), member.size), where)
                        if len(out) == len(wanted):
                            break
    except DatasetError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError, lzma.LZMAError) as exc:
        raise DatasetError(f"corrupt or truncated archive ({type(exc).__name__}: {exc})", path=source) from exc
    missing = [n for n in names if n not in out]
    if missing:
        raise DatasetError(f"archive has no member(s) {', '.join(missing)}", path=source)
    return out


def _read_member(f, size: int) -> bytes:
    """A tar member's ``size`` bytes, in chunks (tarfile would otherwise ask for them in one read)."""
    chunks, got = [], 0
    while got < size:
        chunk = f.read(min(1 << 20, size - got))
        if not chunk:
            raise EOFError(f"member ends after {got} of its {size} bytes")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _layout(images: np.ndarray, layout: str) -> np.ndarray:
    if layout == "NCHW":
        return images
    if layout == "NHWC":
        return np.ascontiguousarray(images.transpose(0, 2, 3, 1))
    raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")


def _load(dataset, split, path, layout, dtype, download, label_key):
    archive, folder, splits, meta, classes = _SPECS[dataset]
    if split not in splits:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if layout not in ("NCHW", "NHWC"):
        raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")
    _convert(np.zeros(0, np.uint8), dtype)  # validate dtype before reading 170 MB
    members = _read_members(_find_source(dataset, path, download), splits[split], dataset)
    parts = [_parse_batch(data, name, label_key, classes[label_key]) for data, name in members.values()]
    images = parts[0][0] if len(parts) == 1 else np.concatenate([p[0] for p in parts])
    labels = parts[0][1] if len(parts) == 1 else np.concatenate([p[1] for p in parts])
    return _convert(_layout(images, layout), dtype), labels


def load_cifar10(split: str = "train", path=None, layout: str = "NCHW", dtype="float32",
                 download: bool = True):
    """CIFAR-10: 32x32 colour images in 10 classes (50,000 train, 10,000 test).

    Parameters
    ----------
    split : {'train', 'test'}
        ``train`` concatenates ``data_batch_1`` .. ``data_batch_5`` in order.
    path : path-like, optional
        Folder holding ``cifar-10-python.tar.gz`` or ``cifar-10-batches-py/`` (or that folder itself).
        Default: search ``$NNLITE_DATA/cifar-10``, ``~/.cache/nnlite/cifar-10``, ``/usr/share/datasets/cifar-10``.
    layout : {'NCHW', 'NHWC'}
        ``NCHW`` (as stored, PyTorch's order) or channels-last ``NHWC`` (for plotting, Keras).
    dtype : {'float32', 'float64', 'uint8'}
        Floats are scaled to [0, 1].
    download : bool
        Fetch the 163 MB archive (MD5-checked) when it is nowhere to be found.

    Returns
    -------
    images : ndarray of shape (N, 3, 32, 32) or (N, 32, 32, 3), channels R, G, B
    labels : ndarray of shape (N,), int64 in 0..9; names: :func:`cifar10_class_names` / :data:`CIFAR10_CLASSES`
    """
    return _load("cifar-10", split, path, layout, dtype, download, "labels")


def load_cifar100(split: str = "train", path=None, layout: str = "NCHW", dtype="float32",
                  label_mode: str = "fine", download: bool = True):
    """CIFAR-100: 32x32 colour images, 100 fine classes grouped in 20 coarse ones.

    Same as :func:`load_cifar10` (files ``cifar-100-python.tar.gz`` or ``cifar-100-python/``, folder
    ``cifar-100``), plus ``label_mode``: ``'fine'`` (0..99) or ``'coarse'`` (0..19).
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"label_mode must be 'fine' or 'coarse', got {label_mode!r}")
    return _load("cifar-100", split, path, layout, dtype, download, f"{label_mode}_labels")


def cifar10_class_names(path=None, download: bool = True) -> list[str]:
    """The 10 class names read from ``batches.meta`` (index = label), found as for :func:`load_cifar10`."""
    (data, name), = _read_members(_find_source("cifar-10", path, download), ["batches.meta"], "cifar-10").values()
    return _parse_names(data, name, "label_names")


def cifar100_class_names(path=None, label_mode: str = "fine", download: bool = True) -> list[str]:
    """The 100 fine (or 20 coarse) class names read from CIFAR-100's ``meta`` file (index = label)."""
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"label_mode must be 'fine' or 'coarse', got {label_mode!r}")
    (data, name), = _read_members(_find_source("cifar-100", path, download), ["meta"], "cifar-100").values()
    return _parse_names(data, name, f"{label_mode}_label_names")
