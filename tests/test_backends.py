"""Choosing a backend (nnlite.use, nnlite.ops.using, NNLITE_BACKEND), and every model class trained under
each: the loss curves of the fast and the reference backend agree within float32 rounding, and the
reference backend trains every model without Numba (not imported, and not importable).

The per-op comparisons are in tests/test_ops_dense.py (dense, losses, VAE, optimizers) and the conv
op tests.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnlite
from nnlite import models as m
from nnlite import ops

ROOT = Path(__file__).resolve().parent.parent

SHORT = dict(epochs=2, batch_size=16, random_state=3)

#: The fully connected models: name -> (factory, data kind).
MLP_MODELS = {
    "Autoencoder": (lambda: m.Autoencoder(latent_dim=2, hidden=(12,), **SHORT), "flat"),
    "DenoisingAutoencoder": (lambda: m.DenoisingAutoencoder(latent_dim=4, hidden=(12,), **SHORT), "flat"),
    "VAE": (lambda: m.VAE(latent_dim=2, hidden=(12,), **SHORT), "flat"),
    "SparseAutoencoder": (lambda: m.SparseAutoencoder(latent_dim=6, l1=1e-3, **SHORT), "flat"),
    "MLPClassifier": (lambda: m.MLPClassifier(hidden=(12,), **SHORT), "labels"),
    "GAN-mlp": (lambda: m.GAN(latent_dim=4, generator_hidden=(12,), discriminator_hidden=(12,), **SHORT), "flat"),
    "AdversarialDenoiser": (lambda: m.AdversarialDenoiser(latent_dim=4, hidden=(12,), discriminator_hidden=(8,),
                                                          **SHORT), "flat"),
}

#: The convolutional models: name -> (factory, data kind).
CONV_MODELS = {
    "GAN-dcgan": (lambda: m.GAN(generator="dcgan", discriminator="dcgan", latent_dim=4, channels=4, **SHORT),
                  "images"),
    "ConvDenoisingAutoencoder": (lambda: m.ConvDenoisingAutoencoder(channels=(4, 6), **SHORT), "images"),
    "ResidualDenoiser-unet": (lambda: m.ResidualDenoiser(width=4, depth=2, **SHORT), "images"),
    "ResidualDenoiser-dncnn": (lambda: m.ResidualDenoiser(architecture="dncnn", width=4, depth=3, **SHORT), "images"),
    "ConvVAE": (lambda: m.ConvVAE(latent_dim=2, channels=(4, 6), hidden=8, **SHORT), "images"),
}
MODELS = {**MLP_MODELS, **CONV_MODELS}


def _data(kind):
    rng = np.random.default_rng(0)
    if kind == "images":
        return rng.random((16, 8, 8)).astype(np.float32), None          # (N, 8, 8) grey images
    X = rng.random((48, 36)).astype(np.float32)                          # (N, 36) in [0, 1]
    return X, (np.arange(48) % 3 if kind == "labels" else None)


def _fit(name):
    factory, kind = MODELS[name]
    X, y = _data(kind)
    model = factory()
    model.fit(X) if y is None else model.fit(X, y)
    return model


# ----------------------------------------------------------------------------------- choosing one
def test_default_backend_is_fast_and_use_switches_every_op():
    assert ops.backend() == "fast"
    from nnlite.ops import fast, reference
    try:
        nnlite.use("reference")
        assert ops.backend() == "reference"
        assert all(getattr(ops, name) is getattr(reference, name) for name in ops.OPS)
        nnlite.use("FAST")                                               # names are case-insensitive
        assert ops.backend() == "fast"
        assert all(getattr(ops, name) is getattr(fast, name) for name in ops.OPS)
    finally:
        nnlite.use("fast")


@pytest.mark.parametrize("bad", ["numpy", "", None, 3])
def test_unknown_backend_is_a_value_error_listing_the_backends(bad):
    with pytest.raises(ValueError, match=r"unknown backend .*valid: \['fast', 'reference'\]"):
        nnlite.use(bad)
    assert ops.backend() == "fast"                                       # nothing changed


def test_using_restores_the_previous_backend_even_after_an_error():
    with ops.using("reference"):
        assert ops.backend() == "reference"
        with ops.using("fast"):
            assert ops.backend() == "fast"
        assert ops.backend() == "reference"
    assert ops.backend() == "fast"
    with pytest.raises(RuntimeError, match="boom"):
        with ops.using("reference"):
            raise RuntimeError("boom")
    assert ops.backend() == "fast"


def _run(code, **env):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env})


def test_bad_nnlite_backend_environment_variable_fails_at_import_naming_it():
    res = _run("import nnlite", NNLITE_BACKEND="gpu")
    assert res.returncode != 0
    assert "NNLITE_BACKEND='gpu' is not a backend; valid: ['fast', 'reference']" in res.stderr


def test_nnlite_backend_environment_variable_selects_the_backend():
    res = _run("import nnlite; print(nnlite.ops.backend())", NNLITE_BACKEND="reference")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "reference"


# ------------------------------------------------------------------ every model, on both backends
def test_the_reference_backend_trains_every_model_without_numba():
    """``sys.modules['numba'] = None`` makes ``import numba`` fail: the reference backend, ``import nnlite``
    and a short fit of every model class never try it."""
    code = f"""
import sys
sys.modules["numba"] = None
import numpy as np
import nnlite
sys.path.insert(0, {str(ROOT / "tests")!r})
import test_backends as t
for name in t.MODELS:
    t._fit(name)
loaded = [k for k in sys.modules if k.startswith("numba") and sys.modules[k] is not None]
print("numba modules:", loaded, "backend:", nnlite.ops.backend())
"""
    res = _run(code, NNLITE_BACKEND="reference")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    assert "numba modules: [] backend: reference" in res.stdout


@pytest.mark.parametrize("name", list(MODELS))
def test_loss_curves_agree_on_both_backends(name):
    fast = _fit(name)
    with ops.using("reference"):
        reference = _fit(name)
    a, b = np.array(fast.loss_curve_), np.array(reference.loss_curve_)
    assert a.shape == b.shape and np.all(np.isfinite(b))
    np.testing.assert_allclose(b, a, rtol=1e-4, err_msg=f"{name}: loss curves, reference vs fast")
    for (key, p), q in zip(fast.state_dict().items(), reference.state_dict().values()):
        np.testing.assert_allclose(q, p, rtol=1e-3, atol=1e-4, err_msg=f"{name}: {key} after training")


@pytest.mark.parametrize("name", ["VAE", "Autoencoder"])
def test_model_loss_gradients_on_the_reference_backend(name):
    """The reference ops give a model the gradients of its loss: float64, every parameter and the input
    (smooth activations, data inside (0, 1), as in the models' own gradient checks)."""
    rng = np.random.default_rng(1)
    X = rng.uniform(0.05, 0.95, size=(6, 7))
    cls = {"VAE": m.VAE, "Autoencoder": m.Autoencoder}[name]
    with ops.using("reference"):
        model = cls(latent_dim=3, hidden=(5,), activation="tanh", epochs=2, dtype=np.float64, random_state=0)
        model.fit(X, verbose=0)
        if name == "VAE":
            result = nnlite.check_loss_gradients(model, X, loss_kwargs=dict(eps=rng.standard_normal((6, 3))))
        else:                                                            # input and target: X itself
            result = nnlite.check_loss_gradients(model, X, X, loss=model.compute_loss)
    assert result.passed, str(result)
