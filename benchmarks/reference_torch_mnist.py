"""The MNIST-scale quality protocol of ``benchmarks/mnist_scale.py``, written in PyTorch.

Only used when ``import torch`` works (``pip install nnlite[bench]`` or the wheel named in the
project's brief); nnlite itself never imports torch. Written the way a PyTorch user writes it:

* **VAE** -- ``pytorch/examples/vae/main.py``: ``fc1`` 784->400 ReLU, ``fc21``/``fc22`` 400->20
  (mu, logvar), ``fc3`` 20->400 ReLU, ``fc4`` 400->784 sigmoid; loss
  ``F.binary_cross_entropy(recon, x, reduction='sum') + KL``, summed over the batch; Adam(lr=1e-3);
  batch 128; ``nn.Linear``'s default initialisation after ``torch.manual_seed(seed)``; a
  ``DataLoader(shuffle=True)``; test loss = the same loss, sampling ``z`` as in training, summed over
  the test set and divided by its size (per image).
* **DAE** -- ``nn.Sequential`` 784-512-128-32-128-512-784 (ReLU hidden, linear code, sigmoid out),
  ``F.mse_loss`` (mean), Adam(lr=1e-3), batch 128, fresh noise for every batch drawn with torch's
  generator (Gaussian: ``clamp(x + sigma * randn, 0, 1)``; salt-and-pepper: one uniform per pixel,
  ``u < p/2 -> 0``, ``p/2 <= u < p -> 1``, exactly :mod:`nnlite.noise`'s definition).

Data, the fixed noisy test sets and the PSNR come from nnlite (loaders, :mod:`nnlite.noise`,
:func:`nnlite.metrics.psnr`), so both implementations are scored on the same arrays.

Run alone: ``NNLITE_DATA=/work/shared/data python -m benchmarks.reference_torch_mnist [--only vae_fashion]``.
"""
from __future__ import annotations

import argparse
import time

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
except Exception:  # pragma: no cover - torch is optional
    torch = None

from benchmarks.mnist_protocol import EXPERIMENTS, load_protocol_data  # noqa: E402
from benchmarks.reference_torch import available, version  # noqa: E402,F401  (one definition of both)

