"""The models of :mod:`benchmarks.models` in JAX: the same networks, losses, noise and Adam, as a JAX
user writes them: pure functions of a parameter pytree, one ``jax.jit``-compiled training step (XLA on
the CPU) and ``optax.adam`` with nnlite's learning-rate schedule.

A network is a list of layer specs (``("dense", n_in, n_out)``, ``("conv", c_in, c_out, k, stride,
padding, bias)``, ``("bn", c)``, ``("concat", inner_specs)`` for a U-Net skip, ...) read by
:func:`init` and :func:`apply`; layouts are NCHW and the weights are initialised as PyTorch's layers
are (uniform in ``+-1/sqrt(fan_in)``, with ``ConvTranspose2d``'s fan-in read from its second weight
axis as PyTorch does), like nnlite's. BatchNorm uses batch statistics in training and updates
running averages (momentum 0.1, as nnlite and PyTorch). One epoch is a loop over a random permutation
of the batches; the step gathers its batch inside the compiled function.

Only imported where ``import jax, optax`` works (``pip install nnlite[jax]``).
"""
from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

FINAL_LR_FRACTION = 0.01
BN_EPS, BN_MOMENTUM = 1e-5, 0.1


# ------------------------------------------------------------------------------------------------ layers
def _uniform(key, shape, bound):
    return jax.random.uniform(key, shape, jnp.float32, -bound, bound)


def init(specs, key):
    """``(params, state)``: one entry per spec (``None`` where a layer has none)."""
    params, state = [], []
    for spec in specs:
        key, k1, k2 = jax.random.split(key, 3)
        kind = spec[0]
        if kind == "dense":
            _, a, b = spec
            bound = 1 / math.sqrt(a)
            params.append({"W": _uniform(k1, (a, b), bound), "b": _uniform(k2, (b,), bound)})
            state.append(None)
        elif kind in ("conv", "convT"):
            c_in, c_out, k = spec[1], spec[2], spec[3]
            bias = spec[-1]
            shape = (c_out, c_in, k, k) if kind == "conv" else (c_in, c_out, k, k)
            bound = 1 / math.sqrt(shape[1] * k * k)
            p = {"W": _uniform(k1, shape, bound)}
            if bias:
                p["b"] = _uniform(k2, (c_out,), bound)
            params.append(p)
            state.append(None)
        elif kind == "bn":
            c = spec[1]
            params.append({"gamma": jnp.ones((c,), jnp.float32), "beta": jnp.zeros((c,), jnp.float32)})
            state.append({"mean": jnp.zeros((c,), jnp.float32), "var": jnp.ones((c,), jnp.float32)})
        elif kind == "concat":
            p, s = init(spec[1], k1)
            params.append(p)
            state.append(s)
        else:
            params.append(None)
            state.append(None)
    return params, state


def _act(name, x):
    if name == "relu":
        return jax.nn.relu(x)
    if name == "sigmoid":
        return jax.nn.sigmoid(x)
    if name == "tanh":
        return jnp.tanh(x)
    if name.startswith("leaky_relu"):
        return jax.nn.leaky_relu(x, float(name.split(":")[1]) if ":" in name else 0.01)
    if name in ("identity", "linear"):
        return x
    raise ValueError(f"no JAX activation {name!r}")


_DN = ("NCHW", "OIHW", "NCHW")


