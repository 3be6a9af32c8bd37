"""The command line, run as users run it: ``python -m nnlite ...`` in a subprocess on small data.

Every command writes files that are checked (existence, shape, content); errors exit with 1 and a one-line
message (no traceback unless --debug); usage errors exit with 2. Trainings are one or two epochs of tiny
models on the built-in bitmaps, so the module takes seconds, not minutes.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from nnlite.checkpoint import read_checkpoint
from nnlite.cli import build_parser, main


def nnlite(*args, cwd, expect=0):
    env = dict(os.environ)
    env.pop("NNLITE_DATA", None)  # built-in data only: the tests never look for downloads
    proc = subprocess.run([sys.executable, "-m", "nnlite", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == expect, f"exit {proc.returncode}, expected {expect}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _one_line_error(proc, *fragments):
    err = proc.stderr.strip()
    assert "Traceback" not in err, err
    last = err.splitlines()[-1]
    assert last.startswith("nnlite "), last
    for f in fragments:
        assert f in last, (f, last)
    return last


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three tiny trained models: font AE (2-D code), font DAE (bit flips), emoji VAE (2-D code)."""
    root = tmp_path_factory.mktemp("runs")
    nnlite("train", "ae", "--data", "font5x7", "--epochs", 2, "--hidden", 16, "--latent-dim", 2, "--batch-size", 8,
           "--out", "ae", cwd=root)
    nnlite("train", "dae", "--data", "font5x7", "--noise", "bit_flip", "--noise-level", 0.1, "--epochs", 1,
           "--hidden", 16, "--out", "dae", cwd=root)
    nnlite("train", "vae", "--data", "emoji12", "--epochs", 1, "--hidden", 16, "--latent-dim", 2, "--out", "vae",
           cwd=root)
    return root


def test_train_writes_checkpoint_history_and_figures(runs):
    ae = runs / "ae"
    for name in ("checkpoint.npz", "checkpoint.json", "history.json", "history.csv", "history.png",
                 "reconstructions.png", "latent.png"):
        assert (ae / name).stat().st_size > 0, name
    ck = read_checkpoint(ae / "checkpoint.npz")
    assert ck.epoch == 2 and ck.global_step == 8  # 32 glyphs / batch 8 = 4 steps per epoch
    assert ck.config["class"] in ("nnlite.models.Autoencoder", "nnlite.models.autoencoder.Autoencoder")
    assert ck.config["config"]["latent_dim"] == 2 and ck.config["config"]["hidden"] == [16]
    assert ck.extra["data"] == "font5x7" and ck.extra["image_shape"] == [7, 5, 1]
    hist = json.loads((ae / "history.json").read_text())
    assert len(hist["loss"]) == 2 and hist["loss"] == ck.history["loss"]
    assert (ae / "history.csv").read_text().splitlines()[0].startswith("epoch,loss")
    assert (runs / "dae" / "denoising.png").exists()
    assert (runs / "vae" / "samples.png").exists() and (runs / "vae" / "latent.png").exists()


def test_train_refuses_to_overwrite_then_resumes(runs, tmp_path, capsys):
    import shutil

    shutil.copytree(runs / "ae", tmp_path / "ae")
    before = (tmp_path / "ae" / "checkpoint.npz").read_bytes()
    args = ["train", "ae", "--data", "font5x7", "--hidden", 16, "--latent-dim", 2, "--batch-size", 8,
            "--out", tmp_path / "ae"]
    code, _, err = _run(capsys, *args, "--epochs", 3)
    assert code == 1 and "checkpoint.npz exists: pass --resume" in err
    # resuming with other hyper-parameters is refused, naming what differs; nothing is overwritten
    code, _, err = _run(capsys, *args, "--epochs", 3, "--resume", "--lr", 0.01)
    assert code == 1 and "cannot resume: lr: checkpoint 0.001, this run 0.01" in err
    assert (tmp_path / "ae" / "checkpoint.npz").read_bytes() == before
    # train longer than planned: 2 more epochs on top of the 2 done
    proc = nnlite(*args, "--epochs", 4, "--resume", cwd=tmp_path)
    assert "resumed after epoch 2 (step 8)" in proc.stdout
    ck = read_checkpoint(tmp_path / "ae" / "checkpoint.npz")
    assert ck.epoch == 4 and ck.global_step == 16
    hist = json.loads((tmp_path / "ae" / "history.json").read_text())
    first = read_checkpoint(runs / "ae" / "checkpoint.npz").history["loss"]
    assert len(hist["loss"]) == 4 and hist["loss"][:2] == first


