"""The step tables' own-process rows: nnlite and PyTorch each time one training step in its own process.

:func:`run_rounds` starts one worker per implementation (``python -m benchmarks.alone worker``, the
shared harness of :mod:`benchmarks.timing`), warms each up, then runs ``rounds`` rounds; in a round
every worker times one block of consecutive steps, in a new random order, each block after an untimed
pause (and one untimed step that wakes the worker's own thread pools). The ratio of two neighbouring
blocks' medians, **per round**, cancels most of the machine's drift; its median and spread over the
rounds are what ``python -m benchmarks`` reports next to the pooled medians.

nnlite's worker can also time the step's matrix products alone (``matmul_only``, same shapes and thread
policy) as a third "implementation": the floor the step is compared with, measured without any PyTorch
thread on the machine.

A request is ``{"run": "step" | "mm", "count": N}``; the reply is ``{"times": [N step times in s]}``.
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time

import numpy as np

from benchmarks.timing import ROOT, Worker, serve, take_turns

#: Labels of the three kinds of block a round can hold.
NNLITE, NNLITE_MM, TORCH = "nnlite", "nnlite matmuls only", "torch"


def start(impl: str, name: str, x_path: str, warmup: int) -> Worker:
    """A worker timing ``impl``'s (``'nnlite'`` or ``'torch'``) step ``name`` on the batch saved at ``x_path``."""
    return Worker(["benchmarks.alone", "worker", impl, name, x_path, str(warmup)], f"{impl} {name}")


def time_block(worker: Worker, what: str, count: int) -> np.ndarray:
    """``count`` consecutive step times (``what`` is ``'step'`` or ``'mm'``), in seconds."""
    reply = worker.request(run=what, count=count)
    if "error" in reply:
        raise RuntimeError(f"benchmark worker {worker.label}: {reply['error']}")
    return np.array(reply["times"])


def run_rounds(name: str, x: np.ndarray, rounds: int, block: int, warmup: int, pause: float,
               torch: bool = True, matmuls: bool = True, seed: int = 0) -> dict:
    """Time ``name``'s step in worker processes, ``rounds`` rounds of one block of ``block`` steps each.

    Returns ``{"times": {kind: all step times}, "rounds": [{kind: median of that round's block}, ...]}``
    with kinds among :data:`NNLITE`, :data:`NNLITE_MM` (when ``matmuls``) and :data:`TORCH` (when
    ``torch``).
    """
    kinds = {NNLITE: ("nnlite", "step")}
    if matmuls:
        kinds[NNLITE_MM] = ("nnlite", "mm")
    if torch:
        kinds[TORCH] = ("torch", "step")
    with tempfile.TemporaryDirectory(prefix="nnlite-bench-") as tmp:
        x_path = os.path.join(tmp, "x.npy")
        np.save(x_path, x)
        workers = {}
        try:
            for impl in dict.fromkeys(impl for impl, _ in kinds.values()):
                workers[impl] = start(impl, name, x_path, warmup)
            turns = {kind: (lambda r, impl=impl, what=what: time_block(workers[impl], what, block))
                     for kind, (impl, what) in kinds.items()}
            times = take_turns(turns, rounds, pause, np.random.default_rng(seed))
        finally:
            for w in workers.values():
                w.close()
    per_round = [{k: float(np.median(t[r])) for k, t in times.items()} for r in range(rounds)]
    return {"times": {k: np.concatenate(v) for k, v in times.items()}, "rounds": per_round}


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

    def handle(req):
        fn = runs.get(req.get("run"))
        if fn is None or not isinstance(req.get("count"), int):
            raise ValueError(f"bad request {req!r}: expected run 'step' or 'mm' and an int count "
                             f"({impl} {name} has matmul_only: {runs['mm'] is not None})")
        fn()                                     # untimed: wakes this process's thread pools after the pause
        out = []
        for _ in range(req["count"]):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
        return {"times": out}

    serve(handle)


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m benchmarks.alone", description="one benchmark worker "
                                "(started by python -m benchmarks; reads requests on stdin)")
    p.add_argument("role", choices=["worker"])
    p.add_argument("impl", choices=["nnlite", "torch"])
    p.add_argument("name", choices=["vae", "mlp_dae", "conv_dae"])
    p.add_argument("x_path", help=".npy file holding the batch")
    p.add_argument("warmup", type=int)
    a = p.parse_args()
    _worker(a.impl, a.name, a.x_path, a.warmup)
