"""Minibatches over arrays that share their first axis, with seeded shuffling and flat memory.

Shuffling draws one index permutation per epoch (N int64s) and fancy-indexes each batch from it, so
only one batch is copied at a time: the data set itself is never copied or reordered.
"""
from __future__ import annotations

import numbers
from collections.abc import Iterator

from ..random import as_generator

__all__ = ["iterate_minibatches", "Minibatches"]


def _check(arrays, batch_size):
    if not arrays:
        raise ValueError("iterate_minibatches needs at least one array")
    if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    lengths = []
    for i, a in enumerate(arrays):
        if not hasattr(a, "shape") or len(a.shape) == 0:
            raise ValueError(f"array {i} must be an array with a first (sample) axis, got {type(a).__name__}"
                             + (f" of shape {a.shape}" if hasattr(a, "shape") else ""))
        lengths.append(a.shape[0])
    if len(set(lengths)) > 1:
        raise ValueError(f"arrays must have the same length along axis 0, got lengths {lengths}")
    return lengths[0]


def iterate_minibatches(*arrays, batch_size: int, shuffle: bool = True, random_state=None,
                        drop_last: bool = False) -> Iterator:
    """One epoch of minibatches.

    Parameters
    ----------
    *arrays : ndarrays with the same first dimension N
        e.g. ``images, labels``.
    batch_size : int
        Rows per batch; the last batch is smaller unless ``drop_last``.
    shuffle : bool
        Visit rows in a random order (a fresh permutation each call). Without shuffling batches are
        views (no copy).
    random_state : None, int or numpy.random.Generator
        Seed for the permutation; the same seed gives the same batches.
    drop_last : bool
        Skip a final batch smaller than ``batch_size``.

    Yields
    ------
    ndarray or tuple of ndarrays
        One array per input array, each ``(batch, ...)``; a single input array yields arrays, not 1-tuples.

    Examples
    --------
    >>> for xb, yb in iterate_minibatches(X, y, batch_size=128, random_state=0):
    ...     ...
    """
    n = _check(arrays, batch_size)  # validate now, not at the first next()
    order = as_generator(random_state).permutation(n) if shuffle else None
    return _batches(arrays, n, batch_size, order, drop_last)


def _batches(arrays, n, batch_size, order, drop_last):
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        end = min(start + batch_size, n)
        if order is None:
            batch = tuple(a[start:end] for a in arrays)
        else:
            idx = order[start:end]
            batch = tuple(a[idx] for a in arrays)
        yield batch[0] if len(arrays) == 1 else batch


class Minibatches:
    """A re-iterable epoch source: each ``iter()`` is one epoch, reshuffled from one seeded generator.

    ``len()`` is the number of batches per epoch. Two instances built with the same seed give the same
    sequence of epochs.

    >>> batches = Minibatches(X, y, batch_size=128, random_state=0)
    >>> for epoch in range(10):
    ...     for xb, yb in batches:
    ...         ...
    """

    def __init__(self, *arrays, batch_size: int, shuffle: bool = True, random_state=None,
                 drop_last: bool = False):
        self.n = _check(arrays, batch_size)
        self.arrays, self.batch_size, self.shuffle, self.drop_last = arrays, batch_size, shuffle, drop_last
        self._rng = as_generator(random_state)

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def __iter__(self):
        return iterate_minibatches(*self.arrays, batch_size=self.batch_size, shuffle=self.shuffle,
                                   random_state=self._rng, drop_last=self.drop_last)
