"""VAE: the reparameterisation and KL math, end-to-end gradient checks, sampling statistics, the estimator,
the Gaussian likelihood, the activation specs of its layers and the denoising ELBO (noise=).

Gradient checks are in float64 against CS231n's elementwise relative error < 1e-7, with smooth
activations (tanh) so no ReLU kink sits inside a difference. The pure functions (sampling step, KL)
use plain central differences (eps 1e-6). The whole-model loss uses :func:`nnlite.check_loss_gradients`,
the five-point stencil with h = 1e-3 (see tests/test_autoencoder.py: plain central differences cannot
resolve the gradient's smallest elements of a multi-layer loss to 1e-7).
"""
import numpy as np
import pytest

from nnlite.data import load_emoji12
from nnlite.gradcheck import check_gradient, check_loss_gradients
from nnlite.models import VAE, NotFittedError
from nnlite.models.conv import ConvVAE
from nnlite.models.vae import (
    LOGVAR_MAX,
    gaussian_nll,
    gaussian_nll_backward,
    kl_divergence,
    kl_divergence_backward,
    reparameterize,
    reparameterize_backward,
)

TOL = 1e-7


@pytest.fixture
def stats():
    g = np.random.default_rng(0)
    mu = g.normal(size=(5, 3))
    logvar = g.uniform(-2, 1.5, size=(5, 3))
    eps = g.normal(size=(5, 3))
    R = g.normal(size=(5, 3))
    return mu, logvar, eps, R


# ------------------------------------------------------------------------------- the pure math
def test_sampling_exact_value_with_given_eps():
    mu = np.array([[1.0, -2.0]])
    logvar = np.log(np.array([[4.0, 0.25]]))                 # variances 4 and 1/4 -> std 2 and 1/2
    eps = np.array([[0.5, -3.0]])
    z, std = reparameterize(mu, logvar, eps)
    np.testing.assert_allclose(std, [[2.0, 0.5]], rtol=1e-15)
    np.testing.assert_allclose(z, [[1.0 + 2.0 * 0.5, -2.0 + 0.5 * -3.0]], rtol=1e-15)


def test_sampling_step_gradcheck_mu_and_logvar(stats):
    mu, logvar, eps, R = stats
    res_mu = check_gradient(lambda m: np.sum(reparameterize(m, logvar, eps)[0] * R),
                            lambda m: reparameterize_backward(R, eps, reparameterize(m, logvar, eps)[1])[0], mu)
    res_lv = check_gradient(lambda lv: np.sum(reparameterize(mu, lv, eps)[0] * R),
                            lambda lv: reparameterize_backward(R, eps, reparameterize(mu, lv, eps)[1], lv)[1], logvar)
    assert res_mu.passed, str(res_mu)
    assert res_lv.passed, str(res_lv)


def test_kl_matches_closed_form_and_gradcheck(stats):
    mu, logvar, _, _ = stats
    var = np.exp(logvar)
    # KL(N(mu, var) || N(0, 1)) per dimension = 0.5 (var + mu^2 - 1 - log var), summed over dimensions.
    np.testing.assert_allclose(kl_divergence(mu, logvar), 0.5 * np.sum(var + mu**2 - 1 - logvar, axis=1), rtol=1e-13)
    assert np.all(kl_divergence(mu, logvar) > 0)
    np.testing.assert_allclose(kl_divergence(np.zeros((2, 3)), np.zeros((2, 3))), 0.0, atol=0)
    r_mu = check_gradient(lambda m: kl_divergence(m, logvar).sum(), lambda m: kl_divergence_backward(m, logvar)[0], mu)
    r_lv = check_gradient(lambda lv: kl_divergence(mu, lv).sum(), lambda lv: kl_divergence_backward(mu, lv)[1], logvar)
    assert r_mu.passed, str(r_mu)
    assert r_lv.passed, str(r_lv)
    dmu, dlv = kl_divergence_backward(mu, logvar)
    np.testing.assert_allclose(dmu, mu)
    np.testing.assert_allclose(dlv, 0.5 * (np.exp(logvar) - 1))


