"""Conv models: end-to-end float64 gradient checks of the losses, the flagship on any image size, errors,
the estimator contract (fit returns self, seeding), small learning tests, and ConvVAE's Gaussian
likelihood (fixed or learned variance), denoising ELBO and five-layer network on 64x64 colour images.

Gradient checks (:func:`nnlite.check_loss_gradients`) use the five-point stencil (h = 1e-3, truncation
O(h^4); 1e-4 for the flagship, whose BatchNorm'd layers put many pre-activations near 0) against CS231n's
elementwise relative error < 1e-7. ReLU networks have kinks: every check records the on/off pattern of
every ReLU (and fused Dense-ReLU) and the argmax of every max-pool where the analytic gradient is taken,
and asserts that every perturbed evaluation sees exactly the same pattern, so no difference straddles a
kink. The seeds are ones where that holds (most seeds put some unit within 2h of its kink at these sizes).
"""
import numpy as np
import pytest

import nnlite
from nnlite.layers import Dense, MaxPool2d, ReLU
from nnlite.metrics import psnr
from nnlite.models import NotFittedError
from nnlite.models.conv import ConvDenoisingAutoencoder, ConvVAE, ResidualDenoiser

TOL = 1e-7
H = 1e-3
SEEDS = {"dae_relu": 0, "vae_relu": 2}     # seeds where no stencil point crosses a kink


class KinkMonitor:
    """Records the on/off pattern of every ReLU (and fused Dense-ReLU) and the argmax of every MaxPool2d of
    ``model`` in each forward pass; :meth:`pattern` returns those of the passes since its last call, as
    ``check_loss_gradients``'s ``region``: a finite-difference step that changes it crossed a kink."""

    def __init__(self, model):
        self.model, self.current, self.patched, self.recorded = model, [], [], 0

    def pattern(self):
        keys, self.current = self.current, []
        return np.concatenate([np.ravel(k).astype(np.int64) for k in keys]) if keys else np.zeros(0, np.int64)

    def __enter__(self):
        for m in self.model.modules():
            if isinstance(m, ReLU) or (isinstance(m, Dense) and m.activation == "relu") or isinstance(m, MaxPool2d):
                original = m.forward

                def wrapped(x, m=m, original=original):
                    y = original(x)
                    self.recorded += 1
                    if isinstance(m, MaxPool2d):      # the winner matters where the max is not a dead ReLU's 0
                        self.current.append(np.where(np.asarray(y).transpose(0, 2, 3, 1) != 0, m._ctx.argmax, -1))
                    else:
                        pre = x if isinstance(m, ReLU) else x.reshape(-1, m.n_in) @ m.weight.data + m.bias.data
                        self.current.append(pre > 0)
                    return y

                m.forward = wrapped
                self.patched.append(m)
        return self

    def __exit__(self, *exc):
        for m in self.patched:
            del m.forward


def smooth_images(n, h=8, w=8, c=None, seed=0):
    """Blurry random blobs in [0.05, 0.95] (smooth: something a conv net can learn to denoise)."""
    g = np.random.default_rng(seed)
    shape = (n, h, w) if c is None else (n, h, w, c)
    x = g.random(shape)
    for axis in (1, 2):
        x = (x + np.roll(x, 1, axis) + np.roll(x, -1, axis)) / 3
    x = (x - x.min()) / (x.max() - x.min())
    return 0.05 + 0.9 * x


def rectangles(n, size=16, seed=0):
    """Piecewise-constant images: 1-3 random rectangles of random grey on a random background."""
    g = np.random.default_rng(seed)
    X = np.empty((n, size, size), np.float32)
    for i in range(n):
        X[i] = g.uniform(0, 0.4)
        for _ in range(g.integers(1, 4)):
            a, b = sorted(g.integers(0, size, 2))
            c, d = sorted(g.integers(0, size, 2))
            X[i, a:b + 2, c:d + 2] = g.uniform(0.5, 1)
    return X


