"""
Denoise whole photos: the shipped photo denoiser, then one trained here
=======================================================================

First the photo denoiser that ships with nnlite, ``nnlite.pretrained("photo-denoiser")``: U-Net
ResidualDenoisers (grey and RGB) trained blind to the noise level (Gaussian sigma from 0 to 0.25) for
1500 steps on many photographs, about an hour of training. Then a ResidualDenoiser trained here, in
this script, on 32x32 patches of four photos: the same kind of network, a much smaller run. Both
denoise photos they never saw. Run it with::

    NNLITE_DATA=../shared/data python examples/denoise_photo.py                      # a few minutes
    NNLITE_DATA=../shared/data python examples/denoise_photo.py --noise salt_and_pepper --level 0.1
    python examples/denoise_photo.py --image my_photo.jpg                           # your own photo

``--image`` alone runs the shipped model on your photo and skips the training (which needs the
training photos of ``NNLITE_DATA``). The networks are fully convolutional: trained on small patches,
they denoise images of any size, big ones in overlapping 256x256 tiles with bounded memory.

Writes, in out/::

    photo_<name>_pretrained.png       clean | noisy | denoised by the shipped model, PSNR in the titles
    photo_<name>_pretrained_crop.png  a 128x128 detail of the same three, pixel for pixel
    photo_<name>_<noise>.png          the same with the model trained here (and its _crop.png)
"""
import argparse
import os
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import nnlite
from nnlite import plots
from nnlite.images import read_image
from nnlite.metrics import psnr
from nnlite.models.conv import ResidualDenoiser
from nnlite.noise import gaussian

# -------------------------------------------------------------------------- settings
OUT = "out"
SEED = 0
TRAIN = ["astronaut.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png"]   # the model trained here sees these
TEST = ["chelsea.png", "retina.jpg"]       # held out by both models
PRETRAINED_SIGMA = 0.2                     # Gaussian noise for the shipped model (it covers sigma 0 to 0.25)
QUICK = os.environ.get("NNLITE_QUICK") == "1"   # the quick setting the docs gallery runs: 800 patches, 1 epoch

# The script takes real options: which photos, which noise, how long to train here.
ap = argparse.ArgumentParser(description="Denoise photos with the shipped photo denoiser and one trained here.")
ap.add_argument("--image", action="append", help="photo(s) to denoise (default: chelsea and retina)")
ap.add_argument("--noise", choices=["gaussian", "salt_and_pepper"], default="gaussian",
                help="the noise the model trained here learns to remove")
ap.add_argument("--level", type=float, default=0.2, help="sigma (gaussian) or fraction of pixels (s&p)")
ap.add_argument("--epochs", type=int, default=1 if QUICK else 4, help="epochs of the model trained here")
ap.add_argument("--max-patches", type=int, default=800 if QUICK else None,
                help="train here on this many patches (default: all, about 4,500)")
ap.add_argument("--out", default=OUT)
args = ap.parse_args()
print(f"quick setting (NNLITE_QUICK=1): the model trained here sees {args.max_patches} patches for {args.epochs} "
      "epoch; the cat photo only" if QUICK else "full run (NNLITE_QUICK is not set)")

data = os.environ.get("NNLITE_DATA")
folder = Path(data) / "photos" if data else None
if args.image is None and (folder is None or not folder.is_dir()):
    raise SystemExit(f"photos/ not found: set NNLITE_DATA to the data folder (NNLITE_DATA={data!r}), or pass "
                     "--image your_photo.jpg")
photos = args.image or [folder / n for n in (TEST[:1] if QUICK else TEST)]


