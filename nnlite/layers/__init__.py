"""Layers: each a Module with forward and backward side by side."""
from .activations import (ACTIVATIONS, ELEMENTWISE_ACTIVATIONS, ELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax,
                          Softplus, Tanh, get_activation)
from .container import Sequential
from .dropout import Dropout
from .linear import Linear
from .shape import Flatten, Reshape
from .dense import Dense  # noqa: E402
from .conv import Conv2d, ConvTranspose2d  # noqa: E402
from .norm import BatchNorm1d, BatchNorm2d  # noqa: E402
from .pooling import AvgPool2d, MaxPool2d  # noqa: E402
from .skip import Concat, Residual  # noqa: E402
from .upsample import Upsample  # noqa: E402
