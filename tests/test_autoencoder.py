"""Autoencoder and DenoisingAutoencoder: end-to-end gradient checks, the estimator contract, learning, and
decoders written on their own (decoder_hidden=).

Gradient checks run in float64 against CS231n's elementwise relative error < 1e-7, with smooth
activations (tanh, softplus) so that no ReLU kink sits inside a difference. A whole model's loss chains
several layers and its gradient has elements 1000x smaller than its largest; the plain central
difference (error ~1e-16 * L / eps from round-off) cannot resolve those to 1e-7, so the model-level
checks (:func:`nnlite.check_loss_gradients`) use the five-point stencil with the fixed step h = 1e-3
(truncation error O(h^4) ~ 1e-12, round-off ~1e-13). Single layers are checked with plain central
differences in the core's tests.
"""
import numpy as np
import pytest

import nnlite
from nnlite.data import load_font5x7
from nnlite.models import Autoencoder, DenoisingAutoencoder, NotFittedError

TOL = 1e-7


@pytest.fixture(scope="module")
def font():
    return load_font5x7()[0]


def tiny_data(n=6, d=7, seed=0):
    return np.random.default_rng(seed).uniform(0.05, 0.95, size=(n, d))


def fitted_tiny(cls=Autoencoder, **kw):
    kw.setdefault("hidden", (5,))
    kw.setdefault("activation", "tanh")
    kw.setdefault("latent_dim", 3)
    model = cls(dtype=np.float64, random_state=0, epochs=2, **kw).fit(tiny_data())
    return model


def check_model_loss_gradients(model, X, Y):
    """Every parameter and the input of model.loss_and_grad against compute_loss's central differences."""
    model.double()
    result = nnlite.check_loss_gradients(model, X, Y, loss=model.compute_loss)
    n_linear = sum(isinstance(m, nnlite.Linear) for m in model.modules())   # Dense is a Linear
    assert len(result.errors) == 2 * n_linear + 1        # every weight and bias is checked, and the input
    assert result.passed, f"relative errors above {TOL}:\n{result}"
    return result.errors


@pytest.mark.parametrize("activation", ["tanh", "softplus"])
def test_gradcheck_bce_loss_every_parameter_and_input(activation):
    model = fitted_tiny(activation=activation)
    X = tiny_data(4, seed=1)
    errors = check_model_loss_gradients(model, X, X)
    assert set(errors) == {n for n, _ in model.named_parameters()} | {"input"}


def test_gradcheck_mse_identity_output():
    model = fitted_tiny(loss="mse", output_activation="identity")
    X = tiny_data(4, seed=2)
    check_model_loss_gradients(model, X, X)


def test_gradcheck_denoising_loss_noisy_input_clean_target():
    model = fitted_tiny(DenoisingAutoencoder, noise="gaussian", noise_level=0.1)
    clean = tiny_data(4, seed=3)
    noisy = np.clip(clean + np.random.default_rng(4).normal(0, 0.1, clean.shape), 0.01, 0.99)
    check_model_loss_gradients(model, noisy, clean)


def test_module_interface_backward_of_the_whole_network():
    # The fitted model is an nnlite Module: forward(x) = decoder_(encoder_(x)), backward(dy) = dL/dx.
    # Checked with L = sum(forward(x) * R) w.r.t. the input and every weight, as nnlite.gradcheck does.
    model = fitted_tiny().double()
    R = np.random.default_rng(0).standard_normal((3, 7))

    def projected(x):
        return float(np.sum(model.forward(x) * R)), model.backward(R.copy())

    result = nnlite.check_loss_gradients(model, tiny_data(3, seed=5), loss_and_grad=projected)
    assert len(result.errors) == len(model.parameters()) + 1 and result.passed, str(result)


def test_fit_returns_self_and_fitted_attributes(font):
    ae = Autoencoder(hidden=(16,), epochs=3, random_state=0)
    assert ae.fit(font) is ae
    assert ae.n_features_in_ == 35 and ae.input_shape_ == (35,)
    assert len(ae.loss_curve_) == 3 == ae.n_epochs_ and ae.loss_curve_ is ae.history_["loss"]
    assert ae.batch_size_ == 32 and ae.n_iter_ == 3
    assert isinstance(ae.encoder_, nnlite.Module) and isinstance(ae.decoder_, nnlite.Module)
    Z = ae.encode(font)
    assert Z.shape == (32, 2) and Z.dtype == np.float32
    R = ae.reconstruct(font)
    assert R.shape == (32, 35) and R.min() >= 0 and R.max() <= 1
    np.testing.assert_array_equal(ae.decode(Z), R)


