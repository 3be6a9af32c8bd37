"""Same seed, same weights: every model trained briefly must give exactly the weights recorded in
``tests/data/bit_identity.json``.

The recorded digests guard refactors: moving code between files must not change one bit of what a
seeded run computes. A change that is *meant* to change float rounding (a new kernel that sums in
another order) re-records them with ``python tests/test_bit_identity.py --record`` and says why in
its commit.

The digests depend on the BLAS kernel that ran (OpenBLAS picks one per CPU). On a machine whose
kernel differs from the recorded one, the test compares the weights' summary statistics within a
float32 tolerance instead of the exact digest.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

REFERENCE = Path(__file__).parent / "data" / "bit_identity.json"


def _runs():
    """Name -> (factory, data) of the small seeded runs, every model class of nnlite.models."""
    from nnlite import models as m

    rng = np.random.default_rng(0)
    flat = rng.random((48, 36)).astype(np.float32)            # (N, 36), values in [0, 1]
    images = rng.random((16, 8, 8)).astype(np.float32)        # (N, 8, 8) grey images
    labels = np.arange(48) % 3
    short = dict(epochs=2, batch_size=16, random_state=3)
    return {
        "Autoencoder": (lambda: m.Autoencoder(latent_dim=2, hidden=(12,), **short), flat, None),
        "DenoisingAutoencoder": (lambda: m.DenoisingAutoencoder(latent_dim=4, hidden=(12,), **short), flat, None),
        "VAE": (lambda: m.VAE(latent_dim=2, hidden=(12,), **short), flat, None),
        "SparseAutoencoder": (lambda: m.SparseAutoencoder(latent_dim=6, l1=1e-3, **short), flat, None),
        "MLPClassifier": (lambda: m.MLPClassifier(hidden=(12,), **short), flat, labels),
        "GAN-mlp": (lambda: m.GAN(latent_dim=4, generator_hidden=(12,), discriminator_hidden=(12,), **short),
                    flat, None),
        "GAN-dcgan": (lambda: m.GAN(generator="dcgan", discriminator="dcgan", latent_dim=4, channels=4, **short),
                      images, None),
        "AdversarialDenoiser": (lambda: m.AdversarialDenoiser(latent_dim=4, hidden=(12,), discriminator_hidden=(8,),
                                                              **short), flat, None),
        "ConvDenoisingAutoencoder": (lambda: m.ConvDenoisingAutoencoder(channels=(4, 6), **short), images, None),
        "ResidualDenoiser-unet": (lambda: m.ResidualDenoiser(width=4, depth=2, **short), images, None),
        "ResidualDenoiser-dncnn": (lambda: m.ResidualDenoiser(architecture="dncnn", width=4, depth=3, **short),
                                   images, None),
        "ConvVAE": (lambda: m.ConvVAE(latent_dim=2, channels=(4, 6), hidden=8, **short), images, None),
    }


def _blas_kernel() -> str:
    """The kernel of the BLAS that NumPy itself loaded (SciPy, if imported, brings a second one)."""
    from threadpoolctl import threadpool_info

    numpy_blas = [i for i in threadpool_info() if i.get("user_api") == "blas" and "numpy" in i.get("filepath", "")]
    return ",".join(f"{i.get('internal_api')}:{i.get('architecture')}" for i in numpy_blas) or "unknown"


def _fingerprint(model) -> dict:
    state = model.state_dict()
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(state[key]).tobytes())
    return {"sha256": digest.hexdigest(),
            "sums": [float(np.sum(state[k], dtype=np.float64)) for k in sorted(state)],
            "abs_sums": [float(np.sum(np.abs(state[k]), dtype=np.float64)) for k in sorted(state)]}


def _train(name):
    factory, X, y = _runs()[name]
    model = factory()
    model.fit(X) if y is None else model.fit(X, y)
    return model


def record():
    out = {"blas": _blas_kernel(), "models": {name: _fingerprint(_train(name)) for name in _runs()}}
    REFERENCE.parent.mkdir(exist_ok=True)
    REFERENCE.write_text(json.dumps(out, indent=1) + "\n")
    print(f"recorded {len(out['models'])} models into {REFERENCE} ({out['blas']})")


@pytest.mark.parametrize("name", list(_runs()))
def test_seeded_weights_unchanged(name):
    reference = json.loads(REFERENCE.read_text())
    want = reference["models"][name]
    got = _fingerprint(_train(name))
    if reference["blas"] == _blas_kernel():
        assert got["sha256"] == want["sha256"], (
            f"{name}: the seeded weights changed (sums {got['sums']} vs recorded {want['sums']}); if a kernel "
            "now rounds differently on purpose, re-record with `python tests/test_bit_identity.py --record`")
    else:  # another BLAS kernel sums in another order: the same weights up to float32 rounding
        np.testing.assert_allclose(got["abs_sums"], want["abs_sums"], rtol=1e-3, err_msg=name)


def test_every_model_class_is_covered():
    from nnlite import models as m
    from nnlite.models._base import BaseModel

    classes = {n for n, v in vars(m).items() if isinstance(v, type) and issubclass(v, BaseModel) and v is not BaseModel}
    covered = {n.split("-")[0] for n in _runs()}
    assert classes, "found no model classes in nnlite.models"
    assert classes <= covered, f"models without a bit-identity run: {sorted(classes - covered)}"


if __name__ == "__main__":
    if "--record" in sys.argv:
        record()
    else:
        print(__doc__)
