r"""
13. Convolution as im2col, and its adjoint
==========================================

A convolution slides a small kernel over the image. Written as loops it is slow in Python and its
backward looks like three new formulas. Written with **im2col** it is the Linear layer of chapter 1,
and the backward is the same three lines plus one new operator.
"""

# %%
# im2col
# ------
# For a stride :math:`s`, padding :math:`p` and a :math:`K \times K` kernel over :math:`C` channels,
# copy every receptive field into one row: :math:`X = \mathrm{im2col}(x)` has one row per output
# pixel :math:`(n, i, j)` and :math:`K \cdot K \cdot C` columns. With the weight reshaped to
# :math:`W_r` of shape :math:`(K K C, C_{out})`,
#
# .. math:: Y = X W_r + b
#
# is the convolution, one output pixel per row. Here is im2col as a slow loop (stride and padding
# included, channels last), next to the definition:
import inspect

import numpy as np

import nnlite
from nnlite.ops._kernels import conv as conv_kernels


def im2col(x, K, s, p):
    """(N, H, W, C) -> (N*OH*OW, K*K*C): each output pixel's receptive field as one row."""
    N, H, W, C = x.shape
    xp = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    OH, OW = (H + 2 * p - K) // s + 1, (W + 2 * p - K) // s + 1
    rows = [xp[n, i * s:i * s + K, j * s:j * s + K, :].reshape(-1)
            for n in range(N) for i in range(OH) for j in range(OW)]
    return np.array(rows), (OH, OW)


def col2im(cols, x_shape, K, s, p):
    """The adjoint: add every entry of every row back onto the pixel it was copied from."""
    N, H, W, C = x_shape
    xp = np.zeros((N, H + 2 * p, W + 2 * p, C))
    OH, OW = (H + 2 * p - K) // s + 1, (W + 2 * p - K) // s + 1
    r = 0
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                xp[n, i * s:i * s + K, j * s:j * s + K, :] += cols[r].reshape(K, K, C)
                r += 1
    return xp[:, p:p + H, p:p + W, :]


# %%
# The backward, and why col2im
# ----------------------------
# With :math:`G = \partial L / \partial Y` (one row per output pixel), chapter 1 gives
# :math:`\partial L/\partial W_r = X^\top G`, :math:`\partial L/\partial b = \mathbf 1^\top G` and
# :math:`\partial L/\partial X = G W_r^\top`. But :math:`X` is not the input: each pixel of :math:`x`
# was copied into several rows. im2col is linear, :math:`X = A x` for a 0/1 matrix :math:`A`, so
#
# .. math::
#     \frac{\partial L}{\partial x} = A^\top \frac{\partial L}{\partial X}
#       = \mathrm{col2im}\big(G W_r^\top\big),
#
# where :math:`\mathrm{col2im} = A^\top` is im2col's **adjoint**: it adds every entry back onto the
# pixel it came from. The defining property of an adjoint is
# :math:`\langle A x, C \rangle = \langle x, A^\top C \rangle` for every :math:`x` and :math:`C`:
rng = np.random.default_rng(100)
x = rng.normal(size=(2, 5, 6, 3))
cols, (OH, OW) = im2col(x, K=3, s=2, p=1)
C = rng.normal(size=cols.shape)
lhs, rhs = np.sum(cols * C), np.sum(x * col2im(C, x.shape, K=3, s=2, p=1))
print(f"<im2col(x), C> = {lhs:.12f}\n<x, col2im(C)> = {rhs:.12f}")
assert np.isclose(lhs, rhs)

# %%
# nnlite's code
# -------------
# :class:`nnlite.Conv2d` keeps activations channels-last in memory, so that im2col copies contiguous
# runs of :math:`C` values; the products go to BLAS band by band of output rows (bounded memory for
# large images), and im2col and col2im are parallel Numba kernels (the 1-channel case has a direct
# kernel without the copy). The docstring holds the math above:
print(nnlite.Conv2d.__doc__.split("Parameters")[0])
print(inspect.getsource(nnlite.Conv2d.backward))
im2col_kernel = conv_kernels._im2col_nhwc
print(inspect.getsource(getattr(im2col_kernel, "py_func", im2col_kernel)))

# %%
# The same numbers as the loops
# -----------------------------
conv = nnlite.Conv2d(3, 4, 3, stride=2, padding=1, dtype=np.float64, random_state=0)
x_nchw = np.ascontiguousarray(x.transpose(0, 3, 1, 2))                 # (N, C, H, W)
Wr = conv.weight.data.transpose(2, 3, 1, 0).reshape(-1, 4)             # (K*K*C, C_out)
Y = (cols @ Wr + conv.bias.data).reshape(2, OH, OW, 4).transpose(0, 3, 1, 2)
print("forward == im2col(x) W_r + b:", np.allclose(conv(x_nchw), Y))

# %%
# The gradient check
# ------------------
result = nnlite.gradcheck(nnlite.Conv2d(3, 4, 3, stride=2, padding=1, random_state=0), x_nchw)
print(result)
assert result.passed, result
result = nnlite.gradcheck(nnlite.ConvTranspose2d(3, 2, 4, stride=2, padding=1, random_state=0), x_nchw)
print(result)
assert result.passed, result
