"""The blind-denoiser recipe as options of ResidualDenoiser: no BatchNorm, pixel-unshuffle, a noise-level
map, loss weighting by sigma, the L1 loss, orthogonal initialisation, self-ensembling; and the pieces they
stand on (PixelUnshuffle / PixelShuffle, nnlite.init.orthogonal, the noise-sigma estimator).

Gradient checks as in test_conv_models: float64, five-point stencil (h = 1e-3), every parameter and the
input; the few coordinates whose steps cross a ReLU / max-pool kink (or, for L1, change the sign of a
residual) are left out and counted (under 5% of them).
"""
import sys
from pathlib import Path

import numpy as np
import pytest

import nnlite
from nnlite.checkpoint import save_checkpoint
from nnlite.images.noise_estimate import estimate_noise_sigma, estimate_noise_sigma_nchw
from nnlite.init import orthogonal
from nnlite.layers import BatchNorm2d, Conv2d, PixelShuffle, PixelUnshuffle
from nnlite.models.conv import ResidualDenoiser
from nnlite.models.persistence import restore_model

sys.path.insert(0, str(Path(__file__).resolve().parent))   # test_conv_models' helpers, whatever the import mode
from test_conv_models import KinkMonitor, smooth_images  # noqa: E402

TOL = 1e-7


# ------------------------------------------------------------------------------- pixel (un)shuffle
def test_pixel_unshuffle_follows_pytorchs_channel_order():
    x = np.arange(2 * 3 * 4 * 6, dtype=np.float64).reshape(2, 3, 4, 6)
    u = PixelUnshuffle(2)(x)
    assert u.shape == (2, 12, 2, 3)
    for c in range(3):
        for i in range(2):
            for j in range(2):                     # out[n, c*r*r + i*r + j, h, w] = in[n, c, h*r + i, w*r + j]
                np.testing.assert_array_equal(u[:, c * 4 + i * 2 + j], x[:, c, i::2, j::2])
    np.testing.assert_array_equal(PixelShuffle(2)(u), x)


