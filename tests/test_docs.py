"""The built documentation site, opened in headless Chromium: typeset math, gallery thumbnails, search.

``make docs-test`` builds the site (``docs/_build/html``) and runs this file with ``NNLITE_DOCS_TEST=1``.
Without that variable (a plain ``make test``) the file is skipped: building the site takes minutes.
Screenshots of the home page, a course chapter and a gallery page go to ``docs/_build/screenshots/``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "docs" / "_build" / "html"
SHOTS = ROOT / "docs" / "_build" / "screenshots"
CHAPTER = "auto_course/12_vae_elbo.html"             # the chapter with the most equations
GALLERY_PAGE = "auto_examples/font_autoencoder.html"

pytestmark = pytest.mark.skipif(os.environ.get("NNLITE_DOCS_TEST") != "1",
                                reason="docs tests run through `make docs-test` (NNLITE_DOCS_TEST=1), "
                                       "which builds the site first")


def example_names() -> list[str]:
    """The examples the site shows: the scripts of examples/ that git tracks (all of them outside git)."""
    try:
        out = subprocess.run(["git", "ls-files", "--", "*.py"], cwd=ROOT / "examples", capture_output=True,
                             text=True, check=True).stdout.split()
        return sorted(Path(n).stem for n in out if "/" not in n)
    except (OSError, subprocess.CalledProcessError):
        return sorted(p.stem for p in (ROOT / "examples").glob("*.py"))


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("no chromium on PATH: `make docs-test` installs Debian's chromium package")


def _run_chromium(tmp_path, *args, budget_ms=8000) -> subprocess.CompletedProcess:
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
           "--allow-file-access-from-files", f"--user-data-dir={tmp_path / 'profile'}",
           f"--virtual-time-budget={budget_ms}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def dump_dom(tmp_path, page: str, query: str = "") -> str:
    """The page's DOM after its scripts ran (MathJax, search), as chromium serialises it."""
    assert (SITE / page).is_file(), f"{page} not built in {SITE}"
    url = (SITE / page).as_uri() + query
    proc = _run_chromium(tmp_path, "--dump-dom", url)
    assert proc.returncode == 0, f"chromium failed on {url}: {proc.stderr[-2000:]}"
    assert "<html" in proc.stdout, f"chromium dumped no DOM for {url}: {proc.stderr[-2000:]}"
    return proc.stdout


class _Walker(HTMLParser):
    """Collects start tags with their attributes, the class stack, and text outside code and math."""

    SKIP = {"script", "style", "pre", "code", "mjx-container", "noscript", "textarea"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict]] = []
        self.tags: list[tuple[str, dict, list[tuple[str, dict]]]] = []
        self.visible: list[str] = []
        self.math_nodes = 0          # Sphinx's math wrappers: <span|div class="math ...">
        self.typeset_math = 0        # ... that contain a MathJax <mjx-container>
        self._math_depth: list[int] = []

    def _skipping(self) -> bool:
        return any(t in self.SKIP for t, _ in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs, list(self.stack)))
        classes = (attrs.get("class") or "").split()
        if tag in ("span", "div") and "math" in classes:
            self.math_nodes += 1
            self._math_depth.append(len(self.stack))
        if tag == "mjx-container" and self._math_depth:
            self.typeset_math += 1
            self._math_depth.pop()
        if tag not in self.VOID:
            self.stack.append((tag, attrs))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break
        while self._math_depth and self._math_depth[-1] >= len(self.stack):
            self._math_depth.pop()             # a math wrapper closed without a typeset child

    def handle_data(self, data):
        if not self._skipping():
            self.visible.append(data)


def walk(html: str) -> _Walker:
    w = _Walker()
    w.feed(html)
    return w


