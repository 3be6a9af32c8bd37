"""The benchmark's own-process workers (``benchmarks.alone``): the request protocol and the per-round
ratios. Nothing here times anything against a threshold: a benchmark is never a pass/fail test."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import alone  # noqa: E402


def test_rounds_give_one_block_per_kind_per_round():
    x = np.random.default_rng(0).random((16, 784)).astype(np.float32)
    res = alone.run_rounds("vae", x, rounds=3, block=2, warmup=1, pause=0.0, torch=False)
    assert set(res["times"]) == {alone.NNLITE, alone.NNLITE_MM}
    for kind, t in res["times"].items():
        assert t.shape == (3 * 2,) and np.all(t > 0), kind
    assert len(res["rounds"]) == 3
    assert all(set(r) == {alone.NNLITE, alone.NNLITE_MM} for r in res["rounds"])
    ratios = alone.paired_ratios(res["rounds"], alone.NNLITE, alone.NNLITE_MM)
    want = [r[alone.NNLITE] / r[alone.NNLITE_MM] for r in res["rounds"]]
    np.testing.assert_allclose(ratios, want)


def test_paired_ratios_skip_rounds_missing_a_kind():
    rounds = [{"a": 2.0, "b": 4.0}, {"a": 3.0}, {"a": 9.0, "b": 3.0}]
    np.testing.assert_allclose(alone.paired_ratios(rounds, "a", "b"), [0.5, 3.0])


def test_worker_rejects_a_bad_request(tmp_path):
    x_path = tmp_path / "x.npy"
    np.save(x_path, np.zeros((4, 784), np.float32))
    w = alone.Worker("nnlite", "mlp_dae", str(x_path), warmup=0)
    try:
        with pytest.raises(RuntimeError, match="bad request 'steps 2'"):
            w.time("steps", 2)
    finally:
        w.close()


def test_worker_that_cannot_start_says_why(tmp_path):
    with pytest.raises(RuntimeError, match="did not start"):
        alone.Worker("nnlite", "vae", str(tmp_path / "missing.npy"), warmup=0)
