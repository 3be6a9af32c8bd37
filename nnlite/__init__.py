"""nnlite: from-scratch neural networks on NumPy + Numba, for reconstructing and generating images.

Every layer is a :class:`Module` whose ``forward`` and ``backward`` are written by hand, side by side;
:func:`gradcheck` proves a backward against central differences.

Every submodule is an attribute after ``import nnlite`` (``nnlite.data``, ``nnlite.plots``, ...); the
ones that import matplotlib (``plots``, ``demo``, ``cli``) load on first use, so ``import nnlite``
stays fast.
"""
import importlib

from . import (
    atomic,
    callbacks,
    checkpoint,
    data,
    images,
    init,
    latent,
    layers,
    losses,
    metrics,
    models,
    module,
    noise,
    ops,
    optim,
    random,
    summary,
    trainer,
    weights,
)
from ._version import __version__  # noqa: F401  (nnlite.__version__)
from .callbacks import Callback, EarlyStopping, HistoryLogger, LambdaCallback, ModelCheckpoint, TrainingDivergedError
from .checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from .gradcheck import GradcheckResult, check_gradient, check_loss_gradients, gradcheck
from .layers import (
    ELU,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Concat,
    Conv2d,
    ConvTranspose2d,
    Dense,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    MaxPool2d,
    PixelShuffle,
    PixelUnshuffle,
    ReLU,
    Reshape,
    Residual,
    Sequential,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
    Upsample,
)
from .models import (
    GAN,
    VAE,
    AdversarialDenoiser,
    Autoencoder,
    ConvDenoisingAutoencoder,
    ConvVAE,
    DenoisingAutoencoder,
    MLPClassifier,
    ResidualDenoiser,
    SparseAutoencoder,
)
from .models.persistence import fit_resumable, restore_model
from .module import Module, Parameter
from .ops import use
from .random import as_generator
from .trainer import Trainer, fit
from .weights import pretrained

#: The thread policy of the fast backend (:mod:`nnlite.ops.threads`), as ``nnlite.threads``.
threads = ops.threads

#: Submodules loaded on first attribute access (they import matplotlib or the whole command line).
_LAZY_SUBMODULES = ("plots", "demo", "cli")

__all__ = [
    # the layer contract
    "Module", "Parameter", "gradcheck", "check_gradient", "check_loss_gradients", "GradcheckResult",
    # layers
    "Linear", "Dense", "ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Softplus", "Softmax", "Identity", "Flatten",
    "Reshape", "Dropout", "Sequential", "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "Upsample",
    "PixelUnshuffle", "PixelShuffle", "BatchNorm1d", "BatchNorm2d", "Residual", "Concat",
    # training
    "Trainer", "fit", "Callback", "LambdaCallback", "TrainingDivergedError", "ModelCheckpoint", "HistoryLogger",
    "EarlyStopping",
    # models
    "Autoencoder", "DenoisingAutoencoder", "SparseAutoencoder", "VAE", "GAN", "AdversarialDenoiser",
    "MLPClassifier", "ConvDenoisingAutoencoder", "ResidualDenoiser", "ConvVAE",
    # checkpoints
    "CheckpointError", "save_checkpoint", "load_checkpoint", "read_checkpoint", "fit_resumable", "restore_model",
    # helpers
    "as_generator", "use",
    # shipped weights
    "pretrained",
    # submodules
    "atomic", "callbacks", "checkpoint", "data", "images", "init", "latent", "layers", "losses", "metrics", "models",
    "module", "noise", "ops", "optim", "random", "summary", "threads", "trainer", "weights", "plots", "demo", "cli",
]


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'nnlite' has no attribute {name!r}")
