"""nnlite.ops: the operations every layer, loss, model and optimizer computes with, in two backends.

A layer's ``forward`` and ``backward`` say *what* is computed; an op computes it. Every op exists twice,
with the same signature and the same results (up to float rounding):

``reference`` (:mod:`nnlite.ops.reference`)
    Plain NumPy, written to be read: one im2col path for convolution, Adam's update as its four lines.
    It imports no Numba, so a student without Numba can train every model on it.
``fast`` (:mod:`nnlite.ops.fast`, the default)
    The same ops through Numba kernels, direct BLAS calls, fused passes and the thread policy
    (:mod:`nnlite.ops.threads`). Each fast op is tested against its reference twin.

Choose one with ``nnlite.use("reference")`` / ``nnlite.use("fast")``, or the environment variable
``NNLITE_BACKEND`` before ``import nnlite``. Switch between training steps, not inside one: a
backward pass needs the backend that ran its forward pass.

Layers call ops through this module (``ops.dense_forward(...)``), never a backend module directly, so
``use`` swaps every op at once. The op signatures take and return NumPy arrays and Python scalars only,
so another backend (a GPU array library, say) can implement the same set.
"""
from __future__ import annotations

import contextlib
import importlib
import os

from . import threads  # noqa: F401  (the thread policy of the fast backend: nnlite.ops.threads)

#: Backend name -> the module that implements every op of :data:`OPS`.
BACKENDS = {"fast": "nnlite.ops.fast", "reference": "nnlite.ops.reference"}

#: The contract: every backend module defines each of these names with the same signature.
#: Each group is kept by the part of the package that uses it.
_DENSE_OPS: tuple[str, ...] = (
    # linear layers, activations, losses' fused forms, the VAE's sampling and KL
    "dense_forward", "dense_backward", "bce_with_logits", "mse", "gaussian_sample_kl", "gaussian_sample_kl_backward",
)
_CONV_OPS: tuple[str, ...] = (
    # conv2d (forward, data gradient, weight gradient), its transpose, batch norm, pooling, upsampling
    "conv2d_forward", "conv2d_backward", "conv_transpose2d_forward", "conv_transpose2d_backward",
    "batch_norm_forward", "batch_norm_backward", "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d_forward", "avg_pool2d_backward", "upsample_nearest2d_forward", "upsample_nearest2d_backward",
    "concat_channels",
)
_OPTIM_OPS: tuple[str, ...] = (
    # the optimizers' update rules
    "sgd_update", "rmsprop_update", "adam_update",
)
OPS: tuple[str, ...] = _DENSE_OPS + _CONV_OPS + _OPTIM_OPS

_current: str | None = None


def use(name: str) -> None:
    """Compute every op with backend ``name`` from now on: ``'fast'`` (default) or ``'reference'``."""
    global _current
    if not isinstance(name, str) or name.lower() not in BACKENDS:
        raise ValueError(f"nnlite.use: unknown backend {name!r}; valid: {sorted(BACKENDS)}")
    name = name.lower()
    module = importlib.import_module(BACKENDS[name])
    missing = [op for op in OPS if not hasattr(module, op)]
    if missing:
        raise RuntimeError(f"nnlite.use: backend {name!r} ({module.__name__}) lacks the ops {missing}")
    globals().update({op: getattr(module, op) for op in OPS})
    _current = name


def backend() -> str:
    """The name of the backend in use: ``'fast'`` or ``'reference'``."""
    return _current


@contextlib.contextmanager
def using(name: str):
    """``with nnlite.ops.using("reference"): ...`` runs the block on that backend, then restores the last one."""
    previous = _current
    use(name)
    try:
        yield
    finally:
        use(previous)


def _from_environment() -> str:
    name = os.environ.get("NNLITE_BACKEND", "fast").strip() or "fast"
    if name.lower() not in BACKENDS:
        raise ValueError(f"NNLITE_BACKEND={name!r} is not a backend; valid: {sorted(BACKENDS)}")
    return name


use(_from_environment())
