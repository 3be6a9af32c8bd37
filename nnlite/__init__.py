"""nnlite: from-scratch neural networks on NumPy + Numba, for reconstructing and generating images.

Every layer is a :class:`Module` whose ``forward`` and ``backward`` are written by hand, side by side;
:func:`gradcheck` proves a backward against central differences.
"""
from . import init, losses, optim
from .gradcheck import GradcheckResult, check_gradient, gradcheck
from .layers import (ELU, Dropout, Flatten, Identity, LeakyReLU, Linear, ReLU, Reshape, Sequential, Sigmoid,
                     Softmax, Softplus, Tanh)
from .module import Module, Parameter
from .random import as_generator
from .trainer import Callback, LambdaCallback, Trainer, TrainingDivergedError, fit

__version__ = "0.1.0"

__all__ = [
    "Module", "Parameter",
    "Linear", "ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Softplus", "Softmax", "Identity", "Flatten",
    "Reshape", "Dropout", "Sequential",
    "losses", "optim", "init",
    "gradcheck", "check_gradient", "GradcheckResult",
    "Trainer", "fit", "Callback", "LambdaCallback", "TrainingDivergedError",
    "as_generator",
]
from . import metrics  # noqa: E402  (issue 4: psnr, ssim)
__all__ += ["metrics"]
from . import callbacks, checkpoint  # noqa: E402  (issue 8: checkpoints, resume)
from .callbacks import EarlyStopping, HistoryLogger, ModelCheckpoint  # noqa: E402
from .checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint  # noqa: E402
__all__ += ["callbacks", "checkpoint", "ModelCheckpoint", "HistoryLogger", "EarlyStopping", "CheckpointError",
            "save_checkpoint", "load_checkpoint", "read_checkpoint"]
from . import threads  # noqa: E402  (issue 7: BLAS thread control)
from .layers import Dense  # noqa: E402  (issue 7: fused Linear + activation)
__all__ += ["threads", "Dense"]
from .layers import (AvgPool2d, BatchNorm1d, BatchNorm2d, Concat, Conv2d, ConvTranspose2d,  # noqa: E402
                     MaxPool2d, Residual, Upsample)  # (issue 5: conv layers)
__all__ += ["Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "Upsample", "BatchNorm1d", "BatchNorm2d",
            "Residual", "Concat"]
from . import models, noise  # noqa: E402  (issue 3: autoencoders, VAE, noise)
from .models import VAE, Autoencoder, DenoisingAutoencoder  # noqa: E402
__all__ += ["models", "noise", "Autoencoder", "DenoisingAutoencoder", "VAE"]
from .models import GAN, AdversarialDenoiser, MLPClassifier, SparseAutoencoder  # noqa: E402  (issue 6)
__all__ += ["GAN", "AdversarialDenoiser", "MLPClassifier", "SparseAutoencoder"]
from . import images  # noqa: E402  (issue 8: users' image files, tiling)
from .checkpoint import fit_resumable, restore_model  # noqa: E402  (issue 8: checkpoints of nnlite.models)
__all__ += ["images", "fit_resumable", "restore_model"]
from . import latent  # noqa: E402  (issue 4: PCA / t-SNE views of latent codes)
__all__ += ["latent"]
from .models import ConvDenoisingAutoencoder, ConvVAE, ResidualDenoiser  # noqa: E402  (issue 5: conv models)
__all__ += ["ConvDenoisingAutoencoder", "ResidualDenoiser", "ConvVAE"]
