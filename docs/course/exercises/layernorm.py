"""Exercise: a whole new Module with parameters, layer normalisation.

Each sample is normalised over its ``D`` features, then scaled and shifted by learned vectors
``weight`` (:math:`\\gamma`) and ``bias`` (:math:`\\beta`). ``forward`` is written; write
``backward``: return :math:`\\partial L / \\partial x` and **add** into ``self.weight.grad`` and
``self.bias.grad`` (``+=``: the Module contract).

Derive
------
Per row, with :math:`\\mu = \\frac1D \\sum_j x_j`, :math:`\\sigma^2 = \\frac1D \\sum_j (x_j - \\mu)^2`,
:math:`r = 1/\\sqrt{\\sigma^2 + \\epsilon}`, :math:`\\hat x_j = (x_j - \\mu) r` and
:math:`y_j = \\gamma_j \\hat x_j + \\beta_j`:

.. math:: \\frac{\\partial L}{\\partial \\gamma_j} = \\sum_n g_{nj} \\hat x_{nj}, \\qquad
    \\frac{\\partial L}{\\partial \\beta_j} = \\sum_n g_{nj},

with :math:`g = \\partial L / \\partial y` summed over every row :math:`n`. For the input, let
:math:`d_j = g_j \\gamma_j` (the gradient w.r.t. :math:`\\hat x`); :math:`\\mu` and :math:`r` depend on
every :math:`x_j`, and the chain rule through them gives

.. math:: \\frac{\\partial L}{\\partial x_j} = r \\Big(d_j - \\frac1D \\sum_k d_k
    - \\hat x_j \\frac1D \\sum_k d_k \\hat x_k\\Big).

Check your answer with ``nnlite gradcheck docs/course/exercises/layernorm.py``.
"""
import numpy as np

import nnlite


class LayerNorm(nnlite.Module):
    """``(N, D)`` to ``(N, D)``: each row normalised to mean 0 and variance 1, then ``* weight + bias``."""

    def __init__(self, features, eps=1e-5, random_state=0):
        super().__init__()
        rng = np.random.default_rng(random_state)
        self.eps = eps
        # Not the usual ones and zeros: a check at gamma = 1 would not notice a gamma forgotten in backward.
        self.weight = nnlite.Parameter(1.0 + 0.1 * rng.standard_normal(features))   # gamma, (D,)
        self.bias = nnlite.Parameter(0.1 * rng.standard_normal(features))           # beta, (D,)

    def forward(self, x):
        mu = x.mean(axis=-1, keepdims=True)                       # (N, 1)
        r = 1.0 / np.sqrt(x.var(axis=-1, keepdims=True) + self.eps)  # (N, 1)
        self._xhat, self._r = (x - mu) * r, r                     # (N, D), (N, 1)
        return self.weight.data * self._xhat + self.bias.data

    def backward(self, dy):
        raise NotImplementedError("your code here")


GRADCHECK = [(LayerNorm(6), (4, 6)), (LayerNorm(3, random_state=1), (5, 3))]
