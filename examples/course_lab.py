"""
The course lab by hand: a font autoencoder, a denoiser and an emoji VAE wired from layers
=========================================================================================

The lab this package grew from: three networks built from single layers, each trained by a loop
written out in full (forward through each layer, the loss, backward through each layer in reverse,
an optimizer step), with the backward of the VAE's sampling and KL written by hand between its
encoder and decoder. Each is then checked against nnlite's model class from the same initial
weights: the loss curves must agree to float rounding. Run it with::

    python examples/course_lab.py                # ~35 s (NNLITE_QUICK=1: ~15 s); figures in out/

Writes out/course_lab_autoencoder.png, out/course_lab_denoiser.png, out/course_lab_vae.png and
out/course_lab_vae_walk.png.
"""
import math
import os
import time

import numpy as np

from nnlite import LambdaCallback, Linear, ReLU, plots
from nnlite.data import load_emoji12, load_font5x7
from nnlite.models import VAE, Autoencoder, DenoisingAutoencoder
from nnlite.optim import Adam

# -------------------------------------------------------------------------- settings
OUT = "out"            # where the figures go
SEED = 0               # initial weights and noise
DTYPE = np.float64     # float64, so that the lab and the model classes agree to ~1e-12
QUICK = os.environ.get("NNLITE_QUICK") == "1"   # the quick setting the docs gallery and the tests run
AE_EPOCHS = 1000 if QUICK else 2000             # full-batch steps of the font autoencoder (2000: the class default)
DAE_EPOCHS = 800 if QUICK else 1500             # denoiser steps, fresh noise each step
VAE_EPOCHS = 1000 if QUICK else 2000            # emoji VAE steps, fresh reparameterisation noise each step
NOISE = 0.1            # salt and pepper: the share of pixels set to 0 or 1
LR = 1e-3              # Adam's learning rate, decayed along a cosine to 1% of it (as the model classes do)
MATCH = 1e-6           # largest relative difference allowed between the lab's loss curves and the classes'

print("quick setting (NNLITE_QUICK=1): 800 to 1000 steps per network, half the full run" if QUICK else
      "full run (NNLITE_QUICK is not set); NNLITE_QUICK=1 runs half the steps")
rng = np.random.default_rng(SEED)


# -------------------------------------------------------------------------- the pieces every loop uses
def forward(layers, x):
    for layer in layers:
        x = layer(x)
    return x


def backward(layers, dy):
    for layer in reversed(layers):     # last layer first; each adds its dL/dW, dL/db into .grad
        dy = layer.backward(dy)
    return dy


def bce_with_logits(logits, target, scale):
    """``scale * sum(BCE)`` of ``sigmoid(logits)`` against ``target``, and its gradient w.r.t. the logits."""
    loss = np.sum(np.logaddexp(0.0, logits) - target * logits)   # log(1 + e^l) - t l, summed
    return scale * loss, scale * (1.0 / (1.0 + np.exp(-logits)) - target)


def cosine_lr(step, total, lr=LR, final=0.01):
    """The learning rate after ``step`` of ``total`` optimizer steps: from ``lr`` down to ``final * lr``."""
    return lr * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * min(step, total) / total)))


