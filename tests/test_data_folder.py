"""Image-folder loader on tiny images written here with Pillow in every mode that needs converting."""
import warnings

import numpy as np
import pytest
from PIL import Image

from nnlite.data.errors import DatasetError
from nnlite.data.folder import load_image_folder


def save(path, array, mode=None, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path, **kw) if mode else Image.fromarray(array).save(path, **kw)
    return path


def test_rgb_and_grey_round_trip_exact(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    save(tmp_path / "a.png", rgb)
    save(tmp_path / "b.png", rgb)
    images, names = load_image_folder(tmp_path, mode="RGB")
    assert images.shape == (2, 5, 7, 3) and images.dtype == np.float32 and names == ["a.png", "b.png"]
    np.testing.assert_allclose(images[0], rgb / 255.0, rtol=1e-6)
    grey, _ = load_image_folder(tmp_path, mode="L")
    assert grey.shape == (2, 5, 7)
    np.testing.assert_allclose(grey[0], (rgb / 255.0) @ [0.299, 0.587, 0.114], atol=1e-6)  # BT.601 luma


def test_grey_image_as_rgb_repeats_channels(tmp_path):
    g = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    save(tmp_path / "g.png", g)
    images, _ = load_image_folder(tmp_path, mode="RGB")
    for c in range(3):
        np.testing.assert_allclose(images[0, :, :, c], g / 255.0, rtol=1e-6)


def test_center_crop_without_resampling(tmp_path):
    # 4 rows x 8 cols: columns 0..3 black, 4..7 white. size (4, 4): no scaling, keep columns 2..5.
    img = np.zeros((4, 8), np.uint8)
    img[:, 4:] = 255
    save(tmp_path / "half.png", img)
    images, _ = load_image_folder(tmp_path, size=(4, 4), mode="L")
    np.testing.assert_array_equal(images[0], np.repeat([[0, 0, 1, 1]], 4, axis=0).astype(np.float32))


def test_resize_keeps_aspect_then_crops(tmp_path):
    # 8 x 16 image of four vertical bands 0, 0.25.. -> size (4, 4): scaled to 4 x 8, centre columns 2..5.
    img = np.repeat(np.repeat(np.array([[0, 85, 170, 255]], np.uint8), 4, axis=1), 8, axis=0)  # (8, 16)
    save(tmp_path / "bands.png", img)
    images, _ = load_image_folder(tmp_path, size=4, mode="L")
    assert images.shape == (1, 4, 4)
    row = images[0, 0]
    assert row[0] < row[1] < row[2] < row[3] and 0.2 < row[0] < 0.45 and 0.55 < row[3] < 0.8
    np.testing.assert_allclose(images[0], images[0, :1].repeat(4, axis=0), atol=1e-6)  # constant columns
    assert images.min() >= 0.0 and images.max() <= 1.0


def test_constant_image_stays_constant_after_resize(tmp_path):
    save(tmp_path / "c.png", np.full((30, 20, 3), 128, np.uint8))
    images, _ = load_image_folder(tmp_path, size=(8, 9))
    np.testing.assert_allclose(images, 128 / 255.0, atol=1e-5)


def test_rgba_composited_on_white_with_warning_naming_file(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 255          # red
    rgba[0, 0, 3] = 255         # opaque red
    rgba[0, 1, 3] = 0           # fully transparent -> white
    rgba[1, :, 3] = 128         # half -> pink
    path = save(tmp_path / "alpha.png", rgba)
    with pytest.warns(UserWarning, match="composited on a white background") as record:
        images, _ = load_image_folder(tmp_path, mode="RGB")
    assert str(path) in str(record[0].message)
    np.testing.assert_allclose(images[0, 0, 0], [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(images[0, 0, 1], [1, 1, 1], atol=1e-6)
    a = 128 / 255
    np.testing.assert_allclose(images[0, 1, 0], [1, 1 - a, 1 - a], atol=1e-6)


def test_opaque_alpha_dropped_silently(tmp_path):
    rgba = np.full((3, 3, 4), 255, np.uint8)
    rgba[..., 1] = 10
    save(tmp_path / "opaque.png", rgba)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        images, _ = load_image_folder(tmp_path, mode="RGB")
    np.testing.assert_allclose(images[0, 0, 0], [1, 10 / 255, 1], atol=1e-6)


def test_grey_with_alpha(tmp_path):
    la = np.stack([np.full((2, 2), 0, np.uint8), np.array([[255, 0], [255, 255]], np.uint8)], axis=-1)
    save(tmp_path / "la.png", la, mode="LA")
    with pytest.warns(UserWarning, match="la.png"):
        images, _ = load_image_folder(tmp_path, mode="L")
    np.testing.assert_allclose(images[0], [[0, 1], [0, 0]], atol=1e-6)


def test_palette_images(tmp_path):
    p = Image.new("P", (2, 1))
    p.putpalette([0, 0, 255, 0, 255, 0] + [0] * 762)
    p.putpixel((0, 0), 0)
    p.putpixel((1, 0), 1)
    p.save(tmp_path / "pal.png")
    images, _ = load_image_folder(tmp_path, mode="RGB")
    np.testing.assert_allclose(images[0, 0], [[0, 0, 1], [0, 1, 0]], atol=1e-6)
    p.save(tmp_path / "pal.png", transparency=1)  # colour 1 transparent -> white
    with pytest.warns(UserWarning, match="pal.png"):
        images, _ = load_image_folder(tmp_path, mode="RGB")
    np.testing.assert_allclose(images[0, 0], [[0, 0, 1], [1, 1, 1]], atol=1e-6)


def test_sixteen_bit_grey_keeps_precision(tmp_path):
    a = np.array([[0, 100], [32768, 65535]], np.uint16)
    Image.fromarray(a).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    images, _ = load_image_folder(tmp_path, mode="L")
    np.testing.assert_allclose(images[0], a / 65535.0, rtol=1e-6)
    assert images[0, 0, 1] > 0  # 100/65535: an 8-bit truncation would give 0


def test_jpeg_and_cmyk(tmp_path):
    save(tmp_path / "x.jpg", np.full((8, 8, 3), 200, np.uint8), quality=95)
    Image.new("CMYK", (8, 8), (0, 0, 0, 0)).save(tmp_path / "y.jpg")
    images, names = load_image_folder(tmp_path, mode="RGB")
    assert names == ["x.jpg", "y.jpg"]
    np.testing.assert_allclose(images[0], 200 / 255, atol=3 / 255)
    np.testing.assert_allclose(images[1], 1.0, atol=3 / 255)  # no ink = white


def test_patches_content_order_and_names(tmp_path):
    g = np.arange(70, dtype=np.uint8).reshape(10, 7)
    save(tmp_path / "g.png", g)
    images, names = load_image_folder(tmp_path, mode="L", patch=3, stride=2)
    assert images.shape == (4 * 3, 3, 3) and names == ["g.png"] * 12
    expected = [g[y:y + 3, x:x + 3] for y in range(0, 8, 2) for x in range(0, 5, 2)]  # row by row
    np.testing.assert_allclose(images, np.stack(expected) / 255.0, rtol=1e-6)
    rgb, _ = load_image_folder(tmp_path, mode="RGB", patch=(5, 7))
    assert rgb.shape == (2, 5, 7, 3)
    np.testing.assert_allclose(rgb[1, :, :, 2], g[5:] / 255.0, rtol=1e-6)


def test_patches_after_resize(tmp_path):
    save(tmp_path / "a.png", np.zeros((40, 60), np.uint8))
    images, _ = load_image_folder(tmp_path, size=(16, 16), patch=8, mode="L")
    assert images.shape == (4, 8, 8)


def test_small_images_skipped_with_warning(tmp_path):
    save(tmp_path / "big.png", np.zeros((8, 8), np.uint8))
    save(tmp_path / "tiny.png", np.zeros((2, 2), np.uint8))
    with pytest.warns(UserWarning, match="tiny.png.*smaller than a 4x4 patch"):
        images, names = load_image_folder(tmp_path, mode="L", patch=4)
    assert images.shape == (4, 4, 4) and set(names) == {"big.png"}
    (tmp_path / "big.png").unlink()
    with pytest.warns(UserWarning), pytest.raises(DatasetError, match="no image is at least 4x4"):
        load_image_folder(tmp_path, mode="L", patch=4)


def test_recursive_sorted_and_hidden_skipped(tmp_path):
    for rel in ("b.png", "sub/a.png", ".hidden/c.png", ".d.png"):
        save(tmp_path / rel, np.zeros((3, 3), np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    _, names = load_image_folder(tmp_path, mode="L")
    assert names == ["b.png", "sub/a.png"]
    _, names = load_image_folder(tmp_path, mode="L", recursive=False)
    assert names == ["b.png"]


def test_errors_name_the_folder_or_file(tmp_path):
    with pytest.raises(DatasetError, match="folder not found"):
        load_image_folder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no image files found") as info:
        load_image_folder(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(info.value)
    bad = tmp_path / "bad"
    save(bad / "ok.png", np.zeros((3, 3), np.uint8))
    (bad / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DatasetError, match="cannot read the image") as info:
        load_image_folder(bad)
    assert str(bad / "broken.png") in str(info.value)
    mixed = tmp_path / "mixed"
    save(mixed / "a.png", np.zeros((3, 3), np.uint8))
    save(mixed / "b.png", np.zeros((4, 5), np.uint8))
    with pytest.raises(DatasetError, match=r"a.png is 3x3; b.png is 4x5\); pass size="):
        load_image_folder(mixed)


def test_truncated_png(tmp_path):
    p = save(tmp_path / "t.png", np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    p.write_bytes(p.read_bytes()[:500])
    with pytest.raises(DatasetError, match="t.png"):
        load_image_folder(tmp_path)


@pytest.mark.parametrize("kwargs, match", [
    (dict(mode="RGBA"), "mode must be 'L' .grey. or 'RGB'"),
    (dict(size=(0, 3)), "size must be a positive int or a .height, width. pair"),
    (dict(size="big"), "size must be"),
    (dict(patch=-2), "patch must be"),
    (dict(stride=2), "stride is only used with patch"),
])
def test_argument_errors(tmp_path, kwargs, match):
    save(tmp_path / "a.png", np.zeros((3, 3), np.uint8))
    with pytest.raises(ValueError, match=match):
        load_image_folder(tmp_path, **kwargs)


def test_image_larger_than_max_pixels_is_refused_before_decoding(tmp_path):
    save(tmp_path / "a.png", np.zeros((10, 20), np.uint8))
    assert load_image_folder(tmp_path, mode="L", max_pixels=200)[0].shape == (1, 10, 20)
    assert load_image_folder(tmp_path, mode="L", max_pixels=None)[0].shape == (1, 10, 20)
    with pytest.raises(DatasetError, match=r"image of 20x10 pixels .* larger than max_pixels = 199") as info:
        load_image_folder(tmp_path, mode="L", max_pixels=199)
    assert "a.png" in str(info.value)
    for bad in (0, True, 2.5, "100"):
        with pytest.raises(ValueError, match="max_pixels must be a positive int or None"):
            load_image_folder(tmp_path, max_pixels=bad)


def test_fifo_named_like_an_image_is_skipped_unopened(tmp_path):
    import os

    save(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    os.mkfifo(tmp_path / "b.png")  # opening it would block until a writer came
    images, names = load_image_folder(tmp_path, mode="L")
    assert names == ["a.png"]
