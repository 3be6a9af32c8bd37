"""Gallery plumbing: copy the examples beside the docs, and show the PNG files they write as figures.

The examples draw with ``matplotlib.figure.Figure`` (no pyplot) and save their figures in ``out/``,
so sphinx-gallery's matplotlib scraper does not see them. :class:`OutFolderScraper` moves every PNG
an example wrote in ``out/`` (relative to the example's folder, the working directory sphinx-gallery
runs it in) into the gallery's image folder and embeds it, in the order the files were written.
"""
import os
import shutil
import subprocess
from pathlib import Path

from sphinx_gallery.scrapers import figure_rst

HEADER = """\
Gallery
=======

Every script of the repository's ``examples/`` folder, run when the documentation is built, with its
printed output and the figures it wrote. The build runs each script's quick setting (``NNLITE_QUICK=1``:
fewer images and epochs, stated at the top of each page's output) so that the whole site builds in a
few minutes; run a script yourself without it for the full result. Scripts that need a real dataset
find it through ``NNLITE_DATA`` (``make docs`` points it at ``../shared/data``).
"""


def example_scripts(src: Path) -> list[Path]:
    """The scripts of ``src`` that the repository holds (``git ls-files``; every ``*.py`` outside git)."""
    try:
        out = subprocess.run(["git", "ls-files", "--", "*.py"], cwd=src, capture_output=True, text=True,
                             check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return sorted(src.glob("*.py"))
    return sorted(src / name for name in out if "/" not in name)


def sync_examples(src: Path, dst: Path) -> None:
    """Mirror the example scripts of ``src`` into ``dst`` (the gallery's source folder) with a header."""
    dst.mkdir(parents=True, exist_ok=True)
    scripts = example_scripts(src)
    wanted = {p.name for p in scripts}
    for old in dst.glob("*.py"):
        if old.name not in wanted:
            old.unlink()
    for p in scripts:
        target = dst / p.name
        if not target.exists() or target.read_bytes() != p.read_bytes():
            shutil.copyfile(p, target)
    header = dst / "GALLERY_HEADER.rst"
    if not header.exists() or header.read_text() != HEADER:
        header.write_text(HEADER)


def _out_folder() -> Path:
    return Path(os.getcwd()) / "out"


def clear_out_folder(gallery_conf, fname, when=None):
    """Before each example: empty the ``out/`` folders so that only its own files are shown."""
    for root in gallery_conf["examples_dirs"]:
        folder = Path(gallery_conf["src_dir"]) / root / "out"
        if folder.is_dir():
            shutil.rmtree(folder)


class OutFolderScraper:
    """Embed the PNG files a code block wrote in ``out/``, oldest first."""

    def __call__(self, block, block_vars, gallery_conf):
        folder = _out_folder()
        if not folder.is_dir():
            return ""
        new = sorted(folder.rglob("*.png"), key=lambda p: (p.stat().st_mtime_ns, p.name))
        paths = []
        for png, dest in zip(new, block_vars["image_path_iterator"]):
            shutil.move(str(png), dest)
            paths.append(dest)
        return figure_rst(paths, gallery_conf["src_dir"])

    def __repr__(self):
        return "OutFolderScraper"