def apply(specs, params, state, x, key, train=True):
    """Forward through ``specs``; returns ``(y, new_state)``."""
    new_state = []
    for spec, p, s in zip(specs, params, state):
        kind = spec[0]
        if kind == "dense":
            x = x @ p["W"] + p["b"]
        elif kind == "conv":
            _, c_in, c_out, k, stride, pad, _ = spec
            x = lax.conv_general_dilated(x, p["W"], (stride, stride), [(pad, pad)] * 2, dimension_numbers=_DN)
            if "b" in p:
                x = x + p["b"][None, :, None, None]
        elif kind == "convT":
            _, c_in, c_out, k, stride, pad, out_pad, _ = spec
            w = jnp.flip(p["W"], (2, 3)).transpose(1, 0, 2, 3)          # (c_out, c_in, k, k), flipped
            lo, hi = k - 1 - pad, k - 1 - pad + out_pad
            x = lax.conv_general_dilated(x, w, (1, 1), [(lo, hi)] * 2, lhs_dilation=(stride, stride),
                                         dimension_numbers=_DN)
            if "b" in p:
                x = x + p["b"][None, :, None, None]
        elif kind == "bn":
            if train:
                mean = x.mean(axis=(0, 2, 3))
                var = x.var(axis=(0, 2, 3))
                n = x.size // x.shape[1]
                s = {"mean": (1 - BN_MOMENTUM) * s["mean"] + BN_MOMENTUM * mean,
                     "var": (1 - BN_MOMENTUM) * s["var"] + BN_MOMENTUM * var * n / max(n - 1, 1)}
            else:
                mean, var = s["mean"], s["var"]
            x = (x - mean[None, :, None, None]) * lax.rsqrt(var[None, :, None, None] + BN_EPS)
            x = x * p["gamma"][None, :, None, None] + p["beta"][None, :, None, None]
        elif kind == "act":
            x = _act(spec[1], x)
        elif kind == "flatten":
            x = x.reshape(x.shape[0], -1)
        elif kind == "unflatten":
            x = x.reshape((x.shape[0], *spec[1]))
        elif kind == "maxpool":
            x = lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        elif kind == "upsample":
            x = jnp.repeat(jnp.repeat(x, 2, axis=2), 2, axis=3)
        elif kind == "dropout":
            if train:
                key, sub = jax.random.split(key)
                keep = jax.random.bernoulli(sub, 1 - spec[1], x.shape)
                x = jnp.where(keep, x / (1 - spec[1]), 0.0)
        elif kind == "concat":
            key, sub = jax.random.split(key)
            inner, s = apply(spec[1], p, s, x, sub, train)
            x = jnp.concatenate([x, inner], axis=1)
        else:
            raise ValueError(f"unknown layer spec {spec!r}")
        new_state.append(s)
    return x, new_state


def count(params) -> int:
    return int(sum(np.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(params)))


# ------------------------------------------------------------------------------------------------ networks
def mlp(sizes, activation, last=None):
    specs = []
    n = len(sizes) - 1
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        specs.append(("dense", a, b))
        if i < n - 1:
            specs.append(("act", activation))
    if last is not None:
        specs.append(("act", last))
    return specs


