"""The options the background systems need: the denoising VAE (noise= on VAE and ConvVAE), LeakyReLU
with a chosen slope ('leaky_relu:0.2'), ConvVAE's Gaussian likelihood (fixed or learned variance) and
its five-layer network on 64x64 colour images.

Gradient checks are float64, CS231n's relative error < 1e-7, smooth activations (tanh) so no kink sits
inside a difference; whole-model losses use the five-point stencil (see tests/test_vae.py).
"""
import numpy as np
import pytest
from conftest import numerical_gradient_5pt  # noqa: E402

from nnlite.gradcheck import check_gradient, rel_error
from nnlite.layers import LeakyReLU
from nnlite.models import VAE
from nnlite.models._base import parse_activation
from nnlite.models.conv import ConvVAE
from nnlite.models.vae import LOGVAR_MAX, gaussian_nll, gaussian_nll_backward

TOL = 1e-7


def flat(n=5, d=6, seed=0):
    return np.random.default_rng(seed).uniform(0.05, 0.95, size=(n, d))


def images(n, c=1, s=4, seed=0):
    return np.random.default_rng(seed).uniform(0.05, 0.95, size=(n, c, s, s))


def _errors(model, f, analytic, X, dX, h=1e-3):
    errors = {n: rel_error(analytic[n], numerical_gradient_5pt(f, p.data, h))[0] for n, p in model.named_parameters()}
    errors["input"] = rel_error(dX.reshape(X.shape), numerical_gradient_5pt(f, X, h))[0]
    return {k: v for k, v in errors.items() if not v < TOL}


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


@pytest.mark.parametrize("variance", [0.5, "learned"])
def test_conv_vae_gaussian_loss_gradcheck_every_parameter_and_input(variance):
    X = images(6, seed=5)
    model = ConvVAE(latent_dim=2, channels=(2, 3), hidden=5, activation="tanh", likelihood="gaussian",
                    output_variance=variance, epochs=1, batch_size=3, dtype=np.float64, random_state=0).fit(X)
    if variance == "learned":
        assert model.output_logvar_.data.shape == (1,) and model.output_logvar_.data[0] != 0   # it trained
        model.output_logvar_.data[:] = -0.4                     # away from 0, where a wrong sign hides
    Xt = images(3, seed=6)
    eps = np.random.default_rng(7).standard_normal((3, 2))
    model.zero_grad()
    loss, dX = model.loss_and_grad(Xt, eps=eps)
    analytic = {n: p.grad.copy() for n, p in model.named_parameters()}
    assert len(analytic) == 16 + (variance == "learned")

    def f():
        return model.compute_loss(Xt, eps=eps)["loss"]

    assert f() == pytest.approx(loss, rel=1e-14)
    # h = 1e-2: the smallest weight gradients are ~1e-7 of the loss, below the stencil's round-off at
    # h = 1e-3 (errors grow as h shrinks: round-off, not truncation)
    bad = _errors(model, f, analytic, Xt, dX, h=1e-2)
    assert not bad, f"relative errors above {TOL}: {bad}"


def test_learned_variance_moves_towards_the_reconstruction_error():
    X = images(16, seed=3).astype(np.float32)
    model = ConvVAE(latent_dim=2, channels=(2,), hidden=4, likelihood="gaussian", output_variance="learned",
                    epochs=3, batch_size=4, lr=3e-2, lr_schedule="constant", random_state=0).fit(X)
    mse = float(np.mean((model.reconstruct(X) - X) ** 2))
    logvar = float(model.output_logvar_.data[0])
    # it starts at log 1 = 0 and the optimum for a fixed mean is log(mean squared error) < 0: it went down
    assert np.log(mse) < logvar < -0.2, (logvar, np.log(mse))


