"""The reference backend: every op of :mod:`nnlite.ops` in plain NumPy, written to be read.

This is the code that runs under ``nnlite.use("reference")``, and the twin every fast kernel is tested
against. It imports nothing but NumPy.
"""
from __future__ import annotations


# --- linear layers, activations, losses, the VAE's sampling and KL ----------------------------------

# --- convolution, batch norm, pooling, upsampling ---------------------------------------------------

# --- optimizers' update rules -----------------------------------------------------------------------
