"""Train the shipped photo denoiser, and the capacity sweep that chose its size.

A :class:`~nnlite.models.conv.ResidualDenoiser` trained on random patches of the training photos of
:mod:`benchmarks.photo_data` (each patch one of the 8 flips / 90-degree rotations), blind to the noise
level: every patch of every batch gets Gaussian noise of its own sigma, drawn uniformly from [0, 0.25]
(DnCNN-B), clipped to [0, 1]. After every epoch the held-out PSNR at sigma 0.1 and 0.2 is measured on
the centre 256x256 crops of :data:`~benchmarks.photo_data.HELD_OUT` (noise drawn once, seed 0).

Everything runs on one BLAS thread and one Numba thread, so the same command gives the same weights
bit for bit, and two runs can share a 2-core machine side by side::

    python -m benchmarks.photo_train --channels rgb     # -> nnlite/weights/photo-denoiser-rgb.npz
    python -m benchmarks.photo_train --channels grey    # -> nnlite/weights/photo-denoiser-grey.npz
    python -m benchmarks.photo_train --sweep --steps 1200   # capacity sweep -> benchmarks/results/photo_capacity.*

The options of the blind denoisers that beat BM3D are flags (defaults: off, as the shipped weights were
made): ``--no-batch-norm``, ``--unshuffle 2``, ``--noise-map``, ``--sigma-weighting FLOOR``, ``--loss l1``,
``--init orthogonal``, and ``--fresh-patches``: every epoch trains on new patches drawn from the photos
(epoch ``e`` from the generator seeded ``[seed, 2, e]``), so no patch is seen twice and only one epoch's
patches are held; without it the first epoch's patches are reused every epoch.

A run writes the checkpoint (:func:`nnlite.checkpoint.save_checkpoint`; load it with
:func:`nnlite.models.persistence.restore_model`) and merges its entry into ``MANIFEST.json`` beside it:
the file's sha256, the digest of the weights alone (:func:`weights_digest`: the file's own bytes also
hold the time it was written), the command, the seed, the training time and the held-out PSNRs.
``--out DIR`` writes both into ``DIR`` instead of ``nnlite/weights``.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from . import photo_data

#: Noise of the blind model: sigma uniform in this range for every training patch.
SIGMA_RANGE = (0.0, 0.25)
#: Sigmas of the held-out PSNR, and the side of the centre crops it is measured on.
VAL_LEVELS = (0.1, 0.2)
VAL_CROP = 256
#: Side of the crop of the first held-out photo that the inference time is measured on.
INFERENCE_CROP = 512
#: Training choices (the capacity sweep in benchmarks/results/photo_capacity.md picked the body). 1500 steps
#: at ~1.95 s a step (one thread, two runs side by side on 2 cores) is about 50 minutes.
DEFAULTS = {"arch": "unet", "width": 32, "depth": 3, "patch": 48, "batch": 32, "lr": 2e-3, "steps": 1500,
            "epoch_steps": 300}
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "nnlite" / "weights"
RESULTS = Path(__file__).resolve().parent / "results"


def one_thread():
    """One BLAS thread and one Numba thread for everything that follows (bit-reproducible, one core)."""
    import numba

    from nnlite import threads

    threads.set_policy(1)
    threads.set_blas_threads(1)
    numba.set_num_threads(1)


def entry_name(channels: str) -> str:
    return f"photo-denoiser-{channels}"


def load_photos(channels: str, root=None):
    """``(training photos, held-out crops, held-out photo for timing)``: lists of float32 images."""
    grey = channels == "grey"
    train = photo_data.load_set(photo_data.TRAIN_GREY if grey else photo_data.TRAIN_RGB, grey=grey, root=root)
    held = photo_data.load_set(photo_data.HELD_OUT, grey=grey, root=root)
    from nnlite.data.patches import center_crop

    crops = [center_crop(im, VAL_CROP) for im in held.values()]
    return list(train.values()), crops, next(iter(held.values()))


def weights_digest(model) -> str:
    """sha256 of the model's state dict (every array's name, dtype, shape and bytes, in key order): the
    same for the same weights whenever and wherever they were written."""
    h = hashlib.sha256()
    for key, value in sorted(model.net_.state_dict().items()):
        value = np.ascontiguousarray(value)
        h.update(f"{key}|{value.dtype.str}|{value.shape}|".encode())
        h.update(value.tobytes())
    return h.hexdigest()


def n_parameters(model) -> int:
    return int(sum(p.data.size for p in model.parameters()))


def recipe_options(args) -> dict:
    """The :class:`ResidualDenoiser` options of the blind-denoiser recipe that ``args`` turn on (``{}`` for
    the defaults, which the shipped weights were made with)."""
    chosen = {"batch_norm": not args.no_batch_norm, "unshuffle": args.unshuffle, "noise_map": args.noise_map,
              "sigma_weighting": args.sigma_weighting, "loss": args.loss, "init": args.init}
    defaults = {"batch_norm": True, "unshuffle": 1, "noise_map": False, "sigma_weighting": None, "loss": "l2",
                "init": None}
    return {k: v for k, v in chosen.items() if v != defaults[k]}


def build_model(args, epochs):
    from nnlite.models.conv import ResidualDenoiser

    level = SIGMA_RANGE if args.sigma is None else args.sigma
    return ResidualDenoiser(noise="gaussian", noise_level=level, architecture=args.arch, width=args.width,
                            depth=args.depth, lr=args.lr, epochs=epochs, batch_size=args.batch, random_state=args.seed,
                            **recipe_options(args))


def epoch_patches(photos, args, epoch: int, n: int) -> np.ndarray:
    """The ``n`` fresh training patches of ``epoch`` (1-based), NCHW float32: from the generator seeded
    ``[seed, 2, epoch]``, so any epoch's patches can be drawn again without the ones before it."""
    from nnlite.data.patches import sample_patches

    P = sample_patches(photos, args.patch, n, random_state=np.random.default_rng([args.seed, 2, epoch]))
    P = P[:, None] if P.ndim == 3 else P.transpose(0, 3, 1, 2)           # (n, C, patch, patch)
    return np.ascontiguousarray(P, dtype=np.float32)


