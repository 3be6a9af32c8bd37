r"""
8. Optimizers: SGD, momentum, RMSprop and Adam
==============================================

Backprop delivers :math:`g = \partial L / \partial \theta`; an optimizer decides how far to move
:math:`\theta` against it. The four classic rules, in order of increasing complexity, each fix one
failure of the one before. The test bed is a valley: a quadratic 50 times steeper across than along,

.. math:: L(\theta) = \tfrac12 \big(\theta_1^2 + 50\, \theta_2^2\big), \qquad g = (\theta_1,\ 50\,\theta_2),

the shape every loss has near a minimum whose curvatures differ (here: a condition number of 50).
"""

# %%
# SGD
# ---
# :math:`\theta \leftarrow \theta - \eta\, g`. Along one axis of curvature :math:`\lambda` the error
# is multiplied by :math:`1 - \eta\lambda` at every step: it shrinks only if :math:`\eta < 2/\lambda`.
# The steepest direction (:math:`\lambda = 50`) caps the step at :math:`\eta < 0.04`, and the flat one
# (:math:`\lambda = 1`) then crawls, by a factor :math:`1 - \eta > 0.96` per step.
import inspect

import matplotlib.pyplot as plt
import numpy as np

import nnlite
from nnlite import optim
from nnlite.ops import reference

curvature = np.array([1.0, 50.0])


def loss(theta):
    return 0.5 * np.sum(curvature * theta ** 2)


def grad(theta):
    return curvature * theta


# the contraction factor per step, derived above, asserted on one step of each axis
eta = 0.036
theta = np.array([1.0, 1.0])
np.testing.assert_allclose((theta - eta * grad(theta)) / theta, 1 - eta * curvature)

# %%
# Momentum
# --------
# Keep a velocity, an exponential sum of past gradients, and step along it:
#
# .. math:: b \leftarrow \mu\, b + g, \qquad \theta \leftarrow \theta - \eta\, b .
#
# Where the gradient keeps its sign (along the valley) the velocity grows to
# :math:`g \sum_k \mu^k = g / (1 - \mu)`: ten times the step for :math:`\mu = 0.9`. Where it flips sign
# (across the valley) successive terms cancel. The limit, asserted:
mu, b = 0.9, 0.0
for _ in range(300):
    b = mu * b + 1.0                                     # a constant gradient g = 1
np.testing.assert_allclose(b, 1 / (1 - mu), rtol=1e-12)

# %%
# RMSprop
# -------
# Divide each coordinate's step by a running root-mean-square of its own gradient:
#
# .. math:: s \leftarrow \alpha s + (1 - \alpha)\, g^2, \qquad
#           \theta \leftarrow \theta - \eta\, \frac{g}{\sqrt{s} + \epsilon} .
#
# For a gradient that stays near :math:`g`, :math:`\sqrt s \to |g|` and the step is :math:`\eta`
# in every coordinate, whatever the curvature: the steep axis no longer sets the step for the flat one.
# The step does not depend on the gradient's scale (asserted: multiplying the loss by 1000 leaves the
# first step unchanged, up to :math:`\epsilon`):
for scale in (1.0, 1000.0):
    g = scale * grad(np.array([1.0, 1.0]))
    s = 0.01 * g ** 2                                    # alpha = 0.99, one step from s = 0
    step = 0.01 * g / (np.sqrt(s) + 1e-8)
    np.testing.assert_allclose(step, 0.01 / np.sqrt(0.01), rtol=1e-6)