def test_bernoulli_is_the_default_and_refuses_out_of_range_data_the_gaussian_accepts():
    X = images(4, seed=0) * 2 - 0.5
    with pytest.raises(ValueError, match="Bernoulli decoder needs data in"):
        ConvVAE(channels=(2, 2), hidden=4, epochs=1).fit(X)
    ConvVAE(channels=(2, 2), hidden=4, epochs=1, likelihood="gaussian").fit(X)
    for bad in (0, -1.0, "fixed", True):
        with pytest.raises(ValueError, match="output_variance must be a number > 0 or 'learned', got"):
            ConvVAE(likelihood="gaussian", output_variance=bad).fit(images(4))
    with pytest.raises(ValueError, match="likelihood must be one of"):
        ConvVAE(likelihood="laplace").fit(images(4))


def test_five_layer_conv_vae_on_64x64_colour():
    X = np.random.default_rng(0).uniform(size=(2, 64, 64, 3)).astype(np.float32)
    model = ConvVAE(latent_dim=8, channels=(32, 64, 128, 256, 512), hidden=0, likelihood="gaussian",
                    activation="leaky_relu:0.2", epochs=1, batch_size=2, random_state=0).fit(X)
    shapes, x = [], X.transpose(0, 3, 1, 2).reshape(2, -1)
    for layer in model.encoder_:
        x = layer(x)
        if type(layer).__name__ == "Conv2d":
            shapes.append(x.shape[1:])
    assert shapes == [(32, 32, 32), (64, 16, 16), (128, 8, 8), (256, 4, 4), (512, 2, 2)]
    convt = [m for m in model.decoder_ if type(m).__name__ == "ConvTranspose2d"]
    assert [(m.in_channels, m.out_channels) for m in convt] == [(512, 256), (256, 128), (128, 64), (64, 32), (32, 3)]
    assert model.sample(3, random_state=0).shape == (3, 64, 64, 3)
    assert model.interpolate(X[0], X[1], n=4).shape == (4, 64, 64, 3)


# ------------------------------------------------------------------------------- LeakyReLU slope
def test_leaky_relu_slope_reaches_every_hidden_layer():
    X = flat(8, 6)
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
    with pytest.raises(ValueError, match=pattern):
        parse_activation("VAE", spec)
    with pytest.raises(ValueError, match=pattern):
        VAE(activation=spec).fit(flat())


# ------------------------------------------------------------------------------- denoising ELBO
def test_denoising_elbo_gradcheck_every_parameter_and_the_noisy_input():
    model = VAE(latent_dim=2, hidden=(5,), activation="tanh", noise="gaussian", noise_level=0.1, epochs=2,
                dtype=np.float64, random_state=0).fit(flat())
    clean = flat(4, seed=1)
    noisy = np.clip(clean + 0.1 * np.random.default_rng(3).standard_normal(clean.shape), 0.01, 0.99)
    eps = np.random.default_rng(2).standard_normal((4, 2))
    model.zero_grad()
    loss, dX = model.loss_and_grad(noisy, eps=eps, Y=clean)
    analytic = {n: p.grad.copy() for n, p in model.named_parameters()}

    def f():
        return model.compute_loss(noisy, eps=eps, Y=clean)["loss"]

    assert f() == pytest.approx(loss, rel=1e-15)
    # the target is the clean image: not the loss of the noisy image against itself
    assert abs(model.compute_loss(noisy, eps=eps)["loss"] - loss) > 1e-3
    bad = _errors(model, f, analytic, noisy, dX)
    assert not bad, f"relative errors above {TOL}: {bad}"


def test_conv_vae_denoising_elbo_gradcheck():
    X = images(6, seed=5)
    model = ConvVAE(latent_dim=2, channels=(2, 3), hidden=5, activation="tanh", noise="gaussian", epochs=1,
                    batch_size=3, dtype=np.float64, random_state=0).fit(X)
    clean = images(3, seed=6)
    noisy = np.clip(clean + 0.1 * np.random.default_rng(1).standard_normal(clean.shape), 0.01, 0.99)
    eps = np.random.default_rng(7).standard_normal((3, 2))
    model.zero_grad()
    loss, dX = model.loss_and_grad(noisy, eps=eps, Y=clean)
    analytic = {n: p.grad.copy() for n, p in model.named_parameters()}
    # h = 1e-2 as for the Gaussian likelihood: the smallest gradients sit below the round-off at 1e-3
    bad = _errors(model, lambda: model.compute_loss(noisy, eps=eps, Y=clean)["loss"], analytic, noisy, dX, h=1e-2)
    assert not bad, f"relative errors above {TOL}: {bad}"


