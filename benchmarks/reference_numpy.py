"""Plain-NumPy training steps: the naive implementation a reader would write first.

Same architectures, initial weights, losses and Adam as :mod:`benchmarks.steps`, written with NumPy
expressions only (temporaries everywhere, ``W.grad = x.T @ dz``, Adam as five array expressions per
parameter, BLAS threads left at NumPy's default). They are the baseline nnlite's kernels must beat,
and a readable statement of each step's math.
"""
from __future__ import annotations

import numpy as np


def _linear_init(rng, n_in, n_out, dtype):
    bound = 1.0 / np.sqrt(n_in)
    W = rng.uniform(-bound, bound, (n_in, n_out)).astype(dtype)
    b = rng.uniform(-bound, bound, n_out).astype(dtype)
    return W, b


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


class _Adam:
    def __init__(self, params, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        self.params, self.lr, self.b1, self.b2, self.eps, self.t = params, lr, b1, b2, eps, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads):
        self.t += 1
        b1, b2, t = self.b1, self.b2, self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            mhat = m / (1 - b1 ** t)
            vhat = v / (1 - b2 ** t)
            p -= (self.lr * mhat / (np.sqrt(vhat) + self.eps)).astype(p.dtype)


class NumpyVAE:
    """784-400-20 VAE: h = relu(x W1 + b1); [mu|logvar] = h Wh + bh; z = mu + e^{logvar/2} eps;
    logits = relu(z W3 + b3) W4 + b4; loss = BCE-with-logits(sum) + KL(sum)."""

    def __init__(self, x, dtype=np.float32, latent=20, hidden=400, seed=0):
        N, D = x.shape
        self.x = np.ascontiguousarray(x, dtype=dtype)
        self.L = latent
        rng = np.random.default_rng(seed)
        self.W1, self.b1 = _linear_init(rng, D, hidden, dtype)
        self.Wh, self.bh = _linear_init(rng, hidden, 2 * latent, dtype)
        self.W3, self.b3 = _linear_init(rng, latent, hidden, dtype)
        self.W4, self.b4 = _linear_init(rng, hidden, D, dtype)
        self.params = [self.W1, self.b1, self.Wh, self.bh, self.W3, self.b3, self.W4, self.b4]
        self.opt = _Adam(self.params)
        self.rng = np.random.default_rng(seed + 1)

    def step(self):
        x, L = self.x, self.L
        a1 = x @ self.W1 + self.b1
        h = np.maximum(a1, 0)
        ml = h @ self.Wh + self.bh
        mu, logvar = ml[:, :L], ml[:, L:]
        eps = self.rng.standard_normal(mu.shape, dtype=x.dtype)
        std = np.exp(0.5 * logvar)
        z = mu + std * eps
        a3 = z @ self.W3 + self.b3
        h3 = np.maximum(a3, 0)
        logits = h3 @ self.W4 + self.b4
        rec = np.sum(np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits))))
        kl = -0.5 * np.sum(1 + logvar - mu * mu - std * std)
        # backward
        dlogits = _sigmoid(logits) - x
        dW4 = h3.T @ dlogits
        db4 = dlogits.sum(0)
        da3 = (dlogits @ self.W4.T) * (a3 > 0)
        dW3 = z.T @ da3
        db3 = da3.sum(0)
        dz = da3 @ self.W3.T
        dmu = dz + mu
        dlogvar = 0.5 * dz * eps * std + 0.5 * (std * std - 1)
        dml = np.concatenate([dmu, dlogvar], axis=1)
        dWh = h.T @ dml
        dbh = dml.sum(0)
        da1 = (dml @ self.Wh.T) * (a1 > 0)
        dW1 = x.T @ da1
        db1 = da1.sum(0)
        self.opt.step([dW1, db1, dWh, dbh, dW3, db3, dW4, db4])
        return float(rec + kl)


class NumpyMLPDAE:
    """784-512-128-32-128-512-784, ReLU hidden, linear code, sigmoid output, MSE(mean), Adam."""

    sizes = (784, 512, 128, 32, 128, 512, 784)
    acts = ("relu", "relu", "identity", "relu", "relu", "sigmoid")

    def __init__(self, x, dtype=np.float32, seed=0):
        rng = np.random.default_rng(seed + 2)
        self.x = np.ascontiguousarray(x, dtype=dtype)
        self.noisy = np.clip(self.x + 0.5 * rng.standard_normal(self.x.shape), 0, 1).astype(dtype)
        rs = np.random.default_rng(seed)
        self.Ws, self.bs = [], []
        for a, b in zip(self.sizes[:-1], self.sizes[1:]):
            W, bias = _linear_init(rs, a, b, dtype)
            self.Ws.append(W)
            self.bs.append(bias)
        self.opt = _Adam([p for pair in zip(self.Ws, self.bs) for p in pair])

    def step(self):
        hs = [self.noisy]
        for W, b, act in zip(self.Ws, self.bs, self.acts):
            a = hs[-1] @ W + b
            hs.append(np.maximum(a, 0) if act == "relu" else _sigmoid(a) if act == "sigmoid" else a)
        out = hs[-1]
        diff = out - self.x
        loss = float(np.mean(diff * diff))
        dy = 2 * diff / diff.size
        grads = []
        for i in reversed(range(len(self.Ws))):
            y, act = hs[i + 1], self.acts[i]
            dz = dy * (y > 0) if act == "relu" else dy * y * (1 - y) if act == "sigmoid" else dy
            grads.append((hs[i].T @ dz, dz.sum(0)))
            if i > 0:
                dy = dz @ self.Ws[i].T
        grads.reverse()
        self.opt.step([g for pair in grads for g in pair])
        return loss


STEPS = {"vae": NumpyVAE, "mlp_dae": NumpyMLPDAE}
