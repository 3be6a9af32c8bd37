"""Photos in, clean photos out: nnlite's pretrained photo denoiser against non-local means and BM3D.

    python -m benchmarks.photos                        # every held-out photo, sigma 0.1 and 0.2; the table
    python -m benchmarks.photos --classical-only       # only fill the cache of the classical methods
    python -m benchmarks.photos --quick --out /tmp/p   # one small crop, one sigma: a smoke run in seconds

Needs NNLITE_DATA (``photos/`` and ``photos-nature/``) for the photos; the comparison methods come
from the optional ``[compare]`` extra (``pip install 'nnlite[compare]'``: ``bm3d`` and
``scikit-image``); without them the table has nnlite's columns only and says why.

Protocol
--------
* Photos: the held-out split of :mod:`benchmarks.photo_data` (never seen in training), each as RGB and
  as its grey version, shrunk as that module says; plus scikit-image's own test photos rocket (RGB),
  brick, grass and gravel (grey) when scikit-image is installed and has them on disk (marked
  *skimage* in the table; none of them is in the training set either).
* Noise: Gaussian, ``sigma`` 0.1 and 0.2 (25.5/255 and 51/255), added once per photo, kind and sigma
  with a seed derived from ``--seed``, the photo's name and kind and sigma, then clipped to [0, 1]
  (every method sees exactly the same noisy image).
* Methods, each on the whole noisy image, outputs clipped to [0, 1]:

  - **NLM**: ``skimage.restoration.denoise_nl_means(z, h=0.8 * sigma, sigma=sigma, fast_mode=True)``
    (``channel_axis=-1`` for colour; scikit-image's default patch size 7 and search distance 11);
  - **BM3D** (Dabov et al. 2007): ``bm3d.bm3d(z, sigma_psd=sigma)`` for grey and
    ``bm3d.bm3d_rgb(z, sigma_psd=sigma)`` for colour;
  - **nnlite**: ``nnlite.pretrained("photo-denoiser").denoise(z)``, one blind model per kind for every
    sigma (the same weights for 0.1 and 0.2).

* Scores: PSNR (:func:`nnlite.metrics.psnr`, peak 1) against the clean photo; seconds of wall time per
  megapixel of each method (one run each; the numbers of a shared 2-core machine: the load average is
  recorded).

The classical results do not depend on nnlite's weights, so they are cached (``--cache``, keyed by
photo, kind, sigma, seed and method, with the image size and the library's version checked on reuse);
a run after new weights only computes nnlite's column. Writes ``photos.md``, ``photos.json`` and the
figure ``photos_crops.png`` (the same crop: clean / noisy / NLM / BM3D / nnlite, PSNR of the crop in
the titles) to ``--out`` (default ``benchmarks/results/``); ``--quick`` writes ``photos_quick.*``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np

from benchmarks import photo_data
from benchmarks._markdown import table

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_CACHE = RESULTS / "photos_classical.json"
SIGMAS = (0.1, 0.2)
SEED = 0
#: NLM's filter strength as a multiple of sigma.
NLM_H = 0.8
#: scikit-image's test photos used when present on disk: file name -> kind.
SKIMAGE_PHOTOS = {"rocket.jpg": "rgb", "brick.png": "grey", "grass.png": "grey", "gravel.png": "grey"}
#: Rows of the crops figure: (photo, kind, sigma), and the crop's side in pixels.
FIGURE_ROWS = (("chelsea.png", "rgb", 0.2), ("Dune.jpg", "rgb", 0.1), ("RainDrops.jpg", "grey", 0.2))
CROP = 192
#: Where the crop sits in the photo, as fractions of the free height and width.
CROP_AT = {"chelsea.png": (0.35, 0.45), "Dune.jpg": (0.5, 0.5), "RainDrops.jpg": (0.5, 0.5)}
QUICK_SIDE = 64
CLASSICAL = ("nlm", "bm3d")
LABELS = {"nlm": "NLM", "bm3d": "BM3D", "nnlite": "nnlite"}


# ----------------------------------------------------------------------------------------------- photos
def _skimage_dir() -> Path | None:
    try:
        import skimage.data
    except ImportError:
        return None
    return Path(skimage.data.__file__).parent


def photo_list(quick: bool = False) -> tuple[list[dict], list[str]]:
    """The photos to measure, ``[{"photo", "kind", "source", "image"}]``, and notes on what is missing."""
    from nnlite.images import read_image

    notes, photos = [], []
    root = photo_data.data_root()
    if quick:
        if root is None:
            notes.append("NNLITE_DATA not set: the quick run uses a synthetic image")
            image = synthetic_photo(QUICK_SIDE)
            return [{"photo": "synthetic", "kind": "rgb", "source": "synthetic", "image": image}], notes
        name, folder = next(iter(photo_data.HELD_OUT.items()))
        image = photo_data.load_photo(name, folder, root=root)
        y, x = (image.shape[0] - QUICK_SIDE) // 2, (image.shape[1] - QUICK_SIDE) // 2
        crop = np.ascontiguousarray(image[y:y + QUICK_SIDE, x:x + QUICK_SIDE])
        return [{"photo": f"{name} crop", "kind": "rgb", "source": "held out", "image": crop}], notes
    if root is None:
        photo_data.require_root()
    for name, folder in photo_data.HELD_OUT.items():
        for kind in ("rgb", "grey"):
            with warnings.catch_warnings():           # "colour image: converted to grey" is the point here
                warnings.simplefilter("ignore", UserWarning)
                image = photo_data.load_photo(name, folder, grey=kind == "grey", root=root)
            photos.append({"photo": name, "kind": kind, "source": "held out", "image": image})
    sk = _skimage_dir()
    if sk is None:
        notes.append("scikit-image is not installed: its test photos (rocket, brick, grass, gravel) are left out")
    else:
        for name, kind in SKIMAGE_PHOTOS.items():
            if not (sk / name).is_file():
                notes.append(f"scikit-image has no {name} on disk: left out")
                continue
            image = photo_data.shrink(read_image(sk / name, mode="RGB" if kind == "rgb" else "L"))
            photos.append({"photo": name, "kind": kind, "source": "skimage", "image": image})
    return photos, notes


def synthetic_photo(side: int, seed: int = 0) -> np.ndarray:
    """An ``(side, side, 3)`` float32 picture in [0.1, 0.9]: smooth gradients, a disc and bars with sharp
    edges, and a patch of fine stripes."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    img = np.stack([0.3 + 0.4 * xx, 0.3 + 0.4 * yy, 0.6 - 0.3 * xx * yy], axis=-1)
    disc = (yy - 0.35) ** 2 + (xx - 0.35) ** 2 < 0.04
    img[disc] = (0.85, 0.2, 0.2)
    bars = (yy > 0.6) & (yy < 0.9) & ((xx * 8).astype(int) % 2 == 0)
    img[bars] = (0.15, 0.15, 0.7)
    stripes = (yy < 0.3) & (xx > 0.65)
    img[stripes] = (0.5 + 0.3 * np.sin(xx[stripes] * side * 1.2))[:, None]
    return np.clip(img, 0.1, 0.9).astype(np.float32)


