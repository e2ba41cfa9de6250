"""What a case's rubric judges used, as a value of its own: the run's session fills it in, and
the reports read it back from a saved file (harness merge, harness diff) without the session's
machinery (cassettes, transport, budget) being imported."""

from __future__ import annotations

from dataclasses import dataclass

from .output import Usage


@dataclass(frozen=True)
class JudgeSpend:
    """What a case's judge calls used: their number, summed tokens and cost (None when a judge
    model has no price or an answer no usage: an unknown cost is never shown as 0)."""

    calls: int
    usage: Usage
    cost_usd: float | None
