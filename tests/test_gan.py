"""GAN and AdversarialDenoiser: both players' gradients, checked numerically, and the training protocol.

The adversarial losses themselves are tested in test_losses.py, the sample judges in test_metrics.py.

Gradchecks (:func:`nnlite.check_loss_gradients`) run in float64 with CS231n's relative error (< 1e-7) and
a central-difference step of 1e-4 on scalar losses of size ~1 (with 1e-6, float64 round-off in the loss alone is ~1e-10 per difference,
too close to the smallest gradient entries). The LeakyReLU kinks are measure-zero: with these random
inputs no pre-activation lies within 1e-4 of 0 (the check would fail loudly if one did).
"""
import math

import numpy as np
import pytest

from nnlite import LambdaCallback
from nnlite.gradcheck import check_loss_gradients
from nnlite.layers import Linear, Sequential, Tanh
from nnlite.models import GAN, AdversarialDenoiser, NotFittedError, SaveSamples

TOL = 1e-7
EPS = 1e-4


# ---------------------------------------------------------------------------------------- both players
def tiny_gan(seed=0, n=6, **kw):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.0, 1.0, size=(n, 5))
    params = dict(latent_dim=3, generator_hidden=(4,), discriminator_hidden=(4,), dropout=0.0, epochs=1,
                  batch_size=n, dtype=np.float64, random_state=seed, label_smoothing=0.1)
    params.update(kw)
    return GAN(**params).fit(X), X, rng.standard_normal((n, 3))


def _check_all(model, loss_and_grad, inputs, names):
    """Central differences (step EPS) of the parameters under ``names``; the model's dropout generators
    are restored before every evaluation, so each one sees the same masks."""
    return check_loss_gradients(model, *inputs, loss_and_grad=loss_and_grad, only=names, eps=EPS, stencil=3)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("generator_loss", ["non_saturating", "minimax"])
def test_gradcheck_discriminator_loss_every_parameter(seed, generator_loss):
    model, X, Z = tiny_gan(seed, generator_loss=generator_loss)
    result = _check_all(model, model.discriminator_loss_and_grad, (X, Z), "discriminator_")
    assert len(result.errors) == 4
    assert result.passed, f"relative errors above {TOL}:\n{result}"
    for name, g in result.analytic.items():     # fakes are constants for L_D: nothing reaches the generator
        if name.startswith("generator_"):
            assert not g.any(), name


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("generator_loss", ["non_saturating", "minimax"])
def test_gradcheck_generator_loss_every_parameter_of_both_players(seed, generator_loss):
    model, X, Z = tiny_gan(seed, generator_loss=generator_loss)
    result = _check_all(model, model.generator_loss_and_grad, (Z,), ("generator_", "discriminator_"))
    assert len(result.errors) == 8
    assert result.passed, f"relative errors above {TOL}:\n{result}"


def test_gradcheck_with_dropout_in_the_discriminator():
    model, X, Z = tiny_gan(2, dropout=0.3)
    gens = model.random_generators()
    assert gens, "the dropout layers should hold a generator"
    model.train()
    result = _check_all(model, model.generator_loss_and_grad, (Z,), ("generator_", "discriminator_"))
    assert len(result.errors) == 8
    assert result.passed, f"relative errors above {TOL}:\n{result}"
    # the masks matter: a fresh draw of them gives another loss
    first = model.generator_loss_and_grad(Z)
    assert model.generator_loss_and_grad(Z) != first


def _params(module):
    return {n: p.data.copy() for n, p in module.named_parameters()}


def test_discriminator_update_leaves_generator_alone_and_vice_versa():
    model, X, _ = tiny_gan(3, dtype=np.float32)
    model.train()
    model._real_target = 0.9
    x = model._to_player_range(X.astype(np.float32))
    g0, d0 = _params(model.generator_), _params(model.discriminator_)
    model._discriminator_step(x)
    g1, d1 = _params(model.generator_), _params(model.discriminator_)
    for n in g0:
        np.testing.assert_array_equal(g0[n], g1[n], err_msg=f"D's update moved the generator's {n}")
    assert any(not np.array_equal(d0[n], d1[n]) for n in d0), "D's update did not move D"
    model._generator_step()
    g2, d2 = _params(model.generator_), _params(model.discriminator_)
    for n in d1:
        np.testing.assert_array_equal(d1[n], d2[n], err_msg=f"G's update moved the discriminator's {n}")
    assert all(not np.array_equal(g1[n], g2[n]) for n in g1), "G's update did not move every G parameter"
    assert all(not p.grad.any() for p in model.discriminator_.parameters()), "D's share of G's gradient was kept"


