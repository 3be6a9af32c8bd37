"""The built course pages, opened in headless Chromium: each has typeset equations and at least one figure.

Runs with ``tests/test_docs.py`` under ``make docs-test`` (``NNLITE_DOCS_TEST=1``, after the site is built),
with its helpers (``dump_dom``, ``walk``) and its skip rule; a plain ``make test`` skips it.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.environ.get("NNLITE_DOCS_TEST") != "1",
                                reason="docs tests run through `make docs-test` (NNLITE_DOCS_TEST=1), "
                                       "which builds the site first")

sys.path.insert(0, str(Path(__file__).resolve().parent))   # test_docs.py's helpers, whatever pytest's import mode
from test_docs import SITE, dump_dom, walk  # noqa: E402

COURSE_SRC = Path(__file__).resolve().parents[1] / "docs" / "course"
CHAPTERS = sorted(p.stem for p in COURSE_SRC.glob("[0-9][0-9]_*.py"))


def test_every_chapter_has_a_page():
    built = sorted(p.stem for p in (SITE / "auto_course").glob("[0-9][0-9]_*.html"))
    assert built == CHAPTERS, f"chapters {CHAPTERS} but pages {built}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_course_page_has_typeset_equations_and_a_figure(chapter, tmp_path):
    page = f"auto_course/{chapter}.html"
    dom = dump_dom(tmp_path, page)
    w = walk(dom)
    assert w.math_nodes >= 3, f"{page}: only {w.math_nodes} math elements"
    assert w.typeset_math == w.math_nodes, f"{page}: MathJax typeset {w.typeset_math} of {w.math_nodes} math elements"
    text = " ".join(w.visible)
    for raw in ("\\frac", "\\partial", "\\mathrm", "\\("):
        assert raw not in text, f"{page}: raw TeX {raw!r} left in the visible text"
    figures = [attrs.get("src", "") for tag, attrs, _ in w.tags
               if tag == "img" and any(c.startswith("sphx-glr-") and c.endswith("-img")
                                       for c in (attrs.get("class") or "").split())]
    assert figures, f"{page}: no figure"
    for src in figures:
        f = (SITE / "auto_course" / src).resolve()
        assert f.is_file() and f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{page}: figure {src} is not a PNG file"
    assert "PASSED: max relative error" in dom, f"{page}: the executed gradient check's output is missing"
