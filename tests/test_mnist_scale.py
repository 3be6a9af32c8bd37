"""MNIST-scale models: the classic VAE's loss gradient-checked at 784 pixels, the per-image negative ELBO,
and real-data runs (DAE and VAE learn on Fashion-MNIST) -- the latter skipped without the data.

The real-data tests read ``$NNLITE_DATA`` (``../shared/data`` beside the clone) and never
download; each trains a few hundred optimizer steps on a subset, not the benchmark protocol
(``benchmarks/mnist_scale.py`` measures that).
"""
import os

import numpy as np
import pytest

import nnlite
from nnlite.gradcheck import check_loss_gradients
from nnlite.metrics import psnr
from nnlite.models import VAE, NotFittedError, vae_negative_elbo

TOL = 1e-7


def _fashion(split, n):
    """The first ``n`` Fashion-MNIST images of ``split``, flat float32, or a skip with the reason."""
    from nnlite.data import DatasetError, load_fashion_mnist

    if not os.environ.get("NNLITE_DATA"):
        pytest.skip("NNLITE_DATA is not set: the real-data tests need Fashion-MNIST "
                    "(NNLITE_DATA=../shared/data beside the clone)")
    try:
        X, y = load_fashion_mnist(split, download=False)
    except (DatasetError, OSError) as exc:
        pytest.skip(f"Fashion-MNIST not found under NNLITE_DATA={os.environ['NNLITE_DATA']}: {exc}")
    return np.ascontiguousarray(X[:n].reshape(n, -1), dtype=np.float32), y[:n]


def _classic_vae(epochs, batch_size=128, latent_dim=20, random_state=0):
    # The benchmark's VAE: 784-400-20 (Kingma & Welling / PyTorch's example), Adam 1e-3 constant.
    return VAE(latent_dim=latent_dim, hidden=(400,), lr=1e-3, batch_size=batch_size, epochs=epochs,
               lr_schedule="constant", random_state=random_state)


def _protocol_dae(noise, level, epochs, batch_size=128, random_state=0):
    from nnlite import DenoisingAutoencoder

    return DenoisingAutoencoder(noise=noise, noise_level=level, n_passes=1, n_copies=1, latent_dim=32,
                                hidden=(512, 128), loss="mse", lr=1e-3, batch_size=batch_size, epochs=epochs,
                                lr_schedule="constant", random_state=random_state)


def _synthetic_images(n, seed):
    """Blurry random blobs in [0, 1], 28x28, flat (a stand-in for digits when no data is needed)."""
    g = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    out = np.zeros((n, 28, 28))
    for i in range(n):
        for _ in range(3):
            cy, cx, s = g.uniform(6, 22), g.uniform(6, 22), g.uniform(2, 5)
            out[i] += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    return np.clip(out, 0, 1).reshape(n, 784)


# ------------------------------------------------------------------------------- architecture
def test_protocol_models_have_the_reference_architectures():
    X = _synthetic_images(8, 0).astype(np.float32)
    vae = _classic_vae(epochs=1).fit(X)
    shapes = [p.data.shape for p in vae.parameters()]
    # fc1 784->400, (fc21|fc22) 400->2x20, fc3 20->400, fc4 400->784: PyTorch's example, 652,824 parameters
    assert shapes == [(784, 400), (400,), (400, 40), (40,), (20, 400), (400,), (400, 784), (784,)]
    assert sum(int(np.prod(s)) for s in shapes) == 652_824
    dae = _protocol_dae("gaussian", 0.5, epochs=1).fit(X)
    sizes = [p.data.shape[0] for p in dae.parameters() if p.data.ndim == 2] + [784]
    assert sizes == [784, 512, 128, 32, 128, 512, 784]
    # PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases
    fresh = _classic_vae(epochs=1, random_state=3)
    fresh.fit(X, lr=1e-30)                              # one step with a vanishing lr: the initial weights
    W = fresh.encoder_[0].weight.data
    assert np.abs(W).max() <= 1 / np.sqrt(784) and np.abs(W).max() > 0.9 / np.sqrt(784)
    assert abs(W.std() - (2 / np.sqrt(784)) / np.sqrt(12)) < 1e-3


# ------------------------------------------------------------------------------- gradient check at 784 pixels
LD = np.longdouble


def _twin_loss(P, X, eps):
    """The negative ELBO of the 784-400-20 ReLU VAE, written out in plain NumPy in extended precision.

    ``P``: the 8 parameters in the model's order (W1, b1, W2, b2, W3, b3, W4, b4), as longdouble arrays.
    Returns ``(loss, relu_pattern)``: the batch-mean of BCE summed over pixels + KL, and which hidden
    ReLUs are on (to detect a difference that straddles a kink).
    """
    W1, b1, W2, b2, W3, b3, W4, b4 = P
    a1 = X @ W1 + b1                                          # (B, 400)
    out = np.maximum(a1, 0) @ W2 + b2                         # (B, 40)
    mu, logvar = out[:, :20], out[:, 20:]
    z = mu + np.exp(0.5 * logvar) * eps                       # (B, 20)
    a3 = z @ W3 + b3                                          # (B, 400)
    logits = np.maximum(a3, 0) @ W4 + b4                      # (B, 784)
    bce = np.logaddexp(LD(0), logits) - X * logits            # softplus(l) - x l
    kl = -0.5 * (1 + logvar - mu * mu - np.exp(logvar))
    loss = (bce.sum() + kl.sum()) / len(X)
    return loss, np.concatenate([(a1 > 0).ravel(), (a3 > 0).ravel()])


