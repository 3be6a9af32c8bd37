r"""
15. BatchNorm's backward
========================

Batch normalisation standardises each channel over the batch, then rescales:

.. math::
    \mu = \frac1M \sum_i x_i, \quad \sigma^2 = \frac1M \sum_i (x_i - \mu)^2, \quad
    \hat x_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad y_i = \gamma \hat x_i + \beta .

Its backward is the classic trap: :math:`\mu` and :math:`\sigma` depend on every :math:`x_i`, so each
input reaches each output through three paths.
"""

# %%
# The derivation
# --------------
# Write :math:`g_i = \partial L/\partial y_i` and :math:`r = 1/\sqrt{\sigma^2 + \epsilon}`. The
# parameters are easy: :math:`\partial L/\partial \beta = \sum_i g_i` and
# :math:`\partial L/\partial \gamma = \sum_i g_i \hat x_i`. For the input, first
# :math:`\partial L/\partial \hat x_i = \gamma g_i`, then
#
# .. math::
#     \frac{\partial \hat x_j}{\partial x_i} = r\Big(\delta_{ij} - \frac1M\Big)
#       - (x_j - \mu)\, r^3\, \frac{1}{M}(x_i - \mu)
#     = \frac{r}{M}\big(M\delta_{ij} - 1 - \hat x_j \hat x_i\big),
#
# using :math:`\partial \mu/\partial x_i = 1/M` and
# :math:`\partial \sigma^2/\partial x_i = \frac2M (x_i - \mu)` (the sum
# :math:`\sum_j (x_j - \mu)` is 0). Summing over :math:`j`:
#
# .. math::
#     \frac{\partial L}{\partial x_i} = \sum_j \gamma g_j \frac{\partial \hat x_j}{\partial x_i}
#       = \frac{\gamma r}{M}\Big(M g_i - \sum_j g_j - \hat x_i \sum_j g_j \hat x_j\Big).
#
# The two sums are the gradients of :math:`\beta` and :math:`\gamma` already computed: one pass for the
# sums, one for :math:`dx`. In evaluation mode the running statistics are constants and the layer is
# an affine map, :math:`dx = g\,\gamma r`.
import inspect

import numpy as np

import nnlite
from nnlite.layers import norm
from nnlite.ops._kernels import norm as norm_kernels

print(inspect.getsource(norm._BatchNorm.backward))
bn_kernel = norm_kernels.batchnorm_backward
print(inspect.getsource(getattr(bn_kernel, "py_func", bn_kernel)))

# %%
# The same formula in three lines of NumPy
# ----------------------------------------
rng = np.random.default_rng(100)                # seed 100: not gradcheck's R (seed 0)
x, g = rng.normal(size=(8, 3)), rng.normal(size=(8, 3))
bn = nnlite.BatchNorm1d(3, dtype=np.float64)
bn.weight.data[:] = [0.5, 1.0, 2.0]
y = bn(x)
dx = bn.backward(g)
M, gamma = len(x), bn.weight.data
r = 1 / np.sqrt(x.var(axis=0) + bn.eps)
xhat = (x - x.mean(axis=0)) * r
by_hand = gamma * r / M * (M * g - g.sum(0) - xhat * (g * xhat).sum(0))
print("dx equals the formula:", np.allclose(dx, by_hand))

# %%
# The gradient check
# ------------------
# In training mode (batch statistics) and for the 2-D layer over images, where each channel's
# statistics run over the batch and every pixel.
result = nnlite.gradcheck(bn, 3 * x)
print(result)
assert result.passed, result
result = nnlite.gradcheck(nnlite.BatchNorm2d(2, dtype=np.float64), 3 * rng.normal(size=(3, 2, 4, 4)))
print(result)
assert result.passed, result
