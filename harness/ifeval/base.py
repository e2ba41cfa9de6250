"""Shared types and small helpers for the IFEval checkers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from harness.ifeval.text import snippet

Verdict = tuple[bool, str]
Kwargs = Mapping[str, Any]
Checker = Callable[[str, Kwargs], Verdict]

AT_LEAST = "at least"
LESS_THAN = "less than"
RELATIONS = (AT_LEAST, LESS_THAN)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def relation_verdict(count: int, relation: str, target: int, what: str) -> Verdict:
    ok = count >= target if relation == AT_LEAST else count < target
    return ok, f"{what}, need {relation} {target}"


def quote(text: str, limit: int = 60) -> str:
    return repr(snippet(text, limit))
