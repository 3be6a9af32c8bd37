"""Quality of the tiny-bitmap models against their quality bars; prints tables, writes results/bitmaps.md.

Usage::

    python -m benchmarks.bitmaps                 # everything (about 2-3 minutes on 2 idle cores)
    python -m benchmarks.bitmaps --quick         # 2 seeds, 2000 noisy samples: a smoke run
    python -m benchmarks.bitmaps --only ae,vae   # some of: ae, dae_bitflip, dae_gaussian, vae

What is measured (no pass/fail test; the bars are printed beside the numbers):

* **Font autoencoder, 2-D latent**: ``Autoencoder(latent_dim=2, random_state=seed).fit(font)`` with no
  other argument, for seeds 0-4: wrong pixels over the 32 glyphs (output thresholded at 0.5) and the
  training time. Bar: 0 wrong pixels for at least 4 of 5 seeds, each under a minute.
* **Font denoising autoencoder**: for each noise level, ``DenoisingAutoencoder(noise=..., noise_level=level,
  random_state=0)`` with its defaults, evaluated on 10,000 fresh noisy glyphs (uniform over the 32): the
  exact-glyph recovery rate and mean wrong pixels, beside the **nearest-glyph decoder** on the very same
  samples (minimum Hamming distance for bit flips, Euclidean for Gaussian noise; ties at random), which
  is the best any denoiser can do. For bit flips the table also shows the **ideal single pass**: the
  exact posterior mean of each pixel, thresholded, which is where a BCE-trained network's single pass
  converges; its gap to the bound is why the DAE runs 3 passes by default. Bar: within 2 percentage
  points of the bound for every bit-flip p <= 0.20.
* **Emoji VAE, 2-D latent**: ``VAE(latent_dim=2, random_state=seed).fit(emoji)``: the largest per-emoji
  mean absolute pixel error of the reconstructions (decoded posterior means). Bar: below 0.05.

Times: *train s* is wall-clock seconds on a machine shared with other programs (compare them with each
other, not across runs); *CPU s* is the CPU time this process used (all its threads), which other
programs do not inflate.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks._markdown import table

RESULTS = Path(__file__).resolve().parent / "results"


def _load():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def ideal_single_pass_rate(glyphs, p, n_samples, random_state):
    """Exact-glyph rate of thresholding the exact per-pixel posterior mean under bit-flip noise p."""
    from nnlite.noise import bit_flip

    rng = np.random.default_rng(random_state)
    G = np.asarray(glyphs, dtype=np.float64)
    B = G > 0.5
    labels = rng.integers(0, len(G), n_samples)
    noisy = bit_flip(G[labels], p, rng) > 0.5
    d = (noisy[:, None, :] != B[None]).sum(-1)                   # (N, K) Hamming distances
    logpost = d * np.log(p / (1 - p))                            # uniform prior over glyphs
    logpost -= logpost.max(1, keepdims=True)
    post = np.exp(logpost)
    post /= post.sum(1, keepdims=True)
    marginal = post @ G                                          # (N, D) posterior mean of each pixel
    return float(((marginal > 0.5) == B[labels]).all(1).mean())


def bench_ae(X, seeds):
    from nnlite.models import Autoencoder

    rows, ok = [], 0
    for s in seeds:
        t, c = time.perf_counter(), time.process_time()
        ae = Autoencoder(latent_dim=2, random_state=s).fit(X)
        dt, cpu = time.perf_counter() - t, time.process_time() - c
        wrong = ((ae.reconstruct(X) > 0.5) != (X > 0.5)).sum(1)
        ok += int(wrong.sum() == 0)
        rows.append([s, int(wrong.sum()), int((wrong > 0).sum()), f"{ae.loss_curve_[-1]:.2e}", f"{dt:.1f}",
                     f"{cpu:.1f}"])
    summary = f"{ok} of {len(seeds)} seeds reconstruct all 32 glyphs with 0 wrong pixels (bar: >= 4 of 5)"
    return table(["seed", "wrong pixels", "glyphs with errors", "final BCE", "train s", "CPU s"], rows), summary


def bench_dae(X, noise, levels, n_samples, bar_levels):
    from nnlite.demo import recovery_stats
    from nnlite.models import DenoisingAutoencoder

    rows, fails = [], []
    for i, level in enumerate(levels):
        t, c = time.perf_counter(), time.process_time()
        dae = DenoisingAutoencoder(noise=noise, noise_level=level, random_state=0).fit(X)
        dt, cpu = time.perf_counter() - t, time.process_time() - c
        st = recovery_stats(dae.reconstruct, X, noise, level, n_samples=n_samples, random_state=1000 + i)
        one = recovery_stats(partial(dae.reconstruct, n_passes=1), X, noise, level, n_samples=n_samples,
                             random_state=1000 + i)
        gap = 100 * (st["bound_rate"] - st["rate"])
        row = [level, f"{100 * st['rate']:.2f}", f"{100 * one['rate']:.2f}"]
        if noise == "bit_flip":
            row.append(f"{100 * ideal_single_pass_rate(X, level, n_samples, 2000 + i):.2f}")
        row += [f"{100 * st['bound_rate']:.2f}", f"{gap:+.2f}", f"{st['wrong']:.3f}", f"{one['wrong']:.3f}",
                f"{st['bound_wrong']:.3f}", f"{st['noisy_wrong']:.2f}"]
        in_bar = level in bar_levels
        if in_bar and gap > 2.0:
            fails.append(level)
        row += ["yes" if in_bar and gap <= 2.0 else ("NO" if in_bar else "-"), f"{dt:.1f}", f"{cpu:.1f}"]
        rows.append(row)
        print(f"  {noise} {level}: DAE {100 * st['rate']:.2f}% vs bound {100 * st['bound_rate']:.2f}% "
              f"({gap:+.2f} pp), trained in {dt:.1f} s", flush=True)
    name = "p" if noise == "bit_flip" else "sigma"
    headers = [name, "DAE exact %", "DAE 1 pass %"] + (["ideal 1 pass %"] if noise == "bit_flip" else []) + [
        "bound %", "gap pp", "DAE wrong px", "1-pass wrong px", "bound wrong px", "noisy wrong px",
        "within 2 pp", "train s", "CPU s"]
    if bar_levels:
        summary = (f"within 2 pp of the bound for every {name} in {sorted(bar_levels)}: "
                   + ("yes" if not fails else f"NO (fails at {fails})"))
    else:
        summary = "no bar for this noise (table for information)"
    return table(headers, rows), summary


def bench_vae(E, names, seeds):
    from nnlite.models import VAE

    rows, worst = [], 0.0
    for s in seeds:
        t, c = time.perf_counter(), time.process_time()
        vae = VAE(latent_dim=2, random_state=s).fit(E)
        dt, cpu = time.perf_counter() - t, time.process_time() - c
        mae = np.abs(vae.reconstruct(E) - E).mean(1)
        worst = max(worst, float(mae.max()))
        h = vae.history_
        rows.append([s, f"{mae.max():.4f}", names[int(mae.argmax())], f"{mae.mean():.4f}", f"{h['elbo'][-1]:.2f}",
                     f"{h['recon'][-1]:.2f}", f"{h['kl'][-1]:.2f}", f"{dt:.1f}", f"{cpu:.1f}"])
    summary = f"largest per-emoji MAE over {len(seeds)} seeds: {worst:.4f} (bar: < 0.05)"
    return table(["seed", "max MAE", "worst emoji", "mean MAE", "ELBO", "recon", "KL", "train s", "CPU s"],
                 rows), summary


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bitmaps", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 seeds and 2000 noisy samples per level")
    ap.add_argument("--only", default="ae,dae_bitflip,dae_gaussian,vae",
                    help="comma-separated subset of: ae, dae_bitflip, dae_gaussian, vae")
    ap.add_argument("--out", default=str(RESULTS / "bitmaps.md"), help="markdown file to write")
    args = ap.parse_args(argv)
    from nnlite.data import load_emoji12, load_font5x7

    X, _ = load_font5x7()
    E, names = load_emoji12()
    seeds = [0, 1] if args.quick else [0, 1, 2, 3, 4]
    n_samples = 2000 if args.quick else 10_000
    only = set(args.only.split(","))
    sections = []
    t0 = time.perf_counter()
    load0 = _load()
    if "ae" in only:
        print("Font autoencoder, 2-D latent, default settings ...", flush=True)
        tab, summ = bench_ae(X, seeds)
        sections.append(("Font autoencoder: `Autoencoder(latent_dim=2, random_state=seed).fit(font)`", tab, summ))
    if "dae_bitflip" in only:
        print("Font DAE, bit-flip noise ...", flush=True)
        tab, summ = bench_dae(X, "bit_flip", [0.05, 0.10, 0.15, 0.20, 0.30], n_samples, {0.05, 0.10, 0.15, 0.20})
        sections.append((f"Font DAE, bit-flip noise: `DenoisingAutoencoder(noise='bit_flip', noise_level=p, "
                         f"random_state=0)`, {n_samples} noisy glyphs per level", tab, summ))
    if "dae_gaussian" in only:
        print("Font DAE, Gaussian noise ...", flush=True)
        tab, summ = bench_dae(X, "gaussian", [0.1, 0.2, 0.3, 0.5], n_samples, set())
        sections.append((f"Font DAE, Gaussian noise (clipped to [0, 1]): `DenoisingAutoencoder(noise='gaussian', "
                         f"noise_level=sigma, random_state=0)`, {n_samples} noisy glyphs per level", tab, summ))
    if "vae" in only:
        print("Emoji VAE, 2-D latent ...", flush=True)
        tab, summ = bench_vae(E, names, seeds[:3])
        sections.append(("Emoji VAE: `VAE(latent_dim=2, random_state=seed).fit(emoji)`", tab, summ))
    total = time.perf_counter() - t0
    quick = " --quick" if args.quick else ""
    header = (f"# Tiny-bitmap quality\n\nCommand: `python -m benchmarks.bitmaps{quick}`"
              f"{'' if args.only == ap.get_default('only') else ' --only ' + args.only}. "
              f"Python {platform.python_version()}, NumPy {np.__version__}, {os.cpu_count()} CPUs, "
              f"load average {load0:.1f} at start. Total {total:.0f} s wall clock. *train s* = wall-clock "
              "seconds on a shared machine; *CPU s* = CPU time of this process (all threads).\n\n"
              "Columns: *exact %* = glyphs whose every pixel is right after thresholding at 0.5; *wrong px* = mean "
              "wrong pixels per glyph; *bound* = nearest-glyph decoder on the same noisy samples; *ideal 1 pass* = "
              "exact posterior mean per pixel, thresholded (the limit of one pass of a BCE-trained denoiser); "
              "*noisy wrong px* = wrong pixels of the noisy input itself.\n")
    md = [header]
    for title, tab, summ in sections:
        print(f"\n## {title}\n\n{tab}\n\n**{summ}**", flush=True)
        md.append(f"## {title}\n\n{tab}\n\n**{summ}**\n")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(md))
    print(f"\nwritten to {args.out} ({total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
