"""The line a run ends with (counts, tolerated failures, recorded, pass rate, cost), made from
the run's records: ``harness run`` and ``harness merge`` print it from the same records, so a merged
run's line is the one a single job would have printed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from .common import cost
from .records import RunRecord
from .sampled import CaseSamples, sampled_cases, suite_rate

STATUSES = ("passed", "failed", "error", "stale", "missing", "skipped")


def summary_line(run: RunRecord, elapsed: float, *, tolerated: Iterable[str] = (),
                 sampled: Mapping[str, CaseSamples] | None = None) -> str:
    """The run's last line; ``tolerated``: paths of suites whose failures a gate tolerates."""
    cases = list(run.cases)
    sampled = sampled_cases(run) if sampled is None else sampled
    quiet = set(tolerated)
    counts = Counter(c.status for c in cases if c.node_id not in sampled)
    counts.update(s.status for s in sampled.values())
    excused = sum(c.status == "failed" and c.suite_path in quiet for c in cases if c.node_id not in sampled)
    excused += sum(s.status == "failed" and s.suite_path in quiet for s in sampled.values())
    budget = sum(c.budget_skipped for c in cases)
    labels = {"failed": f"failed ({excused} tolerated)" if excused else "failed",
              "skipped": f"skipped ({budget} by budget)" if budget else "skipped"}
    parts = [f"{counts[s]} {labels.get(s, s)}" for s in STATUSES if counts[s]]
    recorded = sum(c.recorded for c in cases)
    if recorded:
        parts.append(f"{recorded} recorded")
    line = ", ".join(parts or ["no cases"]) + f" in {elapsed:.2f}s"
    if sampled:
        samples = Counter(c.status for c in cases)
        line += " · samples: " + ", ".join(f"{samples[s]} {s}" for s in ("passed", "failed", "error") if samples[s])
        measured = suite_rate((c.node_id, c.status) for c in cases)
        if measured is not None:
            line += f" · pass rate {measured.rate:.1%} (mean of case rates)"
    else:
        ran = len(cases) - counts["skipped"]
        if ran:
            line += f" · pass rate {counts['passed'] / ran:.1%}"
    costs = [c.total_cost_usd for c in cases if c.answer is not None and c.answer.error is None]
    if costs:
        known = sum(c for c in costs if c is not None)
        unknown = sum(c is None for c in costs)
        judges = [c.judge for c in cases if c.judge is not None]
        judge = ""
        if judges:
            judge = (f", of which judge {cost(sum(j.cost_usd or 0.0 for j in judges))} "
                     f"({sum(j.calls for j in judges)} calls)")
        line += f" · cost {cost(known)}" + (f" (+{unknown} unpriced)" if unknown else "") + judge
    return line