def test_every_page_loads_nothing_from_outside():
    pages = list(SITE.rglob("*.html"))
    assert len(pages) > 20, f"only {len(pages)} pages built in {SITE}"
    outside = re.compile(r"^\s*(https?:)?//", re.I)
    bad = []
    for page in pages:
        w = walk(page.read_text(encoding="utf-8", errors="replace"))
        for tag, attrs, _ in w.tags:
            url = attrs.get("src") if tag in ("script", "img", "iframe") else None
            url = attrs.get("href") if tag == "link" else url
            if url and outside.match(url):
                bad.append(f"{page.relative_to(SITE)}: <{tag}> {url}")
    assert not bad, "pages load resources from outside:\n" + "\n".join(bad[:20])
    assert (SITE / "_static" / "mathjax" / "tex-chtml.js").is_file(), "the bundled MathJax was not copied"


def test_course_chapter_equations_are_typeset(tmp_path):
    dom = dump_dom(tmp_path, CHAPTER)
    w = walk(dom)
    assert w.math_nodes >= 10, f"{CHAPTER}: only {w.math_nodes} math elements in the page"
    assert w.typeset_math == w.math_nodes, (f"{CHAPTER}: MathJax typeset {w.typeset_math} of {w.math_nodes} "
                                            "math elements")
    text = " ".join(w.visible)
    for raw in ("\\frac", "\\partial", "\\mathrm", "\\("):
        assert raw not in text, f"{CHAPTER}: raw TeX {raw!r} left in the visible text"
    assert "PASSED: max relative error" in dom, f"{CHAPTER}: the executed gradient check's output is missing"


def test_every_course_chapter_ran_its_gradient_check():
    chapters = sorted((SITE / "auto_course").glob("[0-9][0-9]_*.html"))
    assert len(chapters) >= 8, f"only {len(chapters)} course chapters built"
    for page in chapters:
        html = page.read_text(encoding="utf-8")
        assert "max relative error" in html, f"{page.name}: no gradient check in its output"
        assert "&lt;-- FAIL" not in html and "FAILED: max relative error" not in html, \
            f"{page.name}: a failed gradient check in its output"


def test_gallery_thumbnails_load(tmp_path):
    page = "auto_examples/index.html"
    w = walk(dump_dom(tmp_path, page))
    thumbs = [attrs.get("src", "") for tag, attrs, stack in w.tags
              if tag == "img" and any("sphx-glr-thumbcontainer" in (a.get("class") or "") for _, a in stack)]
    examples = example_names()
    assert len(thumbs) == len(examples), f"{len(thumbs)} thumbnails for {len(examples)} examples: {thumbs}"
    for src in thumbs:
        f = (SITE / "auto_examples" / src).resolve()
        assert f.is_file() and f.stat().st_size > 1000, f"thumbnail {src} is missing or empty ({f})"
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"thumbnail {src} is not a PNG"
    generated = [s for s in thumbs if "no_image" not in s]
    assert len(generated) == len(examples), f"examples without a figure of their own: {set(thumbs) - set(generated)}"


def test_gallery_pages_say_whether_they_ran_quick():
    for name in example_names():
        html = (SITE / "auto_examples" / f"{name}.html").read_text(encoding="utf-8")
        assert "quick setting (NNLITE_QUICK=1)" in html or "full run (NNLITE_QUICK is not set)" in html, \
            f"gallery page {name}.html does not say whether it ran with the quick setting"


def test_search_finds_convvae(tmp_path):
    dom = dump_dom(tmp_path, "search.html", "?q=ConvVAE", )
    w = walk(dom)
    hits = [attrs.get("href", "") for tag, attrs, stack in w.tags
            if tag == "a" and any(t == "ul" and "search" in (a.get("class") or "").split() for t, a in stack)]
    assert any("ConvVAE" in h for h in hits), f"search for ConvVAE found: {hits[:10]}"


def test_screenshots(tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, page in (("home", "index.html"), ("course_chapter", CHAPTER), ("gallery_page", GALLERY_PAGE)):
        out = SHOTS / f"{name}.png"
        out.unlink(missing_ok=True)
        proc = _run_chromium(tmp_path, f"--screenshot={out}", "--window-size=1280,1000", "--hide-scrollbars",
                             (SITE / page).as_uri())
        assert out.is_file() and out.stat().st_size > 20_000, \
            f"no screenshot of {page}: {proc.returncode} {proc.stderr[-1000:]}"