def noisy_version(clean: np.ndarray, photo: str, kind: str, sigma: float, seed: int) -> np.ndarray:
    """``clip(clean + sigma * N(0, 1), 0, 1)`` with a generator seeded by (seed, photo, kind, sigma)."""
    rng = np.random.default_rng([seed, zlib.crc32(f"{photo}|{kind}".encode()), int(round(sigma * 1000))])
    noise = rng.standard_normal(clean.shape) * sigma                              # float64
    return np.clip(clean + noise, 0, 1).astype(np.float32)


# ----------------------------------------------------------------------------------------------- methods
def available_classical() -> tuple[dict, list[str]]:
    """``{method: version}`` of the classical methods that can run, and why the others cannot."""
    have, why = {}, []
    try:
        import skimage
        from skimage.restoration import denoise_nl_means  # noqa: F401

        have["nlm"] = f"scikit-image {skimage.__version__}"
    except ImportError:
        why.append("non-local means needs scikit-image (pip install 'nnlite[compare]')")
    try:
        from importlib.metadata import version

        import bm3d  # noqa: F401

        have["bm3d"] = f"bm3d {version('bm3d')}"
    except ImportError:
        why.append("BM3D needs the bm3d package (pip install 'nnlite[compare]')")
    return have, why


def run_classical(method: str, noisy: np.ndarray, sigma: float) -> np.ndarray:
    """The method's estimate of the clean image, float32 clipped to [0, 1]."""
    z = noisy.astype(np.float64)
    colour = z.ndim == 3
    if method == "nlm":
        from skimage.restoration import denoise_nl_means

        out = denoise_nl_means(z, h=NLM_H * sigma, sigma=sigma, fast_mode=True,
                               channel_axis=-1 if colour else None)
    elif method == "bm3d":
        import bm3d

        out = bm3d.bm3d_rgb(z, sigma_psd=sigma) if colour else bm3d.bm3d(z, sigma_psd=sigma)
    else:
        raise ValueError(f"method must be one of {CLASSICAL}, got {method!r}")
    return np.clip(np.asarray(out), 0, 1).astype(np.float32)


