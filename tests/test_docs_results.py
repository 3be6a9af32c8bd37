"""The docs' results page is converted from benchmarks/results/*.md: headings may not skip levels
(Sphinx -W fails on "Inconsistent title style"), whatever the Markdown's ``#`` counts are."""
import importlib.util
from pathlib import Path

RESULTS_PY = Path(__file__).parent.parent / "docs" / "_ext" / "results.py"


def _results():
    spec = importlib.util.spec_from_file_location("docs_results", RESULTS_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_heading_that_skips_levels_goes_one_level_below_the_previous():
    results = _results()
    out = results.markdown_to_rst("## Models\n\ntext\n\n##### Detail\n\nmore\n\n### Next\n", level=1)
    underlines = [line[0] for line in out if line and set(line) <= set(results.LEVELS) and len(line) >= 3]
    ranks = [results.LEVELS.index(c) for c in underlines]
    assert ranks == [1, 2, 2], ranks
