"""Register-blocked direct convolution kernels (channels-last): forward, data gradient, weight gradient.

No column matrix. Each kernel keeps a block of accumulators in vector registers and streams the
input past them, as oneDNN's direct kernels do (Zhang, Franchetti and Low, ICML 2018):

* **forward**: one output row, ``B`` output pixels along W times ``V`` output channels (``V`` = one
  64-byte vector: 16 float32 or 8 float64). For each kernel tap ``(kh, kw)`` and input channel ``ci``
  the kernel loads one weight vector ``w[kh, kw, ci, co0:co0+V]`` and issues ``B`` fused multiply-adds,
  each with one input value broadcast::

      acc[j, :] += x[n, oh*SH + kh, (ow0 + j)*SW + kw, ci] * w[kh, kw, ci, co0:co0+V]    # j < B

* **data gradient** (stride 1): the same kernel over ``dy`` padded by ``K - 1 - P``, with the flipped
  kernel and the roles of the channels swapped, ``dx = conv(dy, flip(W)^T)``;
* **weight gradient**: ``B`` input channels times ``V`` output channels in registers; for every output
  pixel one vector of ``dy`` and ``B`` broadcast input values::

      acc[i, :] += x[n, oh*SH + kh, ow*SW + kw, ci0 + i] * dy[n, oh, ow, co0:co0+V]      # i < B

  Each thread sums its images into its own partial buffer; the buffers are added at the end.

The padding is done once, by copying the input into a zeroed buffer large enough that every block
reads real memory (rows and columns past the image are zeros), so the hot loop has no bounds tests.
Accumulators past the real output channels or pixels are computed and dropped.

How the registers are kept. The accumulator block is a stack buffer (an ``alloca``, :func:`_stack_buffer`;
a ``np.empty`` would be on the heap) that the hot loop reads and writes only as whole vectors through
:func:`_fma_rows`, an intrinsic that emits ``<V x float>`` loads, broadcasts and ``llvm.fma`` calls;
LLVM then keeps the block in registers across the reduction loop. Plain loops do not get there: with
``fastmath`` LLVM vectorises the reduction over ``ci`` instead (spilling 64 accumulators), without it
the unrolled block stays scalar. Checked with ``inspect_asm()`` on an AVX-512 Xeon: the inner loop is
``B`` ``vfmadd231ps (mem){1to16}, zmm, zmm`` with the accumulators in ``zmm0..`` and no stores. On an
AVX2 machine a 64-byte vector is two ``ymm`` registers; the block is ``B = 4`` pixels there (8 ymm
accumulators of the 16) and ``B = 8`` with AVX-512's 32 registers (:data:`BLOCK`).

Rounding: each output is one running FMA chain over ``(kh, kw, ci)`` in that order, so results do not
depend on the vector width or the thread count.

``NUMBA_DISABLE_JIT=1`` runs the same kernels as Python, with NumPy twins of the two intrinsics.
"""
from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .._numba import njit, njit_parallel, prange


def _has_avx512() -> bool:
    """Whether Numba compiles for AVX-512: its ``NUMBA_CPU_FEATURES`` when set, else the host's features
    when it compiles for the host (``NUMBA_CPU_NAME`` unset or ``host``); another named CPU counts as
    no (the 4-pixel block is correct and fits on any target)."""
    if numba.config.CPU_FEATURES:
        return "+avx512f" in numba.config.CPU_FEATURES
    if numba.config.CPU_NAME not in (None, "", "host"):
        return False
    try:
        import llvmlite.binding as ll
        return "+avx512f" in ll.get_host_cpu_features().flatten()
    except Exception:  # pragma: no cover - feature query unavailable
        return False


#: Output pixels (forward) or input channels (weight gradient) per register block: 8 with AVX-512's
#: 32 vector registers, 4 elsewhere (AVX2: 16 registers, a 64-byte vector takes two).
BLOCK = 8 if _has_avx512() else 4

