r"""
13. Convolution as im2col, and its adjoint
==========================================

A convolution slides a small kernel over the image. Written as loops it is slow in Python and its
backward looks like three new formulas. Written with **im2col** it is the Linear layer of chapter 2,
and the backward is the same three lines plus one new operator.
"""

# %%
# im2col
# ------
# For a stride :math:`s`, padding :math:`p` and a :math:`K \times K` kernel over :math:`C` channels,
# copy every receptive field into one row: :math:`X = \mathrm{im2col}(x)` has one row per output
# pixel :math:`(n, i, j)` and :math:`C \cdot K \cdot K` columns, ordered :math:`(c, u, v)`. With the
# weight :math:`W` of shape :math:`(C_{out}, C, K, K)` reshaped to :math:`W_r` of shape
# :math:`(C_{out}, C K K)`,
#
# .. math:: Y = X W_r^\top + b
#
# is the convolution, one output pixel per row. Here is im2col as a slow loop over output pixels
# (stride and padding included, images NCHW), next to the definition:
import inspect

import matplotlib.pyplot as plt
import numpy as np

import nnlite
from nnlite.ops import reference


def show_ops(*names):
    """Print the reference backend's source of each op: an op renamed or removed fails here, loudly."""
    for name in names:
        print(inspect.getsource(getattr(reference, name)))


def im2col(x, K, s, p):
    """(N, C, H, W) -> (N*OH*OW, C*K*K): each output pixel's receptive field as one row."""
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    OH, OW = (H + 2 * p - K) // s + 1, (W + 2 * p - K) // s + 1
    rows = [xp[n, :, i * s:i * s + K, j * s:j * s + K].reshape(-1)
            for n in range(N) for i in range(OH) for j in range(OW)]
    return np.array(rows), (OH, OW)


def col2im(cols, x_shape, K, s, p):
    """The adjoint: add every entry of every row back onto the pixel it was copied from."""
    N, C, H, W = x_shape
    xp = np.zeros((N, C, H + 2 * p, W + 2 * p))
    OH, OW = (H + 2 * p - K) // s + 1, (W + 2 * p - K) // s + 1
    r = 0
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                xp[n, :, i * s:i * s + K, j * s:j * s + K] += cols[r].reshape(C, K, K)
                r += 1
    return xp[:, :, p:p + H, p:p + W]


# %%
# The picture: a 5x6 image with a 3x3 kernel, stride 2, padding 1 gives a 3x3 output, so im2col has
# 9 rows, one per output pixel; each row holds the :math:`3 \times 3` window (here one channel) the
# kernel sees there, zeros where it overlaps the padding. The pixels in the middle are copied into
# several rows: that is why the backward must **add** (col2im).
img = np.arange(1, 31, dtype=float).reshape(1, 1, 5, 6)               # pixel values 1..30
cols1, (oh, ow) = im2col(img, K=3, s=2, p=1)                            # (9, 9)
fig, (ax0, ax1, ax2) = plt.subplots(1, 3, figsize=(12, 3.8), layout="constrained", width_ratios=(1.2, 1.5, 1))
ax0.imshow(img[0, 0], cmap="viridis")
for (i, j), v in np.ndenumerate(img[0, 0]):
    ax0.text(j, i, f"{v:.0f}", ha="center", va="center", color="w", fontsize=9)
ax0.add_patch(plt.Rectangle((0.5, 0.5), 3, 3, fill=False, ec="tab:red", lw=2))
ax0.set_title("image 5x6 (window of output pixel (1, 1) in red)")
ax1.imshow(cols1, cmap="viridis", vmin=0, vmax=30)
for (i, j), v in np.ndenumerate(cols1):
    ax1.text(j, i, f"{v:.0f}", ha="center", va="center", color="w", fontsize=8)
ax1.set_title("im2col: one row per output pixel")
ax1.set_xlabel("window position $(u, v)$")
ax1.set_ylabel("output pixel $(i, j)$")
copies = col2im(np.ones_like(cols1), img.shape, K=3, s=2, p=1)[0, 0]
ax2.imshow(copies, cmap="magma", vmin=0, vmax=copies.max() + 1)
for (i, j), v in np.ndenumerate(copies):
    ax2.text(j, i, f"{v:.0f}", ha="center", va="center", color="w", fontsize=10)
ax2.set_title("col2im(ones): rows each pixel went to")
for ax in (ax0, ax1, ax2):
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()

