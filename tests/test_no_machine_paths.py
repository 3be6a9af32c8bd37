"""No tracked text file names a folder of a development machine: a user's clone has none of them.

Data homes are written relative to the clone (``NNLITE_DATA=../shared/data``) or left to the user.
Scratch outputs under ``/tmp`` in help texts (``--out /tmp/b``) are fine; ``/tmp`` as a data home is not.
"""
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Spelt in pieces so that this file does not match itself.
PATTERNS = {
    "a project machine's work tree": re.compile("/" + "work/"),
    "a root home folder": re.compile("/" + "root/"),
    "a user's home folder": re.compile("/" + r"home/[A-Za-z_][\w.-]*"),
    "a macOS home folder": re.compile("/" + "Users/"),
    "an absolute data home": re.compile("NNLITE_DATA=" + "/"),
}


def _tracked_text_files():
    try:
        names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: git ls-files is not available")
    for name in names.decode().split("\0"):
        path = ROOT / name
        if not name or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:                   # binary: weights, images, archives
            continue
        yield name, data.decode("utf-8", errors="replace")


def test_no_tracked_file_names_a_development_machine_folder():
    hits = []
    for name, text in _tracked_text_files():
        for number, line in enumerate(text.splitlines(), 1):
            what = next((what for what, pattern in PATTERNS.items() if pattern.search(line)), None)
            if what:
                hits.append(f"{name}:{number}: {what}: {line.strip()[:120]}")
    assert not hits, "paths of development machines (use NNLITE_DATA=../shared/data or the user's folder):\n" \
        + "\n".join(hits)


def test_the_patterns_find_what_they_look_for():
    found = {what for what, p in PATTERNS.items()
             for line in ("NNLITE_DATA=" + "/" + "work/shared/data python x.py", "/" + "root/.cache",
                          "/" + "home/alice/data", "/" + "Users/bob/photos", "NNLITE_DATA=" + "/tmp/data")
             if p.search(line)}
    assert found == set(PATTERNS)
    assert not any(p.search(line) for p in PATTERNS.values()
                   for line in ("NNLITE_DATA=../shared/data", "nnlite bench --out /tmp/b", "/usr/bin/chromium"))