def test_gradcheck_classic_vae_loss_784_pixels_every_parameter():
    """Negative ELBO of the 784-400-20 ReLU VAE on a batch of 4 images: the model's float64 gradient of
    every parameter and of the input against numerical derivatives, CS231n relative error < 1e-7.

    Why a twin. The loss is ~550 nats (BCE summed over 784 pixels): its float64 rounding (~1e-13) over
    a difference step h leaves the numerical derivative ~1e-9 wrong, far more than 1e-7 of the smallest
    gradient entries (~1e-6). So the numerical derivatives come from the same loss written out in plain
    NumPy in extended precision (longdouble, 64-bit mantissa on x86-64), first shown equal to the
    model's loss, with the five-point stencil at h = 1e-4 (``check_loss_gradients`` with the twin as its
    ``loss``). For speed, 12 random coordinates per parameter and 12 ink pixels of the input are checked,
    not all 652,824. ReLU has a kink at 0: a coordinate whose +-2h perturbation switches any hidden ReLU
    is replaced by another one (the check runs away from kinks; the number replaced is asserted small).
    Entries that are exactly 0 by structure (a pixel that is 0 feeds nothing into ``dW1``; a dead ReLU
    passes no gradient) are checked as ``|numerical| < 1e-11`` instead: the relative error's 1e-8 floor
    would turn the twin's last-bit rounding into ~1e-6 there.
    """
    if np.finfo(np.longdouble).eps > 1e-18:
        pytest.skip("longdouble is plain float64 on this platform: the extended-precision twin cannot "
                    "resolve 1e-7 relative errors here")
    X = _synthetic_images(64, 1)
    # One BLAS thread for the short float32 fit: 'auto' picks 1 or 2 threads by the machine's load, and
    # float32 products round differently on each, so the trained point (and the 12 coordinates' values)
    # would depend on what else runs; the check itself is float64 against the longdouble twin.
    with nnlite.ops.threads.policy(1):
        model = _classic_vae(epochs=1, batch_size=32).fit(X.astype(np.float32)).double()
    Xb = _synthetic_images(4, 2)                                          # (4, 784) float64
    eps = np.random.default_rng(3).standard_normal((4, 20))
    loss, _ = model.loss_and_grad(Xb, eps=eps)
    assert len(model.parameters()) == 8
    pattern = {}

    def twin(X, eps):               # the model's current (perturbed) parameters, in extended precision
        P = [p.data.astype(LD) for p in model.parameters()]
        value, pattern["relu"] = _twin_loss(P, X.astype(LD), eps.astype(LD))
        return value

    assert float(twin(Xb, eps)) == pytest.approx(loss, rel=1e-13)          # the twin is the model's loss
    assert 300 < loss < 1000
    result = check_loss_gradients(model, Xb, loss=twin, loss_kwargs=dict(eps=eps), eps=1e-4, n_coords=12,
                                  candidates={"input": np.flatnonzero(Xb.reshape(-1) > 0.05)},
                                  region=lambda: pattern["relu"], zero_atol=1e-11, random_state=4)
    assert len(result.errors) == 9                                        # 8 parameters and the input
    replaced = sum(result.skipped.values())
    assert replaced <= 10, f"{replaced} coordinates sat on a ReLU kink"
    assert result.passed, f"relative errors above {TOL}:\n{result}"


# ------------------------------------------------------------------------------- vae_negative_elbo
def _bce_sum_from_probabilities(x, p):
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)


def test_vae_negative_elbo_per_image_matches_the_loss_and_a_numpy_twin():
    X = _synthetic_images(40, 5)
    model = _classic_vae(epochs=2, batch_size=20).fit(X.astype(np.float32)).double()
    per_image, recon, kl = vae_negative_elbo(model, X, random_state=7, return_terms=True)
    assert per_image.shape == (40,) and np.all(kl >= 0) and np.all(recon > 0)
    np.testing.assert_allclose(per_image, recon + kl, rtol=1e-12)
    # the same eps (drawn from the same seed, one chunk) -> the model's batch loss is their mean
    eps = np.random.default_rng(7).standard_normal((40, 20))
    assert model.compute_loss(X, eps=eps)["loss"] == pytest.approx(per_image.mean(), rel=1e-10)
    # twin: BCE from the decoded probabilities, KL from the closed form
    mu, logvar = model.encode(X)
    z = mu + np.exp(0.5 * logvar) * eps
    P = model.decode(z)
    twin_recon = _bce_sum_from_probabilities(X, P)
    twin_kl = -0.5 * np.sum(1 + logvar - mu ** 2 - np.exp(logvar), axis=1)
    np.testing.assert_allclose(recon, twin_recon, rtol=1e-8)
    np.testing.assert_allclose(kl, twin_kl, rtol=1e-10)
    # more samples: a different (less noisy) estimate; 'mean' reduction
    m5 = vae_negative_elbo(model, X, n_samples=5, random_state=7, reduction="mean")
    assert isinstance(m5, float) and m5 == pytest.approx(per_image.mean(), rel=0.05)
    # chunking does not change the result for the same seed when one chunk holds all images
    np.testing.assert_array_equal(vae_negative_elbo(model, X, random_state=7, chunk=40), per_image)


