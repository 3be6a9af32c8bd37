"""Reading users' own images (every Pillow mode people actually have), clear errors, and tiling."""
import numpy as np
import pytest
from PIL import Image

from nnlite.images import (
    ImageError,
    apply_blocks,
    apply_tiled,
    from_nchw,
    infer_image_shape,
    list_images,
    model_image_shape,
    read_image,
    tile_image,
    to_channels_last,
    to_nchw,
    untile,
    write_image,
)


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
    with pytest.raises(ValueError, match=r"expected an \(H, W\), \(H, W, 3\) image.*got shape \(2, 2, 5\)"):
        write_image(tmp_path / "bad.png", np.zeros((2, 2, 5)))
    with pytest.raises(ValueError, match="JPEG has no alpha channel"):
        write_image(tmp_path / "bad.jpg", np.zeros((2, 2, 4)))


@pytest.mark.parametrize("channels", [2, 4])
def test_alpha_round_trips_untouched_with_keep_alpha(tmp_path, channels):
    x = np.random.default_rng(2).random((5, 6, channels)).astype(np.float32)
    p = write_image(tmp_path / "a.png", x)
    y = read_image(p, keep_alpha=True)
    assert y.shape == x.shape and np.abs(y - x).max() <= 0.5 / 255 + 1e-6
    assert read_image(p, mode="RGB", keep_alpha=True).shape == (5, 6, 4)
    with pytest.warns(UserWarning, match="composited on a white background"):
        assert read_image(p).shape == ((5, 6) if channels == 2 else (5, 6, 3))


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


def _mixing_fn(n_in, seed=0):
    """A nonlinear map of flat tiles that mixes the pixels of a tile (so overlaps disagree), row by row
    with no BLAS call (whose rounding may depend on the batch size)."""
    w = np.random.default_rng(seed).standard_normal(n_in).astype(np.float32)
    return lambda flat: np.tanh(flat * w + np.roll(flat, 1, axis=1) - flat.mean(axis=1, keepdims=True))


@pytest.mark.parametrize("shape, tile, stride, channels", [
    ((50, 61), 8, 3, 1), ((50, 61), (8, 6), (5, 6), 1), ((37, 53, 3), 8, 4, 1), ((37, 53, 3), 8, 5, 3),
    ((20, 31), 8, 4, 3), ((5, 90), 16, 8, 1), ((1, 40), 8, 8, 1), ((8, 8), 8, None, 1)])
@pytest.mark.parametrize("batch_size", [1, 7, 256])
def test_apply_tiled_equals_untile_of_every_tile_at_once(shape, tile, stride, channels, batch_size):
    # the obvious twin: cut every tile, run them all, average them back; apply_tiled streams the same
    # work in batches and must give exactly the same bits
    x = np.random.default_rng(1).random(shape).astype(np.float32)
    th, tw = (tile, tile) if isinstance(tile, int) else tile
    fn = _mixing_fn(th * tw * channels)
    planes = [x[..., c] for c in range(x.shape[2])] if x.ndim == 3 and channels == 1 else [x]
    expected = []
    for plane in planes:
        src = np.repeat(plane[..., None], 3, axis=2) if plane.ndim == 2 and channels == 3 else plane
        tiles, layout = tile_image(src, tile, stride)
        out = untile(fn(tiles.reshape(len(tiles), -1)).reshape(tiles.shape), layout)
        expected.append(out.mean(axis=2) if plane.ndim == 2 and channels == 3 else out)
    expected = np.stack(expected, -1) if len(planes) > 1 else expected[0]
    got = apply_tiled(fn, x, tile, channels=channels, stride=stride, batch_size=batch_size)
    assert got.shape == x.shape and got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_apply_tiled_reports_progress_in_tiles():
    calls = []
    x = np.zeros((40, 30, 3), np.float32)
    apply_tiled(lambda f: f, x, 8, channels=1, stride=4, batch_size=10, progress=lambda d, t: calls.append((d, t)))
    # per channel 9 rows (origins 0, 4, ..., 32) x 7 columns (0, 4, ..., 20 and 22 flush with the border)
    total = 3 * 9 * 7
    assert calls[-1] == (total, total) and all(t == total for _, t in calls)
    steps = [b - a for (a, _), (b, _) in zip([(0, 0)] + calls, calls)]
    assert all(1 <= s <= 10 for s in steps)


