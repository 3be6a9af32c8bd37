"""Denoising quality of the conv models: noisy input vs MLP DAE vs conv DAE vs the flagship (mean PSNR).

    python -m benchmarks.conv_models                      # every part, then the table
    python -m benchmarks.conv_models --part grey-gaussian # one part (parts: grey-gaussian, grey-sp, colour, cifar)
    python -m benchmarks.conv_models --table              # only re-assemble the table from saved parts

Needs NNLITE_DATA (Fashion-MNIST, photos/). Each part saves its numbers to
``benchmarks/results/conv_models_<part>.json`` and its figures to ``benchmarks/results/figures/``; the
table is printed and written to ``benchmarks/results/conv_models.md``.

Protocol (grey). Fashion-MNIST: train on the 60,000 training images, evaluate on the 10,000 test images,
each corrupted once with a fixed seed: Gaussian sigma 0.5 (clipped to [0, 1]) or salt-and-pepper 20% (half
0, half 1). Training draws fresh noise for every batch. Mean PSNR over the test images.

* PyTorch conv DAE (reference, if torch is installed): ``Conv(1,32,3,s2,p1)-ReLU-Conv(32,64,3,s2,p1)-ReLU-
  ConvT(64,32,3,s2,p1,op1)-ReLU-ConvT(32,1,3,s2,p1,op1)-Sigmoid``, MSE, Adam 1e-3, batch 128, 5 epochs,
  PyTorch's default init.
* nnlite conv DAE: :class:`ConvDenoisingAutoencoder`, the same network and protocol (constant lr).
* nnlite MLP DAE: :class:`DenoisingAutoencoder` 784-512-128-32 (mirrored decoder, sigmoid output), MSE,
  Adam 1e-3, batch 128, 5 epochs, one pass at reconstruction.
* flagship: :class:`ResidualDenoiser` (residual U-Net predicting the noise), settings in ``FLAGSHIP``.

Protocol (colour). No CIFAR-10 on this machine: 32x32 RGB patches of the RGB photos in photos/; train on
astronaut, coffee, hubble_deep_field, ihc (stride-16 patches), test on chelsea and retina (stride-32
patches, never seen); flat patches (pixel std < 0.02, e.g. retina's black surround) are left out.
Gaussian sigma 0.1/0.2/0.3 and salt-and-pepper 10%, one model per noise and level.
With CIFAR-10 present (``load_cifar10`` works) the ``cifar`` part runs the same table on its test set.

Training cost is reported as wall seconds and CPU seconds (``time.process_time``, all threads of the
process) of ``fit``: the machine is shared, so wall time overstates what a 2-core machine needs.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from nnlite import plots
from nnlite.metrics import psnr
from nnlite.models import DenoisingAutoencoder
from nnlite.models.conv import ConvDenoisingAutoencoder, ResidualDenoiser
from nnlite.noise import get_noise

RESULTS = Path(__file__).resolve().parent / "results"
FIGURES = RESULTS / "figures"
SEED = 0
TEST_NOISE_SEED = 1234

GREY_NOISES = {"grey-gaussian": ("gaussian", 0.5), "grey-sp": ("salt_and_pepper", 0.2)}
COLOUR_NOISES = [("gaussian", 0.1), ("gaussian", 0.2), ("gaussian", 0.3), ("salt_and_pepper", 0.1)]
COLOUR_TRAIN = ["astronaut.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png"]
COLOUR_TEST = ["chelsea.png", "retina.jpg"]

REFERENCE = {"grey-gaussian": 17.8, "grey-sp": 21.4}      # PyTorch conv DAE, 5 epochs, this machine
DAE = dict(channels=(32, 64), loss="mse", lr=1e-3, batch_size=128, lr_schedule="constant")
FLAGSHIP = dict(architecture="unet", width=16, depth=3, lr=2e-3, batch_size=64, lr_schedule="cosine")
# the flagship's epochs fill a budget of 15 minutes on 2 idle cores: 3 grey epochs took 759 s
# wall (1463 s CPU); 12 colour epochs take 740-780 s CPU
GREY_EPOCHS = {"dae": 5, "flagship": 3}
COLOUR_EPOCHS = {"dae": 8, "flagship": 12}


def _label(noise, level):
    return f"Gaussian sigma {level:g}" if noise == "gaussian" else f"salt-and-pepper {100 * level:g}%"


def _timed_fit(model, X):
    t, c = time.perf_counter(), time.process_time()
    model.fit(X)
    return model, time.perf_counter() - t, time.process_time() - c


def _entry(name, psnr_db, wall=None, cpu=None, **extra):
    return dict(model=name, psnr=float(psnr_db), wall_s=wall, cpu_s=cpu, **extra)


# ---------------------------------------------------------------------------------------- PyTorch reference
def torch_conv_dae(Xtr, Xn_te, noise, level, epochs=5, seed=SEED):
    """The reference conv DAE in PyTorch (default init, Adam 1e-3, batch 128); returns (denoised, wall, cpu)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(1, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
                        nn.ConvTranspose2d(64, 32, 3, 2, 1, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 3, 2, 1, 1),
                        nn.Sigmoid())
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    corrupt = get_noise(noise)
    rng = np.random.default_rng(seed)
    X = Xtr[:, None]
    t, c = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        perm = rng.permutation(len(X))
        for s in range(0, len(X), 128):
            xb = X[perm[s:s + 128]]
            nb = corrupt(xb, level, rng)
            opt.zero_grad()
            loss = nn.functional.mse_loss(net(torch.from_numpy(nb)), torch.from_numpy(xb))
            loss.backward()
            opt.step()
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    with torch.no_grad():
        out = net(torch.from_numpy(np.ascontiguousarray(Xn_te[:, None]))).numpy()[:, 0]
    return out, wall, cpu


