"""nnlite: from-scratch neural networks on NumPy + Numba, for reconstructing and generating images."""
from .module import Module, Parameter

__version__ = "0.1.0"
