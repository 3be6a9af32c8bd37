"""Every data set by name: ``load_dataset("fashion-mnist", split="test")`` or a folder of images.

>>> from nnlite.data import load_dataset
>>> ds = load_dataset("font5x7")
>>> ds.images.shape, ds.labels[:3], ds.class_names[:3]
((32, 7, 5), array([0, 1, 2]), ['`', 'a', 'b'])

The images come as displayable pictures: ``(N, H, W)`` grey or ``(N, H, W, 3)`` colour, float32 in
[0, 1], whatever the loader's own layout. A model that takes ``(N, C, H, W)`` gets them through
:func:`nnlite.images.to_nchw`.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .errors import DatasetError

__all__ = ["Dataset", "load_dataset", "DATASETS", "LUMA_WEIGHTS"]

#: ITU-R BT.601 luma: grey = 0.299 R + 0.587 G + 0.114 B.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class Dataset:
    """Images with their labels, as :func:`load_dataset` returns them.

    Attributes
    ----------
    images : ndarray of float32, shape ``(N, H, W)`` or ``(N, H, W, 3)``, values in [0, 1]
    labels : ndarray of int, shape ``(N,)``, or None
        The class of each image (for the bitmaps: the index of the glyph or emoji).
    class_names : list of str, or None
        ``class_names[labels[i]]`` names image ``i``'s class.
    name : str
        The name it was loaded by.
    ink : bool
        Drawn as dark ink on paper (the bitmaps, MNIST-like digits and clothes: 1 = ink), rather than
        as a photograph.
    skipped : list of (str, str)
        For a folder: the files that could not be read, with the reason (each also warned about).
    """

    images: np.ndarray
    labels: np.ndarray | None
    class_names: list | None
    name: str
    ink: bool = False
    skipped: list = field(default_factory=list)

    def __len__(self):
        return len(self.images)


def _font5x7(split):
    from .bitmaps import load_font5x7

    X, chars = load_font5x7(flatten=False)
    return X, np.arange(len(X)), list(chars)


def _emoji12(split):
    from .bitmaps import load_emoji12

    X, names = load_emoji12(flatten=False)
    return X, np.arange(len(X)), list(names)


def _mnist(split):
    from .idx import load_mnist

    X, y = load_mnist(split=split)
    return X, y, [str(d) for d in range(10)]


def _fashion_mnist(split):
    from .idx import FASHION_MNIST_CLASSES, load_fashion_mnist

    X, y = load_fashion_mnist(split=split)
    return X, y, list(FASHION_MNIST_CLASSES)


def _cifar10(split):
    from .cifar import CIFAR10_CLASSES, load_cifar10

    X, y = load_cifar10(split=split, layout="NHWC")
    return X, y, list(CIFAR10_CLASSES)


#: name -> (loader ``split -> (images, labels, class_names)``, drawn as ink, description)
DATASETS: dict[str, tuple[Callable, bool, str]] = {
    "font5x7": (_font5x7, True, "the 32 glyphs of a 5x7 bitmap font (built in)"),
    "emoji12": (_emoji12, True, "12x12 emojis (built in)"),
    "mnist": (_mnist, True, "MNIST handwritten digits, 28x28"),
    "fashion-mnist": (_fashion_mnist, True, "Fashion-MNIST clothes, 28x28"),
    "cifar10": (_cifar10, False, "CIFAR-10 photographs, 32x32 colour"),
}

#: Side of the square that images of a folder are resized and cropped to when no ``size`` is given.
DEFAULT_FOLDER_SIZE = 32


def _check_positive(name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"load_dataset: {name} must be an int >= 1 or None, got {value!r}")
    return int(value)


def load_dataset(name, split: str = "train", limit: int | None = None, size: int | None = None,
                 grey: bool = False) -> Dataset:
    """Load a data set by name (one of :data:`DATASETS`) or a folder of PNG/JPEG images.

    Parameters
    ----------
    name : str or path-like
        ``'font5x7'``, ``'emoji12'``, ``'mnist'``, ``'fashion-mnist'``, ``'cifar10'`` (``_`` and case
        are ignored), or a folder: every image in it, resized and centre-cropped to ``size`` x ``size``.
    split : {'train', 'test'}
        For MNIST, Fashion-MNIST and CIFAR-10; the bitmaps have one set.
    limit : int, optional
        Keep only the first ``limit`` images.
    size : int, optional
        Folders only: the side of the square images (default 32).
    grey : bool
        Convert colour images to grey (BT.601 luma).

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        An unknown name (the message lists the known ones), or a missing or unreadable file.
    """
    if split not in ("train", "test"):
        raise ValueError(f"load_dataset: split must be 'train' or 'test', got {split!r}")
    limit = _check_positive("limit", limit)
    size = _check_positive("size", size)
    key = str(name).lower().replace("_", "-")
    if key in DATASETS:
        loader, ink, _ = DATASETS[key]
        X, labels, class_names = loader(split)
        label = key
    elif os.path.isdir(os.path.expanduser(os.fspath(name))):
        from .folder import load_image_folder

        skipped = []
        X, _ = load_image_folder(os.path.expanduser(os.fspath(name)), size=size or DEFAULT_FOLDER_SIZE,
                                 mode="L" if grey else "RGB", skipped=skipped)
        labels = class_names = None
        ink, label = False, os.fspath(name)
    else:
        text = os.fspath(name)
        hint = " (a folder of that name does not exist)" if os.sep in text or text.startswith(".") else ""
        raise DatasetError(f"unknown data set {text!r}{hint}; use one of {', '.join(DATASETS)} or a folder "
                           "of images")
    if grey and X.ndim == 4:
        X = X @ np.array(LUMA_WEIGHTS, dtype=X.dtype)
    if limit is not None:
        X = X[:limit]
        labels = None if labels is None else labels[:limit]
    return Dataset(np.ascontiguousarray(X, dtype=np.float32), labels, class_names, label, ink,
                   skipped if key not in DATASETS else [])
