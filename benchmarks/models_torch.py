"""The models of :mod:`benchmarks.models` in a plain PyTorch loop: same networks, losses, noise and Adam.

Each builder reads the nnlite model's full constructor arguments (``Row.params()``, defaults included)
and writes the network a PyTorch user would: ``nn.Sequential`` of ``nn.Linear`` / ``nn.Conv2d`` /
``nn.ConvTranspose2d`` / ``nn.BatchNorm2d`` with PyTorch's default initialisation (which nnlite's
layers follow), the loss with the same reduction, the training noise drawn with torch's generator,
``torch.optim.Adam`` with the same hyper-parameters, and nnlite's cosine learning-rate decay
(``lr * (f + (1 - f) (1 + cos(pi t / T)) / 2)``, ``f = 0.01``) where the nnlite model uses it.
One epoch is a loop over ``torch.randperm`` batches of tensors already in memory.

Only imported where ``import torch`` works (``pip install nnlite[bench]``).
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

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
        import re

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
