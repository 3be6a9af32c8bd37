"""What ``Conv2d`` and ``ConvTranspose2d`` share: common arguments, initialisation, output sizes and checks.

Both layers (:mod:`nnlite.layers.conv`, :mod:`nnlite.layers.conv_transpose`) hold their parameters and
check their arguments here; the selected backend of :mod:`nnlite.ops` computes them.
"""
from __future__ import annotations

import math

import numpy as np

from .. import init as _init
from .._validation import pair, positive_int
from ..module import Module
from ..random import as_generator


def conv_output_size(size: int, kernel: int, stride: int, pad_total: int, dilation: int = 1) -> int:
    """PyTorch's ``floor((size + pad_total - dilation * (kernel - 1) - 1) / stride) + 1``."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_output_size(size: int, kernel: int, stride: int, padding: int, output_padding: int,
                               dilation: int = 1) -> int:
    """PyTorch's ``(size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1``."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


class _ConvBase(Module):
    """Arguments, initialisation and checks common to Conv2d and ConvTranspose2d.

    ``_ctx`` is what the last forward pass saved for backward and ``_y_shape`` its output's shape;
    ``_work`` a dict where the backend may keep work arrays (column matrices are megabytes: allocated
    once per input shape).
    """

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
        self._ctx, self._y_shape, self._work = None, None, {}   # see the class docstring

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

    def __getstate__(self):  # deepcopy / pickle without the work arrays and the saved forward pass
        state = self.__dict__.copy()
        state["_ctx"], state["_work"] = None, {}
        return state
