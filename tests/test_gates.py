"""Gates: min_pass_rate, max_cost_usd, --fail-on failed|changed|regressed, --max-cost-increase."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.compare import compare_runs
from harness.diff import Change
from harness.errors import EXIT_CASSETTE, EXIT_FAILED, EXIT_OK
from harness.gates import cost_gates, cost_increase_gate, evaluate, failure_gate, pass_rate_gates
from harness.output import Output, Usage
from harness.report.records import CaseRecord, RunRecord, SuiteRecord
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import CANARY, Project

CHANGED = Change(True, "text", "text changed")


def case(id: str, status: str = "passed", *, cost: float | None = 0.01, baseline: str | None = None,
         new: bool = False, changed: bool = False, suite: str = "s") -> CaseRecord:
    answer = Output("answer", usage=Usage(10, 5, 15)) if status not in ("stale", "missing", "skipped") else None
    return CaseRecord(suite=suite, suite_path=f"{suite}.yaml", id=id, model="gpt-4o", status=status, answer=answer,
                      cost_usd=cost if answer else None, baseline=Output("old") if baseline else None,
                      baseline_status=baseline, new=new, change=CHANGED if changed else None)


def run(*cases: CaseRecord, **options: object) -> RunRecord:
    return RunRecord(cases=cases, suites=(SuiteRecord("s", "s.yaml", ("gpt-4o",), dict(options)),))


def test_fail_on_failed_is_the_runner_rule() -> None:
    assert evaluate(run(case("a"), case("b")))[0] == EXIT_OK
    code, gates = evaluate(run(case("a"), case("b", "failed")))
    assert code == EXIT_FAILED and gates[0].text == "1 case(s) failed: s.yaml::b"
    # min_pass_rate excuses failures when met, never errors
    assert evaluate(run(case("a"), case("b"), case("c"), case("d", "failed"), min_pass_rate=0.75))[0] == EXIT_OK
    code, gates = evaluate(run(case("a"), case("b", "failed"), min_pass_rate=0.75))
    assert code == EXIT_FAILED and "pass rate 50.00% (1/2) is below min_pass_rate 75.00%" in gates[1].text
    assert evaluate(run(case("a"), case("b"), case("c"), case("d", "error"), min_pass_rate=0.5))[0] == EXIT_FAILED
    # missing or stale cassettes: nothing was judged
    assert evaluate(run(case("a"), case("b", "stale")))[0] == EXIT_CASSETTE
    assert pass_rate_gates(run(case("a", "skipped"), min_pass_rate=1.0)) == []


def test_fail_on_changed_adds_changed_answers() -> None:
    changed = run(case("a", changed=True), case("b"))
    assert evaluate(changed)[0] == EXIT_OK
    code, gates = evaluate(changed, fail_on="changed")
    assert code == EXIT_FAILED and [g.text for g in gates if not g.met] == ["1 answer(s) changed: s.yaml::a"]


def test_fail_on_regressed_tolerates_old_failures_only() -> None:
    old_failure = case("a", "failed", baseline="failed")
    other_old_failure = case("b", "failed", baseline="error")
    assert evaluate(run(old_failure, other_old_failure), fail_on="regressed")[0] == EXIT_OK
    gate = failure_gate(run(old_failure, other_old_failure), "regressed")
    assert gate.met and "2 failure(s) that the baseline already had are tolerated" in gate.text
    for regressed in (case("c", "failed", baseline="passed"), case("e", "failed", baseline="skipped")):
        code, gates = evaluate(run(old_failure, regressed), fail_on="regressed")
        assert code == EXIT_FAILED and gates[0].text.startswith(f"1 case(s) regressed: s.yaml::{regressed.id}")
    # A failure with no failing baseline to excuse it (replayed, first recorded, or an error) is
    # never tolerated, but it is a failure, not a regression.
    for unexcused in (case("b", "failed"), case("d", "failed", new=True), case("f", "error", baseline="failed")):
        code, gates = evaluate(run(old_failure, unexcused), fail_on="regressed")
        assert not unexcused.regressed
        assert code == EXIT_FAILED and gates[0].text.startswith(
            f"1 failing case(s) with no failing baseline to excuse them: s.yaml::{unexcused.id}")
    with pytest.raises(ValueError):
        failure_gate(run(), "sometimes")


def test_max_cost_usd_per_suite() -> None:
    assert [g.met for g in cost_gates(run(case("a", cost=0.2), case("b", cost=0.2), max_cost_usd=0.5))] == [True]
    gate, = cost_gates(run(case("a", cost=0.4), case("b", cost=0.2), max_cost_usd=0.5))
    assert not gate.met and gate.text == "s: cost $0.6000 exceeds max_cost_usd $0.50"
    gate, = cost_gates(run(case("a", cost=None), max_cost_usd=0.5))
    assert not gate.met and "cost unknown for 1 case(s)" in gate.text  # an unknown price never passes a budget
    assert evaluate(run(case("a", cost=1.0), max_cost_usd=0.5))[0] == EXIT_FAILED
    assert cost_gates(run(case("a", cost=1.0))) == []


def test_max_cost_increase_against_the_base() -> None:
    base = run(case("a", cost=0.10), case("b", cost=0.10))
    head = run(case("a", cost=0.15), case("b", cost=0.10), case("c", cost=0.02))
    cmp = compare_runs(base, head, base_label="main", head_label="pr")
    gate = cost_increase_gate(cmp, 0.05)
    assert not gate.met and gate.text == "cost $0.2000 → $0.2700 (+$0.0700) exceeds the allowed increase of $0.05"
    assert cost_increase_gate(cmp, 0.07).met
    code, gates = evaluate(cmp.head, fail_on="regressed", comparison=cmp, max_cost_increase=0.1)
    assert code == EXIT_OK and gates[-1].name == "max cost increase"
    unpriced = compare_runs(base, run(case("a", cost=None)))
    assert not cost_increase_gate(unpriced, 1.0).met


def test_diff_marks_regressions_fixes_and_new_cases() -> None:
    base = run(case("a"), case("b", "failed"), case("c"), case("gone"))
    head = run(case("a", "failed"), case("b"), case("c"), case("new", "failed"))
    cmp = compare_runs(base, head)
    assert [c.id for c in cmp.regressed] == ["a"] and [c.id for c in cmp.fixed] == ["b"]
    assert [c.id for c in cmp.added] == ["new"] and [c.id for c in cmp.removed] == ["gone"]
    assert evaluate(cmp.head, fail_on="regressed")[0] == EXIT_FAILED
    assert evaluate(replace(cmp.head, cases=cmp.head.cases[3:]), fail_on="regressed")[0] == EXIT_FAILED  # new, failing
    assert evaluate(replace(cmp.head, cases=cmp.head.cases[1:3]), fail_on="regressed")[0] == EXIT_OK


RATE_SUITE = """
    name: bench
    model: gpt-4o
    min_pass_rate: 0.5
    cases:
      - id: one
        prompt: first question
        checks: [{contains: good}]
      - id: two
        prompt: second question
        checks: [{contains: good}]
