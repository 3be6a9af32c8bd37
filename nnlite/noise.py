"""Corruptions for denoising autoencoders: salt-and-pepper, bit flips, Gaussian noise, masking.

Every function takes the clean batch ``x`` (any shape, values normally in [0, 1]), the noise level and
a seed or ``numpy.random.Generator``, and returns a new array of the same shape and floating dtype;
``x`` is never modified. Same seed => the same noise, bit for bit. A denoising autoencoder draws fresh
noise every epoch from one generator it owns.

===================  ===========  ===================================================================
name                 level        what happens to each pixel independently
===================  ===========  ===================================================================
``salt_and_pepper``  ``p``        with probability p it is replaced by 0 or by 1 (half-half)
``bit_flip``         ``p``        with probability p it becomes ``1 - x`` (for 1-bit images: flipped)
``gaussian``         ``sigma``    ``x + sigma * N(0, 1)``, clipped to [0, 1] unless ``clip=False``
``masking``          ``p``        with probability p it is set to 0 (dropout-like "masking noise")
===================  ===========  ===================================================================

>>> from nnlite.noise import get_noise
>>> noisy = get_noise("bit_flip")(X, 0.1, rng)       # same as nnlite.noise.bit_flip(X, 0.1, rng)
"""
from __future__ import annotations

import numbers

import numpy as np

from .random import as_generator

__all__ = ["salt_and_pepper", "bit_flip", "gaussian", "masking", "get_noise", "add_noise", "NOISES"]


# ---------------------------------------------------------------------------------------- validation
def _check_x(fname: str, x) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == np.bool_ or np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float32)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{fname}: x must be a numeric array, got dtype {x.dtype}")
    return x


def _check_prob(fname: str, p) -> float:
    if not isinstance(p, numbers.Real) or isinstance(p, bool):
        raise TypeError(f"{fname}: p must be a real number in [0, 1], got {p!r} ({type(p).__name__})")
    if not 0.0 <= float(p) <= 1.0:  # also rejects NaN
        raise ValueError(f"{fname}: p must be in [0, 1], got {p!r}")
    return float(p)


def _check_sigma(fname: str, sigma) -> float:
    if not isinstance(sigma, numbers.Real) or isinstance(sigma, bool):
        raise TypeError(f"{fname}: sigma must be a real number >= 0, got {sigma!r} ({type(sigma).__name__})")
    if not (float(sigma) >= 0.0 and np.isfinite(sigma)):
        raise ValueError(f"{fname}: sigma must be a finite number >= 0, got {sigma!r}")
    return float(sigma)


def _uniform(rng, x):
    # One uniform draw per pixel in x's dtype (float32 draws are twice as fast for MNIST-sized batches).
    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
    return rng.random(x.shape, dtype=dtype)


# ---------------------------------------------------------------------------------------- noises
def salt_and_pepper(x, p: float, rng=None) -> np.ndarray:
    """Replace each pixel, with probability ``p``, by 0 (pepper) or 1 (salt), each with probability 1/2.

    One uniform ``u`` per pixel: ``u < p/2`` -> 0, ``p/2 <= u < p`` -> 1, otherwise unchanged.

    Parameters
    ----------
    x : array of any shape
    p : float in [0, 1]
        Fraction of pixels corrupted (on average). A corrupted pixel that already had the drawn value
        does not change, so on 1-bit images about ``p/2`` of the pixels actually change.
    rng : None, int or numpy.random.Generator
    """
    x = _check_x("salt_and_pepper", x)
    p = _check_prob("salt_and_pepper", p)
    u = _uniform(as_generator(rng), x)
    out = x.copy()
    out[u < p] = 1
    out[u < 0.5 * p] = 0
    return out


def bit_flip(x, p: float, rng=None) -> np.ndarray:
    """Flip each pixel, with probability ``p``: ``x -> 1 - x``. Meant for 1-bit images in {0, 1}.

    Every corrupted pixel changes, so ``p`` is exactly the expected fraction of wrong pixels.
    """
    x = _check_x("bit_flip", x)
    p = _check_prob("bit_flip", p)
    u = _uniform(as_generator(rng), x)
    return np.where(u < p, 1 - x, x).astype(x.dtype, copy=False)


def gaussian(x, sigma: float, rng=None, clip: bool = True) -> np.ndarray:
    """Add ``sigma * N(0, 1)`` to every pixel; clip the result to [0, 1] if ``clip``.

    Parameters
    ----------
    sigma : float >= 0
        Standard deviation of the added noise (in pixel units, where ink is 1).
    clip : bool, default True
        Keep pixels valid probabilities (needed before a BCE loss).
    """
    x = _check_x("gaussian", x)
    sigma = _check_sigma("gaussian", sigma)
    rng = as_generator(rng)
    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
    out = x + np.asarray(sigma, dtype) * rng.standard_normal(x.shape, dtype=dtype)
    if clip:
        np.clip(out, 0, 1, out=out)
    return out.astype(x.dtype, copy=False)


def masking(x, p: float, rng=None) -> np.ndarray:
    """Set each pixel to 0, with probability ``p`` ("masking noise" of Vincent et al., 2010)."""
    x = _check_x("masking", x)
    p = _check_prob("masking", p)
    u = _uniform(as_generator(rng), x)
    out = x.copy()
    out[u < p] = 0
    return out


#: Registry of noise functions by name. Each has the signature ``f(x, level, rng)``.
NOISES = {
    "salt_and_pepper": salt_and_pepper,
    "bit_flip": bit_flip,
    "gaussian": gaussian,
    "masking": masking,
}


def get_noise(name: str):
    """The noise function registered under ``name`` (see :data:`NOISES`); a callable is returned as is."""
    if callable(name):
        return name
    if not isinstance(name, str) or name not in NOISES:
        raise ValueError(f"unknown noise {name!r}; valid names are: {', '.join(sorted(NOISES))}")
    return NOISES[name]


def add_noise(x, name: str, level: float, rng=None) -> np.ndarray:
    """``get_noise(name)(x, level, rng)``."""
    return get_noise(name)(x, level, rng)