def test_pixel_unshuffle_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 2, 6, 9))
    ours = PixelUnshuffle(3)(x)
    theirs = torch.nn.PixelUnshuffle(3)(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(PixelShuffle(3)(ours), torch.nn.PixelShuffle(3)(torch.from_numpy(theirs)).numpy())


@pytest.mark.parametrize("layer,shape", [(PixelUnshuffle(2), (2, 3, 4, 6)), (PixelShuffle(2), (2, 8, 3, 2)),
                                         (PixelUnshuffle(3), (1, 2, 6, 3))])
def test_pixel_shuffle_layers_gradcheck(layer, shape):
    x = np.random.default_rng(1).standard_normal(shape)
    result = nnlite.gradcheck(layer, x)
    assert result.passed, str(result)


def test_pixel_shuffle_layers_refuse_bad_shapes():
    with pytest.raises(ValueError, match=r"multiples of 2.*\(1, 1, 3, 4\)"):
        PixelUnshuffle(2)(np.zeros((1, 1, 3, 4)))
    with pytest.raises(ValueError, match=r"multiple of 4.*\(1, 6, 2, 2\)"):
        PixelShuffle(2)(np.zeros((1, 6, 2, 2)))
    with pytest.raises(ValueError, match="block factor must be an int >= 1, got 0"):
        PixelUnshuffle(0)


# ------------------------------------------------------------------------------- orthogonal init
@pytest.mark.parametrize("shape", [(8, 3, 3, 3), (4, 4), (30, 5), (5, 30), (16, 2, 1, 1)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    w = orthogonal(shape, gain=2.0, random_state=0, dtype=np.float64)
    assert w.shape == shape
    m = w.reshape(shape[0], -1)                        # (C_out, C_in*kh*kw)
    gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(gram, 4.0 * np.eye(len(gram)), atol=1e-12)


def test_orthogonal_is_seeded_and_refuses_vectors():
    np.testing.assert_array_equal(orthogonal((6, 4), random_state=3), orthogonal((6, 4), random_state=3))
    assert not np.array_equal(orthogonal((6, 4), random_state=3), orthogonal((6, 4), random_state=4))
    with pytest.raises(ValueError, match="at least 2 dims"):
        orthogonal((5,))


def test_linear_takes_orthogonal_by_name():
    layer = nnlite.Linear(7, 3, init="orthogonal", dtype=np.float64, random_state=0)        # W: (7, 3)
    np.testing.assert_allclose(layer.weight.data.T @ layer.weight.data, np.eye(3), atol=1e-12)
    assert not layer.bias.data.any()


def test_orthogonal_init_of_the_denoiser_convs():
    model = ResidualDenoiser(architecture="dncnn", depth=3, width=8, batch_norm=False, init="orthogonal", epochs=1,
                             random_state=0).fit(smooth_images(4, 8, 8), verbose=0)
    convs = [m for m in model.net_.modules() if isinstance(m, Conv2d)]
    first = convs[0].weight.data.reshape(8, -1).astype(np.float64)            # (8, 1*3*3): 8 rows of 9
    assert first.shape == (8, 9)
    # one epoch of Adam moved the weights a little: still close to sqrt(2) * orthonormal rows
    np.testing.assert_allclose(first @ first.T, 2 * np.eye(8), atol=0.2)
    fresh = ResidualDenoiser(architecture="dncnn", depth=3, width=8, batch_norm=False, init="orthogonal",
                             epochs=1, lr=1e-12, random_state=0).fit(smooth_images(4, 8, 8), verbose=0)
    hidden, last = [m for m in fresh.net_.modules() if isinstance(m, Conv2d)][1:]
    m = hidden.weight.data.reshape(8, -1).astype(np.float64)                       # (8, 72)
    np.testing.assert_allclose(m @ m.T, 2 * np.eye(8), atol=1e-4)
    m = last.weight.data.reshape(1, -1).astype(np.float64)                         # (1, 72): the noise out
    np.testing.assert_allclose(m @ m.T, [[0.1 ** 2]], rtol=1e-3)                 # small: starts near identity


# ------------------------------------------------------------------------------- no BatchNorm
@pytest.mark.parametrize("architecture", ["unet", "dncnn"])
def test_batch_norm_false_has_no_batchnorm_and_every_conv_has_its_bias(architecture):
    X = smooth_images(4, 8, 8)
    plain = ResidualDenoiser(architecture=architecture, depth=3, width=4, batch_norm=False, epochs=1,
                             random_state=0).fit(X, verbose=0)
    assert not any(isinstance(m, BatchNorm2d) for m in plain.net_.modules())
    convs = [m for m in plain.net_.modules() if isinstance(m, Conv2d)]
    assert convs and all(c.bias is not None for c in convs)
    with_bn = ResidualDenoiser(architecture=architecture, depth=3, width=4, epochs=1, random_state=0).fit(X, verbose=0)
    assert any(isinstance(m, BatchNorm2d) for m in with_bn.net_.modules())
    # and without BN, train and eval mode compute the same function
    y = smooth_images(2, 8, 8, seed=3)[:, None]
    plain.train()
    a = plain.forward(y.astype(np.float32))
    plain.eval()
    np.testing.assert_array_equal(a, plain.forward(y.astype(np.float32)))


# ------------------------------------------------------------------------------- noise estimate
@pytest.mark.parametrize("sigma", [0.02, 0.05, 0.1, 0.2])
@pytest.mark.parametrize("channels", [None, 3])
def test_noise_sigma_estimate_within_ten_percent(sigma, channels):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:192, 0:256] / 256.0
    clean = 0.5 + 0.2 * np.sin(6 * xx) * np.cos(4 * yy)                        # smooth, in [0.3, 0.7]
    if channels:
        clean = np.stack([clean, clean[::-1], 1 - clean], axis=-1)
    noisy = clean + rng.normal(0, sigma, clean.shape)
    est = estimate_noise_sigma(noisy)
    assert abs(est - sigma) < 0.1 * sigma, (est, sigma)
    assert abs(estimate_noise_sigma(clean)) < 0.1 * 0.02                        # no noise: about nothing


def test_noise_sigma_estimate_per_image_of_a_batch():
    rng = np.random.default_rng(1)
    x = np.full((3, 1, 64, 64), 0.5) + rng.normal(0, 1, (3, 1, 64, 64)) * np.array([0.05, 0.1, 0.15])[:, None, None,
                                                                                                    None]
    np.testing.assert_allclose(estimate_noise_sigma_nchw(x), [0.05, 0.1, 0.15], rtol=0.1)
    with pytest.raises(ValueError, match=r"at least 2x2.*\(1, 1, 1, 5\)"):
        estimate_noise_sigma_nchw(np.zeros((1, 1, 1, 5)))


# ------------------------------------------------------------------------------- gradient checks
def _gradcheck(model, noisy, clean, levels=None, h=1e-3):
    kw = {} if levels is None else dict(loss_kwargs=dict(noise_level=levels))
    model.train()

    def region():
        parts = [mon.pattern()]
        if model.loss == "l1":
            parts.append(model._loss._sign.ravel().astype(np.int64))
        return np.concatenate(parts)

    with KinkMonitor(model) as mon:
        result = nnlite.check_loss_gradients(model, noisy, clean, eps=h, region=region, **kw)
    assert mon.recorded > 0
    n_checked = sum(p.data.size for p in model.parameters()) + noisy.size
    assert sum(result.skipped.values()) < 0.05 * n_checked, f"too many steps crossed a kink: {result.skipped}"
    assert set(result.errors) == {n for n, _ in model.named_parameters()} | {"input"}
    assert result.passed, f"relative errors above {TOL}:\n{result}"
    return result


#: name -> (options, seed): seeds where every tensor keeps coordinates whose steps cross no kink.
RECIPES = {
    "no_bn": (dict(batch_norm=False), 1),
    "unshuffle": (dict(unshuffle=2, batch_norm=False), 0),
    "noise_map": (dict(noise_map=True, batch_norm=False), 0),
    "sigma_weighting": (dict(sigma_weighting=0.05, batch_norm=False), 1),
    "l1": (dict(loss="l1", batch_norm=False), 1),
    "orthogonal": (dict(init="orthogonal", batch_norm=False), 2),
    "all": (dict(unshuffle=2, noise_map=True, sigma_weighting=0.05, loss="l1", init="orthogonal", batch_norm=False),
            0),
}


@pytest.mark.parametrize("name", list(RECIPES))
def test_recipe_loss_gradcheck_every_parameter_and_input(name):
    opts, seed = RECIPES[name]
    X = smooth_images(8, 4, 4, seed=seed)
    model = ResidualDenoiser(architecture="unet", depth=2, width=2, noise_level=(0.0, 0.2), epochs=1, batch_size=4,
                             dtype=np.float64, random_state=seed, **opts).fit(X, verbose=0)
    clean = smooth_images(4, 4, 4, seed=seed + 100)[:, None]                   # (4, 1, 4, 4)
    levels = np.array([0.02, 0.08, 0.1, 0.2])
    noisy = clean + levels[:, None, None, None] * np.random.default_rng(seed).standard_normal(clean.shape)
    uses = opts.get("noise_map") or opts.get("sigma_weighting")
    _gradcheck(model, noisy, clean, levels if uses else None)


def test_sigma_weighting_weighs_each_image_by_its_inverse_square_sigma():
    X = smooth_images(4, 8, 8, seed=2)
    kw = dict(architecture="dncnn", depth=2, width=2, batch_norm=False, noise_level=(0.0, 0.2), epochs=1,
              dtype=np.float64, random_state=0)
    weighted = ResidualDenoiser(sigma_weighting=0.05, **kw).fit(X, verbose=0)
    clean = smooth_images(3, 8, 8, seed=3)[:, None]
    noisy = clean + 0.1 * np.random.default_rng(1).standard_normal(clean.shape)
    levels = np.array([0.01, 0.1, 0.2])
    value, _ = weighted.loss_and_grad(noisy, clean, levels)
    weighted.zero_grad()
    per_image = [float(np.mean((weighted.forward(noisy[i:i + 1]) - clean[i:i + 1]) ** 2)) for i in range(3)]
    w = 1 / np.maximum(levels, 0.05) ** 2                                      # the floor lifts 0.01 to 0.05
    np.testing.assert_allclose(value, np.sum(w * per_image) / np.sum(w), rtol=1e-12)
    with pytest.raises(ValueError, match="give noise_level"):
        weighted.loss_and_grad(noisy, clean)
    uniform = ResidualDenoiser(**kw).fit(X, verbose=0)                        # same seed, same draws
    assert any(not np.array_equal(p.data, q.data) for p, q in zip(weighted.parameters(), uniform.parameters()))


def test_l1_loss_is_the_mean_absolute_error():
    X = smooth_images(4, 8, 8, seed=2)
    model = ResidualDenoiser(architecture="dncnn", depth=2, width=2, loss="l1", epochs=1, dtype=np.float64,
                             random_state=0).fit(X, verbose=0)
    clean = smooth_images(3, 8, 8, seed=3)[:, None]
    noisy = clean + 0.1 * np.random.default_rng(1).standard_normal(clean.shape)
    model.eval()
    value, _ = model.loss_and_grad(noisy, clean)
    np.testing.assert_allclose(value, np.mean(np.abs(model.forward(noisy) - clean)), rtol=1e-12)


# ------------------------------------------------------------------------------- unshuffle at inference
def test_unshuffle_runs_the_body_at_half_resolution_and_denoises_any_size():
    X = smooth_images(4, 8, 8, c=3)
    model = ResidualDenoiser(depth=2, width=4, unshuffle=2, batch_norm=False, epochs=1, random_state=0).fit(X,
                                                                                                             verbose=0)
    assert isinstance(model.net_[0], PixelUnshuffle) and isinstance(model.net_[2], PixelShuffle)
    first_conv = next(m for m in model.net_.modules() if isinstance(m, Conv2d))
    assert first_conv.in_channels == 12                     # 3 channels x 2 x 2
    assert model._size_multiple == 4 and model._margin == 64
    img = np.random.default_rng(0).uniform(0, 1, (13, 19, 3)).astype(np.float32)      # odd sizes: padded
    assert model.denoise(img).shape == (13, 19, 3)
    big = np.random.default_rng(1).uniform(0, 1, (70, 90, 3)).astype(np.float32)
    np.testing.assert_allclose(model.denoise(big, tile=32), model.denoise(big, tile=None), atol=1e-5)


# ------------------------------------------------------------------------------- noise map at inference
def _noise_map_model():
    X = smooth_images(4, 8, 8)
    return ResidualDenoiser(architecture="dncnn", depth=3, width=4, noise_map=True, batch_norm=False,
                            noise_level=(0.0, 0.2), epochs=1, random_state=0).fit(X, verbose=0)


def test_noise_map_is_an_input_channel_and_denoise_uses_the_users_sigma_or_an_estimate():
    model = _noise_map_model()
    first_conv = next(m for m in model.net_.modules() if isinstance(m, Conv2d))
    assert first_conv.in_channels == 2                      # grey + the noise map
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:64] / 64.0
    noisy = (0.5 + 0.2 * np.sin(5 * xx + 3 * yy) + rng.normal(0, 0.1, (48, 64))).astype(np.float32)
    given = {s: model.denoise(noisy, noise_level=s) for s in (0.05, 0.1, 0.2)}
    assert not np.allclose(given[0.05], given[0.2])         # the level reaches the network
    estimated = model.denoise(noisy)
    sigma = estimate_noise_sigma(noisy)
    assert abs(sigma - 0.1) < 0.01
    np.testing.assert_array_equal(estimated, model.denoise(noisy, noise_level=sigma))
    # one level per image of a batch
    batch = np.stack([noisy, noisy[::-1]])
    out = model.denoise(batch, noise_level=[0.05, 0.2])
    np.testing.assert_array_equal(out[0], given[0.05])


def test_noise_level_errors_name_the_problem():
    model = _noise_map_model()
    img = np.full((8, 8), 0.5, np.float32)
    with pytest.raises(ValueError, match=r"one finite level >= 0 or 1 of them.*-0.1"):
        model.denoise(img, noise_level=-0.1)
    with pytest.raises(ValueError, match=r"2 of them"):
        model.denoise(np.stack([img, img]), noise_level=[0.1, 0.2, 0.3])
    blind = ResidualDenoiser(architecture="dncnn", depth=2, width=2, epochs=1, random_state=0).fit(
        smooth_images(4, 8, 8), verbose=0)
    with pytest.raises(ValueError, match="blind"):
        blind.denoise(img, noise_level=0.1)


# ------------------------------------------------------------------------------- self-ensemble
def test_ensemble_equals_the_plain_result_for_an_equivariant_model():
    model = ResidualDenoiser(architecture="dncnn", depth=2, width=2, batch_norm=False, clip=False, epochs=1,
                             random_state=0).fit(smooth_images(4, 8, 8), verbose=0)
    for p in model.parameters():
        p.data[...] = 0                                     # n(y) = 0: the identity, equivariant
    img = np.random.default_rng(0).uniform(0, 1, (9, 14)).astype(np.float32)
    np.testing.assert_array_equal(model.denoise(img, ensemble=True), model.denoise(img))
    # a centre-symmetric 3x3 kernel in both layers commutes with the flips and rotations too
    sym = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32) / 16
    for conv in (m for m in model.net_.modules() if isinstance(m, Conv2d)):
        conv.weight.data[...] = sym
    np.testing.assert_allclose(model.denoise(img, ensemble=True), model.denoise(img), atol=1e-6)


