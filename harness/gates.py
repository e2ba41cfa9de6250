"""Gates: the conditions that turn a run or a diff into an exit status for CI.

Pure functions over records, so ``harness run``, ``harness diff`` and a test all decide the same
way. Each condition is a named Gate with a sentence a reviewer can act on; the exit status is
3 when cassettes are missing or stale (nothing was judged), else 1 when any gate is not met.

A case with samples counts once, by the status its samples add up to (report/sampled.py: its own
gates, or every sample passing), and a suite's pass rate is then the mean of its cases' rates.

``--fail-on`` chooses what a failing case means:
- ``failed`` (default): every failed or errored case fails the run, unless the suite's
  ``min_pass_rate`` is met (errors are never excused).
- ``changed``: as ``failed``, and any answer that differs from its baseline fails the run too.
- ``regressed``: failures the baseline already had are tolerated; every other failing case
  (its baseline passed, or it has no baseline to excuse it) fails the run. In ``harness run`` the
  baseline exists only for re-recorded cases (a plain replay has none, so the CLI refuses the
  flag there); ``harness diff`` has one for every case that exists at the base.
  A case with more than one sample is judged as a whole instead (report/diff_samples.py): it fails
  the gate only when its pass rate dropped significantly (Fisher's exact test, Holm-adjusted over
  the sampled cases), and each suite with sampled cases gets a gate that fails when its mean pass
  rate dropped significantly (Cochran–Mantel–Haenszel). Failing samples with no significant drop
  are noise, not regressions; a sample that ends in error still fails the gate (errors never pass).

A budget stop (``--max-cost`` kept cases from being sent or judged) makes a run incomplete: exit 4,
after missing or stale cassettes (3) and before failing gates (1).

A run of one shard (``--shard K/N``, shard.py) holds part of each suite, so what only a whole suite
can decide is left to ``harness merge``, which joins the shards and evaluates every gate as one
unsharded run would: a suite's ``min_pass_rate`` and ``max_cost_usd`` gates, its pass-rate drop
(``--fail-on regressed`` with samples), and whether a failing case in a suite with a
``min_pass_rate`` is tolerated. On the shard those gates are met with a text saying that merge
decides them, and such failing cases do not fail it. Everything judged per case still decides the
shard's exit status: any other failing case, an error (never excused), a case's own gates on its
samples (all its samples run on one shard), changed answers, regressions, stale or missing cassettes
(3) and the budget (4). Orphans are looked for over whole suites on every shard.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import EXIT_BUDGET, EXIT_CASSETTE, EXIT_FAILED, EXIT_OK
from .pricing import usd
from .report import diff_samples
from .report.rate_change import RateDiff, case_line, suite_line
from .report.records import CaseRecord, Comparison, Gate, RunRecord, SuiteRecord, totals
from .report.sampled import Outcome, outcomes, suite_rate

FAIL_ON = ("failed", "changed", "regressed")
#: ``--fail-on orphans`` (beside one of FAIL_ON): cassettes no case owns fail the run too.
ORPHANS = "orphans"


@dataclass(frozen=True)
class FailOnOptions:
    """``--fail-on`` as given: what failing cases mean, and whether orphan cassettes fail the run."""

    cases: str = "failed"
    orphans: bool = False

    @classmethod
    def parse(cls, values: str | Iterable[str]) -> FailOnOptions:
        """``"orphans"``, ``"regressed,orphans"``, ``["changed", "orphans"]``...: at most one of
        FAIL_ON (default ``failed``), and ``orphans``. ValueError names what is wrong."""
        words = [w.strip() for v in ([values] if isinstance(values, str) else values) for w in v.split(",")]
        unknown = [w for w in words if w not in (*FAIL_ON, ORPHANS)]
        if unknown:
            raise ValueError(f"unknown --fail-on {unknown[0]!r} (use {', '.join(FAIL_ON)}, and/or {ORPHANS})")
        modes = list(dict.fromkeys(w for w in words if w in FAIL_ON))
        if len(modes) > 1:
            raise ValueError(f"--fail-on takes one of {', '.join(FAIL_ON)} (got {', '.join(modes)}); "
                             f"{ORPHANS} may go with any of them")
        return cls(modes[0] if modes else "failed", ORPHANS in words)


def _names(cases: Iterable[CaseRecord | Outcome], limit: int = 5) -> str:
    cases = list(cases)
    shown = ", ".join(c.key for c in cases[:limit])
    return shown + (f" and {len(cases) - limit} more" if len(cases) > limit else "")


def _suites(run: RunRecord) -> list[tuple[SuiteRecord, list[CaseRecord]]]:
    by_path = run.by_suite()
    known = {s.path for s in run.suites}
    out = [(s, by_path.get(s.path, [])) for s in run.suites]
    out += [(SuiteRecord(cases[0].suite, path), cases) for path, cases in by_path.items() if path not in known]
    return out


def pass_rate_gate(suite: str, minimum: float, samples: Iterable[tuple[str, str]]) -> Gate | None:
    """A suite's ``min_pass_rate`` over its samples' (case node id, status), or None when none ran.

    The one rule for both doors: ``harness run`` feeds it its case records, the pytest door the
    statuses its items report (summed across xdist workers). Skipped cases (``skip:``, over a
    ``--max-cost`` budget, not started) say nothing about the prompt, so they are not in the
    rate; errors, stale and missing cases are, as cases that did not pass. With samples the rate
    is the mean of the cases' rates (report/sampled.py), so each case weighs the same.
    """
    measured = suite_rate(samples)
    if measured is None:
        return None
    met = measured.rate >= float(minimum)
    verdict = f"{'meets' if met else 'is below'} min_pass_rate {float(minimum):.2%}"
    if measured.sampled:
        return Gate(f"{suite}: min_pass_rate", met,
                    f"{suite}: pass rate {measured.rate:.2%} (mean of {measured.cases} cases' rates; "
                    f"{measured.passed}/{measured.samples} samples passed) {verdict}")
    return Gate(f"{suite}: min_pass_rate", met,
                f"{suite}: pass rate {measured.rate:.2%} ({measured.passed}/{measured.samples}) {verdict}")


def _pass_rates(run: RunRecord) -> list[tuple[str, Gate]]:
    out = []
    for suite, cases in _suites(run):
        minimum = suite.options.get("min_pass_rate")
        if minimum is None:
            continue
        gate = pass_rate_gate(suite.name, float(minimum), ((c.node_id, c.status) for c in cases))
        if gate is not None:
            out.append((suite.path, gate))
    return out


def pass_rate_gates(run: RunRecord) -> list[Gate]:
    """``min_pass_rate`` per suite (skipped cases do not count), as runner.suite_gates reads it."""
    return [gate for _, gate in _pass_rates(run)]


@dataclass(frozen=True)
class Tolerated:
    """A suite whose failing cases its met ``min_pass_rate`` tolerates: shown as one line."""

    suite: str
    path: str
    failed: int
    rate: float
    minimum: float

    @property
    def text(self) -> str:
        return (f"{self.suite}: {self.failed} failed, tolerated: pass rate {self.rate:.1%} "
                f"≥ min_pass_rate {percent(self.minimum)}")


def percent(value: float) -> str:
    """A rate the user wrote (0.705), as written (70.5%): a limit is never rounded."""
    return f"{value * 100:.10g}%"


def tolerated_failures(run: RunRecord) -> list[Tolerated]:
    """Suites whose failures ``--fail-on failed`` tolerates because their gate is met (none on a
    shard: the gate is decided by harness merge)."""
    if run.shard is not None:
        return []
    met = {path for path, gate in _pass_rates(run) if gate.met}
    if not met:
        return []
    failing = Counter(u.suite_path for u in outcomes(run) if u.status == "failed")  # one pass, not one per suite
    out = []
    for suite, cases in _suites(run):
        failed = failing[suite.path]
        if suite.path not in met or not failed:
            continue
        measured = suite_rate((c.node_id, c.status) for c in cases)
        if measured is not None:
            out.append(Tolerated(suite.name, suite.path, failed, measured.rate,
                                 float(suite.options["min_pass_rate"])))
    return out


def cost_gates(run: RunRecord) -> list[Gate]:
    """``max_cost_usd`` per suite. A case without a known price makes the budget unprovable, and
    an unprovable budget is not met (a missing price must never pass a budget)."""
    out = []
    for suite, cases in _suites(run):
        budget = suite.options.get("max_cost_usd")
        if budget is None:
            continue
        t = totals(cases)
        name = f"{suite.name}: max_cost_usd"
        if t.cost_unknown:
            out.append(Gate(name, False, f"{suite.name}: cost unknown for {t.cost_unknown} case(s) "
                                         f"(no price for the model); cannot check max_cost_usd "
                                         f"{usd(float(budget), exact=True)}"))
            continue
        met = t.cost_usd <= float(budget)
        judge = f" (judge {usd(t.judge_cost_usd)})" if t.judge_calls else ""
        out.append(Gate(name, met, f"{suite.name}: cost {usd(t.cost_usd)}{judge} "
                                   f"{'within' if met else 'exceeds'} max_cost_usd {usd(float(budget), exact=True)}"))
    return out


def failure_gate(run: RunRecord, fail_on: str = "failed", samples: RateDiff | None = None) -> Gate:
    """What failing cases mean under ``--fail-on`` (see the module docstring); ``samples`` holds the
    verdicts of the cases compared as rates, which ``regressed`` uses instead of their samples'."""
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {FAIL_ON}, got {fail_on!r}")
    if fail_on == "regressed":
        return _regression_gate(run, samples)
    excused = {path for path, gate in _pass_rates(run) if gate.met}
    if run.shard is not None:  # whether the gate tolerates them is decided over the whole suite
        excused = {s.path for s, _ in _suites(run) if s.options.get("min_pass_rate") is not None}
    units = outcomes(run)  # a sampled case counts once, by its own status (report/sampled.py)
    errors = [u for u in units if u.status == "error"]
    failing = [u for u in units if u.status == "error" or (u.status == "failed" and u.suite_path not in excused)]
    if failing:
        return Gate("failures", False, f"{len(failing)} case(s) failed: {_names(failing)}"
                    + (f" ({len(errors)} error(s))" if errors else ""))
    tolerated = sum(u.status == "failed" for u in units)
    if tolerated and run.shard is not None:
        return Gate("failures", True, f"{tolerated} failure(s) in suites with a min_pass_rate gate: "
                    f"shard {run.shard.text} leaves them to harness merge")
    if tolerated:  # every one in a suite whose min_pass_rate is met: say so, never "no failures"
        return Gate("failures", True, f"{tolerated} tolerated failure(s) (min_pass_rate gate met)")
    return Gate("failures", True, "no failures")


