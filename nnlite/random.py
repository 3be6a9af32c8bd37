"""Seeds and generators: every random thing in nnlite takes a seed or a ``numpy.random.Generator``."""
from __future__ import annotations

import numbers

import numpy as np


def as_generator(random_state=None) -> np.random.Generator:
    """Turn ``None``, an int seed or a Generator into a ``numpy.random.Generator``.

    ``None`` gives a fresh, unpredictable generator; an int gives the same stream every time;
    a Generator is returned as is (shared, so it advances).
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative int, got {random_state}")
        return np.random.default_rng(int(random_state))
    raise TypeError(
        f"random_state must be None, an int seed or a numpy.random.Generator, got {type(random_state).__name__}"
    )


def spawn(rng: np.random.Generator) -> np.random.Generator:
    """A child generator drawn from ``rng``: independent streams for independent purposes."""
    return np.random.default_rng(rng.integers(0, 2**63 - 1))
