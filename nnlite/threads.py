"""BLAS thread control: how many threads NumPy's matrix products may use, per product.

Why it matters. nnlite does every matrix product with NumPy's BLAS (OpenBLAS in the NumPy wheels) and
everything around it with Numba. A BLAS library splits one product over all cores, which pays off for
big products but not for tiny ones, where waking and synchronising a second thread costs more than the
work. So nnlite chooses the thread count **per product** from its shape.

Two thread pools, one pair of cores. OpenBLAS keeps worker threads, and so does Numba for its
``parallel=True`` kernels. If the Numba workers spin while OpenBLAS wants the cores (Numba's OpenMP
layer does, after every parallel loop), each multi-threaded product waits for a descheduled partner:
on a 2-core machine a VAE training step took 8.0 ms with 2 BLAS threads against 5.7 ms with 1, and a
skinny ``(128, 20) @ (20, 400)`` product looked 4x slower on 2 threads. nnlite therefore runs Numba on
its ``workqueue`` layer, whose idle workers sleep (see ``nnlite._numba``); then the same step takes
4.3-4.5 ms on 2 threads, and 2 threads win or tie on every product above about a million
multiply-adds (median of 300 calls each, 2-core AMD EPYC Zen 3 machine)::

    product (m, k, n)      1 thread   2 threads
    128 x 784 x 400         895 us     502 us
    128 x 400 x 40           50 us      28 us
    128 x 20 x 400           31 us      29 us
    128 x 40 x 400           76 us      79 us
    128 x 32 x 128           21 us      35 us     (0.5 M multiply-adds: one thread)

Public API
----------
``get_blas_threads()``, ``set_blas_threads(n)``
    Read / set the BLAS thread count for the whole process (all BLAS libraries threadpoolctl finds).
``blas_threads(n)``
    Context manager: ``with nnlite.threads.blas_threads(1): ...`` and the old count comes back after.
``set_policy(policy)``, ``get_policy()``, ``policy(policy)`` (context manager)
    How :func:`matmul` picks threads: ``'auto'`` (default), ``'max'`` (all allowed threads), or an int
    (always that many).
``threads_for(m, k, n)``
    The thread count the current policy gives an ``(m, k) @ (k, n)`` product.
``matmul(a, b, out=None)``
    ``np.matmul`` with the thread count from :func:`threads_for` (the layers use this).
``blas_info()``
    What threadpoolctl sees (library, version, threads), for bug reports and benchmarks.

``parallel_threads()``, ``sync_numba()``
    The thread count the policy gives Numba's ``parallel=True`` kernels (Adam, big elementwise
    passes), and a call that applies it with ``numba.set_num_threads`` (the optimizers call it).

The ``'auto'`` policy
---------------------
One thread when the product is tiny or degenerate; all allowed threads otherwise::

    threads = 1                      if m * k * n < AUTO_MIN_WORK (1 M multiply-adds)
                                     or min(m, k, n) < AUTO_MIN_DIM (8)
              max_threads            otherwise

The choice depends on the shapes only, never on the machine's state, so two runs with the same seed
give bit-identical weights (a product split over 1 or 2 threads rounds differently in the last bits).

The ``'adaptive'`` policy (opt-in, **not** bit-reproducible)
-----------------------------------------------------------
As ``'auto'``, and also one thread for every product and Numba kernel while ``busy()``
where ``max_threads`` is the count in force when nnlite was imported (``OPENBLAS_NUM_THREADS`` /
``OMP_NUM_THREADS`` or the number of cores) or set later by :func:`set_blas_threads`, and ``busy()`` is
true when the 1-minute load average exceeds the usable cores by more than ``AUTO_LOAD_MARGIN`` (checked
at most every 2 s): then other programs hold the cores, a second thread mostly waits for a core, and
a multi-threaded product or ``prange`` loop stalls at every synchronisation until its descheduled
partner runs again (measured on a shared 2-core machine at load 5: a VAE step took 84 ms with 2 BLAS
threads and 42 ms with 1). Because the load changes during a run, the thread count and so the last
bits of the results do too: use it for speed on a shared machine, not where a seeded run must repeat
exactly. ``set_policy('max')`` uses every thread; ``set_policy(1)`` (or ``OPENBLAS_NUM_THREADS=1``)
forces one thread. ``python -m benchmarks`` measures them.

Changing the count costs a ctypes call (< 1 microsecond), done only when it differs from the last one.
Code outside nnlite that calls NumPy's ``@`` afterwards runs with whatever count nnlite set last; wrap
it in ``blas_threads(n)`` if that matters.
"""
from __future__ import annotations

import contextlib
import os
import time

import numpy as np

#: Products with fewer multiply-adds than this run on one thread under the 'auto' policy.
AUTO_MIN_WORK = 1_000_000
#: Products with a dimension below this run on one thread under the 'auto' policy (degenerate products).
AUTO_MIN_DIM = 8

#: 'auto' treats the machine as busy when the 1-minute load average exceeds the usable cores by this.
AUTO_LOAD_MARGIN = 0.5

_VALID_POLICIES = ("auto", "adaptive", "max")
_load_checked = -1e9      # time.monotonic() of the last load check
_busy = False
_numba_current = None

