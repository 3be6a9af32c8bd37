"""nnlite.threads: BLAS/Numba thread control and the per-product 'auto' policy (no timings here)."""
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
    monkeypatch.setattr(threads, "busy", lambda: False)
    threads._max_threads = 2
    threads.set_policy("auto")
    assert threads.threads_for(128, 32, 128) == 1             # 0.5 M multiply-adds: one thread
    assert threads.threads_for(128, 20, 400) == 2             # 1.02 M: 2 threads tie or win (measured)
    assert threads.threads_for(128, 784, 400) == 2            # 40 M multiply-adds
    assert threads.threads_for(4096, 4, 4096) == 1            # big but degenerate (k < 8)
    monkeypatch.setattr(threads, "busy", lambda: True)        # 'auto' ignores the load: reproducible bits
    assert threads.threads_for(128, 784, 400) == 2
    assert threads.parallel_threads() == 2


def test_adaptive_policy_drops_to_one_thread_when_busy(monkeypatch):
    threads._max_threads = 2
    with threads.policy("adaptive"):
        monkeypatch.setattr(threads, "busy", lambda: False)
        assert threads.threads_for(128, 784, 400) == 2 and threads.threads_for(128, 32, 128) == 1
        monkeypatch.setattr(threads, "busy", lambda: True)    # oversubscribed machine: one thread
        assert threads.threads_for(128, 784, 400) == 1 and threads.parallel_threads() == 1


def test_fixed_and_max_policies(monkeypatch):
    monkeypatch.setattr(threads, "busy", lambda: True)
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
    with pytest.raises(ValueError, match="valid: 'auto', 'adaptive', 'max' or an int >= 1"):
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

    from nnlite import _numba
    from nnlite._kernels.optim import _adam_parallel

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
