r"""The flagship denoiser: a fully convolutional network that predicts the *noise* ``n(y)`` of a noisy
image ``y`` and returns ``y - n(y)`` (residual learning, DnCNN of Zhang et al. 2017); body a small
U-Net (default) or a DnCNN stack (:mod:`nnlite.models.conv.networks`); any image size at inference,
big photos in overlapping tiles.

With ``x`` the clean image, ``y`` the noisy one and ``\hat x = y - n_\theta(y)``: the loss
``L = \frac1D \sum (\hat x - x)^2`` gives ``dL/d\hat x = \frac2D (\hat x - x)``, and since ``\hat x``
depends on ``\theta`` only through ``-n_\theta(y)``, ``dL/dn = -dL/d\hat x`` is what is fed into the
body's backward.

The options of the blind denoisers that beat BM3D (FFDNet, FDnCNN, DRUNet): no BatchNorm
(``batch_norm=False``), a half-resolution body behind a pixel-unshuffle (``unshuffle=2``), the noise level
as an extra input channel (``noise_map=True``), the loss weighted towards low noise
(``sigma_weighting``), the L1 loss (``loss='l1'``), orthogonal initialisation (``init='orthogonal'``), and
the average over the eight flips and rotations at inference (``denoise(..., ensemble=True)``).
"""
from __future__ import annotations

import numpy as np

from ..._validation import check_bool, check_finite, check_odd_int
from ...images.layout import _check_images, from_nchw
from ...images.noise_estimate import estimate_noise_sigma_nchw
from ...images.tiling import _pad_to_multiple, apply_blocks
from ...losses import L1Loss, MSELoss
from .._base import BaseModel
from .._noise import _NoisyInputs
from ._image_model import _ImageModel
from .networks import ARCHITECTURES, INITS, build_network

__all__ = ["ResidualDenoiser"]

#: Training losses of the denoiser: name -> class (mean over every value of the batch).
LOSSES = {"l2": MSELoss, "l1": L1Loss}


def _transform(x, k, flip):
    """One of the eight flips / 90-degree rotations of NCHW images: ``rot90(flip_W(x) if flip, k)``."""
    x = x[..., ::-1] if flip else x
    return np.rot90(x, k, axes=(2, 3))


def _untransform(y, k, flip):
    """The inverse of :func:`_transform`."""
    y = np.rot90(y, -k, axes=(2, 3))
    return y[..., ::-1] if flip else y


