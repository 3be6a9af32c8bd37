"""benchmarks.photo_train: the same command gives the same weights bit for bit, and the manifest says how.

Runs the script as the shipped weights are made (a subprocess, one thread), for a few steps of a tiny
network on tiny stand-ins for the shared photos (every name of benchmarks.photo_data, 40-64 pixels).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks import photo_data, photo_train
from nnlite.models.persistence import restore_model

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--steps", "4", "--epoch-steps", "2", "--patch", "16", "--batch", "4", "--width", "4", "--depth", "2"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    names = {**photo_data.HELD_OUT, **photo_data.TRAIN_GREY, **{n: "photos-nature" for n in photo_data.EXCLUDED}}
    for i, (name, folder) in enumerate(names.items()):
        (root / folder).mkdir(exist_ok=True)
        h, w = 40 + i % 3 * 12, 64 - i % 2 * 20
        pixels = rng.integers(0, 256, (h, w) if name in photo_data.GREY_ONLY else (h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / folder / name)
    return root


def _run(data_root, out, *extra):
    env = dict(os.environ, NNLITE_DATA=str(data_root))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.photo_train", *TINY, "--out", str(out), *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_two_runs_give_identical_weights_and_a_full_manifest(data_root, tmp_path):
    out1 = _run(data_root, tmp_path / "a", "--channels", "rgb")
    _run(data_root, tmp_path / "b", "--channels", "rgb")
    assert "epoch 2/2" in out1 and "held-out" in out1
    m1 = json.loads((tmp_path / "a" / "MANIFEST.json").read_text())["photo-denoiser-rgb"]
    m2 = json.loads((tmp_path / "b" / "MANIFEST.json").read_text())["photo-denoiser-rgb"]
    assert m1["weights_sha256"] == m2["weights_sha256"]
    a = restore_model(tmp_path / "a" / "photo-denoiser-rgb.npz")
    b = restore_model(tmp_path / "b" / "photo-denoiser-rgb.npz")
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
    assert photo_train.weights_digest(a) == m1["weights_sha256"]
    assert m1["file"] == "photo-denoiser-rgb.npz" and m1["seed"] == 0 and m1["steps"] == 4 and m1["patch"] == 16
    assert m1["command"] == "python -m benchmarks.photo_train " + " ".join(TINY) + f" --out {tmp_path / 'a'} " \
                                                                                   "--channels rgb"
    assert m1["train_seconds"] > 0 and set(m1["held_out_psnr"]) == {"0.1", "0.2"}
    assert all(np.isfinite(v) for v in m1["held_out_psnr"].values())
    import hashlib

    assert m1["sha256"] == hashlib.sha256((tmp_path / "a" / "photo-denoiser-rgb.npz").read_bytes()).hexdigest()
    assert a.noise_level == [0.0, 0.25] and a.n_channels_ == 3 and a.width == 4


def test_the_grey_run_merges_into_the_manifest(data_root, tmp_path):
    _run(data_root, tmp_path, "--channels", "rgb", "--steps", "2")
    _run(data_root, tmp_path, "--channels", "grey", "--steps", "2")
    manifest = json.loads((tmp_path / "MANIFEST.json").read_text())
    assert set(manifest) == {"photo-denoiser-rgb", "photo-denoiser-grey"}
    grey = restore_model(tmp_path / "photo-denoiser-grey.npz")
    assert grey.n_channels_ == 1 and grey.denoise(np.full((20, 30), 0.5, np.float32)).shape == (20, 30)


def test_schedule_rounds_the_steps_up_to_whole_epochs():
    assert photo_train.schedule(12000, 300) == (40, 300)
    assert photo_train.schedule(1000, 300) == (4, 250)
    assert photo_train.schedule(1001, 300) == (4, 251)
    assert photo_train.schedule(5, 300) == (1, 5)
