"""The one timing harness of the benchmarks: interleaved runs, own-process workers taking turns, the BLAS peak.

Two ways to time several implementations of the same work on a shared machine:

* :func:`interleave` runs them in **one process**, step by step, in a new random order each round, so a
  burst of load from another program hits all of them alike;
* :class:`Worker` runs each in **its own long-lived process** (PyTorch's OpenMP threads and NumPy's
  OpenBLAS threads are two pools on the same cores, and in one process whichever ran last keeps
  spinning and slows the other), and :func:`take_turns` has them take turns in rounds, each turn in a
  new random order after an untimed pause that lets the previous worker's threads go idle. The
  machine's speed drifts by tens of percent over seconds, so a ratio of two separate runs made a minute
  apart measures the drift as much as the code; neighbouring turns see the same machine, so the ratio
  **per round** cancels most of it (:func:`paired_ratios`).

A worker is ``python -m <module> worker ...`` calling :func:`serve`: one JSON request per line on its
stdin, one JSON reply per line on its stdout, ``{"ready": true, "info": ...}`` first.
"""
from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


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


# ------------------------------------------------------------------------------------- own-process workers
class Worker:
    """One implementation in its own long-lived process, ``python -m <args...>``, which calls :func:`serve`."""

    def __init__(self, args: list[str], label: str, env: dict | None = None):
        self.label = label
        # stderr to a file, not a pipe: a worker printing warnings every step would fill a pipe nobody
        # reads until an error, and block
        self._err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._err, text=True, env=env)
        reply = self._read()
        if not reply or not reply.get("ready"):
            why = self._stderr()
            self.proc.kill()
            raise RuntimeError(f"benchmark worker {label} did not start: {reply!r}\n{why}")
        self.info = reply.get("info") or {}

    def _read(self):
        line = self.proc.stdout.readline()
        try:
            return json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            return {"garbled": line}

    def _stderr(self) -> str:
        try:
            self.proc.wait(timeout=5)                # it failed: let it finish writing why
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._err.seek(0)
        return self._err.read()[-3000:]

    def request(self, **req) -> dict:
        """Send ``req``, return the reply (``{"error": ..., "traceback": ...}`` when the worker's handler
        raised; the worker lives on)."""
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        reply = self._read()
        if reply is None:
            raise RuntimeError(f"benchmark worker {self.label} died:\n{self._stderr()}")
        return reply

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"quit": True}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self._err.close()


def serve(handle: Callable[[dict], dict], info: dict | None = None):
    """The worker's loop: ``ready`` with ``info``, then ``handle(request)`` for each request line until
    ``{"quit": true}`` or the end of input. An exception in ``handle`` is replied as ``{"error",
    "traceback"}``: the parent decides what it means."""
    print(json.dumps({"ready": True, "info": info or {}}, default=str), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("quit"):
            break
        try:
            out = handle(req)
        except Exception as e:  # noqa: BLE001 - reported to the parent, which decides
            out = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-3000:]}
        print(json.dumps(out, default=str), flush=True)


def take_turns(turns: dict[str, Callable[[int], object]], rounds: int, pause: float, rng,
               on_round: Callable[[int, dict], None] | None = None) -> dict[str, list]:
    """``rounds`` rounds; in each, every ``turns[label](round)`` once, in a new random order, each after
    ``pause`` untimed seconds. Returns label -> the list of what its calls returned, round by round;
    ``on_round(round, {label: this round's value})`` is called after each round."""
    out = {label: [] for label in turns}
    labels = list(turns)
    for r in range(rounds):
        this = {}
        for i in rng.permutation(len(labels)):
            time.sleep(pause)
            this[labels[i]] = turns[labels[i]](r)
            out[labels[i]].append(this[labels[i]])
        if on_round is not None:
            on_round(r, this)
    return out


def paired_ratios(rounds: list[dict], num: str, den: str) -> np.ndarray:
    """Per-round ratio ``num / den`` of ``[{label: value of that round}, ...]`` (rounds where both ran)."""
    return np.array([r[num] / r[den] for r in rounds if num in r and den in r])
