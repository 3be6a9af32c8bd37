"""Sequential: a chain of modules, whose backward runs the chain in reverse."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..module import Module
from ..summary import Summary, summary


class Sequential(Module):
    """``y = f_n(... f_2(f_1(x)))``; backward applies ``f_i.backward`` from last to first.

    Children are registered under the names ``'0'``, ``'1'``, ... so ``state_dict`` keys read
    ``'0.weight'``; ``model[i]`` and ``len(model)`` work as in PyTorch.
    """

    def __init__(self, *layers: Module):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: argument {i} must be an nnlite Module, got {type(layer).__name__}")
            setattr(self, str(i), layer)

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, i: int | slice) -> Module:
        layers = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*layers[i])
        return layers[i]

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def summary(self, input_shape=None) -> Summary:
        """Keras-style table of the layers, output shapes and parameter counts (:func:`nnlite.summary`)."""
        return summary(self, input_shape)

    def append(self, layer: Module) -> Sequential:
        setattr(self, str(len(self)), layer)
        return self

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self._modules.values():
            x = layer(x)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        for layer in reversed(list(self._modules.values())):
            dy = layer.backward(dy)
        return dy