def test_vae_negative_elbo_errors():
    with pytest.raises(NotFittedError, match="not fitted"):
        vae_negative_elbo(VAE(), np.zeros((2, 4)))
    with pytest.raises(TypeError, match="fitted nnlite.VAE"):
        vae_negative_elbo(object(), np.zeros((2, 4)))
    X = _synthetic_images(8, 6).astype(np.float32)
    model = _classic_vae(epochs=1).fit(X)
    with pytest.raises(ValueError, match="reduction"):
        vae_negative_elbo(model, X, reduction="sum")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        vae_negative_elbo(model, X * 3)
    with pytest.raises(ValueError, match="n_samples"):
        vae_negative_elbo(model, X, n_samples=0)
    with pytest.raises(ValueError, match="784 features"):
        vae_negative_elbo(model, X[:, :100])


# ------------------------------------------------------------------------------- real data
def _initial_loss(make, X):
    """The loss at the initial weights: one full-batch epoch records the loss before its only step
    (same seed and layer sizes as the trained model, so the same initial weights)."""
    m = make(len(X)).fit(X)
    return m.history_["loss"][0]


def test_real_data_smoke_shapes_ranges_and_metrics():
    """Load, train each protocol model one short epoch on 1,000 Fashion-MNIST images, check the outputs."""
    X, y = _fashion("train", 1000)
    Xt, _ = _fashion("test", 200)
    assert X.shape == (1000, 784) and X.dtype == np.float32 and 0 <= X.min() and X.max() <= 1
    vae = _classic_vae(epochs=1).fit(X)
    mu, logvar = vae.encode(Xt)
    assert mu.shape == (200, 20) and np.all(np.isfinite(logvar))
    S = vae.sample(64, random_state=0)
    assert S.shape == (64, 784) and 0 <= S.min() and S.max() <= 1
    nelbo = vae_negative_elbo(vae, Xt, random_state=0)
    assert nelbo.shape == (200,) and np.all(np.isfinite(nelbo)) and 100 < nelbo.mean() < 600
    dae = _protocol_dae("salt_and_pepper", 0.2, epochs=1).fit(X)
    noisy = dae.add_noise(Xt, random_state=0)
    frac = np.mean(noisy != Xt)
    assert 0.1 < frac < 0.2                               # 20% hit; a hit that draws the value it had is unchanged
    den = dae.reconstruct(noisy)
    assert den.shape == Xt.shape and 0 <= den.min() and den.max() <= 1


def test_dae_learns_on_real_data_gaussian():
    """200 steps (batch 128) on 6,400 Fashion-MNIST images, Gaussian sigma 0.5: the training MSE (last
    epoch's mean) falls by at least 3.5x from its value at the initial weights (measured: 0.172 -> 0.039),
    and the denoised test PSNR beats the noisy input by >= 4 dB (measured: 9.3 -> 14.9 dB)."""
    X, _ = _fashion("train", 6400)
    Xt, _ = _fashion("test", 500)
    initial = _initial_loss(lambda bs: _protocol_dae("gaussian", 0.5, epochs=1, batch_size=bs), X[:1024])
    dae = _protocol_dae("gaussian", 0.5, epochs=4).fit(X)                  # 4 x 50 = 200 steps
    assert dae.n_iter_ == 200
    final = dae.history_["loss"][-1]
    assert final < initial / 3.5, f"MSE {initial:.4f} -> {final:.4f}"
    noisy = dae.add_noise(Xt, random_state=1)
    p_in, p_out = psnr(Xt, noisy), psnr(Xt, dae.reconstruct(noisy))
    assert p_out > p_in + 4, f"PSNR noisy {p_in:.2f} dB, denoised {p_out:.2f} dB"


def test_vae_learns_on_real_data():
    """200 steps (batch 128) on 6,400 Fashion-MNIST images: the test negative ELBO per image falls by
    at least 1.7x from its value at the initial weights (about 545 nats, ~784 ln 2; measured 548 -> 274)."""
    X, _ = _fashion("train", 6400)
    Xt, _ = _fashion("test", 500)
    initial = _initial_loss(lambda bs: _classic_vae(epochs=1, batch_size=bs), X[:1024])
    assert 450 < initial < 650
    vae = _classic_vae(epochs=4).fit(X)                                    # 4 x 50 = 200 steps
    assert vae.n_iter_ == 200
    test = vae_negative_elbo(vae, Xt, random_state=0, reduction="mean")
    assert test < initial / 1.7, f"-ELBO {initial:.1f} -> {test:.1f}"
    assert vae.history_["loss"][-1] < vae.history_["loss"][0]