def test_train_on_an_image_folder(tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    nnlite("train", "ae", "--data", folder, "--size", 8, "--epochs", 1, "--hidden", 8, "--out", "run", cwd=tmp_path)
    ck = read_checkpoint(tmp_path / "run" / "checkpoint.npz")
    assert ck.extra["image_shape"] == [8, 8, 3]
    assert (tmp_path / "run" / "reconstructions.png").exists()


def test_convolutional_denoiser_runs_on_whole_images_of_any_size(tmp_path, capsys):
    from nnlite import models

    if not hasattr(models, "ResidualDenoiser"):
        pytest.skip("nnlite.models has no ResidualDenoiser")
    folder = tmp_path / "pics"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(folder / f"g{i}.png")
    nnlite("train", "unet", "--data", folder, "--size", 8, "--grey", "--epochs", 1, "--batch-size", 4,
           "--out", "unet", cwd=tmp_path)
    assert (tmp_path / "unet" / "denoising.png").exists()
    Image.fromarray(rng.integers(0, 256, (13, 11), dtype=np.uint8)).save(tmp_path / "odd.png")
    code, out, err = _run(capsys, "denoise", tmp_path / "unet" / "checkpoint.npz", tmp_path / "odd.png",
                          "--out", tmp_path / "d")
    assert code == 0, err
    assert np.asarray(Image.open(tmp_path / "d" / "odd_denoised.png")).shape == (13, 11)  # no tiles, no crop



def test_train_skips_an_unreadable_image_and_fails_at_the_end_with_the_count(tmp_path, capsys):
    folder = tmp_path / "pics"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    (folder / "broken.png").write_bytes(b"not a png at all")
    with pytest.warns(UserWarning, match=r"skipped .*broken\.png"):
        code, out, err = _run(capsys, "train", "ae", "--data", folder, "--size", 8, "--epochs", 1, "--hidden", 8,
                              "--out", tmp_path / "run")
    assert code == 1, err
    assert "1 image file(s) could not be read and were left out: broken.png" in out + err
    assert read_checkpoint(tmp_path / "run" / "checkpoint.npz").extra["image_shape"] == [8, 8, 3]  # trained anyway


def test_train_on_an_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = _run(capsys, "train", "ae", "--data", tmp_path / "empty", "--epochs", 1, "--out", tmp_path / "e")
    assert code == 1 and "empty" in err and "no image files" in err and "Traceback" not in err


def test_denoise_own_images_of_any_size_and_mode(runs, tmp_path):
    rgba = np.zeros((20, 13, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[5:15, 4:9, :3] = 255
    rgba[0, 0, 3] = 0  # one transparent pixel
    Image.fromarray(rgba, "RGBA").save(tmp_path / "glyph.png")
    (tmp_path / "more").mkdir()
    Image.fromarray((np.eye(9) * 255).astype(np.uint8)).save(tmp_path / "more" / "diag.png")
    proc = nnlite("denoise", runs / "dae" / "checkpoint.npz", "glyph.png", "more", "--noise", "salt_and_pepper",
                  "--noise-level", 0.1, "--out", "out", cwd=tmp_path)
    assert "composited" not in proc.stdout
    assert "[2/2]" in proc.stdout
    out = tmp_path / "out"
    den = np.asarray(Image.open(out / "glyph_denoised.png"))
    assert den.shape == (20, 13, 4)  # same size as the input, colour kept (channel by channel), alpha kept
    np.testing.assert_array_equal(den[..., 3], rgba[..., 3])
    assert np.asarray(Image.open(out / "diag_denoised.png")).shape == (9, 9)
    assert (out / "glyph_compare.png").exists() and (out / "diag_compare.png").exists()


def test_sample_interpolate_latent(runs, tmp_path):
    vae = runs / "vae" / "checkpoint.npz"
    nnlite("sample", vae, "-n", 9, "--seed", 1, "--out", "s", cwd=tmp_path)
    S = np.load(tmp_path / "s" / "samples_n9_seed1.npy")
    assert S.shape == (9, 12, 12) and S.min() >= 0 and S.max() <= 1
    assert (tmp_path / "s" / "samples_n9_seed1.png").exists()
    nnlite("interpolate", vae, 0, 3, "--steps", 4, "--out", "i", cwd=tmp_path)
    assert (tmp_path / "i" / "interpolation.png").exists()
    nnlite("latent", vae, "--out", "l", cwd=tmp_path)
    codes = np.load(tmp_path / "l" / "latent_codes.npz")
    assert codes["codes"].shape[1] == 2 and len(codes["codes"]) == len(codes["labels"]) >= 24
    assert (tmp_path / "l" / "latent_2d.png").exists()


def test_gradcheck_and_bench_commands(tmp_path):
    proc = nnlite("gradcheck", "--only", "linear,relu,mseloss", cwd=tmp_path)
    lines = proc.stdout.strip().splitlines()
    assert lines[0].split()[:2] == ["check", "tensors"]
    assert any(line.startswith("Linear(5, 4)") and line.rstrip().endswith("ok") for line in lines)
    assert [line.split()[0] for line in lines[1:-1]] == ["Linear(5,", "ReLU", "LeakyReLU", "Dense(5,", "MSELoss"]
    assert lines[-1].startswith("5 of 5 passed")
    proc = nnlite("bench", "--", "--help", cwd=tmp_path)
    assert "python -m benchmarks" in proc.stdout


# ---------------------------------------------------------------------------------------- errors, in-process
def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_errors_are_one_line_with_exit_1(runs, tmp_path, capsys):
    code, _, err = _run(capsys, "sample", runs / "ae" / "checkpoint.npz")
    assert code == 1 and "Autoencoder is not a generative model" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(capsys, "train", "ae", "--data", "nowhere-set")
    assert code == 1 and "unknown data set 'nowhere-set'; use one of font5x7, emoji12" in err
    with pytest.raises(SystemExit) as usage:  # a bad argument value is a usage error: exit 2
        _run(capsys, "train", "dae", "--data", "font5x7", "--noise-level", 1.5, "--out", tmp_path / "x")
    err = capsys.readouterr().err
    assert usage.value.code == 2 and "noise_level (probability p of 'salt_and_pepper') must be in [0, 1], got 1.5" in err
    code, _, err = _run(capsys, "train", "ae", "--data", "font5x7", "--noise", "gaussian", "--out", tmp_path / "x")
    assert code == 1 and "--noise/--noise-level apply to models that take a noise (dae, vae, ...), not 'ae'" in err
    code, _, err = _run(capsys, "train", "ae", "--data", "font5x7", "--hidden", 8, "--batch-size", 8, "--lr", 1e30,
                        "--epochs", 2, "--out", tmp_path / "div")
    assert code == 1 and "training diverged: loss = nan" in err and "Try a lower learning rate" in err
    assert not (tmp_path / "div" / "checkpoint.npz").exists()  # nothing good to keep, nothing written
    code, _, err = _run(capsys, "denoise", runs / "dae" / "checkpoint.npz", tmp_path / "missing.png")
    assert code == 1 and "missing.png: no such file or folder" in err
    code, _, err = _run(capsys, "interpolate", runs / "vae" / "checkpoint.npz", 0, 999)
    assert code == 1 and "index 999 is out of range" in err
    code, _, err = _run(capsys, "latent", runs / "vae" / "checkpoint.npz", "--method", "tsne", "--out", tmp_path)
    try:
        import sklearn  # noqa: F401
        assert code == 0
    except ImportError:
        assert code == 1 and "t-SNE needs scikit-learn" in err and "pip install 'nnlite[tsne]'" in err


def test_damaged_checkpoint_names_the_file(runs, tmp_path, capsys):
    data = (runs / "vae" / "checkpoint.npz").read_bytes()
    bad = tmp_path / "cut.npz"
    bad.write_bytes(data[: len(data) // 3])
    code, _, err = _run(capsys, "sample", bad)
    assert code == 1 and "cut.npz: cannot read the checkpoint: the file is truncated" in err
    assert "Traceback" not in err
    with pytest.raises(Exception, match="truncated"):  # --debug: the exception propagates (traceback)
        main(["sample", str(bad), "--debug"])


def test_usage_errors_exit_2(capsys):
    for argv in (["train", "ae"], ["sample"], ["frobnicate"], ["train", "ae", "--data", "font5x7", "--bogus"],
                 ["train", "resnet", "--data", "font5x7"], ["train", "vae", "--data", "font5x7", "--latent-dim", "0"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2, argv
    capsys.readouterr()


def test_every_command_has_help_with_examples(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"demo", "train", "denoise", "sample", "interpolate", "latent", "gradcheck", "bench"} <= set(commands)
    for name in commands:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "examples:" in out, name