#: Bytes of one accumulator row: 16 float32 or 8 float64 channels.
VECTOR_BYTES = 64

_STACK_ELEMS = 8 * 16        # the largest block (8 rows of 16 float32), float64 uses half of it


def lanes(dtype) -> int:
    """Channels per accumulator row for ``dtype``: 16 for float32, 8 for float64."""
    return VECTOR_BYTES // np.dtype(dtype).itemsize


# ---------------------------------------------------------------------------------------- intrinsics
if numba.config.DISABLE_JIT:
    def _stack_buffer(size, dtype):
        """Plain-Python twin of the stack buffer: a heap array."""
        return np.empty(size, dtype)

    def _as_block(buf, rows, cols):
        return buf[:rows * cols].reshape(rows, cols)

    def _store_rows(acc, ya, off, step, ba, rows):
        """Plain-Python twin of the intrinsic below."""
        v = acc.shape[1]
        flat = ya.reshape(-1)
        for j in range(rows):
            flat[off + j * step:off + j * step + v] = acc[j, :] + ba[:v]

    def _fma_rows(acc, xa, off, step, wa):
        """Plain-Python twin of the intrinsic below."""
        v = acc.shape[1]
        flat = xa.reshape(-1)
        for j in range(BLOCK):
            k = off + j * step
            if k < flat.size:            # past the view: the slack the compiled kernel reads, dropped anyway
                acc[j, :] += flat[k] * wa[:v]