def test_tiling_arguments_are_checked_by_name():
    # a stride longer than the tile would leave pixels between tiles that no tile covers (NaN)
    with pytest.raises(ValueError, match=r"apply_tiled: stride \(5, 7\) is longer than the tile \(8, 6\)"):
        apply_tiled(lambda f: f, np.zeros((50, 61)), (8, 6), stride=(5, 7))
    with pytest.raises(ValueError, match=r"tile_image: stride \(9, 9\) is longer than the tile \(8, 8\)"):
        tile_image(np.zeros((50, 61)), 8, stride=9)
    with pytest.raises(ValueError, match="apply_tiled: stride must be >= 1, got 0"):
        apply_tiled(lambda f: f, np.zeros((9, 9)), 4, stride=0)
    with pytest.raises(ValueError, match="apply_tiled: batch_size must be an int >= 1, got 0"):
        apply_tiled(lambda f: f, np.zeros((9, 9)), 4, batch_size=0)
    with pytest.raises(ValueError, match=r"tile_image: tile must be an int or a pair of ints, got 'big'"):
        tile_image(np.zeros((9, 9)), "big")


_PEAK_RSS_SCRIPT = """
import resource, sys
import numpy as np
from nnlite.images import apply_tiled
from nnlite.models import DenoisingAutoencoder

side = int(sys.argv[1])
model = DenoisingAutoencoder(latent_dim=2, hidden=(4,), epochs=1, random_state=0)
model.fit(np.random.default_rng(0).random((16, 16 * 16)).astype(np.float32))
image = np.random.default_rng(1).random((side, side), dtype=np.float32)
rss_before = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
out = apply_tiled(lambda flat: model.reconstruct(flat), image, 16)
# VmHWM, this process's own peak: ru_maxrss would carry over the parent's peak at fork (pytest's)
peak = int(next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1]) * 1024
print(out.shape == image.shape, image.nbytes, peak - rss_before)
"""


def test_denoising_a_large_image_through_an_mlp_holds_only_the_output(tmp_path):
    # a 4000 x 4000 grey image through a 16x16 MLP: stacking every tile at once would hold ~40 bytes
    # per pixel (640 MB here, ~120 bytes with overlapping tiles); streamed, the call needs little more
    # than its float32 output
    import subprocess
    import sys

    script = tmp_path / "peak.py"
    script.write_text(_PEAK_RSS_SCRIPT)
    res = subprocess.run([sys.executable, str(script), "4000"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    ok, image_bytes, extra = res.stdout.split()
    assert ok == "True"
    assert int(extra) < int(image_bytes) + 96 * 2**20, (
        f"denoising a {int(image_bytes) / 2**20:.0f} MB image took {int(extra) / 2**20:.0f} MB beyond it")


def test_layouts_round_trip_and_name_the_layout():
    g = np.random.default_rng(3)
    for shape, layout in [((2, 5, 6), "NHW"), ((2, 3, 5, 6), "NCHW"), ((2, 5, 6, 3), "NHWC"), ((2, 1, 5, 6), "NCHW")]:
        X = g.random(shape)
        Y, got = to_nchw(X)
        assert got == layout and Y.ndim == 4 and Y.shape[2:] == (5, 6)
        np.testing.assert_array_equal(from_nchw(Y, got), X)
    with pytest.raises(ValueError, match=r"my_fn: images must be a batch of images.*got shape \(5,\)"):
        to_nchw(np.zeros(5), "images", "my_fn")
    nchw = g.random((4, 3, 5, 6))
    np.testing.assert_array_equal(to_channels_last(nchw, (5, 6, 3)), nchw.transpose(0, 2, 3, 1))
    assert to_channels_last(g.random((4, 30)), (5, 6, 1)).shape == (4, 5, 6)


def test_model_image_shape_from_the_record_the_fit_or_the_size():
    class Fitted:
        pass

    m = Fitted()
    m.input_shape_ = (3, 32, 32)
    assert model_image_shape(m) == (32, 32, 3)
    assert model_image_shape(m, recorded=[7, 5, 1]) == (7, 5, 1)
    m.input_shape_ = (28, 28)
    assert model_image_shape(m) == (28, 28, 1)
    m.input_shape_, m.n_features_in_ = (35,), 35
    assert model_image_shape(m) == (7, 5, 1)


def test_apply_blocks_equals_a_whole_image_pass_for_a_local_fn():
    # a 3x3 box filter sees 1 pixel around: with a margin of 2 every block's centre is exact
    def box(x):
        p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")
        return sum(p[:, :, i:i + x.shape[2], j:j + x.shape[3]] for i in range(3) for j in range(3)) / 9

    x = np.random.default_rng(4).random((2, 1, 37, 50))
    seen = []
    out = apply_blocks(lambda b: seen.append(b.shape) or box(b), x, 16, margin=2, multiple=4)
    np.testing.assert_allclose(out, box(x), atol=1e-12)
    assert max(s[2] for s in seen) <= 16 + 2 * 4 and len(seen) == 3 * 4


def test_infer_image_shape():
    assert infer_image_shape(35) == (7, 5, 1)
    assert infer_image_shape(784) == (28, 28, 1)
    assert infer_image_shape(3072) == (32, 32, 3)
    with pytest.raises(ValueError, match="cannot tell the image shape of a model with 50 inputs"):
        infer_image_shape(50)
