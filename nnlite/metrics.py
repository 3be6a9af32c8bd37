"""Image-quality metrics for reconstructions: PSNR and SSIM, per image over a batch.

Both take ``(clean, estimate)`` with the batch on axis 0, compute in float64 and return the mean over
the batch (``reduction='mean'``, a float) or one value per image (``reduction='none'``, shape (N,)).

Generated images have no clean reference; :func:`evaluate_samples` judges them with a classifier and
nearest-neighbour distances (:func:`nearest_distances`), :func:`spread_statistics` measures how much
they vary (a collapse detector).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["psnr", "ssim", "gaussian_window", "nearest_distances", "evaluate_samples",
           "spread_statistics"]

_REDUCTIONS = ("mean", "none")


def _check_pair(clean, estimate, fn: str, min_ndim: int = 2):
    x = np.asarray(clean, dtype=np.float64)
    y = np.asarray(estimate, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"{fn}: clean and estimate must have the same shape, got clean {x.shape} and "
                         f"estimate {y.shape}")
    if x.ndim < min_ndim:
        raise ValueError(f"{fn}: expected a batch of images with the batch on axis 0 (at least {min_ndim} "
                         f"dimensions), got shape {x.shape}; for a single image pass image[None]")
    if x.shape[0] == 0:
        raise ValueError(f"{fn}: empty batch (shape {x.shape})")
    return x, y


def _check_common(data_range, reduction, fn):
    if not np.isscalar(data_range) or not data_range > 0:
        raise ValueError(f"{fn}: data_range must be a positive number (1.0 for images in [0, 1], 255 for "
                         f"uint8), got {data_range!r}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(values: np.ndarray, reduction: str):
    return float(values.mean()) if reduction == "mean" else values


def psnr(clean, estimate, data_range: float = 1.0, reduction: str = "mean"):
    r"""Peak signal-to-noise ratio in dB, per image.

    .. math::
        \mathrm{PSNR}_i = 10 \log_{10} \frac{R^2}{\frac{1}{D}\sum_j (x_{ij} - \hat x_{ij})^2}

    over all D non-batch elements of image i (pixels and channels), with R = ``data_range``.

    Parameters
    ----------
    clean, estimate : array_like of the same shape (N, ...)
        Batch on axis 0, e.g. (N, 28, 28), (N, 784), (N, 32, 32, 3).
    data_range : float
        Peak-to-peak range of the data: 1.0 for images in [0, 1], 255 for uint8.
    reduction : {'mean', 'none'}
        Mean of the per-image PSNRs (a float; the usual "mean PSNR" of denoising papers) or the (N,) array.

    Returns
    -------
    float or ndarray of shape (N,)
        An image identical to its estimate has PSNR ``+inf`` (no warning); the mean is then ``+inf``
        too. Use ``reduction='none'`` and ``np.isfinite`` to leave such images out.
    """
    _check_common(data_range, reduction, "psnr")
    x, y = _check_pair(clean, estimate, "psnr")
    mse = np.square(x - y).reshape(len(x), -1).mean(axis=1)                 # (N,)
    with np.errstate(divide="ignore"):
        values = 10.0 * np.log10(float(data_range) ** 2 / mse)
    return _reduce(values, reduction)


def gaussian_window(sigma: float = 1.5, truncate: float = 3.5) -> np.ndarray:
    """Normalised 1-D Gaussian taps of radius ``int(truncate * sigma + 0.5)`` (11 taps for sigma 1.5).

    The same taps as ``scipy.ndimage.gaussian_filter(sigma=1.5, truncate=3.5)``, which
    ``skimage.metrics.structural_similarity(gaussian_weights=True)`` uses.
    """
    radius = int(truncate * sigma + 0.5)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (t / sigma) ** 2)
    return w / w.sum()


def _filter(img: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Separable Gaussian filter of a batch (B, H, W) over H and W, borders mirrored ('symmetric',
    ``d c b a | a b c d | d c b a``, scipy.ndimage's 'reflect')."""
    r = len(w) // 2
    H, W = img.shape[1:]
    p = np.pad(img, ((0, 0), (r, r), (0, 0)), mode="symmetric")            # (B, H+2r, W)
    rows = w[0] * p[:, 0:H]
    for k in range(1, len(w)):
        rows += w[k] * p[:, k:k + H]                                          # (B, H, W)
    p = np.pad(rows, ((0, 0), (0, 0), (r, r)), mode="symmetric")           # (B, H, W+2r)
    out = w[0] * p[:, :, 0:W]
    for k in range(1, len(w)):
        out += w[k] * p[:, :, k:k + W]
    return out


