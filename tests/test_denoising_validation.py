"""DenoisingValidation: held-out PSNR after every epoch, on noisy images drawn once."""
import numpy as np
import pytest

from nnlite.callbacks import DenoisingValidation, LambdaCallback
from nnlite.metrics import psnr
from nnlite.models.conv import ResidualDenoiser
from nnlite.models.persistence import fit_resumable
from nnlite.noise import gaussian

RNG = np.random.default_rng(0)
X = RNG.uniform(0, 1, (32, 8, 8, 3)).astype(np.float32)
HELD_OUT = [RNG.uniform(0, 1, (12, 20, 3)).astype(np.float32), RNG.uniform(0, 1, (16, 9, 3)).astype(np.float32)]


def _model(epochs=2):
    return ResidualDenoiser(noise="gaussian", noise_level=(0.0, 0.25), width=4, depth=2, epochs=epochs,
                            batch_size=8, random_state=0)


def test_the_recorded_psnr_is_the_direct_computation():
    cb = DenoisingValidation(HELD_OUT, noise_levels=(0.1, 0.2), random_state=3)
    model = _model().fit(X, callbacks=[cb])
    assert len(model.history_["val_psnr_0.1"]) == 2 and len(model.history_["val_psnr_0.2"]) == 2
    rng = np.random.default_rng(3)
    noisy = {s: [gaussian(im, s, rng) for im in HELD_OUT] for s in (0.1, 0.2)}
    for s in (0.1, 0.2):
        direct = np.mean([psnr(im[None], model.denoise(y)[None]) for im, y in zip(HELD_OUT, noisy[s])])
        assert model.history_[f"val_psnr_{s:g}"][-1] == pytest.approx(direct, rel=1e-12)
        assert np.isfinite(direct) and 5 < direct < 40
    assert model.training is False


def test_validation_changes_no_weight_and_repeats_its_noise():
    a = _model().fit(X)
    cb = DenoisingValidation(HELD_OUT, random_state=0)
    b = _model().fit(X, callbacks=[cb])
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
    assert a.history_["loss"] == b.history_["loss"]
    again = DenoisingValidation(HELD_OUT, random_state=0)
    for s in cb.levels:
        for y1, y2 in zip(cb.noisy[s], again.noisy[s]):
            np.testing.assert_array_equal(y1, y2)
    assert cb.evaluate(b) == again.evaluate(b)


def test_grey_images_and_one_level():
    grey = [im.mean(axis=2) for im in HELD_OUT]
    cb = DenoisingValidation(grey, noise_levels=0.05, random_state=0)
    model = _model(1).fit(X.mean(axis=3), callbacks=[cb])
    assert cb.keys == ["val_psnr_0.05"] and len(model.history_["val_psnr_0.05"]) == 1


def test_resume_continues_the_history(tmp_path):
    full, _ = fit_resumable(_model(2), X, tmp_path / "full" / "c.npz", callbacks=[DenoisingValidation(HELD_OUT)])
    stop = LambdaCallback(on_epoch_end=lambda trainer, epoch, logs: setattr(trainer, "stop_training", True))
    fit_resumable(_model(2), X, tmp_path / "part" / "c.npz", callbacks=[DenoisingValidation(HELD_OUT), stop])
    resumed, start = fit_resumable(_model(2), X, tmp_path / "part" / "c.npz", resume=True, epochs=2,
                                   callbacks=[DenoisingValidation(HELD_OUT)])
    assert start == 1
    assert resumed.history_["val_psnr_0.1"] == full.history_["val_psnr_0.1"]
    assert resumed.history_["val_psnr_0.2"] == full.history_["val_psnr_0.2"]
    assert len(resumed.history_["val_psnr_0.2"]) == 2
    for pa, pb in zip(full.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)


@pytest.mark.parametrize("images, levels, fragment", [
    ([], (0.1,), "non-empty list"),
    ([np.zeros(5)], (0.1,), "got shapes [(5,)]"),
    (HELD_OUT, (-0.1,), "finite sigmas >= 0, got (-0.1,)"),
    (HELD_OUT, (), "finite sigmas >= 0, got ()"),
])
def test_errors(images, levels, fragment):
    with pytest.raises(ValueError, match="DenoisingValidation") as info:
        DenoisingValidation(images, noise_levels=levels)
    assert fragment in str(info.value), str(info.value)
