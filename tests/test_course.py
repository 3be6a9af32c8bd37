"""The backprop course (docs/course): every chapter runs, draws, asserts, checks a gradient, points to exercises.

The documentation build executes each chapter (sphinx-gallery), so a chapter that fails here would fail
``make docs``; this file finds it in about half a minute without building the site. Each chapter runs in
its own process with ``MPLBACKEND=Agg``, as sphinx-gallery runs it: through ``runpy`` in one process with
the next chapter, which is why a chapter must leave the ops backend as it found it.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "docs" / "course"
CHAPTERS = sorted(COURSE.glob("[0-9][0-9]_*.py"))

# Runs a chapter as sphinx-gallery does (runpy, __main__), then reports what a docs build depends on.
RUNNER = """
import json, runpy, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import nnlite.ops
before = nnlite.ops.backend()
runpy.run_path(sys.argv[1], run_name="__main__")
print("\\nCOURSE-REPORT " + json.dumps({"backend_before": before, "backend_after": nnlite.ops.backend(),
                                        "figures": len(plt.get_fignums())}))
"""


def _ids(paths):
    return [p.stem for p in paths]


def test_the_course_has_at_least_14_chapters_numbered_in_order():
    assert len(CHAPTERS) >= 14, f"only {len(CHAPTERS)} chapters in {COURSE}"
    numbers = [int(p.name[:2]) for p in CHAPTERS]
    assert numbers == list(range(1, len(CHAPTERS) + 1)), f"chapter numbers {numbers} are not 1..{len(CHAPTERS)}"
    for path in CHAPTERS:
        title = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")), clean=True).splitlines()[0]
        assert title.startswith(f"{int(path.name[:2])}. "), f"{path.name}: title {title!r} does not carry its number"


@pytest.mark.parametrize("path", CHAPTERS, ids=_ids(CHAPTERS))
def test_chapter_draws_asserts_checks_and_points_to_exercises(path):
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    assert re.search(r"\bplt\.(subplots|figure)\(", source), f"{path.name}: no figure (plt.subplots / plt.figure)"
    asserts = [n for n in ast.walk(tree) if isinstance(n, ast.Assert)]
    testing = re.findall(r"np\.testing\.assert_\w+\(", source)
    # an assert on something other than a gradient check's result: a hand-derived value against the code
    derived = [a for a in asserts if "passed" not in ast.unparse(a.test)]
    assert derived or testing, f"{path.name}: no assertion of a hand-derived result (only printed comparisons?)"
    assert re.search(r"\b(gradcheck|check_gradient|check_loss_gradients)\(", source), \
        f"{path.name}: no gradient check"
    assert any("passed" in ast.unparse(a.test) for a in asserts), f"{path.name}: a gradient check whose result is " \
                                                                   "not asserted"
    assert re.search(r"^# Exercises\n# -+$", source, re.M), f"{path.name}: no Exercises section"


@pytest.mark.parametrize("path", CHAPTERS, ids=_ids(CHAPTERS))
def test_exercise_files_a_chapter_names_exist(path):
    named = set(re.findall(r"docs/course/exercises/[\w/]+\.py", path.read_text(encoding="utf-8")))
    missing = sorted(n for n in named if not (ROOT / n).is_file())
    assert not missing, f"{path.name} points to exercises that do not exist: {missing}"


@pytest.mark.parametrize("path", CHAPTERS, ids=_ids(CHAPTERS))
def test_chapter_runs_draws_and_restores_the_backend(path, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("NNLITE_BACKEND", None)
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(path)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"{path.name} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
    line = [s for s in proc.stdout.splitlines() if s.startswith("COURSE-REPORT ")]
    assert line, f"{path.name}: no report line in its output"
    report = json.loads(line[-1][len("COURSE-REPORT "):])
    assert report["figures"] >= 1, f"{path.name}: ran without drawing a figure"
    assert report["backend_after"] == report["backend_before"], \
        f"{path.name} left the ops backend at {report['backend_after']!r} (it was {report['backend_before']!r}): " \
        "the next chapter of a docs build would run on it"
    assert "FAILED: max relative error" not in proc.stdout and "<-- FAIL" not in proc.stdout, \
        f"{path.name}: a failed gradient check in its output"
    assert "PASSED: max relative error" in proc.stdout, f"{path.name}: no printed gradient check result (a " \
                                                       "GradcheckResult) in its output"
    assert not list(tmp_path.iterdir()), f"{path.name} wrote files: {sorted(p.name for p in tmp_path.iterdir())}"
