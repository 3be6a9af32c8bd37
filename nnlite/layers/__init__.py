"""Layers: each a Module with forward and backward side by side, the math in its docstring."""
from .activations import (
                          ACTIVATIONS,
                          ELEMENTWISE_ACTIVATIONS,
                          ELU,
                          Identity,
                          LeakyReLU,
                          ReLU,
                          Sigmoid,
                          Softmax,
                          Softplus,
                          Tanh,
                          get_activation,
)
from .container import Sequential
from .conv import Conv2d, ConvTranspose2d
from .dense import Dense
from .dropout import Dropout
from .linear import Linear
from .norm import BatchNorm1d, BatchNorm2d
from .pixel_shuffle import PixelShuffle, PixelUnshuffle
from .pooling import AvgPool2d, MaxPool2d
from .shape import Flatten, Reshape
from .skip import Concat, Residual
from .upsample import Upsample

__all__ = ["Linear", "Dense", "ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Softplus", "Softmax", "Identity",
           "Flatten", "Reshape", "Dropout", "Sequential", "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d",
           "Upsample", "PixelUnshuffle", "PixelShuffle", "BatchNorm1d", "BatchNorm2d", "Residual", "Concat",
           "ACTIVATIONS", "ELEMENTWISE_ACTIVATIONS", "get_activation"]
