"""The per-layer conv benchmark's harness (benchmarks/conv_layers.py): the --quick path writes a table
with one row per (shape, direction), and the shape list read from the models holds the U-Net, DnCNN,
photo U-Net and ConvVAE layers."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import conv_layers  # noqa: E402


def test_quick_run_writes_every_shape_and_direction(tmp_path):
    out = conv_layers.main(["--quick", "--out", str(tmp_path / "conv.md")], log=lambda msg: None)
    text = out.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| 2, ")]
    assert len(rows) == len(conv_layers.QUICK_SHAPES) * len(conv_layers.DIRECTIONS)
    assert "FMA peak" in text and "BLAS:" in text and "torch" not in text.split("| conv")[1].split("\n")[0]
    stride2_data = [r for r in rows if "4/2/1" in r and "data grad" in r]
    assert stride2_data and "| n/a |" in stride2_data[0]                    # no direct stride-2 data gradient
    for r in rows:
        cells = [c.strip() for c in r.strip("|").split("|")]
        assert cells[4] != "n/a" and float(cells[4].split()[0]) > 0          # im2col times every direction


def test_model_shapes_hold_the_unet_and_vae_layers():
    shapes = conv_layers.model_shapes()
    keys = {(e["N"], e["C"], e["O"], e["H"], e["K"], e["S"]) for e in shapes}
    assert (64, 48, 16, 28, 3, 1) in keys                                   # U-Net level-0 concat
    assert (64, 16, 16, 28, 3, 1) in keys                                   # U-Net level 0 and DnCNN body
    assert (32, 32, 32, 48, 3, 1) in keys                                   # photo U-Net width 32
    assert (128, 32, 64, 14, 4, 2) in keys                                  # ConvVAE's second encoder conv
    dncnn_body = next(e for e in shapes if (e["N"], e["C"], e["O"], e["H"]) == (64, 16, 16, 28))
    assert "DnCNN w16 d10" in dncnn_body["models"] and dncnn_body["count"] >= 8
    assert len(keys) == len(shapes)                                          # each shape listed once
