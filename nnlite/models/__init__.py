from ._base import NotFittedError  # noqa: F401  (issue 3: tiny-bitmap models)
from .autoencoder import Autoencoder, DenoisingAutoencoder  # noqa: F401
from .vae import VAE  # noqa: F401