class FreshPatches:
    """Refills the training patches in place before every epoch after the first (its ``on_epoch_begin`` is
    the hook of a :class:`~nnlite.callbacks.LambdaCallback`).

    The trainer iterates over the very array ``buffer`` (``fit`` takes a C-contiguous float32 NCHW array
    as it is: :func:`train` checks that it shares its memory), so overwriting it changes what the next
    epoch trains on while the shuffling and every other draw stay as they were."""

    def __init__(self, photos, args, buffer):
        self.photos, self.args, self.buffer = photos, args, buffer

    def on_epoch_begin(self, trainer, epoch):
        if epoch > 1:
            self.buffer[...] = epoch_patches(self.photos, self.args, epoch, len(self.buffer))


def schedule(steps: int, epoch_steps: int) -> tuple[int, int]:
    """``(epochs, steps per epoch)`` for about ``steps`` optimizer steps in epochs of about ``epoch_steps``:
    ``epochs * steps_per_epoch`` is ``steps`` rounded up to a multiple of the number of epochs."""
    epochs = max(1, math.ceil(steps / epoch_steps))
    return epochs, math.ceil(steps / epochs)


def inference_seconds_per_megapixel(model, image, repeats=2) -> float:
    crop = image[:INFERENCE_CROP, :INFERENCE_CROP]
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.denoise(crop)
        best = min(best, time.perf_counter() - t0)
    return best / (crop.shape[0] * crop.shape[1] / 1e6)


