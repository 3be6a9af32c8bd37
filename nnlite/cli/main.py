"""The parser and :func:`main`: every command registered, errors as one line, exit codes."""
from __future__ import annotations

import argparse
import os
import sys

from ._common import UserError
from .gradcheck import add_gradcheck
from .inference import add_denoise, add_interpolate, add_latent, add_sample
from .tools import add_bench, add_demo
from .train import add_train

#: Functions that register a subcommand; append to this list to add one.
COMMANDS = [add_demo, add_train, add_denoise, add_sample, add_interpolate, add_latent, add_gradcheck, add_bench]

#: Exit codes: success, an error (one line on stderr), a usage error (argparse), Ctrl-C (128 + SIGINT),
#: a closed output pipe (128 + SIGPIPE, as other Unix tools that stop writing to ``head``).
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 1, 2, 130, 141


def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    parser = argparse.ArgumentParser(prog="nnlite", description="nnlite: from-scratch neural networks on NumPy.",
                                     epilog="Run 'nnlite <command> --help' for a command's options and examples. "
                                            "Exit codes: 0 ok, 1 error, 2 usage, 130 Ctrl-C.")
    parser.add_argument("--version", action="version", version=f"nnlite {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    sub.required = True
    for add in COMMANDS:
        add(sub)
    for command in sub.choices.values():  # --debug also after the command name
        if "--debug" not in command._option_string_actions:
            command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                                 help="show the full traceback on errors")
    return parser


def _expected_errors():
    """Exceptions that are the user's to fix: printed as one line (exit 1) unless --debug."""
    from .. import TrainingDivergedError
    from ..checkpoint import CheckpointError
    from ..data import DatasetError
    from ..images import ImageError

    return (UserError, CheckpointError, ImageError, DatasetError, TrainingDivergedError, ValueError, TypeError,
            OSError)


def _quiet_stdout():
    """After a closed pipe: send what is left of stdout nowhere, so the exit does not fail on flushing."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file descriptor (captured in a test)
        pass
    finally:
        os.close(devnull)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        if getattr(args, "command", None) == "bench":  # options of python -m benchmarks pass through
            args.rest = list(args.rest) + unknown
        else:
            parser.parse_args(argv)  # prints the usage error and exits with status 2
    args.argv = argv
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("nnlite: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except _expected_errors() as exc:
        if args.debug:
            raise
        msg = str(exc).strip() or type(exc).__name__
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in msg:
            msg = f"{exc.filename}: {msg}"
        print(f"nnlite {args.command}: error: {' '.join(msg.split())}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - a bug: still one line, with the way to the traceback
        if args.debug:
            raise
        print(f"nnlite {args.command}: internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
              "(run again with --debug for the traceback, and please report it)", file=sys.stderr)
        return EXIT_ERROR
