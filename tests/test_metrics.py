"""psnr and ssim: known values, properties, and a slow per-pixel SSIM twin written from the paper; the
judges of generated samples (nearest distances, evaluate_samples, spread statistics)."""
import math
import warnings

import numpy as np
import pytest

from nnlite.metrics import evaluate_samples, gaussian_window, nearest_distances, psnr, spread_statistics, ssim

# ---------------------------------------------------------------------------------------------- PSNR

def test_psnr_known_value_for_constant_error():
    clean = np.zeros((3, 8, 8))
    assert psnr(clean, clean + 0.1) == pytest.approx(20.0, abs=1e-12)          # 10 log10(1 / 0.01)
    assert psnr(clean * 255, clean * 255 + 25.5, data_range=255) == pytest.approx(20.0, abs=1e-12)
    assert psnr(clean, clean + 0.01) == pytest.approx(40.0, abs=1e-12)


def test_psnr_is_per_image_then_averaged():
    clean = np.zeros((2, 4, 4, 3), np.float32)
    noisy = clean.copy()
    noisy[0] += 0.1            # 20 dB
    noisy[1] += 0.01           # 40 dB
    per = psnr(clean, noisy, reduction="none")
    assert per.shape == (2,)
    np.testing.assert_allclose(per, [20.0, 40.0], atol=1e-5)
    assert psnr(clean, noisy) == pytest.approx(30.0, abs=1e-5)   # mean of per-image PSNRs, not PSNR of mean MSE


def test_psnr_flat_and_image_shapes_agree():
    rng = np.random.default_rng(0)
    x = rng.random((5, 28, 28))
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1)
    np.testing.assert_allclose(psnr(x, y, reduction="none"), psnr(x.reshape(5, 784), y.reshape(5, 784),
                                                                  reduction="none"), rtol=1e-12)


def test_psnr_identical_images_give_inf_without_warning():
    x = np.random.default_rng(1).random((3, 5, 5))
    y = x.copy()
    y[1] += 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        per = psnr(x, y, reduction="none")
        assert psnr(x, x) == math.inf
    assert np.isinf(per[[0, 2]]).all() and per[1] == pytest.approx(20.0)


def test_psnr_validation():
    with pytest.raises(ValueError, match=r"clean \(2, 3, 3\) and estimate \(2, 3, 4\)"):
        psnr(np.zeros((2, 3, 3)), np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="data_range must be a positive number"):
        psnr(np.zeros((2, 3)), np.zeros((2, 3)), data_range=0)
    with pytest.raises(ValueError, match="reduction must be one of"):
        psnr(np.zeros((2, 3)), np.zeros((2, 3)), reduction="sum")
    with pytest.raises(ValueError, match=r"image\[None\]"):
        psnr(np.zeros(3), np.zeros(3))


# ---------------------------------------------------------------------------------------------- SSIM twin

def _mirror(i, n):
    """Index into a signal of length n with half-sample symmetric borders (d c b a | a b c d | d c b a)."""
    if i < 0:
        return -i - 1
    if i >= n:
        return 2 * n - i - 1
    return i


def slow_ssim_grey(x, y, data_range=1.0, sigma=1.5, K1=0.01, K2=0.03):
    """SSIM of one grey image, pixel by pixel with an explicit 2-D Gaussian window (Wang et al. 2004)."""
    radius = int(3.5 * sigma + 0.5)
    taps = np.array([math.exp(-0.5 * (t / sigma) ** 2) for t in range(-radius, radius + 1)])
    win = np.outer(taps, taps) / np.outer(taps, taps).sum()
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    h, w = x.shape
    values = []
    for i in range(radius, h - radius):              # the border of width radius is left out of the mean
        for j in range(radius, w - radius):
            mx = my = sxx = syy = sxy = 0.0
            for a in range(-radius, radius + 1):
                for b in range(-radius, radius + 1):
                    ii, jj = _mirror(i + a, h), _mirror(j + b, w)
                    wt = win[a + radius, b + radius]
                    mx += wt * x[ii, jj]
                    my += wt * y[ii, jj]
                    sxx += wt * x[ii, jj] ** 2
                    syy += wt * y[ii, jj] ** 2
                    sxy += wt * x[ii, jj] * y[ii, jj]
            vx, vy, cxy = sxx - mx * mx, syy - my * my, sxy - mx * my
            values.append((2 * mx * my + c1) * (2 * cxy + c2) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2)))
    return float(np.mean(values))


