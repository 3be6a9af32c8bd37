r"""
3. Activations
==============

An elementwise activation :math:`y = f(x)` has no parameters, and its Jacobian is diagonal: each
output depends on its own input only. So its backward is one multiplication,

.. math:: \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} \odot f'(x),

and the whole work is finding :math:`f'`, preferably written with what the forward already
computed.
"""

# %%
# The derivatives
# ---------------
# **Sigmoid.** :math:`\sigma(x) = 1/(1 + e^{-x})`, so
# :math:`\sigma'(x) = e^{-x}/(1 + e^{-x})^2 = \sigma(x)\,(1 - \sigma(x))`: the backward needs only the
# output :math:`y`, :math:`f' = y(1 - y)`.
#
# **Tanh.** :math:`\tanh' = 1 - \tanh^2`, again the output alone: :math:`f' = 1 - y^2`.
#
# **ReLU.** :math:`\max(x, 0)` has slope 1 where :math:`x > 0` and 0 elsewhere (at exactly 0 we pick
# 0, as every framework does: the function has no derivative there, which is why a gradient check
# keeps its inputs away from 0).
#
# **Softplus.** :math:`\log(1 + e^x)` has derivative :math:`e^x/(1 + e^x) = \sigma(x)`.
#
# **ELU.** :math:`x` for :math:`x > 0`, :math:`\alpha(e^x - 1)` otherwise; slope 1, or
# :math:`\alpha e^x = y + \alpha` on the negative side.
#
# nnlite's code
# -------------
import inspect

import matplotlib.pyplot as plt
import numpy as np

import nnlite

for cls in (nnlite.Sigmoid, nnlite.Tanh, nnlite.ReLU, nnlite.Softplus, nnlite.ELU):
    print(inspect.getsource(cls))

# %%
# The derivatives by hand, against the layers
# -------------------------------------------
# Feed each layer :math:`\partial L/\partial y = 1` everywhere: its backward then returns :math:`f'(x)`
# itself. The formulas above, written out from :math:`x`, must match it on a grid that avoids the
# kink at 0 (asserted), and the plot shows each function with its slope.
x = np.linspace(-4, 4, 400)
x = x[np.abs(x) > 1e-3].reshape(1, -1)                  # (1, 399): one row, no point at the kink
sig = 1 / (1 + np.exp(-x))
by_hand = {   # f'(x), from the derivations above
    nnlite.Sigmoid(): sig * (1 - sig),
    nnlite.Tanh(): 1 - np.tanh(x) ** 2,
    nnlite.ReLU(): (x > 0).astype(float),
    nnlite.Softplus(): sig,
    nnlite.ELU(): np.where(x > 0, 1.0, np.exp(x)),       # alpha = 1
}
fig, axes = plt.subplots(1, 5, figsize=(13, 2.9), layout="constrained", sharey=True)
for ax, (act, slope) in zip(axes, by_hand.items()):
    y = act(x)
    dx = act.backward(np.ones_like(x))
    np.testing.assert_allclose(dx, slope, rtol=1e-10, atol=1e-12, err_msg=type(act).__name__)
    ax.plot(x[0], y[0], label="$f(x)$")
    ax.plot(x[0], dx[0], label="$f'(x)$ = backward(1)")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_title(type(act).__name__)
    ax.set_xlabel("$x$")
    ax.set_ylim(-1.2, 2.5)
axes[0].legend(fontsize=8, loc="upper left")
plt.show()

# %%
# Where the slope is near 0 (sigmoid and tanh beyond a few units, ReLU for every negative input) the
# backward multiplies the gradient by almost nothing: a unit stuck there learns nothing. Chapter 9
# follows that product through 20 layers.
#
# Gradient checks
# ---------------
# Inputs are kept a little away from 0 (the kink of ReLU and ELU) and within a few units (where the
# sigmoid and tanh are not flat). The input's seed differs from the one gradcheck draws its projection
# :math:`R` from (0), so that :math:`R` is not the input itself.
rng = np.random.default_rng(100)
x = rng.uniform(0.1, 2.0, size=(5, 4)) * rng.choice([-1, 1], size=(5, 4))
for act in (nnlite.Sigmoid(), nnlite.Tanh(), nnlite.ReLU(), nnlite.Softplus(), nnlite.ELU(),
            nnlite.LeakyReLU(0.1)):
    result = nnlite.gradcheck(act, x)
    print(type(act).__name__, result, sep="\n")
    assert result.passed, result

# %%
# Exercises
# ---------
# - ``docs/course/exercises/swish.py``: Swish, :math:`x\,\sigma(x)`, uses :math:`x` twice (chapter 1's
#   fork). Derive :math:`f'` in terms of :math:`x` and :math:`\sigma(x)`, write the backward, and grade
#   it: ``nnlite gradcheck docs/course/exercises/swish.py``.
# - ``docs/course/exercises/dropout.py``: dropout multiplies by a random mask scaled by
#   :math:`1/(1 - p)`. With the mask held fixed it is elementwise and linear: what is its backward?
