r"""
2. The chain rule on one Linear layer
=====================================

A network is a chain of functions, and backprop is the chain rule applied from the loss backwards.
The smallest piece that has parameters is the affine layer :math:`y = xW + b`, with a batch
:math:`x` of shape :math:`(N, n_{in})`, :math:`W` of shape :math:`(n_{in}, n_{out})` and :math:`b`
of shape :math:`(n_{out},)`. Whatever comes after the layer hands it
:math:`G = \partial L / \partial y`, one number per output element; the layer must return
:math:`\partial L / \partial x` and add :math:`\partial L / \partial W`, :math:`\partial L / \partial b`
into the parameters' ``.grad``.
"""

# %%
# The derivation, one element at a time
# -------------------------------------
# Write the forward for one element: :math:`y_{nj} = \sum_i x_{ni} W_{ij} + b_j`. Each weight
# :math:`W_{ij}` touches every sample's output :math:`j`, so the chain rule sums over the batch:
#
# .. math::
#     \frac{\partial L}{\partial W_{ij}} = \sum_n \frac{\partial L}{\partial y_{nj}}
#         \frac{\partial y_{nj}}{\partial W_{ij}} = \sum_n G_{nj}\, x_{ni}
#     \quad\Longrightarrow\quad \frac{\partial L}{\partial W} = x^\top G .
#
# The bias is added to every row, so its gradient sums the rows of :math:`G`:
# :math:`\partial L / \partial b_j = \sum_n G_{nj}`. An input element :math:`x_{ni}` reaches every
# output of its own row:
#
# .. math::
#     \frac{\partial L}{\partial x_{ni}} = \sum_j G_{nj} W_{ij}
#     \quad\Longrightarrow\quad \frac{\partial L}{\partial x} = G W^\top .
#
# A shape check catches most mistakes: :math:`x^\top G` is :math:`(n_{in}, N)(N, n_{out})`, the
# shape of :math:`W`; :math:`G W^\top` is :math:`(N, n_{out})(n_{out}, n_{in})`, the shape of
# :math:`x`.
#
# nnlite's code
# -------------
# This is :class:`nnlite.Linear`'s forward and backward, printed from the installed package:
import inspect

import numpy as np

import nnlite

print(inspect.getsource(nnlite.Linear.forward))
print(inspect.getsource(nnlite.Linear.backward))

# %%
# The same three lines by hand
# ----------------------------
# Run the layer on a batch, hand it some :math:`G`, and compare its gradients with the formulas.
rng = np.random.default_rng(0)
layer = nnlite.Linear(3, 2, dtype=np.float64, random_state=0)
x = rng.normal(size=(4, 3))                      # (N, n_in)
G = rng.normal(size=(4, 2))                      # dL/dy, (N, n_out)
layer.zero_grad()
y = layer(x)
dx = layer.backward(G)
W = layer.weight.data
print("dL/dW == x^T G :", np.allclose(layer.weight.grad, x.T @ G))
print("dL/db == sum G :", np.allclose(layer.bias.grad, G.sum(axis=0)))
print("dL/dx == G W^T :", np.allclose(dx, G @ W.T))

# %%
# The gradient check
# ------------------
# :func:`nnlite.gradcheck` takes the scalar :math:`L = \sum y \odot R` for a random :math:`R` (so that
# :math:`G = R`), nudges every input and parameter element by :math:`\pm h` and compares the slope
# with the backward. In float64 a correct backward agrees to better than :math:`10^{-7}`.
result = nnlite.gradcheck(nnlite.Linear(3, 2, random_state=0), rng.normal(size=(4, 3)))
print(result)
assert result.passed, result