else:
    @intrinsic
    def _stack_buffer(typingctx, size, dtype):
        """A buffer of ``size`` (a literal) elements on the stack of the calling function."""
        if not isinstance(size, types.IntegerLiteral):
            return None
        n, dt = size.literal_value, dtype.dtype

        def codegen(context, builder, signature, args):
            return cgutils.alloca_once(builder, context.get_value_type(dt), size=n)
        return types.CPointer(dt)(size, dtype), codegen

    def _carray_block(buf, rows, cols):
        return numba.carray(buf, (rows, cols))

    _as_block = njit(_carray_block, inline="always")

    @intrinsic
    def _fma_rows(typingctx, acc, xa, off, step, wa):
        """``acc[j, :V] += xa.flat[off + j*step] * wa[:V]`` for ``j < BLOCK``, as ``<V x float>`` FMAs.

        ``acc`` a C-contiguous ``(BLOCK, V)`` block, ``xa`` a C-contiguous array read by flat index,
        ``wa`` an array whose first ``V`` elements are contiguous (a row or a row's tail); ``V`` is
        ``VECTOR_BYTES`` of ``acc``'s dtype. No bounds checks: the callers size their buffers.
        """
        sig = types.void(acc, xa, off, step, wa)

        def codegen(context, builder, signature, args):
            acc_v, x_v, off_v, step_v, w_v = args
            acc_a = context.make_array(signature.args[0])(context, builder, acc_v)
            x_a = context.make_array(signature.args[1])(context, builder, x_v)
            w_a = context.make_array(signature.args[4])(context, builder, w_v)
            fty = context.get_value_type(signature.args[0].dtype)
            v = VECTOR_BYTES // (4 if isinstance(fty, ir.FloatType) else 8)
            vty = ir.VectorType(fty, v)
            name = f"llvm.fma.v{v}{'f32' if v == 16 else 'f64'}"
            fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3), name)
            align = fty.get_abi_alignment(context.target_data) if hasattr(fty, "get_abi_alignment") else 4
            wvec = builder.load(builder.bitcast(w_a.data, vty.as_pointer()), align=align)
            accp = builder.bitcast(acc_a.data, vty.as_pointer())
            lane0 = ir.Constant(ir.IntType(32), 0)
            splat = ir.Constant(ir.VectorType(ir.IntType(32), v), [0] * v)
            undef = ir.Constant(vty, ir.Undefined)
            off_i = context.cast(builder, off_v, signature.args[2], types.intp)
            step_i = context.cast(builder, step_v, signature.args[3], types.intp)
            for j in range(BLOCK):
                idx = builder.add(off_i, builder.mul(step_i, ir.Constant(step_i.type, j)))
                xs = builder.load(builder.gep(x_a.data, [idx]))
                xb = builder.shuffle_vector(builder.insert_element(undef, xs, lane0), undef, splat)
                p = builder.gep(accp, [ir.Constant(ir.IntType(64), j)])
                builder.store(builder.call(fma, [xb, wvec, builder.load(p, align=align)]), p, align=align)
            return context.get_dummy_value()
        return sig, codegen


    @intrinsic
    def _store_rows(typingctx, acc, ya, off, step, ba, rows):
        """``ya.flat[off + j*step : off + j*step + V] = acc[j, :] + ba[:V]`` for ``j < rows`` (``rows <= BLOCK``),
        as ``<V x float>`` loads, adds and stores: the accumulators go out as whole vectors (a scalar
        read-out would make LLVM keep the block in memory). ``ya`` C-contiguous, no bounds checks."""
        sig = types.void(acc, ya, off, step, ba, rows)

        def codegen(context, builder, signature, args):
            acc_v, y_v, off_v, step_v, b_v, rows_v = args
            acc_a = context.make_array(signature.args[0])(context, builder, acc_v)
            y_a = context.make_array(signature.args[1])(context, builder, y_v)
            b_a = context.make_array(signature.args[4])(context, builder, b_v)
            fty = context.get_value_type(signature.args[0].dtype)
            v = VECTOR_BYTES // (4 if isinstance(fty, ir.FloatType) else 8)
            vty = ir.VectorType(fty, v)
            align = 4 if v == 16 else 8
            bvec = builder.load(builder.bitcast(b_a.data, vty.as_pointer()), align=align)
            accp = builder.bitcast(acc_a.data, vty.as_pointer())
            off_i = context.cast(builder, off_v, signature.args[2], types.intp)
            step_i = context.cast(builder, step_v, signature.args[3], types.intp)
            rows_i = context.cast(builder, rows_v, signature.args[5], types.intp)
            for j in range(BLOCK):
                jc = ir.Constant(step_i.type, j)
                with builder.if_then(builder.icmp_signed("<", jc, rows_i)):
                    a = builder.load(builder.gep(accp, [ir.Constant(ir.IntType(64), j)]), align=align)
                    idx = builder.add(off_i, builder.mul(step_i, jc))
                    dst = builder.bitcast(builder.gep(y_a.data, [idx]), vty.as_pointer())
                    builder.store(builder.fadd(a, bvec), dst, align=align)
            return context.get_dummy_value()
        return sig, codegen


