"""Command line: ``python -m nnlite <command>`` (also installed as ``nnlite``).

One module per family of commands, each command a pair: ``add_<name>(subparsers)`` declares the
arguments and examples, ``cmd_<name>(args)`` does the work and returns the exit code.

* :mod:`.main`: the parser, :func:`main`, exit codes and one-line errors;
* :mod:`.train`: ``train`` (with :mod:`.progress`: progress bar, budgeted checkpoints, Ctrl-C);
* :mod:`.inference`: ``denoise``, ``sample``, ``interpolate``, ``latent`` on a trained checkpoint;
* :mod:`.gradcheck`: ``gradcheck`` of every public layer, loss and model;
* :mod:`.tools`: ``demo`` and ``bench``;
* :mod:`._common`: errors, argument types, model names, checkpoints and figures they share.

::

    python -m nnlite demo --out out        # train the tiny-bitmap models and write the figures
    nnlite train vae --data fashion-mnist --latent-dim 20 --hidden 400 --epochs 10 --out runs/vae
    nnlite train vae ... --out runs/vae --resume          # continue a stopped run, bit for bit
    nnlite denoise runs/dae/checkpoint.npz my_scan.png    # any size: tiles for MLP models
    nnlite sample runs/vae/checkpoint.npz -n 64
    nnlite interpolate runs/vae/checkpoint.npz 0 7
    nnlite latent runs/vae/checkpoint.npz --method pca
    nnlite gradcheck                                      # every layer's backward vs central differences
    nnlite bench --quick                                  # python -m benchmarks, tables in a scratch folder

Exit codes: 0 success, 1 error (one line on stderr; ``--debug`` shows the traceback), 2 usage error,
130 stopped by Ctrl-C (``train`` first writes a checkpoint and prints how to resume).
"""
from ._common import UserError
from .main import COMMANDS, build_parser, main

__all__ = ["main", "build_parser", "COMMANDS", "UserError"]
