"""A run killed with SIGKILL mid-epoch and resumed from its last checkpoint ends bit-identical to an
uninterrupted run. Real subprocesses, a real kill (POSIX only)."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnlite
from nnlite.checkpoint import read_checkpoint

WORKER = Path(__file__).with_name("_resume_kill_worker.py")

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX-only")


def _run(out, *args):
    proc = subprocess.run([sys.executable, str(WORKER), str(out), *args], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path):
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    _run(clean, "--epochs", "6")

    # Start the slow run, wait until the epoch-2 checkpoint is on disk and epoch 3 is 4 steps in, kill.
    proc = subprocess.Popen([sys.executable, str(WORKER), str(killed), "--epochs", "6", "--slow", "0.02"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line.strip())
            if line.strip() == "batch 3 4":
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, seen[-5:], proc.stderr.read())
    assert "saved 2" in seen and "saved 3" not in seen
    assert not (killed / "final.npz").exists()
    ck = read_checkpoint(killed / "checkpoint.npz")
    assert ck.epoch == 2 and not ck.mid_epoch and len(ck.history["loss"]) == 2

    out = _run(killed, "--epochs", "6", "--resume")
    assert out.splitlines()[0] == "batch 3 1", "resume must start at the first step of epoch 3"
    assert out.splitlines()[-1] == "done 6 78"  # 6 epochs x 13 steps, counters restored
    a, b = np.load(clean / "final.npz"), np.load(killed / "final.npz")
    assert sorted(a.files) == sorted(b.files)
    for k in a.files:
        assert np.array_equal(a[k], b[k]), f"{k} differs after kill+resume: max |diff| {np.abs(a[k] - b[k]).max()}"
    # and the histories agree on every loss value (samples_per_s is a timing, not compared)
    h1 = read_checkpoint(clean / "checkpoint.npz").history
    h2 = read_checkpoint(killed / "checkpoint.npz").history
    assert h1["loss"] == h2["loss"]
    assert not list(killed.glob(".*.tmp")), "stale temporary files must be cleaned up by the next save"