def mlp(sizes):
    """``Linear -> ReLU -> ... -> Linear`` through ``sizes``; no activation after the last layer."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [Linear(a, b, dtype=DTYPE, random_state=rng)] + ([ReLU()] if i < len(sizes) - 2 else [])
    return layers


def params(*networks):
    return [p for net in networks for layer in net for p in layer.parameters()]


def set_weights(dst, arrays):
    """Copy values into parameters, in order: a Dense layer of the model classes holds a Linear's weight
    ``(n_in, n_out)`` and bias, so the lab's layers and the classes' networks line up one to one."""
    assert [p.shape for p in dst] == [a.shape for a in arrays]
    for p, a in zip(dst, arrays):
        p.data[...] = a


def compare(name, ours, theirs):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    worst = float(np.max(np.abs(ours - theirs) / np.abs(theirs)))
    print(f"{name}: loss {ours[0]:.4f} -> {ours[-1]:.4f} by hand, {theirs[0]:.4f} -> {theirs[-1]:.4f} by the "
          f"class; largest relative difference over {len(ours)} steps {worst:.1e}")
    assert worst < MATCH, f"{name}: the hand-wired loop left the model class's loss curve ({worst:.2e} > {MATCH})"


os.makedirs(OUT, exist_ok=True)
t_start = time.perf_counter()

# -------------------------------------------------------------------------- 1. the 5x7 font autoencoder
# 35 pixels -> 256 -> 128 -> 2 -> 128 -> 256 -> 35 logits; the loss is the BCE averaged over every pixel.
X, chars = load_font5x7(dtype=DTYPE)                 # (32, 35) in {0, 1}
encoder, decoder = mlp((35, 256, 128, 2)), mlp((2, 128, 256, 35))

# The class draws its own initial weights inside fit: take them from it before its first step.
ae = Autoencoder(latent_dim=2, hidden=(256, 128), epochs=AE_EPOCHS, lr=LR, dtype=DTYPE, random_state=SEED)
start = []
ae.fit(X, verbose=0, callbacks=[LambdaCallback(on_train_begin=lambda tr: start.extend(p.data.copy()
                                                                                      for p in ae.parameters()))])
set_weights(params(encoder, decoder), start)

opt = Adam(params(encoder, decoder), lr=LR)
curve = []
for step in range(AE_EPOCHS):
    opt.zero_grad()
    z = forward(encoder, X)                          # (32, 2)
    logits = forward(decoder, z)                     # (32, 35)
    loss, dlogits = bce_with_logits(logits, X, 1.0 / X.size)
    backward(encoder, backward(decoder, dlogits))    # through the decoder, then the encoder
    opt.step()
    opt.lr = cosine_lr(step + 1, AE_EPOCHS)
    curve.append(loss)
compare("font autoencoder", curve, ae.loss_curve_)
R = 1 / (1 + np.exp(-forward(decoder, forward(encoder, X))))
wrong = int(((R > 0.5) != (X > 0.5)).sum())
print(f"  {wrong} wrong pixels of {X.size} after {AE_EPOCHS} steps")
path_ae = plots.save(plots.image_rows([X, R], ["glyph", "by hand"], image_shape=(7, 5), col_titles=chars,
                                      title=f"Font autoencoder wired by hand: {wrong} wrong pixels"),
                     os.path.join(OUT, "course_lab_autoencoder.png"))


# -------------------------------------------------------------------------- 2. the denoiser
# The same kind of network, fed glyphs with salt-and-pepper noise and trained to give back the clean ones.
def salt_and_pepper(x, p):
    u = rng.random(x.shape)
    return np.where(u < p / 2, 0.0, np.where(u < p, 1.0, x))


encoder, decoder = mlp((35, 64, 8)), mlp((8, 64, 35))
initial = [p.data.copy() for p in params(encoder, decoder)]
noisy_batches = [salt_and_pepper(X, NOISE) for _ in range(DAE_EPOCHS)]   # fresh noise for every step

opt = Adam(params(encoder, decoder), lr=LR)
curve = []
for step, noisy in enumerate(noisy_batches):
    opt.zero_grad()
    logits = forward(decoder, forward(encoder, noisy))
    loss, dlogits = bce_with_logits(logits, X, 1.0 / X.size)     # against the clean glyphs
    backward(encoder, backward(decoder, dlogits))
    opt.step()
    opt.lr = cosine_lr(step + 1, DAE_EPOCHS)
    curve.append(loss)

# The class, from the same weights on the same noisy batches: its loss_and_grad does forward and backward.
dae = DenoisingAutoencoder(hidden=(64,), latent_dim=8, epochs=1, dtype=DTYPE, random_state=SEED).fit(X, verbose=0)
set_weights(dae.parameters(), initial)
opt_class = Adam(dae.parameters(), lr=LR)
class_curve = []
for step, noisy in enumerate(noisy_batches):
    opt_class.zero_grad()
    loss, _ = dae.loss_and_grad(noisy, X)
    opt_class.step()
    opt_class.lr = cosine_lr(step + 1, DAE_EPOCHS)
    class_curve.append(loss)
compare("denoiser", curve, class_curve)
test_noisy = salt_and_pepper(X, NOISE)
D = 1 / (1 + np.exp(-forward(decoder, forward(encoder, test_noisy))))
fixed = int(((D > 0.5) == (X > 0.5)).all(axis=1).sum())
print(f"  new noise: {fixed} of {len(X)} glyphs come back without a wrong pixel")
path_dae = plots.save(plots.image_rows([test_noisy, D, X], ["noisy", "denoised by hand", "clean"], image_shape=(7, 5),
                                       col_titles=chars, title=f"Denoiser wired by hand: {fixed} of {len(X)} "
                                       f"glyphs exact from {NOISE:.0%} salt and pepper"),
                      os.path.join(OUT, "course_lab_denoiser.png"))

# -------------------------------------------------------------------------- 3. the 12x12 emoji VAE
# encoder: 144 -> 256 -> 128 -> [mu | log sigma^2] (2 + 2); z = mu + sigma * eps; decoder: 2 -> 128 -> 256 -> 144.
# Loss per emoji: the BCE summed over its pixels plus KL(q(z|x) || N(0, I)); averaged over the batch.
E, names = load_emoji12(dtype=DTYPE)                 # (34, 144) in {0, 0.5, 1}
B, M = len(E), 2
encoder, decoder = mlp((144, 256, 128, 2 * M)), mlp((M, 128, 256, 144))
initial = [p.data.copy() for p in params(encoder, decoder)]
eps_batches = [rng.standard_normal((B, M)) for _ in range(VAE_EPOCHS)]   # the reparameterisation noise

opt = Adam(params(encoder, decoder), lr=LR)
curve = []
for step, eps in enumerate(eps_batches):
    opt.zero_grad()
    h = forward(encoder, E)                          # (34, 4)
    mu, logvar = h[:, :M], np.clip(h[:, M:], -30.0, 20.0)    # clipped as the class does: exp stays finite
    std = np.exp(0.5 * logvar)
    z = mu + std * eps                               # (34, 2), the reparameterisation
    logits = forward(decoder, z)                     # (34, 144)
    recon, dlogits = bce_with_logits(logits, E, 1.0 / B)
    kl = -0.5 * np.sum(1 + logvar - mu ** 2 - std ** 2) / B
    dz = backward(decoder, dlogits)                  # (34, 2)
    # by hand: z = mu + exp(logvar / 2) eps, and the KL's own derivatives, added where both reach mu, logvar
    dmu = dz + mu / B
    dlogvar = (dz * eps * 0.5 * std + 0.5 * (std ** 2 - 1) / B) * (h[:, M:] == logvar)   # 0 where clipped
    backward(encoder, np.concatenate([dmu, dlogvar], axis=1))
    opt.step()
    opt.lr = cosine_lr(step + 1, VAE_EPOCHS)
    curve.append(recon + kl)

vae = VAE(latent_dim=M, hidden=(256, 128), epochs=1, dtype=DTYPE, random_state=SEED).fit(E, verbose=0)
set_weights(vae.parameters(), initial)
opt_class = Adam(vae.parameters(), lr=LR)
class_curve = []
for step, eps in enumerate(eps_batches):
    opt_class.zero_grad()
    loss, _ = vae.loss_and_grad(E, eps=eps)
    opt_class.step()
    opt_class.lr = cosine_lr(step + 1, VAE_EPOCHS)
    class_curve.append(loss)
compare("emoji VAE (negative ELBO)", curve, class_curve)

mu = forward(encoder, E)[:, :M]
recon_mean = 1 / (1 + np.exp(-forward(decoder, mu)))          # decoded posterior means
grid = np.linspace(-2.5, 2.5, 9)
codes = np.array([[a, b] for b in grid[::-1] for a in grid])   # 9 x 9 walk over the prior
walk = 1 / (1 + np.exp(-forward(decoder, codes)))
print(f"  mean absolute error of the reconstructions: {np.abs(recon_mean - E).mean():.3f}")
path_vae = plots.save(plots.image_rows([E, recon_mean], ["emoji", "by hand"], image_shape=(12, 12),
                                       col_titles=names, max_cols=17,
                                       title="Emoji VAE wired by hand: decoded posterior means"),
                      os.path.join(OUT, "course_lab_vae.png"))
path_walk = plots.save(plots.image_grid(walk, (12, 12), ncols=9, cell=0.8,
                                        title="Decoded codes on a 9x9 grid over [-2.5, 2.5]^2"),
                       os.path.join(OUT, "course_lab_vae_walk.png"))
print(f"all three match their model classes ({time.perf_counter() - t_start:.1f} s); figures:",
      path_ae, path_dae, path_vae, path_walk, sep="\n  ")
