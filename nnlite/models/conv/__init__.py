"""Convolutional models for images, scikit-learn-like as the MLP models.

=========================  ==================================================================================
model                      what it is
=========================  ==================================================================================
ConvDenoisingAutoencoder   ``Conv(C,32,3,s2,p1)-ReLU-Conv(32,64,3,s2,p1)-ReLU-ConvT(64,32)-ReLU-ConvT(32,C)-Sigmoid``
                           (the PyTorch tutorial's conv DAE), trained on freshly corrupted batches
                           (:mod:`.autoencoder`)
ResidualDenoiser           the flagship: a fully convolutional network that predicts the *noise* of a noisy
                           image and subtracts it; body a small U-Net or a DnCNN stack
                           (:mod:`.networks`); any image size at inference (:mod:`.denoiser`)
ConvVAE                    conv encoder to ``(mu, logvar)``, transposed-conv decoder, Bernoulli likelihood
                           + KL, the gradients of :mod:`nnlite.models.vae` (:mod:`.vae`)
=========================  ==================================================================================

Images go in as ``(N, H, W)``, ``(N, C, H, W)`` or ``(N, H, W, C)`` and come back in the layout they
came in (:func:`nnlite.images.to_nchw`).
"""
from .autoencoder import ConvDenoisingAutoencoder
from .denoiser import ResidualDenoiser
from .vae import ConvVAE

__all__ = ["ConvDenoisingAutoencoder", "ResidualDenoiser", "ConvVAE"]
