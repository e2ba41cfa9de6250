"""Gates: the conditions that turn a run or a diff into an exit status for CI.

Pure functions over records, so ``harness run``, ``harness diff`` and a test all decide the same
way. Each condition is a named Gate with a sentence a reviewer can act on; the exit status is
3 when cassettes are missing or stale (nothing was judged), else 1 when any gate is not met.

``--fail-on`` chooses what a failing case means:
- ``failed`` (default): every failed or errored case fails the run, unless the suite's
  ``min_pass_rate`` is met (errors are never excused).
- ``changed``: as ``failed``, and any answer that differs from its baseline fails the run too.
- ``regressed``: only cases that fail now although their baseline passed (or that have no
  baseline at all) fail the run; failures the baseline already had are tolerated. In ``harness
  run`` the baseline exists only for re-recorded cases; ``harness diff`` has one for every case.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import EXIT_CASSETTE, EXIT_FAILED, EXIT_OK
from .report.records import CaseRecord, Comparison, Gate, RunRecord, SuiteRecord, totals

FAIL_ON = ("failed", "changed", "regressed")


def _names(cases: Iterable[CaseRecord], limit: int = 5) -> str:
    cases = list(cases)
    shown = ", ".join(c.key for c in cases[:limit])
    return shown + (f" and {len(cases) - limit} more" if len(cases) > limit else "")


def _suites(run: RunRecord) -> list[tuple[SuiteRecord, list[CaseRecord]]]:
    by_path = run.by_suite()
    known = {s.path for s in run.suites}
    out = [(s, by_path.get(s.path, [])) for s in run.suites]
    out += [(SuiteRecord(cases[0].suite, path), cases) for path, cases in by_path.items() if path not in known]
    return out


def pass_rate_gate(suite: str, minimum: float, statuses: Iterable[str]) -> Gate | None:
    """A suite's ``min_pass_rate`` over its cases' statuses, or None when none of them ran.

    The one rule for both doors: ``harness run`` feeds it its case records, the pytest door the
    statuses its items report (summed across xdist workers). Skipped cases (``skip:``, over a
    ``--max-cost`` budget, not started) say nothing about the prompt, so they are not in the
    rate; errors, stale and missing cases are, as cases that did not pass.
    """
    ran = [s for s in statuses if s != "skipped"]
    if not ran:
        return None
    passed = sum(s == "passed" for s in ran)
    rate = passed / len(ran)
    met = rate >= float(minimum)
    return Gate(f"{suite}: min_pass_rate", met,
                f"{suite}: pass rate {rate:.2%} ({passed}/{len(ran)}) "
                f"{'meets' if met else 'is below'} min_pass_rate {float(minimum):.2%}")


def _pass_rates(run: RunRecord) -> list[tuple[str, Gate]]:
    out = []
    for suite, cases in _suites(run):
        minimum = suite.options.get("min_pass_rate")
        if minimum is None:
            continue
        gate = pass_rate_gate(suite.name, float(minimum), (c.status for c in cases))
        if gate is not None:
            out.append((suite.path, gate))
    return out


def pass_rate_gates(run: RunRecord) -> list[Gate]:
    """``min_pass_rate`` per suite (skipped cases do not count), as runner.suite_gates reads it."""
    return [gate for _, gate in _pass_rates(run)]


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
                                         f"(no price for the model); cannot check max_cost_usd ${float(budget):.4f}"))
            continue
        met = t.cost_usd <= float(budget)
        out.append(Gate(name, met, f"{suite.name}: cost ${t.cost_usd:.4f} "
                                   f"{'within' if met else 'exceeds'} max_cost_usd ${float(budget):.4f}"))
    return out


def failure_gate(run: RunRecord, fail_on: str = "failed") -> Gate:
    """What failing cases mean under ``--fail-on`` (see the module docstring)."""
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {FAIL_ON}, got {fail_on!r}")
    errors = [c for c in run.cases if c.status == "error"]
    if fail_on == "regressed":
        bad = [c for c in run.cases if c.regressed or c.status == "error"]
        tolerated = sum(c.failing for c in run.cases) - len(bad)
        note = f" ({tolerated} failure(s) that the baseline already had are tolerated)" if tolerated else ""
        if bad:
            return Gate("regressions", False, f"{len(bad)} case(s) regressed: {_names(bad)}{note}")
        return Gate("regressions", True, "no regressions" + note)
    excused = {path for path, gate in _pass_rates(run) if gate.met}
    bad = [c for c in run.cases if c.status == "error" or (c.status == "failed" and c.suite_path not in excused)]
    if bad:
        return Gate("failures", False, f"{len(bad)} case(s) failed: {_names(bad)}"
                    + (f" ({len(errors)} error(s))" if errors else ""))
    return Gate("failures", True, "no failures")


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
                    f"the cost increase against ${max_increase_usd:.4f}")
    met = delta <= max_increase_usd + 1e-12
    return Gate("max cost increase", met, f"cost ${base.cost_usd:.4f} → ${head.cost_usd:.4f} "
                                          f"({delta:+.4f}) {'within' if met else 'exceeds'} the allowed "
                                          f"increase of ${max_increase_usd:.4f}")


def evaluate(run: RunRecord, *, fail_on: str = "failed", comparison: Comparison | None = None,
             max_cost_increase: float | None = None) -> tuple[int, list[Gate]]:
    """(exit status, every gate) for a run, or for the head of a comparison."""
    gates = [failure_gate(run, fail_on)]
    if fail_on == "changed":
        gates.append(change_gate(run))
    gates += pass_rate_gates(run) + cost_gates(run)
    if max_cost_increase is not None:
        if comparison is None:
            raise ValueError("max_cost_increase needs a comparison (harness diff)")
        gates.append(cost_increase_gate(comparison, max_cost_increase))
    if any(c.status in ("stale", "missing") for c in run.cases):
        return EXIT_CASSETTE, gates
    return (EXIT_OK if all(g.met for g in gates) else EXIT_FAILED), gates
