"""Scalar math for Numba kernels that LLVM can vectorize: ``exp``, ``expm1``, ``log1p`` on [0, 1], ``sigmoid``,
``tanh``.

Numba turns ``math.exp`` into a call to the C library, one element at a time (about 3.5 ns each here:
0.35 ms for a 128 x 784 batch, more than the fused kernel's whole budget). Without Intel's SVML, LLVM
cannot vectorize such calls. So for **float32** these helpers are written as plain arithmetic that LLVM
turns into 8-wide AVX2 code; for **float64** (gradient checks, float64 training) they are exactly
``math.exp`` / ``math.log1p``:

* ``exp(x)``: Cody-Waite range reduction ``x = k ln2 + r`` with ``|r| <= ln2 / 2``, Cephes' degree-7
  polynomial for ``e^r``, and ``2^k`` applied by adding ``k`` to the exponent bits (an LLVM bitcast).
  Relative error below 2e-7 (about 1 ulp) for ``x`` in [-87, 88]; inputs are clamped to that range
  (``exp(-100)`` gives ``exp(-87) = 1.6e-38`` instead of a denormal), NaN stays NaN.
* ``log1p_unit(e)`` for ``e`` in [0, 1] (what softplus and BCE-with-logits need, ``e = exp(-|x|)``):
  ``log(1 + e) = k ln2 + 2 atanh(s)`` with ``s = e / (2 + e)`` (k = 0) or ``s = (e - 1) / (e + 3)``
  (k = 1, when ``e > sqrt(2) - 1``), so ``|s| <= 0.172`` and five odd terms of the atanh series reach
  float32 precision; exact relative precision for tiny ``e`` (no ``1 + e`` rounding).
* ``expm1(x)``: Taylor series to ``x^8`` for ``|x| < 0.1``, else ``exp(x) - 1`` (relative error < 1e-6).
* ``tanh(x) = -expm1(-2|x|) / (2 + expm1(-2|x|))`` with the sign of ``x``: accurate near 0, no overflow.
* ``sigmoid(x) = 1 / (1 + e)`` or ``e / (1 + e)`` with ``e = exp(-|x|)``: never overflows.

The plain Python functions below are what the names mean, and what runs under ``NUMBA_DISABLE_JIT=1``;
in jitted code, :func:`numba.extending.overload` substitutes the float32 versions. Twins:
``tests/test_kernels_dense.py`` checks both dtypes against NumPy's float64 functions.

Caching caveat for developers: Numba's on-disk cache of a kernel (``cache=True``) is invalidated only
when the kernel's *own* file changes. After editing this file, delete ``nnlite/_kernels/__pycache__``
(or touch the files that use these functions, e.g. ``dense.py``) so the kernels are recompiled.
"""
from __future__ import annotations

import math

import numpy as np
from numba import types
from numba.extending import intrinsic, overload


def exp(x: float) -> float:
    """``e ** x`` (float64 exact; float32 vectorizable within 2e-7 in jitted code)."""
    return math.exp(x)


def log1p_unit(e: float) -> float:
    """``log(1 + e)`` for ``e`` in [0, 1]."""
    return math.log1p(e)


def expm1(x: float) -> float:
    """``e ** x - 1``, accurate near 0."""
    return math.expm1(x)


def tanh(x: float) -> float:
    """Hyperbolic tangent."""
    return math.tanh(x)


def sigmoid(x: float) -> float:
    """``1 / (1 + exp(-x))`` without overflow."""
    e = math.exp(-abs(x))
    r = 1.0 / (1.0 + e)
    return r if x >= 0 else e * r


# --------------------------------------------------------------------------------------- float32 versions
_F = np.float32
_LOG2E = _F(1.4426950408889634)
_C1 = _F(0.693359375)              # ln2 split in two (Cody-Waite): C1 exact in few bits, C1 + C2 = ln2
_C2 = _F(-2.12194440e-4)
_P0, _P1, _P2 = _F(1.9875691500e-4), _F(1.3981999507e-3), _F(8.3334519073e-3)
_P3, _P4, _P5 = _F(4.1665795894e-2), _F(1.6666665459e-1), _F(5.0000001201e-1)
_EXP_LO, _EXP_HI = _F(-87.0), _F(88.0)
_ZERO, _HALF, _ONE, _TWO, _THREE = _F(0.0), _F(0.5), _F(1.0), _F(2.0), _F(3.0)
_LN2 = _F(0.6931471805599453)
_SQRT2M1 = _F(0.41421356237309503)
_A1, _A3, _A5, _A7, _A9 = _F(2.0), _F(2.0 / 3.0), _F(2.0 / 5.0), _F(2.0 / 7.0), _F(2.0 / 9.0)


