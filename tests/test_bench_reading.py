"""benchmarks/reading.py: the code a reader walks through under ``nnlite.use("reference")`` stays within
its budget (lines of the functions entered, files), and it is the reference ops that run."""
import pytest

from benchmarks import reading


@pytest.mark.parametrize("name", list(reading.MEASUREMENTS))
def test_reading_stays_within_its_budget(name):
    result = reading.measure(name)
    max_lines, max_files = reading.BUDGETS[name]
    assert len(result["files"]) <= max_files and result["lines"] <= max_lines, reading.report(name, result)


def test_the_vae_step_reads_the_reference_ops_and_nothing_of_the_fast_backend():
    result = reading.measure("VAE 784-400-20 training step, batch 128")
    entered = {f"{path}:{fn}" for path, fns in result["files"].items() for fn in fns}
    for op in ("dense_forward", "dense_backward", "bce_with_logits", "gaussian_sample_kl",
               "gaussian_sample_kl_backward", "adam_update"):
        assert f"nnlite/ops/reference.py:{op}" in entered, sorted(entered)
    assert "nnlite/models/vae.py:VAE._elbo_step" in entered
    assert not [p for p in result["files"] if p.startswith(("nnlite/ops/fast", "nnlite/ops/_", "nnlite/ops/threads"))]


def test_the_budget_check_fails_a_step_over_budget(monkeypatch):
    monkeypatch.setitem(reading.BUDGETS, "VAE 784-400-20 training step, batch 128", (10, 5))
    monkeypatch.setattr(reading, "MEASUREMENTS", {"VAE 784-400-20 training step, batch 128": reading.vae_step})
    assert reading.main([]) == 1