def test_logvar_clamp_keeps_float32_finite():
    mu = np.zeros((1, 2), np.float32)
    logvar = np.array([[200.0, -200.0]], np.float32)
    z, std = reparameterize(mu, logvar, np.ones((1, 2), np.float32))
    assert np.all(np.isfinite(z)) and np.all(np.isfinite(kl_divergence(mu, logvar)))
    np.testing.assert_allclose(std[0], np.exp(0.5 * np.array([LOGVAR_MAX, -30.0])), rtol=1e-6)
    _, dlv = kl_divergence_backward(mu, logvar)
    np.testing.assert_array_equal(dlv, 0.0)                    # the clamp's derivative is 0


# ------------------------------------------------------------------------------- the model
def tiny_data(n=5, d=6, seed=0):
    return np.random.default_rng(seed).uniform(0.05, 0.95, size=(n, d))


def fitted_tiny(**kw):
    kw.setdefault("hidden", (5,))
    kw.setdefault("activation", "tanh")
    kw.setdefault("latent_dim", 2)
    return VAE(dtype=np.float64, random_state=0, epochs=2, **kw).fit(tiny_data())


@pytest.mark.parametrize("beta", [1.0, 0.3])
def test_gradcheck_negative_elbo_every_parameter_and_input(beta):
    model = fitted_tiny(beta=beta).double()
    X = tiny_data(4, seed=1)
    eps = np.random.default_rng(2).standard_normal((4, 2))
    assert model.compute_loss(X, eps=eps)["loss"] == pytest.approx(model.loss_and_grad(X, eps=eps)[0], rel=1e-15)
    result = check_loss_gradients(model, X, loss=model.compute_loss, loss_kwargs=dict(eps=eps))
    assert len(result.errors) == 8 + 1                          # 4 Linear layers x (weight, bias), the input
    assert result.passed, f"relative errors above {TOL}:\n{result}"


def test_module_interface_backward_through_sampling():
    # forward(x) draws eps from the model's generator; check_loss_gradients restores its state before
    # every evaluation, so each one sees the same eps (as nnlite.gradcheck does with random_generators()).
    model = fitted_tiny().double()
    R = np.random.default_rng(5).standard_normal((3, 6))
    assert model.random_generators() == [model._rng]

    def projected(x):
        return float(np.sum(model.forward(x) * R)), model.backward(R.copy())

    result = check_loss_gradients(model, tiny_data(3, seed=4), loss_and_grad=projected)
    assert len(result.errors) == 8 + 1 and result.passed, str(result)


def test_model_sampling_uses_exp_half_logvar_as_std():
    # A VAE whose encoder ignores x and outputs fixed (mu, logvar), and whose decoder is sigmoid(z):
    # then logit(forward(x)) are the sampled codes z, whose mean must be mu and std exp(logvar / 2).
    model = VAE(latent_dim=2, hidden=(), dtype=np.float64, epochs=1, random_state=0).fit(tiny_data(4, 2))
    mu, logvar = np.array([1.5, -0.5]), np.log(np.array([0.25, 4.0]))    # std 0.5 and 2 (variances 0.25, 4)
    model.encoder_[0].weight.data[...] = 0
    model.encoder_[0].bias.data[...] = np.concatenate([mu, logvar])
    model.decoder_[0].weight.data[...] = np.eye(2)
    model.decoder_[0].bias.data[...] = 0
    n = 40_000
    p = model.forward(np.zeros((n, 2)))
    z = np.log(p) - np.log1p(-p)
    se_mean = np.array([0.5, 2.0]) / np.sqrt(n)                           # standard errors (5 of them allowed)
    assert np.all(np.abs(z.mean(0) - mu) < 5 * se_mean), z.mean(0)
    assert np.all(np.abs(z.std(0) / np.array([0.5, 2.0]) - 1) < 5 / np.sqrt(2 * n)), z.std(0)
    # and encode() reports exactly these parameters
    m, lv = model.encode(np.zeros((3, 2)))
    np.testing.assert_allclose(m, np.tile(mu, (3, 1)))
    np.testing.assert_allclose(lv, np.tile(logvar, (3, 1)))


@pytest.fixture(scope="module")
def emoji():
    return load_emoji12()[0]


