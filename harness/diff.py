"""Comparisons a reviewer reads: what changed in a request (stale) or in an answer (regression)."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any


def _pretty(value: Any) -> list[str]:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def request_diff(recorded: dict[str, Any], current: dict[str, Any], *, max_lines: int = 24) -> str:
    """A short unified diff between a recorded request's canonical form and the current one."""
    lines = list(difflib.unified_diff(_pretty(recorded), _pretty(current), "recorded", "current",
                                      lineterm="", n=1))
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"... ({len(lines) - max_lines} more diff lines)"]
    return "\n".join(lines)


@dataclass(frozen=True)
class Change:
    """How a new answer differs from its baseline. Filled by ``answer_diff``."""

    changed: bool
    kind: str  # "unchanged" | "text" | "json" | "tool_calls" | "status"
    summary: str
    text_diff: str = ""
    similarity: float = 1.0
    details: dict[str, Any] = field(default_factory=dict)
