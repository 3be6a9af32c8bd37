r"""
5. Softmax and cross-entropy
============================

A classifier's last layer outputs one logit per class, :math:`x \in \mathbb R^C`. The softmax turns
them into probabilities and the cross-entropy scores the probability given to the true class
:math:`k`:

.. math::
    y_i = \mathrm{softmax}(x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}}, \qquad
    L = -\log y_k .

Each piece alone has an awkward derivative; together they have the simplest one in deep learning.
"""

# %%
# The softmax's Jacobian
# ----------------------
# Unlike an elementwise activation (chapter 3), every output depends on every input, through the
# sum :math:`S = \sum_j e^{x_j}`. With the quotient rule,
#
# .. math::
#     \frac{\partial y_i}{\partial x_j} = \frac{\delta_{ij} e^{x_i} S - e^{x_i} e^{x_j}}{S^2}
#       = y_i (\delta_{ij} - y_j),
#     \qquad J = \mathrm{diag}(y) - y y^\top .
#
# A backward never builds :math:`J` (it is :math:`C \times C` per sample). It needs only
# :math:`J^\top \bar y`, and since :math:`J` is symmetric,
#
# .. math::
#     \bar x_j = \sum_i \bar y_i\, y_i (\delta_{ij} - y_j) = y_j \Big(\bar y_j - \sum_i \bar y_i y_i\Big),
#
# one dot product per sample. This is :class:`nnlite.Softmax`'s backward:
import inspect

import matplotlib.pyplot as plt
import numpy as np

import nnlite
from nnlite import losses

print(inspect.getsource(nnlite.Softmax.backward))

# %%
# Build :math:`J = \mathrm{diag}(y) - y y^\top` by hand and compare with the layer's backward, fed
# one unit vector :math:`\bar y = e_i` at a time (which returns row :math:`i` of :math:`J^\top`):
rng = np.random.default_rng(100)
x = rng.normal(size=(1, 4))                              # one sample, C = 4
softmax = nnlite.Softmax()
y = softmax(x)[0]
J_by_hand = np.diag(y) - np.outer(y, y)                  # (C, C)
J_from_backward = np.stack([softmax.backward(np.eye(4)[i:i + 1])[0] for i in range(4)])
np.testing.assert_allclose(J_from_backward, J_by_hand, rtol=1e-12, atol=1e-15)
print("softmax Jacobian:\n", np.round(J_by_hand, 4))
assert np.allclose(J_by_hand.sum(axis=1), 0)             # the rows sum to 0: sum(y) = 1 always

# %%
# Cross-entropy on top: the cancellation
# --------------------------------------
# The loss :math:`L = -\log y_k` has :math:`\bar y_i = -\delta_{ik} / y_k`, so the formula above gives
#
# .. math::
#     \bar x_j = y_j\Big(-\frac{\delta_{jk}}{y_k} + \frac{y_k}{y_k}\Big) = y_j - \delta_{jk},
#     \qquad \frac{\partial L}{\partial x} = \mathrm{softmax}(x) - \mathrm{onehot}(k).
#
# The division by :math:`y_k` (which underflows to 0 for a confidently wrong prediction) cancels. So
# nnlite fuses the two: :class:`~nnlite.losses.CrossEntropyLoss` takes the logits, and computes the
# loss as :math:`\log \sum_j e^{x_j} - x_k`, subtracting each row's maximum first so that no
# :math:`e^{x}` overflows. Averaged over a batch of :math:`N`, the gradient is divided by :math:`N`.
print(inspect.getsource(losses.CrossEntropyLoss.backward))

logits = rng.normal(scale=2.0, size=(6, 4))               # (N, C)
labels = rng.integers(0, 4, size=6)                       # (N,)
ce = losses.CrossEntropyLoss()
value = ce(logits, labels)
p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
onehot = np.eye(4)[labels]
np.testing.assert_allclose(value, -np.log(p[np.arange(6), labels]).mean(), rtol=1e-12)
np.testing.assert_allclose(ce.backward(), (p - onehot) / 6, rtol=1e-12, atol=1e-15)

