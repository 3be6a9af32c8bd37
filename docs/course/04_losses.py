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
# floating point as soon as the sigmoid saturates. And the forward takes the log of a probability
# that has rounded to 0 or 1: in float64, :math:`\sigma(40) = 1 - 4 \times 10^{-18}` rounds to exactly
# 1, so a target of 0 at the logit 40 costs :math:`-\log(1 - 1) = \infty` instead of 40.
import inspect

import matplotlib.pyplot as plt
import numpy as np

import nnlite
from nnlite import losses
from nnlite.ops import reference


def show_ops(*names):
    """Print the reference backend's source of each op: an op renamed or removed fails here, loudly."""
    for name in names:
        print(inspect.getsource(getattr(reference, name)))


with np.errstate(all="ignore"):
    p = 1 / (1 + np.exp(-40.0))
    naive = -np.log(1 - p)                   # BCE of the logit 40 against t = 0
print(f"sigma(40) == 1.0: {p == 1.0}; sigmoid then log: {naive}")
assert p == 1.0 and np.isinf(naive)

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
# The losses hand this to an op; the reference backend's, printed from the package (the fast backend
# computes the sum and the gradient in one Numba pass, tested against it), and the MSE's beside it:
show_ops("bce_with_logits", "mse")

# %%
# Both forms by hand against the op, at moderate logits (where the naive form is still accurate) and
# far into saturation (where only the stable one is), asserted:
ell = np.array([-800.0, -40.0, -3.0, 0.0, 3.0, 40.0, 800.0])
for t in (0.0, 1.0):
    total, grad = reference.bce_with_logits(ell, np.full_like(ell, t))
    exact = np.where(ell > 0, ell * (1 - t), -ell * t) + np.log1p(np.exp(-np.abs(ell)))
    np.testing.assert_allclose(total, exact.sum(), rtol=1e-14)
    np.testing.assert_allclose(grad, 1 / (1 + np.exp(-ell)) - t, rtol=1e-12, atol=1e-300)
    with np.errstate(all="ignore"):
        sig = 1 / (1 + np.exp(-ell))
        naive = -(t * np.log(sig) + (1 - t) * np.log(1 - sig))
    moderate = np.abs(ell) <= 3
    np.testing.assert_allclose(naive[moderate], exact[moderate], rtol=1e-12)
    print(f"t = {t:.0f}: naive {naive}\n       stable {exact}")

# %%
# The picture: the loss and its gradient against the logit, for both targets. The stable form is a
# softplus, linear far from 0 (the loss of a confident mistake grows like the logit, and its gradient
# saturates at :math:`\pm 1`, so a confident mistake still learns); the naive one stops at the
# first logit where :math:`\sigma` rounds to 0 or 1.
z = np.linspace(-60, 60, 2001)
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
for t, color in ((1.0, "tab:blue"), (0.0, "tab:orange")):
    stable = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
    with np.errstate(all="ignore"):
        sig = 1 / (1 + np.exp(-z))
        naive = -(t * np.log(sig) + (1 - t) * np.log(1 - sig))
    ax0.plot(z, stable, color=color, label=f"stable, t = {t:.0f}")
    ax0.plot(z, np.where(np.isfinite(naive), naive, np.nan), ":", color="k", lw=2,
             label="sigmoid then log" if t else None)
    ax1.plot(z, 1 / (1 + np.exp(-z)) - t, color=color, label=rf"$\sigma(\ell) - {t:.0f}$")
ax0.set_xlabel(r"logit $\ell$")
ax0.set_ylabel("BCE")
ax0.legend(fontsize=8)
ax0.set_title("The loss (dotted: the naive form, where finite)")
ax1.set_xlabel(r"logit $\ell$")
ax1.set_title(r"Its gradient $\partial\,\mathrm{BCE}/\partial\ell$")
ax1.legend(fontsize=8)
plt.show()

# %%
# Gradient checks
# ---------------
# ``gradcheck(loss, pred, target)`` checks a loss with respect to its prediction, including logits
# into saturation (where the gradient is tiny, float64 round-off in the central differences alone
# reaches 1e-7, so the check stays within a few units: the forward is exact far beyond, as shown above).
# The same holds for any element whose true gradient is near 0, as an MSE prediction that happens to
# sit on its target: the relative error compares two tiny numbers there. The checks run on the
# reference backend.
rng = np.random.default_rng(0)
logits = rng.normal(scale=2.0, size=(6, 5))   # up to ~5: sigma(5) = 0.993
target = (rng.random((6, 5)) > 0.5).astype(float)
with nnlite.ops.using("reference"):
    for loss, pred in ((losses.BCEWithLogitsLoss(), logits), (losses.MSELoss(), rng.normal(size=(6, 5)) + 2.0),
                       (losses.BCELoss(), rng.uniform(0.1, 0.9, size=(6, 5)))):
        result = nnlite.gradcheck(loss, pred, target)
        print(type(loss).__name__, result, sep="\n")
        assert result.passed, result

# %%
# Exercises
# ---------
# - By hand: the L1 loss :math:`\frac1n \sum |p - t|` has no derivative where :math:`p = t`. What does
#   :class:`~nnlite.losses.L1Loss` return there, and why must a gradient check keep away from it?
# - Chapter 5 does for many classes what this chapter did for two: softmax with cross-entropy.