if torch is not None:
    class VAE(nn.Module):
        """PyTorch's example VAE, verbatim in structure."""

        def __init__(self, n=784, hidden=400, latent=20):
            super().__init__()
            self.fc1 = nn.Linear(n, hidden)
            self.fc21 = nn.Linear(hidden, latent)
            self.fc22 = nn.Linear(hidden, latent)
            self.fc3 = nn.Linear(latent, hidden)
            self.fc4 = nn.Linear(hidden, n)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def reparameterize(self, mu, logvar):
            std = torch.exp(0.5 * logvar)
            return mu + torch.randn_like(std) * std

        def decode(self, z):
            return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

        def forward(self, x):
            mu, logvar = self.encode(x)
            z = self.reparameterize(mu, logvar)
            return self.decode(z), mu, logvar

    def vae_loss(recon_x, x, mu, logvar):
        bce = F.binary_cross_entropy(recon_x, x, reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return bce, kld

    def mlp_dae(sizes=(784, 512, 128, 32)):
        enc, dec = [], []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            enc.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                enc.append(nn.ReLU())
        rev = sizes[::-1]
        for i, (a, b) in enumerate(zip(rev[:-1], rev[1:])):
            dec.append(nn.Linear(a, b))
            dec.append(nn.ReLU() if i < len(rev) - 2 else nn.Sigmoid())
        return nn.Sequential(*enc, *dec)


def _torch_noise(x, noise, level):
    if noise == "gaussian":
        return torch.clamp(x + level * torch.randn_like(x), 0.0, 1.0)
    if noise == "salt_and_pepper":
        u = torch.rand_like(x)
        out = x.clone()
        out[u < level] = 1.0
        out[u < 0.5 * level] = 0.0
        return out
    raise ValueError(f"unknown noise {noise!r}")


def run_vae(X_train, X_test, epochs, seed=0, batch_size=128, log=print):
    """Train the example VAE; returns per-epoch test loss per image, train loss, recon, KL, seconds."""
    torch.manual_seed(seed)
    model = VAE(X_train.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    train = DataLoader(TensorDataset(torch.from_numpy(X_train)), batch_size=batch_size, shuffle=True)
    test = DataLoader(TensorDataset(torch.from_numpy(X_test)), batch_size=batch_size, shuffle=False)
    hist = {"loss": [], "test_loss": [], "test_recon": [], "test_kl": [], "seconds": []}
    for epoch in range(1, epochs + 1):
        model.train()
        total, t0 = 0.0, time.perf_counter()
        for (x,) in train:
            opt.zero_grad()
            recon, mu, logvar = model(x)
            bce, kld = vae_loss(recon, x, mu, logvar)
            loss = bce + kld
            loss.backward()
            total += loss.item()
            opt.step()
        hist["seconds"].append(time.perf_counter() - t0)
        hist["loss"].append(total / len(X_train))
        model.eval()
        tb = tk = 0.0
        with torch.no_grad():
            for (x,) in test:
                recon, mu, logvar = model(x)
                bce, kld = vae_loss(recon, x, mu, logvar)
                tb += bce.item()
                tk += kld.item()
        hist["test_recon"].append(tb / len(X_test))
        hist["test_kl"].append(tk / len(X_test))
        hist["test_loss"].append((tb + tk) / len(X_test))
        log(f"  torch VAE epoch {epoch}: train {hist['loss'][-1]:.2f}  test {hist['test_loss'][-1]:.2f}  "
            f"({hist['seconds'][-1]:.1f} s)")
    return hist


def run_dae(X_train, X_test_clean, X_test_noisy, noise, level, epochs, seed=0, batch_size=128, log=print):
    """Train the MLP DAE; returns the mean test PSNR of the denoised fixed noisy test set and seconds."""
    from nnlite.metrics import psnr

    torch.manual_seed(seed)
    net = mlp_dae()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    train = DataLoader(TensorDataset(torch.from_numpy(X_train)), batch_size=batch_size, shuffle=True)
    hist = {"loss": [], "seconds": []}
    for epoch in range(1, epochs + 1):
        net.train()
        total, t0 = 0.0, time.perf_counter()
        for (x,) in train:
            noisy = _torch_noise(x, noise, level)
            opt.zero_grad()
            loss = F.mse_loss(net(noisy), x)
            loss.backward()
            total += loss.item() * len(x)
            opt.step()
        hist["seconds"].append(time.perf_counter() - t0)
        hist["loss"].append(total / len(X_train))
        log(f"  torch DAE {noise} epoch {epoch}: train MSE {hist['loss'][-1]:.5f} ({hist['seconds'][-1]:.1f} s)")
    net.eval()
    with torch.no_grad():
        out = net(torch.from_numpy(X_test_noisy)).numpy()
    hist["psnr"] = psnr(X_test_clean, out)
    return hist


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(EXPERIMENTS), help=f"comma-separated subset of {list(EXPERIMENTS)}")
    p.add_argument("--subset", type=int, default=None, help="train on the first N images only (smoke runs)")
    args = p.parse_args(argv)
    if not available():
        raise SystemExit("PyTorch is not installed: nothing to run")
    for name in args.only.split(","):
        exp = EXPERIMENTS[name]
        d = load_protocol_data(exp, subset=args.subset)
        print(f"{name}: torch {version()}, {torch.get_num_threads()} threads")
        if exp["kind"] == "vae":
            h = run_vae(d["train"], d["test"], exp["epochs"])
            print(f"{name}: test loss per image after epoch 1 {h['test_loss'][0]:.2f}, "
                  f"after epoch {exp['epochs']} {h['test_loss'][-1]:.2f}")
        else:
            h = run_dae(d["train"], d["test"], d["test_noisy"], exp["noise"], exp["level"], exp["epochs"])
            print(f"{name}: PSNR {h['psnr']:.2f} dB (noisy input {d['noisy_psnr']:.2f} dB)")


if __name__ == "__main__":
    main()
