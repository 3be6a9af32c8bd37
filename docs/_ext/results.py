"""Turn ``benchmarks/results/*.md`` (and the ``skipped`` notes of its ``*.json``) into the Results page.

The benchmark scripts write their tables as GitHub Markdown; this module converts the subset they use
(headings, paragraphs, bullet lists, pipe tables, inline code, bold, links) to reStructuredText, so
the numbers on the site are the files' numbers and are never retyped. The model zoo
(``models.md``, written by ``python -m benchmarks --what models``) comes first when it exists.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

ZOO = "models.md"
LEVELS = "=-~^\"'"          # RST underline characters for markdown #, ##, ### ... below the page title
_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")
_SPECIAL = re.compile(r"([\\*_|`<>\[\]])")


def inline(text: str) -> str:
    """Markdown inline markup (``code``, **bold**, [links](url)) as RST; everything else escaped."""
    text = _LINK.sub(lambda m: m.group(1), text)
    out = []
    for i, part in enumerate(re.split(r"(`[^`]*`)", text)):
        if i % 2:                                     # a code span
            code = part[1:-1].strip()
            out.append(f"``{code}``" if code else "")
            continue
        pieces = re.split(r"(\*\*[^*]+\*\*)", part)
        for j, piece in enumerate(pieces):
            if j % 2:
                out.append("**" + _SPECIAL.sub(r"\\\1", piece[2:-2].strip()) + "**")
            else:
                for k, bit in enumerate(re.split(r"(?<![*\w])(\*[^*\s][^*]*\*)(?![*\w])", piece)):
                    if k % 2:
                        out.append("*" + _SPECIAL.sub(r"\\\1", bit[1:-1]) + "*")
                    else:
                        out.append(_SPECIAL.sub(r"\\\1", bit))
    s = "".join(out)
    # RST inline markup must be followed by a space or punctuation: separate it from a following letter.
    s = re.sub(r"(``|\*\*)(?=[A-Za-z0-9])(?<=[^\s(]``|[^\s(]\*\*)", r"\1\\ ", s)
    return s


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)]


def _table(rows: list[str]) -> list[str]:
    header = _cells(rows[0])
    body = [_cells(r) for r in rows[2:]]
    n = max([len(header)] + [len(r) for r in body])
    out = [".. list-table::", "   :header-rows: 1", "   :class: results-table", ""]
    for row in [header] + body:
        row = row + [""] * (n - len(row))
        for k, cell in enumerate(row):
            out.append(("   * - " if k == 0 else "     - ") + (inline(cell) or "\\ "))
    out.append("")
    return out


def markdown_to_rst(md: str, level: int = 0) -> list[str]:
    """Convert one results file; its ``#`` headings become RST level ``level``, ``##`` level+1, ...,
    a heading that skips levels (``#`` then ``####``) going one level below the previous one."""
    lines = md.splitlines()
    out: list[str] = []
    open_depths: list[int] = []  # the '#' counts of the headings that enclose the current one
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            out.append("")
            i += 1
            continue
        m = re.match(r"^(#{1,6})\s+(.*)$", line)
        if m:
            title = inline(m.group(2).strip())
            hashes = len(m.group(1))
            while open_depths and open_depths[-1] >= hashes:   # close the siblings and deeper sections
                open_depths.pop()
            open_depths.append(hashes)                          # RST level = nesting, never a skip
            ch = LEVELS[min(level + len(open_depths) - 1, len(LEVELS) - 1)]
            out += ["", title, ch * max(len(title), 3), ""]
            i += 1
            continue
        if line.lstrip().startswith("|") and i + 1 < len(lines) and re.match(r"^\s*\|?\s*:?-{2,}", lines[i + 1]):
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(lines[i])
                i += 1
            out += [""] + _table(rows)
            continue
        if line.startswith("```"):
            i += 1
            block = []
            while i < len(lines) and not lines[i].startswith("```"):
                block.append(lines[i])
                i += 1
            i += 1
            out += ["", "::", ""] + ["   " + b for b in block] + [""]
            continue
        m = re.match(r"^(\s*)[*-]\s+(.*)$", line)
        if m:
            item = [m.group(2)]
            i += 1
            while i < len(lines) and lines[i].strip() and not re.match(r"^\s*[*-]\s+", lines[i]) \
                    and lines[i].startswith(" "):
                item.append(lines[i].strip())
                i += 1
            out.append("* " + inline(" ".join(item)))
            if i < len(lines) and lines[i].strip() and not re.match(r"^\s*[*-]\s+", lines[i]):
                out.append("")
            continue
        para = [line.strip()]
        i += 1
        while i < len(lines) and lines[i].strip() and not re.match(r"^(#|\s*\||\s*[*-]\s|```)", lines[i]):
            para.append(lines[i].strip())
            i += 1
        out += ["", inline(" ".join(para)), ""]
    return out


def _json_notes(folder: Path) -> list[str]:
    out = []
    for p in sorted(folder.glob("*.json")):
        try:
            data = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("skipped"):
            out.append(f"* ``{p.name}``: skipped, {inline(str(data['skipped']))}")
    return out


def write_results_page(folder: Path, target: Path) -> Path:
    """Write the Results page (RST) from the files in ``folder``; tolerate any of them missing."""
    folder, target = Path(folder), Path(target)
    out = [
        ".. _results:", "",
        "Results", "#######", "",
        "Every number on this page is read from the files in the repository's ``benchmarks/results/`` folder "
        "when the documentation is built; each section names the command that wrote it. Rerun that command "
        "to measure on your machine (``make bench`` runs them all).", "",
        "Model zoo", "=========", "",
    ]
    zoo = folder / ZOO
    if zoo.is_file():
        out += markdown_to_rst(zoo.read_text(encoding="utf-8"), level=1)
    else:
        out += ["The model zoo table (``benchmarks/results/models.md``: every model, what it is for, its "
                "quality and its speed beside PyTorch's) is written by ``python -m benchmarks --what models``; "
                "it has not been recorded in this checkout. The per-model measurements below are.", ""]
    out += ["", "All benchmark results", "=====================", ""]
    files = sorted(p for p in folder.glob("*.md") if p.name != ZOO) if folder.is_dir() else []
    for p in files:
        text = p.read_text(encoding="utf-8")
        out += ["", f".. rubric:: from ``benchmarks/results/{p.name}``", ""]
        if not re.match(r"^\s*# ", text):
            title = p.stem.replace("_", " ")
            out += [title, "-" * len(title), ""]
        out += markdown_to_rst(text, level=1)
    notes = _json_notes(folder) if folder.is_dir() else []
    if notes:
        out += ["", "Parts not measured here", "-----------------------", ""] + notes + [""]
    target.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(out) + "\n"
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return target