def _ssim_maps_mean(x: np.ndarray, y: np.ndarray, w: np.ndarray, c1: float, c2: float) -> np.ndarray:
    """Mean SSIM of each (H, W) plane of x, y (B, H, W), the border of width radius left out: (B,)."""
    ux, uy = _filter(x, w), _filter(y, w)
    vx = _filter(x * x, w) - ux * ux          # biased (population) variances: use_sample_covariance=False
    vy = _filter(y * y, w) - uy * uy
    vxy = _filter(x * y, w) - ux * uy
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))  # (B, H, W)
    r = len(w) // 2
    return s[:, r:s.shape[1] - r, r:s.shape[2] - r].mean(axis=(1, 2))


def ssim(clean, estimate, data_range: float = 1.0, channel_axis: int | None = None, reduction: str = "mean",
         sigma: float = 1.5, K1: float = 0.01, K2: float = 0.03, chunk: int = 256):
    r"""Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004), per image.

    Local statistics use the paper's Gaussian window (sigma 1.5, 11 taps) with mirrored borders:

    .. math::
        \mathrm{SSIM}(p) = \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
                                {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)},
        \quad C_1 = (K_1 R)^2,\ C_2 = (K_2 R)^2

    averaged over the pixels at least 5 (the window radius) away from the border, then over channels.
    This reproduces ``skimage.metrics.structural_similarity(clean, estimate, data_range=R,
    gaussian_weights=True, use_sample_covariance=False, channel_axis=...)`` image by image.

    Parameters
    ----------
    clean, estimate : array_like of the same shape
        Grey ``(N, H, W)`` with ``channel_axis=None``; colour ``(N, H, W, C)`` with ``channel_axis=-1``
        or ``(N, C, H, W)`` with ``channel_axis=1``. H and W must be at least 11.
    data_range : float
        Peak-to-peak range of the data (1.0 for [0, 1]).
    channel_axis : int or None
        Axis of a 4-D batch holding the channels; None for grey batches.
    reduction : {'mean', 'none'}
        Mean over the batch (float) or per-image values (N,).
    sigma, K1, K2 : float
        Window width and stabilising constants (paper defaults).
    chunk : int
        Planes filtered at once (bounds memory; does not change the result).

    Returns
    -------
    float or ndarray of shape (N,)
        1.0 for identical images; at most 1.
    """
    _check_common(data_range, reduction, "ssim")
    for name, v in (("sigma", sigma), ("K1", K1), ("K2", K2)):
        if not np.isscalar(v) or not v > 0:
            raise ValueError(f"ssim: {name} must be a positive number, got {v!r}")
    x, y = _check_pair(clean, estimate, "ssim", min_ndim=3)
    if channel_axis is None:
        if x.ndim != 3:
            raise ValueError(f"ssim: with channel_axis=None expected grey images (N, H, W), got shape {x.shape}; "
                             f"for colour pass channel_axis=-1 for (N, H, W, C) or 1 for (N, C, H, W)")
        x, y = x[:, None], y[:, None]                                        # (N, 1, H, W)
    else:
        if x.ndim != 4:
            raise ValueError(f"ssim: with channel_axis={channel_axis} expected a 4-D batch (N, H, W, C) or "
                             f"(N, C, H, W), got shape {x.shape}")
        if not isinstance(channel_axis, (int, np.integer)) or not -4 <= channel_axis <= 3 \
                or channel_axis % 4 == 0:
            raise ValueError(f"ssim: channel_axis must be 1, 2, 3 or -1, -2, -3 (axis 0 is the batch), "
                             f"got {channel_axis!r}")
        x, y = np.moveaxis(x, channel_axis, 1), np.moveaxis(y, channel_axis, 1)  # (N, C, H, W)
    n, c, h, wdt = x.shape
    w = gaussian_window(sigma)
    if min(h, wdt) < len(w):
        raise ValueError(f"ssim: images of {h}x{wdt} pixels are smaller than the {len(w)}x{len(w)} Gaussian "
                         f"window (sigma={sigma}); SSIM needs at least {len(w)}x{len(w)}")
    xp, yp = x.reshape(n * c, h, wdt), y.reshape(n * c, h, wdt)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    per_plane = np.concatenate([_ssim_maps_mean(xp[i:i + chunk], yp[i:i + chunk], w, c1, c2)
                                for i in range(0, n * c, chunk)])           # (N*C,)
    values = per_plane.reshape(n, c).mean(axis=1)                            # (N,)
    return _reduce(values, reduction)