def test_seeded_fit_is_bit_for_bit_reproducible():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(40, 6)).astype(np.float32)
    kw = dict(latent_dim=4, generator_hidden=(8,), discriminator_hidden=(8,), epochs=3, batch_size=16, d_steps=2)
    a = GAN(random_state=5, **kw).fit(X)
    b = GAN(random_state=5, **kw).fit(X)
    c = GAN(random_state=6, **kw).fit(X)
    for (n, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(pa.data, pb.data, err_msg=n)
    for k in ("d_loss", "g_loss", "d_real", "d_fake", "sample_pixel_std"):
        assert a.history_[k] == b.history_[k], k
    np.testing.assert_array_equal(a.sample(5, random_state=1), b.sample(5, random_state=1))
    assert not np.array_equal(a.generator_[0].weight.data, c.generator_[0].weight.data)


def test_sample_shape_range_and_history():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(32, 4, 4))
    gan = GAN(latent_dim=2, generator_hidden=(8,), discriminator_hidden=(8,), epochs=2, random_state=0).fit(X)
    s = gan.sample(7)
    assert s.shape == (7, 4, 4) and s.min() >= 0 and s.max() <= 1
    np.testing.assert_array_equal(gan.sample(3, random_state=4), gan.sample(3, random_state=4))
    assert not np.array_equal(gan.sample(3), gan.sample(3))            # the model's own generator advances
    for k in ("d_loss", "g_loss", "d_real", "d_fake", "sample_pixel_std", "sample_mean"):
        assert len(gan.history_[k]) == 2, k
    assert 0 < gan.data_pixel_std_ < 0.5


def test_gan_learns_two_modes():
    # 2-pixel "images" from two clusters; a collapsed generator would put everything in one of them
    rng = np.random.default_rng(0)
    centers = np.array([[0.2, 0.25], [0.8, 0.75]])
    X = np.clip(centers[rng.integers(0, 2, 512)] + rng.normal(0, 0.04, (512, 2)), 0, 1)
    gan = GAN(latent_dim=4, generator_hidden=(32, 32), discriminator_hidden=(32, 32), dropout=0.0, lr=2e-3,
              epochs=40, batch_size=64, random_state=0).fit(X)
    s = gan.sample(1000, random_state=0)
    near = np.argmin(((s[:, None, :] - centers[None]) ** 2).sum(-1), axis=1)
    share = np.bincount(near, minlength=2) / len(s)
    dist = np.sqrt(((s[:, None, :] - centers[None]) ** 2).sum(-1)).min(axis=1)
    assert share.min() > 0.25, share
    assert np.median(dist) < 0.12, np.median(dist)


def test_custom_players_are_copied_and_checked():
    G = Sequential(Linear(3, 6, random_state=0), Tanh())
    D = Sequential(Linear(6, 4, random_state=1), Tanh(), Linear(4, 1, random_state=2))
    X = np.random.default_rng(0).uniform(size=(10, 6))
    w = G[0].weight.data.copy()
    gan = GAN(generator=G, discriminator=D, latent_dim=3, epochs=2, random_state=0).fit(X)
    np.testing.assert_array_equal(G[0].weight.data, w)                 # the user's module is not trained
    assert gan.generator_ is not G
    with pytest.raises(ValueError, match="expected flat samples of 7 features"):
        GAN(generator=G, latent_dim=3, epochs=1).fit(np.zeros((4, 7)))
    bad_d = Sequential(Linear(6, 2, random_state=0))
    with pytest.raises(ValueError, match=r"one logit per sample, shape \(N, 1\)"):
        GAN(generator=G, discriminator=bad_d, latent_dim=3, epochs=1).fit(X)


