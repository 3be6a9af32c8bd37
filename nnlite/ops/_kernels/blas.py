"""``C += A @ B`` in one BLAS call, for accumulating weight gradients without a temporary.

The Module contract says ``backward`` *adds* ``dL/dW`` into ``W.grad``. With NumPy alone that is
``W.grad += x.T @ dy``: a product into a fresh ``(n_in, n_out)`` array, then a second pass adding it
(for a 784x400 layer: 1.25 MB allocated, written, read and added every step). BLAS ``gemm`` computes
``C = alpha * op(A) @ op(B) + beta * C`` and, with ``beta = 1``, accumulates in place for free. NumPy
does not expose ``beta``, so this module calls the ``cblas_?gemm`` of the BLAS library NumPy itself
loaded (found by threadpoolctl), through ctypes.

:func:`matmul_acc` is the one entry point. It falls back to ``C += A @ B`` in NumPy whenever the direct
call is unavailable (unknown BLAS build, failed self-test at first use, unsupported dtype or strides) or
disabled with ``NNLITE_DIRECT_BLAS=0``. The thread count follows :mod:`nnlite.ops.threads`' policy.

Twin: ``tests/test_kernels_dense.py`` compares it with ``C + A @ B`` (float32/float64, transposed views,
odd shapes) and also runs the NumPy fallback.
"""
from __future__ import annotations

import ctypes
import os

import numpy as np

from .. import threads as _threads

#: The CBLAS enum values (``CblasRowMajor``, ``CblasNoTrans``, ``CblasTrans`` of ``cblas.h``).
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112

#: (single, double, integer type) symbol names tried in order; the "64_" ones are ILP64 builds
#: (NumPy's wheels ship "scipy_openblas64_").
_CANDIDATES = (
    ("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", ctypes.c_int64),
    ("cblas_sgemm64_", "cblas_dgemm64_", ctypes.c_int64),
    ("cblas_sgemm", "cblas_dgemm", ctypes.c_int),
)

_gemm = None      # {np.float32: fn, np.float64: fn} once loaded, {} when unavailable


def _bind(lib, name, scalar, index_type):
    fn = getattr(lib, name)
    I = index_type
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, I, I, I, scalar, ctypes.c_void_p, I,
                   ctypes.c_void_p, I, scalar, ctypes.c_void_p, I]
    fn.restype = None
    return fn


def _load() -> dict:
    if os.environ.get("NNLITE_DIRECT_BLAS", "1") == "0":
        return {}
    try:
        infos = _threads.blas_info()
    except Exception:  # pragma: no cover - threadpoolctl missing or broken
        return {}
    for info in infos:
        path = info.get("filepath")
        if not path:
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:  # pragma: no cover
            continue
        for sname, dname, itype in _CANDIDATES:
            if itype is ctypes.c_int and "64" in os.path.basename(path):
                continue  # an ILP64 library's unsuffixed symbols may take 64-bit ints: do not guess
            try:
                fns = {np.dtype(np.float32): _bind(lib, sname, ctypes.c_float, itype),
                       np.dtype(np.float64): _bind(lib, dname, ctypes.c_double, itype)}
            except AttributeError:
                continue
            if _self_test(fns):
                return fns
    return {}


def _operand(a):
    """(transpose flag, leading dimension) of a 2-D array with one unit stride, or None."""
    isz = a.itemsize
    s0, s1 = a.strides
    rows, cols = a.shape
    if (s1 == isz or cols == 1) and s0 % isz == 0 and s0 // isz >= max(1, cols):
        return _NO_TRANS, s0 // isz
    if (s0 == isz or rows == 1) and s1 % isz == 0 and s1 // isz >= max(1, rows):
        return _TRANS, s1 // isz
    return None


def _call(fn, a, b, c, alpha, beta):
    ta, lda = _operand(a)
    tb, ldb = _operand(b)
    m, k = a.shape
    n = b.shape[1]
    fn(_ROW_MAJOR, ta, tb, m, n, k, alpha, a.ctypes.data, lda, b.ctypes.data, ldb, beta, c.ctypes.data,
       c.strides[0] // c.itemsize)


def _self_test(fns) -> bool:
    rng = np.random.default_rng(0)
    try:
        for dt, fn in fns.items():
            a = rng.standard_normal((7, 5)).astype(dt)
            b = rng.standard_normal((3, 7)).astype(dt)      # use b.T: a transposed operand
            c = rng.standard_normal((5, 3)).astype(dt)
            want = c + a.T @ b.T
            _call(fn, a.T, b.T, c, 1.0, 1.0)
            if not np.allclose(c, want, rtol=1e-4, atol=1e-5):
                return False
    except Exception:  # pragma: no cover - any ABI surprise disables the direct path
        return False
    return True


def direct_available() -> bool:
    """Whether :func:`matmul_acc` uses the direct ``cblas_?gemm`` call (else the NumPy fallback)."""
    global _gemm
    if _gemm is None:
        _gemm = _load()
    return bool(_gemm)


def matmul_acc(c: np.ndarray, a: np.ndarray, b: np.ndarray, force_numpy: bool = False,
               overwrite: bool = False) -> np.ndarray:
    """``c += a @ b`` in place (``c[...] = a @ b`` if ``overwrite``) and return ``c``.

    ``a`` ``(m, k)`` and ``b`` ``(k, n)`` may be transposed views (``x.T``); ``c`` ``(m, n)`` must be
    C-contiguous; all three of one float dtype for the direct BLAS path (otherwise NumPy does it).
    """
    global _gemm
    if _gemm is None:
        _gemm = _load()
    m, k = a.shape
    n = b.shape[1]
    fn = _gemm.get(c.dtype) if not force_numpy else None
    if (fn is not None and a.dtype == c.dtype and b.dtype == c.dtype and c.flags.c_contiguous
            and m > 0 and n > 0 and k > 0 and _operand(a) is not None and _operand(b) is not None):
        _threads._apply(_threads.threads_for(m, k, n))
        _call(fn, a, b, c, 1.0, 0.0 if overwrite else 1.0)
        return c
    if overwrite:
        _threads.matmul(a, b, out=c)
    else:
        c += _threads.matmul(a, b)
    return c