def _psnr(clean, estimate) -> float:
    from nnlite.metrics import psnr

    return float(psnr(clean[None], estimate[None]))


def _crop_box(photo: str, kind: str, sigma: float, shape, rows=FIGURE_ROWS) -> list[int] | None:
    """``[y, x, side]`` of the figure's crop when (photo, kind, sigma) is one of ``rows``, else ``None``."""
    if (photo, kind, sigma) not in rows:
        return None
    side = min(CROP, shape[0], shape[1])
    fy, fx = CROP_AT.get(photo, (0.5, 0.5))
    return [int((shape[0] - side) * fy), int((shape[1] - side) * fx), side]


def _crop(image, box):
    y, x, s = box
    return image[y:y + s, x:x + s]


# ----------------------------------------------------------------------------------------------- the cache
class Cache:
    """Classical results on disk: ``{key: entry}`` in a JSON file, the figure crops in ``<name>.crops.npz``.

    The key is ``photo|kind|sigma|seed|method``; an entry holds ``psnr``, ``seconds``, ``shape``,
    ``version`` (of the library) and, for a figure row, ``crop_box`` and ``crop_psnr``; an entry whose
    shape, version or crop box differs from this run's is recomputed.
    """

    def __init__(self, path: Path | None):
        self.path = path
        self.entries, self.crops = {}, {}
        if path is not None and path.is_file():
            self.entries = json.loads(path.read_text()).get("entries", {})
            crops = self._crops_path()
            if crops.is_file():
                with np.load(crops) as z:
                    self.crops = {k: z[k] for k in z.files}

    def _crops_path(self) -> Path:
        return self.path.with_name(self.path.stem + ".crops.npz")

    @staticmethod
    def key(photo, kind, sigma, seed, method) -> str:
        return f"{photo}|{kind}|{sigma:g}|{seed}|{method}"

    def get(self, key, shape, version, box):
        e = self.entries.get(key)
        if e is None or e.get("shape") != list(shape) or e.get("version") != version:
            return None
        if box is not None and (e.get("crop_box") != box or key not in self.crops):
            return None
        return e

    def put(self, key, entry, crop=None):
        self.entries[key] = entry
        if crop is not None:
            self.crops[key] = np.round(np.asarray(crop) * 255).astype(np.uint8)
        self.save()

    def save(self):
        if self.path is None:
            return
        from nnlite.atomic import atomic_write, atomic_write_text

        doc = {"about": "classical denoisers' results for python -m benchmarks.photos (see its docstring)",
               "entries": dict(sorted(self.entries.items()))}
        atomic_write_text(self.path, json.dumps(doc, indent=1) + "\n")
        if self.crops:
            atomic_write(self._crops_path(), lambda f: np.savez_compressed(f, **self.crops))


