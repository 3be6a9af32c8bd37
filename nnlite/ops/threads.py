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
its ``workqueue`` layer, whose idle workers sleep (see ``nnlite.ops._numba``); then the same step takes
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
    Context manager: ``with nnlite.ops.threads.blas_threads(1): ...`` and the old count comes back after.
``set_policy(policy)``, ``get_policy()``, ``policy(policy)`` (context manager)
    How :func:`matmul` picks threads: ``'auto'`` (default), ``'fixed'`` (the same rule from the shapes
    alone, never the load: bit-reproducible whatever else runs), ``'max'`` (all allowed threads), or an
    int (always that many). ``'adaptive'`` is another name for ``'auto'``. The environment variable
    ``NNLITE_THREADS`` (``auto``, ``fixed``, ``max`` or an int) sets the policy at import.
``threads_for(m, k, n)``
    The thread count the current policy gives an ``(m, k) @ (k, n)`` product.
``matmul(a, b, out=None)``
    ``np.matmul`` with the thread count from :func:`threads_for` (the layers use this).
``blas_info()``
    What threadpoolctl sees (library, version, threads), for bug reports and benchmarks.
``busy()``, ``available_threads()``
    Whether other programs hold cores now, and how many threads that leaves this process.

``parallel_threads()``, ``sync_numba()``
    The thread count the policy gives Numba's ``parallel=True`` kernels (Adam, big elementwise
    passes), and a call that applies it with ``numba.set_num_threads`` (the optimizers call it).

The shape rule (``'auto'`` and ``'fixed'``)
-------------------------------------------
One thread when the product is tiny or degenerate; all allowed threads otherwise::

    threads = 1                      if m * k * n < AUTO_MIN_WORK (1 M multiply-adds)
                                     or min(m, k, n) < AUTO_MIN_DIM (8)
              max_threads            otherwise

where ``max_threads`` is the count in force when nnlite was imported (``OPENBLAS_NUM_THREADS`` /
``OMP_NUM_THREADS`` or the number of cores) or set later by :func:`set_blas_threads`.

The ``'auto'`` policy: the shape rule, capped by the cores other programs leave
-------------------------------------------------------------------------------
A multi-threaded product splits its work and then waits for every part. When another program holds
a core, the part given to a thread that shares that core waits for the scheduler, and every product
stalls (on a 2-core machine with one core taken by ``while True: pass``, ``VAE(latent_dim=20,
hidden=(400,), epochs=1).fit(X)`` on 12,800 images took 1.9x as long with 2 BLAS threads as with 1).
So ``'auto'`` gives a product at most :func:`available_threads` threads:

    available = max(1, round(cores - others))

