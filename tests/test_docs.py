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


# ------------------------------------------------------------------------------ reading on a 1280-px screen
#: Injected into a copy of a page: once MathJax has typeset it, records whether the page scrolls
#: sideways and which elements of the article stick out of the text column without a scrolling box
#: of their own.
_MEASURE = """<script>
window.addEventListener("load", function () {
  function clipped(el, stop) {
    for (var p = el.parentElement; p && p !== stop; p = p.parentElement) {
      var s = getComputedStyle(p);
      if (s.overflowX !== "visible" || s.position === "fixed") return true;
    }
    return false;
  }
  function measure() {
    var root = document.documentElement, article = document.querySelector("article") || document.body;
    // The column: the article and its padding (headings reach 8 px into it by design).
    var edge = (document.querySelector(".content") || article).getBoundingClientRect().right, bad = [];
    article.querySelectorAll("*").forEach(function (el) {
      if (el.closest("mjx-assistive-mml")) return;     // MathJax's copy for screen readers, clipped to 1 px
      var r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > edge + 1 && !clipped(el, article)) {
        bad.push(el.tagName.toLowerCase() + (el.className && el.className.baseVal === undefined ?
                 "." + el.className.trim().split(/\\s+/).join(".") : "") + " +" + Math.round(r.right - edge) + "px");
      }
    });
    var eqs = [];   // display equations that still need their own scroll bar
    document.querySelectorAll('mjx-container[display="true"]').forEach(function (eq) {
      if (eq.scrollWidth > eq.clientWidth + 1) {
        eqs.push((eq.scrollWidth / eq.clientWidth).toFixed(2) + "x: " + eq.textContent.trim().slice(0, 50));
      }
    });
    var out = document.createElement("pre");
    out.id = "nnlite-width-check";
    out.textContent = JSON.stringify({page: root.scrollWidth, view: root.clientWidth, article: bad.slice(0, 8),
                                      equations: eqs.slice(0, 8)});
    document.body.appendChild(out);
  }
  var ready = window.MathJax && MathJax.startup && MathJax.startup.promise;
  (ready || Promise.resolve()).then(function () { setTimeout(measure, 500); });   // after nnlite.js fits them
});
</script>"""


def width_check(tmp_path, page: str) -> dict:
    """Open ``page`` at 1280 x 1000 px and measure it (see :data:`_MEASURE`)."""
    import json

    src = SITE / page
    copy = src.with_name(f"_width_check_{src.name}")        # same folder: the page's relative links still work
    copy.write_text(src.read_text(encoding="utf-8").replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    try:
        proc = _run_chromium(tmp_path, "--window-size=1280,1000", "--dump-dom", copy.as_uri(), budget_ms=15000)
    finally:
        copy.unlink()
    found = re.search(r'<pre id="nnlite-width-check">(.*?)</pre>', proc.stdout, flags=re.S)
    assert found, f"{page}: the width check did not run: {proc.stderr[-1500:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                      .replace("&gt;", ">"))


def _api_page(name: str) -> str:
    hits = sorted((SITE / "api" / "generated").glob(f"*.{name}.html"), key=lambda p: len(p.name))
    assert hits, f"no API page for {name} in {SITE / 'api' / 'generated'}"
    return str(hits[0].relative_to(SITE))


def _wide_pages() -> list[str]:
    """Every course chapter and the API pages of every layer, loss and model (the pages with equations)."""
    pages = [str(p.relative_to(SITE)) for p in sorted((SITE / "auto_course").glob("[0-9][0-9]_*.html"))]
    import nnlite

    names = [n for n in dir(nnlite.layers) if isinstance(getattr(nnlite.layers, n), type)
             and issubclass(getattr(nnlite.layers, n), nnlite.Module) and not n.startswith("_")]
    names += ["VAE", "GAN", "ResidualDenoiser", "BCEWithLogitsLoss"]
    pages += [_api_page(n) for n in sorted(set(names))]
    return pages + ["index.html", "generated/results.html"]


def test_no_page_scrolls_sideways_at_1280_px(tmp_path):
    pages = _wide_pages()
    assert len(pages) >= 30, pages
    bad = {}
    for page in pages:
        m = width_check(tmp_path, page)
        if m["page"] > m["view"] or m["article"] or m["equations"]:
            bad[page] = m
    assert not bad, "pages wider than a 1280-px screen (page / view width in px, elements sticking out, " \
                    "display equations still scrolling at the smallest size nnlite.js sets):\n" + \
        "\n".join(f"{p}: {m}" for p, m in bad.items())


def test_wide_equations_are_set_smaller_to_fit(tmp_path):
    # The VAE chapter's KL derivation and Dense's four gradients are wider than the text column at
    # 1280 px in the text size: docs/_static/nnlite.js sets them smaller until they fit.
    for page in (CHAPTER, _api_page("Dense")):
        html = (SITE / page).read_text(encoding="utf-8")
        assert "_static/nnlite.js" in html, f"{page} does not load nnlite.js"
        m = width_check(tmp_path, page)
        assert m["page"] <= m["view"] and not m["article"] and not m["equations"], (page, m)


# ------------------------------------------------------------------------------ what the pages say
def _section(html: str, start: str, end: str) -> str:
    i = html.find(start)
    assert i >= 0, f"{start!r} not found"
    j = html.find(end, i + len(start))
    return html[i:j if j > 0 else None]


@pytest.mark.parametrize("layer", ["Linear", "Dense", "Conv2d", "ReLU", "BatchNorm2d"])
def test_every_layer_page_shows_forward_and_backward_with_their_maths(layer):
    page = SITE / _api_page(layer)
    html = page.read_text(encoding="utf-8")
    for method in ("forward", "backward"):
        anchor = re.search(rf'<dt class="sig[^"]*" id="([\w.]*\.{layer}\.{method})">', html)
        assert anchor, f"{page.name}: no {method} method documented"
        body = _section(html, anchor.group(0), "</dd>")
        assert 'class="math' in body, f"{page.name}: {method} is documented without its maths"


def test_index_starts_with_install_and_a_quick_start_that_mentions_the_photo_denoiser():
    html = (SITE / "index.html").read_text(encoding="utf-8")
    article = _section(html, "<article", "</article>")
    headings = re.findall(r"<h2>(.*?)<a", article)
    assert headings[:2] == ["Install", "Quick start"], headings
    install = re.sub(r"<[^>]+>", "", _section(article, ">Install<", "<h2>"))
    assert "pip install -e ." in install and "make demo" in install, install[:500]
    quick = _section(article, ">Quick start<", "<h2>")
    text = re.sub(r"<[^>]+>", "", quick).replace("&quot;", '"')
    assert 'nnlite.pretrained("photo-denoiser")' in text and "nnlite denoise --model photo" in text, text[:500]


def test_screenshots(tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, page in (("home", "index.html"), ("course_chapter", CHAPTER), ("gallery_page", GALLERY_PAGE),
                       ("api_layer", _api_page("Dense"))):
        out = SHOTS / f"{name}.png"
        out.unlink(missing_ok=True)
        proc = _run_chromium(tmp_path, f"--screenshot={out}", "--window-size=1280,1000", "--hide-scrollbars",
                             (SITE / page).as_uri())
        assert out.is_file() and out.stat().st_size > 20_000, \
            f"no screenshot of {page}: {proc.returncode} {proc.stderr[-1000:]}"