# ------------------------------------------------------------------------------- gradient checks
def _check_every_parameter_and_input(model, inputs, h=H, **kw):
    """``check_loss_gradients`` of ``model.loss_and_grad(*inputs)``, no step crossing a ReLU/max-pool kink."""
    with KinkMonitor(model) as mon:
        result = nnlite.check_loss_gradients(model, *inputs, eps=h, region=mon.pattern, **kw)
    assert mon.recorded > 0 or not mon.patched           # the pattern was compared, when there is one
    assert not result.skipped, f"a finite-difference step crossed a ReLU/max-pool kink: {result.skipped}"
    assert set(result.errors) == {n for n, _ in model.named_parameters()} | {"input"}
    assert result.passed, f"relative errors above {TOL}:\n{result}"
    return {n: result.analytic[n] for n, _ in model.named_parameters()}


# BCE: a loss of ~0.7 per pixel whose input gradients are ~1e-6: h = 3e-3 keeps the stencil's round-off
# (~ulp(L) / h) 100x below them while the O(h^4) truncation stays negligible.
@pytest.mark.parametrize("loss,activation,seed,h", [("mse", "relu", SEEDS["dae_relu"], H), ("bce", "tanh", 1, 3e-3)])
def test_conv_dae_loss_gradcheck_every_parameter_and_input(loss, activation, seed, h):
    X = smooth_images(6, seed=1)
    model = ConvDenoisingAutoencoder(channels=(3, 4), activation=activation, loss=loss, epochs=1, batch_size=3,
                                     dtype=np.float64, random_state=seed).fit(X)
    clean = smooth_images(3, seed=2)
    noisy = np.clip(clean + 0.05 * np.random.default_rng(4).standard_normal(clean.shape), 0.01, 0.99)
    analytic = _check_every_parameter_and_input(model, (noisy, clean), h, loss=model.compute_loss)
    assert len(analytic) == 8                      # 2 convs + 2 transposed convs, weight and bias each


@pytest.mark.parametrize("activation,seed", [("relu", SEEDS["vae_relu"])])
def test_conv_vae_loss_gradcheck_every_parameter_and_input(activation, seed):
    X = smooth_images(6, 4, 4, seed=5)
    model = ConvVAE(latent_dim=2, channels=(2, 3), hidden=5, activation=activation, epochs=1, batch_size=3,
                    dtype=np.float64, random_state=seed).fit(X)
    Xt = smooth_images(3, 4, 4, seed=6)
    eps = np.random.default_rng(7).standard_normal((3, 2))
    analytic = _check_every_parameter_and_input(model, (Xt,), loss=model.compute_loss, loss_kwargs=dict(eps=eps))
    assert len(analytic) == 16                     # 2 convs, 2 Dense (encoder); 2 Dense, 2 conv-T (decoder)


@pytest.mark.parametrize("architecture,depth,seed", [("unet", 2, 8)])   # conv, BN, pool, upsample, concat
def test_residual_denoiser_loss_gradcheck_every_parameter_and_input(architecture, depth, seed):
    # Batch 4 of 4x4 images: BatchNorm statistics over 64 values per channel (as in test_conv_layers).
    X = smooth_images(8, 4, 4, seed=8)
    model = ResidualDenoiser(architecture=architecture, depth=depth, width=2, epochs=1, batch_size=4,
                             dtype=np.float64, random_state=seed).fit(X)
    model.train()                                  # loss_and_grad uses batch statistics
    clean = smooth_images(4, 4, 4, seed=9)
    noisy = clean + 0.1 * np.random.default_rng(10).standard_normal(clean.shape)
    analytic = _check_every_parameter_and_input(model, (noisy, clean), h=1e-4)
    assert sum(np.any(g != 0) for g in analytic.values()) >= len(analytic) - 1   # every layer takes part


