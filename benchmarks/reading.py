"""``python -m benchmarks.reading``: how much code a reader walks through, under ``nnlite.use("reference")``.

Each measurement traces one piece of work (``sys.settrace``, call events only) and counts the
functions of nnlite it enters: how many files they sit in and how many lines they hold (each
distinct function once, its whole source from ``def`` to its last line, docstring included; the
lines without docstrings and comments are given beside). Comprehensions and lambdas count as part of
the function that holds them; a lambda of a module-level table (the reference backend's activations)
counts as its own line. NumPy's own functions are not counted.

Measured, each after one untraced warm-up call (so lazy imports and lazily made state are not counted):

* one ``Conv2d(16, 32, 3, padding=1)`` forward and backward on a ``(8, 16, 16, 16)`` batch;
* one training step of the MLP VAE 784-400-20 at batch 128, ``zero_grad`` to ``Adam.step``.

:data:`BUDGETS` holds the goal of each (``tests/test_bench_reading.py`` asserts them). ``--epoch`` also
times one epoch of that VAE on MNIST-size data (60,000 images; the real MNIST from ``$NNLITE_DATA`` when
it is there) on each backend.
"""
from __future__ import annotations

import argparse
import inspect
import io
import sys
import time
import tokenize
from pathlib import Path

import numpy as np

import nnlite

PACKAGE = Path(nnlite.__file__).resolve().parent


def _code_lines(source: str) -> int:
    """Lines holding code: not blank, not only a comment, not a docstring."""
    lines, previous = set(), tokenize.INDENT
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.STRING and previous in (tokenize.INDENT, tokenize.NEWLINE, tokenize.DEDENT):
            previous = tok.type                                 # a docstring (a string statement)
            continue
        if tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                            tokenize.ENDMARKER):
            lines.update(range(tok.start[0], tok.end[0] + 1))
        if tok.type not in (tokenize.COMMENT, tokenize.NL):
            previous = tok.type
    return len(lines)


def entered(work) -> dict:
    """Run ``work()`` traced; return ``{"files": {path: [function, ...]}, "lines": n, "code_lines": n}``."""
    codes = {}

    def tracer(frame, event, arg):
        code = frame.f_code
        held = code.co_name.startswith("<") and code.co_qualname != "<lambda>"   # part of its function
        if event == "call" and not held:
            path = Path(code.co_filename).resolve()
            if PACKAGE in path.parents:
                codes[(str(path), code.co_firstlineno)] = code
        return None

    sys.settrace(tracer)
    try:
        work()
    finally:
        sys.settrace(None)
    files, lines, code_lines = {}, 0, 0
    for (path, _), code in sorted(codes.items()):
        source = inspect.getsource(code)
        lines += len(source.splitlines())
        code_lines += _code_lines(inspect.cleandoc("\n" + source) if source[0].isspace() else source)
        files.setdefault(str(Path(path).relative_to(PACKAGE.parent)), []).append(code.co_qualname)
    return {"files": files, "lines": lines, "code_lines": code_lines}


def conv2d_step():
    """One ``Conv2d(16, 32, 3, padding=1)`` forward and backward: returns the work to trace."""
    conv = nnlite.Conv2d(16, 32, 3, padding=1, random_state=0)
    x = np.random.default_rng(0).standard_normal((8, 16, 16, 16)).astype(np.float32)

    def work():
        y = conv(x)
        conv.backward(np.ones_like(y))
    return work


def report(name: str, result: dict) -> str:
    out = [f"{name}: {len(result['files'])} files, {result['lines']} lines of entered functions "
           f"({result['code_lines']} without docstrings and comments)"]
    for path, functions in result["files"].items():
        out.append(f"    {path}: {', '.join(functions)}")
    return "\n".join(out)


def vae_step():
    """One training step of ``VAE(latent_dim=20, hidden=(400,))`` on a batch of 128 MNIST-size images:
    ``zero_grad``, the ELBO step (forward and backward), ``Adam.step``. Returns the work to trace."""
    X = np.random.default_rng(0).random((128, 784)).astype(np.float32)
    model = nnlite.VAE(latent_dim=20, hidden=(400,), epochs=1, batch_size=128, random_state=0)
    model.fit(X, verbose=0)                                      # builds the networks (one step)
    opt = nnlite.optim.Adam(model.parameters(), lr=1e-3)

    def work():
        opt.zero_grad()
        model._train_step(X, None)
        opt.step()
    return work


#: What is measured: name -> a function returning the (untraced) work to trace.
MEASUREMENTS = {"Conv2d(16, 32, 3, padding=1) forward + backward": conv2d_step,
                "VAE 784-400-20 training step, batch 128": vae_step}

#: The goal of each measurement: (most lines of entered functions, most files).
BUDGETS = {"Conv2d(16, 32, 3, padding=1) forward + backward": (120, 5),
           "VAE 784-400-20 training step, batch 128": (250, 5)}


def measure(name: str) -> dict:
    """:func:`entered` of one measurement, on the reference backend, after an untraced warm-up."""
    with nnlite.ops.using("reference"):
        work = MEASUREMENTS[name]()
        work()                                                   # warm-up: lazy imports, first-call paths
        return entered(work)


def time_vae_epoch(backend: str) -> tuple[float, str]:
    """Seconds of one epoch of ``VAE(latent_dim=20, hidden=(400,))``, batch 128, on ``backend``."""
    try:
        X, what = nnlite.data.load_mnist("train", download=False).images, "MNIST"
        X = X.reshape(len(X), -1)
    except Exception:                                            # no $NNLITE_DATA: same size, random pixels
        X, what = np.random.default_rng(0).random((60000, 784)).astype(np.float32), "random images"
    with nnlite.ops.using(backend):
        model = nnlite.VAE(latent_dim=20, hidden=(400,), epochs=1, batch_size=128, random_state=0)
        t0 = time.perf_counter()
        model.fit(X, verbose=0)
        return time.perf_counter() - t0, f"{what}, {X.shape[0]} x {X.shape[1]}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.reading", description=__doc__.split("\n\n")[0])
    ap.add_argument("--epoch", action="store_true", help="also time one VAE epoch on each backend")
    args = ap.parse_args(argv)
    met = True
    for name in MEASUREMENTS:
        result = measure(name)
        max_lines, max_files = BUDGETS[name]
        ok = result["lines"] <= max_lines and len(result["files"]) <= max_files
        met &= ok
        print(report(name, result))
        print(f"    goal: <= {max_lines} lines in <= {max_files} files: {'met' if ok else 'NOT MET'}")
    if args.epoch:
        for backend in ("reference", "fast"):
            seconds, data = time_vae_epoch(backend)
            print(f"one VAE 784-400-20 epoch ({data}, batch 128) on {backend!r}: {seconds:.1f} s")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
