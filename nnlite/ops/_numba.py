"""One place for Numba's compiler flags (as stumpy and umap do).

Every kernel in nnlite is a plain private function jitted with :func:`njit` below, so ``kernel.py_func``
stays reachable for tests, and ``NUMBA_DISABLE_JIT=1`` runs all of them as ordinary Python.
``cache=True`` keeps the compiled machine code in ``__pycache__`` so only the first run pays the compile.
"""
from __future__ import annotations

import os
import types

import numba

#: Numba's threading layer for ``parallel=True`` kernels. nnlite picks ``'workqueue'`` unless the user
#: set ``NUMBA_THREADING_LAYER``. Why: NumPy's OpenBLAS keeps its own worker threads, and the OpenMP
#: layer's workers spin after each parallel loop, so the two pools fight over the cores. Measured on a
#: 2-core machine (VAE 784-400-20 training step, BLAS on 2 threads, median of 200 steps): 8.0 ms with
#: the OpenMP layer, 4.3-4.5 ms with workqueue, whose idle workers sleep. Workqueue's limit: a parallel
#: kernel must not be launched from two Python threads at once (Numba aborts); nnlite itself never does,
#: but if you call nnlite from several threads, set ``NUMBA_THREADING_LAYER=omp`` (or ``tbb``).
THREADING_LAYER = os.environ.get("NUMBA_THREADING_LAYER") or "workqueue"
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = THREADING_LAYER

#: Flags for serial kernels. fastmath stays off by default (no reordering or approximate math: gradients
#: must match their float64 twins to 1e-7); a kernel may opt into ``fastmath={'contract'}`` (fused
#: multiply-add, one rounding instead of two) or ``'reassoc'`` for a vectorized sum, and says why.
JIT_FLAGS = dict(cache=True, nogil=True, fastmath=False)

#: Flags for kernels that split work over cores with ``numba.prange``.
PARALLEL_FLAGS = dict(JIT_FLAGS, parallel=True)

prange = numba.prange


def cache_alias(fn, tag: str):
    """A copy of ``fn`` (same code, globals and closure) whose ``__qualname__`` ends in ``__tag``.

    Numba's on-disk cache files an entry under the function's module, qualified name and line, keyed by
    the argument types only, **not by the compile flags**. Two dispatchers built from one function, say a
    serial and a ``parallel=True`` compile of ``_adam``, would share one entry, and each would load
    whichever the other saved last: a serial call on a 400-element bias then woke the thread pool
    (about 100 us instead of 1 us) and a parallel one ran on one core. Giving each variant its own
    qualified name gives it its own cache file. ``alias.py_func`` still runs the same Python code.
    """
    alias = types.FunctionType(fn.__code__, fn.__globals__, f"{fn.__name__}__{tag}", fn.__defaults__,
                               fn.__closure__)
    alias.__qualname__ = f"{fn.__qualname__}__{tag}"
    alias.__doc__, alias.__module__ = fn.__doc__, fn.__module__
    return alias


def njit(fn, **flags):
    """``numba.njit`` with :data:`JIT_FLAGS` (overridable); variants with extra flags get their own cache."""
    if flags:
        fn = cache_alias(fn, _flags_tag(flags))
    return numba.njit(**dict(JIT_FLAGS, **flags))(fn)


def njit_parallel(fn, **flags):
    """``numba.njit`` with :data:`PARALLEL_FLAGS`; cached apart from the serial compile of ``fn``."""
    tag = "_".join(["parallel"] + ([_flags_tag(flags)] if flags else []))
    return numba.njit(**dict(PARALLEL_FLAGS, **flags))(cache_alias(fn, tag))


def _flags_tag(flags) -> str:
    """A stable identifier for a set of extra flags, e.g. ``{'error_model': 'numpy'}`` -> ``error_model_numpy``."""
    parts = []
    for k in sorted(flags):
        v = flags[k]
        if isinstance(v, (set, frozenset)):
            v = "_".join(sorted(v))
        elif isinstance(v, dict):
            v = "_".join(f"{a}_{b}" for a, b in sorted(v.items()))
        parts.append(f"{k}_{v}")
    return "".join(c if c.isalnum() or c == "_" else "_" for c in "_".join(parts))
