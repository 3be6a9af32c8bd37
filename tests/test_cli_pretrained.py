"""``nnlite denoise --model photo``: the shipped photo denoiser from the command line, no checkpoint.

Most tests point the package's weights folder at a folder of tiny denoisers (``pretrained_tiny``), so
they check the command (arguments, dispatch, outputs) on every checkout; one runs ``python -m nnlite``
on the real shipped weights when they are present.
"""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from pretrained_tiny import make_tiny_folder

import nnlite.weights
from nnlite.cli import main


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_folder(tmp_path_factory.mktemp("weights"))


@pytest.fixture
def photos(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(rng.integers(0, 256, (20, 24), dtype=np.uint8)).save(folder / "grey.png")
    Image.fromarray(rng.integers(0, 256, (18, 22, 3), dtype=np.uint8)).save(folder / "colour.jpg")
    Image.fromarray(rng.integers(0, 256, (16, 12, 4), dtype=np.uint8), mode="RGBA").save(folder / "alpha.png")
    return folder


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_model_photo_denoises_grey_colour_and_rgba_files_without_a_checkpoint(tiny, photos, tmp_path, capsys,
                                                                              monkeypatch):
    monkeypatch.setattr(nnlite.weights, "FOLDER", tiny)
    out = tmp_path / "out"
    code, text, err = _run(capsys, "denoise", "--model", "photo", photos / "grey.png", photos / "colour.jpg",
                           photos / "alpha.png", "--out", out)
    assert code == 0, err
    assert np.asarray(Image.open(out / "grey_denoised.png")).shape == (20, 24)
    assert np.asarray(Image.open(out / "colour_denoised.png")).shape == (18, 22, 3)
    rgba = np.asarray(Image.open(out / "alpha_denoised.png"))
    assert rgba.shape == (16, 12, 4)                                                 # alpha kept
    np.testing.assert_array_equal(rgba[..., 3], np.asarray(Image.open(photos / "alpha.png"))[..., 3])
    assert "composited" not in text
    for stem in ("grey", "colour", "alpha"):
        assert (out / f"{stem}_compare.png").stat().st_size > 0


def test_model_photo_with_synthetic_noise_compares_clean_noisy_and_denoised(tiny, photos, tmp_path, capsys,
                                                                            monkeypatch):
    monkeypatch.setattr(nnlite.weights, "FOLDER", tiny)
    code, _, err = _run(capsys, "denoise", "--model", "photo", photos, "--noise", "gaussian", "--noise-level",
                        "0.1", "--out", tmp_path / "o")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "o").glob("*_denoised.png")) == [
        "alpha_denoised.png", "colour_denoised.png", "grey_denoised.png"]


def test_the_grey_file_goes_to_the_grey_model_and_the_colour_file_to_the_rgb_model(tiny, photos, tmp_path, capsys,
                                                                                   monkeypatch):
    from nnlite.images import read_image

    monkeypatch.setattr(nnlite.weights, "FOLDER", tiny)
    den = nnlite.weights.pretrained("photo-denoiser")
    code, _, err = _run(capsys, "denoise", "--model", "photo", photos / "grey.png", photos / "colour.jpg",
                        "--out", tmp_path / "o")
    assert code == 0, err
    for stem, model in (("grey", den.models["grey"]), ("colour", den.models["rgb"])):
        f = next(photos.glob(f"{stem}.*"))
        expected = np.round(np.clip(model.denoise(read_image(f)), 0, 1) * 255)
        got = np.asarray(Image.open(tmp_path / "o" / f"{stem}_denoised.png"), dtype=np.float64)
        assert np.abs(got - expected).max() <= 1, stem


@pytest.mark.parametrize("argv, fragment", [
    (["denoise"], "give a CHECKPOINT"),
    (["denoise", "--model", "photo"], "give at least one IMAGE"),
    (["denoise", "ck.npz", "a.png", "--model", "photo"], "not both"),
    (["denoise", "a.png"], "--model photo a.png"),
    (["denoise", "ck.npz"], "give at least one IMAGE"),
])
def test_exactly_one_of_checkpoint_and_model_is_given(capsys, argv, fragment):
    code, _, err = _run(capsys, *argv)
    assert code == 1 and fragment in err and "Traceback" not in err, err


def test_an_unknown_model_name_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["denoise", "--model", "nonsense", "a.png"])
    assert exc.value.code == 2
    assert "invalid choice: 'nonsense'" in capsys.readouterr().err


def test_missing_weights_are_one_line_naming_the_file_and_the_command(tiny, photos, tmp_path, capsys, monkeypatch):
    import shutil

    folder = tmp_path / "w"
    shutil.copytree(tiny, folder)
    (folder / "photo-denoiser-rgb.npz").unlink()
    monkeypatch.setattr(nnlite.weights, "FOLDER", folder)
    code, _, err = _run(capsys, "denoise", "--model", "photo", photos / "colour.jpg", "--out", tmp_path / "o")
    assert code == 1 and "photo-denoiser-rgb.npz" in err and "benchmarks.photo_train" in err, err
    assert len(err.strip().splitlines()) == 1


def test_python_m_nnlite_denoise_model_photo_with_the_shipped_weights(photos, tmp_path):
    missing = [n for n in ("MANIFEST.json", "photo-denoiser-rgb.npz", "photo-denoiser-grey.npz")
               if not (nnlite.weights.FOLDER / n).is_file()]
    if missing:
        pytest.skip(f"the shipped weights are absent from this checkout ({missing}); generate them with "
                    "python -m benchmarks.photo_train")
    env = {k: v for k, v in os.environ.items() if k != "NNLITE_DATA"}
    proc = subprocess.run([sys.executable, "-m", "nnlite", "denoise", "--model", "photo", str(photos / "colour.jpg"),
                           str(photos / "grey.png"), "--out", str(tmp_path / "o")], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert np.asarray(Image.open(tmp_path / "o" / "colour_denoised.png")).shape == (18, 22, 3)
    assert np.asarray(Image.open(tmp_path / "o" / "grey_denoised.png")).shape == (20, 24)