def test_fit_history_and_outputs(emoji):
    vae = VAE(hidden=(32,), epochs=4, random_state=0)
    assert vae.fit(emoji, validation_data=emoji[:5]) is vae
    h = vae.history_
    for k in ("loss", "recon", "kl", "elbo", "val_loss", "val_recon", "val_kl", "val_elbo"):
        assert len(h[k]) == 4, k
    np.testing.assert_allclose(h["loss"], np.add(h["recon"], h["kl"]), rtol=1e-6)   # beta = 1
    np.testing.assert_allclose(h["elbo"], -np.array(h["loss"]))
    assert vae.loss_curve_ == h["loss"]
    mu, logvar = vae.encode(emoji)
    assert mu.shape == logvar.shape == (len(emoji), 2)
    R = vae.reconstruct(emoji)
    assert R.shape == emoji.shape and R.dtype == np.float32
    np.testing.assert_array_equal(R, vae.decode(mu))
    S = vae.sample(7, random_state=0)
    assert S.shape == (7, 144) and S.min() >= 0 and S.max() <= 1
    np.testing.assert_array_equal(S, vae.sample(7, random_state=0))
    images = vae.fit(emoji.reshape(-1, 12, 12), epochs=1).sample(2, random_state=1)
    assert images.shape == (2, 12, 12)


def test_learning_elbo_improves(emoji):
    # 400 full-batch epochs of the default architecture (the default is 3000): the negative ELBO falls
    # from ~100 nats to below half of that (measured: 100 -> 39 with this seed).
    vae = VAE(epochs=400, random_state=0).fit(emoji)
    assert vae.loss_curve_[-1] < vae.loss_curve_[0] / 2, (vae.loss_curve_[0], vae.loss_curve_[-1])


def test_seeded_fits_are_bit_identical(emoji):
    kw = dict(hidden=(16,), epochs=5, random_state=11)
    a, b = VAE(**kw).fit(emoji), VAE(**kw).fit(emoji)
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=n)
    timing = "samples_per_s"
    assert {k: v for k, v in a.history_.items() if k != timing} == {k: v for k, v in b.history_.items() if k != timing}
    c = VAE(**{**kw, "random_state": 12}).fit(emoji)
    assert not np.array_equal(a.decoder_[0].weight.data, c.decoder_[0].weight.data)


def test_unfitted_and_validation_errors(emoji):
    with pytest.raises(NotFittedError, match="VAE instance is not fitted yet"):
        VAE().sample(3)
    with pytest.raises(ValueError, match=r"beta must be a finite number >= 0, got -1"):
        VAE(beta=-1).fit(emoji)
    with pytest.raises(ValueError, match=r"latent_dim must be an int >= 1, got 0"):
        VAE(latent_dim=0).fit(emoji)
    with pytest.raises(ValueError, match=r"needs data in \[0, 1\]"):
        VAE(epochs=1).fit(emoji * 2)
    vae = VAE(hidden=(4,), epochs=1, random_state=0).fit(emoji)
    with pytest.raises(ValueError, match=r"eps must have shape \(3, 2\)"):
        vae.loss_and_grad(emoji[:3], eps=np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"n must be an int >= 1, got 0"):
        vae.sample(0)


def test_validation_noise_is_drawn_afresh_for_every_batch_and_repeats_every_epoch(emoji):
    # two identical validation batches: with one noise draw per batch their losses differ, so the
    # validation loss over [A; A] is not the loss over A alone (noise seeded by the batch length would
    # give every full batch the same eps, and both numbers would be equal)
    A = np.resize(emoji, (256, emoji.shape[1]))                   # one validation batch of 256
    kw = dict(hidden=(8,), epochs=2, batch_size=32, random_state=0)
    one = VAE(**kw).fit(emoji, validation_data=A)
    two = VAE(**kw).fit(emoji, validation_data=np.concatenate([A, A]))
    for (n, p), (_, q) in zip(one.named_parameters(), two.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=n)   # validation never touches training
    assert one.history_["val_loss"] != two.history_["val_loss"]
    # every evaluation sees the same noise: a score does not depend on what was scored before
    assert one.score(A) == one.score(A) == VAE(**kw).fit(emoji).score(A)


def test_fit_on_no_samples_and_decode_of_non_finite_codes_are_refused(emoji):
    with pytest.raises(ValueError, match=r"VAE: X has no samples \(shape \(0, 144\)\)"):
        VAE(epochs=1).fit(np.zeros((0, 144), np.float32))
    vae = VAE(hidden=(4,), epochs=1, random_state=0).fit(emoji)
    with pytest.raises(ValueError, match=r"VAE\.decode: Z contains NaN or inf"):
        vae.decode([[np.nan, 0.0]])
    with pytest.raises(ValueError, match=r"n must be an int >= 1, got True"):
        vae.sample(True)


