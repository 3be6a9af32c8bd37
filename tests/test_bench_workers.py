"""The benchmarks' own-process workers (``benchmarks.timing``, as the step tables use them in
``benchmarks.alone``): the request protocol, the turns and the per-round ratios. Nothing here times anything against a threshold: a benchmark is never a pass/fail test."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import alone, timing  # noqa: E402


def test_rounds_give_one_block_per_kind_per_round():
    x = np.random.default_rng(0).random((16, 784)).astype(np.float32)
    res = alone.run_rounds("vae", x, rounds=3, block=2, warmup=1, pause=0.0, torch=False)
    assert set(res["times"]) == {alone.NNLITE, alone.NNLITE_MM}
    for kind, t in res["times"].items():
        assert t.shape == (3 * 2,) and np.all(t > 0), kind
    assert len(res["rounds"]) == 3
    assert all(set(r) == {alone.NNLITE, alone.NNLITE_MM} for r in res["rounds"])
    ratios = timing.paired_ratios(res["rounds"], alone.NNLITE, alone.NNLITE_MM)
    want = [r[alone.NNLITE] / r[alone.NNLITE_MM] for r in res["rounds"]]
    np.testing.assert_allclose(ratios, want)


def test_paired_ratios_skip_rounds_missing_a_kind():
    rounds = [{"a": 2.0, "b": 4.0}, {"a": 3.0}, {"a": 9.0, "b": 3.0}]
    np.testing.assert_allclose(timing.paired_ratios(rounds, "a", "b"), [0.5, 3.0])


def test_worker_rejects_a_bad_request(tmp_path):
    x_path = tmp_path / "x.npy"
    np.save(x_path, np.zeros((4, 784), np.float32))
    w = alone.start("nnlite", "mlp_dae", str(x_path), warmup=0)
    try:
        with pytest.raises(RuntimeError, match="bad request .*'run': 'steps'"):
            alone.time_block(w, "steps", 2)
        assert alone.time_block(w, "step", 2).shape == (2,)       # the worker lives on after a bad request
    finally:
        w.close()


def test_worker_that_cannot_start_says_why(tmp_path):
    with pytest.raises(RuntimeError, match="did not start"):
        alone.start("nnlite", "vae", str(tmp_path / "missing.npy"), warmup=0)


def test_take_turns_calls_every_label_once_per_round_in_a_new_order():
    calls = []
    turns = {k: (lambda r, k=k: calls.append((r, k)) or f"{k}{r}") for k in "abc"}
    seen = []
    out = timing.take_turns(turns, rounds=4, pause=0.0, rng=np.random.default_rng(0),
                            on_round=lambda r, this: seen.append((r, this)))
    assert out == {k: [f"{k}{r}" for r in range(4)] for k in "abc"}
    assert [sorted(k for r, k in calls if r == i) for i in range(4)] == [list("abc")] * 4
    assert len({tuple(k for r, k in calls if r == i) for i in range(4)}) > 1      # the order changes
    assert [r for r, _ in seen] == [0, 1, 2, 3] and seen[2][1] == {"a": "a2", "b": "b2", "c": "c2"}