# %%
# Adam, and its bias correction
# -----------------------------
# Adam keeps both running means, of the gradient (momentum's velocity, averaged) and of its square
# (RMSprop's :math:`s`):
#
# .. math:: m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2,
#           \qquad m_0 = v_0 = 0 .
#
# Starting from 0 biases both towards 0 for the first steps. Unroll the recursion:
#
# .. math::
#     m_t = (1 - \beta_1) \sum_{i=1}^{t} \beta_1^{t-i} g_i, \qquad
#     \mathbb E[m_t] = \mathbb E[g]\, (1 - \beta_1) \sum_{i=1}^{t} \beta_1^{t-i}
#       = \mathbb E[g]\, (1 - \beta_1^t)
#
# (a geometric sum, for gradients of a constant mean). So dividing by :math:`1 - \beta_1^t` gives an
# unbiased estimate, and likewise for :math:`v`:
#
# .. math::
#     \hat m_t = \frac{m_t}{1 - \beta_1^t}, \qquad \hat v_t = \frac{v_t}{1 - \beta_2^t}, \qquad
#     \theta \leftarrow \theta - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon} .
#
# With :math:`\beta_2 = 0.999` the correction matters for thousands of steps: without it
# :math:`\sqrt{v_1} = \sqrt{0.001}\,|g|` and the first step would be :math:`0.1/0.032 \approx 3` times
# too large. With it, the first step is exactly :math:`\eta` per coordinate (:math:`\hat m_1 = g`,
# :math:`\sqrt{\hat v_1} = |g|`). Both facts asserted on a constant gradient:
b1, b2 = 0.9, 0.999
m = v = 0.0
raw, corrected = [], []
for t in range(1, 61):
    m = b1 * m + (1 - b1) * 2.5                          # a constant gradient g = 2.5
    v = b2 * v + (1 - b2) * 2.5 ** 2
    raw.append(m)
    corrected.append(m / (1 - b1 ** t))
    if t == 1:
        first_step = 0.01 * (m / (1 - b1)) / (np.sqrt(v / (1 - b2)) + 1e-8)
np.testing.assert_allclose(corrected, 2.5, rtol=1e-12)     # unbiased from the first step
np.testing.assert_allclose(first_step, 0.01, rtol=1e-8)   # the first step is the learning rate

# %%
# The update code that runs
# -------------------------
# The four rules as the maths above states them, a few lines each:


def sgd(theta, g, state, lr):
    return theta - lr * g


def momentum(theta, g, state, lr, mu=0.9):
    state["b"] = g.copy() if "b" not in state else mu * state["b"] + g   # PyTorch's rule: b_1 = g_1
    return theta - lr * state["b"]


def rmsprop(theta, g, state, lr, alpha=0.99, eps=1e-8):
    state["s"] = alpha * state.get("s", 0.0) + (1 - alpha) * g ** 2
    return theta - lr * g / (np.sqrt(state["s"]) + eps)


