"""Batches of images in three layouts, and the image shape a model works on.

A batch is ``(N, H, W)`` grey, ``(N, C, H, W)`` (NCHW, PyTorch's) or ``(N, H, W, C)`` (channels last,
what :func:`nnlite.data.load_image_folder` returns). :func:`to_nchw` reads any of them as NCHW and
names the layout; :func:`from_nchw` goes back. A 4-D array is channels-last when its last axis has
1, 3 or 4 entries and its second axis does not.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_finite

__all__ = ["to_nchw", "from_nchw", "to_channels_last", "infer_image_shape", "model_image_shape", "data_domain"]

#: Values :func:`data_domain` looks at, at most (evenly spaced over the data): enough for the range, mean and
#: share of two-level values that ``denoise`` compares against, and under a millisecond at every ``fit``.
DOMAIN_SAMPLE = 65_536


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
    return check_finite(owner, name, Xc), layout


def to_channels_last(Y, image_shape):
    """Model outputs as displayable images: ``(N, H, W)`` grey or ``(N, H, W, 3)`` colour.

    ``Y`` is flat ``(N, H*W*C)``, NCHW or already channels-last; ``image_shape`` is ``(H, W, C)``.
    """
    Y = np.asarray(Y)
    h, w, c = image_shape
    if Y.ndim == 4 and Y.shape[1] in (1, 3) and Y.shape[-1] not in (1, 3):  # NCHW
        Y = np.moveaxis(Y, 1, -1)
    return Y.reshape((len(Y), h, w) + ((c,) if c == 3 else ()))


def model_image_shape(model, recorded=None) -> tuple[int, int, int]:
    """``(height, width, channels)`` of the images a fitted model works on.

    ``recorded`` (say, what a training run stored beside its checkpoint) wins; else the model's
    ``input_shape_`` (``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``), else a guess from ``n_features_in_``
    (:func:`infer_image_shape`).
    """
    if recorded:
        return tuple(recorded)
    shape = tuple(getattr(model, "input_shape_", ()) or ())
    if len(shape) == 2:
        return (shape[0], shape[1], 1)
    if len(shape) == 3:
        return (shape[1], shape[2], shape[0]) if shape[0] in (1, 3) and shape[2] not in (1, 3) else shape
    return infer_image_shape(int(getattr(model, "n_features_in_", np.prod(shape) if shape else 0)))


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


def data_domain(X, sample_shape) -> dict:
    """What a model is fitted on, in a few JSON numbers: a model's ``fit_domain_``.

    Parameters
    ----------
    X : array
        The training data as the model checked it (any shape, one sample per row of the first axis).
    sample_shape : tuple
        The shape of one sample as given to ``fit`` (``(H, W)``, ``(C, H, W)``, ``(H, W, C)``, ...).

    Returns
    -------
    dict
        ``sample_shape`` (list), ``min``, ``max``, ``mean`` and ``two_level``: the share of
        values within 0.02 of 0 or of 1 (near 1 for ink on paper such as the bitmap font, low for photos).
        The statistics use at most :data:`DOMAIN_SAMPLE` evenly spaced values.
    """
    X = np.asarray(X)
    flat = X.reshape(-1)
    step = max(1, -(-flat.size // DOMAIN_SAMPLE))                  # ceil: at most DOMAIN_SAMPLE values
    v = flat[::step].astype(np.float64)                           # (<= DOMAIN_SAMPLE,)
    if v.size == 0:
        return {"sample_shape": [int(d) for d in sample_shape]}
    return {"sample_shape": [int(d) for d in sample_shape], "min": float(v.min()),
            "max": float(v.max()), "mean": float(v.mean()),
            "two_level": float(np.mean((np.abs(v) <= 0.02) | (np.abs(v - 1.0) <= 0.02)))}
