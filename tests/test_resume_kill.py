"""A run killed with SIGKILL mid-epoch and resumed from its last checkpoint ends bit-identical to an
uninterrupted run. Real subprocesses, a real kill (POSIX only)."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

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


def test_cli_train_killed_and_resumed_matches_an_uninterrupted_run(tmp_path):
    """The same through the command line: ``nnlite train ... --resume`` after a SIGKILL at a random moment."""
    import json
    import time

    env = dict(os.environ)
    env.pop("NNLITE_DATA", None)
    args = [sys.executable, "-m", "nnlite", "train", "ae", "--data", "font5x7", "--hidden", "16", "--latent-dim", "2",
            "--batch-size", "8", "--epochs", "60", "--checkpoint-steps", "6", "--threads", "1"]
    clean = subprocess.run(args + ["--out", "clean"], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
    assert clean.returncode == 0, clean.stderr

    proc = subprocess.Popen(args + ["--out", "killed"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    sidecar = tmp_path / "killed" / "checkpoint.json"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if json.loads(sidecar.read_text())["trainer"]["epoch"] >= 8:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.005)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    ck = read_checkpoint(tmp_path / "killed" / "checkpoint.npz")  # whatever moment the kill hit: readable
    assert 8 <= ck.epoch < 60

    resumed = subprocess.run(args + ["--out", "killed", "--resume"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    where = f"in epoch {ck.epoch + 1}" if ck.mid_epoch else f"after epoch {ck.epoch}"
    assert f"resumed {where} (step {ck.global_step})" in resumed.stdout
    a = read_checkpoint(tmp_path / "clean" / "checkpoint.npz")
    b = read_checkpoint(tmp_path / "killed" / "checkpoint.npz")
    assert a.epoch == b.epoch == 60 and a.global_step == b.global_step == 240
    for k in a.model_state:
        assert np.array_equal(a.model_state[k], b.model_state[k]), k
    assert a.history["loss"] == b.history["loss"]