where ``others`` is the number of cores the *other* processes kept busy over the last
``LOAD_INTERVAL`` seconds (from ``/proc/stat``: the machine's busy time, steal time included, minus
this process's own CPU time), measured again at most every ``LOAD_INTERVAL`` seconds, which costs one
small file read. This process's own threads never count, so using fewer threads does not make the
machine look idle or busy to itself. Where ``/proc/stat`` is missing the 1-minute load average stands
in (busy when it exceeds the cores by ``AUTO_LOAD_MARGIN``). Numba's parallel kernels get the same cap.

Bit reproducibility. OpenBLAS's single-precision products round differently in the last bits on 1
and on 2 threads (measured here for every product shape of the models above ~1 M multiply-adds;
float64 products matched). Under ``'auto'``, a product big enough for 2 threads on an idle machine
runs on 1 while another program holds a core, so two seeded runs of a big model give the same
weights when they meet the same load, and may differ in the last bits when one of them shared the
machine. Small models (every product under ``AUTO_MIN_WORK``, as in the test suite's bit-identity runs)
are never affected. ``set_policy('fixed')`` (or ``NNLITE_THREADS=fixed``) applies the shape rule only:
seeded runs then repeat bit for bit whatever else runs, at the cost of the stalls above on a busy
machine. ``set_policy(1)`` (or ``OPENBLAS_NUM_THREADS=1``) forces one thread and is reproducible too.
``python -m benchmarks --what models`` measures the policies on an idle and on a busy machine.

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

#: Where /proc/stat is missing: busy when the 1-minute load average exceeds the usable cores by this.
AUTO_LOAD_MARGIN = 0.5
#: Seconds between two measurements of the other processes' CPU use (and the span each one covers).
LOAD_INTERVAL = 0.5

_VALID_POLICIES = ("auto", "adaptive", "fixed", "max")
_load_checked = None      # time.monotonic() of the last load measurement
_load_sample = None       # (machine busy seconds, own CPU seconds) at the last measurement
_available = None         # threads the other processes leave, from the last measurement
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

    >>> from nnlite.ops.threads import blas_threads
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
    """The current policy: ``'auto'``, ``'adaptive'``, ``'fixed'``, ``'max'`` or an int."""
    return _policy


def set_policy(policy) -> None:
    """Choose how :func:`matmul` picks threads: ``'auto'``, ``'fixed'``, ``'max'`` or an int >= 1
    (``'adaptive'`` is another name for ``'auto'``)."""
    global _policy
    if isinstance(policy, str):
        if policy not in _VALID_POLICIES:
            raise ValueError(f"unknown BLAS thread policy {policy!r}; valid: 'auto', 'adaptive', 'fixed', 'max' "
                             "or an int >= 1")
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


def _machine_busy_seconds() -> float | None:
    """CPU seconds all cores have spent busy since boot (user, nice, system, irq, softirq, steal), from
    the first line of ``/proc/stat``; ``None`` where it cannot be read."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if len(fields) < 9 or fields[0] != b"cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


def _own_cpu_seconds() -> float:
    """CPU seconds of this process, every thread (OpenBLAS's and Numba's workers included)."""
    return time.process_time()


try:
    _CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
    _CLOCK_TICKS = 100


def _from_load_average() -> int:
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - no load average on this OS
        return _cpu_count()
    return 1 if load > _cpu_count() + AUTO_LOAD_MARGIN else _cpu_count()


def available_threads() -> int:
    """Cores the other processes left free over the last ``LOAD_INTERVAL`` seconds (at least 1).

    ``round(cores - others)``, with ``others`` the machine's busy CPU time minus this process's own,
    per second of wall time; measured again at most every ``LOAD_INTERVAL`` seconds (until the first
    interval has passed, all cores count as free).
    """
    global _load_checked, _load_sample, _available
    now = time.monotonic()
    if _load_checked is not None and now - _load_checked < LOAD_INTERVAL:
        return _available
    machine = _machine_busy_seconds()
    sample = None if machine is None else (machine, _own_cpu_seconds())
    cores = _cpu_count()
    if sample is None:
        _available = _from_load_average()
    elif _load_sample is None or _load_checked is None:
        _available = cores if _available is None else _available
    else:
        wall = now - _load_checked
        others = ((sample[0] - _load_sample[0]) - (sample[1] - _load_sample[1])) / wall
        _available = int(max(1, min(cores, round(cores - max(others, 0.0)))))
    _load_checked, _load_sample = now, sample
    return _available


def busy() -> bool:
    """Whether other processes hold cores this process could use (:func:`available_threads` < cores)."""
    return available_threads() < _cpu_count()


def threads_for(m: int, k: int, n: int) -> int:
    """Threads the current policy gives an ``(m, k) @ (k, n)`` product."""
    if _setters is None:
        _blas_controllers()
    if _policy in ("auto", "adaptive", "fixed"):
        if m * k * n < AUTO_MIN_WORK or min(m, k, n) < AUTO_MIN_DIM:
            return 1
        if _policy != "fixed" and _max_threads > 1:
            return max(1, min(_max_threads, available_threads()))
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
    if _policy in ("auto", "adaptive"):
        return max(1, min(_max_threads, available_threads()))
    if _policy in ("fixed", "max"):
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


def _policy_from_env():
    """``NNLITE_THREADS`` (``auto``, ``adaptive``, ``fixed``, ``max`` or an int >= 1), if set."""
    value = os.environ.get("NNLITE_THREADS", "").strip()
    if not value:
        return
    try:
        set_policy(int(value) if value.isdigit() else value)
    except ValueError as e:
        raise ValueError(f"NNLITE_THREADS={value!r}: {e}") from None


_policy_from_env()