def test_training_feeds_the_encoder_noisy_batches_and_scores_against_clean_ones():
    seen = []

    def zero_noise(x, level, rng):                  # the encoder sees only zeros
        seen.append(x.copy())
        return np.zeros_like(x)

    X = flat(16, 6)
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
        VAE(noise="speckle").fit(flat())
    with pytest.raises(ValueError, match="noise_level .* must be in \\[0, 1\\], got 2"):
        ConvVAE(noise="salt_and_pepper", noise_level=2).fit(images(4))
    with pytest.raises(ValueError, match="add_noise needs a noise; this model has noise=None"):
        VAE().add_noise(flat())
    noisy = VAE(noise="gaussian", noise_level=0.5).add_noise(np.full((2, 3), 0.5), random_state=0)
    assert np.std(noisy - 0.5) > 0.1


# ------------------------------------------------------------------------------- decoder widths
def outs(net):
    return [m.n_out for m in net if hasattr(m, "n_out")]


def ins(net):
    return [m.n_in for m in net if hasattr(m, "n_in")]


def test_decoder_hidden_builds_the_decoder_as_written_and_none_mirrors_the_encoder():
    from nnlite.models import Autoencoder, DenoisingAutoencoder, SparseAutoencoder

    X = flat(8, 12)
    ae = Autoencoder(latent_dim=2, hidden=(6, 5, 4), decoder_hidden=(3, 4, 7, 9), epochs=1).fit(X)
    assert outs(ae.encoder_) == [6, 5, 4, 2]
    assert outs(ae.decoder_) == [3, 4, 7, 9, 12]
    assert ins(ae.decoder_) == [2, 3, 4, 7, 9]
    mirror = Autoencoder(latent_dim=2, hidden=(6, 5), epochs=1).fit(X)
    assert outs(mirror.decoder_) == [5, 6, 12]
    dae = DenoisingAutoencoder(latent_dim=2, hidden=(6,), decoder_hidden=(), noise="gaussian", epochs=1).fit(X)
    assert outs(dae.decoder_) == [12]
    sp = SparseAutoencoder(latent_dim=3, hidden=(5,), decoder_hidden=(4, 8), epochs=1).fit(X)
    assert outs(sp.decoder_) == [4, 8, 12]
    for bad, pattern in (((0,), "decoder_hidden"), ("wide", "decoder_hidden"), ((3.5,), "decoder_hidden")):
        with pytest.raises(ValueError, match=pattern):
            Autoencoder(decoder_hidden=bad).fit(X)


@pytest.mark.parametrize("cls", ["Autoencoder", "DenoisingAutoencoder"])
def test_asymmetric_autoencoder_gradcheck_every_parameter_and_input(cls):
    from nnlite import models

    kw = dict(noise="gaussian", noise_level=0.1) if cls == "DenoisingAutoencoder" else {}
    # encoder 8-6-3, decoder 3-4-7-8: shallow enough that no gradient element sinks into the round-off
    model = getattr(models, cls)(latent_dim=3, hidden=(6,), decoder_hidden=(4, 7), activation="tanh",
                                 epochs=2, dtype=np.float64, random_state=0, **kw).fit(flat(6, 8))
    assert len(model.decoder_.parameters()) == 2 * 3 and len(model.encoder_.parameters()) == 2 * 2
    clean = flat(4, 8, seed=1)
    noisy = np.clip(clean + 0.1 * np.random.default_rng(2).standard_normal(clean.shape), 0.01, 0.99)
    model.zero_grad()
    _, dX = model.loss_and_grad(noisy, clean)
    analytic = {n: p.grad.copy() for n, p in model.named_parameters()}

    def f():
        return model.compute_loss(noisy, clean)

    errors = {n: rel_error(analytic[n], numerical_gradient_5pt(f, p.data))[0] for n, p in model.named_parameters()}
    errors["input"] = rel_error(dX, numerical_gradient_5pt(f, noisy))[0]
    bad = {k: v for k, v in errors.items() if not v < TOL}
    assert not bad, f"relative errors above {TOL}: {bad}"


