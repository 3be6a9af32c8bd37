"""benchmarks.photo_ablations --quick: every run of the table trains and is measured, on tiny synthetic
photos (the pipeline, not the numbers: the real ablation is a long run of its own)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks import photo_ablations, photo_data

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    names = {**photo_data.HELD_OUT, **photo_data.TRAIN_GREY, **{n: "photos-nature" for n in photo_data.EXCLUDED}}
    for name, folder in names.items():
        (root / folder).mkdir(exist_ok=True)
        pixels = rng.integers(0, 256, (32, 40) if name in photo_data.GREY_ONLY else (32, 40, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / folder / name)
    return root


def test_quick_ablation_writes_every_pair(data_root, tmp_path):
    out = tmp_path / "ablations.md"
    env = dict(os.environ, NNLITE_DATA=str(data_root))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.photo_ablations", "--quick", "--results", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = out.read_text()
    assert "--quick: a pipeline check" in text
    for what, _, _ in photo_ablations.PAIRS:
        assert what in text
    runs = json.loads(out.with_suffix(".json").read_text())["runs"]
    assert set(runs) == set(photo_ablations.CONFIGS)
    for name, r in runs.items():
        assert set(r["held_out_psnr"]) == {"0.05", "0.1", "0.15", "0.2"}
        assert all(np.isfinite(v) for v in r["held_out_psnr"].values()), name
        assert r["planned_steps"] == 3 and r["steps"] == 4       # rounded up to 2 epochs of 2 steps
    assert "--no-batch-norm" not in runs["batchnorm"]["argv"] and "--no-batch-norm" in runs["base"]["argv"]
    assert runs["unshuffle"]["argv"][:len(photo_ablations.BASE) + 1] == photo_ablations.BASE + ["--unshuffle"]


def test_configs_differ_from_the_base_by_one_option():
    base = photo_ablations.config_argv("base", [])
    for name, flags in photo_ablations.CONFIGS.items():
        argv = photo_ablations.config_argv(name, [])
        if flags is None:                                   # BatchNorm: the base without --no-batch-norm
            assert argv + ["--no-batch-norm"] == base, name
        else:                                               # one flag (and its value) added
            assert argv == base + flags and len(flags) <= 2, name
