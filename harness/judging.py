"""Verdicts into a case's status, and the old answer judged by today's checks.

A re-recorded case is compared with the answer its cassette held; judging that baseline with the
checks of today tells a regression (it passed, now it fails) from a failure it already had.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cassettes import Interaction
from .checks.registry import CheckContext, NeedsRecording, Verdict
from .episode import Episode
from .errors import HarnessError
from .output import Output
from .session import Judge, LazySession

if TYPE_CHECKING:  # planning imports nothing of this module; the name is for annotations only
    from .planning import PlannedCase


def status_from(verdicts: list[Verdict], threshold: float | None = None) -> str:
    if any(v.error for v in verdicts):
        return "error"
    if threshold is not None and verdicts:
        return "passed" if weighted_score(verdicts) >= threshold else "failed"
    return "passed" if all(v.passed for v in verdicts) else "failed"


def weighted_score(verdicts: list[Verdict]) -> float:
    """Weighted mean of the checks' scores (a check without a score counts 1 or 0)."""
    total = sum(v.weight for v in verdicts)
    if total == 0:
        return 1.0
    got = sum(v.weight * (v.score if v.score is not None else float(v.passed)) for v in verdicts)
    return got / total


def judge_baseline(item: PlannedCase, baseline: Output | None, episode: Episode | None,
                    stored: list[Interaction] | None, session: LazySession, services: dict) -> str | None:
    """The old answer judged by today's checks, so a re-recording can tell a regression from a
    failure the baseline already had. Unknown (None) when a check cannot judge it offline."""
    if baseline is None:
        return None
    if baseline.error:
        return "error"
    judge = Judge(item, stored, may_record=False, session=session)
    ctx = CheckContext(item.case, episode.steps[-1].request if episode else item.request, baseline,
                       {**services, "judge": judge, "pricing": item.prices}, episode=episode)
    try:
        verdicts = [bound.run(ctx) for bound in item.checks]
    except (NeedsRecording, HarnessError):
        return None
    if any(v.error for v in verdicts):
        return None
    return status_from(verdicts, item.case.threshold)
