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
# :class:`nnlite.Linear` validates its input, keeps what the backward needs (:math:`x`), and hands the
# arithmetic to two ops of :mod:`nnlite.ops`. Here is the layer, then the ops as the **reference**
# backend writes them (plain NumPy; the default ``fast`` backend runs the same maths with BLAS and
# Numba, tested against these), printed from the installed package. The activation argument is for
# :class:`~nnlite.Dense`, which fuses a Linear with its activation (chapter 3); here it is the identity.
import inspect

import matplotlib.pyplot as plt
import numpy as np

import nnlite
from nnlite.ops import reference


def show_ops(*names):
    """Print the reference backend's source of each op: an op renamed or removed fails here, loudly."""
    for name in names:
        print(inspect.getsource(getattr(reference, name)))


print(inspect.getsource(nnlite.Linear.forward))
print(inspect.getsource(nnlite.Linear.backward))
show_ops("dense_forward", "dense_backward")

# %%
# The same three lines by hand
# ----------------------------
# Run the layer on a batch, on the reference backend, hand it some :math:`G`, and compare its gradients
# with the formulas. These assertions run when this page is built: a wrong formula stops the build.
rng = np.random.default_rng(0)
layer = nnlite.Linear(3, 2, dtype=np.float64, random_state=0)
x = rng.normal(size=(4, 3))                      # (N, n_in)
G = rng.normal(size=(4, 2))                      # dL/dy, (N, n_out)
W = layer.weight.data
with nnlite.ops.using("reference"):
    layer.zero_grad()
    y = layer(x)
    dx = layer.backward(G)
np.testing.assert_allclose(y, x @ W + layer.bias.data, rtol=1e-12)
np.testing.assert_allclose(layer.weight.grad, x.T @ G, rtol=1e-12)       # dL/dW = x^T G
np.testing.assert_allclose(layer.bias.grad, G.sum(axis=0), rtol=1e-12)   # dL/db = sum of G's rows
np.testing.assert_allclose(dx, G @ W.T, rtol=1e-12)                      # dL/dx = G W^T
print("dL/dW == x^T G, dL/db == sum G, dL/dx == G W^T: asserted")

# %%
# The weight gradient, seen
# -------------------------
# :math:`x^\top G = \sum_n x_n^\top G_n`: every sample contributes the outer product of its input row
# and its output gradient row, and the batch adds them up (a weight is used by every sample: the fork
# of chapter 1, :math:`N` times). Each small matrix below is one sample's :math:`x_n^\top G_n`; the last
# is their sum, the layer's ``weight.grad``.
parts = [np.outer(x[n], G[n]) for n in range(4)]               # (n_in, n_out) each
np.testing.assert_allclose(sum(parts), layer.weight.grad, rtol=1e-12)
lim = max(np.abs(m).max() for m in parts + [layer.weight.grad])
fig, axes = plt.subplots(1, 5, figsize=(10, 2.8), layout="constrained")
for n, (ax, m) in enumerate(zip(axes, parts + [layer.weight.grad])):
    ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.set_title(f"$x_{n + 1}^\\top G_{n + 1}$" if n < 4 else r"$\partial L/\partial W = x^\top G$")
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xticks([0, 1])
    ax.set_yticks([0, 1, 2])
    ax.set_xlabel("output $j$")
axes[0].set_ylabel("input $i$")
fig.suptitle("The weight gradient is a sum over the batch of one outer product per sample (+ between panels)")
plt.show()

# %%
# The gradient check
# ------------------
# :func:`nnlite.gradcheck` takes the scalar :math:`L = \sum y \odot R` for a random :math:`R` (so that
# :math:`G = R`), nudges every input and parameter element by :math:`\pm h` and compares the slope
# with the backward. In float64 a correct backward agrees to better than :math:`10^{-7}` (chapter 6
# shows why).
with nnlite.ops.using("reference"):
    result = nnlite.gradcheck(nnlite.Linear(3, 2, random_state=0), rng.normal(size=(4, 3)))
print(result)
assert result.passed, result

# %%
# Exercises
# ---------
# - ``docs/course/exercises/residual_block.py``: a whole Module to write, two Linear layers and a skip
#   connection, with its parameters; the contract is :class:`nnlite.Linear`'s above: ``backward``
#   returns :math:`\partial L/\partial x` and **adds** into ``.grad``. Grade it with
#   ``nnlite gradcheck docs/course/exercises/residual_block.py``.
# - By hand: a Linear layer without bias applied to a batch of shape ``(N, T, n_in)`` (a sequence per
#   sample). Derive :math:`\partial L / \partial W` and check your formula against the layer, which
#   flattens the leading axes.
