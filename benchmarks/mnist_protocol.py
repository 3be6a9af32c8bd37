"""The MNIST-scale protocol shared by ``benchmarks/mnist_scale.py`` (nnlite) and
``benchmarks/reference_torch_mnist.py`` (PyTorch): the experiments, their reference values, the data
and the fixed noisy test sets, so both implementations are scored on the same arrays.

See ``benchmarks/mnist_scale.py`` for what each experiment measures and how it is judged.
"""
from __future__ import annotations

import numpy as np

TEST_NOISE_SEED = 1234
EVAL_SEED = 4321

#: The four experiments: data, model and the PyTorch reference measured on this machine.
EXPERIMENTS = {
    "vae_fashion": dict(kind="vae", dataset="fashion", epochs=10, ref=244.3, ref_epoch1=262.6,
                        what="VAE 784-400-20, Fashion-MNIST, 10 epochs: test -ELBO per image (nats)"),
    "vae_mnist": dict(kind="vae", dataset="mnist8k", epochs=20, ref=116.6, ref_epoch1=None,
                      what="VAE 784-400-20, MNIST test[:8000] -> test[8000:], 20 epochs: test -ELBO per image"),
    "dae_gaussian": dict(kind="dae", dataset="fashion", epochs=5, noise="gaussian", level=0.5, ref=17.4,
                         ref_input=9.3, what="MLP DAE 784-512-128-32, Fashion-MNIST, Gaussian 0.5, 5 epochs: "
                                             "test PSNR (dB)"),
    "dae_sp": dict(kind="dae", dataset="fashion", epochs=5, noise="salt_and_pepper", level=0.2, ref=18.2,
                   ref_input=10.8, what="MLP DAE 784-512-128-32, Fashion-MNIST, salt-and-pepper 20%, 5 epochs: "
                                        "test PSNR (dB)"),
}
VAE_TOL = 0.01     # relative, lower is better
DAE_TOL = 0.2      # dB, higher is better


def _flat(X):
    return np.ascontiguousarray(X.reshape(len(X), -1), dtype=np.float32)


def load_protocol_data(exp, subset=None):
    """``{'train', 'test', 'test_labels', ('test_noisy', 'noisy_psnr')}`` as flat float32 arrays."""
    from nnlite.data import load_fashion_mnist, load_mnist
    from nnlite.metrics import psnr
    from nnlite.noise import get_noise

    if exp["dataset"] == "fashion":
        Xtr, _ = load_fashion_mnist("train", download=False)
        Xte, yte = load_fashion_mnist("test", download=False)
    else:
        X, y = load_mnist("test", download=False)
        Xtr, Xte, yte = X[:8000], X[8000:], y[8000:]
    Xtr, Xte = _flat(Xtr), _flat(Xte)
    if subset:
        Xtr = Xtr[:subset]
        Xte, yte = Xte[:max(subset // 4, 256)], yte[:max(subset // 4, 256)]
    d = {"train": Xtr, "test": Xte, "test_labels": np.asarray(yte)}
    if exp["kind"] == "dae":
        noisy = get_noise(exp["noise"])(Xte, exp["level"], np.random.default_rng(TEST_NOISE_SEED))
        d["test_noisy"] = np.ascontiguousarray(noisy, dtype=np.float32)
        d["noisy_psnr"] = psnr(Xte, noisy)
    return d