# ------------------------------------------------------------------------------- Gaussian likelihood
def test_gaussian_nll_value_is_the_gaussian_log_density():
    g = np.random.default_rng(0)
    logits, x = g.normal(size=(3, 4)), g.uniform(size=(3, 4))
    mean = 1 / (1 + np.exp(-logits))
    var = 0.3
    # -log N(x | mean, var) per pixel, summed over each sample's pixels
    ref = np.sum(0.5 * (x - mean) ** 2 / var + 0.5 * np.log(2 * np.pi * var), axis=1)
    np.testing.assert_allclose(gaussian_nll(logits, x, np.log(var)), ref, rtol=1e-13)
    # variance 1/2: the summed squared error plus n/2 log(pi)
    np.testing.assert_allclose(gaussian_nll(logits, x, np.log(0.5)),
                               np.sum((x - mean) ** 2, axis=1) + 2 * np.log(np.pi), rtol=1e-13)


def test_gaussian_nll_gradcheck_logits_target_and_log_variance():
    g = np.random.default_rng(1)
    logits, x, lv = g.normal(size=(3, 5)), g.uniform(size=(3, 5)), np.array([-0.7])
    for k, arg in enumerate((logits, x)):
        def f(a, k=k):
            args = [logits, x]
            args[k] = a
            return gaussian_nll(args[0], args[1], lv).sum()

        def df(a, k=k):
            args = [logits, x]
            args[k] = a
            return gaussian_nll_backward(args[0], args[1], lv)[k]

        res = check_gradient(f, df, arg.copy())
        assert res.passed, (k, str(res))
    res = check_gradient(lambda s: gaussian_nll(logits, x, s).sum(),
                         lambda s: np.array([gaussian_nll_backward(logits, x, s)[2]]), lv.copy())
    assert res.passed, str(res)
    assert gaussian_nll_backward(logits, x, np.array([LOGVAR_MAX + 1]))[2] == 0.0     # clamped: no gradient


# ------------------------------------------------------------------------------- activation specs
def images(n, c=1, s=4, seed=0):
    return np.random.default_rng(seed).uniform(0.05, 0.95, size=(n, c, s, s))


def test_leaky_relu_slope_reaches_every_hidden_layer():
    from nnlite.layers import LeakyReLU

    X = tiny_data(8, 6)
    vae = VAE(latent_dim=2, hidden=(5,), activation="leaky_relu:0.2", decoder_activation="relu", epochs=1).fit(X)
    assert vae.encoder_[0].alpha == 0.2 and vae.encoder_[0].activation == "leaky_relu"
    assert vae.decoder_[0].activation == "relu"
    assert VAE(hidden=(5,), activation="leaky_relu", epochs=1).fit(X).encoder_[0].alpha == 0.01
    conv = ConvVAE(latent_dim=2, channels=(2,), hidden=3, activation="leaky_relu:0.2", epochs=1).fit(images(4))
    slopes = [m.negative_slope for m in list(conv.encoder_) + list(conv.decoder_) if isinstance(m, LeakyReLU)]
    assert slopes == [0.2]                  # the one conv of the encoder (the decoder ends with the output)
    assert all(m.alpha == 0.2 for m in list(conv.encoder_)[:-1] + list(conv.decoder_) if hasattr(m, "alpha")
               and m.activation == "leaky_relu")


@pytest.mark.parametrize("spec,pattern", [
    ("relu:0.2", "only elu and leaky_relu take one"),
    ("leaky_relu:x", "the part after ':' must be a number, got 'x'"),
    ("leaky_relu:-1", "must be a finite number >= 0, got -1.0"),
    ("elu:0", "must be a finite number > 0, got 0.0"),
    ("swish", r"activation must be one of \["),
])
def test_activation_spec_errors_name_what_arrived(spec, pattern):
    from nnlite.layers.activations import parse_activation

    with pytest.raises(ValueError, match=pattern):
        parse_activation("VAE", spec)
    with pytest.raises(ValueError, match=pattern):
        VAE(activation=spec).fit(tiny_data())