class ResidualDenoiser(_NoisyInputs, _ImageModel, BaseModel):
    r"""The flagship denoiser: a fully convolutional network ``n_theta`` that predicts the noise of an image.

    .. math::
        \hat x = y - n_\theta(y), \qquad L = \frac{1}{N C H W} \sum (\hat x - x)^2
        \quad \text{or, with } \texttt{loss='l1'}, \quad L = \frac{1}{N C H W} \sum |\hat x - x|

    for a noisy batch ``y`` and its clean version ``x`` (residual learning, as DnCNN: the network only
    has to model the noise, the image passes through the identity). The body ``n_theta`` is

    * ``'unet'`` (default): a U-Net of ``depth`` levels with ``width, 2*width, ...`` channels, BatchNorm,
      max-pool down, nearest upsampling and skip concatenations up; its receptive field covers a
      Fashion-MNIST image at ``depth=3``;
    * ``'dncnn'``: ``depth`` 3x3 convolutions of ``width`` channels with BatchNorm (DnCNN).

    Every layer is "same"-padded, so the model works on images of any size at inference
    (:meth:`denoise`): U-Net inputs are reflect-padded at the bottom/right to a multiple of
    ``2**(depth-1)`` and cropped back; images larger than ``tile`` pixels a side are processed in
    overlapping tiles with a margin wider than the receptive field, so the result equals a
    whole-image pass (up to float rounding) while memory stays bounded.

    Parameters
    ----------
    noise : {'gaussian', 'salt_and_pepper', 'bit_flip', 'masking'} or callable, default 'gaussian'
    noise_level : float or (low, high), default 0.5
        As :class:`ConvDenoisingAutoencoder`. Fresh noise for every batch. A pair trains a model blind
        to the level (DnCNN-B): every image of every batch gets its own level, drawn uniformly from
        ``[low, high]``; validation images likewise, with the same draws every epoch.
    architecture : {'unet', 'dncnn'}, default 'unet'
    width : int, default 16
        Channels of the first level (U-Net) or of every hidden layer (DnCNN).
    depth : int or None, default None
        Levels of the U-Net (default 3) or conv layers of the DnCNN (default 10).
    kernel_size : int (odd), default 3
    batch_norm : bool, default True
        ``False``: no BatchNorm anywhere and every convolution with its bias (the blind denoisers FFDNet,
        FDnCNN and DRUNet: BatchNorm's batch statistics mix images of different noise levels). A deep body
        without it trains best from ``init='orthogonal'``.
    clip : bool, default True
        Clip the denoised images to [0, 1] at inference (never during training).
    unshuffle : int, default 1
        ``r > 1``: the body runs on ``r x r`` blocks turned into ``r^2`` channels
        (:class:`~nnlite.layers.PixelUnshuffle`, FFDNet) and its output is shuffled back; ``r^2`` times
        less resolution for the same receptive field in pixels. Images are padded to a multiple of ``r``.
    noise_map : bool, default False
        Give the body the noise level as one more input channel, constant over the image (FFDNet,
        DRUNet): the level each training image was drawn with, and at inference the ``noise_level``
        given to :meth:`denoise` or, without one, the sigma estimated from each image
        (:func:`nnlite.images.noise_estimate.estimate_noise_sigma_nchw`).
    loss : {'l2', 'l1'}, default 'l2'
        Mean squared error or mean absolute error of the denoised image.
    sigma_weighting : float or None, default None
        ``None``: every image of a batch weighs the same. A floor ``s0 > 0``: image ``i``, drawn with
        level ``sigma_i``, weighs ``w_i = 1 / max(sigma_i, s0)^2``, normalised to mean 1 over the batch
        (a uniform range of levels otherwise under-trains the low ones, whose errors are smallest):
        :math:`L = \frac1N \sum_i \tilde w_i\, \ell(\hat x_i, x_i)`,
        :math:`\tilde w_i = N w_i / \sum_j w_j`.
    init : {None, 'orthogonal'}, default None
        ``None``: the layers' own initialisation (PyTorch's). ``'orthogonal'``: every convolution's
        weight orthogonal (:func:`nnlite.init.orthogonal`, gain ``sqrt(2)`` before a ReLU, 0.1 for the
        last: the model starts near the identity), biases zero.
    optimizer, lr, epochs, batch_size, lr_schedule, dtype, random_state
        As the other models; defaults Adam, 2e-3 with cosine decay, batch 64. ``epochs=None`` trains
        for about 4000 optimizer steps (at least 3 epochs).

    Attributes
    ----------
    net_ : nnlite.Sequential
        The noise predictor ``n_theta`` (NCHW in, NCHW out).
    image_shape_, input_shape_ : tuple
        What ``fit`` saw (``denoise`` accepts other sizes).
    history_, loss_curve_, n_epochs_, n_iter_, batch_size_ : as the other models

    Examples
    --------
    >>> den = ResidualDenoiser(noise="gaussian", noise_level=0.5, random_state=0).fit(X_train)  # doctest: +SKIP
    >>> photo_denoised = den.denoise(noisy_photo)         # (H, W, 3) or (H, W): any size      # doctest: +SKIP
    """

    _default_steps = 4000
    _min_epochs = 3
    _default_batch_size = 64
    _fitted_attribute = "net_"
    _body_margin = 32        # tile margin in the body's pixels, > the receptive radius of the default networks
    _min_tile = 8            # smallest tile side denoise accepts
    _pass_pixels = 256 * 256  # pixels per pass through the network at inference (several small images)

    def __init__(self, noise="gaussian", noise_level=0.5, architecture="unet", width=16, depth=None,
                 kernel_size=3, batch_norm=True, clip=True, unshuffle=1, noise_map=False, loss="l2",
                 sigma_weighting=None, init=None, optimizer="adam", lr=2e-3, epochs=None, batch_size=64,
                 lr_schedule="cosine", dtype=np.float32, random_state=None):
        super().__init__()
        self.noise = noise
        self.noise_level = noise_level
        self.architecture = architecture
        self.width = width
        self.depth = depth
        self.kernel_size = kernel_size
        self.batch_norm = batch_norm
        self.clip = clip
        self.unshuffle = unshuffle
        self.noise_map = noise_map
        self.loss = loss
        self.sigma_weighting = sigma_weighting
        self.init = init
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr_schedule = lr_schedule
        self.dtype = dtype
        self.random_state = random_state

    # ------------------------------------------------------------------ building
    @property
    def _arch(self) -> str:
        """``architecture`` as the builders name it (the argument is case-insensitive)."""
        return self.architecture.lower()

    def _depth(self):
        if self.depth is not None:
            return int(self.depth)
        return 3 if self._arch == "unet" else 10

    @property
    def _size_multiple(self):
        pools = 2 ** (self._depth() - 1) if self._arch == "unet" else 1
        return pools * int(self.unshuffle)

    @property
    def _margin(self):
        """Tile margin in image pixels: the body's margin, times the unshuffle factor (a body pixel is
        ``r x r`` image pixels)."""
        return self._body_margin * int(self.unshuffle)

    @property
    def _uses_levels(self):
        """Whether the noise level of each image enters the loss (as an input channel or a weight)."""
        return bool(self.noise_map) or self.sigma_weighting is not None

    def _validate_params(self):
        self._check_noise()
        self._check_choice("architecture", self.architecture, ARCHITECTURES)
        self._check_int("width", self.width)
        low = 1 if self._arch == "unet" else 2
        self._check_int("depth", self.depth, low=low, allow_none=True)
        check_odd_int(self._name(), "kernel_size", self.kernel_size)
        for flag in ("batch_norm", "clip", "noise_map"):
            check_bool(self._name(), flag, getattr(self, flag))
        self._check_int("unshuffle", self.unshuffle)
        self._check_choice("loss", self.loss, tuple(LOSSES))
        if self.sigma_weighting is not None:
            self._check_positive("sigma_weighting", self.sigma_weighting)
        if self.init is not None:
            self._check_choice("init", self.init, INITS)
        self._check_training()

    def _build(self, n_features, rng):
        C = self.image_shape_[0]
        self.net_ = build_network(self._arch, C, int(self.width), self._depth(), int(self.kernel_size),
                                  bool(self.batch_norm), rng, np.dtype(self.dtype),
                                  in_channels=C + int(bool(self.noise_map)), unshuffle=int(self.unshuffle),
                                  init=self.init)
        self._loss = LOSSES[self.loss]()

    # ------------------------------------------------------------------ loss and gradients
    def _noise_of(self, y, levels):
        """``n_theta(y)``: the body on ``y`` ``(N, C, H, W)``, with the noise map ``levels`` ``(N,)`` as one more
        channel when the model has one."""
        if not self.noise_map:
            return self.net_(y)
        if levels is None:
            raise ValueError(f"{self._name()}: this model takes the noise level as an input (noise_map=True), "
                             "but none was given")
        level_map = np.broadcast_to(np.asarray(levels, y.dtype)[:, None, None, None],
                                    (len(y), 1) + y.shape[2:])               # (N, 1, H, W)
        return self.net_(np.concatenate([y, level_map], axis=1))           # (N, C + 1, H, W) -> (N, C, H, W)

    def _noise_backward(self, dn):
        """``dL/dy`` through :meth:`_noise_of` (the noise map is a constant: its gradient is dropped)."""
        dy = self.net_.backward(dn)
        return dy[:, :dn.shape[1]] if self.noise_map else dy

    def _sample_scales(self, levels, dtype):
        """``None`` (uniform weights), or per-sample factors ``(N, 1, 1, 1)`` that weigh the loss by
        ``sigma_weighting``: ``s_i = sqrt(w~_i)`` for L2 (the squares scale by ``w~_i``), ``w~_i`` for L1."""
        if self.sigma_weighting is None:
            return None
        w = 1.0 / np.maximum(np.asarray(levels, np.float64), float(self.sigma_weighting)) ** 2   # (N,)
        w *= len(w) / w.sum()                                                 # mean 1 over the batch
        s = np.sqrt(w) if self.loss == "l2" else w
        return s.astype(dtype)[:, None, None, None]

    def _loss_forward_backward(self, y, x, levels=None, backward=True):
        """The loss of ``y - n(y)`` against ``x`` (both ``(N, C, H, W)``; ``levels`` ``(N,)`` the noise level of
        each, for the noise map and the weighting); adds gradients; returns ``(L, dL/dy)``."""
        n_hat = self._noise_of(y, levels)                        # (N, C, H, W) predicted noise
        x_hat = y - n_hat                                        # denoised
        s = self._sample_scales(levels, x_hat.dtype) if self._uses_levels else None
        value = self._loss.forward(x_hat, x) if s is None else self._loss.forward(s * x_hat, s * x)
        if not backward:
            return value, None
        g = self._loss.backward()                                # dL/dx_hat (of the scaled pair when weighted)
        if s is not None:
            g = g * s                                            # chain rule through s_i * x_hat_i
        dy_body = self._noise_backward(-g)                       # dL/dn = -dL/dx_hat
        return value, g + dy_body                                # x_hat = y - n(y): identity path + body

    def loss_and_grad(self, X_noisy, X_clean, noise_level=None):
        """Loss of the denoised ``X_noisy`` against ``X_clean`` and its gradients.

        Adds ``dL/dparam`` into every parameter's ``.grad`` (call ``zero_grad()`` first) and returns
        ``(L, dL/dX_noisy)`` as an NCHW array. No noise is added. Works in the parameters' dtype
        (``model.double()`` for gradient checks); BatchNorm uses batch statistics in train mode.
        ``noise_level`` (one number or one per image) is the level ``X_noisy`` was made with: required
        with ``noise_map`` or ``sigma_weighting`` (never estimated here: ``dL/dX_noisy`` would miss the
        estimate's own derivative).
        """
        self._check_fitted()
        y, _ = _check_images(self._name(), X_noisy, "X_noisy", self._param_dtype())
        x, _ = _check_images(self._name(), X_clean, "X_clean", self._param_dtype())
        if y.shape != x.shape:
            raise ValueError(f"{self._name()}.loss_and_grad: X_noisy has shape {y.shape} (NCHW) but X_clean has "
                             f"{x.shape}")
        self._check_image_channels(y, "X_noisy")
        levels = None
        if self._uses_levels:
            if noise_level is None:
                raise ValueError(f"{self._name()}.loss_and_grad: give noise_level (the level X_noisy was made "
                                 "with): this model's loss uses it (noise_map or sigma_weighting)")
            levels = self._check_levels(noise_level, len(y), "noise_level")
        return self._loss_forward_backward(y, x, levels)

    def _train_step(self, xb, yb):
        x = self._images(xb)
        y, levels = self._corrupt_with_levels(x, self._rng)      # fresh noise every batch
        return self._loss_forward_backward(y, x, levels)[0]

    def _eval_step(self, xb, yb):
        x = self._images(xb)
        y, levels = self._corrupt_with_levels(x, self._val_generator())
        return self._loss_forward_backward(y, x, levels, backward=False)[0]

    # ------------------------------------------------------------------ Module interface (for gradcheck)
    def forward(self, x, noise_level=None):
        """``x - n(x)`` on NCHW input (``noise_level`` ``(N,)`` for a model with a noise map), no clipping,
        no validation."""
        return x - self._noise_of(x, noise_level)

    def backward(self, dy):
        """``dL/dx = dy - J_n^T dy``; the body's parameters receive ``-dy``: they enter the output negated."""
        return dy + self._noise_backward(-dy)

    # ------------------------------------------------------------------ inference
    def _check_image_channels(self, x, name):
        if x.shape[1] != self.n_channels_:
            raise ValueError(f"{self._name()}: {name} has {x.shape[1]} channel(s) (NCHW shape {x.shape}), but the "
                             f"model was fitted on {self.n_channels_}-channel images")

    def _check_levels(self, noise_level, n, name):
        """``noise_level`` (one number, or one per image) as finite levels >= 0, float64 ``(n,)``."""
        lv = np.asarray(noise_level, dtype=np.float64) if np.ndim(noise_level) else None
        if lv is None:
            try:
                lv = np.full(n, float(noise_level))
            except (TypeError, ValueError):
                raise TypeError(f"{self._name()}: {name} must be a number or one number per image, got "
                                f"{noise_level!r}") from None
        if lv.shape != (n,) or not np.all(np.isfinite(lv)) or np.any(lv < 0):
            raise ValueError(f"{self._name()}: {name} must be one finite level >= 0 or {n} of them (one per "
                             f"image), got {noise_level!r}")
        return lv

    def _inference_levels(self, x, noise_level):
        """The noise map's level of every image of ``x`` ``(N, C, H, W)``: the user's, else estimated."""
        if not self.noise_map:
            if noise_level is not None:
                raise ValueError(f"{self._name()}: noise_level={noise_level!r} given, but this model is blind: it "
                                 "takes no noise level (noise_map=False); call denoise without it")
            return None
        if noise_level is not None:
            return self._check_levels(noise_level, len(x), "noise_level")
        if self.noise != "gaussian":
            raise ValueError(f"{self._name()}: the noise level can be estimated only for Gaussian noise; give "
                             f"noise_level for {self.noise!r} noise")
        return estimate_noise_sigma_nchw(x)                              # (N,)

    def predict_noise(self, X_noisy, tile=256, progress=None, noise_level=None, ensemble=False):
        """The estimated noise ``X_noisy - denoise(X_noisy)`` before clipping, in the layout of ``X_noisy``."""
        return self._apply(X_noisy, tile, progress, noise=True, noise_level=noise_level, ensemble=ensemble)

    def denoise(self, X_noisy, tile=256, progress=None, noise_level=None, ensemble=False):
        """Denoised images of **any size**, in the layout of ``X_noisy``.

        Parameters
        ----------
        X_noisy : array, values in [0, 1]
            **One image**: ``(H, W)`` for a grey model, ``(H, W, C)`` for a ``C``-channel model (a 3-D array
            is always one image for a colour model, whatever its size: an RGB image 3 pixels tall too).
            **A batch**: ``(N, C, H, W)``, or ``(N, H, W, C)`` when its second axis is not ``C``; for a grey
            model also ``(N, H, W)``. The layout follows from the axes and the model's channels, never
            from the image's size.
        tile : int or None, default 256
            Images with a side longer than this are processed in ``tile x tile`` blocks, each with a
            margin of ``32 * unshuffle`` pixels of context (more than the network's receptive radius), so the result
            equals a whole-image pass while the memory a pass needs stays bounded. Smaller images go
            several at a time, about ``tile * tile`` pixels per pass. ``None``: every image whole.
        progress : callable, optional
            Called as ``progress(done, total)`` in pixels (of all images) after every pass through the
            network, last with ``done == total``.
        noise_level : float or sequence of float, optional
            For a model with a noise map (``noise_map=True``): the noise sigma, one for all images or one
            per image. ``None``: estimated from each image (the median absolute finest diagonal Haar
            coefficient / 0.6745, :mod:`nnlite.images.noise_estimate`). A blind model takes none.
        ensemble : bool, default False
            Average the results of the eight flips / 90-degree rotations of each image (each undone
            after the network): eight times the work for a cleaner result.
        """
        return self._apply(X_noisy, tile, progress, noise=False, noise_level=noise_level, ensemble=ensemble)

    def reconstruct(self, X_noisy):
        """Same as :meth:`denoise` (the name the autoencoders use)."""
        return self.denoise(X_noisy)

    def _apply(self, X_noisy, tile, progress, noise, noise_level=None, ensemble=False):
        self._check_fitted()
        if tile is not None:
            tile = self._check_int("tile", tile, low=self._min_tile)
        check_bool(self._name(), "ensemble", ensemble)
        x, layout = self._as_nchw(X_noisy)
        levels = self._inference_levels(x, noise_level)                  # (N,) or None
        N, _, H, W = x.shape
        budget = self._pass_pixels if tile is None else max(tile * tile, self._pass_pixels)
        per_pass = max(1, budget // (H * W))                          # images per pass through the network
        report = progress if progress is not None else (lambda done, total: None)
        was_training = self.training
        self.eval()
        try:
            out = np.empty_like(x)
            for s in range(0, N, per_pass):
                xs = x[s:s + per_pass]
                lv = None if levels is None else levels[s:s + per_pass]

                def net(block, lv=lv):
                    if lv is None and not ensemble:                      # the plain pass, one argument
                        return self._net_any_size(block)
                    return self._net_any_size(block, lv, ensemble)

                if tile is None:
                    out[s:s + per_pass] = net(xs)
                    report((s + len(xs)) * H * W, N * H * W)
                else:
                    out[s:s + per_pass] = apply_blocks(
                        net, xs, tile, self._margin, self._size_multiple,
                        progress=lambda d, t, before=s * H * W: report(before + d, N * H * W))
        finally:
            self.train(was_training)
        if noise:
            out = x - out
        elif self.clip:
            np.clip(out, 0, 1, out=out)
        if layout in ("HW", "HWC"):                                   # one image
            return out[0, 0] if layout == "HW" else out[0].transpose(1, 2, 0)
        return from_nchw(out, layout)

    def _as_nchw(self, X_noisy):
        """``(x, layout)``: ``X_noisy`` as a validated ``(N, C, H, W)`` array of the parameters' dtype and the
        layout it came in. The layout follows from the number of axes and the model's channels ``C``, never
        from the image's size: ``(H, W)`` one grey image (``'HW'``); 3-D one image ``(H, W, C)`` (``'HWC'``)
        for a colour model, a batch ``(N, H, W)`` (``'NHW'``) for a grey one; 4-D ``(N, C, H, W)``
        (``'NCHW'``) when its second axis is ``C``, else ``(N, H, W, C)`` (``'NHWC'``) when its last is."""
        X = np.asarray(X_noisy)
        C, owner = self.n_channels_, self._name()
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
            raise TypeError(f"{owner}: X_noisy must be numeric, got dtype {X.dtype}")
        if X.ndim == 2:
            if C != 1:
                raise ValueError(f"{owner}: a 2-D image (H, W) is grey, but the model was fitted on {C}-channel "
                                 "images")
            x, layout = X[None, None], "HW"
        elif X.ndim == 3 and C > 1:
            if X.shape[2] != C:
                raise ValueError(f"{owner}: a 3-D array is one image (H, W, C) for this {C}-channel model, but its "
                                 f"last axis has {X.shape[2]} entries (shape {X.shape}); a batch is (N, C, H, W)")
            x, layout = X.transpose(2, 0, 1)[None], "HWC"
        elif X.ndim == 3:
            x, layout = X[:, None], "NHW"
        elif X.ndim == 4 and X.shape[1] == C:
            x, layout = X, "NCHW"
        elif X.ndim == 4 and X.shape[3] == C:
            x, layout = X.transpose(0, 3, 1, 2), "NHWC"
        else:
            raise ValueError(f"{owner}: X_noisy must be one image (H, W){' or (H, W, C)' if C > 1 else ''} or a batch "
                             f"{'(N, H, W), ' if C == 1 else ''}(N, C, H, W) or (N, H, W, C) with C = {C} (the "
                             f"model's channels); got shape {X.shape}")
        if x.size == 0:
            raise ValueError(f"{owner}: X_noisy has no pixels (shape {X.shape})")
        x = np.ascontiguousarray(x, dtype=self._param_dtype())
        return check_finite(owner, "X_noisy", x), layout

    def _net_any_size(self, x, levels=None, ensemble=False):
        """``x - n(x)`` for ``x`` of any H, W (reflect-padded to the body's size multiple); with ``ensemble``
        the mean over the eight flips / rotations ``T`` of ``T^{-1}(T x - n(T x))``."""
        if not ensemble:
            xp, H, W = _pad_to_multiple(x, self._size_multiple)
            y = xp - self._noise_of(xp, levels)
            return y[:, :, :H, :W]
        total = np.zeros(x.shape, np.float64)
        for k in range(4):
            for flip in (False, True):
                t = np.ascontiguousarray(_transform(x, k, flip))          # (N, C, W, H) for odd k
                total += _untransform(self._net_any_size(t, levels), k, flip)
        return (total / 8).astype(x.dtype)
