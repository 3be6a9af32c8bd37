"""The models benchmark (``python -m benchmarks --what models``): its reference networks are the nnlite
models' architectures (same trainable parameter count, row by row), and the harness runs end to end.
Nothing here compares times: a benchmark is never a pass/fail test."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import models as bm  # noqa: E402


def _tiny(row, n=10):
    """``n`` random samples of the row's data shape (architectures do not depend on pixel values)."""
    rng = np.random.default_rng(0)
    shape = (3, 64, 64) if row.data == "rgb64" else (28, 28)
    return rng.random((n, *shape), dtype=np.float32), np.arange(n) % 10


def _nnlite_params(row):
    X, y = _tiny(row)
    model = row.make(epochs=1, batch_size=4)
    model.fit(X, y) if row.labels else model.fit(X)
    return sum(p.data.size for p in model.parameters()), X.shape[1:]


@pytest.mark.parametrize("row", bm.ROWS, ids=lambda r: r.name)
def test_pytorch_reference_has_the_nnlite_models_parameter_count(row):
    ok, why = bm.available("torch")
    if not ok:
        pytest.skip(f"PyTorch reference not checked: {why} (pip install nnlite[bench])")
    from benchmarks import reference_torch

    n_nn, shape = _nnlite_params(row)
    ref = reference_torch.Reference(row.model, row.params(), shape)
    assert ref.n_params() == n_nn, f"{row.name}: PyTorch {ref.n_params():,} parameters, nnlite {n_nn:,}"


@pytest.mark.parametrize("row", bm.ROWS, ids=lambda r: r.name)
def test_jax_reference_has_the_nnlite_models_parameter_count(row):
    ok, why = bm.available("jax")
    if not ok:
        pytest.skip(f"JAX reference not checked: {why} (pip install nnlite[jax])")
    from benchmarks import models_jax

    n_nn, shape = _nnlite_params(row)
    n_jax = models_jax.n_params(row, shape)
    assert n_jax == n_nn, f"{row.name}: JAX {n_jax:,} parameters, nnlite {n_nn:,}"


def test_every_model_class_has_a_row():
    import nnlite.models as models

    classes = {"Autoencoder", "DenoisingAutoencoder", "VAE", "SparseAutoencoder", "MLPClassifier", "GAN",
               "AdversarialDenoiser", "ConvDenoisingAutoencoder", "ResidualDenoiser", "ConvVAE"}
    assert classes <= {name for name in dir(models) if isinstance(getattr(models, name), type)}
    assert {r.model for r in bm.ROWS} == classes
    assert {r.kwargs.get("architecture") for r in bm.ROWS if r.model == "ResidualDenoiser"} == {"unet", "dncnn"}
    assert {r.kwargs.get("generator") for r in bm.ROWS if r.model == "GAN"} == {None, "dcgan"}


def test_ratio_stats_are_per_round():
    r = bm.ratio_stats([1.0, 3.0, 2.0], [2.0, 2.0, 1.0])
    assert r == {"median": 1.5, "min": 0.5, "max": 2.0, "rounds": 3}
    assert bm.ratio_stats([1.0], []) is None


def test_worker_env_drops_only_the_openblas_kernel_overrides(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "1048576")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    env = bm.worker_env("default")
    assert "OPENBLAS_CORETYPE" not in env and "OPENBLAS_L2_SIZE" not in env
    assert env["OPENBLAS_NUM_THREADS"] == "2"
    assert bm.worker_env("as-is")["OPENBLAS_CORETYPE"] == "Haswell"


def test_spin_load_is_killed_when_the_block_ends():
    with bm.SpinLoad(30) as load:
        assert load.proc.poll() is None                  # spinning
    assert load.proc.poll() is not None                  # gone, long before its 30 s


def test_quick_run_end_to_end_nnlite_only(tmp_path):
    """Two rows, the busy-machine row and both output files, through the real command line."""
    out = tmp_path / "models.md"
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--what", "models", "--quick", "--models",
                           "vae,mlp_classifier", "--models-out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    text = out.read_text()
    assert "| VAE 784-400-20 |" in text and "| MLPClassifier 784-256-10 |" in text
    assert "spin loop" in text and "| nnlite, 1 BLAS thread |" in text
    res = json.loads(out.with_suffix(".json").read_text())
    assert res["impls"] == ["nnlite"] and res["quick"]
    table = res["tables"][0]
    assert [r["name"] for r in table["rows"]] == ["vae", "mlp_classifier"]
    for r in table["rows"]:
        assert not r["errors"], r["errors"]
        s = r["summary"]["nnlite"]
        assert s["rounds"] == 1 and s["median"] > 0 and np.isfinite(s["loss"])
    assert [(b["name"], b["load"]) for b in table["busy"]] == [("vae", "idle"), ("vae", "busy")]
    assert set(table["busy"][1]["summary"]) == {bm.POLICY_DEFAULT, bm.POLICY_FIXED, bm.POLICY_ONE}