# ------------------------------------------------------------------------------- denoising ELBO
def test_denoising_elbo_gradcheck_every_parameter_and_the_noisy_input():
    model = VAE(latent_dim=2, hidden=(5,), activation="tanh", noise="gaussian", noise_level=0.1, epochs=2,
                dtype=np.float64, random_state=0).fit(tiny_data())
    clean = tiny_data(4, seed=1)
    noisy = np.clip(clean + 0.1 * np.random.default_rng(3).standard_normal(clean.shape), 0.01, 0.99)
    eps = np.random.default_rng(2).standard_normal((4, 2))
    loss, _ = model.loss_and_grad(noisy, eps=eps, Y=clean)
    assert model.compute_loss(noisy, eps=eps, Y=clean)["loss"] == pytest.approx(loss, rel=1e-15)
    # the target is the clean image: not the loss of the noisy image against itself
    assert abs(model.compute_loss(noisy, eps=eps)["loss"] - loss) > 1e-3
    result = check_loss_gradients(model, noisy, loss=model.compute_loss, loss_kwargs=dict(eps=eps, Y=clean))
    assert len(result.errors) == 8 + 1 and result.passed, f"relative errors above {TOL}:\n{result}"


def test_training_feeds_the_encoder_noisy_batches_and_scores_against_clean_ones():
    seen = []

    def zero_noise(x, level, rng):                  # the encoder sees only zeros
        seen.append(x.copy())
        return np.zeros_like(x)

    X = tiny_data(16, 6)
    model = VAE(latent_dim=2, hidden=(5,), noise=zero_noise, noise_level=0.0, epochs=3, batch_size=8,
                random_state=0).fit(X)
    assert len(seen) == 3 * 2                       # one fresh corruption per training batch
    assert sorted(map(tuple, np.concatenate(seen[:2]).round(6))) == sorted(map(tuple, X.astype(np.float32).round(6)))
    # every code is that of the zero image: reconstructions are all the same
    rec = model.reconstruct(np.zeros_like(X))
    np.testing.assert_allclose(rec, rec[:1].repeat(len(X), 0), rtol=1e-6)
    with pytest.raises(ValueError, match="Y \\(the clean targets\\) must match X"):
        model.compute_loss(X, Y=X[:3])


def test_denoising_vae_removes_noise_better_than_the_plain_vae():
    g = np.random.default_rng(0)
    # 16-pixel patterns: one of four bars
    base = np.eye(4).repeat(4, axis=1)
    X = np.clip(base[g.integers(0, 4, 400)] + 0.02 * g.standard_normal((400, 16)), 0, 1)
    kw = dict(latent_dim=2, hidden=(16,), epochs=30, batch_size=40, lr=1e-2, random_state=0)
    dvae = VAE(noise="gaussian", noise_level=0.5, **kw).fit(X)
    plain = VAE(**kw).fit(X)
    noisy = dvae.add_noise(X, random_state=1)
    err = {name: float(np.mean((m.reconstruct(noisy) - X) ** 2)) for name, m in (("dvae", dvae), ("plain", plain))}
    assert err["dvae"] < 0.9 * err["plain"], err          # measured 0.019 against 0.023


def test_noise_options_are_validated_and_none_refuses_add_noise():
    with pytest.raises(ValueError, match="unknown noise 'speckle'"):
        VAE(noise="speckle").fit(tiny_data())
    with pytest.raises(ValueError, match="noise_level .* must be in \\[0, 1\\], got 2"):
        ConvVAE(noise="salt_and_pepper", noise_level=2).fit(images(4))
    with pytest.raises(ValueError, match="add_noise needs a noise; this model has noise=None"):
        VAE().add_noise(tiny_data())
    noisy = VAE(noise="gaussian", noise_level=0.5).add_noise(np.full((2, 3), 0.5), random_state=0)
    assert np.std(noisy - 0.5) > 0.1


def test_a_decoder_without_its_output_sigmoid_is_refused_not_cut_short():
    """The ELBO takes the BCE on the decoder's logits by leaving out its last layer, which must be the
    Sigmoid: a decoder_ ending otherwise raises instead of losing a real layer."""
    from nnlite import Sequential
    from nnlite.models import vae_negative_elbo

    X = np.random.default_rng(0).random((8, 6)).astype(np.float32)
    vae = VAE(latent_dim=2, hidden=(4,), epochs=1, random_state=0).fit(X, verbose=0)
    vae.loss_and_grad(X, random_state=0)                                    # the fitted decoder ends with one
    vae.decoder_ = Sequential(*list(vae.decoder_.children())[:-1])          # ends with a Dense now
    for call in (lambda: vae.loss_and_grad(X, random_state=0), lambda: vae_negative_elbo(vae, X)):
        with pytest.raises(ValueError, match="VAE: decoder_ must end with a Sigmoid, got Dense"):
            call()