# %%
# The backward, and why col2im
# ----------------------------
# With :math:`G = \partial L / \partial Y` (one row per output pixel), chapter 2 gives
# :math:`\partial L/\partial W_r = G^\top X`, :math:`\partial L/\partial b = \mathbf 1^\top G` and
# :math:`\partial L/\partial X = G W_r`. But :math:`X` is not the input: each pixel of :math:`x`
# was copied into several rows. im2col is linear, :math:`X = A x` for a 0/1 matrix :math:`A`, so
#
# .. math::
#     \frac{\partial L}{\partial x} = A^\top \frac{\partial L}{\partial X}
#       = \mathrm{col2im}\big(G W_r\big),
#
# where :math:`\mathrm{col2im} = A^\top` is im2col's **adjoint**: it adds every entry back onto the
# pixel it came from. The defining property of an adjoint is
# :math:`\langle A x, C \rangle = \langle x, A^\top C \rangle` for every :math:`x` and :math:`C`:
rng = np.random.default_rng(100)
x = rng.normal(size=(2, 3, 5, 6))                                       # (N, C, H, W)
cols, (OH, OW) = im2col(x, K=3, s=2, p=1)                               # (N*OH*OW, C*K*K)
C = rng.normal(size=cols.shape)
lhs, rhs = np.sum(cols * C), np.sum(x * col2im(C, x.shape, K=3, s=2, p=1))
print(f"<im2col(x), C> = {lhs:.12f}\n<x, col2im(C)> = {rhs:.12f}")
np.testing.assert_allclose(lhs, rhs, rtol=1e-12)

# %%
# nnlite's code
# -------------
# The reference backend's convolution is exactly this: an im2col (looping over the :math:`K^2` window
# offsets instead of the output pixels, each offset one strided copy of the whole image), one matrix
# product, and col2im for the data gradient. Printed from the installed package:
show_ops("_im2col", "_col2im", "conv2d_forward", "conv2d_backward")

# %%
# The fast backend (the default) computes the same with Numba kernels on channels-last arrays, BLAS
# products band by band of output rows (bounded memory for large images), and, for a convolution to
# **one output channel**, a direct kernel that builds no column matrix; each mode is tested against
# these reference ops.
#
# The same numbers as the loops
# -----------------------------
# The reference op's columns are the loop's, and the layer's forward and all three gradients (on the
# reference backend) are the formulas above, asserted:
Xr = reference._im2col(x, (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), (OH, OW))
np.testing.assert_array_equal(Xr, cols)
conv = nnlite.Conv2d(3, 4, 3, stride=2, padding=1, dtype=np.float64, random_state=0)
Wr = conv.weight.data.reshape(4, -1)                                    # (C_out, C*K*K)
G = rng.normal(size=(2, 4, OH, OW))                                     # dL/dy, (N, C_out, OH, OW)
Gr = G.transpose(0, 2, 3, 1).reshape(-1, 4)                             # (N*OH*OW, C_out), rows as X's
with nnlite.ops.using("reference"):
    conv.zero_grad()
    y = conv(x)
    dx = conv.backward(G)
np.testing.assert_allclose(y, (cols @ Wr.T + conv.bias.data).reshape(2, OH, OW, 4).transpose(0, 3, 1, 2),
                           rtol=1e-12)
np.testing.assert_allclose(conv.weight.grad.reshape(4, -1), Gr.T @ cols, rtol=1e-12)
np.testing.assert_allclose(conv.bias.grad, Gr.sum(axis=0), rtol=1e-12)
np.testing.assert_allclose(dx, col2im(Gr @ Wr, x.shape, K=3, s=2, p=1), rtol=1e-12, atol=1e-14)
print("forward == im2col(x) W_r^T + b; dW_r == G^T X; db == 1^T G; dx == col2im(G W_r): asserted")

# %%
# The gradient check
# ------------------
# Input, weight and bias, in float64, on the reference backend (chapter 14 checks the transposed
# convolution, the adjoint seen from the other side). A bottom-row pixel is read by few taps, and one
# of them here has a gradient of only :math:`3 \times 10^{-4}`; with the default step its relative
# error is :math:`6 \times 10^{-8}`, mostly round-off, so the check takes :math:`h = 10^{-5}`: ten
# times less round-off, and a truncation error (:math:`h^2`) still far below the bar (chapter 6).
with nnlite.ops.using("reference"):
    result = nnlite.gradcheck(nnlite.Conv2d(3, 4, 3, stride=2, padding=1, random_state=0), x, eps=1e-5)
print(result)
assert result.passed, result

# %%
# Exercises
# ---------
# - ``docs/course/exercises/maxpool.py``: max pooling passes each window's gradient to the one pixel
#   that won it. Write its backward (windows may overlap: add) and grade it with
#   ``nnlite gradcheck docs/course/exercises/maxpool.py``.
# - By hand: with dilation :math:`d` the kernel taps are :math:`d` pixels apart. Change ``im2col``
#   above for it, and check your loop against ``reference._im2col`` with ``dilation=(2, 2)``.
