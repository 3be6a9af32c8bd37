"""``nnlite demo`` (the tiny-bitmap models end to end) and ``nnlite bench`` (the benchmarks)."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from ._common import UserError, formatter, say


def add_demo(subparsers):
    p = subparsers.add_parser(
        "demo", help="train the font autoencoder, the denoiser and the emoji VAE; write figures",
        description="Train a 2-D autoencoder and a denoising autoencoder on the 5x7 font and a VAE on the "
                    "12x12 emojis, print what they achieve and write PNG figures (about a minute on 2 cores).",
        epilog="examples:\n  nnlite demo --out out\n  nnlite demo --quick --out /tmp/demo   # a smoke run",
        formatter_class=formatter())
    p.add_argument("--out", default="out", metavar="DIR", help="folder for the figures (default: out)")
    p.add_argument("--seed", type=int, default=0, help="random seed for all three models (default: 0)")
    p.add_argument("--quick", action="store_true", help="much shorter trainings, for a smoke test")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from ..demo import run_demo

    run_demo(args.out, random_state=args.seed, quick=args.quick)
    return 0


_BENCH_EXAMPLES = """examples:
  nnlite bench --quick                 # a smoke run, about 2 minutes on 2 idle cores; tables in a new temporary folder
  nnlite bench --quick --out /tmp/b    # the same, tables in /tmp/b
  nnlite bench                         # the full run (several minutes): updates benchmarks/results/
  nnlite bench --what kernels
  nnlite bench -- --help               # the benchmarks' own options

A run given --quick or --out writes its step and kernel tables (steps.md, kernels.md) there and skips the
compile-time table, so the committed benchmarks/results/ change only in a full run.
"""


def add_bench(sub):
    p = sub.add_parser("bench", help="run the benchmarks (python -m benchmarks); --quick: about 2 minutes",
                       description="Run the benchmarks in the project's benchmarks/ package and print their tables. "
                                   "Extra arguments are passed on.",
                       epilog=_BENCH_EXAMPLES, formatter_class=formatter())
    p.add_argument("--quick", action="store_true",
                   help="fewer steps and repeats: a smoke run of about 2 minutes on 2 idle cores")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="folder for the tables (default: a new temporary folder with --quick, "
                        "benchmarks/results/ otherwise)")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for python -m benchmarks")
    p.set_defaults(func=cmd_bench)


def bench_command(args, root: Path) -> list[str]:
    """The ``python -m benchmarks`` command line for ``nnlite bench``'s arguments."""
    rest = [a for a in args.rest if a != "--"]
    cmd = [sys.executable, "-m", "benchmarks", *(["--quick"] if args.quick else [])]
    out = args.out
    if out is None and args.quick:
        out = tempfile.mkdtemp(prefix="nnlite-bench-")
    if out is not None:
        out = Path(out).expanduser().resolve()
        out.mkdir(parents=True, exist_ok=True)
        cmd += ["--out", str(out / "steps.md"), "--kernels-out", str(out / "kernels.md")]
        if not any(a == "--what" or a.startswith("--what=") for a in rest):
            cmd += ["--what", "steps,kernels"]   # compile times go to benchmarks/results/ only
        say(f"tables go to {out}")
    return cmd + rest


def cmd_bench(args):
    import subprocess

    root = Path(__file__).resolve().parents[2]
    if not (root / "benchmarks" / "__main__.py").exists():
        raise UserError("no benchmarks found: 'python -m benchmarks' needs the project's benchmarks/ folder "
                        "(run from a source checkout)")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    return subprocess.call(bench_command(args, root), env=env, cwd=str(root))
