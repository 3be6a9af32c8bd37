r"""The standard deviation of additive white Gaussian noise, estimated from the noisy image alone.

Donoho & Johnstone's robust estimator (1994): the finest diagonal wavelet coefficients of a natural
image are mostly noise, so their median absolute value measures it. With the orthonormal Haar
wavelet, the diagonal detail of every 2x2 block ``[[a, b], [c, d]]`` is

.. math::
    HH = \frac{a - b - c + d}{2}, \qquad
    \hat\sigma = \frac{\operatorname{median} |HH|}{\Phi^{-1}(3/4)} = \frac{\operatorname{median} |HH|}{0.6745}

(``HH`` of noise ``N(0, sigma^2)`` is ``N(0, sigma^2)``: four terms of variance ``sigma^2 / 4``; and the
median of ``|Z|`` for a standard normal ``Z`` is 0.6745). The median ignores the few coefficients that
edges and texture make large; heavy texture still biases the estimate up, clipping at 0 and 1 down.
"""
from __future__ import annotations

import numpy as np

__all__ = ["estimate_noise_sigma", "estimate_noise_sigma_nchw", "MAD_TO_SIGMA"]

#: ``median |Z|`` of a standard normal ``Z``: the third quartile of N(0, 1).
MAD_TO_SIGMA = 0.6744897501960817


def estimate_noise_sigma_nchw(x: np.ndarray) -> np.ndarray:
    """One noise sigma per image of a batch ``x`` ``(N, C, H, W)`` (all channels pooled), float64 ``(N,)``.

    Needs H and W of at least 2 (an odd last row or column is left out)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 4 or x.shape[2] < 2 or x.shape[3] < 2:
        raise ValueError(f"estimate_noise_sigma_nchw: expected a batch (N, C, H, W) of images at least 2x2 "
                         f"pixels, got shape {x.shape}")
    H, W = x.shape[2] // 2 * 2, x.shape[3] // 2 * 2
    x = x[:, :, :H, :W]
    hh = (x[:, :, 0::2, 0::2] - x[:, :, 0::2, 1::2] - x[:, :, 1::2, 0::2] + x[:, :, 1::2, 1::2]) / 2  # (N, C, H/2, W/2)
    return np.median(np.abs(hh).reshape(len(x), -1), axis=1) / MAD_TO_SIGMA


def estimate_noise_sigma(image: np.ndarray) -> float:
    """The noise sigma of one image ``(H, W)`` or ``(H, W, C)`` (channels pooled), in the image's units.

    Examples
    --------
    >>> import numpy as np
    >>> clean = np.tile(np.linspace(0.2, 0.8, 256), (256, 1))
    >>> noisy = clean + np.random.default_rng(0).normal(0, 0.1, clean.shape)
    >>> round(estimate_noise_sigma(noisy), 2)
    0.1
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"estimate_noise_sigma: expected one image (H, W) or (H, W, C), got shape {image.shape}")
    x = image[None, None] if image.ndim == 2 else image.transpose(2, 0, 1)[None]   # (1, C, H, W)
    return float(estimate_noise_sigma_nchw(x)[0])