# ------------------------------------------------------------------------------- ConvVAE: Gaussian likelihood
def images(n, c=1, s=4, seed=0):
    return np.random.default_rng(seed).uniform(0.05, 0.95, size=(n, c, s, s))


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
    loss, _ = model.loss_and_grad(Xt, eps=eps)
    assert model.compute_loss(Xt, eps=eps)["loss"] == pytest.approx(loss, rel=1e-14)
    # h = 1e-2: the smallest weight gradients are ~1e-7 of the loss, below the stencil's round-off at
    # h = 1e-3 (errors grow as h shrinks: round-off, not truncation)
    result = nnlite.check_loss_gradients(model, Xt, loss=model.compute_loss, loss_kwargs=dict(eps=eps), eps=1e-2)
    assert len(result.errors) == 16 + (variance == "learned") + 1
    assert result.passed, f"relative errors above {TOL}:\n{result}"


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


def test_conv_vae_denoising_elbo_gradcheck():
    X = images(6, seed=5)
    model = ConvVAE(latent_dim=2, channels=(2, 3), hidden=5, activation="tanh", noise="gaussian", epochs=1,
                    batch_size=3, dtype=np.float64, random_state=0).fit(X)
    clean = images(3, seed=6)
    noisy = np.clip(clean + 0.1 * np.random.default_rng(1).standard_normal(clean.shape), 0.01, 0.99)
    eps = np.random.default_rng(7).standard_normal((3, 2))
    # h = 1e-2 as for the Gaussian likelihood: the smallest gradients sit below the round-off at 1e-3
    result = nnlite.check_loss_gradients(model, noisy, loss=model.compute_loss, loss_kwargs=dict(eps=eps, Y=clean),
                                         eps=1e-2)
    assert result.passed, f"relative errors above {TOL}:\n{result}"


# ------------------------------------------------------------------------------- the flagship at inference
@pytest.fixture(scope="module")
def grey_unet():
    return ResidualDenoiser(width=4, epochs=1, batch_size=8, random_state=0).fit(rectangles(16))


@pytest.fixture(scope="module")
def colour_dncnn():
    return ResidualDenoiser(architecture="dncnn", width=4, epochs=1, batch_size=8, random_state=0).fit(
        smooth_images(16, 8, 8, c=3).astype(np.float32))


def test_flagship_denoises_odd_sizes_and_single_images(grey_unet, colour_dncnn):
    g = np.random.default_rng(0)
    for shape in [(2, 37, 53), (1, 1, 5, 3), (37, 53)]:        # batch NHW, batch NCHW, one image (H, W)
        out = grey_unet.denoise(g.random(shape))
        assert out.shape == shape and out.dtype == np.float32
        assert out.min() >= 0 and out.max() <= 1                  # clip=True
    for shape in [(41, 29, 3), (2, 41, 29, 3), (2, 3, 41, 29)]:  # one image HWC, batch NHWC, batch NCHW
        assert colour_dncnn.denoise(g.random(shape)).shape == shape
    x = g.random((1, 1, 37, 53)).astype(np.float32)
    np.testing.assert_allclose(grey_unet.predict_noise(x), x - grey_unet._net_any_size(x), atol=1e-6)


@pytest.mark.parametrize("model_name", ["grey_unet", "colour_dncnn"])
def test_tiled_inference_equals_whole_image(model_name, request):
    model = request.getfixturevalue(model_name)
    C = model.n_channels_
    x = np.random.default_rng(1).random((1, C, 90, 71)).astype(np.float32)
    whole = model.denoise(x, tile=None)
    tiled = model.denoise(x, tile=20)
    np.testing.assert_allclose(tiled, whole, atol=2e-6)


@pytest.mark.parametrize("architecture", ["unet", "dncnn"])
def test_default_networks_see_less_than_the_tile_margin(architecture):
    # Changing one pixel must leave every output pixel farther than the tile margin untouched: the margin
    # covers the receptive field, so tiles give the whole-image result. Running statistics are reset so
    # that BatchNorm is a plain affine map of live (not dead after a tiny fit) units.
    model = ResidualDenoiser(architecture=architecture, width=8, epochs=1, batch_size=8, random_state=0)
    model.fit(rectangles(8, size=16))
    for m in model.net_.modules():
        if isinstance(m, nnlite.BatchNorm2d):
            m.reset_running_stats()
    x = np.random.default_rng(2).random((1, 1, 96, 96)).astype(np.float32)
    x2 = x.copy()
    x2[0, 0, 48, 48] += 0.5
    changed = np.argwhere(np.abs(model.predict_noise(x2) - model.predict_noise(x))[0, 0] > 0)
    assert len(changed) > 1, "the pixel changed nothing: a dead network cannot show its receptive field"
    radius = np.abs(changed - 48).max()
    assert radius <= model._margin
    assert radius >= (10 if architecture == "dncnn" else 16)     # DnCNN: 10 3x3 convs see 10 pixels away


