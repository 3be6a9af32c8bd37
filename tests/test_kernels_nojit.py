"""The kernel tests again with ``NUMBA_DISABLE_JIT=1``: every kernel runs as the plain Python it is written
in, so coverage tools see its lines and a bug hidden by compilation (or by a float32-only fast path)
shows up. Runs the kernel tests (dense, conv and pooling, batch norm, the optimizers' Adam kernel, the
register-blocked direct conv kernels with NumPy twins of their intrinsics) and the fast-against-reference
op tests, each group in its own subprocess; their shapes are small enough for plain Python loops."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
#: Group name -> the test files it runs without the JIT.
KERNEL_TESTS = {
    "kernels-and-ops": ("test_kernels_dense.py", "test_conv_kernels.py", "test_norm_kernels.py", "test_optim.py",
                        "test_ops_dense.py", "test_ops_conv.py"),
    "direct-conv": ("test_conv_direct.py",),
}


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="already running without the JIT")
@pytest.mark.parametrize("group", list(KERNEL_TESTS))
def test_kernel_tests_pass_without_jit(group):
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                          *(str(HERE / name) for name in KERNEL_TESTS[group])],
                         cwd=HERE.parent, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert " passed" in res.stdout
