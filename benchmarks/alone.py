"""nnlite and PyTorch timed alone: each in its own long-lived process, taking turns in short blocks.

Why not the same process: PyTorch's OpenMP threads and NumPy's OpenBLAS threads are two pools on the same
cores, and whichever ran last keeps spinning for a while, so in one process each implementation is slowed
by the other's threads. Why not one fresh process per implementation, one after the other: this machine is
shared, and its speed drifts by tens of percent over seconds (the same nnlite step measured in nine
consecutive processes: 5.2 to 9.6 ms), so a ratio of two runs made a minute apart measures the drift as
much as the code.

So :func:`run_rounds` starts one worker process per implementation (``python -m benchmarks.alone``), warms
each up, then runs ``rounds`` rounds. In a round every worker times one block of consecutive steps, in a
new random order, each block after an untimed pause that lets the previous worker's threads go idle (and
one untimed step that wakes the worker's own). Neighbouring blocks see the same machine, so the ratio of
their medians, **per round**, cancels most of the drift; its median and spread over the rounds are what
``python -m benchmarks`` reports next to the pooled medians.

nnlite's worker can also time the step's matrix products alone (``matmul_only``, same shapes and thread
policy) as a third "implementation": the floor the step is compared with, measured without any PyTorch
thread on the machine.

Protocol (one line each way): the worker prints ``ready`` after its warm-up; then for each
``<kind> <count>`` line (kind ``step`` or ``mm``) it prints a JSON list of ``count`` step times in seconds;
a line ``quit`` (or end of input) ends it.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

#: Labels of the three kinds of block a round can hold.
NNLITE, NNLITE_MM, TORCH = "nnlite", "nnlite matmuls only", "torch"


class Worker:
    """One implementation of one step in its own process."""

    def __init__(self, impl: str, name: str, x_path: str, warmup: int):
        cmd = [sys.executable, "-m", "benchmarks.alone", impl, name, x_path, str(warmup)]
        self.label = f"{impl} {name}"
        # stderr to a file, not a pipe: a worker printing warnings every step would fill a pipe nobody
        # reads until an error, and block
        self._err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._err, text=True)
        self._expect_ready()

    def _expect_ready(self):
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            why = self._stderr()
            self.proc.kill()
            raise RuntimeError(f"benchmark worker {self.label} did not start: {line!r}\n{why}")

    def _stderr(self) -> str:
        try:
            self.proc.wait(timeout=5)                # it failed: let it finish writing why
        except subprocess.TimeoutExpired:
            pass
        self._err.seek(0)
        return self._err.read()[-2000:]

    def time(self, kind: str, count: int) -> np.ndarray:
        self.proc.stdin.write(f"{kind} {count}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark worker {self.label} died:\n{self._stderr()}")
        return np.array(json.loads(line))

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
        self.proc.stdout.close()
        self._err.close()


def run_rounds(name: str, x: np.ndarray, rounds: int, block: int, warmup: int, pause: float,
               torch: bool = True, matmuls: bool = True, seed: int = 0) -> dict:
    """Time ``name``'s step in worker processes, ``rounds`` rounds of one block of ``block`` steps each.

    Returns ``{"times": {kind: all step times}, "rounds": [{kind: median of that round's block}, ...]}``
    with kinds among :data:`NNLITE`, :data:`NNLITE_MM` (when ``matmuls``) and :data:`TORCH` (when
    ``torch``).
    """
    kinds = [(NNLITE, "nnlite", "step")]
    if matmuls:
        kinds.append((NNLITE_MM, "nnlite", "mm"))
    if torch:
        kinds.append((TORCH, "torch", "step"))
    order_rng = np.random.default_rng(seed)
    times = {k: [] for k, _, _ in kinds}
    per_round = []
    with tempfile.TemporaryDirectory(prefix="nnlite-bench-") as tmp:
        x_path = os.path.join(tmp, "x.npy")
        np.save(x_path, x)
        workers = {}
        try:
            for impl in dict.fromkeys(impl for _, impl, _ in kinds):
                workers[impl] = Worker(impl, name, x_path, warmup)
            for _ in range(rounds):
                medians = {}
                for i in order_rng.permutation(len(kinds)):
                    kind, impl, what = kinds[i]
                    time.sleep(pause)
                    t = workers[impl].time(what, block)
                    times[kind].append(t)
                    medians[kind] = float(np.median(t))
                per_round.append(medians)
        finally:
            for w in workers.values():
                w.close()
    return {"times": {k: np.concatenate(v) for k, v in times.items()}, "rounds": per_round}


def paired_ratios(rounds: list[dict], num: str, den: str) -> np.ndarray:
    """Per-round ratio of medians ``num / den`` (rounds where both ran)."""
    return np.array([r[num] / r[den] for r in rounds if num in r and den in r])


# ----------------------------------------------------------------------------------------------- worker
def _worker(impl: str, name: str, x_path: str, warmup: int):
    sys.path.insert(0, str(ROOT))
    x = np.load(x_path)
    if impl == "torch":
        from benchmarks import reference_torch as mod
    else:
        from benchmarks import steps as mod
    s = mod.STEPS[name](x, dtype=x.dtype)
    runs = {"step": s.step, "mm": getattr(s, "matmul_only", None)}
    for _ in range(warmup):
        s.step()
        if runs["mm"] is not None:
            runs["mm"]()
    gc.collect()
    gc.disable()
    print("ready", flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] == "quit":
            break
        fn = runs.get(parts[0])
        if fn is None or len(parts) != 2:
            raise SystemExit(f"benchmark worker: bad request {line.strip()!r}: expected 'step N', 'mm N' "
                             f"or 'quit' ({impl} {name} has matmul_only: {runs['mm'] is not None})")
        fn()                                     # untimed: wakes this process's thread pools after the pause
        out = []
        for _ in range(int(parts[1])):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m benchmarks.alone", description="one benchmark worker "
                                "(started by python -m benchmarks; reads requests on stdin)")
    p.add_argument("impl", choices=["nnlite", "torch"])
    p.add_argument("name", choices=["vae", "mlp_dae", "conv_dae"])
    p.add_argument("x_path", help=".npy file holding the batch")
    p.add_argument("warmup", type=int)
    a = p.parse_args()
    _worker(a.impl, a.name, a.x_path, a.warmup)