def show(panels, title, path, crop=None):
    """Side-by-side images (clean, noisy, denoised), titles above each."""
    H, W = panels[0][0].shape[:2]
    if crop is not None:
        i, j, s = crop
        panels = [(img[i:i + s, j:j + s], t) for img, t in panels]
        H = W = s
    fig = Figure(figsize=(3 * 4.3, 4.3 * H / W + 0.9))
    for ax, (img, t) in zip(fig.subplots(1, len(panels)), panels):
        ax.imshow(np.clip(img, 0, 1), interpolation="nearest")
        ax.set_title(t, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return plots.save(fig, str(path))


def denoise_and_show(denoise, clean, noisy, path, label, who, tag):
    """Denoise, print and draw (whole photo and its central 128x128 crop); returns the two PSNRs."""
    t = time.perf_counter()
    den = denoise(noisy)                                          # (H, W, 3), in tiles if large
    secs = time.perf_counter() - t
    p0, p1 = psnr(clean[None], noisy[None]), psnr(clean[None], den[None])
    name, (H, W) = Path(path).stem, clean.shape[:2]
    print(f"{name} ({W}x{H}), {who}: noisy {p0:.2f} dB -> denoised {p1:.2f} dB ({secs:.1f} s)")
    panels = [(clean, "clean"), (noisy, f"noisy ({label}): {p0:.2f} dB"), (den, f"denoised: {p1:.2f} dB")]
    out = os.path.join(args.out, f"photo_{name}_{tag}.png")
    print(f"wrote {show(panels, f'{name} ({W}x{H}), denoised by {who} in {secs:.1f} s', out)}")
    s = min(128, H, W)
    crop = ((H - s) // 2, (W - s) // 2, s)                        # top, left, size
    out = os.path.join(args.out, f"photo_{name}_{tag}_crop.png")
    print(f"wrote {show(panels, f'{name}: the central {s}x{s} pixels of the images above', out, crop)}")
    return p0, p1


# -------------------------------------------------------------------------- 1. the shipped photo denoiser
shipped = nnlite.pretrained("photo-denoiser")                    # grey and RGB U-Nets, weights in the wheel
gains = {}
for path in photos:
    clean = read_image(path, mode="RGB")                          # (H, W, 3) float32 in [0, 1], any size
    noisy = gaussian(clean, PRETRAINED_SIGMA, np.random.default_rng(1234))
    p0, p1 = denoise_and_show(shipped.denoise, clean, noisy, path, f"Gaussian sigma {PRETRAINED_SIGMA:g}",
                              "the shipped photo denoiser", "pretrained")
    gains[Path(path).stem] = [p1 - p0]

# -------------------------------------------------------------------------- 2. a ResidualDenoiser trained here
if folder is None or not folder.is_dir():
    print("NNLITE_DATA is not set: the training photos are not here, so nothing is trained here")
    raise SystemExit(0)


def patches(paths, size=32, stride=16, min_std=0.02):
    """32x32 RGB patches of the photos, without flat ones (black borders, empty sky)."""
    out = []
    for p in paths:
        img = read_image(p, mode="RGB")                           # (H, W, 3) float32 in [0, 1]
        for i in range(0, img.shape[0] - size + 1, stride):
            for j in range(0, img.shape[1] - size + 1, stride):
                tile = img[i:i + size, j:j + size]
                if tile.std() >= min_std:
                    out.append(tile)
    return np.stack(out)                                          # (N, 32, 32, 3)


X = patches([folder / n for n in TRAIN])
if args.max_patches:
    X = X[np.random.default_rng(SEED).permutation(len(X))[:args.max_patches]]
print(f"training here: {len(X)} patches of 32x32 from {', '.join(TRAIN)}, {args.epochs} epoch(s), width 16 "
      f"(the shipped model: width 32, 1500 steps of 32 patches of 48x48 from many photos)")
model = ResidualDenoiser(noise=args.noise, noise_level=args.level, width=16, epochs=args.epochs, random_state=SEED)
t, c = time.perf_counter(), time.process_time()
model.fit(X, verbose=1)
print(f"trained {args.epochs} epoch(s) in {time.perf_counter() - t:.0f} s ({time.process_time() - c:.0f} CPU s)")
label = f"Gaussian sigma {args.level:g}" if args.noise == "gaussian" else f"salt-and-pepper {args.level:.0%}"
for path in photos:
    clean = read_image(path, mode="RGB")
    noisy = model.add_noise(clean, random_state=1234)
    p0, p1 = denoise_and_show(model.denoise, clean, noisy, path, label, "the ResidualDenoiser trained here",
                              args.noise)
    gains[Path(path).stem].append(p1 - p0)

for name, g in gains.items():
    print(f"{name}: the shipped model gains {g[0]:+.2f} dB; the one trained here {g[1]:+.2f} dB"
          + (" (its quick run is far too short to learn much: run without NNLITE_QUICK for the full one)"
             if QUICK else ""))
