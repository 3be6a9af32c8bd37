"""``python -m benchmarks.reading``: how much code a reader walks through, under ``nnlite.use("reference")``.

Each measurement traces one piece of work (``sys.settrace``, call events only) and counts the
functions of nnlite it enters: how many files they sit in and how many lines they hold (each
distinct function once, its whole source from ``def`` to its last line, docstring included; the
lines without docstrings and comments are given beside). Comprehensions and lambdas count as part of
the function that holds them. NumPy's own functions are not counted.

Measured: one ``Conv2d(16, 32, 3, padding=1)`` forward and backward on a ``(8, 16, 16, 16)`` batch,
after one untraced warm-up call (so lazy imports are not counted).
"""
from __future__ import annotations

import inspect
import io
import sys
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
        if event == "call" and not code.co_name.startswith("<"):
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


#: What is measured: name -> a function returning the (untraced) work to trace.
MEASUREMENTS = {"Conv2d(16, 32, 3, padding=1) forward + backward": conv2d_step}


def main():
    nnlite.use("reference")
    for name, make in MEASUREMENTS.items():
        work = make()
        work()                                                   # warm-up: lazy imports, first-call paths
        print(report(name, entered(work)))


if __name__ == "__main__":
    main()