def train(args, say=print) -> dict:
    """Train one model as ``args`` say; returns ``{"model", "train_seconds", "history", ...}``."""
    from nnlite.callbacks import DenoisingValidation, LambdaCallback
    from nnlite.data.patches import sample_patches

    one_thread()
    photos, crops, timing_photo = load_photos(args.channels)
    epochs, per_epoch = schedule(args.steps, args.epoch_steps)
    n = per_epoch * args.batch
    t0 = time.perf_counter()
    if args.fresh_patches:
        X = epoch_patches(photos, args, 1, n)
    else:
        X = sample_patches(photos, args.patch, n, random_state=np.random.default_rng([args.seed, 1]))
    fresh = ", new every epoch" if args.fresh_patches else ""
    say(f"{n} patches of {args.patch}x{args.patch} from {len(photos)} {args.channels} photos "
        f"({X.nbytes / 2**20:.0f} MiB, {time.perf_counter() - t0:.1f} s){fresh}; {epochs} epochs x {per_epoch} "
        f"steps of {args.batch} = {epochs * per_epoch} steps")
    model = build_model(args, epochs)
    extra = []
    if args.fresh_patches:
        if not np.shares_memory(model._check_X(X, reset=True), X):
            raise RuntimeError("photo_train: fit would copy the patches, so refilling them would not reach training")
        extra.append(LambdaCallback(on_epoch_begin=FreshPatches(photos, args, X).on_epoch_begin))
    validation = DenoisingValidation(crops, noise_levels=VAL_LEVELS, random_state=0)
    clock = {"validation": 0.0}

    def validate(trainer, epoch, logs):
        t = time.perf_counter()
        validation.on_epoch_end(trainer, epoch, logs)
        clock["validation"] += time.perf_counter() - t

    def show(trainer, epoch, logs):
        elapsed = time.perf_counter() - clock["t0"]
        psnrs = "  ".join(f"PSNR@{s:g} {logs[k]:.2f}" for s, k in zip(validation.levels, validation.keys))
        say(f"epoch {epoch}/{epochs}  step {trainer.global_step}  loss {logs['loss']:.3e}  held-out {psnrs}  "
            f"{elapsed:.0f} s (eta {elapsed / epoch * (epochs - epoch):.0f} s)")

    def first_steps(trainer, step, logs):
        if step == 10:
            per_step = (time.perf_counter() - clock["t0"]) / 10
            say(f"first 10 steps: {per_step:.3f} s/step -> about {per_step * epochs * per_epoch:.0f} s in all")

    clock["t0"] = time.perf_counter()
    if args.minutes is not None:
        def stop_in_time(trainer, step, logs):
            if time.perf_counter() - clock["t0"] > 60 * args.minutes:
                trainer.stop_training = True
        extra.append(LambdaCallback(on_batch_end=stop_in_time))
    model.fit(X, callbacks=[*extra, LambdaCallback(on_epoch_end=validate),
                            LambdaCallback(on_epoch_end=show, on_batch_end=first_steps)])
    seconds = time.perf_counter() - clock["t0"]
    history = model.history_
    return {"model": model, "train_seconds": seconds, "validation_seconds": clock["validation"],
            "step_seconds": (seconds - clock["validation"]) / max(1, int(model.n_iter_)),
            "steps": int(model.n_iter_), "epochs": epochs,
            "patches": n, "history": history, "timing_photo": timing_photo,
            "held_out_psnr": {f"{s:g}": history[k][-1] for s, k in zip(validation.levels, validation.keys)}}


