"""Ablations of the blind-denoiser recipe on the photo denoiser, each pair at equal training wall time.

Every run is :mod:`benchmarks.photo_train` (RGB, fresh patches every epoch, one BLAS + one Numba thread)
with one option changed from a common base: no BatchNorm, orthogonal initialisation, full resolution,
blind, uniform sigma, L2 loss.
The pairs, each against that base:

* BatchNorm against none (``--no-batch-norm`` off);
* pixel-unshuffle (``--unshuffle 2``) against full resolution;
* the noise-level map (``--noise-map``) against blind;
* sigma weighting (``--sigma-weighting 0.05``) against uniform;
* L1 (``--loss l1``) against L2.

Equal wall time: each configuration first runs a few probe steps twice (the first includes compiling
its kernels, which would make the pace look slow and the run end early), and its real run gets the number of
steps that fills ``--minutes`` at that pace (so its cosine schedule ends where the time does), with
``--minutes`` also as a hard stop. The held-out PSNR is measured afterwards at sigma 0.05, 0.1, 0.15
and 0.2 on the centre crops of :data:`benchmarks.photo_data.HELD_OUT` (Gaussian noise clipped to [0, 1],
seed 0), the models used blind (a noise-map model estimates sigma from each image). Writes
``benchmarks/results/photo_ablations.md`` and ``.json``::

    python -m benchmarks.photo_ablations --minutes 10     # 6 runs of 10 minutes, one after the other

``--quick`` trains a tiny network for a few steps on whatever ``$NNLITE_DATA`` holds (the tests give it
tiny synthetic photos) and writes where ``--results`` says: it checks the pipeline, it measures nothing.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from . import photo_data, photo_train

#: Sigmas of the held-out PSNR.
LEVELS = (0.05, 0.1, 0.15, 0.2)
#: What every run shares, and the base of every pair.
BASE = ["--channels", "rgb", "--fresh-patches", "--init", "orthogonal", "--no-batch-norm"]
#: name -> the options added to (or, for BatchNorm, taken from) the base.
CONFIGS = {
    "base": [],
    "batchnorm": None,                       # the base without --no-batch-norm
    "unshuffle": ["--unshuffle", "2"],
    "noise-map": ["--noise-map"],
    "sigma-weighting": ["--sigma-weighting", "0.05"],
    "l1": ["--loss", "l1"],
}
#: The pairs of the table: (what it measures, the run with the option, the run without).
PAIRS = [("BatchNorm vs none", "batchnorm", "base"), ("pixel-unshuffle vs full resolution", "unshuffle", "base"),
         ("noise map vs blind", "noise-map", "base"), ("sigma weighting vs uniform", "sigma-weighting", "base"),
         ("L1 vs L2", "l1", "base")]
#: The tiny settings of --quick.
QUICK = ["--patch", "16", "--batch", "4", "--width", "4", "--depth", "2", "--epoch-steps", "2"]
PROBE_STEPS = 4
RESULTS = photo_train.RESULTS / "photo_ablations.md"


def config_argv(name: str, common: list[str]) -> list[str]:
    """The photo_train options of configuration ``name``."""
    if CONFIGS[name] is None:                                 # BatchNorm: the base with it back
        return [a for a in BASE if a != "--no-batch-norm"] + common
    return BASE + CONFIGS[name] + common


def held_out_psnr(model, crops, levels=LEVELS) -> dict:
    """``{sigma: mean PSNR}`` of ``model.denoise`` (no sigma given) over ``crops``, noise from seed 0."""
    from nnlite.metrics import psnr
    from nnlite.noise import gaussian

    rng = np.random.default_rng(0)
    out = {}
    for s in levels:
        values = [float(psnr(c[None], model.denoise(gaussian(c, s, rng))[None])) for c in crops]
        out[f"{s:g}"] = float(np.mean(values))
    return out


def run(name, common, minutes, quick, say=print) -> dict:
    """Probe, then train configuration ``name`` for ``minutes``; its numbers."""
    probe = photo_train.parse_args(config_argv(name, common) + ["--steps", str(PROBE_STEPS), "--epoch-steps",
                                                                str(PROBE_STEPS)])
    photo_train.train(probe, say=lambda *a: None)                 # compiles this configuration's kernels
    pace = photo_train.train(probe, say=lambda *a: None)["step_seconds"]   # then times its steps
    steps = 3 if quick else max(1, int(60 * minutes / pace))
    argv = config_argv(name, common) + ["--steps", str(steps)]
    if not quick:
        argv += ["--minutes", f"{minutes:g}"]
    args = photo_train.parse_args(argv)
    say(f"{name}: {pace:.3f} s/step in the probe -> {steps} steps: python -m benchmarks.photo_train "
        f"{shlex.join(argv)}")
    result = photo_train.train(args, say=say)
    _, crops, _ = photo_train.load_photos("rgb")
    return {"argv": argv, "probe_step_seconds": pace, "planned_steps": steps, "steps": result["steps"],
            "train_seconds": result["train_seconds"], "parameters": photo_train.n_parameters(result["model"]),
            "held_out_psnr": held_out_psnr(result["model"], crops)}


def report(results, args, argv, seconds) -> str:
    from ._markdown import table

    rows = []
    for name, r in results.items():
        rows.append([name, shlex.join(r["argv"]), f"{r['parameters']:,}", r["steps"], f"{r['train_seconds']:.0f}",
                     *(f"{r['held_out_psnr'][f'{s:g}']:.2f}" for s in LEVELS)])
    main = table(["run", "photo_train options", "parameters", "steps", "train s",
                  *(f"PSNR @{s:g}" for s in LEVELS)], rows)
    pair_rows = []
    for what, with_, without in PAIRS:
        a, b = results[with_]["held_out_psnr"], results[without]["held_out_psnr"]
        pair_rows.append([what, with_, without, *(f"{a[f'{s:g}'] - b[f'{s:g}']:+.2f}" for s in LEVELS)])
    pairs = table(["pair", "with", "without", *(f"dB @{s:g}" for s in LEVELS)], pair_rows)
    return "\n".join([
        "# Photo denoiser: the blind-denoiser recipe, one option at a time, at equal wall time",
        "",
        f"`python -m benchmarks.photo_ablations {shlex.join(argv)}`, "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {len(results)} runs one after the "
        f"other on one BLAS + one Numba thread; load average {os.getloadavg()[0]:.2f} at the end; "
        f"{seconds:.0f} s in all." + (" **--quick: a pipeline check on tiny data, not a measurement.**"
                                      if args.quick else ""),
        "",
        ("Each run: 3 planned steps (--quick), " if args.quick else
         f"Each run: {args.minutes:g} minutes of training (steps from a {PROBE_STEPS}-step probe of its pace), ") +
        f"fresh patches every epoch, seed {args.seed}. Held-out PSNR: mean over the centre "
        f"{photo_train.VAL_CROP}x{photo_train.VAL_CROP} crops of {', '.join(photo_data.HELD_OUT)}, Gaussian "
        "noise clipped to [0, 1] (seed 0), no sigma given to the models.",
        "",
        main,
        "",
        "Each pair: PSNR with the option minus without it (positive: the option helps).",
        "",
        pairs,
        "",
    ])


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.photo_ablations", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0, help="training wall time of every run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a tiny network, a few steps: checks the pipeline only")
    p.add_argument("--results", default=str(RESULTS), metavar="MD", help="the table (and .json beside it)")
    p.add_argument("--only", nargs="+", choices=list(CONFIGS), default=list(CONFIGS),
                   help="make only these runs (the table needs all of them; the .json has any)")
    args = p.parse_args(argv)
    if not args.minutes > 0:
        p.error(f"--minutes must be > 0, got {args.minutes}")
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    photo_data.require_root()
    common = ["--seed", str(args.seed)] + (QUICK if args.quick else [])
    t0 = time.perf_counter()
    results = {name: run(name, common, args.minutes, args.quick) for name in args.only}
    out = Path(args.results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"command": argv, "runs": results}, indent=1) + "\n")
    written = [out.with_suffix(".json")]
    if all(w in results for _, a, b in PAIRS for w in (a, b)):
        text = report(results, args, argv, time.perf_counter() - t0)
        out.write_text(text)
        print(text)
        written.append(out)
    print("wrote " + " and ".join(map(str, written)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
