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

import numpy as np

import nnlite

for cls in (nnlite.Sigmoid, nnlite.Tanh, nnlite.ReLU, nnlite.Softplus, nnlite.ELU):
    print(inspect.getsource(cls))

# %%
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
    print(f"{type(act).__name__:10s} max relative error {result.max_rel_error:.1e}")
    assert result.passed, result