# ---------------------------------------------------------------------------------------- grey
GREY_MODELS = ("torch", "mlp", "dae", "flagship")
GREY_NAMES = {"torch": "PyTorch conv DAE (reference)", "mlp": "MLP DAE 784-512-128-32", "dae": "nnlite conv DAE",
              "flagship": "flagship ResidualDenoiser (U-Net)"}
SHOW = np.arange(12) * 37                                  # test images drawn in the figure


def run_grey(part, quick=False, models=("mlp", "dae", "flagship")):
    """Train and evaluate ``models`` on one grey noise; merges its rows into the part's saved results."""
    from nnlite.data import load_fashion_mnist

    noise, level = GREY_NOISES[part]
    Xtr, _ = load_fashion_mnist("train")
    Xte, _ = load_fashion_mnist("test")
    if quick:
        Xtr, Xte = Xtr[:2000], Xte[:500]
    Xn = get_noise(noise)(Xte, level, TEST_NOISE_SEED)
    result = dict(part=part, noise=noise, level=level, quick=quick, n_train=len(Xtr), n_test=len(Xte),
                  flagship=FLAGSHIP)
    rows = {}
    rows["noisy input"] = _entry("noisy input", psnr(Xte, Xn), shown=Xn[SHOW].round(4).tolist())
    print(f"[{part}] {_label(noise, level)}: noisy {rows['noisy input']['psnr']:.2f} dB", flush=True)
    for key in models:
        if key == "torch":
            try:
                out, wall, cpu = torch_conv_dae(Xtr, Xn, noise, level, epochs=GREY_EPOCHS["dae"])
            except ImportError as e:
                print(f"  PyTorch reference skipped: {e}")
                continue
            epochs = GREY_EPOCHS["dae"]
        else:
            if key == "mlp":
                model = DenoisingAutoencoder(noise=noise, noise_level=level, n_passes=1, n_copies=1, latent_dim=32,
                                             hidden=(512, 128), loss="mse", lr=1e-3, epochs=GREY_EPOCHS["dae"],
                                             batch_size=128, lr_schedule="constant", random_state=SEED)
            elif key == "dae":
                model = ConvDenoisingAutoencoder(noise=noise, noise_level=level, epochs=GREY_EPOCHS["dae"],
                                                 random_state=SEED, **DAE)
            else:
                model = ResidualDenoiser(noise=noise, noise_level=level, epochs=GREY_EPOCHS["flagship"],
                                         random_state=SEED, **FLAGSHIP)
            model, wall, cpu = _timed_fit(model, Xtr)
            out = model.reconstruct(Xn)
            epochs = model.n_epochs_
            if key == "flagship":
                np.savez_compressed(RESULTS / f"conv_models_{part}_flagship.npz", **model.state_dict())
        name = GREY_NAMES[key]
        rows[name] = _entry(name, psnr(Xte, out), wall, cpu, epochs=epochs, shown=out[SHOW].round(4).tolist())
        print(f"  {name}: {rows[name]['psnr']:.2f} dB ({epochs} epochs, {wall:.0f} s wall, {cpu:.0f} s CPU)",
              flush=True)
        order = ["noisy input"] + [GREY_NAMES[k] for k in GREY_MODELS]
        latest = _load(part)                         # rows saved meanwhile by other runs (other --models) stay
        if latest and latest.get("quick") == quick:
            for e in latest["rows"]:
                rows.setdefault(e["model"], e)
        result["rows"] = sorted(rows.values(), key=lambda e: order.index(e["model"]) if e["model"] in order else 99)
        result["clean_shown"] = Xte[SHOW].round(4).tolist()
        _save(part, result)
        _try_figure(grey_figure, result)
    return result