def test_gaussian_window_matches_paper():
    w = gaussian_window(1.5)
    assert len(w) == 11 and w.sum() == pytest.approx(1.0) and np.argmax(w) == 5
    np.testing.assert_allclose(w, w[::-1])
    assert w[5] / w[6] == pytest.approx(math.exp(0.5 / 1.5 ** 2))


@pytest.mark.parametrize("shape", [(2, 13, 15), (1, 11, 11), (1, 14, 12)])
def test_ssim_matches_slow_twin(shape):
    rng = np.random.default_rng(sum(shape))
    x = rng.random(shape)
    y = np.clip(0.7 * x + 0.3 * rng.random(shape), 0, 1)
    fast = ssim(x, y, reduction="none")
    slow = [slow_ssim_grey(x[i], y[i]) for i in range(shape[0])]
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12,
                               err_msg=f"ours {fast} vs slow twin {slow}")


def test_ssim_twin_with_data_range_and_constants():
    rng = np.random.default_rng(7)
    x = rng.random((1, 12, 12)) * 255
    y = x + rng.normal(0, 20, x.shape)
    got = ssim(x, y, data_range=255, sigma=1.2, K1=0.02, K2=0.05)
    assert got == pytest.approx(slow_ssim_grey(x[0], y[0], 255, 1.2, 0.02, 0.05), rel=1e-10)


# ---------------------------------------------------------------------------------------------- SSIM properties

def test_ssim_identical_is_one_and_symmetric():
    rng = np.random.default_rng(2)
    x = rng.random((4, 16, 16))
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1)
    np.testing.assert_allclose(ssim(x, x, reduction="none"), 1.0, atol=1e-12)
    assert ssim(np.full((1, 12, 12), 0.3), np.full((1, 12, 12), 0.3)) == pytest.approx(1.0)
    assert ssim(x, y) == pytest.approx(ssim(y, x), rel=1e-12)
    assert ssim(x, y) < 1.0


def test_ssim_decreases_with_noise():
    rng = np.random.default_rng(3)
    x = rng.random((3, 24, 24))
    noise = rng.standard_normal(x.shape)
    values = [ssim(x, x + s * noise) for s in (0.01, 0.05, 0.2, 0.5)]
    assert all(a > b for a, b in zip(values, values[1:])), values


def test_ssim_colour_is_mean_over_channels_in_either_layout():
    rng = np.random.default_rng(4)
    x = rng.random((2, 16, 17, 3))
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1)
    per_channel = np.mean([ssim(x[..., c], y[..., c], reduction="none") for c in range(3)], axis=0)
    nhwc = ssim(x, y, channel_axis=-1, reduction="none")
    nchw = ssim(x.transpose(0, 3, 1, 2), y.transpose(0, 3, 1, 2), channel_axis=1, reduction="none")
    np.testing.assert_allclose(nhwc, per_channel, rtol=1e-12)
    np.testing.assert_allclose(nchw, per_channel, rtol=1e-12)
    assert ssim(x, y, channel_axis=3) == pytest.approx(ssim(x, y, channel_axis=-1))


def test_ssim_float32_input_and_chunking_do_not_change_result():
    rng = np.random.default_rng(5)
    x = rng.random((7, 12, 12))
    y = np.clip(x + 0.2 * rng.standard_normal(x.shape), 0, 1)
    ref = ssim(x, y, reduction="none")
    np.testing.assert_allclose(ssim(x, y, reduction="none", chunk=2), ref, rtol=1e-13)
    np.testing.assert_allclose(ssim(x.astype(np.float32), y.astype(np.float32), reduction="none"), ref, rtol=1e-5)