# ------------------------------------------------------------------------------- errors
def test_shape_errors_name_the_model_or_layer_and_the_expected_input(grey_unet, colour_dncnn):
    dae = ConvDenoisingAutoencoder(epochs=1, random_state=0).fit(rectangles(8, size=16))
    with pytest.raises(ValueError, match=r"ConvDenoisingAutoencoder: X_noisy has images of shape \(C, H, W\) = "
                                         r"\(1, 20, 20\).*fitted on \(1, 16, 16\)"):
        dae.reconstruct(np.zeros((2, 20, 20)))
    with pytest.raises(ValueError, match=r"multiples of 4 .*got 30x30"):
        ConvDenoisingAutoencoder(epochs=1).fit(np.zeros((4, 30, 30)))
    with pytest.raises(ValueError, match=r"ResidualDenoiser: a 3-D array is one image \(H, W, C\) for this "
                                         r"3-channel model, but its last axis has 8 entries"):
        colour_dncnn.denoise(np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match=r"a 2-D image \(H, W\) is grey, but the model was fitted on 3-channel"):
        colour_dncnn.denoise(np.zeros((8, 8)))
    with pytest.raises(ValueError, match=r"must be images, \(N, H, W\) grey.*got a 2-D array of shape \(4, 784\)"):
        ResidualDenoiser().fit(np.zeros((4, 784)))
    with pytest.raises(ValueError, match=r"Conv2d\(1, 4.*expects 1 channels.*got input of shape \(1, 3, 8, 8\)"):
        grey_unet.net_(np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"ConvVAE.decode expects codes of shape \(N, 3\), got \(2, 4\)"):
        ConvVAE(latent_dim=3, epochs=1).fit(rectangles(4, size=8)).decode(np.zeros((2, 4)))


@pytest.mark.parametrize("cls", [ConvDenoisingAutoencoder, ResidualDenoiser, ConvVAE])
def test_unfitted_use_raises(cls):
    model = cls()
    method = {"ConvDenoisingAutoencoder": "reconstruct", "ResidualDenoiser": "denoise", "ConvVAE": "encode"}
    with pytest.raises(NotFittedError, match=f"This {cls.__name__} instance is not fitted yet"):
        getattr(model, method[cls.__name__])(np.zeros((1, 8, 8)))