def _regression_gate(run: RunRecord, samples: RateDiff | None) -> Gate:
    by_rate = samples.node_ids if samples else frozenset()
    single = [c for c in run.cases if c.node_id not in by_rate]
    bad = [c for c in single if c.failing and not c.excused]
    tolerated = sum(c.excused for c in single)
    notes = [f"{tolerated} failure(s) that the baseline already had are tolerated"] if tolerated else []
    parts = []
    if samples is not None:
        dropped = samples.regressed
        if dropped:
            shown = "; ".join(case_line(c, samples) for c in dropped[:5])
            more = f"; and {len(dropped) - 5} more" if len(dropped) > 5 else ""
            parts.append(f"{len(dropped)} sampled case(s) regressed significantly: {shown}{more}")
        errored = [c for c in run.cases if c.node_id in by_rate and c.status == "error"]
        if errored:
            parts.append(f"{len(errored)} sample(s) ended in error: {_names(errored)}")
        if samples.noisy:
            notes.append(f"{len(samples.noisy)} sampled case(s) with failing samples but no significant drop "
                         "are not regressions")
    regressed = [c for c in bad if c.regressed]
    other = [c for c in bad if not c.regressed]
    if regressed:
        parts.append(f"{len(regressed)} case(s) regressed: {_names(regressed)}")
    if other:
        parts.append(f"{len(other)} failing case(s) with no failing baseline to excuse them: {_names(other)}")
    note = f" ({'; '.join(notes)})" if notes else ""
    if parts:
        return Gate("regressions", False, "; ".join(parts) + note)
    return Gate("regressions", True, "no regressions" + note)


