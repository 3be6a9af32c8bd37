"""``make demo``: the tiny-bitmap system end to end, in about a minute on two cores.

1. A plain autoencoder squeezes the 32 glyphs of the 5x7 font through a 2-D code and back.
2. A denoising autoencoder learns to undo bit-flip noise, measured against the nearest-glyph decoder
   (the best any denoiser can do on this font).
3. A VAE with a 2-D latent learns the 12x12 emojis; walking its latent space draws new ones.

Every figure goes to ``out_dir``; :func:`run_demo` prints what it measured and where the files are.
The helpers :func:`nearest_glyph` and :func:`recovery_stats` are shared with ``benchmarks/bitmaps.py``.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

__all__ = ["run_demo", "nearest_glyph", "recovery_stats"]


def nearest_glyph(X_noisy, glyphs, metric="hamming", rng=None):
    """Index of the closest clean glyph for each noisy sample; ties broken uniformly at random.

    ``metric='hamming'`` compares pixels thresholded at 0.5 (the maximum-likelihood decoder for
    bit-flip noise with p < 0.5 and equally likely glyphs); ``'euclidean'`` compares raw values (the
    ML decoder for unclipped Gaussian noise).
    """
    rng = np.random.default_rng(rng)
    Xn = np.asarray(X_noisy, dtype=np.float64)
    G = np.asarray(glyphs, dtype=np.float64)
    if metric == "hamming":
        d = ((Xn[:, None, :] > 0.5) != (G[None, :, :] > 0.5)).sum(-1).astype(np.float64)   # (N, K)
    elif metric == "euclidean":
        d = (Xn * Xn).sum(1)[:, None] - 2 * Xn @ G.T + (G * G).sum(1)[None, :]               # (N, K)
        d = np.round(d, 9)                        # exact ties stay ties despite round-off
    else:
        raise ValueError(f"nearest_glyph: metric must be 'hamming' or 'euclidean', got {metric!r}")
    keys = rng.random(d.shape)
    keys[d > d.min(axis=1, keepdims=True)] = np.inf
    return keys.argmin(axis=1)


def recovery_stats(reconstruct, glyphs, noise, level, n_samples=10_000, random_state=0, metric=None,
                   chunk=5000):
    """Exact-glyph recovery of a denoiser beside the nearest-glyph bound, on the same noisy samples.

    Parameters
    ----------
    reconstruct : callable ``(N, D) -> (N, D)``, or None to measure only the bound
        The denoiser (e.g. ``dae.reconstruct``); its output is thresholded at 0.5.
    glyphs : array ``(K, D)`` of clean glyphs in {0, 1}
    noise : str or callable, level : float
        As in :mod:`nnlite.noise`.
    metric : 'hamming' | 'euclidean' | None
        For the bound; None: Hamming for bit-flip/salt-and-pepper/masking, Euclidean for Gaussian.

    Returns
    -------
    dict with ``rate``/``wrong`` (the denoiser's exact recovery rate and mean wrong pixels per
    sample), ``bound_rate``/``bound_wrong`` (nearest-glyph decoder), ``noisy_wrong`` (wrong pixels of
    the noisy input thresholded at 0.5) and ``n``.
    """
    from .noise import get_noise

    rng = np.random.default_rng(random_state)
    glyphs = np.asarray(glyphs, dtype=np.float32)
    if metric is None:
        metric = "euclidean" if noise == "gaussian" else "hamming"
    f = get_noise(noise)
    B = glyphs > 0.5
    ok = wrong = b_ok = b_wrong = noisy_wrong = 0.0
    done = 0
    while done < n_samples:
        m = min(chunk, n_samples - done)
        labels = rng.integers(0, len(glyphs), m)
        noisy = f(glyphs[labels], level, rng)
        truth = B[labels]
        noisy_wrong += ((noisy > 0.5) != truth).sum()
        if reconstruct is not None:
            out = np.asarray(reconstruct(noisy)).reshape(m, -1) > 0.5
            errs = (out != truth).sum(1)
            ok += (errs == 0).sum()
            wrong += errs.sum()
        guess = nearest_glyph(noisy, glyphs, metric, rng)
        b_errs = (B[guess] != truth).sum(1)
        b_ok += (b_errs == 0).sum()
        b_wrong += b_errs.sum()
        done += m
    n = float(n_samples)
    res = dict(bound_rate=b_ok / n, bound_wrong=b_wrong / n, noisy_wrong=noisy_wrong / n, n=int(n_samples))
    if reconstruct is not None:
        res.update(rate=ok / n, wrong=wrong / n)
    return res


def _say(msg):
    print(msg, flush=True)


def run_demo(out_dir="out", random_state=0, quick=False):
    """Train the three models, write the figures into ``out_dir`` and print where they are.

    Parameters
    ----------
    out_dir : str
    random_state : int
        One seed for all three models (same seed => the same pictures).
    quick : bool
        Shorter trainings (for tests and impatient people): the quality bars are not reached.

    Returns
    -------
    dict : the figure paths by name and the measured numbers.
    """
    from . import plots
    from .data import load_emoji12, load_font5x7
    from .models import VAE, Autoencoder, DenoisingAutoencoder
    from .noise import bit_flip

    os.makedirs(out_dir, exist_ok=True)
    paths, numbers = {}, {}
    t_all = time.perf_counter()
    short = dict(epochs=50) if quick else {}

    def save(fig, name):
        paths[name] = plots.save(fig, os.path.join(out_dir, name + ".png"))

    # ---------------------------------------------------------------- 1. font autoencoder, 2-D latent
    X, chars = load_font5x7()
    _say(f"[1/3] Autoencoder(latent_dim=2) on the 5x7 font ({X.shape[0]} glyphs x {X.shape[1]} pixels) ...")
    t = time.perf_counter()
    ae = Autoencoder(latent_dim=2, random_state=random_state).fit(X, **short)
    dt = time.perf_counter() - t
    R = ae.reconstruct(X)
    wrong = ((R > 0.5) != (X > 0.5)).sum(1)
    numbers["ae_wrong_pixels"] = int(wrong.sum())
    numbers["ae_seconds"] = dt
    _say(f"      trained in {dt:.1f} s ({ae.n_epochs_} full-batch epochs); wrong pixels over all 32 glyphs: "
         f"{int(wrong.sum())} (threshold 0.5)")
    cols = [f"{c}" + (f"\n{w} wrong" if w else "") for c, w in zip(chars, wrong)]
    save(plots.image_rows([X, R, (R > 0.5).astype(float)], ["original", "output\n(probability)", "output > 0.5"],
                          image_shape=(7, 5), col_titles=cols,
                          title=f"Autoencoder 35 -> 2 -> 35 on the 5x7 font: {int(wrong.sum())} wrong pixels in "
                                f"{len(X)} glyphs"), "font_reconstructions")
    Z = ae.encode(X)
    save(plots.latent_scatter(Z, labels=chars, images=X, image_shape=(7, 5),
                              title="Font autoencoder: each glyph drawn at its 2-D code"), "font_latent")
    lo, hi = Z.min(0), Z.max(0)
    pad = 0.08 * (hi - lo)
    save(plots.latent_grid(ae.decode, (lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1]), n=20,
                           image_shape=(7, 5), codes=Z, code_labels=chars,
                           title="Font autoencoder: glyphs decoded on a 20x20 grid over the latent space"),
         "font_latent_grid")
    save(plots.curves(ae.history_, ["loss"], title="Font autoencoder training (full batch, Adam, cosine lr)",
                      ylabel="mean BCE per pixel", logy=True, labels={"loss": "training loss"}), "font_loss")

    # ---------------------------------------------------------------- 2. denoising autoencoder
    p_train = 0.2
    _say(f"[2/3] DenoisingAutoencoder(noise='bit_flip', noise_level={p_train}) on the font ...")
    t = time.perf_counter()
    dae = DenoisingAutoencoder(noise="bit_flip", noise_level=p_train, random_state=random_state).fit(X, **short)
    dt = time.perf_counter() - t
    numbers["dae_seconds"] = dt
    _say(f"      trained in {dt:.1f} s ({dae.n_iter_} steps of {dae.batch_size_} noisy glyphs)")
    show = [chars.index(c) for c in "acehmnosw{~\u2588"]
    rng = np.random.default_rng(random_state + 1)
    levels_show = [0.05, 0.1, 0.2, 0.3]
    rows, labels = [X[show]], ["clean"]
    for p in levels_show:
        noisy = bit_flip(X[show], p, rng)
        rows += [noisy, dae.reconstruct(noisy)]
        labels += [f"noisy p={p}", "denoised"]
    save(plots.image_rows(rows, labels, image_shape=(7, 5), max_cols=len(show),
                          title=f"Denoising autoencoder (trained at bit-flip p={p_train}):\n"
                                f"clean glyphs, then noisy / denoised pairs at four noise levels"),
         "dae_examples")
    levels = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]
    n_eval = 500 if quick else 5000
    stats = [recovery_stats(dae.reconstruct, X, "bit_flip", p, n_samples=n_eval, random_state=100 + i)
             for i, p in enumerate(levels)]
    one_pass = [recovery_stats(lambda A: dae.reconstruct(A, n_passes=1), X, "bit_flip", p, n_samples=n_eval,
                               random_state=100 + i)["rate"] for i, p in enumerate(levels)]
    numbers["dae_recovery"] = {p: (s["rate"], s["bound_rate"]) for p, s in zip(levels, stats)}
    for p, s in zip(levels, stats):
        _say(f"      p={p:.2f}: DAE recovers {100 * s['rate']:5.1f}% of glyphs exactly, nearest-glyph bound "
             f"{100 * s['bound_rate']:5.1f}%")
    save(plots.rate_vs_level(levels, {f"DAE, {dae.n_passes_} passes (default)": [s["rate"] for s in stats],
                                      "DAE, 1 pass": one_pass,
                                      "nearest-glyph decoder (bound)": [s["bound_rate"] for s in stats]},
                             xlabel="bit-flip probability p", ylabel="glyphs recovered exactly",
                             title=f"Denoising the 5x7 font ({n_eval} noisy glyphs per level)"),
         "dae_recovery")

    # ---------------------------------------------------------------- 3. emoji VAE
    E, names = load_emoji12()
    _say(f"[3/3] VAE(latent_dim=2) on the 12x12 emojis ({len(E)} images) ...")
    t = time.perf_counter()
    vae = VAE(latent_dim=2, random_state=random_state).fit(E, **short)
    dt = time.perf_counter() - t
    numbers["vae_seconds"] = dt
    RE = vae.reconstruct(E)
    mae = np.abs(RE - E).mean(1)
    numbers["vae_max_mae"] = float(mae.max())
    _say(f"      trained in {dt:.1f} s; per-emoji mean absolute pixel error: max {mae.max():.4f} "
         f"({names[int(mae.argmax())]}), mean {mae.mean():.4f}")
    save(plots.image_grid(E, (12, 12), titles=names, ncols=9, cell=1.0, title="emoji12: the training set"),
         "emoji_training_set")
    save(plots.image_rows([E, RE], ["original", "VAE\nreconstruction"], image_shape=(12, 12), max_cols=17,
                          col_titles=names, cell=0.85,
                          title=f"Emoji VAE reconstructions (decoded mean code): max per-emoji MAE {mae.max():.3f}"),
         "emoji_reconstructions")
    mu, _ = vae.encode(E)
    r = float(np.abs(mu).max()) * 1.15
    save(plots.latent_grid(vae.decode, (-r, r), (-r, r), n=15, image_shape=(12, 12),
                           title="Emoji VAE: 15x15 images decoded across the 2-D latent space"),
         "emoji_latent_traversal")
    save(plots.latent_grid(vae.decode, (-r, r), (-r, r), n=15, image_shape=(12, 12), codes=mu, code_labels=names,
                           title="The same traversal with the training codes (red): new emojis lie between them"),
         "emoji_latent_traversal_codes")
    save(plots.latent_scatter(mu, labels=names, images=E, image_shape=(12, 12),
                              title="Emoji VAE: each emoji at its mean code"), "emoji_latent")
    save(plots.curves(vae.history_, ["elbo", "recon", "kl"], subplots=True,
                      labels={"elbo": "ELBO (nats per image)", "recon": "reconstruction BCE (nats)",
                              "kl": "KL(q(z|x) || N(0, I)) (nats)"},
                      title="Emoji VAE training", ylabel="nats"), "emoji_curves")
    save(plots.image_grid(vae.sample(32, random_state=random_state), (12, 12), ncols=16, cell=0.8,
                          title="Emoji VAE: 32 new samples, z ~ N(0, I)"), "emoji_samples")

    total = time.perf_counter() - t_all
    numbers["total_seconds"] = total
    _say(f"\nDone in {total:.0f} s. {len(paths)} figures in {os.path.abspath(out_dir)}:")
    for path in paths.values():
        _say(f"  {path}")
    return dict(paths=paths, numbers=numbers)


if __name__ == "__main__":  # pragma: no cover
    run_demo(sys.argv[1] if len(sys.argv) > 1 else "out")
