"""nnlite.data.patches: random patches of photos of any sizes, with the 8 flips / rotations.

Every image is filled with distinct values (a random permutation), so a patch can be located exactly:
its top-left value (after undoing the transform) names the image and the position.
"""
import numpy as np
import pytest
from PIL import Image

from nnlite.data import DatasetError
from nnlite.data.patches import center_crop, read_photos, sample_patches, transform_patch


def _distinct_images(shapes, seed=0):
    """Images whose every value (over all images and channels) is distinct."""
    total = sum(int(np.prod(s)) for s in shapes)
    values = np.random.default_rng(seed).permutation(total).astype(np.float32) / total
    out, start = [], 0
    for s in shapes:
        n = int(np.prod(s))
        out.append(values[start:start + n].reshape(s))
        start += n
    return out


def _locate(patch, images, size):
    """The one ``(image index, row, col, k)`` with ``transform_patch(crop, k) == patch``; fails if none."""
    matches = []
    for k in range(8):
        crop = transform_inverse(patch, k)
        corner = crop[0, 0] if crop.ndim == 2 else crop[0, 0, 0]
        for i, im in enumerate(images):
            for r, c in np.argwhere((im if im.ndim == 2 else im[..., 0]) == corner):
                if np.array_equal(im[r:r + size, c:c + size], crop):
                    matches.append((i, int(r), int(c), k))
    assert len(matches) == 1, f"the patch is a transformed crop of {len(matches)} places, expected 1: {matches}"
    return matches[0]


def transform_inverse(patch, k):
    """The crop that ``transform_patch(crop, k)`` turns into ``patch``."""
    out = patch[:, ::-1] if k >= 4 else patch
    return np.rot90(out, -(k % 4), axes=(0, 1))


def test_transform_patch_gives_8_distinct_symmetries_and_the_inverse_undoes_them():
    p = np.arange(9).reshape(3, 3)
    seen = {transform_patch(p, k).tobytes() for k in range(8)}
    assert len(seen) == 8
    np.testing.assert_array_equal(transform_patch(p, 0), p)
    for k in range(8):
        np.testing.assert_array_equal(transform_inverse(transform_patch(p, k), k), p)


@pytest.mark.parametrize("channels", [None, 3])
def test_every_patch_is_an_exact_transformed_crop_and_all_8_transforms_occur(channels):
    shapes = [(20, 31), (17, 17), (40, 25)]
    if channels:
        shapes = [s + (channels,) for s in shapes]
    images = _distinct_images(shapes)
    P = sample_patches(images, 9, 200, random_state=1)
    assert P.shape == ((200, 9, 9) if channels is None else (200, 9, 9, 3)) and P.dtype == np.float32
    ks = set()
    for p in P:
        i, r, c, k = _locate(p, images, 9)
        ks.add(k)
    assert ks == set(range(8))


def test_without_augment_patches_are_plain_crops():
    images = _distinct_images([(30, 30, 3), (12, 50, 3)])
    P = sample_patches(images, 8, 60, random_state=2, augment=False)
    assert {_locate(p, images, 8)[3] for p in P} <= {0}
    for p in P:      # k = 0 is the only match: located as a plain crop
        i, r, c, _ = _locate(p, images, 8)
        np.testing.assert_array_equal(images[i][r:r + 8, c:c + 8], p)


def test_the_same_seed_gives_the_same_patches():
    images = _distinct_images([(30, 40), (25, 25)])
    a = sample_patches(images, 7, 50, random_state=5)
    np.testing.assert_array_equal(a, sample_patches(images, 7, 50, random_state=5))
    assert not np.array_equal(a, sample_patches(images, 7, 50, random_state=6))


def test_an_image_is_picked_in_proportion_to_its_positions():
    # positions: (10-4+1)^2 = 49 and (40-4+1)*(22-4+1) = 703 -> p = 49/752 = 0.0652 for the small one
    small = np.zeros((10, 10), np.float32)
    big = np.ones((40, 22), np.float32)
    n = 20000
    P = sample_patches([small, big], 4, n, random_state=0, augment=False)
    frac = (P[:, 0, 0] == 0).mean()
    p = 49 / 752
    assert abs(frac - p) < 5 * np.sqrt(p * (1 - p) / n), (frac, p)     # 5 standard errors: fails < 1e-6


def test_positions_are_uniform_over_the_image():
    im = np.arange(12 * 12, dtype=np.float32).reshape(12, 12)
    P = sample_patches([im], 3, 20000, random_state=3, augment=False)
    tops = P[:, 0, 0].astype(int)
    counts = np.bincount(tops // 12, minlength=10)[:10]           # rows 0..9 are the 10 possible tops
    expected = 20000 / 10
    assert counts.sum() == 20000
    assert np.abs(counts - expected).max() < 5 * np.sqrt(expected * 0.9), counts


def test_a_stack_of_images_works_like_a_list():
    stack = np.stack(_distinct_images([(16, 16, 3)] * 3))
    np.testing.assert_array_equal(sample_patches(stack, 5, 10, random_state=0),
                                  sample_patches(list(stack), 5, 10, random_state=0))


@pytest.mark.parametrize("images, size, n, fragment", [
    ([np.zeros((10, 12))], 11, 5, "images[0] is 10x12 pixels, smaller than a 11x11 patch"),
    ([np.zeros((20, 20)), np.zeros((20, 20, 3))], 4, 5, "mix channel layouts"),
    ([np.zeros((20, 20, 3)), np.zeros((20, 20, 4))], 4, 5, "mix channel layouts (3 channels, 4 channels)"),
    ([np.zeros((20, 20))], 4, 0, "n must be an int >= 1, got 0"),
    ([np.zeros((20, 20))], 0, 3, "size must be an int >= 1, got 0"),
    ([], 4, 3, "images is empty"),
    ([np.zeros(20)], 4, 3, "images[0] must be a numeric array (H, W) or (H, W, C), got shape (20,)"),
    (np.zeros((20, 20)), 4, 3, "a stack (N, H, W) or (N, H, W, C), got shape (20, 20)"),
])
def test_errors_say_what_arrived_and_what_is_expected(images, size, n, fragment):
    with pytest.raises(ValueError) as info:
        sample_patches(images, size, n)
    assert fragment in str(info.value), str(info.value)


def test_center_crop():
    im = np.arange(10 * 7).reshape(10, 7)
    np.testing.assert_array_equal(center_crop(im, 4), im[3:7, 1:5])
    np.testing.assert_array_equal(center_crop(im, 8), im[1:9, :])       # the short side is kept whole


def test_read_photos_reads_every_size_whole(tmp_path):
    rng = np.random.default_rng(0)
    for name, (h, w) in {"a.png": (20, 30), "sub/b.png": (33, 17)}.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(tmp_path / name)
    images, names = read_photos(tmp_path)
    assert names == ["a.png", "sub/b.png"]
    assert [im.shape for im in images] == [(20, 30, 3), (33, 17, 3)]
    grey, _ = read_photos(tmp_path, mode="L")
    assert grey[1].shape == (33, 17) and grey[1].dtype == np.float32
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError):
        read_photos(tmp_path)
    skipped = []
    with pytest.warns(UserWarning, match="bad.png"):
        images, names = read_photos(tmp_path, skipped=skipped)
    assert len(images) == 2 and skipped[0][0] == "bad.png"
