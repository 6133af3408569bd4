"""A plain aligned text table: left-aligned columns, two spaces apart, no trailing blanks.

    NAME   PROVIDER    ID
    Lucy   ELEVENLABS  de23e340-...

Cells are shown with `str()` (None as "-", lists joined by ", "); wide
characters (CJK, emoji) count as two columns so the columns stay aligned.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

GAP = "  "
EMPTY = "-"


def cell_text(value: object) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, list | tuple):
        return ", ".join(cell_text(v) for v in value) or EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    return " ".join(str(value).split())  # one line per row, whatever the text holds


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """The table as text ending in a newline; headers are printed as given."""
    cells = [list(headers), *([cell_text(v) for v in row] for row in rows)]
    widths = [max(display_width(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [text + " " * (widths[i] - display_width(text)) for i, text in enumerate(row)]
        lines.append(GAP.join(padded).rstrip())
    return "\n".join(lines) + "\n"
