"""Every model's ``fit`` speaks one language: the same keywords in the same order, validation data
evaluated after every epoch, and progress on screen by default (``verbose=1``), silence with ``verbose=0``.

The progress bar itself (:class:`nnlite.trainer.ProgressBar`) is tested on fake streams, a terminal and
a log file, with a fake clock where the time between lines matters.
"""
import inspect
import io

import numpy as np
import pytest

import nnlite
import nnlite.trainer as trainer_module
from nnlite import models
from nnlite.trainer import ProgressBar, format_clock

# The keywords every estimator's fit takes after its data, in this order (MLPClassifier's fit also
# takes y and has no batch_size/lr overrides: its signature is checked on its own).
FIT_KEYWORDS = ["epochs", "batch_size", "lr", "validation_data", "verbose", "callbacks"]


def _estimators():
    return sorted((c for c in vars(models).values() if isinstance(c, type) and issubclass(c, models.BaseModel)
                   and c is not models.BaseModel), key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", _estimators(), ids=lambda c: c.__name__)
def test_every_fit_shows_progress_by_default_and_takes_the_same_keywords(cls):
    params = inspect.signature(cls.fit).parameters
    assert params["verbose"].default == 1, f"{cls.__name__}.fit defaults to verbose={params['verbose'].default}"
    names = [n for n in params if n not in ("self", "X", "y")]
    if cls.__name__ == "MLPClassifier":
        assert names == ["epochs", "validation_data", "verbose", "callbacks"], names
    else:
        assert names == FIT_KEYWORDS, f"{cls.__name__}.fit({', '.join(names)})"


def test_trainer_and_fit_show_progress_by_default():
    assert inspect.signature(nnlite.Trainer).parameters["verbose"].default == 1
    assert inspect.signature(nnlite.fit).parameters["verbose"].default == 1


# ------------------------------------------------------------------------------ what a user sees
def _font():
    from nnlite.data import load_font5x7
    return load_font5x7()[0]


def test_a_default_fit_prints_progress_to_stderr_and_verbose_0_prints_nothing(capsys):
    X = _font()
    models.Autoencoder(latent_dim=2, hidden=(8,), epochs=3, random_state=0).fit(X)
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert cap.out == ""
    assert lines and lines[0].startswith("epoch 1/3") and lines[-1].startswith("epoch 3/3"), cap.err
    assert "loss" in lines[-1] and "samples/s" in lines[-1]
    models.Autoencoder(latent_dim=2, hidden=(8,), epochs=3, random_state=0).fit(X, verbose=0)
    assert capsys.readouterr() == ("", "")


def test_thousands_of_tiny_epochs_print_a_line_a_second_not_a_line_each(capsys, monkeypatch):
    # The font autoencoder's default run is 2,000 full-batch epochs of one step each.
    clock = iter(np.arange(0, 1e6, 0.004))           # each reading of the clock: 4 ms later
    monkeypatch.setattr(trainer_module.time, "perf_counter", lambda: float(next(clock)))
    model = models.Autoencoder(latent_dim=2, hidden=(8,), epochs=500, random_state=0).fit(_font())
    lines = capsys.readouterr().err.strip().splitlines()
    assert model.n_epochs_ == 500
    assert lines[0].startswith("epoch 1/500") and lines[-1].startswith("epoch 500/500"), lines[:3]
    assert 3 <= len(lines) <= 40, f"{len(lines)} progress lines for 500 short epochs"


def test_progress_costs_nothing_measurable():
    """Drawing the bar for every batch of a run of tiny batches: its share of the fit's time is small."""
    X = np.random.default_rng(0).random((2048, 16)).astype(np.float32)
    stream = io.StringIO()
    bar = ProgressBar(4, 4 * 512, stream=stream)
    import time
    t0 = time.perf_counter()
    for epoch in range(1, 5):
        for b in range(512):
            bar.update(epoch, b + 1, 512, {"loss": float(X[b, 0])}, 1e5, steps=(epoch - 1) * 512 + b + 1)
        bar.update(epoch, 512, 512, {"loss": 0.5}, 1e5, final=True, steps=epoch * 512)
    bar.finish()
    per_call = (time.perf_counter() - t0) / (4 * 513)
    assert per_call < 20e-6, f"{per_call * 1e6:.1f} us per progress update"


# ------------------------------------------------------------------------------ the bar on its own
class _Terminal(io.StringIO):
    def isatty(self):
        return True


class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


@pytest.fixture
def clock(monkeypatch):
    c = _Clock()
    monkeypatch.setattr(trainer_module.time, "perf_counter", c)
    return c


def test_on_a_terminal_the_line_is_redrawn_in_place_with_the_eta(clock):
    out = _Terminal()
    bar = ProgressBar(2, total_steps=20, stream=out)
    clock.t = 3.0
    bar.update(1, 1, 10, {"loss": 0.5}, 100.0, steps=1)    # the first step (compiling): no ETA from it
    assert out.getvalue().startswith("\repoch 1/2 [") and out.getvalue().endswith("0:03")
    clock.t = 5.0
    bar.update(1, 5, 10, {"loss": 0.5}, 100.0, steps=5)    # 4 steps in 2 s after it, 15 to go: 7.5 s
    assert out.getvalue().endswith("0:05 ETA 0:08"), out.getvalue()
    assert "\n" not in out.getvalue()
    clock.t = 7.0
    bar.update(1, 10, 10, {"loss": 0.25}, 100.0, final=True, steps=10)
    assert out.getvalue().endswith("loss 0.25 100 samples/s 0:07 ETA 0:04\n")    # 9 steps in 4 s; kept
    clock.t = 20.0
    bar.update(2, 10, 10, {"loss": 0.125}, 100.0, final=True, steps=20)
    last = out.getvalue().split("\n")[-2]
    assert last.startswith("\repoch 2/2 [" + "=" * 24 + "] 100%") and last.endswith("0:20"), last   # no ETA at the end
    bar.finish()
    assert out.getvalue().count("\n") == 2


def test_off_a_terminal_one_line_per_epoch_and_a_line_inside_a_long_epoch(clock):
    out = io.StringIO()
    bar = ProgressBar(3, total_steps=300, stream=out)
    for epoch in (1, 2, 3):
        for b in range(1, 101):
            clock.t += 0.2                                  # 20 s an epoch
            bar.update(epoch, b, 100, {"loss": 1.0}, 50.0, steps=(epoch - 1) * 100 + b)
        bar.update(epoch, 100, 100, {"loss": 1.0}, 50.0, final=True, steps=epoch * 100)
    bar.finish()
    lines = out.getvalue().splitlines()
    ends = [line for line in lines if "100%" in line]
    assert [line.split("[")[0] for line in ends] == ["epoch 1/3 ", "epoch 2/3 ", "epoch 3/3 "], lines
    inside = [line for line in lines if "100%" not in line]
    assert 3 <= len(inside) <= 6, lines             # one every 10 s of a 20 s epoch
    assert "\r" not in out.getvalue()


def test_an_early_stop_still_shows_the_last_epoch(clock):
    out = io.StringIO()
    bar = ProgressBar(100, stream=out)
    for epoch in range(1, 6):
        clock.t += 0.01
        bar.update(epoch, 1, 1, {"loss": 1.0 / epoch}, 10.0, final=True)
    bar.finish()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("epoch 1/100") and lines[-1].startswith("epoch 5/100") and len(lines) == 2, lines


@pytest.mark.parametrize("seconds, text", [(0, "0:00"), (7.4, "0:07"), (754, "12:34"), (3723, "1:02:03")])
def test_format_clock(seconds, text):
    assert format_clock(seconds) == text


# ------------------------------------------------------------------------------ GAN.fit as the others
def _tiny_gan(**kw):
    params = dict(latent_dim=3, generator_hidden=(4,), discriminator_hidden=(4,), dropout=0.0, epochs=2,
                  batch_size=6, dtype=np.float64, random_state=0)
    params.update(kw)
    return models.GAN(**params)


def test_gan_fit_evaluates_validation_data_every_epoch_without_changing_the_training():
    rng = np.random.default_rng(0)
    X, Xv = rng.uniform(0, 1, (12, 5)), rng.uniform(0, 1, (7, 5))
    plain = _tiny_gan().fit(X, verbose=0)
    val = _tiny_gan().fit(X, validation_data=Xv, verbose=0)
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert len(val.history_[f"val_{key}"]) == 2, val.history_.keys()
        assert np.all(np.isfinite(val.history_[f"val_{key}"]))
        assert val.history_[key] == plain.history_[key], f"validation changed the training's {key}"
    for (name, a), (_, b) in zip(plain.state_dict().items(), val.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert "val_d_loss" not in plain.history_
    # The numbers are the training step's on the held-out data, forward only, with the fixed codes.
    again = _tiny_gan().fit(X, validation_data=Xv, verbose=0)
    assert again.history_["val_d_loss"] == val.history_["val_d_loss"]
    d_real = val.history_["val_d_real"][-1]
    val.eval()
    logits = val.discriminator_(2 * Xv - 1)               # D sees the tanh generator's range [-1, 1]
    np.testing.assert_allclose(d_real, (1 / (1 + np.exp(-logits))).mean(), rtol=1e-12)


def test_gan_refuses_validation_data_it_cannot_judge():
    X = np.random.default_rng(0).uniform(0, 1, (12, 5))
    with pytest.raises(ValueError, match=r"GAN: validation_data must hold values in \[0, 1\] \(got \[0, 2\]\)"):
        _tiny_gan().fit(X, validation_data=np.full((3, 5), 2.0) * np.eye(3, 5), verbose=0)
    with pytest.raises(ValueError, match="validation_data has shape"):
        _tiny_gan().fit(X, validation_data=np.zeros((3, 4)), verbose=0)


def test_gan_score_says_what_to_use_instead():
    X = np.random.default_rng(0).uniform(0, 1, (12, 5))
    gan = _tiny_gan().fit(X, verbose=0)
    with pytest.raises(NotImplementedError, match="evaluate_samples"):
        gan.score(X)


# ------------------------------------------------------------------------------ help(nnlite.VAE)
def test_vae_help_shows_its_loss_and_a_running_example():
    import doctest

    doc = nnlite.VAE.__doc__
    assert "above" not in doc, "the class docstring refers to text help() does not show"
    assert ".. math::" in doc and "Examples" in doc
    tests = doctest.DocTestFinder().find(nnlite.VAE, "VAE", globs={})
    examples = [e for t in tests if t.name == "VAE" for e in t.examples]
    assert len(examples) >= 4
    runner = doctest.DocTestRunner()
    for t in tests:
        if t.name == "VAE":
            runner.run(t)
    assert runner.failures == 0 and runner.tries >= 4, runner.summarize()
