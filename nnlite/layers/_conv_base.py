"""What ``Conv2d`` and ``ConvTranspose2d`` share: the column matrix's memory budget, work arrays, common arguments.

Both layers (:mod:`nnlite.layers.conv`, :mod:`nnlite.layers.conv_transpose`) turn a convolution into
matrix products over a column matrix: here are the memory budget of that matrix and the band sizing
past it, the reusable work arrays, the checks of the arguments they have in common and PyTorch's
initialisation.
"""
from __future__ import annotations

import math

import numpy as np

from .. import init as _init
from .._validation import pair, positive_int
from ..module import Module
from ..random import as_generator

_EMPTY = {}

#: Largest column matrix (bytes) a layer builds at once. Beyond it (a whole photo through 64 channels
#: needs gigabytes) the layer works in bands of output rows, recomputing the columns in backward.
COLS_BUDGET_BYTES = 64 * 2**20


def _empty(dtype):
    """A length-0 array: tells a kernel "no bias"."""
    dtype = np.dtype(dtype)
    if dtype not in _EMPTY:
        _EMPTY[dtype] = np.zeros(0, dtype)
    return _EMPTY[dtype]


class _ScratchMixin:
    """Reusable work arrays (column matrices are megabytes: allocate them once per input shape)."""

    def _scratch(self, name: str, shape: tuple, dtype) -> np.ndarray:
        cache = self.__dict__.setdefault("_scratch_arrays", {})
        arr = cache.get(name)
        if arr is None or arr.shape != shape or arr.dtype != dtype:
            arr = np.empty(shape, dtype)
            cache[name] = arr
        return arr

    def _ones(self, n: int, dtype) -> np.ndarray:
        """A cached ``(1, n)`` row of ones (column sums as a matrix product)."""
        cache = self.__dict__.setdefault("_scratch_arrays", {})
        ones = cache.get("ones")
        if ones is None or ones.shape != (1, n) or ones.dtype != dtype:
            ones = cache["ones"] = np.ones((1, n), dtype)
        return ones

    def __getstate__(self):  # deepcopy / pickle without the work arrays
        state = self.__dict__.copy()
        state.pop("_scratch_arrays", None)
        state.pop("_saved", None)
        return state


class _ConvBase(_ScratchMixin, Module):
    """Arguments, initialisation and checks common to Conv2d and ConvTranspose2d."""

    def _init_common(self, in_channels, out_channels, kernel_size, stride, dilation, dtype):
        name = type(self).__name__
        self.in_channels = positive_int(name, "in_channels", in_channels)
        self.out_channels = positive_int(name, "out_channels", out_channels)
        self.kernel_size = pair(name, "kernel_size", kernel_size, 1)
        self.stride = pair(name, "stride", stride, 1)
        self.dilation = pair(name, "dilation", dilation, 1)
        self.dtype = np.dtype(dtype)
        if not np.issubdtype(self.dtype, np.floating):
            raise TypeError(f"{name}: dtype must be a floating type, got {self.dtype}")

    def reset_parameters(self, random_state=None):
        """PyTorch's default: ``kaiming_uniform_(a=sqrt(5))`` = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the
        weight, and the same bound for the bias. ``fan_in = weight.shape[1] * KH * KW`` (as PyTorch
        computes it: ``in_channels*KH*KW`` for Conv2d, ``out_channels*KH*KW`` for ConvTranspose2d)."""
        rng = as_generator(random_state)
        w = self.weight.data
        fan_in = w.shape[1] * w.shape[2] * w.shape[3]
        bound = 1.0 / math.sqrt(fan_in)
        w[...] = _init.uniform(w.shape, bound, rng, self.dtype)
        if self.bias is not None:
            self.bias.data[...] = _init.uniform(self.bias.shape, bound, rng, self.dtype)

    def _saved_state(self):
        if getattr(self, "_saved", None) is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._saved

    def _check_dy(self, dy, shape):
        dy = np.asarray(dy)
        if dy.shape != shape:
            raise ValueError(f"{type(self).__name__}.backward expects dy of shape {shape} (the output of the "
                             f"last forward), got {dy.shape}")
        return dy


def _band_rows(rows: int, bytes_per_row: int) -> int:
    """How many rows of a column matrix fit in ``COLS_BUDGET_BYTES`` (at least 1, at most ``rows``)."""
    return int(min(rows, max(1, COLS_BUDGET_BYTES // max(1, bytes_per_row))))


def _describe(layer) -> str:
    return f"{type(layer).__name__}({layer.extra_repr()})"
