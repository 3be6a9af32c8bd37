r"""
4. Losses, and BCE on logits
============================

A loss turns a prediction into one number, and its backward starts the chain:
:math:`\partial L / \partial \mathrm{pred}`. The mean squared error is the easy one,
:math:`L = \frac1n \sum (p - t)^2`, :math:`\partial L/\partial p = 2(p - t)/n`. The binary
cross-entropy needs more care.
"""

# %%
# Why not sigmoid, then BCE?
# --------------------------
# The textbook pairing is a sigmoid output :math:`p = \sigma(\ell)` and
# :math:`\mathrm{BCE}(p, t) = -t \log p - (1 - t) \log(1 - p)`. Its derivative through the sigmoid is
#
# .. math::
#     \frac{\partial\,\mathrm{BCE}}{\partial \ell}
#       = \frac{p - t}{p(1 - p)} \cdot p(1 - p) = p - t ,
#
# a beautiful cancellation, but computed as two steps it divides by :math:`p(1 - p)`, which is 0 in
# floating point as soon as the sigmoid saturates. And the forward takes :math:`\log p` of a
# :math:`p` that has rounded to 0:
import inspect

import numpy as np

import nnlite
from nnlite import losses

logit = np.array([-40.0, 0.0, 40.0])
with np.errstate(all="ignore"):
    p = 1 / (1 + np.exp(-logit))
    naive = -np.log(p)                       # BCE against t = 1
print("sigmoid then log :", naive)           # inf at -40: p rounded to 0

# %%
# The stable form
# ---------------
# Write both logs with the logit: :math:`\log\sigma(\ell) = -\log(1 + e^{-\ell})` and
# :math:`\log(1 - \sigma(\ell)) = -\ell - \log(1 + e^{-\ell})`. Then
#
# .. math::
#     \mathrm{BCE}(\ell, t) = (1 - t)\,\ell + \log(1 + e^{-\ell})
#       = \max(\ell, 0) - \ell t + \log(1 + e^{-|\ell|}),
#
# where the second form (checked separately for :math:`\ell \ge 0` and :math:`\ell < 0`) never
# exponentiates a positive number. Its derivative is :math:`\sigma(\ell) - t`, with no division.
print("on the logits    :", losses.bce_with_logits(logit[:1], 1.0)[0] * 1, "(the exact value is 40)")
print(inspect.getsource(losses.bce_with_logits))

# %%
# The :class:`~nnlite.losses.BCEWithLogitsLoss` class computes the same thing (with a fused Numba
# pass for large float arrays):
print(inspect.getsource(losses.BCEWithLogitsLoss))

# %%
# Gradient checks
# ---------------
# ``gradcheck(loss, pred, target)`` checks a loss with respect to its prediction, including logits
# into saturation (where the gradient is tiny, float64 round-off in the central differences alone
# reaches 1e-7, so the check stays within a few units: the forward is exact far beyond, as shown above).
# The same holds for any element whose true gradient is near 0, as an MSE prediction that happens to
# sit on its target: the relative error compares two tiny numbers there.
rng = np.random.default_rng(0)
logits = rng.normal(scale=2.5, size=(6, 5))   # up to ~6: sigma(6) = 0.9975
target = (rng.random((6, 5)) > 0.5).astype(float)
for loss, pred in ((losses.BCEWithLogitsLoss(), logits), (losses.MSELoss(), rng.normal(size=(6, 5)) + 2.0),
                   (losses.BCELoss(), rng.uniform(0.1, 0.9, size=(6, 5)))):
    result = nnlite.gradcheck(loss, pred, target)
    print(f"{type(loss).__name__:18s} max relative error {result.max_rel_error:.1e}")
    assert result.passed, result
