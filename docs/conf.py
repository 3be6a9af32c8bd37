"""Sphinx configuration of the nnlite documentation: API reference, backprop course, gallery, results.

Build with ``make docs`` (HTML in ``docs/_build/html``). Nothing is fetched from the network: MathJax
comes from the ``sphinx-mathjax-offline`` package and is copied beside the pages.
"""
import os
import sys
from pathlib import Path

import nnlite

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))                # docs/_ext: the results-table generator and the gallery scraper

from _ext import gallery, results  # noqa: E402

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ["NNLITE_QUICK"] = os.environ.get("NNLITE_QUICK", "1")   # the gallery runs the examples' quick setting

project = "nnlite"
author = "the nnlite authors"
copyright = "the nnlite authors, MIT licence"
version = release = nnlite.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "gallery_src/GALLERY_HEADER.rst", "course/GALLERY_HEADER.rst", "**/out",
                    "**/sg_execution_times.rst", "sg_execution_times.rst"]
# sphinx-gallery's configuration holds callables, which Sphinx cannot pickle into its environment cache.
suppress_warnings = ["config.cache"]

# -- API reference -----------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource"}
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_inherit_docstrings = True
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_preprocess_types = False
napoleon_custom_sections = ["Shape", ("Class attributes", "params_style"), ("Example", "Examples")]
nitpicky = False
default_role = "py:obj"

# -- HTML --------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"nnlite {release}"
html_static_path = ["_static"]
html_css_files = ["nnlite.css"]
html_js_files = ["nnlite.js"]           # wide display equations shrink to fit the text column
html_theme_options = {"navigation_with_keys": True}
html_show_sourcelink = False
html_last_updated_fmt = None
mathjax3_config = {"tex": {"macros": {}}}

# -- Gallery: the backprop course (docs/course) and every script of examples/ ------------------
gallery.sync_examples(ROOT / "examples", DOCS / "gallery_src")

sphinx_gallery_conf = {
    "examples_dirs": ["course", "gallery_src"],
    "gallery_dirs": ["auto_course", "auto_examples"],
    "filename_pattern": r".*\.py$",
    "ignore_pattern": r"__init__\.py|[/\\]exercises[/\\]",   # the course's exercises are graded, not run
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib", gallery.OutFolderScraper()),
    "reset_modules": ("matplotlib", gallery.clear_out_folder),
    "abort_on_example_error": True,
    "download_all_examples": False,
    "show_signature": False,
    "show_memory": False,
    "remove_config_comments": True,
    "capture_repr": ("_repr_html_",),
    "first_notebook_cell": None,
    "min_reported_time": 1,
    "write_computation_times": False,
    "backreferences_dir": None,
    "plot_gallery": "True",
}

# -- Results: the model zoo table is generated from benchmarks/results at build time ------------
results.write_results_page(ROOT / "benchmarks" / "results", DOCS / "generated" / "results.rst")


# -- Docstrings: prose paragraphs after a Parameters/Attributes list --------------------------------
# nnlite's docstrings often end a Parameters or Attributes section with a sentence ("Other parameters
# as in Autoencoder.", a paragraph on crash safety). numpydoc would read that sentence as one more
# parameter name; this hook, run before napoleon, starts a Notes section there instead.
import re  # noqa: E402

_FIELD_SECTIONS = {"parameters", "attributes", "other parameters", "class attributes"}
_FIELD = re.compile(r"^\*{0,2}[A-Za-z_][\w.]*(\s*,\s*\*{0,2}[A-Za-z_][\w.]*)*(\s*:.*)?$")


def _prose_after_fields(app, what, name, obj, options, lines):
    # The API tables show each object's first sentence, cut at the first ". ": an ellipsis inside an
    # inline literal (``f(... x)``) would cut the literal in two. Print it as one character there.
    for k, line in enumerate(lines):
        if not line.strip():
            break
        lines[k] = re.sub(r"``[^`]*``", lambda m: m.group(0).replace("... ", "\u2026 "), line)
    out, section, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and not line.startswith(" ") and re.fullmatch(r"-{3,}", nxt.strip()) \
                and len(nxt.strip()) >= len(line.strip()) - 1:
            section = line.strip().lower()
            out += [line, nxt]
            i += 2
            continue
        if section in _FIELD_SECTIONS and line.strip() and not line.startswith(" ") and not _FIELD.match(line) \
                and " : " not in line:
            if out and out[-1].strip():
                out.append("")
            out += ["Notes", "-----", ""]
            section = "notes"
        out.append(line)
        i += 1
    lines[:] = out


# -- forward and backward on every layer's page ----------------------------------------------------
# A layer's maths lives in its class docstring; its forward/backward methods often have none, and
# autodoc lists only documented members of the class itself. So the member listing leaves them out,
# the class template documents both explicitly (inherited ones too: Dense runs Linear's), and a
# method without its own maths gets the class's (or its module's) equations under a one-line summary.
_PASS_SUMMARY = {
    "forward": "Forward pass: returns the output and keeps what :meth:`backward` needs.",
    "backward": "Backward pass: takes ``dL/dy``, adds each parameter's gradient into its ``.grad`` and returns "
                "``dL/dx``.",
}


def _skip_passes_in_member_lists(app, what, name, obj, skip, options):
    if what == "class" and name in _PASS_SUMMARY:
        return True          # documented by the class template's own automethod entries
    return None


def _resolve(dotted):
    import importlib

    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:]:
            obj = getattr(obj, part, None)
        return obj
    return None


def _math_blocks(doc):
    """The ``.. math::`` directives of a docstring, dedented, each with its indented body."""
    import inspect

    lines, out, i = inspect.cleandoc(doc or "").splitlines(), [], 0
    while i < len(lines):
        if lines[i].strip().startswith(".. math::"):
            indent = len(lines[i]) - len(lines[i].lstrip())
            block = [lines[i][indent:]]
            i += 1
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                block.append(lines[i][indent:])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            out += [""] + block
        else:
            i += 1
    return out


def _passes_with_maths(app, what, name, obj, options, lines):
    method = name.rsplit(".", 1)[-1]
    if what != "method" or method not in _PASS_SUMMARY or any(".. math::" in line for line in lines):
        return
    cls = _resolve(name.rsplit(".", 1)[0])
    if not isinstance(cls, type):
        return
    maths = _math_blocks(cls.__doc__)
    where = f":class:`{cls.__name__}`"
    if not maths:
        module = sys.modules.get(cls.__module__)
        maths = _math_blocks(getattr(module, "__doc__", ""))
        where = f"{where} (from :mod:`{cls.__module__}`)"
    head = [] if lines and lines[0].strip() else [_PASS_SUMMARY[method]]
    tail = ["", f"The maths of {where}:", *maths] if maths else []
    lines[:] = head + lines + tail


def setup(app):
    app.connect("autodoc-process-docstring", _prose_after_fields, priority=400)
    app.connect("autodoc-process-docstring", _passes_with_maths, priority=600)
    app.connect("autodoc-skip-member", _skip_passes_in_member_lists)
