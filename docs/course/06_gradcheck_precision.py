r"""
6. The gradient check: why float64, and which tolerance
=======================================================

Every chapter ends in a gradient check: a central difference against the backward pass. It is worth
one chapter to see why the check runs in float64, why its step is :math:`h = 10^{-6}`, and why a
relative error below :math:`10^{-7}` is the bar, by watching the same check fail in float32.
"""

# %%
# Two errors that pull in opposite directions
# -------------------------------------------
# Taylor's theorem on both sides of :math:`x`,
# :math:`f(x \pm h) = f(x) \pm h f'(x) + \frac{h^2}{2} f''(x) \pm \frac{h^3}{6} f'''(x) + O(h^4)`,
# gives, after subtracting, the **truncation** error of the central difference:
#
# .. math:: \frac{f(x + h) - f(x - h)}{2h} = f'(x) + \frac{h^2}{6} f'''(x) + O(h^4).
#
# But :math:`f` is computed in floating point: each value carries a **round-off** error of about
# :math:`\epsilon |f|`, with the machine epsilon :math:`\epsilon = 2^{-52} \approx 2.2 \times 10^{-16}`
# in float64 and :math:`2^{-23} \approx 1.2 \times 10^{-7}` in float32, and the difference divides it
# by :math:`2h`. The total relative error is about
#
# .. math::
#     e(h) \approx \frac{h^2 |f'''|}{6 |f'|} + \frac{\epsilon |f|}{h |f'|},
#     \qquad \text{smallest at } h^\star = \Big(\frac{3 \epsilon |f|}{|f'''|}\Big)^{1/3},
#     \qquad e(h^\star) \sim \epsilon^{2/3}.
#
# With :math:`f`, :math:`f'`, :math:`f'''` of order 1: :math:`h^\star \approx 10^{-5}` and
# :math:`e \approx 10^{-11}` in float64, but :math:`h^\star \approx 10^{-2}` and
# :math:`e \approx 10^{-5}` in float32. **No step makes a float32 check reach** :math:`10^{-7}`.
import matplotlib.pyplot as plt
import numpy as np

import nnlite
from nnlite.gradcheck import numerical_gradient, rel_error


def f(x):
    return np.sin(x) * np.exp(x)


def f_prime(x):
    return (np.cos(x) + np.sin(x)) * np.exp(x)


def f_third(x):                     # d^3/dx^3 of sin(x) e^x = 2 e^x (cos x - sin x)
    return 2 * np.exp(x) * (np.cos(x) - np.sin(x))


x0 = 0.3
hs = np.logspace(-10, -0.5, 60)
measured, model = {}, {}
for dtype in (np.float32, np.float64):
    eps_mach = np.finfo(dtype).eps
    x = dtype(x0)
    exact = f_prime(float(x))
    measured[dtype] = np.array([abs(float((f(x + dtype(h)) - f(x - dtype(h))) / (2 * dtype(h))) - exact)
                                / abs(exact) for h in hs])
    model[dtype] = (hs ** 2 * abs(f_third(x0)) / 6 + eps_mach * abs(f(x0)) / hs) / abs(exact)
    best = hs[np.argmin(measured[dtype])]
    h_star = (3 * eps_mach * abs(f(x0)) / abs(f_third(x0))) ** (1 / 3)
    print(f"{np.dtype(dtype).name}: best step {best:.1e} (predicted {h_star:.1e}), "
          f"best relative error {measured[dtype].min():.1e}")
    # the derivation, asserted: the best step sits within a factor of 10 of h*, ...
    assert h_star / 10 < best < h_star * 10, (best, h_star)
    # ... and the best error is within a factor of 100 of the model's minimum, of order eps^(2/3)
    assert model[dtype].min() / 100 < measured[dtype].min() < model[dtype].min() * 10

assert measured[np.float32].min() > 1e-7        # float32 never reaches the bar, whatever the step
assert measured[np.float64][np.argmin(abs(hs - 1e-6))] < 1e-9   # float64 at h = 1e-6: far below it

# %%
# The picture: relative error of the central difference against the step, for both precisions.
# Right of the minimum the :math:`h^2` truncation dominates (the two lines merge, the maths is the same);
# left of it the round-off, :math:`\epsilon / h`, is larger in float32 by :math:`\epsilon_{32}/\epsilon_{64}
# = 2^{29}`.
fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
for dtype, color in ((np.float32, "tab:orange"), (np.float64, "tab:blue")):
    name = np.dtype(dtype).name
    ax.loglog(hs, np.maximum(measured[dtype], 1e-17), "o", ms=3, color=color, label=f"{name}, measured")
    ax.loglog(hs, model[dtype], "-", color=color, alpha=0.6, label=rf"{name}: $h^2|f'''|/6 + \epsilon|f|/h$")
ax.axhline(1e-7, color="k", ls="--", lw=1)
ax.text(2e-10, 1.6e-7, "the bar: $10^{-7}$", fontsize=9)
ax.axvline(1e-6, color="0.5", ls=":", lw=1)
ax.text(1.2e-6, 1e-16, "$h = 10^{-6}$", fontsize=9, color="0.4")
ax.set_xlabel("step $h$")
ax.set_ylabel("relative error of $(f(x+h) - f(x-h))/2h$")
ax.set_title(r"$f(x) = \sin(x)\,e^x$ at $x = 0.3$")
ax.set_ylim(1e-17, 10)
ax.legend(fontsize=8, loc="lower left")
plt.show()

