"""``nnlite.pretrained``: the shipped weights match their manifest, altered or missing files are refused
with the command that regenerates them, every photo layout comes back in its own shape, and the shipped
photo denoiser removes noise from photos it never saw."""
import configparser
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, data_root
from pretrained_tiny import COMMAND, make_tiny_folder

import nnlite
from nnlite.metrics import psnr
from nnlite.weights import COMBINED, FOLDER, MANIFEST, PhotoDenoiser, WeightsError, pretrained, sha256_of

SHIPPED = sorted({n for parts in COMBINED.values() for n in parts.values()})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_folder(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="module")
def shipped():
    """The package's own weights folder, or a skip when this checkout has no weights in it."""
    missing = [n for n in SHIPPED if not (FOLDER / f"{n}.npz").is_file()]
    if not (FOLDER / MANIFEST).is_file() or missing:
        pytest.skip(f"the shipped weights are absent from this checkout ({FOLDER}: no {MANIFEST} or "
                    f"{missing}); generate them with python -m benchmarks.photo_train")
    return pretrained("photo-denoiser")


def _noisy(clean, sigma, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(clean + sigma * rng.standard_normal(clean.shape), 0, 1).astype(np.float32)


def synthetic(side=96):
    """Smooth gradients, a disc and a square with sharp edges, bars: what a denoiser must keep."""
    yy, xx = np.mgrid[0:side, 0:side] / side
    img = np.stack([0.25 + 0.5 * xx, 0.3 + 0.4 * yy, 0.7 - 0.4 * xx * yy], axis=-1)
    img[(yy - 0.3) ** 2 + (xx - 0.3) ** 2 < 0.03] = (0.85, 0.25, 0.2)
    img[(yy > 0.55) & (yy < 0.85) & (xx > 0.55) & (xx < 0.85)] = (0.2, 0.2, 0.6)
    img[(yy > 0.1) & (yy < 0.4) & (xx > 0.6) & ((xx * side // 6) % 2 == 0)] = 0.9
    return img.astype(np.float32)


# ------------------------------------------------------------------------------------------ the shipped files
def test_the_manifest_checksums_are_those_of_the_shipped_files(shipped):
    entries = json.loads((FOLDER / MANIFEST).read_text())
    assert set(SHIPPED) <= set(entries), sorted(entries)
    for name in SHIPPED:
        e = entries[name]
        got = sha256_of(FOLDER / e["file"])
        assert got == e["sha256"], (f"{e['file']} has sha256 {got}, the manifest says {e['sha256']}: regenerate "
                                    f"the weights and the manifest with {e['command']}")
        assert e["command"].startswith("python -m benchmarks.photo_train"), e["command"]
        assert isinstance(e["seed"], int), e
        if "weights_sha256" in e:                     # the weights themselves, as the training script digests them
            from benchmarks.photo_train import weights_digest

            assert weights_digest(pretrained(name)) == e["weights_sha256"], name


def test_the_weights_ship_in_the_wheel():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert "nnlite.weights" in cfg["options"]["packages"].split()
    patterns = [p.strip() for p in cfg["options.package_data"]["nnlite.weights"].split(",")]
    assert "*.npz" in patterns and MANIFEST in patterns, patterns
    extras = cfg["options.extras_require"]["compare"].split()
    assert any(x.startswith("bm3d") for x in extras) and any(x.startswith("scikit-image") for x in extras)
    assert not any(x.startswith(("bm3d", "scikit-image")) for x in cfg["options"]["install_requires"].split())


def test_nnlite_pretrained_is_the_function_and_import_reads_no_weights():
    assert nnlite.pretrained is pretrained and callable(nnlite.pretrained)
    assert "pretrained" in nnlite.__all__ and "weights" in nnlite.__all__


# ------------------------------------------------------------------------------------------ refusing bad files
def _copy(tiny, tmp_path):
    dst = tmp_path / "w"
    shutil.copytree(tiny, dst)
    return dst


def test_an_altered_file_is_refused_with_its_name_the_checksum_and_the_command(tiny, tmp_path):
    folder = _copy(tiny, tmp_path)
    path = folder / "photo-denoiser-rgb.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01                               # one bit, inside the weights
    path.write_bytes(bytes(data))
    expected = json.loads((folder / MANIFEST).read_text())["photo-denoiser-rgb"]["sha256"]
    for name in ("photo-denoiser-rgb", "photo-denoiser"):
        with pytest.raises(WeightsError) as exc:
            pretrained(name, folder=folder)
        msg = str(exc.value)
        assert str(path) in msg and expected in msg and COMMAND.format(kind="rgb") in msg, msg
    assert isinstance(pretrained("photo-denoiser-grey", folder=folder), nnlite.ResidualDenoiser)  # the other is fine


def test_a_missing_file_or_manifest_is_an_error_naming_it_and_the_command(tiny, tmp_path):
    folder = _copy(tiny, tmp_path)
    (folder / "photo-denoiser-grey.npz").unlink()
    with pytest.raises(WeightsError, match="missing") as exc:
        pretrained("photo-denoiser", folder=folder)
    assert "photo-denoiser-grey.npz" in str(exc.value) and COMMAND.format(kind="grey") in str(exc.value)
    (folder / MANIFEST).unlink()
    with pytest.raises(WeightsError) as exc:
        pretrained("photo-denoiser-rgb", folder=folder)
    assert MANIFEST in str(exc.value) and "benchmarks.photo_train" in str(exc.value)


def test_a_file_that_matches_its_checksum_but_is_no_checkpoint_is_refused(tiny, tmp_path):
    folder = _copy(tiny, tmp_path)
    (folder / "photo-denoiser-rgb.npz").write_bytes(b"not a zip")
    entries = json.loads((folder / MANIFEST).read_text())
    entries["photo-denoiser-rgb"]["sha256"] = sha256_of(folder / "photo-denoiser-rgb.npz")
    (folder / MANIFEST).write_text(json.dumps(entries))
    with pytest.raises(WeightsError, match="cannot be loaded") as exc:
        pretrained("photo-denoiser-rgb", folder=folder)
    assert COMMAND.format(kind="rgb") in str(exc.value)


@pytest.mark.parametrize("folder", ["tiny", None])
def test_an_unknown_name_lists_the_known_ones(tiny, folder):
    with pytest.raises(ValueError) as exc:
        pretrained("photo-denoiser-rgba", folder=tiny if folder else None)
    msg = str(exc.value)
    assert "'photo-denoiser-rgba'" in msg and all(n in msg for n in ["photo-denoiser", *SHIPPED]), msg
    with pytest.raises(TypeError, match="name must be a str"):
        pretrained(None)


# ------------------------------------------------------------------------------------------ shapes and dispatch
def test_every_photo_layout_comes_back_in_its_shape_from_the_right_model(tiny):
    den = pretrained("photo-denoiser", folder=tiny)
    assert isinstance(den, PhotoDenoiser)
    rng = np.random.default_rng(3)
    rgba = rng.uniform(0, 1, (21, 18, 4)).astype(np.float32)
    grey_model, rgb_model = den.models["grey"], den.models["rgb"]
    out = den.denoise(rgba[..., 0])
    assert out.shape == (21, 18) and np.array_equal(out, grey_model.denoise(rgba[..., 0]))
    out = den.denoise(rgba[..., :1])
    assert out.shape == (21, 18, 1) and np.array_equal(out[..., 0], grey_model.denoise(rgba[..., 0]))
    out = den.denoise(rgba[..., :3])
    assert out.shape == (21, 18, 3) and np.array_equal(out, rgb_model.denoise(rgba[..., :3]))
    out = den.denoise(rgba)
    assert out.shape == (21, 18, 4)
    assert np.array_equal(out[..., 3], rgba[..., 3]), "the alpha channel must pass through untouched"
    assert np.array_equal(out[..., :3], rgb_model.denoise(rgba[..., :3]))
    assert not np.array_equal(out[..., :3], rgba[..., :3])


def test_progress_is_reported_in_pixels(tiny):
    den = pretrained("photo-denoiser", folder=tiny)
    calls = []
    den.denoise(np.full((40, 30, 3), 0.5, np.float32), tile=16, progress=lambda d, t: calls.append((d, t)))
    assert calls and calls[-1] == (1200, 1200)


@pytest.mark.parametrize("bad, err, fragment", [
    (np.zeros((4, 5, 2), np.float32), ValueError, "(4, 5, 2)"),
    (np.zeros((2, 4, 5, 3), np.float32), ValueError, "(2, 4, 5, 3)"),
    (np.zeros((4, 5, 3), np.uint8), TypeError, "uint8"),
])
def test_other_inputs_are_refused_naming_what_arrived(tiny, bad, err, fragment):
    with pytest.raises(err) as exc:
        pretrained("photo-denoiser", folder=tiny).denoise(bad)
    assert fragment in str(exc.value) and "image" in str(exc.value)


def test_the_plain_entries_are_the_fitted_denoisers(tiny):
    rgb, grey = (pretrained(f"photo-denoiser-{k}", folder=tiny) for k in ("rgb", "grey"))
    assert isinstance(rgb, nnlite.ResidualDenoiser) and rgb.n_channels_ == 3 and not rgb.training
    assert isinstance(grey, nnlite.ResidualDenoiser) and grey.n_channels_ == 1
    with pytest.raises(ValueError, match="3-channel"):
        PhotoDenoiser({"rgb": grey, "grey": grey})


# ------------------------------------------------------------------------------------------ quality
def test_the_photo_denoiser_cleans_a_synthetic_image_in_colour_and_grey(shipped):
    clean = synthetic()
    for image in (clean, clean.mean(axis=2)):
        noisy = _noisy(image, 0.1)
        before, after = psnr(image[None], noisy[None]), psnr(image[None], shipped.denoise(noisy)[None])
        assert after > before + 5, f"{image.ndim}-D synthetic image: noisy {before:.2f} dB, denoised {after:.2f} dB"


def test_the_photo_denoiser_cleans_a_held_out_photo(shipped):
    from benchmarks import photo_data

    root = data_root()
    if root is None or not (root / "photos" / "chelsea.png").is_file():
        pytest.skip("photos/ absent: set NNLITE_DATA to the folder holding photos/ (chelsea.png)")
    assert "chelsea.png" in photo_data.HELD_OUT, "the test must use a photo the model never saw"
    photo = photo_data.load_photo("chelsea.png", "photos", root=Path(root))[60:188, 150:278]   # the cat's face
    for image in (photo, photo.mean(axis=2)):
        noisy = _noisy(image, 0.1, seed=1)
        before, after = psnr(image[None], noisy[None]), psnr(image[None], shipped.denoise(noisy)[None])
        assert after > before + 5, f"{image.ndim}-D chelsea crop: noisy {before:.2f} dB, denoised {after:.2f} dB"
