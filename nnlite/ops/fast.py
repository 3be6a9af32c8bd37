"""The fast backend: every op of :mod:`nnlite.ops` through Numba kernels, direct BLAS calls and the
thread policy. Same signatures and results as :mod:`nnlite.ops.reference`, its readable twin.
"""
from __future__ import annotations


# --- linear layers, activations, losses, the VAE's sampling and KL ----------------------------------

# --- convolution, batch norm, pooling, upsampling ---------------------------------------------------

# --- optimizers' update rules -----------------------------------------------------------------------
