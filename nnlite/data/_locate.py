"""Where dataset files are found, and how they are downloaded when they are not.

Search order for a dataset whose folder name is ``<folder>`` (``mnist``, ``fashion-mnist``, ``cifar-10``, ...):

1. ``path``, when the caller gives one: the folder that holds the dataset's files. Only that folder is
   searched, and a download (if any) goes there.
2. ``$NNLITE_DATA/<folder>``, when the environment variable ``NNLITE_DATA`` is set.
3. ``~/.cache/nnlite/<folder>`` (``$XDG_CACHE_HOME/nnlite/<folder>`` when that variable is set): where
   downloads go.
4. ``/usr/share/datasets/<folder>`` (Debian's ``dataset-fashion-mnist`` package installs there).

When a file is in none of them and ``download=True``, it is fetched from the dataset's official mirror
(``urllib``; the next mirror is tried when one fails), with a progress bar on stderr, verified against the
published MD5 in :data:`DATASETS`, written to a temporary file and renamed into place only once it checks
out. With no network the error lists every path tried and which files to put where.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ._bounded import open_regular
from .errors import DatasetError

__all__ = ["RemoteFile", "DatasetInfo", "DATASETS", "data_home", "search_dirs", "present", "find_file", "fetch",
           "download_dir", "download_file", "file_md5"]

#: Indirection so tests can serve local bytes instead of touching the network.
_urlopen = urllib.request.urlopen

_CHUNK = 1 << 16


@dataclass(frozen=True)
class RemoteFile:
    """One published file of a dataset.

    Attributes
    ----------
    name : str
        File name as published (and as stored on disk).
    md5 : str
        MD5 of the published file; a download is accepted only if it matches.
    urls : tuple of str
        Full download URLs, tried in order.
    content_md5 : str or None
        For ``.gz`` files, MD5 of the decompressed content when known: re-compressed copies (Debian's
        Fashion-MNIST) have another ``md5`` but the same ``content_md5``.
    """

    name: str
    md5: str
    urls: tuple[str, ...]
    content_md5: str | None = None


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset's folder name, home page and published files."""

    name: str
    folder: str
    homepage: str
    files: dict[str, RemoteFile] = field(default_factory=dict)


def _files(mirrors, table):
    return {name: RemoteFile(name, md5, tuple(m + name for m in mirrors), content)
            for name, md5, content in table}


_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
_KMNIST_MIRRORS = ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",)
_EMNIST_MIRRORS = ("https://biometrics.nist.gov/cs_links/EMNIST/",)
_CIFAR_MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)

#: Registry of the datasets nnlite can fetch, keyed by name. MD5s are the published ones (the same
#: table torchvision uses); ``content_md5`` values were computed from the genuine files on this machine.
DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", "mnist", "http://yann.lecun.com/exdb/mnist/", _files(_MNIST_MIRRORS, [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", None),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", None),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", "2646ac647ad5339dbf082846283269ea"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", "27ae3e4e09519cfbb04c329615203637"),
    ])),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist", "fashion-mnist", "https://github.com/zalandoresearch/fashion-mnist",
        _files(_FASHION_MIRRORS, [
            ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
            ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", "9018921c3c673c538a1fc5bad174d6f9"),
            ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", "8181f5470baa50b63fa0f6fddb340f0a"),
            ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", "15d484375f8d13e6eb1aabb0c3f46965"),
        ])),
    "kmnist": DatasetInfo("kmnist", "kmnist", "https://github.com/rois-codh/kmnist", _files(_KMNIST_MIRRORS, [
        ("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7", None),
        ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344", None),
        ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7", None),
        ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134", None),
    ])),
    # EMNIST is published as one 535 MB zip holding every split's .gz files under gzip/.
    "emnist": DatasetInfo("emnist", "emnist", "https://www.nist.gov/itl/products-and-services/emnist-dataset",
                          _files(_EMNIST_MIRRORS, [("gzip.zip", "58c8d27c78d21e728a6bc7b3cc06412e", None)])),
    "cifar-10": DatasetInfo("cifar-10", "cifar-10", "https://www.cs.toronto.edu/~kriz/cifar.html",
                            _files(_CIFAR_MIRRORS, [
                                ("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a", None)])),
    "cifar-100": DatasetInfo("cifar-100", "cifar-100", "https://www.cs.toronto.edu/~kriz/cifar.html",
                             _files(_CIFAR_MIRRORS, [
                                 ("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85", None)])),
}


