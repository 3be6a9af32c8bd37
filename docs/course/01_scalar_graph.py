r"""
1. A scalar computational graph, backwards
==========================================

Backprop is the chain rule, applied to a graph of small operations in the reverse order of the
forward pass. Before any matrix, take three numbers and one expression,

.. math:: f(a, b, c) = (a b + c)\, a ,

and compute its three derivatives the way every layer of nnlite does: one node at a time, each node
turning the gradient of its output into gradients of its inputs.
"""

# %%
# The forward pass, one node at a time
# ------------------------------------
# Name every intermediate value: :math:`d = a b`, :math:`e = d + c`, :math:`f = e\, a`. The value
# :math:`a` is used **twice**: by the first product and by the last. The graph has a fork there.
import matplotlib.pyplot as plt
import numpy as np

import nnlite

a, b, c = 2.0, -3.0, 10.0
d = a * b            # -6
e = d + c            #  4
f = e * a            #  8
print(f"d = {d}, e = {e}, f = {f}")

# %%
# The backward pass, one node at a time
# -------------------------------------
# Write :math:`\bar v = \partial f / \partial v` for every value :math:`v` (the "gradient of
# :math:`v`"). It starts at :math:`\bar f = 1` and each node uses only its **local** derivatives:
#
# - a product :math:`f = e\, a` sends :math:`\bar f \cdot a` to :math:`e` and :math:`\bar f \cdot e`
#   to :math:`a` (each factor receives the gradient times the *other* factor);
# - a sum :math:`e = d + c` copies :math:`\bar e` to both :math:`d` and :math:`c` (its local
#   derivatives are 1);
# - a product :math:`d = a b` sends :math:`\bar d\, b` to :math:`a` and :math:`\bar d\, a` to :math:`b`.
#
# **Where a value is used twice, its gradients add.** :math:`a` reaches :math:`f` along two paths,
# and the multivariate chain rule sums over paths:
#
# .. math::
#     \frac{\partial f}{\partial a}
#       = \underbrace{\frac{\partial f}{\partial a}\Big|_{e\ \mathrm{fixed}}}_{\text{direct: } e}
#       + \underbrace{\frac{\partial f}{\partial e}\frac{\partial e}{\partial d}
#         \frac{\partial d}{\partial a}}_{\text{through } d:\ a \cdot 1 \cdot b}
#       = e + a b .
#
# In code this is ``+=``: every gradient starts at 0 and each use of the value adds its share. This
# is why nnlite's ``backward`` *adds* into ``Parameter.grad`` and why the gradients must be zeroed
# before each step.
grad = {"a": 0.0, "b": 0.0, "c": 0.0, "d": 0.0, "e": 0.0}
grad_f = 1.0
# f = e * a
grad["e"] += grad_f * a      # 2
grad["a"] += grad_f * e      # 4: the direct path
# e = d + c
grad["d"] += grad["e"]       # 2
grad["c"] += grad["e"]       # 2
# d = a * b
grad["a"] += grad["d"] * b   # 4 + 2 * (-3) = -2: the second path adds
grad["b"] += grad["d"] * a   # 4
print(grad)

# %%
# The hand derivation, asserted
# -----------------------------
# Expand :math:`f = a^2 b + a c` and differentiate directly:
#
# .. math::
#     \frac{\partial f}{\partial a} = 2ab + c = -2, \qquad
#     \frac{\partial f}{\partial b} = a^2 = 4, \qquad
#     \frac{\partial f}{\partial c} = a = 2 .
#
# The staged backward must give exactly these numbers. The assertions below run when this page is
# built: a wrong line above would stop the build.
assert grad["a"] == 2 * a * b + c == -2.0
assert grad["b"] == a ** 2 == 4.0
assert grad["c"] == a == 2.0

# %%
# The graph, drawn
# ----------------
# Values of the forward pass above each edge (black), gradients of the backward pass below it
# (red). At the fork, :math:`a` receives 4 along the direct edge and -6 through the first product:
# its gradient is their sum.
pos = {"a": (0, 2.2), "b": (0, 1.0), "c": (0, -0.2), "d": (1.6, 1.6), "e": (3.2, 0.7), "f": (4.8, 1.6)}
label = {"a": "a", "b": "b", "c": "c", "d": r"$\times$", "e": "+", "f": r"$\times$"}
edges = [  # (from, to, forward value, gradient carried back, curvature)
    ("a", "d", a, grad["d"] * b, 0.0), ("b", "d", b, grad["d"] * a, 0.0),
    ("d", "e", d, grad["e"], 0.0), ("c", "e", c, grad["e"], 0.0),
    ("e", "f", e, grad_f * a, 0.0), ("a", "f", a, grad_f * e, -0.35),
]
fig, ax = plt.subplots(figsize=(8, 4.2))
for src, dst, value, g, rad in edges:
    (x0, y0), (x1, y1) = pos[src], pos[dst]
    ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="-|>", color="0.35", lw=1.5, shrinkA=17,
                                                           shrinkB=17, connectionstyle=f"arc3,rad={rad}"))
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2 + (0.75 if rad else 0)
    ax.text(mx, my + 0.14, f"{value:g}", ha="center", fontsize=11)
    ax.text(mx, my - 0.2, f"{g:g}", ha="center", fontsize=11, color="tab:red")
