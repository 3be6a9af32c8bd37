r"""
9. Initialisation: vanishing and exploding gradients
====================================================

The backward pass through a deep network multiplies the gradient by one weight matrix (and one
activation slope) per layer. A product of :math:`L` factors a little below or above 1 in size shrinks
to nothing or blows up: the **vanishing** and **exploding** gradients. The scale of the initial
weights decides which, and one line of variance arithmetic finds the scale at which neither happens.
"""

# %%
# One layer's variance, forward and backward
# ------------------------------------------
# Take :math:`z = x W` with independent, zero-mean entries, :math:`x` of width :math:`n_{in}` and
# :math:`W_{ij}` of variance :math:`\mathrm{Var}(W)`. Each output is a sum of :math:`n_{in}` independent
# products, and for independent zero-mean factors :math:`\mathrm{Var}(ab) = \mathrm{Var}(a)\mathrm{Var}(b)`:
#
# .. math::
#     \mathrm{Var}(z_j) = \sum_{i=1}^{n_{in}} \mathrm{Var}(x_i W_{ij}) = n_{in}\, \mathrm{Var}(W)\, \mathrm{Var}(x).
#
# The backward :math:`\bar x = \bar z\, W^\top` is the same sum over the :math:`n_{out}` outputs:
# :math:`\mathrm{Var}(\bar x_i) = n_{out}\, \mathrm{Var}(W)\, \mathrm{Var}(\bar z)`. So:
#
# - **LeCun / Glorot**: :math:`\mathrm{Var}(W) = 1/n_{in}` keeps the forward variance, :math:`1/n_{out}`
#   the backward one; Glorot and Bengio take the compromise :math:`2/(n_{in} + n_{out})`. Tanh is close
#   to the identity near 0, so this is its scale.
# - **He**: a ReLU zeroes half of a symmetric input, so it halves the second moment,
#   :math:`\mathbb E[\mathrm{relu}(z)^2] = \frac12 \mathrm{Var}(z)`; :math:`\mathrm{Var}(W) = 2/n_{in}`
#   puts the factor 2 back.
#
# nnlite's initialisers, :mod:`nnlite.init`:
import inspect

import matplotlib.pyplot as plt
import numpy as np

import nnlite
from nnlite import init

print(inspect.getsource(init.xavier_normal))
print(inspect.getsource(init.kaiming_normal))

# %%
# Both derivations, asserted on one wide layer and a large batch (sampling error about 1%):
rng = np.random.default_rng(100)
n = 512
x = rng.normal(size=(4000, n))                                      # Var(x) = 1
W = init.xavier_normal((n, n), random_state=0, dtype=np.float64)    # Var(W) = 2 / (n + n) = 1 / n
np.testing.assert_allclose(W.var() * n, 1.0, rtol=0.02)
np.testing.assert_allclose((x @ W).var() / x.var(), n * W.var(), rtol=0.03)        # forward
np.testing.assert_allclose((x @ W.T).var() / x.var(), n * W.var(), rtol=0.03)      # backward: dz W^T
W_he = init.kaiming_normal((n, n), nonlinearity="relu", random_state=0, dtype=np.float64)   # Var = 2 / n
h = np.maximum(x @ W_he, 0)
np.testing.assert_allclose(np.mean(h ** 2) / np.mean(x ** 2), 1.0, rtol=0.03)      # ReLU's half, restored
print(f"Glorot: Var(xW)/Var(x) = {(x @ W).var():.3f};  He + ReLU: E[h^2]/E[x^2] = {np.mean(h ** 2):.3f}")

# %%
# Twenty layers deep
# ------------------
# A 20-layer MLP of width 256, run forward on a batch and backward from a random :math:`\partial L/\partial y`.
# After each layer we record the standard deviation of the activations and of the gradient that the
# backward pass hands to that layer's input, for four initial weight scales.
depth, width = 20, 256


def run(std_of, act):
    """Activation and input-gradient std after each of ``depth`` Linear + ``act`` layers."""
    layers = []
    for k in range(depth):
        lin = nnlite.Linear(width, width, dtype=np.float64, random_state=k)
        lin.weight.data[...] = np.random.default_rng(k).normal(scale=std_of(width), size=(width, width))
        lin.bias.data[...] = 0
        layers += [lin, act()]
    h = np.random.default_rng(100).normal(size=(128, width))
    forward = []
    for layer in layers:
        h = layer(h)
        if not isinstance(layer, nnlite.Linear):
            forward.append(h.std())
    g = np.random.default_rng(0).normal(size=h.shape)
    backward = []
    for layer in reversed(layers):                          # the backward pass, by hand
        g = layer.backward(g)
        if isinstance(layer, nnlite.Linear):
            backward.append(g.std())
    return np.array(forward), np.array(backward[::-1])          # index k: layer k's output / input gradient


