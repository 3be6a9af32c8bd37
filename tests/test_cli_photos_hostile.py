"""``nnlite denoise`` and ``nnlite train --patch/--val`` against odd and hostile input: every case answers
with a clear error naming the file and what was expected, or is handled; memory stays bounded (refusals come
before anything is decoded); no user file is overwritten or read back; one bad input never stops a batch.

Images are made small in ``tmp_path``; the photo model is a folder of tiny denoisers (``pretrained_tiny``).
"""
import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from conftest import remove_deep
from PIL import Image
from pretrained_tiny import make_tiny_folder

import nnlite.weights
from nnlite.checkpoint import read_checkpoint
from nnlite.cli import inference, main


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_folder(tmp_path_factory.mktemp("weights"))


@pytest.fixture
def photo_model(tiny, monkeypatch):
    monkeypatch.setattr(nnlite.weights, "FOLDER", tiny)
    return tiny


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _png(path, shape, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)
    return path


def _png_header_only(path, width, height):
    """A PNG that declares ``width x height`` RGB pixels and holds one empty row: a few dozen bytes."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) +
                     chunk(b"IEND", b""))
    return path


def _photos(folder, sizes, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i, (h, w) in enumerate(sizes):
        yy, xx = np.mgrid[0:h, 0:w]
        base = 0.5 + 0.3 * np.sin(xx / 5 + i)[..., None] * np.cos(yy / 7)[..., None] * rng.uniform(0.5, 1, 3)
        Image.fromarray((np.clip(base, 0, 1) * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    return folder


# ------------------------------------------------------------------------------------------ 1. tall images
@pytest.mark.parametrize("shape", [(500, 1), (2000, 1), (10000, 1, 3), (1, 3000)])
def test_a_tiny_elongated_image_gives_a_bounded_figure_and_the_batch_goes_on(photo_model, tmp_path, capsys, shape):
    tall = _png(tmp_path / "in" / "tall.png", shape)
    after = _png(tmp_path / "in" / "z_after.png", (9, 8))
    code, out, err = _run(capsys, "denoise", "--model", "photo", tall, after, "--out", tmp_path / "o")
    assert code == 0, err
    den = np.asarray(Image.open(tmp_path / "o" / "tall_denoised.png"))
    assert den.shape[:2] == shape[:2]
    w, h = Image.open(tmp_path / "o" / "tall_compare.png").size
    assert w <= 1500 and h <= 2000, (w, h)                  # 1x500 once made 737 x 177,149 pixels
    assert (tmp_path / "o" / "z_after_denoised.png").exists()


# ------------------------------------------------------------------------------------------ 2. pixel cap
def test_an_image_over_the_pixel_cap_is_refused_from_its_header_and_the_next_is_denoised(photo_model, tmp_path,
                                                                                        capsys, monkeypatch):
    huge = _png_header_only(tmp_path / "huge.png", 12000, 12000)       # 144 megapixels in about 60 bytes
    small = _png(tmp_path / "small.png", (10, 12, 3))
    decoded = []
    real = inference._denoise_one
    monkeypatch.setattr(inference, "_denoise_one", lambda *a, **k: (decoded.append(a[3].name), real(*a, **k)))
    code, _, err = _run(capsys, "denoise", "--model", "photo", huge, small, "--out", tmp_path / "o")
    assert code == 1
    assert decoded == ["small.png"]                                  # refused before it was read
    last = err.strip().splitlines()[-1]
    assert "1 of 2 inputs failed" in last and "huge.png: image of 12000x12000 pixels (144.0 megapixels)" in last
    assert "--max-megapixels 5" in last
    assert (tmp_path / "o" / "small_denoised.png").exists()


def test_max_megapixels_lowers_the_cap(photo_model, tmp_path, capsys):
    f = _png(tmp_path / "a.png", (40, 50))
    code, _, err = _run(capsys, "denoise", "--model", "photo", f, "--max-megapixels", "0.001", "--out", tmp_path / "o")
    assert code == 1 and "50x40 pixels" in err and "--max-megapixels 0.001" in err


# ------------------------------------------------------------------------------------------ 3. shapes
def test_an_rgb_image_3_pixels_tall_is_one_image(photo_model, tmp_path, capsys):
    f = _png(tmp_path / "strip.png", (3, 500, 3))
    code, _, err = _run(capsys, "denoise", "--model", "photo", f, "--out", tmp_path / "o")
    assert code == 0, err
    assert np.asarray(Image.open(tmp_path / "o" / "strip_denoised.png")).shape == (3, 500, 3)


@pytest.mark.parametrize("h", [1, 3, 4])
def test_residual_denoiser_reads_a_3d_array_as_one_image_whatever_its_size(tiny, h):
    rgb = nnlite.weights.pretrained("photo-denoiser-rgb", folder=tiny)
    x = np.random.default_rng(0).random((h, 20, 3)).astype(np.float32)
    one = rgb.denoise(x)
    assert one.shape == x.shape
    np.testing.assert_allclose(one, rgb.denoise(x.transpose(2, 0, 1)[None])[0].transpose(1, 2, 0), atol=1e-6)


def test_the_cli_converts_channels_last_data_to_nchw_explicitly():
    from nnlite.cli._common import to_images, to_model_input

    for side in (3, 4):
        X = np.random.default_rng(side).random((5, side, side, 3)).astype(np.float32)
        Xin = to_model_input(X, "conv")
        np.testing.assert_array_equal(Xin, X.transpose(0, 3, 1, 2))
        np.testing.assert_array_equal(to_images(Xin, (side, side, 3), "conv"), X)


@pytest.mark.parametrize("patch", [3, 4])
def test_train_dncnn_on_patches_3_or_4_pixels_a_side_gives_an_rgb_model(tmp_path, capsys, patch):
    train = _photos(tmp_path / "train", [(20, 24), (18, 18)])
    code, _, err = _run(capsys, "train", "dncnn", "--data", train, "--patch", patch, "--patches", 16, "--width", 4,
                        "--depth", 2, "--epochs", 1, "--noise", "gaussian", "--noise-level", 0.1,
                        "--out", tmp_path / "run")
    assert code == 0, err
    model = nnlite.models.persistence.restore_model(tmp_path / "run" / "checkpoint.npz")
    assert model.n_channels_ == 3 and model.image_shape_ == (3, patch, patch)


def test_val_crop_3_survives_the_end_of_epoch_1(tmp_path, capsys):
    train = _photos(tmp_path / "train", [(20, 24), (18, 18)])
    held = _photos(tmp_path / "held", [(3, 40), (10, 10)], seed=1)
    code, out, err = _run(capsys, "train", "unet", "--data", train, "--patch", 8, "--patches", 16, "--width", 4,
                          "--depth", 2, "--epochs", 1, "--noise", "gaussian", "--noise-level", 0.1, "--val", held,
                          "--val-crop", 3, "--out", tmp_path / "run")
    assert code == 0, err
    assert "epoch 1: held-out PSNR sigma 0.1" in out
    assert read_checkpoint(tmp_path / "run" / "checkpoint.npz").epoch == 1


# ------------------------------------------------------------------------------------------ 4. overwrites
def test_same_names_in_different_folders_or_formats_get_distinct_results(photo_model, tmp_path, capsys):
    a = _png(tmp_path / "c1" / "x.png", (8, 9), seed=1)
    b = _png(tmp_path / "c2" / "x.png", (8, 9), seed=2)
    c = tmp_path / "c1" / "x.jpg"
    Image.fromarray(np.full((8, 9), 90, np.uint8)).save(c)
    code, _, err = _run(capsys, "denoise", "--model", "photo", a, b, c, "--out", tmp_path / "o")
    assert code == 0, err
    results = sorted(p.name for p in (tmp_path / "o").glob("*_denoised.png"))
    assert len(results) == 3, results


def test_a_folder_keeps_its_sub_folders_in_the_output(photo_model, tmp_path, capsys):
    _png(tmp_path / "in" / "a" / "x.png", (8, 9), seed=1)
    _png(tmp_path / "in" / "b" / "x.png", (8, 9), seed=2)
    code, _, err = _run(capsys, "denoise", "--model", "photo", tmp_path / "in", "--out", tmp_path / "o")
    assert code == 0, err
    assert (tmp_path / "o" / "a" / "x_denoised.png").exists() and (tmp_path / "o" / "b" / "x_denoised.png").exists()


def test_out_in_the_input_folder_never_overwrites_nor_reads_its_own_results(photo_model, tmp_path, capsys):
    folder = tmp_path / "photos"
    _png(folder / "a.png", (8, 9), seed=1)
    mine = _png(folder / "a_denoised.png", (5, 5), seed=3)           # the user's own file, another photo
    before = mine.read_bytes()
    code, out, err = _run(capsys, "denoise", "--model", "photo", folder, "--out", folder)
    assert code == 1
    assert mine.read_bytes() == before                                   # not replaced
    assert "a_denoised.png exists: pass --overwrite" in err
    assert "named as denoising results" in out                           # a_denoised.png not taken as an input
    assert not (folder / "a_denoised_denoised.png").exists()
    code, out, err = _run(capsys, "denoise", "--model", "photo", folder, "--out", folder, "--overwrite")
    assert code == 0, err
    assert mine.read_bytes() != before
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "a_compare.png", "a_denoised.png"]
    code, _, err = _run(capsys, "denoise", "--model", "photo", folder, "--out", folder, "--overwrite")
    assert code == 0, err                                                # a second run reads only a.png again
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "a_compare.png", "a_denoised.png"]


def test_an_output_folder_inside_the_input_folder_is_not_searched(photo_model, tmp_path, capsys):
    folder = tmp_path / "photos"
    _png(folder / "a.png", (8, 9))
    _png(folder / "sub" / "b.png", (8, 9))
    assert _run(capsys, "denoise", "--model", "photo", folder, "--out", folder / "out")[0] == 0
    (folder / "out" / "stray.png").write_bytes((folder / "a.png").read_bytes())
    code, out, err = _run(capsys, "denoise", "--model", "photo", folder, "--out", folder / "out", "--overwrite")
    assert code == 0, err
    assert "stray" not in out and "[2/2]" in out


def test_an_unwritable_out_is_found_before_any_work(photo_model, tmp_path, capsys, monkeypatch):
    f = _png(tmp_path / "a.png", (8, 9))
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setattr(inference, "_denoise_one", lambda *a, **k: pytest.fail("denoised before the check"))
    code, _, err = _run(capsys, "denoise", "--model", "photo", f, "--out", tmp_path / "file" / "o")
    assert code == 1 and "cannot write into the output folder" in err and "choose another --out" in err


# ------------------------------------------------------------------------------------------ 5. totals
def test_a_photo_folder_over_the_total_pixel_budget_is_refused_before_decoding(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(12):
        _png_header_only(folder / f"b{i}.png", 5000, 5000)
    import nnlite.data.folder as folder_module

    monkeypatch.setattr(folder_module, "_decode", lambda *a: pytest.fail("decoded before the budget check"))
    code, _, err = _run(capsys, "train", "unet", "--data", folder, "--patch", 16, "--patches", 16, "--epochs", 1,
                        "--out", tmp_path / "run")
    assert code == 1
    assert "the 12 images hold 300.0 megapixels together" in err and "--max-megapixels" in err, err


def test_val_crops_are_copies_not_views_of_whole_photos(tmp_path):
    from nnlite.data.patches import center_crop, read_photos

    held = _photos(tmp_path / "held", [(40, 50), (30, 30)])
    images, _ = read_photos(held, crop=8)
    assert all(im.shape[:2] == (8, 8) and im.base is None for im in images)
    assert center_crop(np.zeros((40, 50, 3)), 8).base is None


# ------------------------------------------------------------------------------------------ 6. resume
@pytest.mark.parametrize("change, fragment", [
    (["--patch", 12], "--patch: checkpoint 16, this run 12"),
    (["--patches", 32], "--patches: checkpoint 16, this run 32"),
    (["--data", "OTHER"], "--data: checkpoint"),
    (["--val", "HELD"], "--val: checkpoint None"),
])
def test_resume_refuses_other_photo_arguments(tmp_path, capsys, change, fragment):
    train = _photos(tmp_path / "train", [(20, 24), (18, 18)])
    other = _photos(tmp_path / "other", [(20, 24)], seed=3)
    held = _photos(tmp_path / "held", [(20, 20)], seed=4)
    base = {"--data": train, "--patch": 16, "--patches": 16}
    common = ["train", "unet", "--width", 4, "--depth", 2, "--noise", "gaussian", "--noise-level", 0.1,
              "--out", tmp_path / "run"]
    argv = [*common, *[x for kv in base.items() for x in kv]]
    assert _run(capsys, *argv, "--epochs", 1)[0] == 0
    new = dict(base)
    new[change[0]] = {"OTHER": other, "HELD": held}.get(change[1], change[1])
    code, _, err = _run(capsys, *common, *[x for kv in new.items() for x in kv], "--epochs", 2, "--resume")
    assert code == 1 and "cannot resume" in err and fragment in err, err


# ------------------------------------------------------------------------------------------ 7. NaN
def test_a_float_tiff_with_nan_is_named_and_left_out_of_training(tmp_path, capsys):
    folder = _photos(tmp_path / "train", [(20, 24), (18, 18)])
    x = np.full((20, 20), 0.5, np.float32)
    x[3, 4] = np.nan
    Image.fromarray(x, mode="F").save(folder / "nan.tif")
    with pytest.warns(UserWarning, match=r"nan\.tif: floating-point image with 1 NaN pixel"):
        code, out, err = _run(capsys, "train", "dncnn", "--data", folder, "--patch", 8, "--patches", 8, "--width", 4,
                              "--depth", 2, "--epochs", 1, "--grey", "--out", tmp_path / "run")
    assert code == 1 and "could not be read and were left out: nan.tif" in out + err


# ------------------------------------------------------------------------------------------ 8. FIFO
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_named_on_the_command_line_is_refused_without_hanging(tiny, tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    ok = _png(tmp_path / "ok.png", (8, 9))
    code = ("import sys, nnlite.weights; from pathlib import Path; nnlite.weights.FOLDER = Path(sys.argv[1]); "
            "from nnlite.cli import main; sys.exit(main(sys.argv[2:]))")
    proc = subprocess.run([sys.executable, "-c", code, str(tiny), "denoise", "--model", "photo", str(fifo), str(ok),
                           "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "pipe.png: is a FIFO, expected an image file (a regular file)" in proc.stderr
    assert (tmp_path / "o" / "ok_denoised.png").exists()


# ------------------------------------------------------------------------------------------ 10. deep folders
def test_a_folder_nested_1500_deep_is_searched_to_a_bounded_depth(photo_model, tmp_path, capsys):
    root = tmp_path / "deep"
    _png(root / "top.png", (8, 9))
    deep = root
    for _ in range(1500):                                   # one level at a time: Path.mkdir(parents=True) recurses
        deep = deep / "d"
        os.mkdir(deep)
    _png(deep / "bottom.png", (8, 9))
    try:
        code, out, err = _run(capsys, "denoise", "--model", "photo", root, "--out", tmp_path / "o")
    finally:
        remove_deep(root, deep)
    assert code == 0, err
    assert "more than 32 levels deep were not searched" in out and "[1/1]" in out


# ------------------------------------------------------------------------------------------ 12. progress
def test_a_large_val_set_prints_progress(tmp_path, capsys, monkeypatch):
    from nnlite.cli import train as train_module

    monkeypatch.setattr(train_module, "VAL_PROGRESS_SECONDS", 0.0)
    train = _photos(tmp_path / "train", [(20, 24), (18, 18)])
    held = _photos(tmp_path / "held", [(12, 12)] * 4, seed=1)
    code, out, err = _run(capsys, "train", "unet", "--data", train, "--patch", 8, "--patches", 16, "--width", 4,
                          "--depth", 2, "--epochs", 1, "--noise", "gaussian", "--noise-level", 0.1, "--val", held,
                          "--val-crop", 8, "--out", tmp_path / "run")
    assert code == 0, err
    assert "held-out validation: 1 of 8 images denoised" in out and "--val: read 1 of 4 held-out images" in out


# ------------------------------------------------------------------------------------------ 13. early errors
def test_too_many_patches_are_refused_before_the_photos_are_read(tmp_path, capsys, monkeypatch):
    import nnlite.data.patches as patches

    train = _photos(tmp_path / "train", [(20, 24)])
    monkeypatch.setattr(patches, "read_photos", lambda *a, **k: pytest.fail("photos read before the check"))
    code, _, err = _run(capsys, "train", "unet", "--data", train, "--patch", 48, "--patches", 1000000,
                        "--out", tmp_path / "run")
    assert code == 1
    assert "the patches would take 27,648,000,000 bytes (25.7 GiB)" in err and "2,147,483,648 bytes" in err, err


def test_sample_patches_refuses_before_allocating():
    from nnlite.data.patches import sample_patches

    with pytest.raises(ValueError, match=r"1000000 patches of 48x48x3 take 27,648,000,000 bytes"):
        sample_patches([np.zeros((50, 50, 3), np.float32)], 48, 1_000_000)


@pytest.mark.parametrize("argv", [["--noise-level", "-0.1:0.2"], ["--noise-level=-0.1:0.2"]])
def test_a_negative_noise_level_range_says_a_level_must_be_at_least_0(tmp_path, capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(["train", "unet", "--data", "font5x7", *argv, "--out", str(tmp_path / "e")])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "expected one argument" not in err
    assert "--noise-level" in err and "needs two numbers >= 0, got '-0.1:0.2'" in err, err


# ---------------------------------------------------------------------- argument values, help, plan, fit domain
@pytest.mark.parametrize("argv, fragment", [
    (["--noise", "pink"], "unknown noise 'pink'"),
    (["--noise-level", "2"], "must be in [0, 1], got 2.0"),
])
def test_a_bad_argument_value_exits_2(tmp_path, capsys, argv, fragment):
    with pytest.raises(SystemExit) as info:
        main(["train", "dae", "--data", "font5x7", *argv, "--out", str(tmp_path / "e")])
    assert info.value.code == 2 and fragment in capsys.readouterr().err


def test_train_help_is_clean_and_says_what_resume_guarantees(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    example = next(line for line in text.splitlines() if "--noise-level 0:0.25" in line)
    assert example.rstrip().endswith("\\") and "      " not in example.strip()
    block = text.split("\n  --batch-size", 1)[1].split("\n  --", 1)[0]
    assert "images per optimizer step" in block, block
    flat = " ".join(text.split())
    assert "with --threads fixed (or --threads 1) a stopped run resumed with --resume ends with bit-identical" in flat
    assert "the weights agree only to rounding" in flat


@pytest.mark.parametrize("model, batch", [("ae", "of 32 images ="),
                                          ("dae", "of 256 images (8 noisy copies of each of the 32 images) =")])
def test_the_plan_shows_the_true_batch(tmp_path, capsys, model, batch):
    code, out, err = _run(capsys, "train", model, "--data", "font5x7", "--epochs", 1, "--hidden", 8,
                          "--out", tmp_path / "r")
    assert code == 0, err
    assert "font5x7: 32 images of 7x5" in out
    plan = next(line for line in out.splitlines() if line.startswith("plan:"))
    assert f"1 epochs x 1 steps {batch} 1 steps" in plan, plan


def test_sigma_beyond_the_photo_model_warns(photo_model, tmp_path, capsys):
    f = _png(tmp_path / "a.png", (8, 9))
    manifest = json.loads((photo_model / "MANIFEST.json").read_text())
    assert all("noise_level" not in e for e in manifest.values())   # the tiny folder: the default 0.25 applies
    code, _, err = _run(capsys, "denoise", "--model", "photo", f, "--noise", "gaussian", "--noise-level", 0.5,
                        "--out", tmp_path / "o")
    assert code == 0, err
    assert "--noise-level 0.5 is above what --model photo learned (Gaussian sigma 0 to 0.25)" in err
    code, _, err = _run(capsys, "denoise", "--model", "photo", f, "--noise", "gaussian", "--noise-level", 0.2,
                        "--out", tmp_path / "o2")
    assert code == 0 and "above what" not in err


def test_a_font_model_on_a_photo_warns_and_records_its_fit_domain(tmp_path, capsys):
    code, _, err = _run(capsys, "train", "dae", "--data", "font5x7", "--epochs", 1, "--hidden", 8,
                        "--out", tmp_path / "dae")
    assert code == 0, err
    ck = tmp_path / "dae" / "checkpoint.npz"
    domain = read_checkpoint(ck).meta["fitted"]["fit_domain_"]
    assert domain["sample_shape"] == [7, 5] and domain["two_level"] > 0.9
    photo = tmp_path / "photo.png"
    yy, xx = np.mgrid[0:200, 0:160]
    Image.fromarray((128 + 100 * np.sin(xx / 9) * np.cos(yy / 11)).astype(np.uint8)).save(photo)
    code, _, err = _run(capsys, "denoise", ck, photo, "--out", tmp_path / "o")
    assert code == 0, err
    assert "the model was fitted on 5x7 images and this image is 160x200" in err
    assert "fitted on two-level images" in err and "mid-tones" in err
    glyph = tmp_path / "glyph.png"
    Image.fromarray(np.kron(np.eye(2), np.ones((4, 3))).astype(np.uint8) * 255).save(glyph)
    code, _, err = _run(capsys, "denoise", ck, glyph, "--out", tmp_path / "o")
    assert code == 0 and "warning" not in err, err


def test_a_checkpoint_without_a_fit_domain_still_loads_and_denoises(tmp_path, capsys):
    from nnlite import save_checkpoint
    from nnlite.models import DenoisingAutoencoder
    from nnlite.models.persistence import restore_model

    X = np.random.default_rng(0).random((16, 6, 6)).astype(np.float32)
    model = DenoisingAutoencoder(hidden=(8,), latent_dim=2, epochs=1, random_state=0).fit(X)
    assert model.fit_domain_["sample_shape"] == [6, 6]
    del model.fit_domain_
    path = save_checkpoint(tmp_path / "old.npz", model, sidecar=False)
    back = restore_model(path)
    assert not hasattr(back, "fit_domain_")
    np.testing.assert_allclose(back.reconstruct(X[:2]), model.reconstruct(X[:2]), atol=1e-6)


def test_results_of_a_previous_run_in_the_input_folder_are_left_out(photo_model, tmp_path, capsys):
    folder = tmp_path / "photos"
    _png(folder / "a.png", (8, 9))
    _png(folder / "old_compare.png", (8, 9))
    code, out, err = _run(capsys, "denoise", "--model", "photo", folder, "--out", tmp_path / "o")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a_compare.png", "a_denoised.png"]

