"""Command line: ``python -m nnlite <command>`` (also installed as ``nnlite``).

Each command is a subparser registered by a small ``_add_<command>(subparsers)`` function that sets
``func`` to the function running it, so new commands are added without touching the others::

    python -m nnlite demo --out out        # train the tiny-bitmap models and write the figures
"""
from __future__ import annotations

import argparse
import sys


def _add_demo(subparsers):
    p = subparsers.add_parser(
        "demo", help="train the font autoencoder, the denoiser and the emoji VAE; write figures",
        description="Train a 2-D autoencoder and a denoising autoencoder on the 5x7 font and a VAE on the "
                    "12x12 emojis, print what they achieve and write PNG figures (about a minute on 2 cores).")
    p.add_argument("--out", default="out", metavar="DIR", help="folder for the figures (default: out)")
    p.add_argument("--seed", type=int, default=0, help="random seed for all three models (default: 0)")
    p.add_argument("--quick", action="store_true", help="much shorter trainings, for a smoke test")
    p.set_defaults(func=_run_demo)


def _run_demo(args) -> int:
    from .demo import run_demo

    run_demo(args.out, random_state=args.seed, quick=args.quick)
    return 0


#: Functions that register a subcommand; append to this list to add one.
COMMANDS = [_add_demo]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnlite", description="nnlite: from-scratch neural networks on NumPy.")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    sub.required = True
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
