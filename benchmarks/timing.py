"""Timing helpers every benchmark shares: interleaved runs, one-call timers, the BLAS peak.

``interleave`` runs several implementations of the same work in one process, step by step, in a new
random order each round, so a burst of load from another program hits all of them alike. The
own-process protocol (each implementation in its own long-lived process, taking turns) is in
:mod:`benchmarks.alone`.
"""
from __future__ import annotations

import gc
import time
from collections.abc import Callable

import numpy as np


def timeit(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn()`` takes (wall clock)."""
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def blas_peak(dtype, n: int = 1024, reps: int = 5) -> dict:
    """Best GFLOP/s of an ``n x n x n`` product at 1 thread and at the default thread count."""
    from nnlite import threads

    a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    out = np.empty_like(a)
    res = {}
    for label, count in (("1 thread", 1), ("max threads", threads.cpu_count())):
        with threads.blas_threads(count):
            np.matmul(a, a, out=out)
            best = min(timeit(lambda: np.matmul(a, a, out=out)) for _ in range(reps))
        res[label] = 2 * n ** 3 / best / 1e9
    return res


def interleave(impls: list[tuple[str, Callable, Callable]], steps: int, warmup: int, gap: float) -> dict:
    """Run ``[(label, setup, step), ...]`` interleaved, in a new random order each round; returns
    label -> array of step seconds (``setup`` and the ``gap`` seconds of sleep before each step are
    not timed)."""
    times = {label: [] for label, _, _ in impls}
    gc_was = gc.isenabled()
    gc.disable()
    try:
        order_rng = np.random.default_rng(12345)
        for r in range(warmup + steps):
            # a new random order every round: whatever runs right after PyTorch meets its OpenMP threads
            # still spinning on the cores (and PyTorch meets OpenBLAS's), so no implementation may always
            # sit in the same seat (rotating a fixed order would keep the same neighbours)
            for i in order_rng.permutation(len(impls)):
                label, setup, step = impls[i]
                setup()
                if gap:
                    time.sleep(gap)
                t = time.perf_counter()
                step()
                dt = time.perf_counter() - t
                if r >= warmup:
                    times[label].append(dt)
            if r % 50 == 0:
                gc.collect()
    finally:
        if gc_was:
            gc.enable()
    return {k: np.array(v) for k, v in times.items()}


def interleave_calls(impls: dict, reps: int, warmup: int, gap: float) -> dict:
    """``{label: fn}`` timed by :func:`interleave` (no setup between calls)."""
    return interleave([(label, lambda: None, fn) for label, fn in impls.items()], reps, warmup, gap)
