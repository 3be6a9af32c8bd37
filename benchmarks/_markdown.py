"""A Markdown table with padded columns, shared by the benchmark scripts that print and save tables."""
from __future__ import annotations


def table(headers, rows) -> str:
    """``headers`` (list) and ``rows`` (list of lists, any values) -> a Markdown table, columns padded."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    return "\n".join([line, sep, *body])
