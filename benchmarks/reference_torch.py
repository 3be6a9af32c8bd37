"""PyTorch versions of the benchmarked steps (used only when ``import torch`` works).

Written as a PyTorch user would: ``nn.Linear`` layers, autograd, ``torch.optim.Adam`` with its defaults,
``zero_grad()`` (which sets gradients to None), the thread count PyTorch picks itself. The VAE uses
``binary_cross_entropy_with_logits`` (faster and stabler than PyTorch's example's sigmoid + BCE).
Weights start from the same NumPy-drawn values as the other implementations.
"""
from __future__ import annotations

import numpy as np

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except Exception:  # pragma: no cover - torch is optional
    torch = None


def available() -> bool:
    return torch is not None


def version() -> str:
    return torch.__version__ if torch is not None else "not installed"


def _tdtype(dtype):
    return torch.float64 if np.dtype(dtype) == np.float64 else torch.float32


def _linear(rng, n_in, n_out, dtype):
    lin = nn.Linear(n_in, n_out).to(_tdtype(dtype))
    bound = 1.0 / np.sqrt(n_in)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(rng.uniform(-bound, bound, (n_in, n_out)).astype(dtype).T.copy()))
        lin.bias.copy_(torch.from_numpy(rng.uniform(-bound, bound, n_out).astype(dtype)))
    return lin


class TorchVAE:
    def __init__(self, x, dtype=np.float32, latent=20, hidden=400, seed=0):
        N, D = x.shape
        self.x = torch.from_numpy(np.ascontiguousarray(x, dtype=dtype))
        self.L = latent
        rng = np.random.default_rng(seed)
        self.fc1 = _linear(rng, D, hidden, dtype)
        self.head = _linear(rng, hidden, 2 * latent, dtype)
        self.fc3 = _linear(rng, latent, hidden, dtype)
        self.fc4 = _linear(rng, hidden, D, dtype)
        self.params = [p for m in (self.fc1, self.head, self.fc3, self.fc4) for p in m.parameters()]
        self.opt = torch.optim.Adam(self.params, lr=1e-3)
        torch.manual_seed(seed)

    def step(self):
        x, L = self.x, self.L
        self.opt.zero_grad()
        h = F.relu(self.fc1(x))
        ml = self.head(h)
        mu, logvar = ml[:, :L], ml[:, L:]
        std = torch.exp(0.5 * logvar)
        z = mu + std * torch.randn_like(std)
        logits = self.fc4(F.relu(self.fc3(z)))
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = rec + kl
        loss.backward()
        self.opt.step()
        return float(loss.detach())


class _TorchDenoiser:
    """One Adam step of ``self.net`` on ``self.noisy`` against the clean ``self.x``, MSE (subclasses build them)."""

    def step(self):
        self.opt.zero_grad()
        loss = F.mse_loss(self.net(self.noisy), self.x)
        loss.backward()
        self.opt.step()
        return float(loss.detach())


class TorchMLPDAE(_TorchDenoiser):
    sizes = (784, 512, 128, 32, 128, 512, 784)
    acts = ("relu", "relu", "identity", "relu", "relu", "sigmoid")

    def __init__(self, x, dtype=np.float32, seed=0):
        rng = np.random.default_rng(seed + 2)
        xx = np.ascontiguousarray(x, dtype=dtype)
        noisy = np.clip(xx + 0.5 * rng.standard_normal(xx.shape), 0, 1).astype(dtype)
        self.x, self.noisy = torch.from_numpy(xx), torch.from_numpy(noisy)
        rs = np.random.default_rng(seed)
        layers = []
        for (a, b), act in zip(zip(self.sizes[:-1], self.sizes[1:]), self.acts):
            layers.append(_linear(rs, a, b, dtype))
            if act == "relu":
                layers.append(nn.ReLU())
            elif act == "sigmoid":
                layers.append(nn.Sigmoid())
        self.net = nn.Sequential(*layers)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-3)


class TorchConvDAE(_TorchDenoiser):
    """Same layers as benchmarks.steps.ConvDAEStep (weights copied from a freshly built nnlite model)."""

    def __init__(self, x, dtype=np.float32, seed=0):
        from benchmarks.steps import ConvDAEStep

        ref = ConvDAEStep(x, dtype=dtype, seed=seed)
        td = _tdtype(dtype)
        self.x = torch.from_numpy(ref.x.copy())
        self.noisy = torch.from_numpy(ref.noisy.copy())
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid()).to(td)
        ours = [m for m in ref.net.children() if m.parameters()]
        theirs = [m for m in self.net if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
        with torch.no_grad():
            for a, b in zip(ours, theirs):
                b.weight.copy_(torch.from_numpy(np.ascontiguousarray(a.weight.data)))
                b.bias.copy_(torch.from_numpy(np.ascontiguousarray(a.bias.data)))
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-3)


STEPS = {"vae": TorchVAE, "mlp_dae": TorchMLPDAE, "conv_dae": TorchConvDAE}