@pytest.mark.parametrize("make,pattern", [
    (lambda: ConvDenoisingAutoencoder(channels=(32, 0)), r"ConvDenoisingAutoencoder: channels must be .*got \(32, 0\)"),
    (lambda: ConvDenoisingAutoencoder(kernel_size=4), r"kernel_size must be an odd int >= 1, got 4"),
    (lambda: ConvDenoisingAutoencoder(noise="speckle"), r"unknown noise 'speckle'; valid names are: bit_flip, "),
    (lambda: ConvDenoisingAutoencoder(noise="salt_and_pepper", noise_level=1.5), r"must be in \[0, 1\], got 1.5"),
    (lambda: ResidualDenoiser(architecture="resnet"), r"architecture must be one of \['dncnn', 'unet'\], got 'resnet'"),
    (lambda: ResidualDenoiser(noise_level=-0.1), r"noise_level \(sigma of 'gaussian'\) must be >= 0, got -0.1"),
    (lambda: ResidualDenoiser(width=0), r"ResidualDenoiser: width must be an int >= 1, got 0"),
    (lambda: ResidualDenoiser(architecture="dncnn", depth=1), r"depth must be an int >= 2 or None, got 1"),
    (lambda: ResidualDenoiser(batch_norm="yes"), r"batch_norm must be True or False, got 'yes'"),
    (lambda: ResidualDenoiser(lr=0), r"lr must be a finite number > 0, got 0"),
    (lambda: ConvVAE(latent_dim=0), r"ConvVAE: latent_dim must be an int >= 1, got 0"),
    (lambda: ConvVAE(beta=-1), r"beta must be a finite number >= 0, got -1"),
    (lambda: ConvVAE(lr_schedule="step"), r"lr_schedule must be one of \['constant', 'cosine'\], got 'step'"),
])
def test_argument_validation_names_argument_value_and_range(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make().fit(rectangles(4, size=8))


# ------------------------------------------------------------------------------- estimator contract
@pytest.mark.parametrize("cls,kw", [(ConvDenoisingAutoencoder, dict(channels=(4, 8), n_copies=1)),
                                    (ResidualDenoiser, dict(width=4)),
                                    (ConvVAE, dict(channels=(4, 8), hidden=16, latent_dim=3))])
def test_fit_returns_self_and_seeded_fits_are_bit_identical(cls, kw):
    X = rectangles(24, size=16)
    a = cls(epochs=2, batch_size=8, random_state=5, **kw)
    assert a.fit(X) is a
    assert a.n_epochs_ == 2 and a.n_iter_ == 6 and len(a.history_["loss"]) == 2 and a.input_shape_ == (16, 16)
    b = cls(epochs=2, batch_size=8, random_state=5, **kw).fit(X)
    c = cls(epochs=2, batch_size=8, random_state=6, **kw).fit(X)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)
    assert any(not np.array_equal(sa[k], sc[k]) for k in sa)
    assert a.history_["loss"] == b.history_["loss"]
    assert a.get_params()["random_state"] == 5 and "random_state=5" in repr(a)


def test_layouts_come_back_as_they_went_in():
    X = smooth_images(8, 8, 8, c=3).astype(np.float32)                    # NHWC
    dae = ConvDenoisingAutoencoder(channels=(4, 4), epochs=1, random_state=0).fit(X)
    assert dae.image_shape_ == (3, 8, 8) and dae.input_shape_ == (8, 8, 3)
    out_hwc = dae.reconstruct(X[:2])
    out_chw = dae.reconstruct(X[:2].transpose(0, 3, 1, 2))
    assert out_hwc.shape == (2, 8, 8, 3) and out_chw.shape == (2, 3, 8, 8)
    np.testing.assert_allclose(out_chw.transpose(0, 2, 3, 1), out_hwc, rtol=1e-6, atol=1e-7)
    assert dae.encode(X[:2]).shape == (2, 4, 2, 2) == (2,) + dae.code_shape()


# ------------------------------------------------------------------------------- learning
def test_flagship_learns_to_denoise_rectangles():
    X, Xt = rectangles(192, seed=0), rectangles(32, seed=1)
    model = ResidualDenoiser(noise="gaussian", noise_level=0.2, width=8, epochs=6, batch_size=16, lr=3e-3,
                             random_state=0).fit(X)
    noisy = model.add_noise(Xt, random_state=2)
    gain = psnr(Xt, model.denoise(noisy)) - psnr(Xt, noisy)
    assert gain > 3.0, f"PSNR gain only {gain:.2f} dB"
    assert model.history_["loss"][-1] < 0.5 * model.history_["loss"][0]


def test_conv_dae_and_conv_vae_losses_drop():
    X = rectangles(128, seed=3)
    dae = ConvDenoisingAutoencoder(noise="salt_and_pepper", noise_level=0.1, channels=(8, 16), epochs=8,
                                   batch_size=16, lr=3e-3, random_state=0).fit(X)
    assert dae.history_["loss"][-1] < 0.5 * dae.history_["loss"][0]
    vae = ConvVAE(latent_dim=4, channels=(8, 16), hidden=32, epochs=8, batch_size=16, lr=3e-3,
                  random_state=0).fit(X)
    assert vae.history_["loss"][-1] < 0.95 * vae.history_["loss"][0]
    assert vae.sample(5, random_state=0).shape == (5, 16, 16)
    path = vae.interpolate(X[0], X[1], n=6)
    assert path.shape == (6, 16, 16)
    np.testing.assert_allclose(path[0], vae.reconstruct(X[:1])[0], rtol=1e-5, atol=1e-6)