def suite_drop_gates(samples: RateDiff) -> list[Gate]:
    """Per suite with sampled cases: its mean pass rate must not have dropped significantly."""
    return [Gate(f"{s.name}: pass rate drop", s.verdict != "regressed", suite_line(s)) for s in samples.suites]


def budget_gate(run: RunRecord) -> Gate | None:
    """Cases ``--max-cost`` kept from being sent or judged: the run is incomplete."""
    skipped = [c for c in run.cases if c.budget_skipped]
    if not skipped:
        return None
    return Gate("max-cost", False, f"{len(skipped)} case(s) skipped by budget (--max-cost): {_names(skipped)}")


def orphan_gate(run: RunRecord) -> Gate:
    """``--fail-on orphans``: every suite run whole has no cassette that no case owns."""
    if not run.orphans_checked:
        return Gate("orphans", True, "orphan cassettes not checked: no suite was run whole (-k or FILE::CASE)")
    if run.orphans:
        shown = ", ".join(o.shown for o in run.orphans[:5])
        more = f" and {len(run.orphans) - 5} more" if len(run.orphans) > 5 else ""
        return Gate("orphans", False, f"{len(run.orphans)} cassette(s) no case owns: {shown}{more}")
    return Gate("orphans", True, f"no cassette without a case in the {run.orphans_checked} suite(s) run whole")


