"""A range of noise levels ``noise_level=(low, high)``: one level per image, drawn uniformly (blind denoising).

The levels are measured where nothing clips: Gaussian noise of sigma <= 0.1 on a constant grey 0.5 image
stays inside [0, 1] unless a draw is beyond 5 sigma, and the standard deviation of 64x64 = 4096 values
estimates sigma to within 5 * sigma / sqrt(2 * 4096) = 5.5% (5 standard errors).
"""
import numpy as np
import pytest

from nnlite.checkpoint import save_checkpoint
from nnlite.models import DenoisingAutoencoder
from nnlite.models.conv import ResidualDenoiser
from nnlite.models.persistence import restore_model

LOW, HIGH = 0.02, 0.1
GREY = np.full((200, 1, 64, 64), 0.5, np.float32)


def _sigmas(noisy):
    d = (noisy - 0.5).reshape(len(noisy), -1)
    assert d.min() > -0.5 and d.max() < 0.5, "clipped: the std would be biased"
    return d.std(axis=1)


def test_add_noise_gives_each_image_its_own_level_in_the_range():
    model = ResidualDenoiser(noise="gaussian", noise_level=(LOW, HIGH), random_state=0)
    s = _sigmas(model.add_noise(GREY, random_state=3))
    assert (s > LOW * (1 - 0.055)).all() and (s < HIGH * (1 + 0.055)).all(), (s.min(), s.max())
    assert s.std() > 0.015                     # uniform on [0.02, 0.1]: std 0.023; one level: ~0.001
    # the measured levels fill the range: some below 0.04, some above 0.08
    assert (s < 0.04).sum() > 20 and (s > 0.08).sum() > 20
    # the same seed, the same noise; another seed, other noise
    np.testing.assert_array_equal(model.add_noise(GREY, random_state=3), model.add_noise(GREY, random_state=3))
    assert not np.array_equal(model.add_noise(GREY, random_state=3), model.add_noise(GREY, random_state=4))


def test_the_levels_are_the_first_draws_of_the_generator():
    model = ResidualDenoiser(noise="gaussian", noise_level=(LOW, HIGH))
    rng = np.random.default_rng(7)
    levels = rng.uniform(LOW, HIGH, len(GREY))
    noise = [np.float32(level) * rng.standard_normal(GREY.shape[1:], dtype=np.float32) for level in levels]
    expected = np.clip(GREY + np.stack(noise), 0, 1)
    np.testing.assert_array_equal(model.add_noise(GREY, random_state=7), expected)


def test_a_pair_of_equal_levels_is_that_level():
    model = ResidualDenoiser(noise="gaussian", noise_level=(0.05, 0.05))
    s = _sigmas(model.add_noise(GREY, random_state=0))
    assert abs(s.mean() - 0.05) < 0.001 and s.std() < 0.003


def test_training_batches_get_per_image_levels_and_validation_repeats(monkeypatch):
    model = ResidualDenoiser(noise="gaussian", noise_level=[LOW, HIGH], width=4, depth=2, epochs=1, batch_size=8,
                             random_state=0)
    X = np.random.default_rng(0).uniform(0.4, 0.6, (16, 1, 8, 8)).astype(np.float32)
    seen = []
    real = ResidualDenoiser._corrupt_with_levels

    def spy(self, x, rng):                     # the training step's noise: drawn from the model's own generator
        out, levels = real(self, x, rng)
        if rng is self._rng:
            seen.append(out - x)
        return out, levels

    monkeypatch.setattr(ResidualDenoiser, "_corrupt_with_levels", spy)
    model.fit(X, validation_data=X[:4])
    stds = np.concatenate([d.reshape(len(d), -1).std(axis=1) for d in seen])
    assert len(stds) == 16 and stds.std() > 0.01, stds
    model._val_noise.reset()                   # what every epoch begins with
    v1 = model._val_input(GREY[:8])
    model._val_noise.reset()
    np.testing.assert_array_equal(model._val_input(GREY[:8]), v1)
    s = _sigmas(v1)
    assert s.std() > 0.005 and (s > LOW * 0.94).all() and (s < HIGH * 1.06).all()


def test_seeded_fits_with_a_range_are_identical_and_differ_from_one_level():
    X = np.random.default_rng(1).uniform(0, 1, (16, 1, 8, 8)).astype(np.float32)
    kw = dict(noise="gaussian", width=4, depth=2, epochs=2, batch_size=8, random_state=0)
    a = ResidualDenoiser(noise_level=(0.0, 0.25), **kw).fit(X)
    b = ResidualDenoiser(noise_level=(0.0, 0.25), **kw).fit(X)
    c = ResidualDenoiser(noise_level=0.125, **kw).fit(X)
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
    assert any(not np.array_equal(pa.data, pc.data) for pa, pc in zip(a.parameters(), c.parameters()))


def test_checkpoint_round_trip_of_a_range_model(tmp_path):
    X = np.random.default_rng(2).uniform(0, 1, (8, 8, 8, 3)).astype(np.float32)
    model = ResidualDenoiser(noise="gaussian", noise_level=(0.0, 0.25), width=4, depth=2, epochs=1, random_state=0)
    model.fit(X)
    path = save_checkpoint(tmp_path / "m.npz", model)
    back = restore_model(path)
    assert list(back.noise_level) == [0.0, 0.25]
    assert back.get_config()["noise_level"] == [0.0, 0.25]
    np.testing.assert_array_equal(back.denoise(X[0]), model.denoise(X[0]))
    np.testing.assert_array_equal(back.add_noise(X, random_state=5), model.add_noise(X, random_state=5))


def test_the_mlp_denoiser_takes_a_range_too():
    dae = DenoisingAutoencoder(noise="masking", noise_level=(0.1, 0.9))
    x = np.full((300, 400), 0.5, np.float32)
    frac = (dae.add_noise(x, random_state=0) == 0).mean(axis=1)
    assert frac.min() > 0.02 and frac.max() < 0.98 and frac.std() > 0.15


@pytest.mark.parametrize("level, fragment", [
    ((0.1,), "pair (low, high)"),
    ((0.1, 0.2, 0.3), "pair (low, high)"),
    ((0.2, 0.1), "low <= high"),
    ((0.0, float("nan")), "finite"),
    (("a", 0.1), "pair (low, high)"),
    ((-0.1, 0.2), "must be >= 0"),
    ("0.1", "finite number or a pair"),
])
def test_range_errors_name_the_argument_and_what_arrived(level, fragment):
    with pytest.raises(ValueError, match="noise_level") as info:
        ResidualDenoiser(noise="gaussian", noise_level=level).add_noise(GREY[:1], random_state=0)
    assert fragment in str(info.value) and repr(level) in str(info.value), str(info.value)


def test_a_probability_range_must_stay_in_0_1():
    with pytest.raises(ValueError, match=r"noise_level \(probability p of 'masking'\) must be in \[0, 1\], got "
                                         r"\(0.5, 1.5\)"):
        DenoisingAutoencoder(noise="masking", noise_level=(0.5, 1.5)).add_noise(GREY[0, 0], random_state=0)