def _cbr(c_in, c_out, k, bn, first=False):
    use_bn = bn and not first
    return [("conv", c_in, c_out, k, 1, k // 2, not use_bn)] + ([("bn", c_out)] if use_bn else []) + [("act", "relu")]


def unet(C, width, depth, k, bn):
    ch = [width * 2 ** d for d in range(depth)]

    def level(c_in, d, first=False):
        c = ch[d]
        specs = _cbr(c_in, c, k, bn, first) + _cbr(c, c, k, bn)
        if d == depth - 1:
            return specs
        inner = [("maxpool",)] + level(c, d + 1) + [("upsample",)]
        return specs + [("concat", inner)] + _cbr(c + ch[d + 1], c, k, bn)

    return level(C, 0, first=True) + [("conv", ch[0], C, k, 1, k // 2, True)]


def dncnn(C, width, depth, k, bn):
    specs = _cbr(C, width, k, bn, first=True)
    for _ in range(depth - 2):
        specs += _cbr(width, width, k, bn)
    return specs + [("conv", width, C, k, 1, k // 2, True)]


def conv_dae(C, chans, k, act):
    p = k // 2
    enc, c_in = [], C
    for c in chans:
        enc += [("conv", c_in, c, k, 2, p, True), ("act", act)]
        c_in = c
    dec = []
    for c in list(chans[-2::-1]) + [C]:
        dec += [("convT", c_in, c, k, 2, p, 1, True), ("act", act)]
        c_in = c
    return enc, dec[:-1]


def conv_vae(C, H, W, chans, hid, m, act):
    f = 2 ** len(chans)
    feat = (chans[-1], H // f, W // f)
    n_feat = int(np.prod(feat))
    enc, c_in = [], C
    for c in chans:
        enc += [("conv", c_in, c, 4, 2, 1, True), ("act", act)]
        c_in = c
    enc.append(("flatten",))
    if hid:
        enc += [("dense", n_feat, hid), ("act", act)]
    enc.append(("dense", hid or n_feat, 2 * m))
    dec = []
    if hid:
        dec += [("dense", m, hid), ("act", act)]
    dec += [("dense", hid or m, n_feat), ("act", act), ("unflatten", feat)]
    for c in list(chans[-2::-1]) + [C]:
        dec += [("convT", c_in, c, 4, 2, 1, 0, True), ("act", act)]
        c_in = c
    return enc, dec[:-1]


def mlp_discriminator(n, hidden, slope, dropout):
    sizes = (n, *hidden)
    d = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        d += [("dense", a, b), ("act", f"leaky_relu:{slope}")]
        if dropout > 0:
            d.append(("dropout", dropout))
    return d + [("dense", sizes[-1], 1)]


# ------------------------------------------------------------------------------------------------ losses
def bce_logits(logits, t, reduction="mean"):
    per = jnp.maximum(logits, 0) - logits * t + jnp.log1p(jnp.exp(-jnp.abs(logits)))
    return per.mean() if reduction == "mean" else per.sum()


def kl_mean(mu, logvar):
    lv = jnp.clip(logvar, -30.0, 20.0)
    return (-0.5 * (1 + lv - mu * mu - jnp.exp(lv)).sum(axis=1)).mean()


def add_noise(key, x, kind, level):
    if kind == "gaussian":
        return jnp.clip(x + level * jax.random.normal(key, x.shape), 0.0, 1.0)
    if kind == "salt_and_pepper":
        u = jax.random.uniform(key, x.shape)
        return jnp.where(u < 0.5 * level, 0.0, jnp.where(u < level, 1.0, x))
    raise ValueError(f"the JAX reference has no noise {kind!r}")


def cosine(lr, total, kind):
    if kind != "cosine":
        return lr
    f = FINAL_LR_FRACTION

    def schedule(count):
        t = jnp.minimum(count, total) / total
        return lr * (f + (1 - f) * 0.5 * (1 + jnp.cos(jnp.pi * t)))
    return schedule


# ------------------------------------------------------------------------------------------------ the rows
class Reference:
    """One row in JAX: ``nets`` (name -> specs), the loss, and a compiled epoch step."""

    def __init__(self, model: str, p: dict, sample_shape: tuple, n_classes: int = 10):
        self.model, self.p, self.n_classes = model, p, int(n_classes)
        shape = tuple(sample_shape)
        self.image = (1, *shape) if len(shape) == 2 else shape
        self.n_features = int(np.prod(shape))
        self.images_in = model in ("ConvVAE", "ConvDenoisingAutoencoder", "ResidualDenoiser") or (
            model == "GAN" and p.get("generator") == "dcgan")
        getattr(self, "_nets_" + model)()

    # -- the networks of each model
    def _nets_Autoencoder(self):
        p = self.p
        h = tuple(p["hidden"])
        self.nets = {"enc": mlp((self.n_features, *h, p["latent_dim"]), p["activation"]),
                     "dec": mlp((p["latent_dim"], *h[::-1], self.n_features), p["activation"])}

    _nets_DenoisingAutoencoder = _nets_Autoencoder

    def _nets_SparseAutoencoder(self):
        p = self.p
        h = tuple(p["hidden"])
        code = p["code_activation"] or ("sigmoid" if p["sparsity_target"] is not None else "relu")
        self.nets = {"enc": mlp((self.n_features, *h, p["latent_dim"]), p["activation"], last=code),
                     "dec": mlp((p["latent_dim"], *h[::-1], self.n_features), p["activation"])}

    def _nets_VAE(self):
        p = self.p
        h = tuple(p["hidden"])
        self.nets = {"enc": mlp((self.n_features, *h, 2 * p["latent_dim"]), p["activation"]),
                     "dec": mlp((p["latent_dim"], *h[::-1], self.n_features), p["activation"])}

    def _nets_ConvVAE(self):
        C, H, W = self.image
        enc, dec = conv_vae(C, H, W, tuple(self.p["channels"]), int(self.p["hidden"]), self.p["latent_dim"],
                            self.p["activation"])
        self.nets = {"enc": enc, "dec": dec}

    def _nets_ConvDenoisingAutoencoder(self):
        enc, dec = conv_dae(self.image[0], tuple(self.p["channels"]), int(self.p["kernel_size"]),
                            self.p["activation"])
        self.nets = {"enc": enc, "dec": dec}

    def _nets_ResidualDenoiser(self):
        p = self.p
        depth = p["depth"] if p["depth"] is not None else (3 if p["architecture"] == "unet" else 10)
        make = unet if p["architecture"] == "unet" else dncnn
        self.nets = {"net": make(self.image[0], int(p["width"]), int(depth), int(p["kernel_size"]),
                                 bool(p["batch_norm"]))}

    def _nets_MLPClassifier(self):
        p = self.p
        sizes = (self.n_features, *tuple(p["hidden"]))
        specs = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            specs += [("dense", a, b), ("act", p["activation"])]
            if p["dropout"] > 0:
                specs.append(("dropout", p["dropout"]))
        self.nets = {"net": specs + [("dense", sizes[-1], self.n_classes)]}

    def _nets_GAN(self):
        p = self.p
        if p["generator"] == "dcgan":
            C, H, W = self.image
            c, h4, w4 = int(p["channels"]), H // 4, W // 4
            G = [("dense", p["latent_dim"], 2 * c * h4 * w4), ("act", "relu"), ("unflatten", (2 * c, h4, w4)),
                 ("convT", 2 * c, c, 4, 2, 1, 0, False), ("bn", c), ("act", "relu"),
                 ("convT", c, C, 4, 2, 1, 0, True), ("act", "tanh")]
            D = [("conv", C, c, 4, 2, 1, True), ("act", "leaky_relu:0.2"), ("conv", c, 2 * c, 4, 2, 1, False),
                 ("bn", 2 * c), ("act", "leaky_relu:0.2"), ("flatten",), ("dense", 2 * c * h4 * w4, 1)]
        else:
            sizes = (p["latent_dim"], *tuple(p["generator_hidden"]))
            G = []
            for a, b in zip(sizes[:-1], sizes[1:]):
                G += [("dense", a, b), ("act", f"leaky_relu:{p['negative_slope']}")]
            G += [("dense", sizes[-1], self.n_features), ("act", "tanh")]
            D = mlp_discriminator(self.n_features, tuple(p["discriminator_hidden"]), p["negative_slope"],
                                  p["dropout"])
        self.nets = {"G": G, "D": D}

    def _nets_AdversarialDenoiser(self):
        self._nets_Autoencoder()
        self.nets["D"] = mlp_discriminator(self.n_features, tuple(self.p["discriminator_hidden"]), 0.2,
                                           self.p["dropout"])

    # -- parameters
    def init(self, key):
        params, state = {}, {}
        for name, specs in self.nets.items():
            key, sub = jax.random.split(key)
            params[name], state[name] = init(specs, sub)
        return params, state

    def run(self, name, params, state, x, key, train=True):
        y, s = apply(self.nets[name], params[name], state[name], x, key, train)
        return y, {**state, name: s}

    # -- the loss of one batch: (params, state, xb, yb, key) -> (loss, new_state)
    def _recon(self, logits, x):
        if self.p["loss"] == "bce":
            return bce_logits(logits, x)
        return jnp.mean((jax.nn.sigmoid(logits) - x) ** 2)

    def loss(self, params, state, x, y, key):
        k1, k2, k3 = jax.random.split(key, 3)
        m, p = self.model, self.p
        if m in ("Autoencoder", "DenoisingAutoencoder", "ConvDenoisingAutoencoder", "SparseAutoencoder"):
            inp = x if m in ("Autoencoder", "SparseAutoencoder") else add_noise(k1, x, p["noise"], p["noise_level"])
            h, state = self.run("enc", params, state, inp, k2)
            logits, state = self.run("dec", params, state, h, k3)
            value = self._recon(logits, x)
            if m == "SparseAutoencoder":
                if p["l1"]:
                    value = value + p["l1"] * jnp.abs(h).sum() / h.shape[0]
                if p["sparsity_target"] is not None and p["sparsity_weight"]:
                    rho = p["sparsity_target"]
                    rh = jnp.clip(h.mean(axis=0), 1e-7, 1 - 1e-7)
                    value = value + p["sparsity_weight"] * (rho * jnp.log(rho / rh)
                                                            + (1 - rho) * jnp.log((1 - rho) / (1 - rh))).sum()
            return value, state
        if m in ("VAE", "ConvVAE"):
            lat = p["latent_dim"]
            hcat, state = self.run("enc", params, state, x, k2)
            mu, logvar = hcat[:, :lat], hcat[:, lat:]
            z = mu + jnp.exp(0.5 * jnp.clip(logvar, -30.0, 20.0)) * jax.random.normal(k1, mu.shape)
            logits, state = self.run("dec", params, state, z, k3)
            recon = bce_logits(logits, x.reshape(logits.shape), "sum") / x.shape[0]
            return recon + p["beta"] * kl_mean(mu, logvar), state
        if m == "ResidualDenoiser":
            noisy = add_noise(k1, x, p["noise"], p["noise_level"])
            n_hat, state = self.run("net", params, state, noisy, k2)
            return jnp.mean((noisy - n_hat - x) ** 2), state
        if m == "MLPClassifier":
            logits, state = self.run("net", params, state, x, k2)
            return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(x.shape[0]), y]), state
        raise ValueError(m)

    # -- one compiled training step per model kind
    def make_step(self, steps):
        p = self.p
        if self.model == "GAN":
            return self._gan_step(steps)
        if self.model == "AdversarialDenoiser":
            return self._adv_step(steps)
        kind = "constant" if self.model == "MLPClassifier" else p["lr_schedule"]
        opt = optax.adam(cosine(p["lr"], steps, kind), b1=0.9, b2=0.999, eps=1e-8)

        @jax.jit
        def step(params, state, opt_state, X, Y, idx, key):
            xb = X[idx]
            yb = None if Y is None else Y[idx]
            (value, state), grads = jax.value_and_grad(self.loss, has_aux=True)(params, state, xb, yb, key)
            updates, opt_state = opt.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), state, opt_state, value

        return opt, step

    def _gan_step(self, steps):
        p = self.p
        betas = tuple(p["betas"])
        opt_g = optax.adam(p["lr"], b1=betas[0], b2=betas[1], eps=1e-8)
        opt_d = optax.adam(p["lr"] if p["d_lr"] is None else p["d_lr"], b1=betas[0], b2=betas[1], eps=1e-8)
        target = 1.0 - p["label_smoothing"]
        flat = not self.images_in

        def d_loss(dp, gp, state, real, z, key):
            k1, k2, k3 = jax.random.split(key, 3)
            params = {"G": gp, "D": dp}
            fake, state = self.run("G", params, state, z, k1)
            fake = lax.stop_gradient(fake)
            rl, state = self.run("D", params, state, real, k2)
            fl, state = self.run("D", params, state, fake, k3)
            return bce_logits(rl, target) + bce_logits(fl, 0.0), (state, fake)

        def g_loss(gp, dp, state, z, key):
            k1, k2 = jax.random.split(key)
            params = {"G": gp, "D": dp}
            fake, state = self.run("G", params, state, z, k1)
            gl, state = self.run("D", params, state, fake, k2)
            return bce_logits(gl, 1.0), state

        @jax.jit
        def step(params, state, opt_state, X, Y, idx, key):
            kz, kd, kg = jax.random.split(key, 3)
            real = X[idx] * 2 - 1
            if flat:
                real = real.reshape(real.shape[0], -1)
            z = jax.random.normal(kz, (real.shape[0], p["latent_dim"]))
            (dl, (state, _)), gd = jax.value_and_grad(d_loss, has_aux=True)(params["D"], params["G"], state, real,
                                                                            z, kd)
            ud, sd = opt_d.update(gd, opt_state["D"], params["D"])
            dp = optax.apply_updates(params["D"], ud)
            (gl, state), gg = jax.value_and_grad(g_loss, has_aux=True)(params["G"], dp, state, z, kg)
            ug, sg = opt_g.update(gg, opt_state["G"], params["G"])
            gp = optax.apply_updates(params["G"], ug)
            return {"G": gp, "D": dp}, state, {"G": sg, "D": sd}, gl

        class _Both:
            @staticmethod
            def init(params):
                return {"G": opt_g.init(params["G"]), "D": opt_d.init(params["D"])}

        return _Both, step

    def _adv_step(self, steps):
        p = dict(self.p, loss="bce")
        self.p = p
        opt_ae = optax.adam(cosine(p["lr"], steps, p["lr_schedule"]), b1=0.9, b2=0.999, eps=1e-8)
        opt_d = optax.adam(p["d_lr"], b1=0.5, b2=0.999, eps=1e-8)
        lam = float(p["adversarial_weight"])

        def forward(ae, state, x, key):
            k1, k2, k3 = jax.random.split(key, 3)
            noisy = add_noise(k1, x, p["noise"], p["noise_level"])
            h, state = self.run("enc", ae, state, noisy, k2)
            logits, state = self.run("dec", ae, state, h, k3)
            return logits, state

        def d_loss(dp, state, x, x_hat, key):
            k1, k2 = jax.random.split(key)
            rl, state = self.run("D", {"D": dp}, state, x, k1)
            fl, state = self.run("D", {"D": dp}, state, x_hat, k2)
            return bce_logits(rl, 1.0) + bce_logits(fl, 0.0), state

        def ae_loss(ae, dp, state, x, key):
            k1, k2 = jax.random.split(key)
            logits, state = forward(ae, state, x, k1)
            value = bce_logits(logits, x)
            gl, state = self.run("D", {"D": dp}, state, jax.nn.sigmoid(logits), k2)
            return value + lam * bce_logits(gl, 1.0), state

        @jax.jit
        def step(params, state, opt_state, X, Y, idx, key):
            k1, k2, k3 = jax.random.split(key, 3)
            x = X[idx]
            ae = {"enc": params["enc"], "dec": params["dec"]}
            logits, _ = forward(ae, state, x, k1)
            (_, state), gd = jax.value_and_grad(d_loss, has_aux=True)(params["D"], state, x,
                                                                      lax.stop_gradient(jax.nn.sigmoid(logits)), k2)
            ud, sd = opt_d.update(gd, opt_state["D"], params["D"])
            dp = optax.apply_updates(params["D"], ud)
            (value, state), ga = jax.value_and_grad(ae_loss, has_aux=True)(ae, dp, state, x, k1)
            ua, sa = opt_ae.update(ga, opt_state["ae"], ae)
            ae = optax.apply_updates(ae, ua)
            return {**ae, "D": dp}, state, {"ae": sa, "D": sd}, value

        class _Both:
            @staticmethod
            def init(params):
                return {"ae": opt_ae.init({"enc": params["enc"], "dec": params["dec"]}),
                        "D": opt_d.init(params["D"])}

        return _Both, step


def n_params(row, sample_shape, n_classes=10) -> int:
    """Trainable parameters of the row's JAX networks (BatchNorm's running averages are state, not counted)."""
    ref = Reference(row.model, row.params(), sample_shape, n_classes)
    params, _ = ref.init(jax.random.PRNGKey(0))
    return count(params)


class JaxImpl:
    name = "jax"

    def __init__(self):
        self._compiled = {}
        self._data = {}

    def info(self) -> dict:
        return {"version": f"JAX {jax.__version__} (XLA on {jax.devices()[0].platform}), optax {optax.__version__}",
                "blas": [], "threads": None}

    def run(self, row, X, y, seed: int, policy=None) -> dict:
        p = row.params()
        bs = min(int(p["batch_size"]), len(X))
        steps = math.ceil(len(X) / bs)
        key = (row.name, len(X))
        if key not in self._compiled:
            n_classes = len(np.unique(y)) if y is not None else 10
            ref = Reference(row.model, p, X.shape[1:], n_classes)
            Xa = np.ascontiguousarray(X, dtype=np.float32)
            Xa = Xa[:, None] if (ref.images_in and Xa.ndim == 3) else (Xa if ref.images_in else Xa.reshape(len(Xa), -1))
            Ya = None if y is None else jnp.asarray(np.unique(y, return_inverse=True)[1].astype(np.int32))
            opt, step = ref.make_step(steps)
            self._compiled[key] = (ref, opt, step, jax.device_put(Xa), Ya)
        ref, opt, step, Xd, Yd = self._compiled[key]
        t = time.perf_counter()
        rng = jax.random.PRNGKey(seed)
        rng, sub = jax.random.split(rng)
        params, state = ref.init(sub)
        opt_state = opt.init(params)
        perm = np.random.default_rng(seed).permutation(len(X))
        total = 0.0
        values = []
        for s in range(steps):
            idx = jnp.asarray(perm[s * bs:(s + 1) * bs])
            rng, sub = jax.random.split(rng)
            params, state, opt_state, value = step(params, state, opt_state, Xd, Yd, idx, sub)
            values.append(value)
        total = float(jnp.stack(values).mean())                        # waits for the last step
        jax.block_until_ready(params)
        sec = time.perf_counter() - t
        return {"seconds": sec, "loss": total, "n_params": count(params)}