# %%
# A layer's check, failing in float32
# -----------------------------------
# The same experiment on a small network. :func:`nnlite.gradcheck` always casts the module to float64;
# here the check is written out by hand, with the same scalar :math:`L = \sum y \odot R`, so that it
# can run in float32 too. The analytic gradient is the same code in both precisions; only the
# precision of the central difference changes.


def check_in(dtype, eps):
    """Worst relative error per tensor of a central-difference check of ``net`` in ``dtype``."""
    net = nnlite.Sequential(nnlite.Linear(4, 8, random_state=0), nnlite.Tanh(),
                            nnlite.Linear(8, 3, random_state=1))
    net = net.double() if dtype == np.float64 else net.float()
    x = np.random.default_rng(100).normal(size=(5, 4)).astype(dtype)
    R = np.random.default_rng(0).normal(size=(5, 3)).astype(dtype)
    net.zero_grad()
    net(x)
    errors = {"input": rel_error(net.backward(R), numerical_gradient(lambda: net(x), x, eps, project=R))[0]}
    for name, p in net.named_parameters():
        errors[name] = rel_error(p.grad, numerical_gradient(lambda: net(x), p.data, eps, project=R))[0]
    return errors


errors = {"float32, h = 1e-6": check_in(np.float32, 1e-6), "float32, h = 1e-2": check_in(np.float32, 1e-2),
          "float64, h = 1e-6": check_in(np.float64, 1e-6)}
for label, errs in errors.items():
    print(f"{label}: " + ", ".join(f"{k} {v:.1e}" for k, v in errs.items()))
assert min(errors["float32, h = 1e-6"].values()) > 1e-7       # fails, on every tensor
assert min(errors["float32, h = 1e-2"].values()) > 1e-7       # fails even at float32's best step
assert max(errors["float64, h = 1e-6"].values()) < 1e-7       # passes

fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
names = list(errors["float64, h = 1e-6"])
for k, (label, errs) in enumerate(errors.items()):
    ax.bar(np.arange(len(names)) + 0.27 * (k - 1), [errs[n] for n in names], 0.27, label=label, log=True)
ax.axhline(1e-7, color="k", ls="--", lw=1, label="tolerance $10^{-7}$")
ax.set_xticks(range(len(names)), names)
ax.set_ylabel("worst relative error")
ax.set_title("One network, one backward: the check's precision decides")
ax.legend(fontsize=8, loc="upper right", ncols=2)
ax.set_ylim(1e-12, 1e4)
plt.show()

# %%
# The tolerance
# -------------
# So the course's rule, and :func:`nnlite.gradcheck`'s defaults: check in **float64**, with
# :math:`h = 10^{-6}` and a relative error below :math:`10^{-7}`. A wrong backward is off by a factor
# (a missing transpose, a forgotten path at a fork, a sign), which gives relative errors near 1, not
# :math:`10^{-7}`. Every check of this course holds that bar. What varies is the step, when an
# element's true gradient is small next to the function it is measured through, so that the round-off
# term :math:`\epsilon |f| / (h |f'|)` approaches the bar:
#
# - a layer check where one element's gradient is a thousand times smaller than the output it moves
#   (chapters 5, 13, 15, 16) takes :math:`h = 10^{-5}`: ten times less round-off, a truncation error
#   (:math:`h^2`) still near :math:`10^{-10}`;
# - a whole model's loss (chapters 10 to 12, :func:`nnlite.check_loss_gradients`) is one number that
#   every weight reaches through several layers, and a mean over many pixels (or, for the VAE, a sum of
#   a hundred), so its gradients are small next to it. Those checks use the **five-point stencil**
#   :math:`(-f(x + 2h) + 8 f(x + h) - 8 f(x - h) + f(x - 2h)) / 12h`, whose truncation error is
#   :math:`O(h^4)`: with :math:`h = 10^{-3}` it is near :math:`10^{-12}`, and the round-off is a thousand
#   times smaller than at :math:`h = 10^{-6}`.
#
# Each of those chapters measures the small gradient it is dealing with and says why it takes its step.
# The float64 check, by :func:`nnlite.gradcheck`, on the reference backend:
net = nnlite.Sequential(nnlite.Linear(4, 8, random_state=0), nnlite.Tanh(), nnlite.Linear(8, 3, random_state=1))
with nnlite.ops.using("reference"):
    result = nnlite.gradcheck(net, np.random.default_rng(100).normal(size=(5, 4)))
print(result)
assert result.passed, result

# %%
# Exercises
# ---------
# - Break a backward on purpose in a copy of ``docs/course/exercises/solutions/swish.py`` (drop one of
#   the two paths of :math:`x` through :math:`x\,\sigma(x)`, or flip a sign) and look at the relative
#   error the grader reports: ``nnlite gradcheck FILE.py``. How far is it from :math:`10^{-7}`?
# - Redo the first plot for :math:`f(x) = x^2` (where :math:`f''' = 0`): what happens to the right
#   half of the V, and why?
