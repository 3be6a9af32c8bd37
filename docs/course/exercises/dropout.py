"""Exercise: (inverted) dropout.

In training, each input is kept with probability ``1 - p`` and scaled by ``1 / (1 - p)``, so the
expected output equals the input and nothing changes at evaluation. ``forward`` is written; write
``backward``.

Derive
------
With the mask :math:`m_i \\in \\{0, 1\\}` drawn in ``forward``, :math:`y_i = x_i m_i / (1 - p)`, a
linear map for a fixed mask:

.. math:: \\frac{\\partial L}{\\partial x_i} = \\frac{\\partial L}{\\partial y_i} \\frac{m_i}{1 - p}.

In evaluation mode (``self.training`` False) the layer is the identity.

Why can a random layer be gradient-checked? The mask comes from the module's own generator
``self.rng``; the grader (like :func:`nnlite.gradcheck`) restores every generator of the module
before each evaluation, so all the perturbed forwards see the same, fixed mask.

Check your answer with ``nnlite gradcheck docs/course/exercises/dropout.py``.
"""
import numpy as np

import nnlite


class Dropout(nnlite.Module):
    """Zero each input with probability ``p`` in training, scale the rest by ``1 / (1 - p)``."""

    def __init__(self, p=0.5, random_state=0):
        super().__init__()
        self.p = p
        self.rng = np.random.default_rng(random_state)

    def forward(self, x):
        if not self.training:
            return x
        self._mask = self.rng.random(x.shape) >= self.p           # True where kept, same shape as x
        return x * self._mask / (1.0 - self.p)

    def backward(self, dy):
        raise NotImplementedError("your code here")


GRADCHECK = [(Dropout(0.3, random_state=0), (4, 5)), (Dropout(0.5, random_state=1), (2, 3, 4))]