# ---------------------------------------------------------------------------------------- kernels
def _direct_forward(xp, wp, bias, SH, SW, y):
    """``y[n, oh, ow, co] = bias[co] + sum_{kh,kw,ci} xp[n, oh*SH + kh, ow*SW + kw, ci] * w[kh, kw, ci, co]``
    with ``w[kh, kw, ci, co] = wp[co // V, kh, kw, ci, co % V]``.

    ``xp`` ``(N, Hp, Wp, C_in)`` the padded input, wide enough for whole blocks of ``BLOCK`` output
    pixels (``Wp >= (ceil(OW / BLOCK) * BLOCK - 1) * SW + KW``); ``wp`` ``(ceil(C_out / V), KH, KW, C_in, V)``
    (zeros past ``C_out``); ``bias`` length ``ceil(C_out / V) * V``; ``y`` ``(N, OH, OW, C_out)`` is
    overwritten. Parallel over output rows."""
    N, OH, OW, Co = y.shape
    ncb, KH, KW, Ci = wp.shape[0], wp.shape[1], wp.shape[2], wp.shape[3]
    V = VECTOR_BYTES // xp.itemsize                                        # a compile-time constant
    nob = (OW + BLOCK - 1) // BLOCK
    step = SW * Ci
    for t in prange(N * OH):
        n = t // OH
        oh = t - n * OH
        acc = _as_block(_stack_buffer(_STACK_ELEMS, xp.dtype), BLOCK, V)
        for cb in range(ncb):
            co0 = cb * V
            cn = min(V, Co - co0)
            for ob in range(nob):
                ow0 = ob * BLOCK
                for j in range(BLOCK):
                    for c in range(V):
                        acc[j, c] = 0
                for kh in range(KH):
                    xrow = xp[n, oh * SH + kh]                              # (Wp, C_in)
                    for kw in range(KW):
                        base = (ow0 * SW + kw) * Ci
                        for ci in range(Ci):
                            _fma_rows(acc, xrow, base + ci, step, wp[cb, kh, kw, ci])
                if cn == V:                                                 # whole vectors out
                    _store_rows(acc, y[n, oh], ow0 * Co + co0, Co, bias[co0:], min(BLOCK, OW - ow0))
                else:
                    for j in range(min(BLOCK, OW - ow0)):
                        for c in range(cn):
                            y[n, oh, ow0 + j, co0 + c] = acc[j, c] + bias[co0 + c]