def test_ssim_validation():
    a = np.zeros((2, 16, 16))
    with pytest.raises(ValueError, match=r"clean \(2, 16, 16\) and estimate \(2, 16, 15\)"):
        ssim(a, a[:, :, :15])
    with pytest.raises(ValueError, match="smaller than the 11x11 Gaussian window"):
        ssim(np.zeros((1, 7, 5)), np.zeros((1, 7, 5)))
    with pytest.raises(ValueError, match="for colour pass channel_axis=-1"):
        ssim(np.zeros((1, 16, 16, 3)), np.zeros((1, 16, 16, 3)))
    with pytest.raises(ValueError, match="expected a 4-D batch"):
        ssim(a, a, channel_axis=-1)
    with pytest.raises(ValueError, match="axis 0 is the batch"):
        ssim(np.zeros((1, 3, 16, 16)), np.zeros((1, 3, 16, 16)), channel_axis=0)
    with pytest.raises(ValueError, match="K2 must be a positive number"):
        ssim(a, a, K2=-1)


def test_ssim_camera_matches_ipol_reference(real_data):
    """skimage's published check: camera + N(0, 20^2) noise (np.random.seed(5)), clipped to uint8, has
    mean SSIM 0.357959 by IPOL's imdiff (the C reference of Wang et al.'s Gaussian SSIM)."""
    from PIL import Image

    path = real_data / "photos" / "camera.png"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    cam = np.asarray(Image.open(path))
    np.random.seed(5)
    noisy = np.clip(cam + 20.0 * np.random.randn(*cam.shape), 0, 255).astype(np.uint8)
    assert ssim(cam[None], noisy[None], data_range=255) == pytest.approx(0.357959091663361, abs=1.5e-5)


# ---------------------------------------------------------------------------------------- judging samples
def test_nearest_distances_match_brute_force():
    rng = np.random.default_rng(0)
    A, B = rng.uniform(size=(13, 7)), rng.uniform(size=(29, 7))
    brute = np.sqrt(((A[:, None] - B[None]) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose(nearest_distances(A, B, chunk=5), brute, rtol=1e-5)
    assert nearest_distances(B[:3], B).max() < 1e-3                     # an exact copy is at distance 0


def test_evaluate_samples_sees_collapse_and_copies():
    class OneHot:  # a stand-in classifier: the class is the brightest of 4 pixel blocks
        def predict_proba(self, X):
            blocks = np.asarray(X).reshape(len(X), 4, -1).mean(-1)
            p = np.exp(20 * blocks)
            return p / p.sum(1, keepdims=True)

    rng = np.random.default_rng(0)
    train = np.zeros((400, 4, 4))
    train[np.arange(400), rng.integers(0, 4, 400)] = 1
    train = np.clip(train + rng.uniform(0, 0.3, train.shape), 0, 1).reshape(400, 16)
    test = np.clip(train[:100] + rng.normal(0, 0.1, (100, 16)), 0, 1)
    copies = evaluate_samples(train[:200], OneHot(), train, test)
    assert copies["coverage"] == 1.0 and copies["nn_ratio"] < 0.01 and copies["copies"] > 0.99
    collapsed = evaluate_samples(np.repeat(test[:1], 50, 0), OneHot(), train, test)
    assert collapsed["coverage"] == 0.25 and collapsed["entropy"] == pytest.approx(0.0)


def test_spread_statistics_of_identical_and_of_varied_samples():
    same = np.tile(np.linspace(0, 1, 6), (5, 1))                             # 5 copies of one image
    stats = spread_statistics(same)
    assert stats["pixel_std"] == 0.0 and stats["intensity_std"] == pytest.approx(0.0, abs=1e-15)
    assert stats["mean"] == pytest.approx(0.5)
    two = np.array([[0.0, 0.0], [1.0, 1.0]])                                 # a black and a white image
    stats = spread_statistics(two)
    assert stats == {"pixel_std": 0.5, "mean": 0.5, "intensity_std": 0.5}