def adam(theta, g, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state["t"] = state.get("t", 0) + 1
    state["m"] = beta1 * state.get("m", 0.0) + (1 - beta1) * g
    state["v"] = beta2 * state.get("v", 0.0) + (1 - beta2) * g ** 2
    m_hat = state["m"] / (1 - beta1 ** t)
    v_hat = state["v"] / (1 - beta2 ** t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps)


# %%
# nnlite's optimizers (:mod:`nnlite.optim`) keep the state and validate the hyper-parameters, and hand
# each parameter's update to an op of :mod:`nnlite.ops`. This is the code of the **reference** backend
# (plain NumPy; ``nnlite.use("reference")``), printed from the installed package; the default ``fast``
# backend runs the same update as one fused Numba pass per parameter, tested against it. The options
# (weight decay, dampening, Nesterov, centred RMSprop, AdamW's decoupled decay) are the extra lines.


def show_ops(*names):
    """Print the reference backend's source of each op: an op renamed or removed fails here, loudly."""
    for name in names:
        print(inspect.getsource(getattr(reference, name)))


show_ops("sgd_update", "rmsprop_update", "adam_update")

# %%
# The assertions below run nnlite's optimizers, on the reference backend and on the fast one, side by
# side with the four functions above, on the same gradients, and compare the parameters after every
# step.
rules = {  # name: (our update, nnlite's optimizer, learning rate)
    "SGD": (sgd, lambda p: optim.SGD(p, lr=0.036), 0.036),
    "momentum": (momentum, lambda p: optim.SGD(p, lr=0.01, momentum=0.9), 0.01),
    "RMSprop": (rmsprop, lambda p: optim.RMSprop(p, lr=0.05), 0.05),
    "Adam": (adam, lambda p: optim.Adam(p, lr=0.1), 0.1),
}
start = np.array([-4.0, 1.5])
paths = {}
for name, (rule, make, lr) in rules.items():
    for backend in ("reference", "fast"):
        with nnlite.ops.using(backend):
            theta, state = start.copy(), {}
            p = nnlite.Parameter(start.copy(), dtype=np.float64)
            opt = make([p])
            path = [theta]
            for _ in range(60):
                theta = rule(theta, grad(theta), state, lr)
                opt.zero_grad()
                p.grad[...] = grad(p.data)
                opt.step()
                np.testing.assert_allclose(p.data, theta, rtol=1e-10, atol=1e-12, err_msg=f"{name}, {backend}")
                path.append(theta)
    paths[name] = np.array(path)
    print(f"{name:9s} after 60 steps: theta = {np.round(theta, 4)}, loss {loss(theta):.2e}")

# %%
# The picture
# -----------
# Left, the four paths on the valley's contours (60 steps each, from the same start). SGD's step is
# capped by the steep axis: across the valley it zigzags (the factor :math:`1 - \eta\lambda = -0.8`
# flips the sign at every step), along it it crawls and is still far from the minimum. Momentum builds
# speed along the valley, overshoots the minimum and swings back. RMSprop and Adam rescale each
# coordinate and head for the minimum at the same pace in both. Near the minimum Adam's step stays
# about :math:`\eta` (the ratio :math:`\hat m / \sqrt{\hat v}` stays near 1 while the gradient
# flips sign), so it ends circling the minimum at that distance: in practice the learning rate is
# decayed. Right, Adam's running mean of a constant gradient, with and without the correction.
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained", width_ratios=(1.6, 1))
u, w = np.meshgrid(np.linspace(-4.5, 1.5, 200), np.linspace(-1.8, 1.8, 200))
ax0.contour(u, w, 0.5 * (u ** 2 + 50 * w ** 2), levels=np.geomspace(0.02, 60, 12), colors="0.8", linewidths=0.8)
for name, path in paths.items():
    ax0.plot(path[:, 0], path[:, 1], ".-", ms=3, lw=1, label=name)
ax0.plot(0, 0, "k*", ms=10)
ax0.set_xlabel(r"$\theta_1$ (curvature 1)")
ax0.set_ylabel(r"$\theta_2$ (curvature 50)")
ax0.legend(fontsize=8, loc="lower right")
ax0.set_title(r"$L = \frac{1}{2}(\theta_1^2 + 50\,\theta_2^2)$, 60 steps")
steps = np.arange(1, 61)
ax1.plot(steps, raw, label=r"$m_t$ (biased towards 0)")
ax1.plot(steps, corrected, label=r"$\hat m_t = m_t / (1 - \beta_1^t)$")
ax1.axhline(2.5, color="k", ls=":", lw=1, label="the gradient, $g = 2.5$")
ax1.set_xlabel("step $t$")
ax1.legend(fontsize=8, loc="lower right")
ax1.set_title(r"Adam's bias correction, $\beta_1 = 0.9$")
plt.show()

# the picture's claims, asserted: SGD is left farthest along the valley and zigzags across it (the
# sign of theta_2 flips at every step); momentum overshoots the minimum along the valley, SGD never does
assert all(abs(paths["SGD"][-1, 0]) > 3 * abs(paths[name][-1, 0]) for name in ("momentum", "RMSprop", "Adam"))
assert np.all(np.sign(paths["SGD"][1:20, 1]) == -np.sign(paths["SGD"][:19, 1]))
assert paths["momentum"][:, 0].max() > 0.3 and paths["SGD"][:, 0].max() < 0

# %%
# The gradient check
# ------------------
# Every rule above trusts :math:`g`. The valley's gradient, checked (for the curvatures 1 and 50):
result = nnlite.check_gradient(loss, grad, np.array([-4.0, 1.5]), name="theta")
print(result)
assert result.passed, result

# %%
# Exercises
# ---------
# - Nesterov momentum evaluates the gradient after the velocity step. PyTorch's form is
#   ``b = mu * b + g; theta -= lr * (g + mu * b)``. Add it to the side-by-side loop above with
#   ``optim.SGD(p, lr=0.02, momentum=0.9, nesterov=True)`` and compare the paths.
# - AdamW decouples weight decay from the gradient: ``theta -= lr * wd * theta`` before the Adam step.
#   Show that for plain SGD the two forms are the same update, and why they differ for Adam.
