r"""
14. The transposed convolution is the adjoint of convolution
============================================================

A decoder must turn a small feature map into a large image. The layer that does it,
:class:`~nnlite.ConvTranspose2d`, is often drawn as "a convolution run backwards". That is exact, and
is the whole derivation: a convolution without bias is a **linear map** :math:`x \mapsto A x`, and the
transposed convolution with the same kernel is the map :math:`y \mapsto A^\top y`, which is also the
data gradient of the convolution.
"""

# %%
# Convolution as a matrix
# -----------------------
# With padding :math:`p`, stride :math:`s` and a :math:`K \times K` kernel, the convolution
# (chapter 13) is
#
# .. math::
#     y_{o, i, j} = \sum_{c} \sum_{u, v = 0}^{K - 1} W_{o, c, u, v}\; x_{c,\, s i + u - p,\, s j + v - p}
#
# (terms that fall in the padding are 0). Every output is a weighted sum of inputs, so
# :math:`y = A x` for one matrix :math:`A` with a row per output element and a column per input
# element: :math:`A_{(o,i,j), (c,\, s i + u - p,\, s j + v - p)} = W_{o,c,u,v}`. Its columns are the
# responses to single-pixel images, so we can build it by running :class:`nnlite.Conv2d` on each unit
# image :math:`e_k`:
import inspect

import matplotlib.pyplot as plt
import numpy as np

import nnlite
from nnlite.ops import reference


def show_ops(*names):
    """Print the reference backend's source of each op: an op renamed or removed fails here, loudly."""
    for name in names:
        print(inspect.getsource(getattr(reference, name)))


C_in, C_out, H, K, s, p = 1, 1, 4, 3, 2, 1
conv = nnlite.Conv2d(C_in, C_out, K, stride=s, padding=p, bias=False, dtype=np.float64, random_state=0)
n_in = C_in * H * H
A = np.stack([conv(np.eye(n_in)[k].reshape(1, C_in, H, H)).reshape(-1) for k in range(n_in)], axis=1)
print(f"A: {A.shape} (outputs x inputs), for a {H}x{H} image, kernel {K}, stride {s}, padding {p}")

# %%
# The adjoint
# -----------
# The transpose of :math:`A` is defined by :math:`\langle A x, y \rangle = \langle x, A^\top y \rangle`
# for every :math:`x` and :math:`y`. Read :math:`A^\top` off the formula: the input pixel
# :math:`(c, a, b)` collects :math:`W_{o,c,u,v}\, y_{o,i,j}` from every output :math:`(o,i,j)` whose
# window covered it (:math:`s i + u - p = a`, :math:`s j + v - p = b`):
#
# .. math::
#     (A^\top y)_{c, a, b} = \sum_{o} \sum_{\substack{i, j, u, v:\ s i + u - p = a \\ s j + v - p = b}}
#         W_{o,c,u,v}\; y_{o,i,j} .
#
# Read it the other way round: every pixel :math:`y_{o,i,j}` **stamps** a copy of its kernel, scaled
# by its value, onto the large grid at :math:`(s i - p, s j - p)`, and overlapping stamps add. That is
# the transposed convolution, and ``ConvTranspose2d``'s docstring states exactly this sum. Two facts
# follow, and both are checked below:
#
# 1. Backprop through :math:`y = A x` gives :math:`\partial L / \partial x = A^\top \bar y` (chapter 2,
#    with :math:`x` as the weight's partner): the **data gradient of the convolution** is the transposed
#    convolution, with the same kernel.
# 2. So :class:`~nnlite.ConvTranspose2d` (:math:`C_{out} \to C_{in}`, the same kernel size, stride and
#    padding, and the same weight array: its layout ``(C_in, C_out, K, K)`` of the transposed layer is
#    Conv2d's ``(C_out, C_in, K, K)`` read the other way) computes :math:`A^\top y` in its forward.
#
# One detail: a strided convolution maps several input sizes to the same output size (3x3 and 4x4
# images both give 2x2 here), so the transposed layer is told which one to produce: ``output_padding=1``
# adds the last row and column, :math:`(2 - 1) \cdot 2 - 2 \cdot 1 + 3 + 1 = 4`.
deconv = nnlite.ConvTranspose2d(C_out, C_in, K, stride=s, padding=p, output_padding=1, bias=False,
                                dtype=np.float64)
deconv.weight.data[...] = conv.weight.data
n_out = A.shape[0]
OH = int(np.sqrt(n_out // C_out))
A_T = np.stack([deconv(np.eye(n_out)[k].reshape(1, C_out, OH, OH)).reshape(-1) for k in range(n_out)], axis=1)
np.testing.assert_allclose(A_T, A.T, rtol=0, atol=1e-14)
print("the matrix of ConvTranspose2d is the transpose of Conv2d's: asserted")

# %%
# The picture: :math:`A` (4 outputs of a 2x2 map, 16 inputs of the 4x4 image; each row is the
# kernel laid out where its window sits, cut by the padding) and the transposed convolution's matrix,
# which is its mirror image. Right: one pixel of a 2x2 map, stamped: the transposed convolution of a
# single 1 is the kernel itself, at stride 2.
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), layout="constrained", width_ratios=(2.4, 1.2, 1))
lim = np.abs(A).max()
axes[0].imshow(A, cmap="RdBu_r", vmin=-lim, vmax=lim)
axes[0].set_title(r"$A$: Conv2d, $(2\cdot2) \times (4\cdot4)$")
axes[0].set_xlabel("input pixel")
axes[0].set_ylabel("output pixel")
axes[1].imshow(A_T, cmap="RdBu_r", vmin=-lim, vmax=lim)
axes[1].set_title(r"ConvTranspose2d $= A^\top$")
axes[1].set_xlabel("input pixel (small map)")
axes[1].set_ylabel("output pixel (large map)")
one = np.zeros((1, 1, 2, 2))
one[0, 0, 1, 0] = 1.0
axes[2].imshow(deconv(one)[0, 0], cmap="RdBu_r", vmin=-lim, vmax=lim)
axes[2].set_title("a single 1 at (1, 0), stamped")
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()

