"""Layers: each a Module with forward and backward side by side."""
from .activations import (ACTIVATIONS, ELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Softplus, Tanh,
                          get_activation)
from .container import Sequential
from .dropout import Dropout
from .linear import Linear
from .shape import Flatten, Reshape
from .dense import Dense  # noqa: E402  (issue 7: Linear + activation fused)
