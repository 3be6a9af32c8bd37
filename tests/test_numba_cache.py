"""Numba's on-disk cache must give every compiled variant of a kernel its own entry.

Numba files a cached compile under the function's module and qualified name (and line), keyed by the
argument types only, not by the compile flags. When nnlite compiled ``_adam`` both serially and with
``parallel=True`` from one Python function, the two dispatchers shared one cache entry, so the "serial"
kernel ran whichever compile was saved last: a 400-element bias update woke the thread pool and took
about 100 us instead of 1 us. ``nnlite.ops._numba.cache_alias`` gives each variant its own name; these
tests keep it that way.
"""
import importlib
import pkgutil

import numba
import numpy as np
import pytest
from numba.core.registry import CPUDispatcher

import nnlite.ops._kernels
from nnlite.ops import _numba


def _kernel_dispatchers():
    found = []
    for info in pkgutil.iter_modules(nnlite.ops._kernels.__path__):
        mod = importlib.import_module(f"nnlite.ops._kernels.{info.name}")
        for name, obj in vars(mod).items():
            if isinstance(obj, CPUDispatcher):
                found.append((f"{info.name}.{name}", obj))
    return found


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="NUMBA_DISABLE_JIT=1: no dispatchers, nothing is cached")
def test_every_cached_kernel_variant_has_its_own_cache_name():
    dispatchers = _kernel_dispatchers()
    assert len(dispatchers) >= 20                       # the dense, conv and optimizer kernels were found
    by_cache_name = {}
    for label, d in dispatchers:
        if not d.targetoptions.get("cache", False) and d._cache.__class__.__name__ == "NullCache":
            continue
        key = (d.py_func.__module__, d.py_func.__qualname__, d.py_func.__code__.co_firstlineno)
        by_cache_name.setdefault(key, []).append((label, dict(d.targetoptions)))
    shared = {k: v for k, v in by_cache_name.items()
              if len({tuple(sorted((a, str(b)) for a, b in opts.items())) for _, opts in v}) > 1}
    assert not shared, f"kernel variants with different flags share a Numba cache entry: {shared}"


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="NUMBA_DISABLE_JIT=1: no dispatchers, nothing is cached")
def test_serial_and_parallel_adam_are_different_compiles():
    from nnlite.ops._kernels.optim import _adam_parallel, _adam_serial

    assert not _adam_serial.targetoptions.get("parallel")
    assert _adam_parallel.targetoptions.get("parallel")
    assert _adam_serial.py_func.__qualname__ != _adam_parallel.py_func.__qualname__
    # same Python code, so the same update
    args = (1e-3, 0.9, 0.999, 1e-8, 0.1, 0.001, 0.0, False)
    rng = np.random.default_rng(0)
    a = [rng.random(1000).astype(np.float32) for _ in range(4)]
    b = [x.copy() for x in a]
    _adam_serial(*a, *args)
    _adam_parallel(*b, *args)
    np.testing.assert_array_equal(a[0], b[0])


def test_cache_alias_runs_the_same_code_under_another_name():
    def twice(x):
        return 2 * x

    alias = _numba.cache_alias(twice, "parallel")
    assert alias.__qualname__.endswith("twice__parallel") and alias(21) == 42
    assert alias.__code__ is twice.__code__


def test_flags_tag_is_a_stable_identifier():
    assert _numba._flags_tag({"error_model": "numpy"}) == "error_model_numpy"
    assert _numba._flags_tag({"fastmath": {"reassoc", "contract"}, "inline": "always"}) == \
        "fastmath_contract_reassoc_inline_always"