_controller = None        # threadpoolctl.ThreadpoolController, created lazily (it scans loaded libraries)
_setters = None           # list of bound set_num_threads of the BLAS library controllers
_current = None           # last count we set (None: unknown)
_max_threads = None       # the count 'max' and 'auto' use for big products
_policy = "auto"


def _blas_controllers():
    global _controller, _setters, _max_threads, _current
    if _setters is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
        libs = _controller.select(user_api="blas").lib_controllers
        _setters = [lib.set_num_threads for lib in libs]
        counts = [lib.num_threads for lib in libs]
        _max_threads = max(counts) if counts else 1
        _current = _max_threads
    return _controller, _setters


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def blas_info() -> list[dict]:
    """threadpoolctl's description of every BLAS library in the process (name, version, threads, path)."""
    ctl, _ = _blas_controllers()
    return [dict(lib.info()) for lib in ctl.select(user_api="blas").lib_controllers]


def get_blas_threads() -> int:
    """The BLAS thread count in force now (the maximum over the BLAS libraries found)."""
    ctl, _ = _blas_controllers()
    counts = [lib.num_threads for lib in ctl.select(user_api="blas").lib_controllers]
    return max(counts) if counts else 1


def _check_count(n, name="n"):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be an int >= 1 (number of BLAS threads), got {n!r}")
    return int(n)


def _apply(n: int):
    """Set the BLAS thread count if it differs from the last one we set (cheap, no library scan)."""
    global _current
    if n != _current:
        _, setters = _blas_controllers()
        for s in setters:
            s(n)
        _current = n


def set_blas_threads(n: int) -> None:
    """Set the BLAS thread count of the process; it also becomes the count 'auto' uses for big products."""
    global _max_threads
    n = _check_count(n)
    _blas_controllers()
    _max_threads = n
    _apply(n)


@contextlib.contextmanager
def blas_threads(n: int):
    """Context manager limiting BLAS to ``n`` threads (for every product, whatever the policy).

    >>> from nnlite.threads import blas_threads
    >>> with blas_threads(1):
    ...     pass  # every matrix product in here runs on one thread
    """
    global _max_threads, _current
    n = _check_count(n)
    _blas_controllers()
    saved_max, saved_policy, saved_count = _max_threads, _policy, get_blas_threads()
    try:
        _max_threads = n
        set_policy(n)
        _apply(n)
        yield n
    finally:
        _max_threads = saved_max
        set_policy(saved_policy)
        _current = None                     # the count in force before, whatever set it
        _apply(saved_count)


def get_policy():
    """The current policy: ``'auto'``, ``'max'`` or an int."""
    return _policy


def set_policy(policy) -> None:
    """Choose how :func:`matmul` picks threads: ``'auto'``, ``'max'`` or a fixed int >= 1."""
    global _policy
    if isinstance(policy, str):
        if policy not in _VALID_POLICIES:
            raise ValueError(f"unknown BLAS thread policy {policy!r}; valid: 'auto', 'adaptive', 'max' or an int >= 1")
        _policy = policy
    else:
        _policy = _check_count(policy, "policy")


@contextlib.contextmanager
def policy(p):
    """Context manager form of :func:`set_policy`."""
    saved = _policy
    set_policy(p)
    try:
        yield p
    finally:
        set_policy(saved)


def busy() -> bool:
    """Whether the 1-minute load average exceeds the usable cores by ``AUTO_LOAD_MARGIN`` (cached 2 s)."""
    global _load_checked, _busy
    now = time.monotonic()
    if now - _load_checked > 2.0:
        _load_checked = now
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # pragma: no cover - no load average on this OS
            load = 0.0
        _busy = load > _cpu_count() + AUTO_LOAD_MARGIN
    return _busy


def threads_for(m: int, k: int, n: int) -> int:
    """Threads the current policy gives an ``(m, k) @ (k, n)`` product."""
    if _setters is None:
        _blas_controllers()
    if _policy in ("auto", "adaptive"):
        if m * k * n < AUTO_MIN_WORK or min(m, k, n) < AUTO_MIN_DIM:
            return 1
        if _policy == "adaptive" and busy():
            return 1
        return _max_threads
    if _policy == "max":
        return _max_threads
    return _policy


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for 2-D arrays (into ``out`` when given) with the thread count of :func:`threads_for`."""
    _apply(threads_for(a.shape[0], a.shape[1], b.shape[1]))
    return np.matmul(a, b, out=out)


def cpu_count() -> int:
    """Cores this process may run on (its CPU affinity)."""
    return _cpu_count()


def parallel_threads() -> int:
    """Threads the current policy gives Numba's ``parallel=True`` kernels."""
    if _setters is None:
        _blas_controllers()
    if _policy == "adaptive":
        return 1 if busy() else max(_max_threads, 1)
    if _policy == "auto":
        return max(_max_threads, 1)
    if _policy == "max":
        return max(_max_threads, 1)
    return _policy


def sync_numba() -> int:
    """Apply :func:`parallel_threads` with ``numba.set_num_threads`` (if it changed); returns the count."""
    global _numba_current
    n = parallel_threads()
    if n != _numba_current:
        import numba

        from . import _numba  # noqa: F401  (chooses Numba's threading layer before its first launch)

        numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
        _numba_current = n
    return n