def _try_figure(fn, result, *args):
    """Draw a part's figure and record its path; a drawing error is printed, the numbers stay saved."""
    try:
        result["figure"] = fn(result, *args)
        _save(result["part"], result)
    except Exception as e:  # noqa: BLE001 - never lose a long training to a plotting bug
        print(f"  figure of {result['part']} failed: {type(e).__name__}: {e}", flush=True)


def grey_figure(result):
    """Clean / noisy / each model's output for the shown test images, mean PSNRs in the labels."""
    rows, labels = [np.asarray(result["clean_shown"], dtype=np.float32)], ["clean"]
    short = {"noisy input": "noisy", GREY_NAMES["torch"]: "PyTorch\nconv DAE", GREY_NAMES["mlp"]: "MLP DAE",
             GREY_NAMES["dae"]: "conv DAE", GREY_NAMES["flagship"]: "flagship"}
    for e in result["rows"]:
        rows.append(np.asarray(e["shown"], dtype=np.float32))
        labels.append(f"{short.get(e['model'], e['model'])}\n{e['psnr']:.2f} dB")
    fig = plots.image_rows(rows, labels, cell=0.8,
                           title=f"Fashion-MNIST test images, {_label(result['noise'], result['level'])} "
                                 f"(mean PSNR over {result['n_test']:,} test images under each label)")
    return os.path.relpath(plots.save(fig, str(FIGURES / f"conv_{result['part']}.png")), RESULTS)


# ---------------------------------------------------------------------------------------- colour
def photos_dir() -> Path:
    """``$NNLITE_DATA/photos`` (FileNotFoundError naming the variable when it is missing)."""
    root = os.environ.get("NNLITE_DATA")
    if not root or not (Path(root) / "photos").is_dir():
        raise FileNotFoundError(f"photos/ not found: set NNLITE_DATA to the data folder (NNLITE_DATA={root!r})")
    return Path(root) / "photos"


def photo_patches(names, patch=32, stride=32, min_std=0.02):
    """RGB patches ``(N, 32, 32, 3)`` cut from the named files of NNLITE_DATA/photos, leaving out flat
    patches (pixel standard deviation < ``min_std``: retina's black surround, hubble's empty sky), where a
    denoiser that outputs a constant scores an infinite PSNR."""
    from nnlite.images import read_image

    out = []
    for name in names:
        img = read_image(photos_dir() / name, mode="RGB")                 # (H, W, 3) float32 in [0, 1]
        H, W = img.shape[:2]
        for i in range(0, H - patch + 1, stride):
            for j in range(0, W - patch + 1, stride):
                p = img[i:i + patch, j:j + patch]
                if p.std() >= min_std:
                    out.append(p)
    return np.stack(out).astype(np.float32)


def _colour_table(Xtr, Xte, tag, quick=False, noises=None):
    rows, figs = [], {}
    for noise, level in noises or COLOUR_NOISES:
        Xn = get_noise(noise)(Xte, level, TEST_NOISE_SEED)
        entry = dict(noise=noise, level=level, noisy=float(psnr(Xte, Xn)))
        dae = ConvDenoisingAutoencoder(noise=noise, noise_level=level, epochs=COLOUR_EPOCHS["dae"],
                                       random_state=SEED, **DAE)
        dae, wall, cpu = _timed_fit(dae, Xtr)
        d_out = dae.reconstruct(Xn)
        entry.update(dae=float(psnr(Xte, d_out)), dae_wall=wall, dae_cpu=cpu)
        flag = ResidualDenoiser(noise=noise, noise_level=level, epochs=COLOUR_EPOCHS["flagship"], random_state=SEED,
                                **FLAGSHIP)
        flag, wall, cpu = _timed_fit(flag, Xtr)
        f_out = flag.denoise(Xn)
        entry.update(flagship=float(psnr(Xte, f_out)), flagship_wall=wall, flagship_cpu=cpu)
        print(f"  [{tag}] {_label(noise, level)}: noisy {entry['noisy']:.2f}, conv DAE {entry['dae']:.2f} "
              f"({entry['dae_cpu']:.0f} s CPU), flagship {entry['flagship']:.2f} dB ({cpu:.0f} s CPU)", flush=True)
        rows.append(entry)
        figs[(noise, level)] = (Xn, d_out, f_out)
        if (noise, level) == ("gaussian", 0.2):
            np.savez_compressed(RESULTS / f"conv_models_{tag}_flagship_g02.npz", **flag.state_dict())
            whole_photo_figure(flag, noise, level)
    show = np.linspace(0, len(Xte) - 1, 8).astype(int)
    for entry, (Xn, d_out, f_out) in zip(rows, figs.values()):
        entry["shown"] = [a[show].round(4).tolist() for a in (Xte, Xn, d_out, f_out)]
    return rows


