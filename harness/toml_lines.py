"""A TOML table with line numbers, so ``[tool.harness]`` errors name their line as harness.yaml's do.

The standard library's tomllib returns plain dicts and forgets positions, and taking on a second
TOML parser only to learn line numbers would be a dependency for one error message. TOML writes
every key on a line of its own, as a table header (``[a.b]``, ``[[a.b]]``) or as ``key = value``
with a bare, quoted or dotted key, so the line of a key path can be read off the text: this module
does that, and the values tomllib parsed are then wrapped in yamlio's LineDict/LineList. A value
inside an inline table or a multi-line array is placed on the line of the key that holds it.
"""

from __future__ import annotations

import re
from typing import Any

from .yamlio import LineDict, LineList

_KEY_PART = r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+'
_DOTTED = re.compile(rf"\s*(?:{_KEY_PART})(?:\s*\.\s*(?:{_KEY_PART}))*\s*")
_PART = re.compile(_KEY_PART)
_ASSIGN = re.compile(rf"^({_DOTTED.pattern})=")
_HEADER = re.compile(rf"^\[\[?({_DOTTED.pattern})\]\]?")

Path_ = tuple[str, ...]


def _parts(dotted: str) -> Path_:
    out = []
    for part in _PART.findall(dotted):
        if part[0] in "\"'":
            part = part[1:-1].encode().decode("unicode_escape") if part[0] == '"' else part[1:-1]
        out.append(part)
    return tuple(out)


def key_lines(text: str) -> dict[Path_, int]:
    """The first line (1-based) of every table header and key the text writes, by its full path."""
    found: dict[Path_, int] = {}
    table: Path_ = ()
    in_string: str | None = None  # inside a multi-line string: its quote
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if in_string is not None:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        header = _HEADER.match(line)
        if header:
            table = _parts(header.group(1))
            found.setdefault(table, number)
            continue
        assign = _ASSIGN.match(line)
        if assign:
            found.setdefault(table + _parts(assign.group(1)), number)
            rest = line[assign.end():]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_string = quote
    return found


def with_lines(value: Any, path: Path_, lines: dict[Path_, int]) -> Any:
    """``value`` (parsed at ``path``) with LineDict/LineList containers carrying their lines."""

    def line_at(at: Path_) -> int:
        for end in range(len(at), 0, -1):
            if at[:end] in lines:
                return lines[at[:end]]
        return 0

    if isinstance(value, dict):
        out = LineDict()
        out.line = line_at(path)
        out.key_lines = {}
        for key, item in value.items():
            out[key] = with_lines(item, (*path, str(key)), lines)
            out.key_lines[key] = line_at((*path, str(key)))
        return out
    if isinstance(value, list):
        seq = LineList(with_lines(item, path, lines) for item in value)
        seq.line = line_at(path)
        seq.item_lines = [seq.line] * len(value)
        return seq
    return value


__all__ = ["key_lines", "with_lines"]
