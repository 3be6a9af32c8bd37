"""The direct conv kernels' tests again with ``NUMBA_DISABLE_JIT=1``: the kernels run as the Python they
are written in, with the NumPy twins of their two intrinsics (the stack buffer and the vector FMA
block), so a bug hidden by compilation, or in the twins, shows up. The shapes of
tests/test_conv_direct.py are small enough for plain Python loops."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="already running without the JIT")
def test_direct_conv_tests_pass_without_jit():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                          str(HERE / "test_conv_direct.py")],
                         cwd=HERE.parent, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert " passed" in res.stdout
