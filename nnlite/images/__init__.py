"""Images: users' files, batch layouts, and running models over images of any size.

=================  ==========================================================================================
module             what lives there
=================  ==========================================================================================
``files``          :func:`read_image` (any PNG/JPEG/... into [0, 1] floats, conversions noted),
                   :func:`write_image`, :func:`list_images`, :class:`ImageError`
``layout``         :func:`to_nchw` / :func:`from_nchw` (``(N, H, W)``, NCHW, NHWC batches),
                   :func:`to_channels_last`, :func:`model_image_shape`, :func:`infer_image_shape`
``tiling``         :func:`tile_image`, :func:`untile`, :func:`apply_tiled` (fixed-size models over big
                   images, bounded memory), :func:`apply_blocks` (fully convolutional models)
=================  ==========================================================================================
"""
from .files import (
           IMAGE_EXTENSIONS,
           ImageError,
           image_size,
           is_output_name,
           list_images,
           read_image,
           walk_images,
           write_image,
)
from .layout import from_nchw, infer_image_shape, model_image_shape, to_channels_last, to_nchw
from .tiling import apply_blocks, apply_tiled, tile_image, untile

__all__ = ["ImageError", "read_image", "write_image", "list_images", "walk_images", "image_size", "is_output_name",
           "IMAGE_EXTENSIONS",
           "to_nchw", "from_nchw", "to_channels_last", "model_image_shape", "infer_image_shape",
           "tile_image", "untile", "apply_tiled", "apply_blocks"]
