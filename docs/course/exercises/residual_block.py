"""Exercise: a residual block built from nnlite layers, ``y = x + W_2 tanh(W_1 x + b_1) + b_2``.

``forward`` is written from three layers whose ``backward`` already exists. Write the block's
``backward`` by calling theirs in reverse order.

Derive
------
``x`` is used twice: once by the skip connection and once by the branch. Gradients add where a
value is used more than once:

.. math:: \\frac{\\partial L}{\\partial x} = \\frac{\\partial L}{\\partial y}
    + J_{\\text{branch}}^\\top \\frac{\\partial L}{\\partial y},

where :math:`J_{\\text{branch}}^\\top g` is ``fc1.backward(act.backward(fc2.backward(g)))``. Each
layer's ``backward`` adds its own parameters' gradients on the way.

Check your answer with ``nnlite gradcheck docs/course/exercises/residual_block.py``.
"""
import nnlite


class ResidualBlock(nnlite.Module):
    """``(N, D)`` to ``(N, D)`` through a hidden layer of ``hidden`` tanh units, plus the input."""

    def __init__(self, features, hidden, random_state=0):
        super().__init__()
        self.fc1 = nnlite.Linear(features, hidden, random_state=random_state)
        self.act = nnlite.Tanh()
        self.fc2 = nnlite.Linear(hidden, features, random_state=random_state + 1)

    def forward(self, x):
        return x + self.fc2(self.act(self.fc1(x)))

    def backward(self, dy):
        raise NotImplementedError("your code here")


GRADCHECK = [(ResidualBlock(5, 8), (4, 5))]