def write_outputs(result, args, argv, out_dir: Path, say=print) -> dict:
    """The checkpoint and the manifest entry (merged into ``out_dir/MANIFEST.json``); returns the entry."""
    from nnlite.atomic import atomic_write_text
    from nnlite.checkpoint import save_checkpoint

    model = result["model"]
    name = entry_name(args.channels)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = save_checkpoint(out_dir / f"{name}.npz", model, sidecar=False)
    entry = {
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "weights_sha256": weights_digest(model),
        "command": "python -m benchmarks.photo_train " + shlex.join(argv),
        "seed": args.seed,
        "train_seconds": round(result["train_seconds"], 1),
        "validation_seconds": round(result["validation_seconds"], 1),
        "step_seconds": round(result["step_seconds"], 4),
        "steps": result["steps"],
        "patch": args.patch,
        "batch": args.batch,
        "architecture": args.arch,
        "width": args.width,
        "depth": args.depth,
        "lr": args.lr,
        "noise_level": list(SIGMA_RANGE) if args.sigma is None else args.sigma,
        **({"recipe": recipe_options(args)} if recipe_options(args) else {}),
        **({"fresh_patches": True} if args.fresh_patches else {}),
        "parameters": n_parameters(model),
        "held_out_psnr": {k: round(v, 3) for k, v in result["held_out_psnr"].items()},
        "held_out": f"centre {VAL_CROP}x{VAL_CROP} crops of {', '.join(photo_data.HELD_OUT)}, Gaussian noise "
                    "clipped to [0, 1], seed 0",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    manifest_path = out_dir / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[name] = entry
    atomic_write_text(manifest_path, json.dumps(dict(sorted(manifest.items())), indent=1) + "\n")
    say(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) and {manifest_path}")
    return entry


def write_figure(result, crops_noisy_clean, path: Path):
    """Noisy | denoised | clean of one held-out crop, side by side, as a PNG."""
    from nnlite.images import write_image

    noisy, clean = crops_noisy_clean
    den = result["model"].denoise(noisy)
    write_image(path, np.concatenate([noisy, den, clean], axis=1))


# ------------------------------------------------------------------------------------------ sweep
#: The capacity sweep: (name, options). The per-level rows take the body of the best blind row.
SWEEP_BLIND = [
    ("unet-w16-d3", ["--arch", "unet", "--width", "16", "--depth", "3"]),
    ("unet-w32-d3", ["--arch", "unet", "--width", "32", "--depth", "3"]),
    ("unet-w24-d4", ["--arch", "unet", "--width", "24", "--depth", "4"]),
    ("dncnn-w32-d12", ["--arch", "dncnn", "--width", "32", "--depth", "12"]),
]
PER_LEVEL = (0.1, 0.2)


def _run_pairs(jobs, out_root: Path, common, parallel=2, say=print) -> dict:
    """Run ``jobs`` [(name, options)] as subprocesses, ``parallel`` at a time; ``{name: run.json}``."""
    pending, running, results = list(jobs), [], {}
    while pending or running:
        while pending and len(running) < parallel:
            name, opts = pending.pop(0)
            run_dir = out_root / name
            run_dir.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, "-m", "benchmarks.photo_train", "--channels", "rgb", *common, *opts,
                   "--out", str(run_dir), "--report", str(run_dir / "run.json"), "--figure", str(run_dir / "crop.png")]
            log = open(run_dir / "log.txt", "w")
            say(f"start {name}: {shlex.join(cmd[1:])}")
            running.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log))
        time.sleep(2)
        for item in list(running):
            name, proc, log = item
            if proc.poll() is not None:
                log.close()
                running.remove(item)
                if proc.returncode:
                    raise SystemExit(f"{name} failed (exit {proc.returncode}); see {out_root / name / 'log.txt'}")
                results[name] = json.loads((out_root / name / "run.json").read_text())
                say(f"done {name}: {results[name]['train_seconds']:.0f} s, held-out PSNR "
                    f"{results[name]['held_out_psnr']}")
    return results


