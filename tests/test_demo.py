"""Smoke test of ``python -m nnlite demo`` (quick mode: short trainings, every figure written)."""
import numpy as np
import pytest

from nnlite.cli import build_parser, main
from nnlite.demo import nearest_glyph, recovery_stats

FIGURES = ["font_reconstructions", "font_latent", "font_latent_grid", "font_loss", "dae_examples", "dae_recovery",
           "emoji_training_set", "emoji_reconstructions", "emoji_latent_traversal", "emoji_latent_traversal_codes",
           "emoji_latent", "emoji_curves", "emoji_samples"]


def test_demo_quick_writes_every_figure(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--quick"]) == 0
    out = capsys.readouterr().out
    for name in FIGURES:
        path = tmp_path / f"{name}.png"
        assert path.is_file() and path.stat().st_size > 5000, name
        assert str(path) in out
    assert "nearest-glyph bound" in out


def test_cli_requires_a_command():
    with pytest.raises(SystemExit):
        build_parser().parse_args([])
    args = build_parser().parse_args(["demo"])
    assert args.out == "out" and args.seed == 0 and not args.quick


def test_nearest_glyph_ties_are_random_and_exact_matches_win():
    G = np.array([[0, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1]], dtype=float)
    assert nearest_glyph(G, G).tolist() == [0, 1, 2]
    tie = np.array([[1, 0, 1, 0]] * 4000, dtype=float)     # distance 2 from all three glyphs
    counts = np.bincount(nearest_glyph(tie, G, rng=0), minlength=3) / 4000
    assert np.all(np.abs(counts - 1 / 3) < 5 * np.sqrt(2 / 9 / 4000))
    assert nearest_glyph(np.array([[0.9, 0.8, 0.1, 0.0]]), G, metric="euclidean").tolist() == [1]


def test_recovery_stats_of_a_perfect_and_a_useless_denoiser():
    G = np.array([[1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1],
                  [1, 1, 0, 0, 1, 1, 0, 0], [0, 0, 1, 1, 0, 0, 1, 1]], dtype=float)
    # The noiseless channel: identity is perfect, and so is the bound.
    s = recovery_stats(lambda A: A, G, "bit_flip", 0.0, n_samples=500)
    assert s["rate"] == s["bound_rate"] == 1.0 and s["wrong"] == s["noisy_wrong"] == 0.0
    # Passing noisy inputs through untouched: mean wrong pixels = p * 8.
    s = recovery_stats(lambda A: A, G, "bit_flip", 0.25, n_samples=20000, random_state=1)
    assert abs(s["wrong"] - 2.0) < 5 * np.sqrt(8 * 0.25 * 0.75 / 20000)
    assert s["wrong"] == s["noisy_wrong"] and s["bound_rate"] > s["rate"]
