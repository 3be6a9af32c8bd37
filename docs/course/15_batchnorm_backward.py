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

import matplotlib.pyplot as plt
import numpy as np

import nnlite
from nnlite.ops import reference


def show_ops(*names):
    """Print the reference backend's source of each op: an op renamed or removed fails here, loudly."""
    for name in names:
        print(inspect.getsource(getattr(reference, name)))


show_ops("batch_norm_forward", "batch_norm_backward")

# %%
# The same formula in three lines of NumPy
# ----------------------------------------
# The layer (on the reference backend) against the formula derived above, written out, asserted; and
# in evaluation mode against the affine map:
rng = np.random.default_rng(100)                # seed 100: not gradcheck's R (seed 0)
x, g = rng.normal(size=(8, 3)), rng.normal(size=(8, 3))
bn = nnlite.BatchNorm1d(3, dtype=np.float64)
bn.weight.data[:] = [0.5, 1.0, 2.0]
with nnlite.ops.using("reference"):
    y = bn(x)
    dx = bn.backward(g)
M, gamma = len(x), bn.weight.data
r = 1 / np.sqrt(x.var(axis=0) + bn.eps)
xhat = (x - x.mean(axis=0)) * r
by_hand = gamma * r / M * (M * g - g.sum(0) - xhat * (g * xhat).sum(0))
np.testing.assert_allclose(dx, by_hand, rtol=1e-10, atol=1e-14)
np.testing.assert_allclose(bn.weight.grad, (g * xhat).sum(0), rtol=1e-12)
np.testing.assert_allclose(bn.bias.grad, g.sum(0), rtol=1e-12)
ev = nnlite.BatchNorm1d(3, dtype=np.float64)
ev.weight.data[:] = gamma
ev.eval()
with nnlite.ops.using("reference"):
    ev(x)
    dx_eval = ev.backward(g)
np.testing.assert_allclose(dx_eval, g * gamma / np.sqrt(ev.running_var + ev.eps), rtol=1e-12)
print("dx, dgamma, dbeta equal the formulas (training); dx = g gamma r (evaluation): asserted")

# %%
# What the two extra paths do
# ---------------------------
# Rewrite the result as :math:`\partial L/\partial x = \gamma r\,\big(g - \bar g - \hat x\,
# \overline{g \hat x}\big)` (bars: means over the batch): the gradient :math:`g` with its **mean**
# removed and its **component along** :math:`\hat x` removed (:math:`\overline{\hat x^2} \approx 1`, so
# :math:`\overline{g \hat x}` is the slope of :math:`g` against :math:`\hat x`). Shifting all inputs of a
# channel, or scaling them about their mean, leaves :math:`\hat x` unchanged, so the loss cannot depend
# on those directions and the gradient has no component along them:
# :math:`\sum_i \partial L/\partial x_i = 0`, and :math:`\sum_i \hat x_i\, \partial L/\partial x_i = 0`
# up to :math:`\epsilon` (scaling changes :math:`\hat x` a little when :math:`\epsilon > 0`): summing the
# formula gives exactly :math:`\gamma r \sum_i g_i \hat x_i\, (1 - \overline{\hat x^2})` with
# :math:`1 - \overline{\hat x^2} = \epsilon/(\sigma^2 + \epsilon)`. Both asserted.
#
# The picture, for one channel of a batch of 64: :math:`\gamma r g` as if the statistics were
# constants, and the true gradient, each against :math:`\hat x`, with its least-squares line.
np.testing.assert_allclose(dx.sum(axis=0), 0, atol=1e-12)
np.testing.assert_allclose((dx * xhat).sum(axis=0), gamma * r * (g * xhat).sum(0) * (1 - (xhat ** 2).mean(0)),
                           rtol=1e-6, atol=1e-15)
xb = rng.normal(size=(64, 1))
gb = 0.8 + 1.5 * (xb - xb.mean()) / xb.std() + 0.6 * rng.normal(size=(64, 1))   # a mean and a slope in x-hat
bn1 = nnlite.BatchNorm1d(1, dtype=np.float64)
with nnlite.ops.using("reference"):
    bn1(xb)
    dxb = bn1.backward(gb)
xh = ((xb - xb.mean()) / np.sqrt(xb.var() + bn1.eps))[:, 0]
naive = (gb / np.sqrt(xb.var() + bn1.eps))[:, 0]
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for values, label, color in ((naive, r"$\gamma r g$ (statistics held constant)", "tab:orange"),
                             (dxb[:, 0], r"$\partial L/\partial x$ (all three paths)", "tab:blue")):
    slope, icept = np.polyfit(xh, values, 1)
    ax.scatter(xh, values, s=12, color=color, label=label)
    ax.plot(np.sort(xh), icept + slope * np.sort(xh), color=color, lw=1, label=f"line: {icept:.2f} + {slope:.2f} x-hat")
ax.axhline(0, color="k", lw=0.6)
ax.set_xlabel(r"$\hat x$")
ax.legend(fontsize=8)
ax.set_title("The mean and variance paths remove the constant and the linear part")
plt.show()

# %%
# The gradient check
# ------------------
# In training mode (batch statistics) and for the 2-D layer over images, where each channel's
# statistics run over the batch and every pixel, on the reference backend. The image layer's
# projection :math:`L = \sum y \odot R` sums 96 outputs, each moved by every input through the
# statistics, so its central differences carry more round-off; the step :math:`h = 10^{-5}` keeps it
# at :math:`10^{-8}` (with the default :math:`10^{-6}`: :math:`8 \times 10^{-8}`, at the bar).
with nnlite.ops.using("reference"):
    result = nnlite.gradcheck(bn, 3 * x)
print(result)
assert result.passed, result
with nnlite.ops.using("reference"):
    result = nnlite.gradcheck(nnlite.BatchNorm2d(2, dtype=np.float64), 3 * rng.normal(size=(3, 2, 4, 4)),
                              eps=1e-5)
print(result)
assert result.passed, result

# %%
# Exercises
# ---------
# - ``docs/course/exercises/layernorm.py``: layer normalisation standardises each **sample** over its
#   features instead of each feature over the batch. The derivation above carries over with the sums
#   running over the other axis; write it and grade it with
#   ``nnlite gradcheck docs/course/exercises/layernorm.py``.
# - By hand: in evaluation mode the layer is affine. Why does a model trained with batch statistics
#   and checked in evaluation mode pass a gradient check that says nothing about the training backward?