def test_dcgan_players_train_and_sample():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(16, 8, 8)).astype(np.float32)
    gan = GAN(generator="dcgan", latent_dim=4, channels=4, epochs=1, batch_size=8, random_state=0).fit(X)
    assert type(gan.discriminator_[1]).__name__ == "Conv2d"
    assert type(gan.generator_[2]).__name__ == "ConvTranspose2d"
    s = gan.sample(3, random_state=0)
    assert s.shape == (3, 8, 8) and np.isfinite(s).all()
    with pytest.raises(ValueError, match="multiples of 4"):
        GAN(generator="dcgan", epochs=1).fit(np.zeros((4, 6, 6)))


def test_dcgan_gradcheck_generator_loss():
    """The conv players' wiring, checked to 1e-5 (not 1e-7): batch norm over a batch of 8 makes the loss
    strongly curved in the weights before it, and the ReLU after it puts many values near its kink, so
    central differences themselves are only that accurate here. The weights feeding batch norm are scaled
    by 10 (the function is unchanged, its curvature drops ~100x). Each layer's own exact float64 check
    is in the layer tests."""
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(8, 8, 8))
    gan = GAN(generator="dcgan", latent_dim=3, channels=2, epochs=1, batch_size=8, dtype=np.float64,
              random_state=0).fit(X)
    gan.train()                       # batch norm in training mode, as during fit
    gan.generator_[2].weight.data *= 10
    gan.discriminator_[3].weight.data *= 10
    Z = rng.standard_normal((8, 3))
    result = check_loss_gradients(gan, Z, loss_and_grad=gan.generator_loss_and_grad, eps=1e-5, stencil=3,
                                  tol=1e-5)
    assert len(result.errors) == len(gan.parameters()) and result.passed, str(result)


def test_argument_errors_and_not_fitted():
    X = np.random.default_rng(0).uniform(size=(8, 4))
    for kw, msg in [(dict(generator="vgg"), r"generator must be None, one of \['mlp', 'dcgan'\]"),
                    (dict(label_smoothing=0.7), "label_smoothing must be a number in"),
                    (dict(generator_loss="wasserstein"), "generator_loss must be one of"),
                    (dict(d_steps=0), "d_steps must be an int >= 1"),
                    (dict(betas=(0.5,)), "betas must be a pair")]:
        with pytest.raises(ValueError, match=msg):
            GAN(epochs=1, **kw).fit(X)
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        GAN(epochs=1).fit(X * 255)
    with pytest.raises(NotFittedError):
        GAN().sample(3)
    with pytest.raises(ValueError, match="epoch"):
        SaveSamples("samples.png")


def test_save_samples_writes_one_png_per_epoch(tmp_path):
    X = np.random.default_rng(0).uniform(size=(16, 4, 4))
    cb = SaveSamples(str(tmp_path / "s_{epoch:02d}.png"), n=4)
    GAN(latent_dim=2, generator_hidden=(4,), discriminator_hidden=(4,), epochs=2, random_state=0).fit(
        X, callbacks=[cb])
    assert [p.split("/")[-1] for p in cb.paths] == ["s_01.png", "s_02.png"]
    assert all((tmp_path / n).stat().st_size > 1000 for n in ("s_01.png", "s_02.png"))


def _trainers_seen():
    """A callback recording the trainers it runs in (to look at the optimizer the model hands them)."""
    seen = []
    return seen, LambdaCallback(on_train_begin=seen.append)


def test_fit_takes_lr_and_callbacks_like_every_model():
    X = np.random.default_rng(0).uniform(size=(12, 4))
    seen, cb = _trainers_seen()
    epochs = []
    ends = LambdaCallback(on_epoch_end=lambda tr, ep, logs: epochs.append(ep))
    gan = GAN(latent_dim=2, generator_hidden=(4,), discriminator_hidden=(4,), epochs=2, random_state=0)
    gan.fit(X, lr=1e-3, callbacks=[cb, ends])
    assert epochs == [1, 2] and gan.opt_g_.lr == 1e-3 and gan.opt_d_.lr == 1e-3
    gan = GAN(latent_dim=2, generator_hidden=(4,), discriminator_hidden=(4,), d_lr=5e-4, epochs=1, random_state=0)
    gan.fit(X, lr=1e-3)
    assert gan.opt_g_.lr == 1e-3 and gan.opt_d_.lr == 5e-4
    # the optimizer the Trainer checkpoints: both players' states, under the names checkpoints use
    state = seen[0].optimizer.state_dict()
    assert list(state) == ["type", "generator", "discriminator"] and state["type"] == "_Players"
    assert state["generator"]["step_count"] == state["discriminator"]["step_count"] == 2   # 12 samples, batch 12


