"""nnlite.ops.threads: BLAS/Numba thread control and the per-product 'auto' policy (no timings here)."""
import numba
import numpy as np
import pytest

from nnlite import threads


@pytest.fixture(autouse=True)
def restore_threads():
    before, policy = threads.get_blas_threads(), threads.get_policy()
    max_before = threads._max_threads
    yield
    threads.set_policy(policy)
    threads._max_threads = max_before
    threads._apply(before)
    threads.sync_numba()


def test_blas_info_describes_a_blas_library():
    info = threads.blas_info()
    assert info and all("internal_api" in lib and "num_threads" in lib for lib in info)


def test_set_and_get_blas_threads_round_trip():
    threads.set_blas_threads(1)
    assert threads.get_blas_threads() == 1
    assert threads.threads_for(4096, 4096, 4096) == 1        # 'auto' never exceeds the set maximum


def test_blas_threads_context_manager_limits_then_restores():
    before = threads.get_blas_threads()
    with threads.blas_threads(1) as n:
        assert n == 1
        assert threads.get_blas_threads() == 1
        assert threads.threads_for(4096, 4096, 4096) == 1
    assert threads.get_blas_threads() == before
    assert threads.get_policy() == "auto"


def test_auto_policy_one_thread_for_tiny_or_degenerate_products(monkeypatch):
    monkeypatch.setattr(threads, "available_threads", lambda: 2)
    threads._max_threads = 2
    threads.set_policy("auto")
    assert threads.threads_for(128, 32, 128) == 1             # 0.5 M multiply-adds: one thread
    assert threads.threads_for(128, 20, 400) == 2             # 1.02 M: 2 threads tie or win (measured)
    assert threads.threads_for(128, 784, 400) == 2            # 40 M multiply-adds
    assert threads.threads_for(4096, 4, 4096) == 1            # big but degenerate (k < 8)
    assert threads.parallel_threads() == 2


def test_auto_policy_drops_to_the_threads_other_programs_leave(monkeypatch):
    threads._max_threads = 2
    for name in ("auto", "adaptive"):                         # 'adaptive' is another name for 'auto'
        with threads.policy(name):
            monkeypatch.setattr(threads, "available_threads", lambda: 2)
            assert threads.threads_for(128, 784, 400) == 2 and threads.threads_for(128, 32, 128) == 1
            monkeypatch.setattr(threads, "available_threads", lambda: 1)    # one core taken elsewhere
            assert threads.threads_for(128, 784, 400) == 1 and threads.parallel_threads() == 1
    threads._max_threads = 4
    monkeypatch.setattr(threads, "available_threads", lambda: 3)
    with threads.policy("auto"):
        assert threads.threads_for(1024, 1024, 1024) == 3     # capped by the free cores, not all-or-one


def test_fixed_policy_ignores_the_load(monkeypatch):
    """'fixed' is the shape rule alone: the thread count, hence the float rounding, never depends on
    what else runs."""
    monkeypatch.setattr(threads, "available_threads", lambda: 1)
    threads._max_threads = 2
    with threads.policy("fixed"):
        assert threads.threads_for(128, 784, 400) == 2 and threads.threads_for(128, 32, 128) == 1
        assert threads.parallel_threads() == 2


class _FakeMachine:
    """Fake /proc/stat and process-time readings: ``cores`` cores, ``others`` of them kept busy by other
    programs and ``own`` by this process, advancing with a fake clock."""

    def __init__(self, monkeypatch, cores=2):
        self.t, self.machine, self.own = 100.0, 5000.0, 10.0
        self.others_rate, self.own_rate, self.readable = 0.0, 1.0, True
        monkeypatch.setattr(threads.time, "monotonic", lambda: self.t)
        monkeypatch.setattr(threads, "_machine_busy_seconds", lambda: self.machine if self.readable else None)
        monkeypatch.setattr(threads, "_own_cpu_seconds", lambda: self.own)
        monkeypatch.setattr(threads, "_cpu_count", lambda: cores)
        monkeypatch.setattr(threads, "_load_checked", None)
        monkeypatch.setattr(threads, "_load_sample", None)
        monkeypatch.setattr(threads, "_available", None)

    def advance(self, seconds):
        self.t += seconds
        self.own += self.own_rate * seconds
        self.machine += (self.own_rate + self.others_rate) * seconds