def test_ensemble_averages_the_eight_transforms_and_keeps_the_shape():
    X = smooth_images(4, 8, 8, c=3)
    model = ResidualDenoiser(depth=2, width=4, epochs=1, clip=False, random_state=0).fit(X, verbose=0)
    img = np.random.default_rng(0).uniform(0, 1, (10, 17, 3)).astype(np.float32)    # not square: rotations swap
    out = model.denoise(img, ensemble=True)
    assert out.shape == (10, 17, 3)
    manual = np.zeros(img.shape, np.float64)
    for k in range(4):
        for flip in (False, True):
            t = np.rot90(img[:, ::-1] if flip else img, k)
            d = np.rot90(model.denoise(np.ascontiguousarray(t)), -k)
            manual += d[:, ::-1] if flip else d
    np.testing.assert_allclose(out, manual / 8, atol=1e-5)
    assert not np.allclose(out, model.denoise(img), atol=1e-4)      # a random U-Net is not equivariant


# ------------------------------------------------------------------------------- validation, checkpoints
@pytest.mark.parametrize("kw,match", [
    (dict(unshuffle=0), "unshuffle"), (dict(loss="l3"), "loss"), (dict(init="zeros"), "init"),
    (dict(sigma_weighting=-0.1), "sigma_weighting"), (dict(noise_map="yes"), "noise_map"),
])
def test_bad_recipe_options_are_refused_by_name(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ResidualDenoiser(epochs=1, **kw).fit(smooth_images(4, 8, 8), verbose=0)


def test_checkpoints_round_trip_the_recipe(tmp_path):
    opts = dict(unshuffle=2, noise_map=True, sigma_weighting=0.05, loss="l1", init="orthogonal", batch_norm=False)
    model = ResidualDenoiser(depth=2, width=4, noise_level=(0.0, 0.2), epochs=1, random_state=0, **opts).fit(
        smooth_images(4, 8, 8, c=3), verbose=0)
    config = model.get_config()
    assert {k: config[k] for k in opts} == opts
    assert ResidualDenoiser.from_config(config).get_config() == config
    save_checkpoint(tmp_path / "m.npz", model)
    back = restore_model(tmp_path / "m.npz")
    assert {k: getattr(back, k) for k in opts} == opts
    img = np.random.default_rng(0).uniform(0, 1, (12, 10, 3)).astype(np.float32)
    np.testing.assert_array_equal(back.denoise(img, noise_level=0.1), model.denoise(img, noise_level=0.1))


def test_default_training_is_unchanged_by_the_options_machinery():
    """The default options draw and compute as before: identical weights with the options spelled out."""
    X = smooth_images(8, 8, 8)
    kw = dict(depth=2, width=2, noise_level=(0.0, 0.2), epochs=2, batch_size=4, random_state=0)
    a = ResidualDenoiser(**kw).fit(X, verbose=0)
    b = ResidualDenoiser(unshuffle=1, noise_map=False, loss="l2", sigma_weighting=None, init=None, **kw).fit(
        X, verbose=0)
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