# %%
# nnlite's code
# -------------
# The reference backend writes the transposed convolution as chapter 13's pieces in the other order:
# one matrix product per input pixel's stamp, then col2im to add the overlapping stamps; its backward
# is an im2col of :math:`\bar y` and two products. Printed from the installed package:
show_ops("conv_transpose2d_forward", "conv_transpose2d_backward")

# %%
# The defining identity, on random tensors
# ----------------------------------------
# Now with several channels, on both backends: :math:`\langle A x, y\rangle` with ``conv(x)``, and
# :math:`\langle x, A^\top y\rangle` with the transposed layer, and with ``conv.backward(y)``, the data
# gradient; then the other way round, the transposed layer's data gradient is the convolution's forward
# (:math:`(A^\top)^\top = A`).
rng = np.random.default_rng(100)
conv = nnlite.Conv2d(3, 5, 4, stride=2, padding=1, bias=False, dtype=np.float64, random_state=0)
deconv = nnlite.ConvTranspose2d(5, 3, 4, stride=2, padding=1, bias=False, dtype=np.float64)
deconv.weight.data[...] = conv.weight.data
x = rng.normal(size=(2, 3, 8, 8))                        # (N, C_in, H, W)
for backend in ("reference", "fast"):
    with nnlite.ops.using(backend):
        Ax = conv(x)                                     # (N, C_out, 4, 4)
        y = np.random.default_rng(101).normal(size=Ax.shape)
        lhs, rhs = np.sum(Ax * y), np.sum(x * deconv(y))
        print(f"{backend:9s}: <A x, y> = {lhs:.12f}   <x, A^T y> = {rhs:.12f}")
        np.testing.assert_allclose(lhs, rhs, rtol=1e-12)
        np.testing.assert_allclose(conv.backward(y), deconv(y), rtol=1e-12, atol=1e-13)
        deconv(y)
        np.testing.assert_allclose(deconv.backward(x), conv(x), rtol=1e-12, atol=1e-13)
print("Conv2d's data gradient == ConvTranspose2d's forward, and the other way round: asserted")

# %%
# Overlapping stamps: the checkerboard
# ------------------------------------
# With stride 2 and a kernel of 3 the stamps overlap on every other row and column: an output pixel
# receives 1, 2 or 4 stamps. A constant input and an all-ones kernel make the count visible, and it is
# the count the formula predicts (asserted). Trained decoders inherit this uneven coverage as a
# checkerboard pattern unless the kernel size is a multiple of the stride (here 4 with stride 2, every
# interior pixel covered twice in each direction) or the layer is replaced by upsampling and a
# convolution.
fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.6), layout="constrained")
for ax, k in zip(axes, (3, 4)):
    stamp = nnlite.ConvTranspose2d(1, 1, k, stride=2, padding=0, bias=False, dtype=np.float64)
    stamp.weight.data[...] = 1.0
    counts = stamp(np.ones((1, 1, 6, 6)))[0, 0]
    cover = np.zeros(counts.shape[0])                          # stamps per output row, by hand
    for i in range(6):
        cover[2 * i:2 * i + k] += 1
    np.testing.assert_array_equal(counts, np.outer(cover, cover))
    im = ax.imshow(counts, cmap="viridis")
    ax.set_title(f"kernel {k}, stride 2: stamps per pixel")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(im, ax=ax, shrink=0.8)
plt.show()

# %%
# The gradient checks
# -------------------
# Both layers, input, weight and bias, in float64, on the reference backend.
with nnlite.ops.using("reference"):
    result = nnlite.gradcheck(nnlite.ConvTranspose2d(3, 2, 4, stride=2, padding=1, random_state=0),
                              rng.normal(size=(2, 3, 3, 3)))
print(result)
assert result.passed, result
with nnlite.ops.using("reference"):
    result = nnlite.gradcheck(nnlite.Conv2d(3, 2, 4, stride=2, padding=1, random_state=0),
                              rng.normal(size=(2, 3, 6, 6)))
print(result)
assert result.passed, result

# %%
# Exercises
# ---------
# - ``docs/course/exercises/upsample.py``: nearest-neighbour upsampling copies each pixel into an
#   :math:`s \times s` block. Write it as a matrix, find its transpose (it sums each block), and grade
#   your backward with ``nnlite gradcheck docs/course/exercises/upsample.py``. Which transposed
#   convolution is it?
# - By hand: the weight gradient of the transposed convolution. Show that it is the convolution's weight
#   gradient with the roles of :math:`x` and :math:`\bar y` exchanged.