def test_default_epochs_and_batch_size(font):
    ae = Autoencoder(hidden=(4,))
    bs, ep, lr, spe = ae._resolve_schedule(32, None, None, None)
    assert (bs, ep, spe) == (32, Autoencoder._default_steps, 1)     # tiny data: full batch, ~2000 steps
    bs, ep, lr, spe = ae._resolve_schedule(60000, None, None, None)
    assert bs == 256 and ep == 10                                    # MNIST-sized: at least 10 epochs


def test_images_in_images_out(font):
    images = font.reshape(32, 7, 5)
    ae = Autoencoder(hidden=(8,), epochs=2, random_state=0).fit(images)
    assert ae.input_shape_ == (7, 5)
    assert ae.reconstruct(images).shape == (32, 7, 5)
    assert ae.decode(np.zeros((4, 2))).shape == (4, 7, 5)
    assert ae.encode(font).shape == (32, 2)          # flat samples are accepted too


def test_unfitted_use_raises():
    ae = Autoencoder()
    for call in (lambda: ae.encode(np.zeros((1, 35))), lambda: ae.decode(np.zeros((1, 2))),
                 lambda: ae.reconstruct(np.zeros((1, 35)))):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call()
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(latent_dim=0), r"latent_dim must be an int >= 1, got 0"),
    (dict(latent_dim=2.5), r"latent_dim must be an int >= 1, got 2.5"),
    (dict(hidden=(8, 0)), r"hidden must be a tuple of layer widths \(ints >= 1\), got \(8, 0\)"),
    (dict(activation="swish"), r"activation must be one of .*'relu'.*got 'swish'"),
    (dict(loss="hinge"), r"loss must be one of \['bce', 'mse'\], got 'hinge'"),
    (dict(loss="bce", output_activation="identity"), r"loss='bce' needs output_activation='sigmoid'"),
    (dict(lr=-1.0), r"lr must be a finite number > 0, got -1.0"),
    (dict(epochs=0), r"epochs must be an int >= 1 or None, got 0"),
    (dict(optimizer="lbfgs"), r"optimizer must be one of .*'adam'.*got 'lbfgs'"),
    (dict(lr_schedule="step"), r"lr_schedule must be one of \['constant', 'cosine'\], got 'step'"),
])
def test_hyperparameter_validation(font, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        Autoencoder(**kwargs).fit(font)


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(noise="speckle"), r"unknown noise 'speckle'; valid names are: bit_flip, gaussian, masking, salt_and_pepper"),
    (dict(noise="bit_flip", noise_level=1.5),
     r"noise_level \(probability p of 'bit_flip'\) must be in \[0, 1\], got 1.5"),
    (dict(noise="gaussian", noise_level=-0.1), r"noise_level \(sigma of 'gaussian'\) must be >= 0, got -0.1"),
    (dict(n_passes=0), r"n_passes must be an int >= 1, got 0"),
])
def test_denoising_validation(font, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        DenoisingAutoencoder(**kwargs).fit(font)


def test_data_validation(font):
    with pytest.raises(ValueError, match=r"needs targets in \[0, 1\]"):
        Autoencoder(epochs=1).fit(font * 255)
    ae = Autoencoder(hidden=(4,), epochs=1, random_state=0).fit(font)
    with pytest.raises(ValueError, match=r"fitted on samples of shape \(35,\)"):
        ae.encode(np.zeros((2, 36)))
    with pytest.raises(ValueError, match=r"expects codes of shape \(N, 2\)"):
        ae.decode(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        ae.encode(np.full((1, 35), np.nan))


def test_params_protocol():
    ae = Autoencoder(latent_dim=3, random_state=7)
    assert ae.get_params()["latent_dim"] == 3 and "hidden" in ae.get_params()
    assert repr(ae) == "Autoencoder(latent_dim=3, random_state=7)"
    assert ae.set_params(latent_dim=4) is ae and ae.latent_dim == 4
    with pytest.raises(ValueError, match="unknown parameter 'width'"):
        ae.set_params(width=3)
    assert not hasattr(ae, "encoder_")  # __init__ and set_params only store arguments


def _model_classes():
    import inspect

    from nnlite import models
    return [c for c in vars(models).values() if inspect.isclass(c) and issubclass(c, models._base.BaseModel)
            and c is not models._base.BaseModel]


@pytest.mark.parametrize("cls", _model_classes(), ids=lambda c: c.__name__)
def test_config_protocol_round_trips_through_json(cls):
    import json

    model = cls(random_state=5, dtype=np.float64)
    cfg = model.get_config()
    assert cfg["random_state"] == 5 and cfg["dtype"] == "float64"
    again = cls.from_config(json.loads(json.dumps(cfg)))
    assert type(again) is cls and again.get_config() == cfg
    assert not hasattr(again, "history_")                     # unfitted, like the original
    # a Generator cannot be written down: it is left out, so from_config gives random_state=None
    assert "random_state" not in cls(random_state=np.random.default_rng(0)).get_config()
    with pytest.raises(ValueError, match=rf"{cls.__name__}.from_config: unknown parameter\(s\) \['no_such_option'\]"):
        cls.from_config({**cfg, "no_such_option": 3})


def test_from_config_model_trains_like_the_original(font):
    a = Autoencoder(hidden=(8,), latent_dim=2, epochs=3, random_state=1).fit(font)
    b = Autoencoder.from_config(a.get_config()).fit(font)
    assert a.loss_curve_ == b.loss_curve_


@pytest.mark.parametrize("cls", [Autoencoder, DenoisingAutoencoder])
def test_seeded_fits_are_bit_identical(font, cls):
    kw = dict(hidden=(16,), latent_dim=2, epochs=5, random_state=3)
    a, b = cls(**kw).fit(font), cls(**kw).fit(font)
    c = cls(**{**kw, "random_state": 4}).fit(font)
    for (na, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(pa.data, pb.data, err_msg=na)
    assert a.loss_curve_ == b.loss_curve_
    assert not np.array_equal(a.encoder_[0].weight.data, c.encoder_[0].weight.data)


def test_learning_loss_drops_fivefold(font):
    # Default architecture, 300 full-batch epochs (the default is 2000): the mean BCE falls from ~0.70
    # to ~0.09 (measured factor 7.9 with this seed).
    ae = Autoencoder(epochs=300, random_state=0).fit(font)
    assert ae.loss_curve_[-1] < ae.loss_curve_[0] / 5, (ae.loss_curve_[0], ae.loss_curve_[-1])


def test_denoiser_draws_fresh_noise_from_clean_batches(font):
    seen = []

    def spy(x, level, rng):
        seen.append((x.copy(), rng.random(x.shape) < level))
        return np.where(seen[-1][1], 1 - x, x)

    DenoisingAutoencoder(noise=spy, noise_level=0.3, hidden=(8,), n_copies=1, epochs=3, random_state=0).fit(font)
    assert len(seen) == 3
    rows = {r.tobytes() for r in font}
    for x, _ in seen:
        assert {r.tobytes() for r in x} == rows            # the noise is applied to the clean glyphs
    assert not np.array_equal(seen[0][1], seen[1][1])       # fresh noise every epoch


def test_denoiser_learns_clean_targets(font):
    # Corruption = invert every pixel. Trained against clean targets, the model maps 1 - x back to x;
    # trained against its own (corrupted) inputs it would reproduce 1 - x.
    dae = DenoisingAutoencoder(noise=lambda x, level, rng: 1 - x, hidden=(64,), latent_dim=8, n_copies=1,
                               n_passes=1, epochs=300, lr=3e-3, random_state=0).fit(font)
    out = dae.reconstruct(1 - font) > 0.5
    assert np.mean(out == (font > 0.5)) > 0.95


def test_identity_noise_dae_equals_autoencoder(font):
    kw = dict(hidden=(16,), latent_dim=2, epochs=4, lr=1e-3, random_state=5)
    ae = Autoencoder(**kw).fit(font)
    dae = DenoisingAutoencoder(noise=lambda x, level, rng: x, n_copies=1, **kw).fit(font)
    for (n, p), (_, q) in zip(ae.named_parameters(), dae.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=n)


def test_denoiser_copies_and_passes(font):
    dae = DenoisingAutoencoder(noise="bit_flip", noise_level=0.1, hidden=(8,), epochs=1, random_state=0).fit(font)
    assert dae.n_copies_ == 8 and dae.batch_size_ == 256       # 32 glyphs x 8 noisy copies per epoch
    x = dae.add_noise(font[:3], random_state=0)
    one = dae.reconstruct(x, n_passes=1)
    two = dae.reconstruct(x, n_passes=2)
    np.testing.assert_allclose(two, dae.reconstruct(one, n_passes=1))
    np.testing.assert_allclose(dae.reconstruct(x), dae.reconstruct(dae.reconstruct(one, n_passes=1), n_passes=1))


def test_fit_passes_callbacks_to_the_trainer(font):
    seen = []
    cb = nnlite.LambdaCallback(on_epoch_end=lambda trainer, epoch, logs: seen.append((epoch, logs["loss"])))
    ae = Autoencoder(hidden=(8,), epochs=3, random_state=0).fit(font, callbacks=[cb])
    assert [e for e, _ in seen] == [1, 2, 3] and [v for _, v in seen] == ae.loss_curve_


def test_auto_passes_three_for_binary_data_one_for_grey(font):
    """'auto' iterates only on 1-bit data; grey images get the classic single pass."""
    binary = DenoisingAutoencoder(noise="bit_flip", noise_level=0.1, epochs=2, random_state=0).fit(font)
    assert binary.binary_data_ and binary.n_passes_ == 3
    grey = np.clip(font * 0.8 + 0.1, 0, 1)
    single = DenoisingAutoencoder(noise="gaussian", noise_level=0.1, epochs=2, random_state=0).fit(grey)
    assert not single.binary_data_ and single.n_passes_ == 1
    np.testing.assert_array_equal(single.reconstruct(grey), single.reconstruct(grey, n_passes=1))
    fixed = DenoisingAutoencoder(noise="gaussian", noise_level=0.1, n_passes=2, epochs=2, random_state=0).fit(grey)
    assert fixed.n_passes_ == 2


@pytest.mark.parametrize("cls", [Autoencoder, DenoisingAutoencoder, nnlite.SparseAutoencoder])
def test_fit_on_no_samples_names_the_problem(cls):
    # the error names the model and the argument, not NumPy's reshape of an empty array
    with pytest.raises(ValueError, match=rf"{cls.__name__}: X has no samples \(shape \(0, 144\)\)"):
        cls(epochs=1).fit(np.zeros((0, 144), np.float32))


def test_decode_refuses_non_finite_codes(font):
    ae = Autoencoder(hidden=(8,), epochs=2, random_state=0).fit(font)
    with pytest.raises(ValueError, match=r"Autoencoder\.decode: Z contains NaN or inf"):
        ae.decode([[np.nan, 0.0]])
    with pytest.raises(ValueError, match=r"Autoencoder\.decode: Z contains NaN or inf"):
        ae.inverse_transform(np.array([[0.0, np.inf]]))
    with pytest.raises(ValueError, match=r"Autoencoder\.decode expects codes of shape \(N, 2\), got \(1, 3\)"):
        ae.decode(np.zeros((1, 3)))
    assert np.isfinite(ae.decode([[0.5, -1.0]])).all()


def test_denoiser_score_is_the_same_for_the_same_data(font):
    # scoring uses the validation noise of every epoch: a second score of the same data gets the same
    # noise rather than the next draws of the validation stream
    dae = DenoisingAutoencoder(hidden=(16,), epochs=3, noise="bit_flip", noise_level=0.2, random_state=0).fit(font)
    assert dae.score(font) == dae.score(font)
    assert dae.score(font) != DenoisingAutoencoder(hidden=(16,), epochs=3, noise="bit_flip", noise_level=0.2,
                                                   random_state=1).fit(font).score(font)


# ------------------------------------------------------------------------------- decoder widths
def outs(net):
    return [m.n_out for m in net if hasattr(m, "n_out")]


def ins(net):
    return [m.n_in for m in net if hasattr(m, "n_in")]


def test_decoder_hidden_builds_the_decoder_as_written_and_none_mirrors_the_encoder():
    from nnlite.models import SparseAutoencoder

    X = tiny_data(8, 12)
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
                                 epochs=2, dtype=np.float64, random_state=0, **kw).fit(tiny_data(6, 8))
    assert len(model.decoder_.parameters()) == 2 * 3 and len(model.encoder_.parameters()) == 2 * 2
    clean = tiny_data(4, 8, seed=1)
    noisy = np.clip(clean + 0.1 * np.random.default_rng(2).standard_normal(clean.shape), 0.01, 0.99)
    check_model_loss_gradients(model, noisy, clean)


def test_decoder_hidden_round_trips_checkpoints_config_and_shows_in_the_summary(tmp_path):
    import json

    from nnlite.checkpoint import save_checkpoint
    from nnlite.models.persistence import restore_model

    X = tiny_data(8, 12).astype(np.float32)
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
