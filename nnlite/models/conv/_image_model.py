"""What the convolutional models share: images in any layout in, flat NCHW rows for the fit loop.

Images go in as ``(N, H, W)`` (grey), ``(N, C, H, W)`` (NCHW, PyTorch's layout) or ``(N, H, W, C)``
(channels last, what :func:`nnlite.data.load_image_folder` returns), and come back in the layout they
came in (see :func:`nnlite.images.to_nchw`). Internally every network runs on NCHW.
"""
from __future__ import annotations

import math

import numpy as np

from ..._validation import check_finite, int_tuple
from ...images.layout import _check_images, from_nchw

__all__ = []


class _ImageModel:
    """Image-aware ``_check_X`` for the BaseModel machinery: any layout in, flat NCHW rows out.

    Sets ``input_shape_`` (the sample shape as given), ``image_shape_`` ``(C, H, W)``, ``n_channels_``
    and ``n_features_in_`` on ``reset``; later calls need images of the fitted ``(C, H, W)``.
    """

    _size_multiple = 1          # H and W must be multiples of this in fit

    def _check_X(self, X, name="X", reset=False):
        dtype = np.dtype(self.dtype) if reset else self._param_dtype()
        X = np.asarray(X)
        if X.ndim == 2:
            if reset:
                raise ValueError(f"{self._name()}: {name} must be images, (N, H, W) grey, (N, C, H, W) or "
                                 f"(N, H, W, C); got a 2-D array of shape {X.shape} (reshape flat rows first, "
                                 "e.g. X.reshape(-1, 28, 28))")
            if X.shape[1] != self.n_features_in_:
                raise ValueError(f"{self._name()}: {name} has shape {X.shape}, but the model was fitted on images of "
                                 f"shape {self.input_shape_} ({self.n_features_in_} values)")
            return check_finite(self._name(), name, np.ascontiguousarray(X, dtype=dtype))
        Xc, layout = _check_images(self._name(), X, name, dtype)
        if reset:
            C, H, W = Xc.shape[1:]
            m = self._size_multiple
            if H % m or W % m:
                raise ValueError(f"{self._name()}: image height and width must be multiples of {m} (the decoder "
                                 f"doubles the size {int(math.log2(m))} times), got {H}x{W}; crop or pad the images")
            self.input_shape_ = tuple(X.shape[1:])
            self.image_shape_ = (C, H, W)
            self.n_channels_ = C
            self.n_features_in_ = C * H * W
            self._layout = layout
        elif Xc.shape[1:] != self.image_shape_:
            raise ValueError(f"{self._name()}: {name} has images of shape (C, H, W) = {Xc.shape[1:]} (from an "
                             f"array of shape {X.shape}), but the model was fitted on {self.image_shape_}")
        return Xc.reshape(len(Xc), -1)

    def _as_input_shape(self, Y):
        """Flat NCHW rows ``(N, C*H*W)`` -> samples shaped as in ``fit``."""
        return from_nchw(Y.reshape((len(Y),) + self.image_shape_), self._layout)

    def _images(self, flat):
        return flat.reshape((len(flat),) + self.image_shape_)


class _StridedImageModel(_ImageModel):
    """An image model whose encoder halves H and W once per entry of ``self.channels`` (stride-2 convs)
    and whose decoder doubles them back: fitted images need H and W divisible by ``2 ** len(channels)``."""

    @property
    def _size_multiple(self):
        return 2 ** len(_check_channels(self._name(), self.channels))


def _check_channels(owner, channels, name="channels"):
    return int_tuple(owner, name, channels, "channel counts", allow_empty=False)