def _info(dataset: str) -> DatasetInfo:
    try:
        return DATASETS[dataset]
    except KeyError:
        raise ValueError(f"unknown dataset {dataset!r}; known datasets: {', '.join(sorted(DATASETS))}") from None


def data_home() -> Path:
    """The download cache: ``$XDG_CACHE_HOME/nnlite`` or ``~/.cache/nnlite``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nnlite"


def search_dirs(dataset: str, path: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for ``dataset``'s files, in order (see the module docstring)."""
    if path is not None:
        return [Path(path).expanduser()]
    folder = _info(dataset).folder
    dirs = []
    if os.environ.get("NNLITE_DATA"):
        dirs.append(Path(os.environ["NNLITE_DATA"]).expanduser() / folder)
    dirs.append(data_home() / folder)
    dirs.append(Path("/usr/share/datasets") / folder)
    return dirs


def download_dir(dataset: str, path: str | os.PathLike | None = None) -> Path:
    """Where a missing file of ``dataset`` is downloaded to: ``path`` if given, else the cache."""
    return Path(path).expanduser() if path is not None else data_home() / _info(dataset).folder


def present(path: Path) -> bool:
    """Whether something other than a folder is at ``path`` (following symlinks).

    A device or FIFO named like a dataset file counts as present, so that its reader refuses it by name
    instead of a download silently replacing it.
    """
    return path.exists() and not path.is_dir()


def find_file(dirs: list[Path], names: list[str]) -> Path | None:
    """The first ``dir / name`` that is :func:`present`, trying every name in every folder in order; else None."""
    for d in dirs:
        for name in names:
            candidate = d / name
            if present(candidate):
                return candidate
    return None


def fetch(dataset: str, filenames: list[str], path=None, download: bool = True,
          alternatives: dict[str, list[str]] | None = None, progress: bool = True,
          hint: str = "") -> list[Path]:
    """Find (or download) every file in ``filenames`` for ``dataset`` and return their paths.

    Parameters
    ----------
    dataset : str
        Key of :data:`DATASETS`.
    filenames : list of str
        Published file names.
    path : path-like, optional
        The folder holding the files; only that folder is searched.
    download : bool
        Fetch missing files from the official mirrors into :func:`download_dir`.
    alternatives : dict, optional
        For a file name, other names accepted on disk instead (e.g. the decompressed ``.gz``).
    hint : str, optional
        Extra line for the error message (e.g. other accepted layouts).

    Raises
    ------
    DatasetError
        A file is missing and could not be downloaded; the message lists the paths tried.
    """
    info = _info(dataset)
    alternatives = alternatives or {}
    dirs = search_dirs(dataset, path)
    found: dict[str, Path] = {}
    for name in filenames:
        hit = find_file(dirs, [name, *alternatives.get(name, [])])
        if hit is not None:
            found[name] = hit
    missing = [n for n in filenames if n not in found]
    problems = []
    if missing and download:
        dest = download_dir(dataset, path)
        for name in missing:
            if name not in info.files:
                problems.append(f"{name}: no official download for this file")
                continue
            try:
                found[name] = download_file(info.files[name], dest, progress=progress)
            except DatasetError as exc:
                problems.append(str(exc))
    still = [n for n in filenames if n not in found]
    if still:
        message = _missing_message(info, still, dirs, download, problems, path)
        raise DatasetError(message + (f"\n{hint}" if hint else ""))
    return [found[n] for n in filenames]


