"""The PyTorch reference of every benchmark: the same networks as nnlite's, written as a PyTorch user writes them.

Only used where ``import torch`` works (``pip install nnlite[bench]``); nnlite itself never imports
torch. One module, three uses:

* **the step tables** (``python -m benchmarks --what steps``, :data:`STEPS`): one training step of the
  VAE 784-400-20, the MLP DAE and the conv DAE, with ``nn.Linear`` / ``nn.Conv2d`` layers, autograd,
  ``torch.optim.Adam`` with its defaults, ``zero_grad()`` (which sets gradients to None) and the thread
  count PyTorch picks itself; the VAE uses ``binary_cross_entropy_with_logits`` (faster and stabler
  than PyTorch's example's sigmoid + BCE). Weights start from the same NumPy-drawn values as nnlite's.
* **the MNIST-scale protocol** (``python -m benchmarks.mnist_scale --torch``, :func:`run_vae`,
  :func:`run_dae`): the VAE of ``pytorch/examples/vae/main.py`` verbatim in structure (``fc1`` 784->400
  ReLU, ``fc21``/``fc22`` 400->20, ``fc3`` 20->400 ReLU, ``fc4`` 400->784 sigmoid; loss
  ``F.binary_cross_entropy(recon, x, reduction='sum') + KL`` summed over the batch; Adam(lr=1e-3); batch
  128; ``nn.Linear``'s default initialisation after ``torch.manual_seed(seed)``; a
  ``DataLoader(shuffle=True)``; test loss = the same loss, sampling ``z`` as in training, per test
  image) and the MLP DAE 784-512-128-32-128-512-784 (``F.mse_loss``, fresh noise for every batch drawn
  with torch's generator, exactly :mod:`nnlite.noise`'s definitions). Data, the fixed noisy test sets
  and the PSNR come from nnlite, so both implementations are scored on the same arrays.
* **the models table** (``python -m benchmarks --what models``, :class:`Reference`, :class:`TorchImpl`):
  each builder reads the nnlite model's full constructor arguments (``Row.params()``, defaults
  included) and writes the network with PyTorch's default initialisation (which nnlite's layers
  follow), the loss with the same reduction, the training noise drawn with torch's generator,
  ``torch.optim.Adam`` with the same hyper-parameters, and nnlite's cosine learning-rate decay
  (``lr * (f + (1 - f) (1 + cos(pi t / T)) / 2)``, ``f = 0.01``) where the nnlite model uses it. One
  epoch is a loop over ``torch.randperm`` batches of tensors already in memory.
"""
from __future__ import annotations

import math
import re
import time

import numpy as np

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
except Exception:  # pragma: no cover - torch is optional
    torch = None


def available() -> bool:
    return torch is not None


def version() -> str:
    return torch.__version__ if torch is not None else "not installed"


#: Final fraction of the cosine schedule (nnlite.models._base.BaseModel._final_lr_fraction).
FINAL_LR_FRACTION = 0.01


def _act(name: str) -> nn.Module:
    return {"relu": nn.ReLU(), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(), "identity": nn.Identity(),
            "linear": nn.Identity(), "leaky_relu": nn.LeakyReLU(0.01), "softplus": nn.Softplus(),
            "elu": nn.ELU()}[name]


def mlp(sizes, activation, last=None) -> nn.Sequential:
    """nnlite's ``mlp``: Linear-act ... Linear (identity) [- last activation]."""
    layers = []
    n = len(sizes) - 1
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < n - 1:
            layers.append(_act(activation))
    if last is not None:
        layers.append(_act(last))
    return nn.Sequential(*layers)


def gaussian(x, sigma):
    return torch.clamp(x + sigma * torch.randn_like(x), 0.0, 1.0)


def salt_and_pepper(x, p):
    u = torch.rand_like(x)
    out = x.clone()
    out[u < p] = 1.0
    out[u < 0.5 * p] = 0.0
    return out