# ---------------------------------------------------------------------------------------- adversarial denoiser
def test_adversarial_denoiser_gradcheck_every_autoencoder_parameter():
    rng = np.random.default_rng(0)
    clean = rng.uniform(0.6, 0.95, size=(4, 6))
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1)
    model = AdversarialDenoiser(adversarial_weight=0.5, latent_dim=3, hidden=(), discriminator_hidden=(4,),
                                dropout=0.0, noise="gaussian", epochs=1, batch_size=4, dtype=np.float64,
                                random_state=0).fit(clean)
    autoencoder = [n for n, _ in model.named_parameters() if not n.startswith("discriminator_")]
    result = check_loss_gradients(model, noisy, clean, only=("encoder_", "decoder_"), eps=EPS, stencil=3)
    assert set(result.errors) == set(autoencoder) | {"input"} and result.passed, str(result)
    for n, g in result.analytic.items():
        if n.startswith("discriminator_"):
            assert not g.any(), f"{n}: the discriminator's share must be discarded"


def test_adversarial_weight_zero_is_the_reconstruction_loss():
    rng = np.random.default_rng(1)
    X = rng.uniform(size=(20, 9))
    model = AdversarialDenoiser(adversarial_weight=0.0, latent_dim=3, epochs=2, noise="gaussian",
                                random_state=0).fit(X)
    loss, _ = model.loss_and_grad(X)
    assert loss == pytest.approx(model.compute_loss(X), rel=1e-6)
    d0 = _params(model.discriminator_)
    assert "d_loss" not in model.history_
    model2 = AdversarialDenoiser(adversarial_weight=0.1, latent_dim=3, epochs=2, noise="gaussian",
                                 random_state=0).fit(X)
    assert "adv" in model2.history_ and "d_loss" in model2.history_
    assert any(not np.array_equal(d0[n], p.data) for n, p in model2.discriminator_.named_parameters())
    assert model2.reconstruct(X).shape == X.shape



def test_adversarial_denoiser_fit_honours_callbacks():
    X = np.random.default_rng(2).uniform(size=(16, 6))
    seen, cb = _trainers_seen()
    epochs = []
    ends = LambdaCallback(on_epoch_end=lambda tr, ep, logs: epochs.append((ep, "d_loss" in logs)))
    model = AdversarialDenoiser(adversarial_weight=0.1, latent_dim=3, hidden=(4,), discriminator_hidden=(4,),
                                noise="gaussian", epochs=2, batch_size=8, random_state=0)
    model.fit(X, callbacks=[cb, ends])
    assert epochs == [(1, True), (2, True)]
    state = seen[0].optimizer.state_dict()
    assert list(state) == ["type", "model", "discriminator"] and state["type"] == "_WithDiscriminator"
    steps = 2 * math.ceil(len(X) * model.n_copies_ / 8)                 # 2 epochs of n_copies_ noisy copies
    assert state["discriminator"]["step_count"] == model.opt_d_.step_count == steps


@pytest.mark.parametrize("kw, name", [(dict(discriminator_hidden=0), "discriminator_hidden"),
                                      (dict(discriminator_hidden=(4, -1)), "discriminator_hidden"),
                                      (dict(hidden=(0,)), "hidden")])
def test_adversarial_denoiser_errors_name_the_argument(kw, name):
    with pytest.raises(ValueError, match=rf"AdversarialDenoiser: {name} must be a tuple of layer widths"):
        AdversarialDenoiser(epochs=1, **kw).fit(np.zeros((4, 6)))
