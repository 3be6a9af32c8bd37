"""Exercise: nearest-neighbour upsampling by an integer factor ``s``.

``forward`` is written: every pixel is copied into an ``s x s`` block. Write ``backward``.

Derive
------
:math:`y_{n,c,i,j} = x_{n,c,\\lfloor i/s \\rfloor,\\lfloor j/s \\rfloor}`. One input feeds ``s * s``
outputs, and gradients add where a value is used more than once:

.. math:: \\frac{\\partial L}{\\partial x_{n,c,p,q}} = \\sum_{a=0}^{s-1} \\sum_{b=0}^{s-1}
    \\frac{\\partial L}{\\partial y_{n,c,ps+a,qs+b}}.

Reshape ``dy`` from ``(N, C, H s, W s)`` to ``(N, C, H, s, W, s)`` and sum the two block axes.

Check your answer with ``nnlite gradcheck docs/course/exercises/upsample.py``.
"""
import numpy as np

import nnlite


class Upsample(nnlite.Module):
    """``(N, C, H, W)`` to ``(N, C, H s, W s)`` by repeating each pixel."""

    def __init__(self, s=2):
        super().__init__()
        self.s = s

    def forward(self, x):
        self._shape = x.shape
        return np.repeat(np.repeat(x, self.s, axis=2), self.s, axis=3)   # (N, C, H s, W s)

    def backward(self, dy):
        raise NotImplementedError("your code here")


GRADCHECK = [(Upsample(2), (2, 3, 3, 4)), (Upsample(3), (1, 2, 2, 2))]