def change_gate(run: RunRecord) -> Gate:
    changed = [c for c in run.cases if c.changed]
    if changed:
        return Gate("changes", False, f"{len(changed)} answer(s) changed: {_names(changed)}")
    return Gate("changes", True, "no answer changed")


def cost_increase_gate(comparison: Comparison, max_increase_usd: float) -> Gate:
    """The head's total cost may exceed the base's by at most ``max_increase_usd`` (added cases
    count: they are real new spending). Unknown prices make the increase unprovable: not met."""
    base, head = comparison.base_totals, comparison.head_totals
    delta = head.cost_usd - base.cost_usd
    if head.cost_unknown or base.cost_unknown:
        return Gate("max cost increase", False,
                    f"cost unknown for {head.cost_unknown + base.cost_unknown} case(s); cannot check "
                    f"the cost increase against {usd(max_increase_usd, exact=True)}")
    met = delta <= max_increase_usd + 1e-12
    return Gate("max cost increase", met, f"cost {usd(base.cost_usd)} → {usd(head.cost_usd)} "
                                          f"({'+' if delta >= 0 else '-'}{usd(abs(delta))}) "
                                          f"{'within' if met else 'exceeds'} the allowed "
                                          f"increase of {usd(max_increase_usd, exact=True)}")


def shard_gates(run: RunRecord, drops: Iterable[Gate] = ()) -> list[Gate]:
    """On a shard, the suite gates merge decides: met here, saying so (see the module docstring)."""
    assert run.shard is not None
    where = f"shard {run.shard.text}"
    out = []
    for suite, cases in _suites(run):
        for key in ("min_pass_rate", "max_cost_usd"):
            if suite.options.get(key) is not None:
                out.append(Gate(f"{suite.name}: {key}", True, f"{suite.name}: {key} is decided by harness merge "
                                f"over every shard ({where} ran {len(cases)} of its case(s))"))
    out += [Gate(g.name, True, f"{g.name}: decided by harness merge over every shard ({where})") for g in drops]
    return out


def evaluate(run: RunRecord, *, fail_on: str = "failed", comparison: Comparison | None = None,
             max_cost_increase: float | None = None, orphans: bool = False) -> tuple[int, list[Gate]]:
    """(exit status, every gate) for a run, or for the head of a comparison; ``orphans`` adds
    the gate of ``--fail-on orphans``. A shard's suite gates are left to harness merge."""
    samples = None
    if fail_on == "regressed":  # a diff's own rates; a re-recording run's against its baselines
        samples = comparison.samples if comparison is not None else diff_samples.from_baselines(run.cases)
    gates = [failure_gate(run, fail_on, samples)]
    drops = suite_drop_gates(samples) if samples else []
    if fail_on == "changed":
        gates.append(change_gate(run))
    if run.shard is not None:
        gates += shard_gates(run, drops)
    else:
        gates += drops + pass_rate_gates(run) + cost_gates(run)
    stopped = budget_gate(run)
    gates += [stopped] if stopped else []
    gates += [orphan_gate(run)] if orphans else []
    if max_cost_increase is not None:
        if comparison is None:
            raise ValueError("max_cost_increase needs a comparison (harness diff)")
        gates.append(cost_increase_gate(comparison, max_cost_increase))
    if any(c.status in ("stale", "missing") for c in run.cases):
        return EXIT_CASSETTE, gates
    if stopped:
        return EXIT_BUDGET, gates
    return (EXIT_OK if all(g.met for g in gates) else EXIT_FAILED), gates
