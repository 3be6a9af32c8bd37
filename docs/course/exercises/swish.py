"""Exercise: Swish, ``y = x * sigmoid(beta * x)``.

Swish (Ramachandran et al., 2017) is smooth, not monotone, and lets a little negative signal
through. ``forward`` is written; write ``backward``.

Derive
------
With :math:`s = \\sigma(\\beta x)` and :math:`\\sigma'(u) = \\sigma(u)(1 - \\sigma(u))`, the product rule gives

.. math:: \\frac{\\partial y}{\\partial x} = s + \\beta x \\, s (1 - s) = s + \\beta y (1 - s),

and, elementwise, :math:`\\frac{\\partial L}{\\partial x} = \\frac{\\partial L}{\\partial y}
\\frac{\\partial y}{\\partial x}`. Keep in ``forward`` what ``backward`` needs.

Check your answer with ``nnlite gradcheck docs/course/exercises/swish.py``.
"""
import numpy as np

import nnlite


class Swish(nnlite.Module):
    """``y = x * sigmoid(beta * x)``, elementwise, any shape."""

    def __init__(self, beta=1.0):
        super().__init__()
        self.beta = beta

    def forward(self, x):
        s = 1.0 / (1.0 + np.exp(-self.beta * x))          # sigmoid(beta x), same shape as x
        self._s, self._y = s, x * s
        return self._y

    def backward(self, dy):
        raise NotImplementedError("your code here")


GRADCHECK = [(Swish(), (4, 5)), (Swish(beta=2.0), (3, 2, 6))]