def _pairs(row, model, ref):
    """(nnlite module, PyTorch module, PyTorch output -> nnlite's layout) pairs that compute the same map."""
    import torch

    sig = torch.sigmoid
    flat = lambda t: t.reshape(len(t), -1)                      # noqa: E731
    if row.model == "GAN":
        return [(model.generator_, ref.G, flat), (model.discriminator_, ref.D, lambda t: t)]
    if row.model == "ResidualDenoiser":
        return [(model.net_, ref.net, lambda t: t)]
    if row.model == "MLPClassifier":
        return [(model.network_, ref.net, lambda t: t)]
    pairs = [(model.encoder_, ref.enc, lambda t: t), (model.decoder_, ref.dec, lambda t: flat(sig(t)))]
    if row.model == "AdversarialDenoiser":
        pairs.append((model.discriminator_, ref.D, lambda t: t))
    return pairs


def _copy_weights(nn_mod, t_mod):
    """nnlite's parameters, in order, into the PyTorch module (Linear weights transposed: nnlite keeps
    ``(n_in, n_out)``, PyTorch ``(out, in)``)."""
    import torch
    from torch import nn

    nn_params = nn_mod.parameters()
    t_named = [(m, p) for m in t_mod.modules() for p in m.parameters(recurse=False)]
    assert len(nn_params) == len(t_named), (len(nn_params), len(t_named))
    for src, (owner, dst) in zip(nn_params, t_named):
        data = src.data.T if isinstance(owner, nn.Linear) and dst.ndim == 2 else src.data
        assert tuple(data.shape) == tuple(dst.shape), (type(owner).__name__, data.shape, tuple(dst.shape))
        with torch.no_grad():
            dst.copy_(torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32)))
    stats = ("running_mean", "running_var")                       # BatchNorm's running statistics too
    nn_bufs = [b for name, b in nn_mod.named_buffers() if name.rsplit(".", 1)[-1] in stats]
    t_bufs = [b for m in t_mod.modules() for name, b in m.named_buffers(recurse=False) if name in stats]
    assert len(nn_bufs) == len(t_bufs), (len(nn_bufs), len(t_bufs))
    for src, dst in zip(nn_bufs, t_bufs):
        dst.copy_(torch.from_numpy(np.asarray(src, dtype=np.float32)))


@pytest.mark.parametrize("row", bm.ROWS, ids=lambda r: r.name)
def test_pytorch_reference_computes_the_same_function_with_nnlites_weights(row):
    """Stronger than equal parameter counts: with nnlite's weights copied in, the PyTorch networks give
    nnlite's outputs (eval mode: no dropout, BatchNorm on its running statistics), so layer order,
    activations, strides and paddings agree too."""
    ok, why = bm.available("torch")
    if not ok:
        pytest.skip(f"PyTorch reference not checked: {why} (pip install nnlite[bench])")
    import torch

    from benchmarks import reference_torch

    X, y = _tiny(row)
    model = row.make(epochs=1, batch_size=4)
    model.fit(X, y) if row.labels else model.fit(X)
    model.eval()
    ref = reference_torch.Reference(row.model, row.params(), X.shape[1:])
    rng = np.random.default_rng(1)
    for nn_mod, t_mod, to_nn in _pairs(row, model, ref):
        _copy_weights(nn_mod, t_mod)
        t_mod.eval()
        first = next(t_mod.children())
        if isinstance(first, torch.nn.Linear):                     # flat rows in
            x = rng.random((3, first.in_features), dtype=np.float32)
            x_t = torch.from_numpy(x)
        elif isinstance(first, torch.nn.ConvTranspose2d):          # a conv decoder: codes in
            f = 2 ** len(row.params()["channels"])
            shape = (3, first.in_channels, ref.image[1] // f, ref.image[2] // f)
            x_t = torch.from_numpy(rng.random(shape, dtype=np.float32))
            x = x_t.numpy()
        else:                                                      # images in
            x_t = torch.from_numpy(rng.random((3, *ref.image), dtype=np.float32))
            x = x_t.numpy().reshape(3, -1) if nn_mod[0].__class__.__name__ == "Reshape" else x_t.numpy()
        with torch.no_grad():
            want = to_nn(t_mod(x_t)).numpy()
        got = np.asarray(nn_mod(np.ascontiguousarray(x)))
        got = got.reshape(want.shape) if got.size == want.size else got
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5,
                                   err_msg=f"{row.name}: {type(t_mod).__name__} differs from nnlite's module")
