"""Nearest-neighbour upsampling of NCHW batches (the "resize" half of resize-conv decoders and U-Nets)."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import ops
from ..module import Module, check_dy, check_input, layer_name

#: Valid ``mode`` names.
UPSAMPLE_MODES = ("nearest",)


def nearest_source_index(in_size: int, out_size: int, scale: float | None) -> np.ndarray:
    """PyTorch's ``nearest`` rule: output index ``i`` reads input ``min(floor(i * s), in_size - 1)``,
    with ``s = 1 / scale_factor`` when a scale was given, else ``in_size / out_size`` (computed in float32
    as PyTorch does, so both pick the same pixels)."""
    if out_size == in_size:
        return np.arange(out_size, dtype=np.int64)
    if out_size == 2 * in_size:
        return np.arange(out_size, dtype=np.int64) >> 1
    s = np.float32(1.0 / scale) if scale is not None else np.float32(in_size / out_size)
    idx = np.floor(np.arange(out_size, dtype=np.float32) * s).astype(np.int64)
    return np.minimum(idx, in_size - 1)


class Upsample(Module):
    r"""Upsample by repeating pixels: ``y[n, c, i, j] = x[n, c, src_h(i), src_w(j)]``.

    With an integer ``scale_factor`` s every pixel becomes an ``s x s`` block; the backward pass sums
    each block back onto its pixel:

    .. math::
        \frac{\partial L}{\partial x_{n,c,k,l}}
            = \sum_{(i,j):\ src(i,j) = (k,l)} \frac{\partial L}{\partial y_{n,c,i,j}}

    Parameters
    ----------
    scale_factor : float or (float, float), optional
        Output size ``floor(H * scale_factor)``; source index ``min(floor(i / scale_factor), H - 1)``
        (PyTorch's rule, so non-integer factors pick the same pixels as ``torch.nn.Upsample``).
    size : int or (int, int), optional
        The output size instead of a factor (give exactly one of the two).
    mode : {'nearest'}

    Shape
    -----
    ``(N, C, H, W)`` -> ``(N, C, OH, OW)``.
    """

    def __init__(self, scale_factor=None, size=None, mode: str = "nearest"):
        super().__init__()
        if mode not in UPSAMPLE_MODES:
            raise ValueError(f"Upsample: unknown mode {mode!r}; valid modes: {', '.join(UPSAMPLE_MODES)}")
        if (scale_factor is None) == (size is None):
            raise ValueError("Upsample: give exactly one of scale_factor and size, got "
                             f"scale_factor={scale_factor!r}, size={size!r}")
        self.mode = mode
        self._ctx, self._y_shape = None, None                              # what forward saves for backward
        self.scale_factor = None
        self.size = None
        if scale_factor is not None:
            sf = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
            if (len(sf) != 2 or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in sf)
                    or min(sf) <= 0 or not all(math.isfinite(v) for v in sf)):
                raise ValueError(f"Upsample: scale_factor must be a positive number or a pair of them, "
                                 f"got {scale_factor!r}")
            self.scale_factor = tuple(float(v) for v in sf)
        else:
            sz = size if isinstance(size, (tuple, list)) else (size, size)
            if (len(sz) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in sz)
                    or min(sz) < 1):
                raise ValueError(f"Upsample: size must be an int >= 1 or a pair of them, got {size!r}")
            self.size = (int(sz[0]), int(sz[1]))

    def output_shape(self, input_shape):
        N, C, H, W = input_shape
        if self.size is not None:
            return N, C, self.size[0], self.size[1]
        return N, C, int(math.floor(H * self.scale_factor[0])), int(math.floor(W * self.scale_factor[1]))

    def forward(self, x):
        x = check_input(self, x, ndim=4)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float32)
        N, C, OH, OW = self.output_shape(x.shape)
        if OH < 1 or OW < 1:
            raise ValueError(f"{layer_name(self)}: input of shape {x.shape} gives an empty output")
        H, W = x.shape[2], x.shape[3]
        sh = self.scale_factor[0] if self.scale_factor else None
        sw = self.scale_factor[1] if self.scale_factor else None
        src_h, src_w = nearest_source_index(H, OH, sh), nearest_source_index(W, OW, sw)   # (OH,), (OW,)
        y, self._ctx = ops.upsample_nearest2d_forward(x, src_h, src_w)
        self._y_shape = y.shape
        return y                                                           # (N, C, OH, OW)

    def backward(self, dy):
        return ops.upsample_nearest2d_backward(check_dy(self, dy, self._ctx, self._y_shape), self._ctx)

    def extra_repr(self):
        what = f"scale_factor={self.scale_factor}" if self.scale_factor else f"size={self.size}"
        return f"{what}, mode={self.mode!r}"


__all__ = ["Upsample", "UPSAMPLE_MODES"]