# ----------------------------------------------------------------------------------------------- the run
def _machine() -> dict:
    import numba

    import nnlite

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average": list(os.getloadavg()),
            "python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "nnlite": nnlite.__version__}


def _load_denoiser(weights: str | None):
    import nnlite

    return nnlite.pretrained("photo-denoiser", **({} if weights is None else {"folder": weights}))


def measure(photos, sigmas, seed, cache: Cache, methods: dict, denoiser=None, figure_rows=FIGURE_ROWS,
            log=print) -> tuple[list, dict]:
    """One row per photo and sigma, and the figure's crops ``{(photo, kind, sigma): {panel: image}}``
    (with ``"psnr": {panel: dB}``, the crop's PSNR before the cache rounds it to 8 bits)."""
    rows, crops = [], {}
    if denoiser is not None:                                   # compile / warm up outside the timings
        denoiser.denoise(synthetic_photo(32))
        denoiser.denoise(synthetic_photo(32).mean(axis=2))
    for p in photos:
        clean = p["image"]
        mpx = clean.shape[0] * clean.shape[1] / 1e6
        for sigma in sigmas:
            noisy = noisy_version(clean, p["photo"], p["kind"], sigma, seed)
            box = _crop_box(p["photo"], p["kind"], sigma, clean.shape, figure_rows)
            row = {"photo": p["photo"], "kind": p["kind"], "source": p["source"],
                   "size": f"{clean.shape[1]}x{clean.shape[0]}", "megapixels": mpx, "sigma": sigma,
                   "noisy": _psnr(clean, noisy)}
            fig = {"clean": _crop(clean, box), "noisy": _crop(noisy, box)} if box else None
            if fig is not None:
                row["crop_psnr"] = {"noisy": _psnr(fig["clean"], fig["noisy"])}
            for method, version in methods.items():
                key = Cache.key(p["photo"], p["kind"], sigma, seed, method)
                e = cache.get(key, clean.shape, version, box)
                if e is None:
                    log(f"  {p['photo']} ({p['kind']}, {row['size']}) sigma {sigma:g}: {LABELS[method]} ...")
                    t0, c0 = time.perf_counter(), time.process_time()
                    out = run_classical(method, noisy, sigma)
                    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
                    e = {"psnr": _psnr(clean, out), "seconds": secs, "cpu_seconds": cpu, "shape": list(clean.shape),
                         "version": version, "load_average": os.getloadavg()[0],
                         "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
                    crop = None
                    if box:
                        crop = _crop(out, box)
                        e.update(crop_box=box, crop_psnr=_psnr(fig["clean"], crop))
                    cache.put(key, e, crop)
                    log(f"    {e['psnr']:.2f} dB, {secs / mpx:.1f} s/MP")
                row[method] = e["psnr"]
                row[f"{method}_s_per_mp"] = e["seconds"] / mpx
                row[f"{method}_cpu_per_wall"] = e.get("cpu_seconds", float("nan")) / e["seconds"]
                if fig is not None:
                    fig[method] = cache.crops[key].astype(np.float32) / 255
                    row["crop_psnr"][method] = e["crop_psnr"]
            if denoiser is not None:
                t0, c0 = time.perf_counter(), time.process_time()
                out = np.asarray(denoiser.denoise(noisy), dtype=np.float32)
                secs, cpu = time.perf_counter() - t0, time.process_time() - c0
                row["nnlite"] = _psnr(clean, out)
                row["nnlite_s_per_mp"] = secs / mpx
                row["nnlite_cpu_per_wall"] = cpu / secs
                log(f"  {p['photo']} ({p['kind']}) sigma {sigma:g}: nnlite {row['nnlite']:.2f} dB, "
                    f"{secs / mpx:.1f} s/MP")
                if fig is not None:
                    fig["nnlite"] = _crop(out, box)
                    row["crop_psnr"]["nnlite"] = _psnr(fig["clean"], fig["nnlite"])
            if fig is not None:
                crops[(p["photo"], p["kind"], sigma)] = {**fig, "psnr": row["crop_psnr"]}
            rows.append(row)
    return rows, crops


def _fmt(v, digits=2):
    return "" if v is None else f"{v:.{digits}f}"


def _columns(methods, with_nnlite):
    return [m for m in CLASSICAL if m in methods] + (["nnlite"] if with_nnlite else [])


def means(rows, cols) -> list[dict]:
    """Mean PSNR per (photos, kind, sigma) of the noisy input and of every column, and nnlite's wins; the
    photos are the held-out split alone, then (when there are any) with scikit-image's test photos."""
    out = []
    sets = [("held out", ("held out",))]
    if any(r["source"] == "skimage" for r in rows):
        sets.append(("held out + skimage", ("held out", "skimage")))
    if not any(r["source"] == "held out" for r in rows):
        sets = [(r["source"], (r["source"],)) for r in rows[:1]]
    for label, sources in sets:
        for kind in ("rgb", "grey"):
            for sigma in sorted({r["sigma"] for r in rows}):
                sel = [r for r in rows if r["kind"] == kind and r["sigma"] == sigma and r["source"] in sources]
                if sel:
                    out.append(_mean_row(sel, cols, set=label, kind=kind, sigma=sigma))
    return out


def _mean_row(sel, cols, **labels) -> dict:
    m = {**labels, "photos": len(sel), "noisy": float(np.mean([r["noisy"] for r in sel]))}
    for c in cols:
        m[c] = float(np.mean([r[c] for r in sel]))
        m[f"{c}_s_per_mp"] = float(np.mean([r[f"{c}_s_per_mp"] for r in sel]))
        m[f"{c}_cpu_per_wall"] = float(np.nanmean([r[f"{c}_cpu_per_wall"] for r in sel]))
    if "nnlite" in cols:
        for c in CLASSICAL:
            if c in cols:
                m[f"nnlite_beats_{c}"] = int(sum(r["nnlite"] > r[c] for r in sel))
    return m


def markdown(result) -> str:
    cols, rows = result["columns"], result["rows"]
    env = result["machine"]
    lines = ["# Photo denoising: nnlite's pretrained photo denoiser against non-local means and BM3D", "",
             f"`{result['command']}` ({result['date']})", "",
             "PSNR in dB against the clean photo (higher is better); Gaussian noise of the given sigma, clipped "
             "to [0, 1], the same noisy image for every method; *s/MP*: seconds of wall time per megapixel. "
             "Held-out photos never seen in training (`benchmarks/photo_data.py`), as RGB and as grey; "
             "*skimage*: scikit-image's own test photos, also unseen. One nnlite model per kind for every "
             "sigma (blind to the noise level); NLM and BM3D are told sigma.", ""]
    for note in result["notes"]:
        lines.append(f"- {note}")
    if result["notes"]:
        lines.append("")
    has_bm3d = "bm3d" in cols and "nnlite" in cols
    head = ["photo", "kind", "size", "sigma", "noisy"] + [LABELS[c] for c in cols] + \
        (["nnlite - BM3D"] if has_bm3d else []) + [f"{LABELS[c]} s/MP" for c in cols]
    body = []
    for r in rows:
        name = r["photo"] + (" (skimage)" if r["source"] == "skimage" else "")
        body.append([name, r["kind"], r["size"], f"{r['sigma']:g}", _fmt(r["noisy"])]
                    + [_fmt(r[c]) for c in cols]
                    + ([f"{r['nnlite'] - r['bm3d']:+.2f}"] if has_bm3d else [])
                    + [_fmt(r[f"{c}_s_per_mp"], 1) for c in cols])
    lines += ["## Every photo", "", table(head, body), ""]
    mh = ["photos", "kind", "sigma", "n", "noisy"] + [LABELS[c] for c in cols] + (["nnlite - BM3D"] if has_bm3d else [])
    wins = [c for c in CLASSICAL if c in cols and "nnlite" in cols]
    mh += [f"nnlite > {LABELS[c]}" for c in wins] + [f"{LABELS[c]} s/MP" for c in cols]
    mb = [[m["set"], m["kind"], f"{m['sigma']:g}", m["photos"], _fmt(m["noisy"])] + [_fmt(m[c]) for c in cols]
          + ([f"**{m['nnlite'] - m['bm3d']:+.2f}**"] if has_bm3d else [])
          + [f"{m[f'nnlite_beats_{c}']}/{m['photos']}" for c in wins]
          + [_fmt(m[f"{c}_s_per_mp"], 1) for c in cols] for m in result["means"]]
    lines += ["## Means per kind and sigma", "", "*n*: photos in the mean; *nnlite > NLM*: on how many of them "
              "nnlite's PSNR is the higher.", "", table(mh, mb), ""]
    if cols and result["means"]:
        used = ", ".join(f"{LABELS[c]} {np.nanmean([m[f'{c}_cpu_per_wall'] for m in result['means']]):.1f}"
                         for c in cols)
        lines += [f"Cores each method kept busy (CPU time / wall time, mean): {used}.", ""]
    methods = ", ".join(result["versions"].values()) or "none"
    lines += [f"Machine: {env['cpu']}, {env['cores']} cores (shared), load average "
              f"{env['load_average'][0]:.1f} at the start of this run; Python {env['python']}, NumPy {env['numpy']}, "
              f"Numba {env['numba']}, nnlite {env['nnlite']}; comparison methods: {methods}. The classical "
              f"columns come from `{result['cache']}` (measured once, load average "
              f"{result['classical_load']} during those runs)." if result.get("cache") else
              f"Machine: {env['cpu']}, {env['cores']} cores (shared), load average {env['load_average'][0]:.1f}; "
              f"comparison methods: {methods}.", ""]
    if result.get("model"):
        lines += [f"nnlite's model: {result['model']}", ""]
    if result.get("figure"):
        lines += [f"Crops: `{result['figure']}`.", ""]
    return "\n".join(lines)


def figure(crops, path: Path, cols) -> Path | None:
    """Rows of clean / noisy / NLM / BM3D / nnlite crops, the crop's PSNR in each title."""
    if not crops:
        return None
    from matplotlib.figure import Figure

    panels = ["clean", "noisy"] + list(cols)
    n = len(crops)
    fig = Figure(figsize=(2.6 * len(panels), 2.75 * n + 0.5), layout="constrained")
    axes = np.asarray(fig.subplots(n, len(panels), squeeze=False))
    for i, ((photo, kind, sigma), imgs) in enumerate(crops.items()):
        clean = imgs["clean"]
        for j, panel in enumerate(panels):
            ax = axes[i, j]
            im = imgs.get(panel)
            ax.set_xticks([])
            ax.set_yticks([])
            if im is None:
                ax.set_axis_off()
                continue
            ax.imshow(np.clip(im, 0, 1), cmap="gray" if im.ndim == 2 else None, vmin=0, vmax=1,
                      interpolation="nearest")
            title = LABELS.get(panel, panel) if panel != "clean" else f"clean: {photo}"
            if panel != "clean":
                title += f"\n{imgs['psnr'][panel]:.2f} dB"
            else:
                title += f"\n{kind}, sigma {sigma:g}"
            ax.set_title(title, fontsize=9)
    fig.suptitle(f"The same {clean.shape[1]}x{clean.shape[0]}-pixel crop of each photo, enlarged; PSNR of the crop "
                 "(higher is better)", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help=f"one {QUICK_SIDE}x{QUICK_SIDE} crop (synthetic without NNLITE_DATA), sigma 0.1, no cache")
    ap.add_argument("--classical-only", action="store_true",
                    help="run only NLM and BM3D (fills the cache); no nnlite column")
    ap.add_argument("--cache", default=None, metavar="JSON",
                    help=f"classical results cache (default {DEFAULT_CACHE.relative_to(RESULTS.parents[1])}; "
                         "none with --quick)")
    ap.add_argument("--no-cache", action="store_true", help="recompute the classical methods, store nothing")
    ap.add_argument("--sigma", type=float, action="append", default=None,
                    help="noise level (repeatable; default 0.1 and 0.2, 0.1 with --quick)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--methods", default=",".join(CLASSICAL),
                    help="classical methods to run, comma-separated subset of nlm,bm3d (default both)")
    ap.add_argument("--weights", default=None, metavar="DIR",
                    help="folder with MANIFEST.json and the photo-denoiser weights (default the package's own)")
    ap.add_argument("--out", default=str(RESULTS), metavar="DIR", help="output folder (default benchmarks/results)")
    args = ap.parse_args(argv)

    sigmas = tuple(args.sigma) if args.sigma else ((0.1,) if args.quick else SIGMAS)
    if args.no_cache:
        cache_path = None
    else:
        cache_path = Path(args.cache) if args.cache else (None if args.quick else DEFAULT_CACHE)
    cache = Cache(cache_path)
    wanted = [m for m in args.methods.split(",") if m]
    bad = sorted(set(wanted) - set(CLASSICAL))
    if bad:
        ap.error(f"unknown --methods {bad}; valid: {', '.join(CLASSICAL)}")
    have, why = available_classical()
    methods = {m: have[m] for m in CLASSICAL if m in wanted and m in have}
    photos, notes = photo_list(args.quick)
    notes = why + notes
    denoiser = None if args.classical_only else _load_denoiser(args.weights)
    if args.classical_only:
        notes.append("--classical-only: nnlite's column is not measured in this run")
    command = "python -m benchmarks.photos" + ("" if argv is None and len(sys.argv) <= 1 else
                                               " " + " ".join(sys.argv[1:] if argv is None else argv))
    machine = _machine()
    print(f"{len(photos)} photos x sigma {', '.join(f'{s:g}' for s in sigmas)}; classical: "
          f"{', '.join(methods) or 'none'}; cache: {cache_path}; load average {machine['load_average'][0]:.1f}",
          flush=True)
    figure_rows = ((photos[0]["photo"], photos[0]["kind"], sigmas[0]),) if args.quick else FIGURE_ROWS
    rows, crops = measure(photos, sigmas, args.seed, cache, methods, denoiser, figure_rows,
                          log=lambda *a: print(*a, flush=True))
    cols = _columns(methods, denoiser is not None)
    out = Path(args.out)
    stem = "photos_quick" if args.quick else "photos"
    fig_path = figure(crops, out / f"{stem}_crops.png", cols)
    loads = [e.get("load_average") for e in cache.entries.values() if e.get("load_average") is not None]
    result = {"command": command, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": machine, "seed": args.seed, "sigmas": list(sigmas), "nlm_h": f"{NLM_H} * sigma",
              "versions": methods, "notes": notes, "columns": cols, "rows": rows, "means": means(rows, cols),
              "cache": None if cache_path is None else str(cache_path.resolve().relative_to(RESULTS.parents[1]))
              if cache_path.resolve().is_relative_to(RESULTS.parents[1]) else str(cache_path),
              "classical_load": f"{min(loads):.1f}-{max(loads):.1f}" if loads else "n/a",
              "model": None if denoiser is None else denoiser.describe(),
              "figure": None if fig_path is None else fig_path.name}
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    text = markdown(result)
    (out / f"{stem}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