def _direct_weight_grad(xp, g, KH, KW, SH, SW, parts):
    """``parts[t, kh, kw, ci, co] = sum over the images n of chunk t, and over (oh, ow), of
    xp[n, oh*SH + kh, ow*SW + kw, ci] * g[n, oh, ow, co]``.

    ``xp`` ``(N, Hp, Wp, C_in)`` the padded input, with at least ``BLOCK`` elements of slack after its
    end (a block of channels may run past ``C_in``: those rows of ``parts`` are garbage, the caller
    drops them); ``g`` ``(N, OH, OW, Cg)`` with ``Cg`` a multiple of ``V``; ``parts``
    ``(T, KH, KW, ceil(C_in / BLOCK) * BLOCK, Cg)`` is overwritten, one partial sum per chunk of
    images (threads never share one). Parallel over the ``T`` chunks."""
    N, OH, OW, Cg = g.shape
    T = parts.shape[0]
    Ci = xp.shape[3]
    V = VECTOR_BYTES // xp.itemsize
    ncb = Cg // V
    nib = parts.shape[3] // BLOCK
    for t in prange(T):
        acc = _as_block(_stack_buffer(_STACK_ELEMS, xp.dtype), BLOCK, V)
        for kh in range(KH):
            for kw in range(KW):
                for i in range(nib * BLOCK):
                    for c in range(Cg):
                        parts[t, kh, kw, i, c] = 0
        for n in range(t * N // T, (t + 1) * N // T):
            for kh in range(KH):
                for kw in range(KW):
                    for ib in range(nib):
                        for cb in range(ncb):
                            for i in range(BLOCK):
                                for c in range(V):
                                    acc[i, c] = 0
                            for oh in range(OH):
                                xrow = xp[n, oh * SH + kh]                   # (Wp, C_in)
                                grow = g[n, oh]                              # (OW, Cg)
                                for ow in range(OW):
                                    _fma_rows(acc, xrow, (ow * SW + kw) * Ci + ib * BLOCK, 1, grow[ow, cb * V:])
                            for i in range(BLOCK):
                                for c in range(V):
                                    parts[t, kh, kw, ib * BLOCK + i, cb * V + c] += acc[i, c]


def _pad_into(x, top, left, xp):
    """``xp[n, i, j, c] = x[n, i - top, j - left, c]`` inside ``x``, 0 elsewhere; ``xp`` ``(N, Hp, Wp, C)``
    is overwritten. Parallel over the rows of ``xp``."""
    N, H, W, C = x.shape
    Hp, Wp = xp.shape[1], xp.shape[2]
    j0 = min(max(left, 0), Wp)
    j1 = max(min(left + W, Wp), j0)
    for t in prange(N * Hp):
        n = t // Hp
        i = t - n * Hp
        ih = i - top
        if ih < 0 or ih >= H:
            for j in range(Wp):
                for c in range(C):
                    xp[n, i, j, c] = 0
            continue
        for j in range(j0):
            for c in range(C):
                xp[n, i, j, c] = 0
        for j in range(j0, j1):
            for c in range(C):
                xp[n, i, j, c] = x[n, ih, j - left, c]
        for j in range(j1, Wp):
            for c in range(C):
                xp[n, i, j, c] = 0


pad_into = njit_parallel(_pad_into)
direct_forward = njit_parallel(_direct_forward)
direct_weight_grad = njit_parallel(_direct_weight_grad)


# ---------------------------------------------------------------------------------------- entry points
def _buffer(workspace, name, n, dtype):
    """``n`` elements of the 1-D work array ``workspace[name]`` (grown when too small), or a fresh array."""
    if workspace is None:
        return np.empty(n, dtype)
    arr = workspace.get(name)
    if arr is None or arr.size < n or arr.dtype != dtype:
        arr = workspace[name] = np.empty(n, dtype)
    return arr[:n]


def padded(x, top, left, Hp, Wp, slack=0, workspace=None, name="direct_pad"):
    """``x`` ``(N, H, W, C)`` copied into a zeroed ``(N, Hp, Wp, C)`` buffer at ``(top, left)`` (rows or
    columns falling outside the buffer are cut: a negative ``top`` drops the first rows), followed by
    ``slack`` spare zero elements in memory. The buffer is ``workspace[name]`` when a dict is given."""
    N, H, W, C = x.shape
    size = N * Hp * Wp * C
    flat = _buffer(workspace, name, size + slack, x.dtype)
    flat[size:] = 0
    xp = flat[:size].reshape(N, Hp, Wp, C)
    pad_into(np.ascontiguousarray(x), top, left, xp)
    return xp


def forward_padding(x, kernel_hw, stride, pad, out_hw, workspace=None):
    """The padded input that :func:`conv2d_forward` and :func:`conv2d_weight_grad` read (``xp=``): wide
    enough for whole pixel blocks, ``BLOCK`` elements of slack. ``workspace``: reuse ``workspace['direct_x']``."""
    (KH, KW), (SH, SW), (PH, PW), (OH, OW) = kernel_hw, stride, pad, out_hw
    nob = -(-OW // BLOCK)
    return padded(x, PH, PW, (OH - 1) * SH + KH, (nob * BLOCK - 1) * SW + KW, BLOCK, workspace, "direct_x")


def pack_weight(w):
    """``w`` ``(C_out, C_in, KH, KW)`` as ``(ceil(C_out / V), KH, KW, C_in, V)``, zeros past ``C_out``."""
    Co, Ci, KH, KW = w.shape
    V = lanes(w.dtype)
    ncb = -(-Co // V)
    wp = np.zeros((KH, KW, Ci, ncb * V), w.dtype)
    wp[..., :Co] = w.transpose(2, 3, 1, 0)                                  # (KH, KW, C_in, C_out)
    return np.ascontiguousarray(wp.reshape(KH, KW, Ci, ncb, V).transpose(3, 0, 1, 2, 4))


def conv2d_forward(x, w, bias, stride, pad, out_hw, out=None, xp=None):
    """Direct convolution, channels-last: ``y[n, oh, ow, o] = b[o] + sum_{c,kh,kw} w[o, c, kh, kw] *
    x[n, oh*SH - PH + kh, ow*SW - PW + kw, c]`` (0 outside the image).

    ``x`` ``(N, H, W, C_in)`` float32 or float64, ``w`` ``(C_out, C_in, KH, KW)`` (dilation 1),
    ``bias`` ``(C_out,)`` or None, ``pad`` the padding before the first row and column, ``out_hw``
    ``(OH, OW)``. Returns ``y`` ``(N, OH, OW, C_out)``, C-contiguous (written into ``out`` if given).
    ``xp``: the input already padded by :func:`forward_padding` (then ``x`` is not read)."""
    Co, _, KH, KW = w.shape
    (SH, SW), (OH, OW) = stride, out_hw
    if xp is None:
        xp = forward_padding(x, (KH, KW), stride, pad, out_hw)
    dt = xp.dtype
    wp = pack_weight(np.asarray(w, dt))
    V = wp.shape[4]
    b = np.zeros(wp.shape[0] * V, dt)
    if bias is not None:
        b[:Co] = bias
    y = np.empty((xp.shape[0], OH, OW, Co), dt) if out is None else out
    direct_forward(xp, wp, b, SH, SW, y)
    return y


def conv2d_data_grad(g, w, pad, in_hw, workspace=None):
    """``dL/dx`` of a **stride-1** :func:`conv2d_forward`, as the convolution of ``g`` with the flipped
    kernel: ``dx[n, i, j, c] = sum_{o,kh,kw} w[o, c, kh, kw] * g[n, i + PH - kh, j + PW - kw, o]``.

    ``g`` ``(N, OH, OW, C_out)``, ``w`` ``(C_out, C_in, KH, KW)``, ``pad`` the forward's ``(PH, PW)``,
    ``in_hw`` ``(H, W)``. Returns ``dx`` ``(N, H, W, C_in)``. ``workspace``: reuse ``workspace['direct_g']``."""
    KH, KW = w.shape[2], w.shape[3]
    PH, PW = pad
    w_f = np.asarray(w, g.dtype)[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)   # (C_in, C_out, KH, KW) flipped
    nob = -(-in_hw[1] // BLOCK)
    gp = padded(g, KH - 1 - PH, KW - 1 - PW, in_hw[0] + KH - 1, nob * BLOCK + KW - 1, 0, workspace, "direct_g")
    return conv2d_forward(None, w_f, None, (1, 1), None, in_hw, xp=gp)


def conv2d_weight_grad(x, g, kernel_hw, stride, pad, xp=None):
    """``dL/dw[o, c, kh, kw] = sum_{n,oh,ow} g[n, oh, ow, o] * x[n, oh*SH - PH + kh, ow*SW - PW + kw, c]``
    of :func:`conv2d_forward`. ``x`` ``(N, H, W, C_in)``, ``g`` ``(N, OH, OW, C_out)``; returns
    ``(C_out, C_in, KH, KW)``. ``xp``: the input already padded by :func:`forward_padding`."""
    N, OH, OW, Co = g.shape
    (KH, KW), (SH, SW), (PH, PW) = kernel_hw, stride, pad
    if xp is None:
        xp = padded(x, PH, PW, (OH - 1) * SH + KH, (OW - 1) * SW + KW, slack=BLOCK)
    dt, Ci = xp.dtype, xp.shape[3]
    V = lanes(dt)
    Cg = -(-Co // V) * V
    if Cg != Co or not g.flags.c_contiguous or g.dtype != dt:
        gp = np.zeros((N, OH, OW, Cg), dt)
        gp[..., :Co] = g
    else:
        gp = g
    T = max(1, min(N, numba.get_num_threads()))
    parts = np.empty((T, KH, KW, -(-Ci // BLOCK) * BLOCK, Cg), dt)
    direct_weight_grad(xp, gp, KH, KW, SH, SW, parts)
    dw = parts.sum(axis=0) if T > 1 else parts[0]                         # (KH, KW, C_in', Cg)
    return np.ascontiguousarray(dw[:, :, :Ci, :Co].transpose(3, 2, 0, 1))


__all__ = ["BLOCK", "VECTOR_BYTES", "lanes", "padded", "forward_padding", "pack_weight", "conv2d_forward",
           "conv2d_data_grad",
           "conv2d_weight_grad", "direct_forward", "direct_weight_grad", "pad_into"]
