"""
Denoising the 5x7 font, against the nearest-glyph bound
=======================================================

Denoising autoencoders on the 5x7 font: salt-and-pepper and Gaussian noise, measured against the bound.
Run it with::

    python examples/font_denoising.py            # ~30 s; figures in out/

For each noise a DenoisingAutoencoder is trained on freshly corrupted glyphs (new noise every epoch)
against the clean ones. It is then compared with the nearest-glyph decoder, which picks the clean
glyph closest to the noisy input: the best any denoiser can do on this font.
Writes out/denoise_<noise>_examples.png and out/denoise_<noise>_recovery.png.
"""
import os
import time

import numpy as np

from nnlite import plots
from nnlite.data import load_font5x7
from nnlite.demo import recovery_stats
from nnlite.models import DenoisingAutoencoder
from nnlite.noise import get_noise

# -------------------------------------------------------------------------- settings
OUT = "out"
SEED = 0
NOISES = {                         # noise name -> (training level, levels to evaluate)
    "salt_and_pepper": (0.3, [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]),
    "gaussian": (0.4, [0.0, 0.2, 0.3, 0.4, 0.5, 0.6]),
}
N_EVAL = 4000                      # noisy glyphs per level for the recovery curve
QUICK = os.environ.get("NNLITE_QUICK") == "1"   # the quick setting the docs gallery runs: fewer images and epochs
if QUICK:
    N_EVAL = 500
SHOW = "abcdefghmnosw{~"           # glyphs drawn in the example rows

print(f"quick setting (NNLITE_QUICK=1): {N_EVAL} noisy glyphs per level instead of 4000" if QUICK
      else "full run (NNLITE_QUICK is not set)")
X, chars = load_font5x7()
idx = [chars.index(c) for c in SHOW]
rng = np.random.default_rng(SEED)
os.makedirs(OUT, exist_ok=True)
paths = []
for noise, (level, levels) in NOISES.items():
    t = time.perf_counter()
    dae = DenoisingAutoencoder(noise=noise, noise_level=level, random_state=SEED).fit(X)
    print(f"{noise}: trained at level {level} in {time.perf_counter() - t:.1f} s "
          f"(latent_dim={dae.latent_dim}, {dae.n_passes_} passes at reconstruction)")
    corrupt = get_noise(noise)
    rows, labels = [X[idx]], ["clean"]
    for lv in levels[1:]:
        noisy = corrupt(X[idx], lv, rng)
        rows += [noisy, dae.reconstruct(noisy)]
        labels += [f"noisy {lv}", "denoised"]
    paths.append(plots.save(plots.image_rows(rows, labels, image_shape=(7, 5), col_titles=list(SHOW),
                                             title=f"{noise} noise: DAE trained at level {level}"),
                            os.path.join(OUT, f"denoise_{noise}_examples.png")))
    stats = [recovery_stats(dae.reconstruct, X, noise, lv, n_samples=N_EVAL, random_state=i)
             for i, lv in enumerate(levels)]
    for lv, s in zip(levels, stats):
        print(f"  level {lv:.2f}: DAE {100 * s['rate']:5.1f}% exact glyphs ({s['wrong']:.2f} wrong px), "
              f"nearest-glyph bound {100 * s['bound_rate']:5.1f}% ({s['bound_wrong']:.2f} wrong px)")
    paths.append(plots.save(
        plots.rate_vs_level(levels, {f"DAE trained at {level}": [s["rate"] for s in stats],
                                     "nearest-glyph decoder (bound)": [s["bound_rate"] for s in stats]},
                            xlabel=("sigma" if noise == "gaussian" else "corruption probability p"),
                            ylabel="glyphs recovered exactly",
                            title=f"{noise} noise on the 5x7 font ({N_EVAL} samples per level)"),
        os.path.join(OUT, f"denoise_{noise}_recovery.png")))
print("figures:", *paths, sep="\n  ")
