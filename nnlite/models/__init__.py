"""scikit-learn-like models: ``__init__`` stores the arguments, ``fit(X)`` builds and trains the networks.

Autoencoders (vanilla, deep, sparse, denoising, adversarially regularised), variational autoencoders,
GANs, convolutional denoisers and VAEs, and the classifier that judges generated samples.
"""
from ..callbacks import SaveSamples
from ..metrics import evaluate_samples
from ._base import BaseModel, NotFittedError
from .adversarial import AdversarialDenoiser
from .autoencoder import Autoencoder, DenoisingAutoencoder
from .classifier import MLPClassifier
from .conv import ConvDenoisingAutoencoder, ConvVAE, ResidualDenoiser
from .elbo import vae_negative_elbo
from .gan import GAN
from .persistence import build_model, fit_resumable, restore_model
from .sparse import SparseAutoencoder
from .vae import VAE

__all__ = ["BaseModel", "NotFittedError", "Autoencoder", "DenoisingAutoencoder", "SparseAutoencoder", "VAE", "GAN",
           "AdversarialDenoiser", "MLPClassifier", "ConvDenoisingAutoencoder", "ResidualDenoiser", "ConvVAE",
           "SaveSamples", "evaluate_samples", "vae_negative_elbo", "build_model", "restore_model", "fit_resumable"]
