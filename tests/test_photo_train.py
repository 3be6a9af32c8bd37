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


RECIPE = ["--fresh-patches", "--no-batch-norm", "--unshuffle", "2", "--noise-map", "--sigma-weighting", "0.05",
          "--loss", "l1", "--init", "orthogonal"]


def test_the_recipe_with_fresh_patches_is_reproducible_and_recorded(data_root, tmp_path):
    out1 = _run(data_root, tmp_path / "a", "--channels", "rgb", *RECIPE)
    _run(data_root, tmp_path / "b", "--channels", "rgb", *RECIPE)
    _run(data_root, tmp_path / "c", "--channels", "rgb", *RECIPE[1:])      # the same recipe, patches reused
    assert "new every epoch" in out1
    m = {k: json.loads((tmp_path / k / "MANIFEST.json").read_text())["photo-denoiser-rgb"] for k in "abc"}
    assert m["a"]["weights_sha256"] == m["b"]["weights_sha256"]
    assert m["a"]["weights_sha256"] != m["c"]["weights_sha256"]             # epoch 2 trained on other patches
    assert m["a"]["fresh_patches"] is True and "fresh_patches" not in m["c"]
    assert m["a"]["recipe"] == {"batch_norm": False, "unshuffle": 2, "noise_map": True, "sigma_weighting": 0.05,
                                "loss": "l1", "init": "orthogonal"}
    model = restore_model(tmp_path / "a" / "photo-denoiser-rgb.npz")
    assert model.noise_map and model.unshuffle == 2 and model.loss == "l1" and not model.batch_norm
    assert model.denoise(np.full((20, 30, 3), 0.5, np.float32), noise_level=0.1).shape == (20, 30, 3)


def test_the_default_manifest_entry_names_no_recipe(data_root, tmp_path):
    _run(data_root, tmp_path, "--channels", "rgb", "--steps", "2")
    entry = json.loads((tmp_path / "MANIFEST.json").read_text())["photo-denoiser-rgb"]
    assert "recipe" not in entry and "fresh_patches" not in entry


def test_fresh_patches_refill_the_buffer_fit_trains_on():
    photos = [np.random.default_rng(i).random((30, 40, 3), dtype=np.float32) for i in range(3)]
    args = photo_train.parse_args(["--patch", "8", "--seed", "3", "--fresh-patches"])
    first = photo_train.epoch_patches(photos, args, 1, 5)
    assert first.shape == (5, 3, 8, 8) and first.flags.c_contiguous
    np.testing.assert_array_equal(first, photo_train.epoch_patches(photos, args, 1, 5))   # any epoch, drawn again
    buffer = first.copy()
    refill = photo_train.FreshPatches(photos, args, buffer)
    refill.on_epoch_begin(None, 1)
    np.testing.assert_array_equal(buffer, first)                            # epoch 1 keeps the first draw
    refill.on_epoch_begin(None, 2)
    np.testing.assert_array_equal(buffer, photo_train.epoch_patches(photos, args, 2, 5))
    assert not np.array_equal(buffer, first)


@pytest.mark.parametrize("bad", [["--unshuffle", "0"], ["--sigma-weighting", "0"], ["--minutes", "-1"],
                                 ["--loss", "l3"]])
def test_bad_recipe_flags_exit_with_a_message(bad):
    with pytest.raises(SystemExit):
        photo_train.parse_args(bad)
