"""A place inside a schema, written the way readers look for it (``$.properties.age.type``), and the
YAML line it came from.

The line matters because a schema is usually written inline in a suite: an error that names only the
suite's ``response_format`` line leaves the reader to hunt through fifty lines of schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..yamlio import line_of


@dataclass(frozen=True)
class SchemaProblem:
    """One rule a schema breaks: at ``path`` inside the schema (keys and indexes), what is wrong."""

    path: tuple[str | int, ...]
    rule: str

    @property
    def where(self) -> str:
        return json_path_text(self.path)


def json_path_text(path: Sequence[Any]) -> str:
    """``$.a[0]['odd key']`` from a list of keys and indexes."""
    out = "$"
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(p)):
            out += f".{p}"
        else:
            out += f"[{json.dumps(str(p), ensure_ascii=False)}]"
    return out


def line_at(root: Any, path: Sequence[Any]) -> int | None:
    """The YAML line of the deepest node of ``path`` that ``root`` holds (the line of ``root`` when
    the path leaves what was written; None for a schema that did not come from YAML)."""
    node, line = root, line_of(root)
    for step in path:
        try:
            child = node[step]
        except (KeyError, IndexError, TypeError):
            break
        line = line_of(node, step) or line
        node = child
    return line