def test_decoder_hidden_round_trips_checkpoints_config_and_shows_in_the_summary(tmp_path):
    import json

    from nnlite.checkpoint import save_checkpoint
    from nnlite.models import DenoisingAutoencoder
    from nnlite.models.persistence import restore_model

    X = flat(8, 12).astype(np.float32)
    model = DenoisingAutoencoder(latent_dim=2, hidden=(6,), decoder_hidden=(3, 9), noise="gaussian", epochs=1,
                                 random_state=0).fit(X)
    restored = restore_model(save_checkpoint(tmp_path / "ck.npz", model))
    assert list(restored.decoder_hidden) == [3, 9]
    np.testing.assert_array_equal(restored.reconstruct(X), model.reconstruct(X))
    again = DenoisingAutoencoder.from_config(json.loads(json.dumps(model.get_config())))
    assert list(again.decoder_hidden) == [3, 9] and "decoder_hidden=(3, 9)" in repr(model)
    table = str(model.summary())
    decoder_rows = [line.split()[2:4] for line in table.splitlines() if line.startswith("decoder_.")]
    assert decoder_rows == [["(None,", "3)"], ["(None,", "9)"], ["(None,", "12)"], ["(None,", "12)"]], table


# ------------------------------------------------------------------------------- the examples
# Each background system's example, run in its quick setting in a fresh folder (as tests/test_examples.py
# runs the others), with every figure it promises checked. conv_vae_faces takes ~15 s and always runs
# when the shared photographs are there; the others take a minute or so and need NNLITE_SLOW_EXAMPLES=1.
EXAMPLE_FILES = {
    "autoencoder_family": ["family_generated.png", "family_denoising.png"],
    "conv_vae_faces": ["conv_vae_faces_real.png", "conv_vae_faces_curve.png", "conv_vae_faces_reconstruction.png",
                       "conv_vae_faces_samples.png", "conv_vae_faces_interpolation.png"],
    "deep_dae_pca_tsne": ["deep_dae_digits.png", "deep_dae_latent.png", "deep_dae_pca_tsne.png"],
    "vae_denoise_mnist": ["vae_denoise_mnist.png", "vae_denoise_curves.png", "vae_denoise_colour.png"],
}
ALWAYS = {"conv_vae_faces"}


@pytest.mark.parametrize("name", sorted(EXAMPLE_FILES))
def test_background_example_quick_writes_every_figure(name, tmp_path):
    import os
    from pathlib import Path

    from test_examples import check_outputs, run_example

    if name not in ALWAYS and os.environ.get("NNLITE_SLOW_EXAMPLES") != "1":
        pytest.skip("takes a minute or more: set NNLITE_SLOW_EXAMPLES=1")
    data = os.environ.get("NNLITE_DATA")
    if not data or not Path(data).is_dir():
        pytest.skip(f"needs the real datasets (MNIST, the shared photographs): NNLITE_DATA={data!r} is not a folder")
    proc = run_example(name, tmp_path)
    check_outputs(name, proc, tmp_path, EXAMPLE_FILES[name])
    if name == "deep_dae_pca_tsne":
        assert "5-NN accuracy in the 2-D PCA view" in proc.stdout
        # the write-up's network: its decoder is written on its own, not the encoder mirrored
        assert "encoder 784-256-128-32-16-10, decoder 10-16-32-64-128-256-784" in proc.stdout, proc.stdout
    if name == "conv_vae_faces":
        assert "held out whole:" in proc.stdout and "reconstruction PSNR: training images" in proc.stdout
    if name == "vae_denoise_mnist":
        assert "the flagship leads the denoising VAE by" in proc.stdout