# %%
# The two-step chain gives the same numbers (the Softmax layer's backward fed
# :math:`\bar y = -\mathrm{onehot}/(N y)`): the fused form is the same derivative, without the division.
chained = nnlite.Softmax()
probs = chained(logits)
np.testing.assert_allclose(chained.backward(-onehot / (6 * probs)), ce.backward(), rtol=1e-10, atol=1e-15)
print("softmax then -log y_k, chained  == fused (softmax - onehot) / N")

# %%
# Huge logits: the max shift keeps the loss finite where the textbook formula overflows.
big = np.array([[1000.0, 0.0, -1000.0]])
with np.errstate(all="ignore"):
    naive = -np.log(np.exp(big[0, 1]) / np.exp(big).sum())
print(f"naive: {naive}, CrossEntropyLoss: {ce(big, np.array([1]))} (exact: 1000)")
assert np.isinf(naive) and ce(big, np.array([1])) == 1000.0

# %%
# The picture
# -----------
# Left: one sample's probabilities against its one-hot target; the gradient :math:`y - \mathrm{onehot}`
# pushes the true class's logit up (negative gradient: gradient descent increases it) and every other
# logit down, each in proportion to the probability it wrongly holds. Right: the loss as a function of
# the true class's logit alone, with the others fixed; its slope is :math:`y_k - 1`, steep while the
# prediction is wrong and flat once it is right.
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
i = 0
cls = np.arange(4)
ax0.bar(cls - 0.2, p[i], 0.4, label="softmax $y$")
ax0.bar(cls + 0.2, onehot[i], 0.4, label=f"one-hot target (class {labels[i]})", color="0.75")
ax0.vlines(cls, 0, p[i] - onehot[i], color="tab:red", lw=2)
ax0.plot(cls, p[i] - onehot[i], "o", color="tab:red", label=r"$\partial L/\partial x = y - \mathrm{onehot}$")
ax0.axhline(0, color="k", lw=0.8)
ax0.set_xticks(cls)
ax0.set_xlabel("class")
ax0.legend(fontsize=8, loc="lower left")
ax0.set_title("One sample: probabilities and the gradient")
k = labels[i]
t = np.linspace(-6, 8, 300)
row = np.repeat(logits[i:i + 1], len(t), axis=0)
row[:, k] = t
lse = np.log(np.exp(row).sum(axis=1))
ax1.plot(t, lse - t, label=r"$L = \log\sum_j e^{x_j} - x_k$")
ax1.plot(t, np.exp(t - lse) - 1, label=r"$\partial L/\partial x_k = y_k - 1$")
ax1.axvline(logits[i, k], color="0.6", ls=":", label="the sample's logit")
ax1.axhline(0, color="k", lw=0.8)
ax1.set_xlabel(f"$x_k$, the logit of the true class {k}")
ax1.legend(fontsize=8)
ax1.set_title("Loss and slope along the true logit")
plt.show()

# %%
# The gradient checks
# -------------------
# The loss with respect to the logits, and the softmax layer on its own (with a random projection of
# its output, so that every entry of the Jacobian matters), both in float64. A class given a
# probability near :math:`10^{-3}` has a gradient that small, and with the default step
# :math:`h = 10^{-6}` the round-off of the loss (about :math:`10^{-16}/h`) is then :math:`10^{-7}` of
# it; the step :math:`h = 10^{-5}` divides that by 10 and its truncation error (:math:`h^2`) stays
# far below (chapter 6 shows this trade-off).
result = nnlite.gradcheck(losses.CrossEntropyLoss(), logits, labels, eps=1e-5)
print(result)
assert result.passed, result
result = nnlite.gradcheck(nnlite.Softmax(), rng.normal(size=(5, 4)))
print(result)
assert result.passed, result

# %%
# Exercises
# ---------
# - ``docs/course/exercises/softmax.py``: write the softmax's forward (with the max shift) and its
#   backward without building the Jacobian, then run ``nnlite gradcheck docs/course/exercises/softmax.py``.
# - By hand: with label smoothing the target is :math:`(1 - s)\,\mathrm{onehot} + s/C`. Show that the
#   gradient becomes :math:`y - \text{target}`, and check it with :func:`nnlite.check_gradient`.
