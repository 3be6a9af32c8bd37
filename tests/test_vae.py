"""VAE: the reparameterisation and KL math, end-to-end gradient checks, sampling statistics, the estimator.

Gradient checks are in float64 against CS231n's elementwise relative error < 1e-7, with smooth
activations (tanh) so no ReLU kink sits inside a difference. The pure functions (sampling step, KL)
use plain central differences (eps 1e-6). The whole-model loss uses the five-point stencil with
h = 1e-3 (see tests/test_autoencoder.py: plain central differences cannot resolve the gradient's
smallest elements of a multi-layer loss to 1e-7).
"""
import numpy as np
import pytest
from conftest import numerical_gradient_5pt  # noqa: E402

from nnlite.data import load_emoji12
from nnlite.gradcheck import check_gradient, rel_error
from nnlite.models import VAE, NotFittedError
from nnlite.models.vae import LOGVAR_MAX, kl_divergence, kl_divergence_backward, reparameterize, reparameterize_backward

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
    model.zero_grad()
    loss, dX = model.loss_and_grad(X, eps=eps)
    analytic = {n: p.grad.copy() for n, p in model.named_parameters()}
    assert len(analytic) == 8                                    # 4 Linear layers x (weight, bias)

    def f():
        return model.compute_loss(X, eps=eps)["loss"]

    assert f() == pytest.approx(loss, rel=1e-15)
    errors = {n: rel_error(analytic[n], numerical_gradient_5pt(f, p.data))[0] for n, p in model.named_parameters()}
    Xc = X.copy()
    errors["input"] = rel_error(dX, numerical_gradient_5pt(lambda: model.compute_loss(Xc, eps=eps)["loss"], Xc))[0]
    bad = {k: v for k, v in errors.items() if not v < TOL}
    assert not bad, f"relative errors above {TOL}: {bad}"


def test_module_interface_backward_through_sampling():
    # forward(x) draws eps from the model's generator; restoring its state makes each evaluation
    # see the same eps (what nnlite.gradcheck does with random_generators()).
    model = fitted_tiny().double()
    x = tiny_data(3, seed=4)
    R = np.random.default_rng(5).standard_normal((3, 6))
    gen = model._rng
    assert model.random_generators() == [gen]
    state = gen.bit_generator.state

    def L():
        gen.bit_generator.state = state
        return float(np.sum(model.forward(x) * R))

    model.zero_grad()
    L()
    dx = model.backward(R.copy())
    analytic = {n: p.grad.copy() for n, p in model.named_parameters()}
    assert rel_error(dx, numerical_gradient_5pt(L, x))[0] < TOL
    for name, p in model.named_parameters():
        assert rel_error(analytic[name], numerical_gradient_5pt(L, p.data))[0] < TOL, name


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
