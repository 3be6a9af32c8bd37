"""A Keras-style table of a network: one row per layer with its output shape and parameter count.

>>> import nnlite
>>> net = nnlite.Sequential(nnlite.Linear(784, 64), nnlite.ReLU(), nnlite.Linear(64, 10))
>>> print(nnlite.summary(net, input_shape=(784,)))           # doctest: +NORMALIZE_WHITESPACE
layer     type     output shape   parameters
-----     ----     ------------   ----------
0         Linear   (None, 64)         50,240
1         ReLU     (None, 64)              0
2         Linear   (None, 10)            650
-----     ----     ------------   ----------
total: 50,890 parameters, 198.8 KiB as float32

The output shapes come from one forward pass of a batch of two zeros through the network (``None``
stands for the batch axis), recorded at every layer that has no children of its own. Without
``input_shape`` (and for a fitted nnlite model, its ``input_shape_``) the table lists parameters only.
"""
from __future__ import annotations

import numpy as np

from .module import Module

__all__ = ["summary", "Summary"]


class Summary(str):
    """The table as a string that also shows as the table in a REPL or notebook (not as a quoted string)."""

    def __repr__(self):
        return str(self)


def _leaves(module: Module, prefix=""):
    children = list(module.named_children())
    if not children:
        yield prefix or type(module).__name__, module
    for name, child in children:
        yield from _leaves(child, f"{prefix}.{name}" if prefix else name)


def _own_parameters(module: Module) -> int:
    return int(sum(p.size for _, p in module.named_parameters()))


def _output_shapes(module: Module, input_shape, dtype) -> dict[int, tuple]:
    """Output shape of every leaf layer in one forward pass of two zero samples; {} if it cannot run."""
    shapes: dict[int, tuple] = {}
    leaves = [m for _, m in _leaves(module)]
    for leaf in leaves:
        def recording(*args, _leaf=leaf, _forward=leaf.forward, **kwargs):
            y = _forward(*args, **kwargs)
            shapes.setdefault(id(_leaf), (None,) + tuple(np.shape(y))[1:])
            return y
        object.__setattr__(leaf, "forward", recording)
    training = getattr(module, "training", False)
    generators = [(g, g.bit_generator.state) for m in module.modules() for g in vars(m).values()
                  if isinstance(g, np.random.Generator)]  # a VAE samples in forward: draw nothing for real
    try:
        module.eval()
        module.forward(np.zeros((2,) + tuple(input_shape), dtype))
    except Exception:  # noqa: BLE001 - a network that takes other inputs: list parameters only
        shapes = {}
    finally:
        for leaf in leaves:
            object.__delattr__(leaf, "forward")
        for g, state in generators:
            g.bit_generator.state = state
        if training:
            module.train()
    return shapes


def summary(module: Module, input_shape=None) -> Summary:
    """The table of ``module``'s layers (see the module docstring); ``print`` it or show it in a notebook.

    Parameters
    ----------
    module : Module
        A layer, a network, or a fitted nnlite model (its networks are listed).
    input_shape : tuple of int, optional
        The shape of one sample (without the batch axis). Defaults to a fitted model's ``input_shape_``.
    """
    if not isinstance(module, Module):
        raise TypeError(f"summary: expected an nnlite Module, got {type(module).__name__}")
    if input_shape is None:
        input_shape = getattr(module, "image_shape_", None) or getattr(module, "input_shape_", None)
    params = module.parameters()
    dtype = params[0].dtype if params else np.float32
    shapes = _output_shapes(module, input_shape, dtype) if input_shape is not None else {}
    if not shapes and getattr(module, "n_features_in_", None):       # MLP models take flat samples
        shapes = _output_shapes(module, (module.n_features_in_,), dtype)
    rows = [(name, type(leaf).__name__, str(shapes[id(leaf)]) if id(leaf) in shapes else "-",
             f"{_own_parameters(leaf):,}") for name, leaf in _leaves(module)]
    header = ("layer", "type", "output shape", "parameters")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]

    def line(cells):
        return "   ".join(c.rjust(w) if i == 3 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = line(tuple("-" * len(h) for h in header))
    total = _own_parameters(module)
    n_bytes = total * np.dtype(dtype).itemsize
    size = f"{n_bytes / 2**20:.1f} MiB" if n_bytes >= 2**20 else f"{n_bytes / 2**10:.1f} KiB"
    text = "\n".join([line(header), rule, *map(line, rows), rule,
                      f"total: {total:,} parameters, {size} as {np.dtype(dtype).name}"])
    return Summary(text)
