"""Solution: Softmax along the last axis.

``forward`` is written; write ``backward``. Every output depends on every input of its row, so
the Jacobian is a full matrix per row, but you never need to build it.

Derive
------
With :math:`y_i = e^{x_i} / \\sum_k e^{x_k}`,

.. math:: \\frac{\\partial y_j}{\\partial x_i} = y_j (\\delta_{ij} - y_i), \\qquad
    \\frac{\\partial L}{\\partial x_i} = \\sum_j \\frac{\\partial L}{\\partial y_j} y_j (\\delta_{ij} - y_i)
    = y_i \\Big(\\frac{\\partial L}{\\partial y_i} - \\sum_j \\frac{\\partial L}{\\partial y_j} y_j\\Big).

The sum runs along the last axis; ``keepdims=True`` lets it broadcast back.

Check your answer with ``nnlite gradcheck docs/course/exercises/solutions/softmax.py``.
"""
import numpy as np

import nnlite


class Softmax(nnlite.Module):
    """Normalised exponentials along the last axis: ``(N, D)`` to ``(N, D)``, rows summing to 1."""

    def forward(self, x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))     # shifted by the row max: no overflow
        self._y = e / e.sum(axis=-1, keepdims=True)
        return self._y

    def backward(self, dy):
        y = self._y
        return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))   # (N, D)


GRADCHECK = [(Softmax(), (4, 5)), (Softmax(), (2, 3, 7))]
