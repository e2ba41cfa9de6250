"""Which cases of a diff are compared as rates over their samples, and their verdicts.

One sample against one sample says nothing about a model that answers differently each time, so a
case with more than one sample (on either side) is compared as a whole: its pass count at the base
against its pass count at the head, by Fisher's exact test, the p-values adjusted over all such
cases with Holm's method (harness.stats.case_changes). A suite's mean pass rate is tested with
Cochran–Mantel–Haenszel, one stratum per case (harness.stats.suite_change), and when a diff spans
several suites their p-values are Holm-adjusted too: a CI gate fails on any flag, so the chance of
one false alarm is what must stay bounded.

Two sources of the same comparison: ``harness diff`` (the base run against the head run) and a
run that re-records (each sample's baseline status against its new status). A case with only one
sample on both sides, or with no judged sample on one side, is left out: it keeps the per-sample
comparison. Nothing here runs (and scipy is not imported) unless some case has samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from ..stats import case_changes, holm, suite_change
from ..stats.change import Verdict
from .rate_change import ALPHA, CONFIDENCE, CaseRateChange, RateDiff, SuiteRateChange
from .records import CaseRecord
from .samples import Counts, sample_counts

Pairs = dict[str, tuple[Counts, Counts]]


def from_runs(base: Sequence[CaseRecord], head: Sequence[CaseRecord]) -> RateDiff | None:
    """``harness diff``: every case's samples at the base against its samples at the head."""
    multi = {c.node_id for c in (*base, *head) if c.sample > 0}
    if not multi:
        return None
    before, after = sample_counts(base), sample_counts(head)
    pairs = {node: (before[node], now) for node, now in after.items()
             if node in multi and node in before and before[node][1] and now[1]}
    return _diff(pairs, head)


def from_baselines(cases: Sequence[CaseRecord]) -> RateDiff | None:
    """A re-recording run: each sample's baseline (the answer its cassette held) against its new answer."""
    multi = {c.node_id for c in cases if c.sample > 0}
    if not multi:
        return None
    sampled = [c for c in cases if c.node_id in multi]
    before = sample_counts(replace(c, status=c.baseline_status or "skipped") for c in sampled)
    after = sample_counts(sampled)
    pairs = {node: (before[node], now) for node, now in after.items() if before[node][1] and now[1]}
    return _diff(pairs, cases)


def _diff(pairs: Pairs, cases: Iterable[CaseRecord]) -> RateDiff | None:
    if not pairs:
        return None
    where = {c.node_id: (c.suite_path, c.suite) for c in cases}
    changes = case_changes(pairs, alpha=ALPHA, confidence=CONFIDENCE)
    nodes = list(changes)
    rose = holm([changes[n].p_improved for n in nodes])  # the adjusted p of a rise, for cases that rose
    out = []
    for i, node in enumerate(nodes):
        change = changes[node]
        up = change.verdict == "improved" or (change.verdict != "regressed" and change.head.rate > change.base.rate)
        out.append(CaseRateChange(node, where[node][0], change, rose[i] if up else change.p_adjusted))
    return RateDiff(tuple(out), _suites(pairs, where))


def _suites(pairs: Pairs, where: dict[str, tuple[str, str]]) -> tuple[SuiteRateChange, ...]:
    grouped: dict[str, Pairs] = {}
    for node, pair in pairs.items():
        grouped.setdefault(where[node][0], {})[node] = pair
    names = {path: name for path, name in where.values()}
    tests = {path: suite_change(group, alpha=ALPHA) for path, group in grouped.items()}
    paths = list(tests)
    worse = holm([tests[p].p_regressed for p in paths])
    better = holm([tests[p].p_improved for p in paths])
    out = []
    for i, path in enumerate(paths):
        test = tests[path]
        verdict: Verdict = ("regressed" if worse[i] < ALPHA else "improved" if better[i] < ALPHA
                            else "no significant change")
        up = verdict == "improved" or (verdict != "regressed" and (test.head_mean or 0) > (test.base_mean or 0))
        out.append(SuiteRateChange(path, names[path], test, better[i] if up else worse[i], verdict))
    return tuple(out)