def colour_figure(result, tag):
    """Clean patches, then noisy / conv DAE / flagship for each noise, PSNRs in the labels."""
    img_rows, labels = [], []
    for e in result["rows"]:
        clean, noisy, dae, flag = (np.asarray(a, dtype=np.float32) for a in e["shown"])
        if not img_rows:
            img_rows, labels = [clean], ["clean"]
        short = f"σ={e['level']:g}" if e["noise"] == "gaussian" else f"s&p {100 * e['level']:g}%"
        img_rows += [noisy, dae, flag]
        labels += [f"noisy {short}\n{e['noisy']:.2f} dB", f"conv DAE\n{e['dae']:.2f} dB",
                   f"flagship\n{e['flagship']:.2f} dB"]
    fig = colour_rows(img_rows, labels,
                      title=f"32x32 colour test patches ({tag}, never seen in training): clean, then noisy / "
                            "conv DAE / flagship per noise (mean PSNR over all test patches)")
    return os.path.relpath(plots.save(fig, str(FIGURES / f"conv_{tag}_patches.png")), RESULTS)


def colour_rows(rows, labels, title=None, cell=0.9):
    """Rows of RGB images ``(n, H, W, 3)``, labelled on the left."""
    from matplotlib.figure import Figure

    n = len(rows[0])
    fig = Figure(figsize=(1.6 + n * cell, len(rows) * cell * 1.02 + 0.6))
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, (row, label) in enumerate(zip(rows, labels)):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(np.clip(row[c], 0, 1), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout(h_pad=0.2, w_pad=0.2)
    return fig


def whole_photo_figure(model, noise, level, name="chelsea.png", path=None):
    """The flagship on a whole test photo: clean | noisy | denoised, PSNR in the titles."""
    from matplotlib.figure import Figure

    from nnlite.images import read_image

    clean = read_image(photos_dir() / name, mode="RGB" if model.n_channels_ == 3 else "L")
    noisy = get_noise(noise)(clean, level, TEST_NOISE_SEED)
    t = time.perf_counter()
    den = model.denoise(noisy)
    secs = time.perf_counter() - t
    p_noisy, p_den = psnr(clean[None], noisy[None]), psnr(clean[None], den[None])
    H, W = clean.shape[:2]
    fig = Figure(figsize=(3 * 4.2, 4.2 * H / W + 0.9))
    axes = fig.subplots(1, 3)
    cmap = None if clean.ndim == 3 else "gray"
    for ax, img, title in zip(axes, (clean, noisy, den),
                              ("clean", f"noisy ({_label(noise, level)}): {p_noisy:.2f} dB",
                               f"flagship denoised: {p_den:.2f} dB")):
        ax.imshow(np.clip(img, 0, 1), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{name} ({W}x{H}, never seen in training), whole photo denoised in {secs:.1f} s "
                 f"(model trained on 32x32 patches)", fontsize=11)
    fig.tight_layout()
    out = plots.save(fig, str(path or FIGURES / f"conv_photo_{Path(name).stem}.png"))
    print(f"  whole photo {name}: noisy {p_noisy:.2f} dB -> flagship {p_den:.2f} dB ({out})", flush=True)
    return out, p_noisy, p_den


def run_colour(quick=False, noises=None):
    """The colour table for ``noises`` (default all); rows are merged into the saved results."""
    Xtr = photo_patches(COLOUR_TRAIN, stride=16)
    Xte = photo_patches(COLOUR_TEST, stride=32)
    if quick:
        Xtr, Xte = Xtr[::10], Xte[::10]
    print(f"[colour] {len(Xtr)} training patches ({', '.join(COLOUR_TRAIN)}), {len(Xte)} test patches "
          f"({', '.join(COLOUR_TEST)})", flush=True)
    new = _colour_table(Xtr, Xte, "photos", quick, noises)
    old = _load("colour")
    rows = {(e["noise"], e["level"]): e for e in (old["rows"] if old and old.get("quick") == quick else [])}
    rows.update({(e["noise"], e["level"]): e for e in new})
    rows = [rows[k] for k in COLOUR_NOISES if k in rows]
    result = dict(part="colour", n_train=len(Xtr), n_test=len(Xte), train=COLOUR_TRAIN, test=COLOUR_TEST, rows=rows,
                  epochs=COLOUR_EPOCHS, flagship=FLAGSHIP, quick=quick)
    _save("colour", result)
    _try_figure(colour_figure, result, "photos")
    return result


def run_cifar(quick=False):
    from nnlite.data import load_cifar10

    try:
        Xtr, _ = load_cifar10("train", layout="NHWC", download=False)
        Xte, _ = load_cifar10("test", layout="NHWC", download=False)
    except Exception as e:  # noqa: BLE001 - any reason the data set is not there
        reason = f"CIFAR-10 not available ({type(e).__name__}: {str(e).splitlines()[0][:160]})"
        print(f"[cifar] skipped: {reason}")
        result = dict(part="cifar", skipped=reason)
        _save("cifar", result)
        return result
    Xtr, Xte = (Xtr[:5000], Xte[:1000]) if quick else (Xtr[:20000], Xte)
    rows = _colour_table(Xtr, Xte, "cifar10", quick)
    result = dict(part="cifar", n_train=len(Xtr), n_test=len(Xte), rows=rows, quick=quick)
    _save("cifar", result)
    _try_figure(colour_figure, result, "cifar10")
    return result


# ---------------------------------------------------------------------------------------- table
def _save(part, result):
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"conv_models_{part}.json", "w") as f:
        json.dump(result, f, indent=1)