scales = {   # name -> (std of W as a function of the width, activation)
    "tanh, std 0.01": (lambda n: 0.01, nnlite.Tanh),
    "tanh, Glorot": (lambda n: np.sqrt(2 / (n + n)), nnlite.Tanh),
    "ReLU, N(0, 1/n) (LeCun)": (lambda n: np.sqrt(1 / n), nnlite.ReLU),
    "ReLU, He": (lambda n: np.sqrt(2 / n), nnlite.ReLU),
    "ReLU, N(0, 3/n)": (lambda n: np.sqrt(3 / n), nnlite.ReLU),
}
runs = {name: run(std, act) for name, (std, act) in scales.items()}
for name, (fwd, bwd) in runs.items():
    print(f"{name:24s} activations std: layer 1 {fwd[0]:.1e}, layer 20 {fwd[-1]:.1e};   "
          f"input gradient std: layer 20 {bwd[-1]:.1e}, layer 1 {bwd[0]:.1e}")

# %%
# The predictions of the variance arithmetic, asserted on the 20-layer runs:
#
# - with ReLU the gradient's variance is multiplied by :math:`n\,\mathrm{Var}(W)/2` per layer: by
#   :math:`1/2` for LeCun's scale (std by :math:`2^{-1/2}`, so :math:`2^{-19/2} \approx 1.4 \times 10^{-3}`
#   over the 19 layers between the last and the first), by 1 for He's, by :math:`3/2` for :math:`3/n`;
# - with a tiny scale, tanh acts as the identity and each layer multiplies by
#   :math:`\sqrt{n}\,0.01 = 0.16`: :math:`0.16^{19} \approx 10^{-15}`.
relu_ratio = {name: runs[name][1][0] / runs[name][1][-1] for name in scales if name.startswith("ReLU")}
np.testing.assert_allclose(relu_ratio["ReLU, N(0, 1/n) (LeCun)"], 2 ** (-19 / 2), rtol=0.5)
np.testing.assert_allclose(relu_ratio["ReLU, He"], 1.0, rtol=0.5)
np.testing.assert_allclose(relu_ratio["ReLU, N(0, 3/n)"], 1.5 ** (19 / 2), rtol=0.5)
tiny = runs["tanh, std 0.01"][1]
np.testing.assert_allclose(tiny[0] / tiny[-1], (np.sqrt(width) * 0.01) ** 19, rtol=0.5)
for name, r in relu_ratio.items():
    print(f"{name:24s} gradient std, layer 1 / layer 20: {r:.2e}")

# %%
# The picture
# -----------
# The activations' spread after each layer (left) and the gradient's spread at each layer's input
# (right), on a log scale. He's scale keeps both flat through 20 ReLU layers; a factor of
# :math:`\sqrt{2}` too small or :math:`\sqrt{3/2}` too large in the std already moves the first layer's
# gradient by orders of magnitude, and :math:`0.01` kills it. Glorot's scale with tanh loses a factor
# of about 5 over the 20 layers: tanh's slope is below 1 away from 0, which the variance arithmetic
# (tanh as the identity) leaves out, but far more slowly than the wrong scales lose or gain.
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained", sharey=True)
layers = np.arange(1, depth + 1)
for name, (fwd, bwd) in runs.items():
    style = "--" if name.startswith("tanh") else "-"
    ax0.semilogy(layers, fwd, style, marker="o", ms=3, label=name)
    ax1.semilogy(layers, bwd, style, marker="o", ms=3, label=name)
ax0.set_title("forward: std of the activations after layer $k$")
ax1.set_title(r"backward: std of $\partial L / \partial (\mathrm{input\ of\ layer}\ k)$")
for ax in (ax0, ax1):
    ax.set_xlabel("layer $k$")
    ax.set_xticks([1, 5, 10, 15, 20])
ax1.legend(fontsize=8, loc="lower right")
plt.show()

# %%
# The gradient check
# ------------------
# Initialisation changes the numbers, not the derivatives: a He-initialised ReLU network is checked
# like any other, here on the reference backend (``nnlite.ops.using("reference")``). Inputs are kept
# away from ReLU's kink by the seed (a central difference that straddles it would measure neither side).
net = nnlite.Sequential(nnlite.Linear(6, 16, init="he_normal", random_state=0), nnlite.ReLU(),
                        nnlite.Linear(16, 16, init="he_normal", random_state=1), nnlite.ReLU(),
                        nnlite.Linear(16, 3, random_state=2))
with nnlite.ops.using("reference"):
    result = nnlite.gradcheck(net, np.random.default_rng(100).normal(size=(5, 6)))
print(result)
assert result.passed, result

# %%
# Exercises
# ---------
# - Redo the 20-layer experiment with :class:`nnlite.BatchNorm1d` after each Linear (chapter 15): which
#   initial scales still vanish or explode, and why?
# - For :class:`nnlite.LeakyReLU` with slope :math:`a`, derive the second moment of its output and the
#   gain that keeps it; compare with ``nnlite.init.calculate_gain("leaky_relu", a)``.
