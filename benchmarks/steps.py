"""The nnlite training steps that ``python -m benchmarks`` times, built from nnlite's public layers and kernels.

Each step class takes a batch ``x`` (and a target) at construction, and ``step()`` runs one full
training step: zero the gradients, forward, loss, backward, optimizer update; it returns the loss.
``matmul_only()`` runs exactly the matrix products of that step (same shapes, same BLAS thread policy,
preallocated outputs, the weight-gradient products written straight into the gradient arrays as in
the step): the floor that the elementwise work, Python overhead and optimizer are measured against.
``flops`` counts those products' floating-point operations (2 m k n each).

The models in ``nnlite.models`` should be built the same way (see the README section "Speed").
"""
from __future__ import annotations

import numpy as np

import nnlite
from nnlite import ops, threads
from nnlite.ops._kernels.blas import matmul_acc


class _Products:
    """Records the products of a step once, then replays them with preallocated outputs."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.plan = []                                  # (a, b, out, accumulate)
        self.flops = 0

    def add(self, m, k, n, accumulate=False, trans_a=False, trans_b=False, rng=None):
        rng = rng or np.random.default_rng(0)
        a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(self.dtype)
        b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(self.dtype)
        a = a.T if trans_a else a
        b = b.T if trans_b else b
        out = np.zeros((m, n), self.dtype)
        self.plan.append((a, b, out, accumulate))
        self.flops += 2 * m * k * n

    def __call__(self):
        for a, b, out, acc in self.plan:
            if acc:     # a weight gradient: the step overwrites it (zero_grad cleared it), as here
                matmul_acc(out, a, b, overwrite=True)
            else:
                threads.matmul(a, b, out=out)


def _dense_products(prods, N, sizes, first_needs_dx=False):
    """Products of a chain of Dense layers ``sizes[0] -> sizes[1] -> ...`` over a batch of N."""
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        prods.add(N, n_in, n_out)                                        # forward x @ W
    for i, (n_in, n_out) in reversed(list(enumerate(zip(sizes[:-1], sizes[1:])))):
        prods.add(n_in, N, n_out, accumulate=True, trans_a=True)         # W.grad += x^T dz
        if i > 0 or first_needs_dx:
            prods.add(N, n_out, n_in, trans_b=True)                      # dx = dz W^T


class VAEStep:
    """Kingma & Welling's VAE 784-400-20 (PyTorch's example), one Adam step on a batch.

    encoder ``Dense(784, 400, relu)``, one head ``Dense(400, 2 * 20)`` giving ``[mu | logvar]`` (one
    product instead of two), ``z = mu + exp(logvar / 2) eps``, decoder ``Dense(20, 400, relu)``,
    ``Dense(400, 784)`` logits; loss ``BCEWithLogits(sum) + KL(sum)`` (the sampling and the KL are the op
    ``gaussian_sample_kl``, as in :class:`nnlite.VAE`); Adam(lr=1e-3). Every part runs on the backend
    in use (``nnlite.use``), so the same step times the fast and the reference backend.
    """

    name = "vae"
    title = "VAE 784-400-20 (fwd, BCE+KL, bwd, Adam)"

    def __init__(self, x, dtype=np.float32, latent=20, hidden=400, seed=0):
        N, D = x.shape
        self.x = np.ascontiguousarray(x, dtype=dtype)
        self.L = L = latent
        rs = np.random.default_rng(seed)
        self.enc = nnlite.Dense(D, hidden, "relu", dtype=dtype, random_state=rs)
        self.enc.needs_input_grad = False              # x needs no gradient: skip dz @ W^T
        self.head = nnlite.Dense(hidden, 2 * L, "identity", dtype=dtype, random_state=rs)
        self.dec1 = nnlite.Dense(L, hidden, "relu", dtype=dtype, random_state=rs)
        self.dec2 = nnlite.Dense(hidden, D, "identity", dtype=dtype, random_state=rs)
        self.layers = [self.enc, self.head, self.dec1, self.dec2]
        self.params = [p for layer in self.layers for p in layer.parameters()]
        self.opt = nnlite.optim.Adam(self.params, lr=1e-3)
        self.bce = nnlite.losses.BCEWithLogitsLoss(reduction="sum")
        self.rng = np.random.default_rng(seed + 1)
        self.prods = _Products(dtype)
        self.prods.add(N, D, hidden)
        self.prods.add(N, hidden, 2 * L)
        _dense_products(self.prods, N, [L, hidden, D], first_needs_dx=True)
        self.prods.add(hidden, N, 2 * L, accumulate=True, trans_a=True)
        self.prods.add(N, 2 * L, hidden, trans_b=True)
        self.prods.add(D, N, hidden, accumulate=True, trans_a=True)
        self.flops = self.prods.flops
        self.matmul_only = self.prods

    def step(self):
        x, L = self.x, self.L
        self.opt.zero_grad()
        h = self.enc(x)                                               # (N, 400)
        ml = self.head(h)                                             # (N, 40) = [mu | logvar]
        eps = self.rng.standard_normal((len(x), L), dtype=x.dtype)    # (N, 20)
        z, std, kl = ops.gaussian_sample_kl(ml, eps)                  # (N, 20) each; KL summed
        logits = self.dec2(self.dec1(z))                              # (N, 784)
        rec = self.bce(logits, x)
        dz = self.dec1.backward(self.dec2.backward(self.bce.backward()))
        self.enc.backward(self.head.backward(ops.gaussian_sample_kl_backward(dz, ml, std, eps, 1.0)))
        self.opt.step()
        return rec + kl


class _DenoiserStep:
    """One Adam step of a denoiser ``self.net`` on ``self.noisy`` against the clean ``self.x`` (the
    subclasses build them)."""

    def step(self):
        self.opt.zero_grad()
        out = self.net(self.noisy)
        loss = self.loss(out, self.x)
        self.net.backward(self.loss.backward())
        self.opt.step()
        return loss


class MLPDAEStep(_DenoiserStep):
    """MLP denoising autoencoder 784-512-128-32-128-512-784: ReLU hidden layers, linear 32-d code,
    sigmoid output (fused into the last Dense), MSE(mean) against the clean batch, Adam(lr=1e-3).
    The noisy batch is made once, outside the timed step (noise generation is not timed anywhere)."""

    name = "mlp_dae"
    title = "MLP DAE 784-512-128-32-128-512-784"
    sizes = (784, 512, 128, 32, 128, 512, 784)

    def __init__(self, x, dtype=np.float32, seed=0):
        N, D = x.shape
        rng = np.random.default_rng(seed + 2)
        self.x = np.ascontiguousarray(x, dtype=dtype)
        self.noisy = np.clip(self.x + 0.5 * rng.standard_normal(self.x.shape), 0, 1).astype(dtype)
        rs = np.random.default_rng(seed)
        s = self.sizes
        acts = ["relu", "relu", "identity", "relu", "relu", "sigmoid"]
        self.net = nnlite.Sequential(*[nnlite.Dense(a, b, act, dtype=dtype, random_state=rs)
                                       for a, b, act in zip(s[:-1], s[1:], acts)])
        list(self.net.children())[0].needs_input_grad = False
        self.opt = nnlite.optim.Adam(self.net.parameters(), lr=1e-3)
        self.loss = nnlite.losses.MSELoss()
        self.prods = _Products(dtype)
        _dense_products(self.prods, N, list(s))
        self.flops = self.prods.flops
        self.matmul_only = self.prods


class ConvDAEStep(_DenoiserStep):
    """Convolutional denoising autoencoder on 28x28 images: ``Conv2d(1, 32, 3, s2, p1)`` - ReLU -
    ``Conv2d(32, 64, 3, s2, p1)`` - ReLU - ``ConvTranspose2d(64, 32, 3, s2, p1, op1)`` - ReLU -
    ``ConvTranspose2d(32, 1, 3, s2, p1, op1)`` - Sigmoid; MSE(mean) against the clean batch; Adam(1e-3).
    Built from nnlite's conv layers as they are (each direction one BLAS product plus Numba
    im2col/col2im); ``matmul_only`` is not separated for this step."""

    name = "conv_dae"
    title = "conv DAE 28x28: 2 convs (32, 64 ch) + 2 transposed convs"

    def __init__(self, x, dtype=np.float32, seed=0):
        from nnlite.layers.conv import Conv2d, ConvTranspose2d

        N = x.shape[0]
        rng = np.random.default_rng(seed + 2)
        self.x = np.ascontiguousarray(x, dtype=dtype).reshape(N, 1, 28, 28)
        self.noisy = np.clip(self.x + 0.5 * rng.standard_normal(self.x.shape), 0, 1).astype(dtype)
        rs = np.random.default_rng(seed)
        self.net = nnlite.Sequential(
            Conv2d(1, 32, 3, stride=2, padding=1, dtype=dtype, random_state=rs), nnlite.ReLU(),
            Conv2d(32, 64, 3, stride=2, padding=1, dtype=dtype, random_state=rs), nnlite.ReLU(),
            ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1, dtype=dtype, random_state=rs),
            nnlite.ReLU(),
            ConvTranspose2d(32, 1, 3, stride=2, padding=1, output_padding=1, dtype=dtype, random_state=rs),
            nnlite.Sigmoid())
        self.opt = nnlite.optim.Adam(self.net.parameters(), lr=1e-3)
        self.loss = nnlite.losses.MSELoss()
        # multiply-adds: every layer is a 3x3 kernel between C_in and C_out channels at the coarse size
        per_image = 9 * (14 * 14 * 1 * 32 + 7 * 7 * 32 * 64 + 7 * 7 * 64 * 32 + 14 * 14 * 32 * 1)
        self.flops = 3 * 2 * N * per_image              # forward + two backward products per layer
        self.matmul_only = None


def conv_dae_available() -> tuple[bool, str]:
    """Whether nnlite's conv layers are importable (they are written by another helper)."""
    try:
        from nnlite.layers import conv  # noqa: F401
        needed = ("Conv2d", "ConvTranspose2d")
        missing = [n for n in needed if not hasattr(conv, n)]
        if missing:
            return False, f"nnlite.layers.conv lacks {missing}"
        return True, ""
    except Exception as e:  # pragma: no cover - depends on the state of the repository
        return False, f"nnlite.layers.conv not importable ({type(e).__name__}: {e})"


STEPS = {"vae": VAEStep, "mlp_dae": MLPDAEStep}
if conv_dae_available()[0]:
    STEPS["conv_dae"] = ConvDAEStep