def sweep(args, argv, say=print):
    from ._markdown import table

    out_root = Path(args.sweep_dir)
    common = ["--steps", str(args.steps), "--patch", str(args.patch), "--batch", str(args.batch), "--lr",
              str(args.lr), "--epoch-steps", str(args.epoch_steps), "--seed", str(args.seed)]
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    if args.probe:
        probe = ["--steps", str(args.probe), "--epoch-steps", str(args.probe)]
        results = _run_pairs([(f"probe-{n}", o) for n, o in SWEEP_BLIND], out_root, [*common, *probe], say=say)
        say(f"load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after")
        for name, r in results.items():
            say(f"{name}: {r['step_seconds']:.3f} s/step ({r['parameters']:,} parameters), validation "
                f"{r['validation_seconds']:.1f} s per epoch")
        return
    results = _run_pairs(SWEEP_BLIND, out_root, common, say=say)
    best = max(results, key=lambda k: sum(results[k]["held_out_psnr"].values()))
    body = dict(SWEEP_BLIND)[best]
    per_level = [(f"{best}-sigma{s:g}", [*body, "--sigma", str(s)]) for s in PER_LEVEL]
    results.update(_run_pairs(per_level, out_root, common, say=say))
    load_after = os.getloadavg()
    rows = []
    for name, r in results.items():
        p = r["held_out_psnr"]
        rows.append([name, "blind [0, 0.25]" if r["sigma"] is None else f"sigma {r['sigma']:g}",
                     f"{r['parameters']:,}", r["steps"], f"{r['train_seconds']:.0f}",
                     f"{r['step_seconds']:.3f}", f"{p['0.1']:.2f}", f"{p['0.2']:.2f}",
                     f"{r['inference_s_per_mp']:.2f}"])
    headers = ["config", "noise", "parameters", "steps", "train s", "s/step", "PSNR @0.1", "PSNR @0.2",
               "inference s/MP"]
    command = "python -m benchmarks.photo_train " + shlex.join(argv)
    blind_best = results[best]["held_out_psnr"]
    gaps = {f"{s:g}": results[f"{best}-sigma{s:g}"]["held_out_psnr"][f"{s:g}"] - blind_best[f"{s:g}"]
            for s in PER_LEVEL}
    text = "\n".join([
        "# Photo denoiser: capacity at an equal step budget",
        "",
        f"`{command}` (each row `python -m benchmarks.photo_train --channels rgb ...` with the options in its "
        f"`run.json`), {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{len(results)} runs two at a time on one BLAS + one Numba thread each; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after; {time.perf_counter() - t0:.0f} s in all.",
        "",
        f"RGB ResidualDenoiser, {args.steps} steps of {args.batch} patches of {args.patch}x{args.patch} "
        f"(flips/rotations), Adam lr {args.lr:g} with cosine decay, seed {args.seed}. Held-out PSNR: mean over "
        f"the centre {VAL_CROP}x{VAL_CROP} crops of {', '.join(photo_data.HELD_OUT)}, Gaussian noise clipped to "
        f"[0, 1] (seed 0). Inference: one {INFERENCE_CROP}x{INFERENCE_CROP} crop, one thread, best of 2. "
        "*train s*: the whole fit, the per-epoch validation included; *s/step*: one optimizer step, without it.",
        "",
        table(headers, rows),
        "",
        f"Best blind body by the sum of the two PSNRs: **{best}**. Per-level model minus blind model at its "
        f"own level: " + ", ".join(f"sigma {k}: {v:+.2f} dB" for k, v in gaps.items()) + ".",
        "",
    ])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "photo_capacity.md").write_text(text)
    (RESULTS / "photo_capacity.json").write_text(json.dumps(
        {"command": command, "load_average_before": load_before, "load_average_after": load_after,
         "best_blind": best, "per_level_minus_blind": gaps, "runs": results}, indent=1) + "\n")
    say(text)
    say(f"wrote {RESULTS / 'photo_capacity.md'} and .json")


