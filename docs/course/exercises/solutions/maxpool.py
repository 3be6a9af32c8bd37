"""Solution: 2-D max pooling over non-overlapping ``k x k`` windows (stride ``k``).

``forward`` is written: it views the image as blocks and keeps a mask of where each maximum sits.
Write ``backward``.

Derive
------
Each output is :math:`y = \\max_{(p, q) \\in \\text{window}} x_{pq}`. Away from ties,

.. math:: \\frac{\\partial y}{\\partial x_{pq}} = [\\, x_{pq} = y \\,],

so the whole upstream gradient of a window goes to its maximum and every other input of the
window gets 0. The mask of shape ``(N, C, H/k, k, W/k, k)`` says where; ``dy`` of shape
``(N, C, H/k, W/k)`` must be broadcast over the two window axes, then reshaped back to ``(N, C, H, W)``.

Check your answer with ``nnlite gradcheck docs/course/exercises/solutions/maxpool.py``.
"""
import nnlite


class MaxPool2d(nnlite.Module):
    """``(N, C, H, W)`` to ``(N, C, H/k, W/k)``; ``H`` and ``W`` must be multiples of ``k``."""

    def __init__(self, k=2):
        super().__init__()
        self.k = k

    def forward(self, x):
        N, C, H, W = x.shape
        k = self.k
        blocks = x.reshape(N, C, H // k, k, W // k, k)            # (N, C, H/k, k, W/k, k)
        y = blocks.max(axis=(3, 5))                               # (N, C, H/k, W/k)
        self._mask = blocks == y[:, :, :, None, :, None]          # True at each window's maximum
        self._shape = x.shape
        return y

    def backward(self, dy):
        dx = self._mask * dy[:, :, :, None, :, None]               # (N, C, H/k, k, W/k, k)
        return dx.reshape(self._shape)


GRADCHECK = [(MaxPool2d(2), (2, 3, 4, 6)), (MaxPool2d(3), (1, 2, 6, 3))]