def _load(part):
    p = RESULTS / f"conv_models_{part}.json"
    return json.loads(p.read_text()) if p.exists() else None


def _secs(e):
    if e.get("cpu_s") is None:
        return ""
    return f"{e['wall_s']:.0f} / {e['cpu_s']:.0f}"


def table() -> str:
    lines = ["# Conv models: denoising quality (mean PSNR, dB)", "",
             "Written by `python -m benchmarks.conv_models` (see its docstring for the protocol). Training "
             "cost is `fit` time as wall seconds / CPU seconds (all threads); the machine was shared with "
             "other jobs, so wall time overstates what 2 idle cores need.", ""]
    grey = [_load(p) for p in GREY_NOISES]
    if any(grey):
        lines += ["## Fashion-MNIST (train 60,000, test 10,000)", "",
                  "| model | " + " | ".join(f"{_label(g['noise'], g['level'])} | train s (wall / CPU)"
                                           for g in grey if g) + " |",
                  "|---|" + "---:|---:|" * sum(1 for g in grey if g)]
        names = []
        for g in grey:
            for e in g["rows"] if g else []:
                if e["model"] not in names:
                    names.append(e["model"])
        for name in names:
            cells = []
            for g in grey:
                if not g:
                    continue
                e = next((e for e in g["rows"] if e["model"] == name), None)
                cells += [f"{e['psnr']:.2f}" if e else "-", _secs(e) if e else ""]
            epochs = next((e.get("epochs") for g in grey if g for e in g["rows"] if e["model"] == name), None)
            lines.append(f"| {name}{f' ({epochs} epochs)' if epochs else ''} | " + " | ".join(cells) + " |")
        if not any(e["model"] == GREY_NAMES["torch"] for g in grey if g for e in g["rows"]):
            lines.append("| PyTorch conv DAE, same network and protocol (5 epochs; reference measured "
                         "separately on this machine) | " + " | ".join(
                             f"{REFERENCE[p]:.1f} | " for p, g in zip(GREY_NOISES, grey) if g) + " |")
        if any(g and g.get("quick") for g in grey):
            lines.append("\n**quick run (subsets): not the protocol's numbers**")
        lines += ["", f"Flagship: `ResidualDenoiser({', '.join(f'{k}={v!r}' for k, v in FLAGSHIP.items())})` "
                  f"(epochs in its row). Figures: "
                  + ", ".join(f"`{g['figure']}`" for g in grey if g), ""]
    for part, title in (("colour", "Colour: 32x32 RGB patches of photos"), ("cifar", "Colour: CIFAR-10 test set")):
        r = _load(part)
        if r is None:
            continue
        lines += [f"## {title}", ""]
        if r.get("skipped"):
            lines += [f"Skipped: {r['skipped']}.", ""]
            continue
        if part == "colour":
            lines += [f"Train: {r['n_train']} patches (stride 16) of {', '.join(r['train'])}; test: {r['n_test']} "
                      f"patches (stride 32) of {', '.join(r['test'])}, photos never seen in training; flat patches "
                      f"(pixel std < 0.02) left out. Conv DAE "
                      f"{r['epochs']['dae']} epochs, flagship {r['epochs']['flagship']} epochs, one model per row.", ""]
        lines += ["| noise | noisy | conv DAE | flagship | train s conv DAE / flagship (CPU) |",
                  "|---|---:|---:|---:|---:|"]
        for e in r["rows"]:
            lines.append(f"| {_label(e['noise'], e['level'])} | {e['noisy']:.2f} | {e['dae']:.2f} "
                         f"| {e['flagship']:.2f} "
                         f"| {e['dae_cpu']:.0f} / {e['flagship_cpu']:.0f} |")
        done = {(e["noise"], e["level"]) for e in r["rows"]}
        for noise, level in COLOUR_NOISES if part == "colour" else ():
            if (noise, level) not in done:
                lines.append(f"| {_label(noise, level)} | not run yet "
                             f"(`--part colour --noise {noise}:{level:g}`) | | | |")
        if r.get("quick"):
            lines.append("\n**quick run (subsets): not the protocol's numbers**")
        lines += ["", f"Figure: `{r['figure']}`", ""]
    text = "\n".join(lines) + "\n"
    (RESULTS / "conv_models.md").write_text(text)
    return text


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", action="append", choices=list(GREY_NOISES) + ["colour", "cifar"],
                    help="run only these parts (repeatable); default all")
    ap.add_argument("--table", action="store_true", help="only assemble the table from saved parts")
    ap.add_argument("--quick", action="store_true", help="small subsets (a smoke run, not the protocol)")
    ap.add_argument("--models", default="torch,mlp,dae,flagship",
                    help="grey parts: comma-separated subset of torch,mlp,dae,flagship (rows of other runs are kept)")
    ap.add_argument("--noise", action="append", choices=[f"{n}:{lv:g}" for n, lv in COLOUR_NOISES],
                    help="colour part: only these noises (repeatable; rows of other runs are kept)")
    ap.add_argument("--flagship-epochs", type=int, default=None,
                    help=f"epochs of the grey flagship (default {GREY_EPOCHS['flagship']})")
    ap.add_argument("--colour-flagship-epochs", type=int, default=None,
                    help=f"epochs of the colour flagship (default {COLOUR_EPOCHS['flagship']})")
    args = ap.parse_args(argv)
    if args.flagship_epochs:
        GREY_EPOCHS["flagship"] = args.flagship_epochs
    if args.colour_flagship_epochs:
        COLOUR_EPOCHS["flagship"] = args.colour_flagship_epochs
    models = [m for m in args.models.split(",") if m]
    bad = sorted(set(models) - set(GREY_MODELS))
    if bad:
        ap.error(f"unknown --models {bad}; valid: {', '.join(GREY_MODELS)}")
    noises = None if not args.noise else [(n, float(lv)) for n, lv in (a.split(":") for a in args.noise)]
    if args.table:                                     # redraw the figures from the saved numbers
        for part in list(GREY_NOISES) + ["colour", "cifar"]:
            r = _load(part)
            if r and not r.get("skipped") and r.get("rows"):
                _try_figure(grey_figure, r) if part in GREY_NOISES else _try_figure(
                    colour_figure, r, "photos" if part == "colour" else "cifar10")
    else:
        for part in args.part or list(GREY_NOISES) + ["colour", "cifar"]:
            if part in GREY_NOISES:
                run_grey(part, args.quick, models)
            elif part == "colour":
                run_colour(args.quick, noises)
            else:
                run_cifar(args.quick)
    print(table())


if __name__ == "__main__":
    sys.exit(main())
