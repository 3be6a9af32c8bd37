"""Argument checks shared by the models, the layers and the command line.

Each check takes the ``owner`` (the class or function the user called, first in the message), the
argument's ``name`` and its ``value``; it returns the value in canonical form (a Python ``int``, a
``float``, a tuple) or raises a ``ValueError`` that names the argument, what arrived and what was
expected::

    >>> check_int("Autoencoder", "latent_dim", 0)
    Traceback (most recent call last):
    ValueError: Autoencoder: latent_dim must be an int >= 1, got 0

A bool is never accepted as a number (``True`` is an ``int`` to Python, not a layer width to us).
"""
from __future__ import annotations

import numbers
import stat

import numpy as np

__all__ = ["check_int", "positive_int", "check_number", "check_fraction", "check_betas", "check_choice", "check_bool",
           "check_odd_int", "int_tuple", "pair", "check_finite"]


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_int(owner, name, value, low=1, allow_none=False):
    """``value`` as an ``int >= low`` (or ``None`` when ``allow_none``)."""
    if value is None and allow_none:
        return None
    if not _is_int(value) or value < low:
        raise ValueError(f"{owner}: {name} must be an int >= {low}{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


def positive_int(owner, name, value) -> int:
    """``value`` as an ``int >= 1``."""
    return check_int(owner, name, value, low=1)


def check_number(owner, name, value, allow_zero=False) -> float:
    """``value`` as a finite ``float > 0`` (``>= 0`` when ``allow_zero``)."""
    ok = (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and np.isfinite(value)
          and (value >= 0 if allow_zero else value > 0))
    if not ok:
        raise ValueError(f"{owner}: {name} must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


def check_fraction(owner, name, value) -> float:
    """``value`` as a float in ``[0, 1)``: a decay rate (RMSprop's ``alpha``, one of Adam's ``betas``)."""
    ok = (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and np.isfinite(value)
          and 0 <= value < 1)
    if not ok:
        raise ValueError(f"{owner}: {name} must be a number in [0, 1), got {value!r}")
    return float(value)


def check_betas(owner, value) -> tuple[float, float]:
    """Adam's ``betas`` as a pair of floats in ``[0, 1)``, each named as PyTorch names it ("beta parameter
    at index 1")."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 2:
        raise ValueError(f"{owner}: betas must be a pair (beta1, beta2) of numbers in [0, 1), got {value!r}")
    return tuple(check_fraction(owner, f"beta parameter at index {k}", b) for k, b in enumerate(value))


def check_choice(owner, name, value, choices) -> str:
    """``value`` lower-cased, if it is one of ``choices`` (case-insensitive)."""
    if not isinstance(value, str) or value.lower() not in choices:
        raise ValueError(f"{owner}: {name} must be one of {sorted(choices)}, got {value!r}")
    return value.lower()


def check_bool(owner, name, value) -> bool:
    """``value`` if it is ``True`` or ``False`` (a NumPy bool too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)


def check_odd_int(owner, name, value) -> int:
    """``value`` as an odd ``int >= 1`` (a kernel size that has a centre)."""
    if not _is_int(value) or value < 1 or value % 2 == 0:
        raise ValueError(f"{owner}: {name} must be an odd int >= 1, got {value!r}")
    return int(value)


def int_tuple(owner, name, value, what, allow_empty=True) -> tuple[int, ...]:
    """An int or a sequence of ints, each ``>= 1``, as a tuple; ``what`` names the entries in the message
    (``'layer widths'``, ``'channel counts'``)."""
    if _is_int(value):
        value = (value,)
    try:
        items = tuple(value)
    except TypeError:
        raise ValueError(f"{owner}: {name} must be a tuple of {what} (ints >= 1), got {value!r}") from None
    if (not items and not allow_empty) or any(not _is_int(v) or v < 1 for v in items):
        raise ValueError(f"{owner}: {name} must be a {'' if allow_empty else 'non-empty '}tuple of {what} "
                         f"(ints >= 1), got {value!r}")
    return tuple(int(v) for v in items)


def pair(owner, name, value, minimum=1) -> tuple[int, int]:
    """An int or a pair of ints as a pair ``(a, b)``, each ``>= minimum`` (a kernel size, a stride, a tile)."""
    if _is_int(value):
        result = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        result = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{owner}: {name} must be an int or a pair of ints, got {value!r}")
    if min(result) < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value!r}")
    return result


def check_finite(owner, name, array):
    """``array`` if every value is finite, else a ValueError saying that it holds NaN or inf."""
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{owner}: {name} contains NaN or inf")
    return array


def file_kind(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is, for an error about a path that is not a regular file."""
    for test, name in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"
