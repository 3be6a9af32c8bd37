"""Reading users' own images (every Pillow mode people actually have), clear errors, and tiling."""
import numpy as np
import pytest
from PIL import Image

from nnlite.images import (ImageError, apply_tiled, infer_image_shape, list_images, read_image, tile_image, untile,
                           write_image)


def _rgb(h=9, w=13, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_rgb_and_grey_files_keep_their_nature_and_values(tmp_path):
    a = _rgb()
    Image.fromarray(a).save(tmp_path / "c.png")
    Image.fromarray(a[..., 0]).save(tmp_path / "g.png")
    notes = []
    x = read_image(tmp_path / "c.png", notes=notes)
    assert x.shape == (9, 13, 3) and x.dtype == np.float32 and notes == []
    assert np.array_equal(x, a / np.float32(255))
    g = read_image(tmp_path / "g.png")
    assert g.shape == (9, 13) and np.array_equal(g, a[..., 0] / np.float32(255))
    # requested modes: grey -> RGB repeats, colour -> grey is BT.601 luma (with a note)
    assert np.array_equal(read_image(tmp_path / "g.png", mode="RGB")[..., 2], g)
    lum = read_image(tmp_path / "c.png", mode="L", notes=notes)
    np.testing.assert_allclose(lum, x @ np.array([0.299, 0.587, 0.114]), atol=1e-6)
    assert any("converted to grey" in n for n in notes)


def test_rgba_is_composited_on_white_with_a_note(tmp_path):
    a = np.zeros((4, 4, 4), np.uint8)
    a[..., 0] = 255          # red
    a[..., 3] = 255
    a[0, 0, 3] = 0           # one transparent pixel
    a[0, 1, 3] = 128         # one half-transparent pixel
    Image.fromarray(a, "RGBA").save(tmp_path / "t.png")
    notes = []
    x = read_image(tmp_path / "t.png", notes=notes)
    assert x.shape == (4, 4, 3)
    assert np.allclose(x[0, 0], 1.0)                             # transparent -> white
    np.testing.assert_allclose(x[0, 1], [1, 127 / 255, 127 / 255], atol=1e-6)  # half: 128/255 red over white
    assert np.allclose(x[1, 1], [1, 0, 0])
    assert len(notes) == 1 and "t.png" in notes[0] and "composited on a white background" in notes[0]
    a[..., 3] = 255
    Image.fromarray(a, "RGBA").save(tmp_path / "opaque.png")
    with pytest.warns(UserWarning, match=r"opaque\.png: RGBA image: alpha channel \(fully opaque\) dropped"):
        read_image(tmp_path / "opaque.png")


def test_palette_16bit_1bit_and_cmyk(tmp_path):
    a = _rgb()
    Image.fromarray(a).convert("P", palette=Image.Palette.ADAPTIVE, colors=8).save(tmp_path / "p.png")
    notes = []
    p = read_image(tmp_path / "p.png", notes=notes)
    assert p.shape == (9, 13, 3) and "palette image" in notes[0]
    assert len(np.unique(p.reshape(-1, 3), axis=0)) <= 8

    v = np.arange(0, 65536, 65535 // 19, dtype=np.uint16)[:20].reshape(4, 5)
    Image.fromarray(v).save(tmp_path / "g16.png")
    x = read_image(tmp_path / "g16.png", notes=notes)
    assert x.shape == (4, 5) and "16-bit" in notes[-1]
    np.testing.assert_allclose(x, v / 65535.0, rtol=1e-6)  # precision kept, not truncated to 8 bits
    assert len(np.unique(x)) == 20

    Image.fromarray(np.eye(5, dtype=bool)).save(tmp_path / "b.png")
    assert np.array_equal(read_image(tmp_path / "b.png"), np.eye(5))

    Image.fromarray(a).convert("CMYK").save(tmp_path / "c.jpg")
    notes = []
    x = read_image(tmp_path / "c.jpg", notes=notes)
    assert x.shape == (9, 13, 3) and "CMYK image: converted to RGB" in notes[0]


def test_unreadable_files_name_the_file(tmp_path):
    with pytest.raises(ImageError, match=r"missing\.png: no such image file"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "notes.png").write_text("this is not an image")
    with pytest.raises(ImageError, match=r"notes\.png: cannot read the image: not a PNG/JPEG"):
        read_image(tmp_path / "notes.png")
    Image.fromarray(_rgb(64, 64)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"cut\.png: cannot read the image.*truncated"):
        read_image(tmp_path / "cut.png")
    with pytest.raises(ImageError, match="is a folder"):
        read_image(tmp_path)
    with pytest.raises(ValueError, match=r"mode must be None, 'L' \(grey\) or 'RGB', got 'RGBA'"):
        read_image(tmp_path / "full.png", mode="RGBA")


def test_list_images_expands_folders_and_refuses_empty_ones(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageError, match=r"empty: the folder holds no image files"):
        list_images([tmp_path / "empty"])
    (tmp_path / "imgs").mkdir()
    for name in ("b.png", "a.JPG", ".hidden.png", "readme.txt"):
        (tmp_path / "imgs" / name).write_bytes(b"")
    assert [p.name for p in list_images(tmp_path / "imgs")] == ["a.JPG", "b.png"]
    with pytest.raises(ImageError, match=r"nope: no such file or folder"):
        list_images([tmp_path / "nope"])


def test_write_image_round_trip(tmp_path):
    x = np.random.default_rng(1).random((6, 7, 3)).astype(np.float32)
    p = write_image(tmp_path / "out", x)
    assert p.name == "out.png"
    y = read_image(p)
    assert np.abs(y - x).max() <= 0.5 / 255 + 1e-6
    write_image(tmp_path / "g.png", x[..., 0])
    assert read_image(tmp_path / "g.png").shape == (6, 7)
    with pytest.raises(ValueError, match=r"expected an \(H, W\) or \(H, W, 3\) image, got shape \(2, 2, 2\)"):
        write_image(tmp_path / "bad.png", np.zeros((2, 2, 2)))


@pytest.mark.parametrize("shape, tile, stride", [
    ((28, 28), 28, None), ((50, 61), 28, None), ((50, 61), 28, 14), ((10, 3), 28, None),
    ((7, 5, 3), (7, 5), 2), ((1, 40), 8, 8), ((33, 33, 3), 8, 3)])
def test_tiles_cover_every_pixel_and_untile_inverts(shape, tile, stride):
    x = np.random.default_rng(0).random(shape).astype(np.float32)
    tiles, layout = tile_image(x, tile, stride)
    th, tw = (tile, tile) if isinstance(tile, int) else tile
    assert tiles.shape[1:3] == (th, tw)
    np.testing.assert_allclose(untile(tiles, layout), x, rtol=1e-6)
    # every pixel covered: untiling ones gives ones, and marked tiles reach the bottom-right corner
    marks = np.stack([np.full(t.shape, i, np.float32) for i, t in enumerate(tiles)])
    assert untile(marks, layout).shape == x.shape


def test_apply_tiled_handles_channels_and_checks_fn():
    img = np.random.default_rng(2).random((40, 30, 3)).astype(np.float32)
    seen = []

    def invert(flat):
        seen.append(flat.shape)
        return 1.0 - flat

    out = apply_tiled(invert, img, 28, channels=1, stride=14)   # colour image, grey model: per channel
    np.testing.assert_allclose(out, 1.0 - img, atol=1e-6)
    assert all(s[1] == 784 for s in seen)
    grey = img[..., 0]
    out = apply_tiled(lambda f: f, grey, 8, channels=3)          # grey image, colour model
    np.testing.assert_allclose(out, grey, atol=1e-6)
    with pytest.raises(ValueError, match="must return one reconstruction per tile"):
        apply_tiled(lambda f: f[:, :10], grey, 8)


def test_infer_image_shape():
    assert infer_image_shape(35) == (7, 5, 1)
    assert infer_image_shape(784) == (28, 28, 1)
    assert infer_image_shape(3072) == (32, 32, 3)
    with pytest.raises(ValueError, match="cannot tell the image shape of a model with 50 inputs"):
        infer_image_shape(50)
