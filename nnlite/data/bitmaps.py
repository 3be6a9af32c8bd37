"""The tiny bitmaps drawn for nnlite: a 5x7 dot-matrix font and 12x12 emojis.

Both sets are plain text files in the top-level ``datasets/`` folder of the source tree, installed as
the package data ``nnlite.datasets`` (``setup.cfg`` maps one to the other). Their formats are
documented in ``datasets/README.md``; in short, one header line per bitmap followed by its rows, with
``#`` for ink, ``+`` for half ink (emojis only) and ``.`` for background.

>>> from nnlite.data import load_font5x7, load_emoji12
>>> X, chars = load_font5x7()          # X: (32, 35) float32 in {0, 1}; chars: '`', 'a', ..., '█'
>>> E, names = load_emoji12()          # E: (N, 144) float32 in {0, 0.5, 1}; names: 'smile', ...
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

FONT_ROWS, FONT_COLS = 7, 5
EMOJI_SIZE = 12

#: Pixel value of each character of the text format.
PIXEL_VALUES = {"#": 1.0, "+": 0.5, ".": 0.0}

#: How the font draws code 0x7F (DEL): a full block.
FULL_BLOCK = "\u2588"

__all__ = ["load_font5x7", "load_emoji12", "read_bitmap_file", "FONT_ROWS", "FONT_COLS", "EMOJI_SIZE"]


def _read_text(filename: str) -> tuple[str, str]:
    """Text of a data file and where it came from: the installed package data first, then the checkout."""
    try:
        from importlib.resources import files

        resource = files("nnlite.datasets").joinpath(filename)
        if resource.is_file():
            return resource.read_text(encoding="utf-8"), str(resource)
    except (ModuleNotFoundError, FileNotFoundError, TypeError):  # pragma: no cover - depends on install
        pass
    # Source checkout without the package mapping: <repo>/nnlite/data/bitmaps.py -> <repo>/datasets/
    path = Path(__file__).resolve().parents[2] / "datasets" / filename
    if path.is_file():
        return path.read_text(encoding="utf-8"), str(path)
    raise FileNotFoundError(
        f"nnlite data file {filename!r} not found: neither in the installed package 'nnlite.datasets' nor at "
        f"{path}. Reinstall nnlite (pip install -e .) or run from a source checkout."
    )


def read_bitmap_file(text: str, keyword: str, rows: int, cols: int, allowed: str = "#+.",
                     source: str = "<string>") -> tuple[list[str], list[np.ndarray]]:
    """Parse the text format shared by both data sets.

    Parameters
    ----------
    text : str
        The file's text. ``;`` starts a comment line; blank lines are ignored.
    keyword : str
        The header word (``"glyph"`` or ``"emoji"``): ``<keyword> <rest of line>`` starts a bitmap.
    rows, cols : int
        The size every bitmap must have.
    allowed : str
        The pixel characters accepted (subset of ``#+.``).

    Returns
    -------
    headers : list of str
        The text after the keyword on each header line.
    bitmaps : list of ndarray of shape ``(rows, cols)``, float64 in [0, 1]
    """
    headers, bitmaps, current = [], [], None

    def close(lineno):
        if current is not None and len(current) != rows:
            raise ValueError(f"{source}: bitmap {headers[-1]!r} has {len(current)} rows, expected {rows} "
                             f"(ends before line {lineno})")
        if current is not None:
            bitmaps.append(np.array([[PIXEL_VALUES[c] for c in row] for row in current]))

    lines = text.splitlines()
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith(keyword + " "):
            close(lineno)
            headers.append(line[len(keyword) + 1:].strip())
            current = []
            continue
        if current is None:
            raise ValueError(f"{source}:{lineno}: pixel row {line!r} before the first '{keyword}' header")
        if len(line) != cols or any(c not in allowed for c in line):
            raise ValueError(f"{source}:{lineno}: row {line!r} of {headers[-1]!r} must be {cols} characters "
                             f"from {allowed!r}")
        if len(current) == rows:
            raise ValueError(f"{source}:{lineno}: bitmap {headers[-1]!r} has more than {rows} rows")
        current.append(line)
    close(len(lines) + 1)
    return headers, bitmaps


def _finish(bitmaps, flatten, dtype):
    X = np.stack(bitmaps).astype(dtype)  # (N, rows, cols)
    return X.reshape(len(X), -1) if flatten else X


def load_font5x7(flatten: bool = True, dtype=np.float32):
    """The 32 glyphs of the 5x7 font: `` ` a-z { | } ~`` and a full block (codes 0x60-0x7F).

    Parameters
    ----------
    flatten : bool, default True
        Return rows of 35 pixels (row-major: 7 rows of 5) instead of ``(7, 5)`` images.
    dtype : numpy dtype, default float32

    Returns
    -------
    X : ndarray of shape ``(32, 35)`` (or ``(32, 7, 5)``), values in {0, 1}
    chars : list of str
        The character each glyph draws: ``chr(code)``, except the full block ``'█'`` for 0x7F.
    """
    text, source = _read_text("font5x7.txt")
    headers, bitmaps = read_bitmap_file(text, "glyph", FONT_ROWS, FONT_COLS, allowed="#.", source=source)
    chars = []
    for h in headers:
        code = int(h.split()[0], 16)
        chars.append(FULL_BLOCK if code == 0x7F else chr(code))
    return _finish(bitmaps, flatten, dtype), chars


def load_emoji12(flatten: bool = True, dtype=np.float32):
    """The 12x12 emojis: faces (smile, laugh, frown, wink, ...) and symbols (heart, star, sun, moon, ...).

    Parameters
    ----------
    flatten : bool, default True
        Return rows of 144 pixels (row-major) instead of ``(12, 12)`` images.
    dtype : numpy dtype, default float32

    Returns
    -------
    X : ndarray of shape ``(N, 144)`` (or ``(N, 12, 12)``), values in {0, 0.5, 1}; N >= 24
    names : list of str
        One name per emoji (``'smile'``, ``'heart'``, ...).
    """
    text, source = _read_text("emoji12.txt")
    names, bitmaps = read_bitmap_file(text, "emoji", EMOJI_SIZE, EMOJI_SIZE, allowed="#+.", source=source)
    return _finish(bitmaps, flatten, dtype), names
