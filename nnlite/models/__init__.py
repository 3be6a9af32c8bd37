from ._base import NotFittedError  # noqa: F401  (issue 3: tiny-bitmap models)
from .autoencoder import Autoencoder, DenoisingAutoencoder  # noqa: F401
from .vae import VAE  # noqa: F401
from .classifier import MLPClassifier  # noqa: F401,E402  (issue 6: GANs, sparse AEs, a judge classifier)
from .gan import GAN  # noqa: F401,E402
from .adversarial import AdversarialDenoiser  # noqa: F401,E402
from ..callbacks import SaveSamples  # noqa: F401,E402
from ..metrics import evaluate_samples  # noqa: F401,E402
from .sparse import SparseAutoencoder  # noqa: F401,E402
from .conv import ConvDenoisingAutoencoder, ConvVAE, ResidualDenoiser  # noqa: F401,E402  (issue 5: conv models)