def add_noise(x, kind, level):
    if kind == "gaussian":
        return gaussian(x, level)
    if kind == "salt_and_pepper":
        return salt_and_pepper(x, level)
    raise ValueError(f"the PyTorch reference has no noise {kind!r}")


def kl_mean(mu, logvar):
    lv = logvar.clamp(-30.0, 20.0)
    return (-0.5 * (1 + lv - mu * mu - lv.exp()).sum(dim=1)).mean()


class Cosine:
    """nnlite's cosine decay, set after every optimizer step (constant when ``kind != 'cosine'``)."""

    def __init__(self, opt, lr, total, kind="cosine"):
        self.opt, self.lr, self.total, self.on = opt, lr, max(int(total), 1), kind == "cosine"

    def step(self, t):
        if self.on:
            f = FINAL_LR_FRACTION
            lr = self.lr * (f + (1 - f) * 0.5 * (1 + math.cos(math.pi * min(t, self.total) / self.total)))
            for g in self.opt.param_groups:
                g["lr"] = lr


# ------------------------------------------------------------------------------------------------ networks
def unet(C, width, depth, k, bn):
    """nnlite's ``_unet``: two conv(-BN)-ReLU per level, max-pool down, nearest upsample and concat up."""
    ch = [width * 2 ** d for d in range(depth)]

    def cbr(c_in, c_out, first=False):
        use_bn = bn and not first
        layers = [nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=not use_bn)]
        if use_bn:
            layers.append(nn.BatchNorm2d(c_out))
        return layers + [nn.ReLU()]

    class Level(nn.Module):
        def __init__(self, c_in, d, first=False):
            super().__init__()
            c = ch[d]
            self.down = nn.Sequential(*cbr(c_in, c, first), *cbr(c, c))
            self.inner = None
            if d < depth - 1:
                self.inner = nn.Sequential(nn.MaxPool2d(2), Level(c, d + 1), nn.Upsample(scale_factor=2))
                self.up = nn.Sequential(*cbr(c + ch[d + 1], c))

        def forward(self, x):
            x = self.down(x)
            if self.inner is None:
                return x
            return self.up(torch.cat([x, self.inner(x)], dim=1))

    return nn.Sequential(Level(C, 0, first=True), nn.Conv2d(ch[0], C, k, padding=k // 2))


def dncnn(C, width, depth, k, bn):
    layers = [nn.Conv2d(C, width, k, padding=k // 2), nn.ReLU()]
    for _ in range(depth - 2):
        layers += [nn.Conv2d(width, width, k, padding=k // 2, bias=not bn)]
        layers += [nn.BatchNorm2d(width)] if bn else []
        layers += [nn.ReLU()]
    layers.append(nn.Conv2d(width, C, k, padding=k // 2))
    return nn.Sequential(*layers)


def conv_dae(C, chans, k, act):
    p = k // 2
    enc, c_in = [], C
    for c in chans:
        enc += [nn.Conv2d(c_in, c, k, stride=2, padding=p), _act(act)]
        c_in = c
    dec = []
    for c in list(chans[-2::-1]) + [C]:
        dec += [nn.ConvTranspose2d(c_in, c, k, stride=2, padding=p, output_padding=1), _act(act)]
        c_in = c
    return nn.Sequential(*enc), nn.Sequential(*dec[:-1])          # decoder ends on logits


def conv_vae(C, H, W, chans, hid, m, act):
    f = 2 ** len(chans)
    feat = (chans[-1], H // f, W // f)
    n_feat = int(np.prod(feat))
    enc, c_in = [], C
    for c in chans:
        enc += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), _act(act)]
        c_in = c
    enc.append(nn.Flatten())
    if hid:
        enc += [nn.Linear(n_feat, hid), _act(act)]
    enc.append(nn.Linear(hid or n_feat, 2 * m))
    dec = []
    if hid:
        dec += [nn.Linear(m, hid), _act(act)]
    dec += [nn.Linear(hid or m, n_feat), _act(act), nn.Unflatten(1, feat)]
    for c in list(chans[-2::-1]) + [C]:
        dec += [nn.ConvTranspose2d(c_in, c, 4, stride=2, padding=1), _act(act)]
        c_in = c
    return nn.Sequential(*enc), nn.Sequential(*dec[:-1])


def dcgan_players(latent, C, H, W, c):
    h4, w4 = H // 4, W // 4
    G = nn.Sequential(nn.Linear(latent, 2 * c * h4 * w4), nn.ReLU(), nn.Unflatten(1, (2 * c, h4, w4)),
                      nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                      nn.ConvTranspose2d(c, C, 4, stride=2, padding=1), nn.Tanh())
    D = nn.Sequential(nn.Conv2d(C, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                      nn.Conv2d(c, 2 * c, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * c),
                      nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(2 * c * h4 * w4, 1))
    return G, D


def mlp_players(latent, n, g_hidden, d_hidden, slope, dropout):
    sizes = (latent, *g_hidden)
    g = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        g += [nn.Linear(a, b), nn.LeakyReLU(slope)]
    g += [nn.Linear(sizes[-1], n), nn.Tanh()]
    return nn.Sequential(*g), mlp_discriminator(n, d_hidden, slope, dropout)


def mlp_discriminator(n, hidden, slope, dropout):
    sizes = (n, *hidden)
    d = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        d += [nn.Linear(a, b), nn.LeakyReLU(slope)]
        if dropout > 0:
            d.append(nn.Dropout(dropout))
    d.append(nn.Linear(sizes[-1], 1))
    return nn.Sequential(*d)


# ---------------------------------------------------------------------------------------------- the step tables
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


# ---------------------------------------------------------------------------------------- the MNIST-scale protocol
if torch is not None:
    class ExampleVAE(nn.Module):
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


def run_vae(X_train, X_test, epochs, seed=0, batch_size=128, log=print):
    """Train the example VAE; returns per-epoch test loss per image, train loss, recon, KL, seconds."""
    torch.manual_seed(seed)
    model = ExampleVAE(X_train.shape[1])
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
    net = nn.Sequential(mlp((784, 512, 128, 32), "relu"), mlp((32, 128, 512, 784), "relu", last="sigmoid"))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    train = DataLoader(TensorDataset(torch.from_numpy(X_train)), batch_size=batch_size, shuffle=True)
    hist = {"loss": [], "seconds": []}
    for epoch in range(1, epochs + 1):
        net.train()
        total, t0 = 0.0, time.perf_counter()
        for (x,) in train:
            noisy = add_noise(x, noise, level)
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


# ------------------------------------------------------------------------------------------------ the rows
class Reference:
    """One row's PyTorch model: ``modules`` (for the parameter count) and ``epoch(X, y)`` -> last loss."""

    def __init__(self, model: str, p: dict, sample_shape: tuple, n_classes: int = 10):
        self.model, self.p, self.n_classes = model, p, int(n_classes)
        shape = tuple(sample_shape)
        self.image = (1, *shape) if len(shape) == 2 else shape           # (C, H, W)
        self.n_features = int(np.prod(shape))
        getattr(self, "_build_" + model)()

    def n_params(self) -> int:
        return sum(q.numel() for m in self.modules for q in m.parameters() if q.requires_grad)

    # -- builders: each sets self.modules, self.opts and self.step(xb, yb) -> loss tensor/float
    def _adam(self, params, lr, betas=(0.9, 0.999)):
        return torch.optim.Adam(params, lr=lr, betas=betas)

    def _build_Autoencoder(self):
        p = self.p
        h = tuple(p["hidden"])
        self.enc = mlp((self.n_features, *h, p["latent_dim"]), p["activation"])
        self.dec = mlp((p["latent_dim"], *h[::-1], self.n_features), p["activation"])
        self.modules = [self.enc, self.dec]
        self.opt = self._adam([*self.enc.parameters(), *self.dec.parameters()], p["lr"])

    def _recon(self, logits, x):
        if self.p["loss"] == "bce":
            return F.binary_cross_entropy_with_logits(logits, x)
        return F.mse_loss(torch.sigmoid(logits), x)

    def step_Autoencoder(self, x, y):
        return self._recon(self.dec(self.enc(x)), x)

    def _build_DenoisingAutoencoder(self):
        self._build_Autoencoder()

    def step_DenoisingAutoencoder(self, x, y):
        noisy = add_noise(x, self.p["noise"], self.p["noise_level"])
        return self._recon(self.dec(self.enc(noisy)), x)

    def _build_SparseAutoencoder(self):
        p = self.p
        h = tuple(p["hidden"])
        code = p["code_activation"] or ("sigmoid" if p["sparsity_target"] is not None else "relu")
        self.enc = mlp((self.n_features, *h, p["latent_dim"]), p["activation"], last=code)
        self.dec = mlp((p["latent_dim"], *h[::-1], self.n_features), p["activation"])
        self.modules = [self.enc, self.dec]
        self.opt = self._adam([*self.enc.parameters(), *self.dec.parameters()], p["lr"])

    def step_SparseAutoencoder(self, x, y):
        h = self.enc(x)
        loss = self._recon(self.dec(h), x)
        if self.p["l1"]:
            loss = loss + self.p["l1"] * h.abs().sum() / len(h)
        if self.p["sparsity_target"] is not None and self.p["sparsity_weight"]:
            rho = self.p["sparsity_target"]
            rh = h.mean(dim=0).clamp(1e-7, 1 - 1e-7)
            loss = loss + self.p["sparsity_weight"] * (rho * torch.log(rho / rh)
                                                       + (1 - rho) * torch.log((1 - rho) / (1 - rh))).sum()
        return loss

    def _build_VAE(self):
        p = self.p
        h = tuple(p["hidden"])
        self.enc = mlp((self.n_features, *h, 2 * p["latent_dim"]), p["activation"])
        self.dec = mlp((p["latent_dim"], *h[::-1], self.n_features), p["activation"])
        self.modules = [self.enc, self.dec]
        self.opt = self._adam([*self.enc.parameters(), *self.dec.parameters()], p["lr"])

    def step_VAE(self, x, y):
        m = self.p["latent_dim"]
        hcat = self.enc(x)
        mu, logvar = hcat[:, :m], hcat[:, m:]
        z = mu + torch.exp(0.5 * logvar.clamp(-30.0, 20.0)) * torch.randn_like(mu)
        logits = self.dec(z)
        recon = F.binary_cross_entropy_with_logits(logits, x.reshape(logits.shape), reduction="sum") / len(x)
        return recon + self.p["beta"] * kl_mean(mu, logvar)

    def _build_ConvVAE(self):
        p = self.p
        C, H, W = self.image
        self.enc, self.dec = conv_vae(C, H, W, tuple(p["channels"]), int(p["hidden"]), p["latent_dim"],
                                      p["activation"])
        self.modules = [self.enc, self.dec]
        self.opt = self._adam([*self.enc.parameters(), *self.dec.parameters()], p["lr"])

    def step_ConvVAE(self, x, y):
        return self.step_VAE(x, y)

    def _build_ConvDenoisingAutoencoder(self):
        p = self.p
        self.enc, self.dec = conv_dae(self.image[0], tuple(p["channels"]), int(p["kernel_size"]), p["activation"])
        self.modules = [self.enc, self.dec]
        self.opt = self._adam([*self.enc.parameters(), *self.dec.parameters()], p["lr"])

    def step_ConvDenoisingAutoencoder(self, x, y):
        return self.step_DenoisingAutoencoder(x, y)

    def _build_ResidualDenoiser(self):
        p = self.p
        depth = p["depth"] if p["depth"] is not None else (3 if p["architecture"] == "unet" else 10)
        make = unet if p["architecture"] == "unet" else dncnn
        self.net = make(self.image[0], int(p["width"]), int(depth), int(p["kernel_size"]), bool(p["batch_norm"]))
        self.modules = [self.net]
        self.opt = self._adam(self.net.parameters(), p["lr"])

    def step_ResidualDenoiser(self, x, y):
        noisy = add_noise(x, self.p["noise"], self.p["noise_level"])
        return F.mse_loss(noisy - self.net(noisy), x)

    def _build_MLPClassifier(self):
        p = self.p
        sizes = (self.n_features, *tuple(p["hidden"]))
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), _act(p["activation"])]
            if p["dropout"] > 0:
                layers.append(nn.Dropout(p["dropout"]))
        layers.append(nn.Linear(sizes[-1], self.n_classes))
        self.net = nn.Sequential(*layers)
        self.modules = [self.net]
        self.opt = self._adam(self.net.parameters(), p["lr"])
        self.schedule_kind = "constant"

    def step_MLPClassifier(self, x, y):
        return F.cross_entropy(self.net(x), y)

    def _build_GAN(self):
        p = self.p
        if p["generator"] == "dcgan":
            C, H, W = self.image
            self.G, self.D = dcgan_players(p["latent_dim"], C, H, W, int(p["channels"]))
            self.conv = True
        else:
            self.G, self.D = mlp_players(p["latent_dim"], self.n_features, tuple(p["generator_hidden"]),
                                         tuple(p["discriminator_hidden"]), p["negative_slope"], p["dropout"])
            self.conv = False
        self.modules = [self.G, self.D]
        betas = tuple(p["betas"])
        self.opt_g = self._adam(self.G.parameters(), p["lr"], betas)
        self.opt_d = self._adam(self.D.parameters(), p["lr"] if p["d_lr"] is None else p["d_lr"], betas)
        self.schedule_kind = "constant"
        self.steps_itself = True

    def step_GAN(self, x, y):
        real = x * 2 - 1                                               # tanh range
        if not self.conv:
            real = real.reshape(len(real), -1)
        fake = self.G(torch.randn(len(x), self.p["latent_dim"]))
        self.opt_d.zero_grad()
        target = 1.0 - self.p["label_smoothing"]
        rl = self.D(real)
        fl = self.D(fake.detach())
        d_loss = (F.binary_cross_entropy_with_logits(rl, torch.full_like(rl, target))
                  + F.binary_cross_entropy_with_logits(fl, torch.zeros_like(fl)))
        d_loss.backward()
        self.opt_d.step()
        self.opt_g.zero_grad()
        gl = self.D(fake)
        g_loss = F.binary_cross_entropy_with_logits(gl, torch.ones_like(gl))
        g_loss.backward()
        self.opt_g.step()
        return g_loss.detach()

    def _build_AdversarialDenoiser(self):
        p = dict(self.p, loss="bce")
        self.p = p
        h = tuple(p["hidden"])
        self.enc = mlp((self.n_features, *h, p["latent_dim"]), p["activation"])
        self.dec = mlp((p["latent_dim"], *h[::-1], self.n_features), p["activation"])
        self.D = mlp_discriminator(self.n_features, tuple(p["discriminator_hidden"]), 0.2, p["dropout"])
        self.modules = [self.enc, self.dec, self.D]
        self.opt = self._adam([*self.enc.parameters(), *self.dec.parameters()], p["lr"])
        self.opt_d = self._adam(self.D.parameters(), p["d_lr"], (0.5, 0.999))

    def step_AdversarialDenoiser(self, x, y):
        noisy = add_noise(x, self.p["noise"], self.p["noise_level"])
        logits = self.dec(self.enc(noisy))
        x_hat = torch.sigmoid(logits)
        recon = F.binary_cross_entropy_with_logits(logits, x)
        lam = self.p["adversarial_weight"]
        if lam <= 0:
            return recon
        self.opt_d.zero_grad()
        rl, fl = self.D(x), self.D(x_hat.detach())
        d_loss = (F.binary_cross_entropy_with_logits(rl, torch.ones_like(rl))
                  + F.binary_cross_entropy_with_logits(fl, torch.zeros_like(fl)))
        d_loss.backward()
        self.opt_d.step()
        gl = self.D(x_hat)
        adv = F.binary_cross_entropy_with_logits(gl, torch.ones_like(gl))
        return recon + lam * adv

    # -- one epoch
    def epoch(self, X: torch.Tensor, y: torch.Tensor | None, batch_size: int) -> float:
        n = len(X)
        steps = math.ceil(n / batch_size)
        step_fn = getattr(self, "step_" + self.model)
        kind = getattr(self, "schedule_kind", self.p.get("lr_schedule", "constant"))
        sched = Cosine(self.opt, self.p["lr"], steps, kind) if hasattr(self, "opt") else None
        for m in self.modules:
            m.train()
        total = 0.0
        perm = torch.randperm(n)
        for t in range(steps):
            idx = perm[t * batch_size:(t + 1) * batch_size]
            xb = X[idx]
            yb = y[idx] if y is not None else None
            if getattr(self, "steps_itself", False):
                loss = step_fn(xb, yb)
            else:
                self.opt.zero_grad()
                loss = step_fn(xb, yb)
                loss.backward()
                if hasattr(self, "D"):
                    self.D.zero_grad()                                 # D's share of the AE's backward is unused
                self.opt.step()
                sched.step(t + 1)
            total += float(loss)
        return total / steps                                           # mean over the epoch, as nnlite's history


def _flat_or_images(model: str, p: dict) -> bool:
    """Whether the row's PyTorch network takes images ``(N, C, H, W)`` (else flat rows)."""
    return model in ("ConvVAE", "ConvDenoisingAutoencoder", "ResidualDenoiser") or (
        model == "GAN" and p.get("generator") == "dcgan")


def prepare(model: str, p: dict, X: np.ndarray, y=None):
    """``(X, y)`` as the tensors the row's loop indexes: NCHW images or flat rows; class indices."""
    Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    if _flat_or_images(model, p):
        if Xt.ndim == 3:
            Xt = Xt[:, None]
    else:
        Xt = Xt.reshape(len(Xt), -1)
    yt = None
    if y is not None:
        _, idx = np.unique(y, return_inverse=True)
        yt = torch.from_numpy(idx.astype(np.int64))
    return Xt, yt


class TorchImpl:
    name = "torch"

    def __init__(self):
        self._default_threads = torch.get_num_threads()
        self._cache = {}

    def info(self) -> dict:
        config = torch.__config__.show()
        found = re.search(r"BLAS_INFO=([A-Za-z0-9_]+)", config)
        blas = found.group(1) if found else "?"
        onednn = "oneDNN" if "USE_MKLDNN=ON" in config or "mkldnn" in config.lower() else "no oneDNN"
        # threadpoolctl would list NumPy's OpenBLAS here (this process imports NumPy), not what torch runs
        return {"version": f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads "
                           f"(its own BLAS: {blas}; {onednn} for convolutions)",
                "blas": [], "threads": torch.get_num_threads()}

    def run(self, row, X, y, seed: int, policy=None) -> dict:
        torch.set_num_threads(int(policy) if policy else self._default_threads)
        try:
            p = row.params()
            key = (row.name, len(X))
            if key not in self._cache:
                self._cache[key] = prepare(row.model, p, X, y)
            Xt, yt = self._cache[key]
            t = time.perf_counter()
            torch.manual_seed(seed)
            ref = Reference(row.model, p, X.shape[1:], len(np.unique(y)) if y is not None else 10)
            loss = ref.epoch(Xt, yt, min(int(p["batch_size"]), len(X)))
            sec = time.perf_counter() - t
        finally:
            torch.set_num_threads(self._default_threads)
        return {"seconds": sec, "loss": loss, "n_params": ref.n_params()}
