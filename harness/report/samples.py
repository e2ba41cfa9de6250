"""A case's samples, counted: the one bridge from case records to harness/stats.

Samples of one case share its node id (``suite.yaml::id``; matrix and model values are part of the
id, the sample suffix ``#n`` is not). Only judged samples count: passed against failed or error;
a stale, missing or skipped sample says nothing about the model.
"""

from __future__ import annotations

from collections.abc import Iterable

from .records import FAILING, CaseRecord

Counts = tuple[int, int]  # (passed, n)


def sample_counts(cases: Iterable[CaseRecord]) -> dict[str, Counts]:
    """Node id -> (passed, judged samples), in the order cases first appear."""
    out: dict[str, list[int]] = {}
    for case in cases:
        slot = out.setdefault(case.node_id, [0, 0])
        if case.status == "passed":
            slot[0] += 1
            slot[1] += 1
        elif case.status in FAILING:
            slot[1] += 1
    return {key: (passed, n) for key, (passed, n) in out.items()}