# ------------------------------------------------------------------------------------------ command line
def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.photo_train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--channels", choices=("rgb", "grey"), default="rgb")
    p.add_argument("--steps", type=int, default=DEFAULTS["steps"], help="optimizer steps (rounded up to a multiple "
                   "of the number of epochs)")
    p.add_argument("--epoch-steps", type=int, default=DEFAULTS["epoch_steps"],
                   help="about this many steps per epoch: the patches held in memory are steps x batch")
    p.add_argument("--patch", type=int, default=DEFAULTS["patch"])
    p.add_argument("--batch", type=int, default=DEFAULTS["batch"])
    p.add_argument("--arch", choices=("unet", "dncnn"), default=DEFAULTS["arch"])
    p.add_argument("--width", type=int, default=DEFAULTS["width"])
    p.add_argument("--depth", type=int, default=DEFAULTS["depth"])
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    p.add_argument("--sigma", type=float, default=None,
                   help="train for this one sigma instead of the blind range [0, 0.25] (the sweep's per-level rows)")
    p.add_argument("--seed", type=int, default=0)
    recipe = p.add_argument_group("the blind-denoiser recipe (default: off, as the shipped weights)")
    recipe.add_argument("--no-batch-norm", action="store_true", help="no BatchNorm; every conv with its bias")
    recipe.add_argument("--unshuffle", type=int, default=1, metavar="R",
                        help="run the body on R x R pixel blocks as channels (FFDNet's R = 2)")
    recipe.add_argument("--noise-map", action="store_true", help="the noise sigma as an extra input channel")
    recipe.add_argument("--sigma-weighting", type=float, default=None, metavar="FLOOR",
                        help="weigh each patch's loss by 1 / max(sigma, FLOOR)^2 (normalised per batch)")
    recipe.add_argument("--loss", choices=("l2", "l1"), default="l2")
    recipe.add_argument("--init", choices=("orthogonal",), default=None, help="orthogonal conv weights")
    recipe.add_argument("--fresh-patches", action="store_true",
                        help="new patches from the photos every epoch instead of the first epoch's reused")
    recipe.add_argument("--minutes", type=float, default=None,
                        help="stop after this much training wall time (the step count still sets the schedule)")
    p.add_argument("--out", default=None, metavar="DIR", help="write the weights and MANIFEST.json here "
                   "(default nnlite/weights)")
    p.add_argument("--report", default=None, metavar="JSON", help="also write the run's numbers here")
    p.add_argument("--figure", default=None, metavar="PNG",
                   help="also write noisy | denoised | clean of a held-out crop at sigma 0.2")
    p.add_argument("--sweep", action="store_true", help="the capacity sweep (RGB) instead of one run")
    p.add_argument("--sweep-dir", default="/tmp/nnlite-photo-sweep", help="run folders of the sweep")
    p.add_argument("--probe", type=int, default=None, metavar="STEPS",
                   help="with --sweep: only time STEPS steps of each blind configuration")
    args = p.parse_args(argv)
    for name in ("steps", "epoch_steps", "patch", "batch", "width", "depth", "unshuffle"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if not args.lr > 0:
        p.error(f"--lr must be > 0, got {args.lr}")
    if args.sigma_weighting is not None and not args.sigma_weighting > 0:
        p.error(f"--sigma-weighting must be > 0, got {args.sigma_weighting}")
    if args.minutes is not None and not args.minutes > 0:
        p.error(f"--minutes must be > 0, got {args.minutes}")
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    photo_data.require_root()
    if args.sweep:
        return sweep(args, argv)
    result = train(args)
    out_dir = WEIGHTS_DIR if args.out is None else Path(args.out)
    entry = write_outputs(result, args, argv, out_dir)
    if args.report or args.figure:
        result["inference_s_per_mp"] = inference_seconds_per_megapixel(result["model"], result["timing_photo"])
    if args.figure:
        from nnlite.data.patches import center_crop
        from nnlite.noise import gaussian

        clean = center_crop(result["timing_photo"], VAL_CROP)
        write_figure(result, (gaussian(clean, 0.2, 0), clean), Path(args.figure))
    if args.report:
        report = {**entry, "sigma": args.sigma, "epochs": result["epochs"], "patches": result["patches"],
                  "inference_s_per_mp": result["inference_s_per_mp"],
                  "history": {k: list(map(float, v)) for k, v in result["history"].items()}}
        Path(args.report).write_text(json.dumps(report, indent=1) + "\n")
    print(f"held-out PSNR {entry['held_out_psnr']} after {entry['steps']} steps, {entry['train_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
