"""One place for Numba's compiler flags (as stumpy and umap do).

Every kernel in nnlite is a plain private function jitted with :func:`njit` below, so ``kernel.py_func``
stays reachable for tests, and ``NUMBA_DISABLE_JIT=1`` runs all of them as ordinary Python.
``cache=True`` keeps the compiled machine code in ``__pycache__`` so only the first run pays the compile.
"""
from __future__ import annotations

import functools

import numba

#: Flags for serial kernels. fastmath stays off: gradients must match their float64 twins to 1e-7.
JIT_FLAGS = dict(cache=True, nogil=True, fastmath=False)

#: Flags for kernels that split work over cores with ``numba.prange``.
PARALLEL_FLAGS = dict(JIT_FLAGS, parallel=True)

njit = functools.partial(numba.njit, **JIT_FLAGS)
njit_parallel = functools.partial(numba.njit, **PARALLEL_FLAGS)
prange = numba.prange
