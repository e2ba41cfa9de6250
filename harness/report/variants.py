"""A suite's variants: the models (and wire APIs) each of its cases runs on, and their labels.

``models:`` and ``api: [chat, responses]`` are the same kind of axis: the same prompt, answered by
a different model or through a different API. Reports name each such variant by one label, the
model (``gpt-4o``), with the API after it when the suite runs on several (``gpt-4o · responses``),
so the per-model summary and the side-by-side view agree on what a column is. Kept apart from
records.py and side_by_side.py so both can use it without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .records import CaseRecord

Variant = tuple[str, str]  # (model, api)


def labels(cases: Iterable[CaseRecord]) -> dict[Variant, str]:
    """Each (model, api) of the cases -> its label, in order of first appearance."""
    variants = list(dict.fromkeys((c.model, c.api) for c in cases))
    several_apis = len({api for _, api in variants}) > 1
    return {(model, api): f"{model} · {api}" if several_apis else model for model, api in variants}


def by_variant(cases: Iterable[CaseRecord]) -> list[tuple[str, list[CaseRecord]]]:
    """The cases split by variant (label, cases), in order of first appearance."""
    cases = list(cases)
    named = labels(cases)
    out: dict[str, list[CaseRecord]] = {label: [] for label in named.values()}
    for c in cases:
        out[named[(c.model, c.api)]].append(c)
    return list(out.items())