for name, (x, y) in pos.items():
    ax.add_patch(plt.Circle((x, y), 0.26, color="tab:blue" if name in "abc" else "0.9", zorder=3))
    ax.text(x, y, label[name], ha="center", va="center", fontsize=14, zorder=4,
            color="white" if name in "abc" else "black")
for name in "abc":
    x, y = pos[name]
    ax.text(x - 0.38, y, rf"$\bar {name} = {grad[name]:g}$", ha="right", va="center", fontsize=12,
            color="tab:red")
ax.text(pos["f"][0] + 0.4, pos["f"][1], r"$f = 8$" "\n" r"$\bar f = 1$", va="center", fontsize=12)
ax.text(1.4, -0.75, "black: forward value on the edge      red: gradient sent back along it",
        ha="center", fontsize=10, color="0.3")
ax.set_xlim(-1.5, 5.8)
ax.set_ylim(-1.0, 3.3)
ax.set_aspect("equal")
ax.axis("off")
ax.set_title(r"$f = (ab + c)\,a$: the gradients of the two uses of $a$ add, $4 + (-6) = -2$")
plt.show()

# %%
# The slope, seen
# ---------------
# A derivative is a slope. Hold :math:`b` and :math:`c` fixed and plot :math:`f` as a function of
# :math:`a`: the tangent at :math:`a = 2` has slope :math:`-2`, the number the backward pass found.
t = np.linspace(-1, 4, 200)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(t, (t * b + c) * t, label=r"$f(a) = (ab + c)\,a$, $b = -3$, $c = 10$")
ax.plot(t, f + grad["a"] * (t - a), "--", label=r"tangent at $a = 2$: slope $\bar a = -2$")
ax.plot([a], [f], "o", color="k")
ax.set_xlabel("$a$")
ax.set_ylabel("$f$")
ax.legend(loc="lower center")
plt.show()

# %%
# The gradient check
# ------------------
# Central differences measure the same slopes without any derivation:
# :math:`(f(a + h) - f(a - h)) / 2h` has an error of order :math:`h^2`. :func:`nnlite.check_gradient`
# does this for every coordinate and compares with CS231n's relative error
# :math:`|x - y| / \max(10^{-8}, |x| + |y|)`.


def f_of(v):
    a, b, c = v
    return (a * b + c) * a


result = nnlite.check_gradient(f_of, lambda v: np.array([grad["a"], grad["b"], grad["c"]]),
                               np.array([a, b, c]), name="(a, b, c)")
print(result)
assert result.passed, result

# %%
# The same rule in a layer
# ------------------------
# A residual block :math:`y = x + g(x)` uses its input twice, so its backward adds the gradient of
# the identity path to that of the branch: :math:`\bar x = \bar y + g'(x)^\top \bar y`. This is
# :class:`nnlite.Residual`, checked here (input and every parameter of the branch) in float64, on the
# reference backend:
block = nnlite.Residual(nnlite.Sequential(nnlite.Linear(3, 3, random_state=0), nnlite.Tanh()))
x = np.random.default_rng(100).normal(size=(4, 3))
with nnlite.ops.using("reference"):                    # the plain NumPy ops (chapter 2)
    result = nnlite.gradcheck(block, x)
print(result)
assert result.passed, result

# %%
# Exercises
# ---------
# - By hand: draw the graph of :math:`g(x, y) = \sigma(x y)\,(x + y)` for :math:`x = 1`,
#   :math:`y = -2`, run its staged backward as above (:math:`x` and :math:`y` are both used twice),
#   and check your three lines with :func:`nnlite.check_gradient`.
# - ``docs/course/exercises/swish.py``: the activation :math:`x\,\sigma(x)` uses :math:`x` twice;
#   derive its backward, write it, and grade it with ``nnlite gradcheck docs/course/exercises/swish.py``.
# - ``docs/course/exercises/residual_block.py``: the fork inside a Module, as in :class:`nnlite.Residual`
#   above; wire its backward through its three layers by hand.
