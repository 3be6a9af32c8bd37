"""
Denoise whole photos with a patch-trained ResidualDenoiser
==========================================================

Denoise whole colour photos with the flagship ResidualDenoiser trained on 32x32 patches of other photos.
Run it with::

    NNLITE_DATA=../shared/data python examples/denoise_photo.py                      # a few minutes
    NNLITE_DATA=../shared/data python examples/denoise_photo.py --noise salt_and_pepper --level 0.1
    NNLITE_DATA=../shared/data python examples/denoise_photo.py --image my_photo.jpg   # your own photo

The network is fully convolutional, so a model trained on small patches denoises images of any size:
big photos go through it in overlapping 256x256 tiles (each with 32 pixels of context, more than the
network sees), which gives the whole-image result with bounded memory.

Training photos: astronaut, coffee, hubble_deep_field, ihc (32x32 patches, stride 16, flat patches
left out). Test photos, never seen in training: chelsea (the cat) and retina. Writes, in out/::

    photo_<name>_<noise>.png    clean | noisy | denoised, PSNR in the titles
    photo_<name>_<noise>_crop.png  a 128x128 detail of the same three, pixel for pixel
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from nnlite import plots
from nnlite.images import read_image
from nnlite.metrics import psnr, ssim
from nnlite.models.conv import ResidualDenoiser

OUT = "out"
SEED = 0
TRAIN = ["astronaut.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png"]
TEST = ["chelsea.png", "retina.jpg"]
QUICK = os.environ.get("NNLITE_QUICK") == "1"   # the quick setting the docs gallery runs: fewer images and epochs


def photos_dir():
    root = os.environ.get("NNLITE_DATA")
    if not root or not (Path(root) / "photos").is_dir():
        sys.exit(f"photos/ not found: set NNLITE_DATA to the data folder (NNLITE_DATA={root!r})")
    return Path(root) / "photos"


def patches(paths, size=32, stride=16, min_std=0.02):
    """32x32 RGB patches of the photos, without flat ones (black borders, empty sky)."""
    out = []
    for p in paths:
        img = read_image(p, mode="RGB")                                  # (H, W, 3) float32 in [0, 1]
        for i in range(0, img.shape[0] - size + 1, stride):
            for j in range(0, img.shape[1] - size + 1, stride):
                tile = img[i:i + size, j:j + size]
                if tile.std() >= min_std:
                    out.append(tile)
    return np.stack(out)


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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__ and __doc__.strip().splitlines()[0])
    ap.add_argument("--noise", choices=["gaussian", "salt_and_pepper"], default="gaussian")
    ap.add_argument("--level", type=float, default=0.2, help="sigma (gaussian) or fraction of pixels (s&p)")
    ap.add_argument("--epochs", type=int, default=1 if QUICK else 4)
    ap.add_argument("--image", action="append", help="photo(s) to denoise (default: chelsea and retina)")
    ap.add_argument("--max-patches", type=int, default=800 if QUICK else None,
                    help="train on this many patches (a quick look)")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args(argv)
    print(f"quick setting (NNLITE_QUICK=1): {args.max_patches} training patches, {args.epochs} epoch, "
          "the cat photo only" if QUICK
          else "full run (NNLITE_QUICK is not set)")

    folder = photos_dir()
    X = patches([folder / n for n in TRAIN])
    if args.max_patches:
        X = X[np.random.default_rng(SEED).permutation(len(X))[:args.max_patches]]
    print(f"{len(X)} training patches from {', '.join(TRAIN)}")
    model = ResidualDenoiser(noise=args.noise, noise_level=args.level, width=16, epochs=args.epochs,
                             random_state=SEED)
    t, c = time.perf_counter(), time.process_time()
    model.fit(X, verbose=1)
    print(f"trained {args.epochs} epochs in {time.perf_counter() - t:.0f} s ({time.process_time() - c:.0f} CPU s)")
    label = f"Gaussian sigma {args.level:g}" if args.noise == "gaussian" else f"salt-and-pepper {args.level:.0%}"
    for path in args.image or [folder / n for n in (TEST[:1] if QUICK else TEST)]:
        clean = read_image(path, mode="RGB")                              # any size
        noisy = model.add_noise(clean, random_state=1234)
        t = time.perf_counter()
        den = model.denoise(noisy)                                        # (H, W, 3), tiles if large
        secs = time.perf_counter() - t
        p0, p1 = psnr(clean[None], noisy[None]), psnr(clean[None], den[None])
        s0, s1 = ssim(clean[None], noisy[None], channel_axis=-1), ssim(clean[None], den[None], channel_axis=-1)
        name = Path(path).stem
        H, W = clean.shape[:2]
        print(f"{name} ({W}x{H}): noisy {p0:.2f} dB / SSIM {s0:.3f} -> denoised {p1:.2f} dB / SSIM {s1:.3f} "
              f"({secs:.1f} s)")
        panels = [(clean, "clean"), (noisy, f"noisy ({label}): {p0:.2f} dB"), (den, f"denoised: {p1:.2f} dB")]
        title = (f"{name}.{Path(path).suffix[1:]} ({W}x{H}), whole photo denoised in {secs:.1f} s by a "
                 f"ResidualDenoiser trained on 32x32 patches of other photos")
        out = os.path.join(args.out, f"photo_{name}_{args.noise}.png")
        print(f"wrote {show(panels, title, out)}")
        s = min(128, H, W)
        crop = ((H - s) // 2, (W - s) // 2, s)
        out = os.path.join(args.out, f"photo_{name}_{args.noise}_crop.png")
        print(f"wrote {show(panels, f'{name}: the central {s}x{s} pixels of the images above', out, crop)}")


if __name__ == "__main__":
    main()