def _missing_message(info, missing, dirs, download, problems, path):
    lines = [f"{info.name}: could not find {', '.join(missing)}.", "Looked in:"]
    lines += [f"  {d}" for d in dirs]
    if not download:
        lines.append("Downloading is off (download=False).")
    elif problems:
        lines.append("Download failed:")
        lines += [f"  {p}" for p in problems]
    where = dirs[0] if path is not None else (data_home() / info.folder)
    lines.append(f"Put the files into {where}"
                 + ("" if path is not None else f" (or into $NNLITE_DATA/{info.folder})") + ":")
    for name in missing:
        remote = info.files.get(name)
        lines.append(f"  {name}" + (f"  from {remote.urls[0]} (md5 {remote.md5})" if remote else ""))
    lines.append(f"Dataset home page: {info.homepage}")
    return "\n".join(lines)


def file_md5(path: str | os.PathLike) -> str:
    """Hex MD5 of a regular file, read in chunks (a device or FIFO raises DatasetError)."""
    h = hashlib.md5()
    f, _ = open_regular(path, "a dataset file")
    with f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _Progress:
    """A one-line progress bar on stderr: ``name  45% [#########...........]  11.9/26.4 MB``."""

    def __init__(self, name: str, total: int | None, stream=None, width: int = 30):
        self.name, self.total, self.width = name, total, width
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self._last = -1

    def update(self, n: int):
        self.done += n
        if self.total:
            pct = min(100, int(100 * self.done / self.total))
            if pct == self._last:
                return
            self._last = pct
            fill = self.width * pct // 100
            bar = "#" * fill + "." * (self.width - fill)
            self.stream.write(f"\r{self.name} {pct:3d}% [{bar}] {self.done / 1e6:.1f}/{self.total / 1e6:.1f} MB")
        else:
            mb = int(self.done / 1e6)
            if mb == self._last:
                return
            self._last = mb
            self.stream.write(f"\r{self.name} {self.done / 1e6:.1f} MB")
        self.stream.flush()

    def close(self):
        self.stream.write("\n")
        self.stream.flush()


def download_file(remote: RemoteFile, dest_dir: str | os.PathLike, progress: bool = True,
             timeout: float = 60.0) -> Path:
    """Download ``remote`` into ``dest_dir`` and return the final path.

    Each URL is tried in order. The bytes go to a temporary file in ``dest_dir`` while their MD5 is
    computed; only a file whose MD5 matches ``remote.md5`` is renamed (atomically) to its final name, so
    an interrupted or corrupted download never leaves a file that looks complete.

    Raises
    ------
    DatasetError
        Every URL failed (network error, HTTP error or checksum mismatch); the message lists each failure.
    """
    dest_dir = Path(dest_dir)
    final = dest_dir / remote.name
    failures = []
    for url in remote.urls:
        try:
            dest_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatasetError(f"cannot create the download folder: {exc}", path=dest_dir) from exc
        fd, tmp = tempfile.mkstemp(prefix=f".{remote.name}.", suffix=".part", dir=dest_dir)
        try:
            with os.fdopen(fd, "wb") as out:
                md5 = _stream(url, out, remote.name, progress, timeout)
            if md5 != remote.md5:
                failures.append(f"{url}: checksum mismatch: got md5 {md5}, expected {remote.md5}")
                continue
            os.replace(tmp, final)
            return final
        except (urllib.error.URLError, OSError, ValueError) as exc:  # HTTPError is a URLError
            failures.append(f"{url}: {exc}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise DatasetError(f"could not download {remote.name}: " + "; ".join(failures), path=final)


def _stream(url, out, name, progress, timeout) -> str:
    """Copy ``url`` into the open file ``out``; return the MD5 of what was written."""
    h = hashlib.md5()
    with _urlopen(url, timeout=timeout) as response:
        total = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
        bar = _Progress(name, int(total) if total and str(total).isdigit() else None) if progress else None
        try:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                h.update(chunk)
                out.write(chunk)
                if bar:
                    bar.update(len(chunk))
        finally:
            if bar:
                bar.close()
    return h.hexdigest()
