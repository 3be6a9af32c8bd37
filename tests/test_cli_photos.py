"""``nnlite train unet --data FOLDER --patch ... --noise-level LOW:HIGH --val FOLDER2``: a photo denoiser
from a folder of photos of different sizes, with held-out PSNR per epoch (small synthetic photos)."""
import json

import numpy as np
import pytest
from PIL import Image

from nnlite.checkpoint import read_checkpoint
from nnlite.cli import main


def _photos(folder, sizes, seed):
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i, (h, w) in enumerate(sizes):
        yy, xx = np.mgrid[0:h, 0:w]
        base = 0.5 + 0.3 * np.sin(xx / 5 + i)[..., None] * np.cos(yy / 7)[..., None] * rng.uniform(0.5, 1, 3)
        Image.fromarray((np.clip(base, 0, 1) * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    return _photos(root / "train", [(40, 52), (64, 30), (33, 33)], 0), _photos(root / "held", [(30, 40), (24, 24)], 1)


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_train_on_patches_with_a_noise_range_and_held_out_psnr(folders, tmp_path, capsys):
    train, held = folders
    code, out, err = _run(capsys, "train", "unet", "--data", train, "--patch", 16, "--patches", 48, "--noise",
                          "gaussian", "--noise-level", "0:0.25", "--val", held, "--width", 4, "--depth", 2,
                          "--epochs", 2, "--batch-size", 16, "--out", tmp_path / "run")
    assert code == 0, err
    assert "sampling 48 patches of 16x16 from 3 photos" in out
    assert out.count("held-out PSNR sigma 0.1") == 2 and "sigma 0.2" in out
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(hist["val_psnr_0.1"]) == 2 and len(hist["val_psnr_0.2"]) == 2
    assert all(np.isfinite(hist["val_psnr_0.2"]))
    ck = read_checkpoint(tmp_path / "run" / "checkpoint.npz")
    cfg = ck.config["config"]
    assert cfg["noise_level"] == [0.0, 0.25] and cfg["width"] == 4 and cfg["depth"] == 2
    assert ck.extra["patch"] == 16 and ck.extra["patches"] == 48 and ck.extra["image_shape"] == [16, 16, 3]
    assert ck.global_step == 6                      # 48 patches / 16 = 3 steps, 2 epochs
    assert ck.history["val_psnr_0.1"] == hist["val_psnr_0.1"]
    assert (tmp_path / "run" / "denoising.png").exists()


def test_resume_keeps_the_held_out_psnr(folders, tmp_path, capsys):
    train, held = folders
    args = ["train", "unet", "--data", train, "--patch", 16, "--patches", 32, "--noise", "gaussian", "--noise-level",
            "0:0.25", "--val", held, "--width", 4, "--depth", 2, "--batch-size", 16]
    assert _run(capsys, *args, "--epochs", 2, "--out", tmp_path / "full")[0] == 0
    assert _run(capsys, *args, "--epochs", 1, "--out", tmp_path / "part")[0] == 0
    first = json.loads((tmp_path / "part" / "history.json").read_text())["val_psnr_0.1"]
    code, out, err = _run(capsys, *args, "--epochs", 2, "--out", tmp_path / "part", "--resume")
    assert code == 0, err
    full = json.loads((tmp_path / "full" / "history.json").read_text())
    part = json.loads((tmp_path / "part" / "history.json").read_text())
    assert len(part["val_psnr_0.1"]) == len(full["val_psnr_0.1"]) == 2 and part["val_psnr_0.1"][:1] == first
    assert read_checkpoint(tmp_path / "part" / "checkpoint.npz").history["val_psnr_0.1"] == part["val_psnr_0.1"]


def test_grey_patches(folders, tmp_path, capsys):
    train, held = folders
    code, out, err = _run(capsys, "train", "dncnn", "--data", train, "--grey", "--patch", 12, "--patches", 16,
                          "--noise", "gaussian", "--noise-level", 0.1, "--val", held, "--width", 4, "--depth", 3,
                          "--epochs", 1, "--out", tmp_path / "g")
    assert code == 0, err
    ck = read_checkpoint(tmp_path / "g" / "checkpoint.npz")
    assert ck.extra["image_shape"] == [12, 12, 1] and ck.config["config"]["noise_level"] == 0.1
    assert ck.config["config"]["architecture"] == "dncnn"


@pytest.mark.parametrize("extra, fragment", [
    (["--patch", 40], "--patch 40: 2 photo(s) are smaller than a patch: p1.png (64x30), p2.png (33x33)"),
    (["--patch", 16, "--size", 32], "--patch reads the photos whole: leave out --size"),
])
def test_patch_errors(folders, tmp_path, capsys, extra, fragment):
    train, _ = folders
    code, _, err = _run(capsys, "train", "unet", "--data", train, *extra, "--epochs", 1, "--out", tmp_path / "e")
    assert code == 1 and fragment in err, err


def test_patch_needs_a_folder(tmp_path, capsys):
    code, _, err = _run(capsys, "train", "unet", "--data", "font5x7", "--patch", 4, "--out", tmp_path / "e")
    assert code == 1 and "--patch samples patches from a folder of photos; 'font5x7' is not a folder" in err


def test_width_depth_and_val_only_for_the_models_that_take_them(folders, tmp_path, capsys):
    _, held = folders
    code, _, err = _run(capsys, "train", "dae", "--data", "font5x7", "--width", 8, "--out", tmp_path / "e")
    assert code == 1 and "--width applies to the conv denoisers (unet, dncnn), not 'dae'" in err
    code, _, err = _run(capsys, "train", "vae", "--data", "font5x7", "--depth", 2, "--out", tmp_path / "e")
    assert code == 1 and "--depth applies to the conv denoisers" in err
    code, _, err = _run(capsys, "train", "ae", "--data", "font5x7", "--val", held, "--out", tmp_path / "e")
    assert code == 1 and "--val measures denoising PSNR" in err and "not 'ae'" in err


@pytest.mark.parametrize("level, fragment", [
    ("0.3:0.1", "LOW <= HIGH"),
    ("0:x", "needs two numbers >= 0"),
    ("-1", "must be a finite number >= 0"),
])
def test_noise_level_range_usage_errors(tmp_path, capsys, level, fragment):
    with pytest.raises(SystemExit) as info:
        main(["train", "unet", "--data", "font5x7", "--noise-level", level, "--out", str(tmp_path / "e")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--noise-level" in err and fragment in err, err
