"""Markdown's building blocks for untrusted text: table cells, inline code and fences that an
answer cannot break out of, and tables. Shared by the Markdown report and its side-by-side view.

GitHub renders inline HTML in comments, so a cell's text is HTML-escaped as well as kept on one
line with its ``|`` escaped; code spans and fences are made longer than any backtick run inside.
"""

from __future__ import annotations

import html
import re

from .common import trim


def cell(text: str, limit: int = 160) -> str:
    """``text`` as one table cell: one line, at most ``limit`` characters, nothing that renders."""
    text = trim(" ".join(str(text).split()), limit)
    return html.escape(text, quote=False).replace("|", "\\|").replace("`", "\\`") or " "


def code(text: str) -> str:
    """Inline code that no backtick inside can close early."""
    text = str(text)
    run = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * (run + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fence(text: str, lang: str = "") -> str:
    run = max((len(m) for m in re.findall(r"`{3,}", text)), default=0)
    ticks = "`" * max(3, run + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"


def table(header: list[str], rows: list[list[str]], more: int = 0) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    if more:
        out.append(f"\n_… and {more} more_")
    return out + [""]