def spread_statistics(X) -> dict:
    """How much a batch of flat samples ``(n, d)`` varies, in float64.

    ``pixel_std``: the standard deviation of each pixel across the samples, averaged over pixels (0 when
    every sample is the same image); ``mean``: the mean pixel value; ``intensity_std``: the standard
    deviation of the samples' mean intensities.
    """
    flat = np.asarray(X, dtype=np.float64)
    return {"pixel_std": float(flat.std(axis=0).mean()), "mean": float(flat.mean()),
            "intensity_std": float(flat.mean(axis=1).std())}


def nearest_distances(A, B, chunk: int = 1024) -> np.ndarray:
    """Euclidean distance from every row of ``A`` ``(n, d)`` to its nearest row of ``B`` ``(m, d)``, ``(n,)``.

    ``|a - b|^2 = |a|^2 + |b|^2 - 2 a.b`` by chunks of ``A`` (float64 accumulation of the norms,
    products in float32 through BLAS), clipped at 0 before the square root.
    """
    A = np.asarray(A, dtype=np.float32).reshape(len(A), -1)
    B = np.asarray(B, dtype=np.float32).reshape(len(B), -1)
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"nearest_distances: A has {A.shape[1]} features per row, B has {B.shape[1]}")
    bb = np.einsum("ij,ij->i", B, B, dtype=np.float64)                     # (m,)
    out = np.empty(len(A))
    for s in range(0, len(A), chunk):
        a = A[s:s + chunk]                                                  # (c, d)
        aa = np.einsum("ij,ij->i", a, a, dtype=np.float64)                 # (c,)
        d2 = aa[:, None] + bb[None, :] - 2.0 * (a @ B.T).astype(np.float64)  # (c, m)
        out[s:s + chunk] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


def evaluate_samples(samples, classifier, X_train, X_test, n_classes: int | None = None, min_share: float = 0.05,
                     max_test: int = 2000) -> dict:
    """Judge generated images without any pretrained network.

    Parameters
    ----------
    samples : array ``(n, ...)`` in [0, 1]
    classifier : fitted :class:`~nnlite.models.MLPClassifier` trained on the real training images
        (anything with ``predict_proba(X) -> (n, n_classes)``).
    X_train, X_test : the real training images and held-out real images
    n_classes : int, optional
        Default: the number of columns of ``predict_proba``.
    min_share : a class counts as covered if it receives at least this share of the samples
    max_test : int
        At most this many test images are compared with the training images.

    Returns
    -------
    dict with
        ``class_histogram`` (share of samples per class), ``coverage`` (fraction of classes with at least
        ``min_share``), ``entropy`` (nats) and ``entropy_ratio`` (entropy / log n_classes, 1 = uniform),
        ``confidence`` (mean max class probability), ``nn_dist_samples`` / ``nn_dist_test`` (median
        distance to the nearest training image of the samples / of real test images) and their ratio
        ``nn_ratio`` (near 0 = copies of training images; near 1 = as novel as unseen real images), and
        ``copies`` (fraction of samples closer to a training image than the 1st percentile of the test
        images' nearest distances).
    """
    samples = np.asarray(samples).reshape(len(samples), -1)
    proba = classifier.predict_proba(samples)
    k = proba.shape[1] if n_classes is None else int(n_classes)
    hist = np.bincount(proba.argmax(axis=1), minlength=k) / len(samples)
    nz = hist[hist > 0]
    entropy = 0.0 - float((nz * np.log(nz)).sum())     # 0.0 - : no "-0.0" for a single class
    X_train = np.asarray(X_train).reshape(len(X_train), -1)
    X_test = np.asarray(X_test).reshape(len(X_test), -1)[:max_test]
    d_samples = nearest_distances(samples, X_train)
    d_test = nearest_distances(X_test, X_train)
    return {
        "class_histogram": hist,
        "coverage": float(np.mean(hist >= min_share)),
        "entropy": entropy,
        "entropy_ratio": entropy / math.log(k),
        "confidence": float(proba.max(axis=1).mean()),
        "nn_dist_samples": float(np.median(d_samples)),
        "nn_dist_test": float(np.median(d_test)),
        "nn_ratio": float(np.median(d_samples) / np.median(d_test)),
        "copies": float(np.mean(d_samples < np.percentile(d_test, 1))),
    }