def test_available_threads_subtracts_only_other_processes(monkeypatch):
    m = _FakeMachine(monkeypatch)
    assert threads.available_threads() == 2                   # no interval measured yet: all cores free
    m.own_rate = 2.0                                          # this process alone keeps both cores busy
    m.advance(0.6)
    assert threads.available_threads() == 2 and not threads.busy()
    m.own_rate, m.others_rate = 1.0, 1.0                      # a spin loop elsewhere takes a core
    m.advance(0.6)
    assert threads.available_threads() == 1 and threads.busy()
    m.others_rate = 0.4                                       # a light background load leaves 2 cores
    m.advance(0.6)
    assert threads.available_threads() == 2
    m.others_rate = 5.0                                       # more load than cores: still at least 1
    m.advance(0.6)
    assert threads.available_threads() == 1


def test_available_threads_measures_at_most_every_interval(monkeypatch):
    m = _FakeMachine(monkeypatch)
    threads.available_threads()
    m.others_rate = 1.0
    m.advance(threads.LOAD_INTERVAL / 2)
    assert threads.available_threads() == 2                   # the cached reading, no new measurement
    m.advance(threads.LOAD_INTERVAL)
    assert threads.available_threads() == 1


def test_available_threads_falls_back_to_the_load_average(monkeypatch):
    m = _FakeMachine(monkeypatch)
    m.readable = False                                        # no /proc/stat (not Linux)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (3.0, 3.0, 3.0))
    assert threads.available_threads() == 1                   # load 3 on 2 cores: busy
    m.advance(1.0)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    assert threads.available_threads() == 2


def test_nnlite_threads_environment_variable_sets_the_policy(monkeypatch):
    for value, want in (("fixed", "fixed"), ("1", 1), ("max", "max")):
        monkeypatch.setenv("NNLITE_THREADS", value)
        threads._policy_from_env()
        assert threads.get_policy() == want
    monkeypatch.setenv("NNLITE_THREADS", "fast")
    with pytest.raises(ValueError, match="NNLITE_THREADS='fast': unknown BLAS thread policy"):
        threads._policy_from_env()


def test_fixed_and_max_policies(monkeypatch):
    monkeypatch.setattr(threads, "available_threads", lambda: 1)
    threads._max_threads = 2
    threads.set_policy("max")
    assert threads.threads_for(128, 20, 400) == 2 and threads.parallel_threads() == 2
    with threads.policy(1):
        assert threads.threads_for(4096, 4096, 4096) == 1 and threads.parallel_threads() == 1
    assert threads.get_policy() == "max"


def test_sync_numba_applies_the_policy():
    with threads.policy(1):
        assert threads.sync_numba() == 1
        assert numba.get_num_threads() == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, "two", True])
def test_invalid_counts_and_policies_are_rejected(bad):
    with pytest.raises(ValueError, match="must be an int >= 1|unknown BLAS thread policy"):
        threads.set_policy(bad)
    if not isinstance(bad, str):
        with pytest.raises(ValueError, match=r"n must be an int >= 1 \(number of BLAS threads\)"):
            threads.set_blas_threads(bad)
    with pytest.raises(ValueError, match="valid: 'auto', 'adaptive', 'fixed', 'max' or an int >= 1"):
        threads.set_policy("fast")


def test_matmul_equals_numpy_and_fills_out(rng):
    a = rng.standard_normal((7, 33)).astype(np.float32)
    b = rng.standard_normal((33, 5)).astype(np.float32)
    out = np.empty((7, 5), np.float32)
    assert threads.matmul(a, b, out=out) is out
    np.testing.assert_allclose(out, a @ b, rtol=1e-6)
    np.testing.assert_allclose(threads.matmul(a, b.T.copy().T), a @ b, rtol=1e-6)


def test_numba_runs_on_the_threading_layer_nnlite_chose():
    """nnlite picks Numba's 'workqueue' layer (idle workers sleep instead of spinning against OpenBLAS's
    threads) unless the user set NUMBA_THREADING_LAYER; the first parallel kernel must then run on it."""
    import os

    from nnlite.ops import _numba
    from nnlite.ops._kernels.optim import _adam_parallel

    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        pytest.skip("NUMBA_DISABLE_JIT=1: kernels run as Python, no threading layer is loaded")
    p = np.zeros(8, np.float32)
    g = np.ones(8, np.float32)
    _adam_parallel(p, g, np.zeros(8, np.float32), np.zeros(8, np.float32),
                   1e-3, 0.9, 0.999, 1e-8, 0.1, 0.001, 0.0, False)
    expected = os.environ.get("NUMBA_THREADING_LAYER") or "workqueue"
    assert _numba.THREADING_LAYER == expected
    assert numba.threading_layer() == expected
    assert np.all(p < 0)                                        # the step moved against the gradient