"""


def test_cli_fail_on_regressed_after_rerecording(project: Project, fake: FakeOpenAI) -> None:
    project.suite("bench.yaml", RATE_SUITE)
    fake.add_rule(Rule(contains="first", content="a good answer", times=1))
    assert project.record(fake, "suites").code == 0  # `two` fails, the 50% gate is met
    replay = project.run("run", "suites", "--fail-on", "regressed")
    assert replay.code == 2 and "harness diff --base REF" in replay.err  # a replay has no baseline
    fake.add_rule(Rule(contains="first", content="a poor answer"))
    result = project.run("run", "suites", "--record-mode", "all", "--base-url", fake.base_url,
                         "--fail-on", "regressed", env={"OPENAI_API_KEY": CANARY})
    assert result.code == 1, result.text
    assert "gate failed: 1 case(s) regressed: suites/bench.yaml::one" in result.out
    assert "gate failed: bench: pass rate 0.00% (0/2) is below min_pass_rate 50.00%" in result.out


def test_cli_max_cost_usd_gate(project: Project, fake: FakeOpenAI) -> None:
    project.suite("cheap.yaml", "name: cheap\nmodel: gpt-4o\nmax_cost_usd: 0.0000001\ncases:\n  - id: a\n    prompt: hi\n")
    result = project.record(fake, "suites")
    assert result.code == 1 and "gate failed: cheap: cost $" in result.out and "exceeds max_cost_usd" in result.out