def test_flagship_inference_passes_are_bounded_in_pixels_and_report_progress(grey_unet, monkeypatch):
    # 40 images of 64x64 (164k pixels): at most about tile**2 pixels go through the network at once
    # (not a fixed count of images, whatever their size), and the result equals one image at a time
    x = np.random.default_rng(2).random((40, 64, 64)).astype(np.float32)
    one_by_one = np.stack([grey_unet.denoise(im) for im in x])
    seen, calls = [], []
    real = grey_unet._net_any_size
    monkeypatch.setattr(grey_unet, "_net_any_size", lambda b: seen.append(b.shape) or real(b))
    out = grey_unet.denoise(x, tile=64, progress=lambda done, total: calls.append((done, total)))
    np.testing.assert_allclose(out, one_by_one, atol=2e-6)
    assert max(n * h * w for n, _, h, w in seen) <= 64 * 64 * 16
    assert calls[-1] == (40 * 64 * 64, 40 * 64 * 64) and all(b[0] > a[0] for a, b in zip(calls, calls[1:]))
    # a big image goes in blocks, and progress counts its pixels as the blocks finish
    calls.clear()
    big = np.random.default_rng(3).random((70, 50)).astype(np.float32)
    grey_unet.denoise(big, tile=32, progress=lambda done, total: calls.append((done, total)))
    assert len(calls) == 3 * 2 and calls[-1] == (70 * 50, 70 * 50)


def test_decode_refuses_non_finite_codes_and_fit_no_images():
    dae = ConvDenoisingAutoencoder(channels=(2,), epochs=1, batch_size=8, random_state=0).fit(rectangles(8))
    with pytest.raises(ValueError, match=r"ConvDenoisingAutoencoder\.decode: Z contains NaN or inf"):
        dae.decode(np.full((1,) + dae.code_shape(), np.nan))
    vae = ConvVAE(latent_dim=2, channels=(2,), hidden=4, epochs=1, batch_size=8, random_state=0).fit(rectangles(8))
    with pytest.raises(ValueError, match=r"ConvVAE\.decode: Z contains NaN or inf"):
        vae.decode([[np.nan, 0.0]])
    with pytest.raises(ValueError, match=r"ResidualDenoiser: X has no images"):
        ResidualDenoiser(epochs=1).fit(np.zeros((0, 8, 8), np.float32))


@pytest.mark.parametrize("cls", [ConvDenoisingAutoencoder, ResidualDenoiser, ConvVAE])
def test_fitted_conv_models_pickle_and_keep_their_import_path(cls):
    # one file per model under nnlite/models/conv/, each class importable as nnlite.models.conv.<Name>
    import importlib
    import pickle

    assert getattr(importlib.import_module("nnlite.models.conv"), cls.__name__) is cls
    extra = {"width": 2, "depth": 2} if cls is ResidualDenoiser else {"channels": (2,)}
    model = cls(epochs=1, batch_size=8, random_state=0, **extra).fit(rectangles(8))
    clone = pickle.loads(pickle.dumps(model))
    x = rectangles(2, seed=1)
    np.testing.assert_array_equal(clone.reconstruct(x), model.reconstruct(x))


def test_the_architecture_name_is_case_insensitive():
    from nnlite.models import ResidualDenoiser

    X = np.random.default_rng(0).random((4, 8, 8)).astype(np.float32)
    upper = ResidualDenoiser(architecture="UNet", width=4, depth=2, epochs=1, random_state=0).fit(X)
    lower = ResidualDenoiser(architecture="unet", width=4, depth=2, epochs=1, random_state=0).fit(X)
    assert [type(m).__name__ for m in upper.net_] == [type(m).__name__ for m in lower.net_]
    assert any(type(m).__name__ == "MaxPool2d" for m in upper.modules())