@intrinsic
def _mul_pow2_f32(typingctx, p, k):
    """``p * 2**k`` for a float32 ``p`` and int32 ``k`` whose result is a normal number: adds ``k`` to
    the exponent field (bitcast, integer add, bitcast), which vectorizes."""
    if p != types.float32 or k != types.int32:
        return None
    from llvmlite import ir

    def codegen(context, builder, signature, args):
        pv, kv = args
        bits = builder.bitcast(pv, ir.IntType(32))
        bits = builder.add(bits, builder.shl(kv, ir.Constant(ir.IntType(32), 23)))
        return builder.bitcast(bits, ir.FloatType())

    return types.float32(types.float32, types.int32), codegen


def _exp_f32(x):
    xc = x if x > _EXP_LO else _EXP_LO
    xc = xc if xc < _EXP_HI else _EXP_HI
    fk = np.floor(xc * _LOG2E + _HALF)
    r = xc - fk * _C1 - fk * _C2
    p = (((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5) * (r * r) + r + _ONE
    y = _mul_pow2_f32(p, np.int32(fk))
    return y if x == x else x                      # NaN in, NaN out


def _log1p_unit_f32(e):
    big = e > _SQRT2M1
    s = (e - _ONE if big else e) / (e + _THREE if big else e + _TWO)
    z = s * s
    poly = s * (_A1 + z * (_A3 + z * (_A5 + z * (_A7 + z * _A9))))
    return poly + (_LN2 if big else _ZERO)


_T2, _T3, _T4, _T5 = _F(1.0 / 2), _F(1.0 / 6), _F(1.0 / 24), _F(1.0 / 120)
_T6, _T7, _T8 = _F(1.0 / 720), _F(1.0 / 5040), _F(1.0 / 40320)
_TENTH = _F(0.1)


def _expm1_f32(x):
    # |x| < 0.1: Taylor to x^8 (truncation < 3e-13 relative); else exp(x) - 1 (rounding ~6e-8 / 0.095).
    small = x * (_ONE + x * (_T2 + x * (_T3 + x * (_T4 + x * (_T5 + x * (_T6 + x * (_T7 + x * _T8)))))))
    big = exp(x) - _ONE
    return small if abs(x) < _TENTH else big


def _tanh_f32(x):
    # tanh|x| = -expm1(-2|x|) / (2 + expm1(-2|x|)): no cancellation near 0, no overflow for big |x|
    m = expm1(-_TWO * abs(x))
    t = -m / (_TWO + m)
    return t if x >= _ZERO else -t


def _sigmoid_f32(x):
    e = exp(-abs(x))                               # the overload below: _exp_f32 for float32
    r = _ONE / (_ONE + e)
    return r if x >= _ZERO else e * r


@overload(exp, inline="always")
def _ov_exp(x):
    if x == types.float32:
        return _exp_f32
    return lambda x: math.exp(x)


@overload(log1p_unit, inline="always")
def _ov_log1p_unit(e):
    if e == types.float32:
        return _log1p_unit_f32
    return lambda e: math.log1p(e)


@overload(sigmoid, inline="always")
def _ov_sigmoid(x):
    if x == types.float32:
        return _sigmoid_f32

    def impl(x):
        e = math.exp(-abs(x))
        r = 1.0 / (1.0 + e)
        return r if x >= 0 else e * r
    return impl


@overload(expm1)
def _ov_expm1(x):
    if x == types.float32:
        return _expm1_f32
    return lambda x: math.expm1(x)


@overload(tanh)
def _ov_tanh(x):
    if x == types.float32:
        return _tanh_f32
    return lambda x: math.tanh(x)
