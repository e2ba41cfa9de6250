"""Trajectories compared step by step: in a re-recording run, and in ``harness diff`` of two reports.

Each side is a real episode: its steps sent to the loopback server, parsed, and their tool calls
answered (tests/episodeutil.py); the server is stopped before anything is compared.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from harness.diff import DiffOptions, answer_diff
from harness.diff_steps import case_change, diff_episodes
from harness.episode import Episode
from harness.report import render, write_reports
from harness.report.records import from_results
from harness.report.terminal import print_changes
from harness.runner import CaseResult, PlannedCase, collect
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import Project
from episodeutil import case_result, drive, planned_cases

SUITE = """
    name: agent
    model: gpt-4o
    tools:
      - type: function
        function:
          name: get_weather
          description: Current weather for a city.
          parameters:
            type: object
            properties:
              city: {type: string}
              unit: {type: string}
            required: [city]
    cases:
      - id: weather
        prompt: Should I take an umbrella today?
        checks:
          - icontains: umbrella
"""
FORECASTS = {"Paris": '{"sky": "sunny", "temp": 18}', "Lyon": '{"sky": "rain", "temp": 12}'}


def forecast(city: str, unit: str = "celsius") -> str:
    return FORECASTS[city]


def calls(*cities: str) -> list[dict]:
    return [{"name": "get_weather", "arguments": {"city": c}} for c in cities]


def loop(fake: FakeOpenAI, item: PlannedCase, *steps: list[dict], answer: str | None = None,
         tool=forecast) -> Episode:
    """One episode whose steps call tools as scripted in ``steps``, then answer (``answer``, or the
    server's own summary of the tool results)."""
    for n, step in enumerate(steps):  # a later step's calls answer a tool result (after_tool)
        fake.add_rule(Rule(contains="umbrella", tool_calls=step, times=1, after_tool=n > 0))
    if answer is not None:
        fake.add_rule(Rule(contains="umbrella", content=answer, times=1))
    return drive(item, fake, {"get_weather": tool})


@pytest.fixture
def item(project: Project) -> PlannedCase:
    project.suite("agent.yaml", SUITE)
    return planned_cases()["weather"]


def test_changed_arguments_name_the_step_the_tool_and_the_field(fake: FakeOpenAI, item: PlannedCase) -> None:
    base = loop(fake, item, calls("Paris"))
    new = loop(fake, item, calls("Lyon"))
    fake.stop()
    change = diff_episodes(base, new, item.diff)
    assert change.changed and change.kind == "tool_calls"
    assert change.summary.startswith('step 1: get_weather arguments changed (city: "Paris" → "Lyon"); '
                                     'step 1: get_weather result changed (sky: "sunny" → "rain", temp: 18 → 12); '
                                     "step 2 (final answer): text changed (similarity ")
    assert change.details["first_step"] == 1
    first = change.details["steps"][0]
    assert first == {"step": 1, "kind": "tool_calls", "summary": first["summary"],
                     "changes": [{"path": "root['city']", "change": "changed", "old": "Paris", "new": "Lyon"}]}
    assert '-  get_weather({"city": "Paris"})' in change.text_diff
    assert '+  get_weather({"city": "Lyon"})' in change.text_diff
    assert "tokens" not in change.text_diff and " ms" not in change.text_diff  # what was said and done, only


def test_the_same_trajectory_again_is_unchanged(fake: FakeOpenAI, item: PlannedCase) -> None:
    base = loop(fake, item, calls("Paris", "Lyon"))
    again = loop(fake, item, calls("Paris", "Lyon"))
    fake.stop()
    assert [s.output.latency_ms for s in base.steps] != [s.output.latency_ms for s in again.steps]
    change = diff_episodes(base, again, item.diff)
    assert (change.changed, change.kind, change.summary, change.details) == (False, "unchanged", "unchanged", {})


def test_excluded_paths_apply_to_tool_arguments_of_every_step(fake: FakeOpenAI, item: PlannedCase) -> None:
    base = loop(fake, item, [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}])
    new = loop(fake, item, [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "kelvin"}}])
    fake.stop()
    assert diff_episodes(base, new).summary.startswith('step 1: get_weather arguments changed (unit: "celsius" → ')
    # the server's final answer quotes the tool result, which ignores the unit: nothing else differs
    ignored = diff_episodes(base, new, DiffOptions(exclude_paths=("$.unit",)))
    assert not ignored.changed and ignored.summary == "unchanged (only excluded paths differ: 1)"


def test_parallel_calls_in_another_order(fake: FakeOpenAI, item: PlannedCase) -> None:
    base = loop(fake, item, calls("Paris", "Lyon"), answer="Take an umbrella in Lyon.")
    new = loop(fake, item, calls("Lyon", "Paris"), answer="Take an umbrella in Lyon.")
    fake.stop()
    change = diff_episodes(base, new)
    assert change.summary.startswith('step 1: get_weather#1 arguments changed (city: "Paris" → "Lyon"); '
                                     "step 1: get_weather#1 result changed (sky: ")
    assert not diff_episodes(base, new, DiffOptions(ignore_order=True)).changed  # each result with its call


def test_a_longer_trajectory_says_where_it_departs(fake: FakeOpenAI, item: PlannedCase) -> None:
    base = loop(fake, item, calls("Paris"), answer="Take an umbrella: rain in Lyon.")
    new = loop(fake, item, calls("Paris"), calls("Lyon"), answer="Take an umbrella: rain in Lyon.")
    fake.stop()
    change = diff_episodes(base, new, item.diff)
    assert change.kind == "steps" and change.details["first_step"] == 2
    assert change.details["step_count"] == {"old": 2, "new": 3}
    assert change.summary == "step 2: tool calls [] → ['get_weather']; 2 steps → 3"  # same final answer
    assert "+step 3" in change.text_diff


def test_a_failing_tool_and_an_error_answer_are_changes(fake: FakeOpenAI, item: PlannedCase) -> None:
    def broken(city: str) -> str:
        raise TimeoutError("weather service down")

    base = loop(fake, item, calls("Paris"))
    new = loop(fake, item, calls("Paris"), tool=broken)
    fake.add_rule(Rule(contains="umbrella", status=500, times=1))
    failed = drive(item, fake, {})
    fake.stop()
    change = diff_episodes(base, new, item.diff)
    assert change.summary.startswith("step 1: get_weather result changed (similarity ")
    assert "→ error: TimeoutError: weather service down" in change.text_diff
    down = diff_episodes(base, failed, item.diff)
    assert down.kind == "status" and down.summary.startswith("step 1: HTTP 200 → HTTP 500: ")


def test_a_case_of_one_request_keeps_its_answer_diff(fake: FakeOpenAI, item: PlannedCase) -> None:
    fake.add_rule(Rule(contains="umbrella", content="Yes, take an umbrella.", times=1))
    one = drive(item, fake, {}).final
    fake.add_rule(Rule(contains="umbrella", content="No umbrella needed.", times=1))
    other = drive(item, fake, {}).final
    fake.stop()
    assert case_change(one, other) == answer_diff(one, other)


def _rerecorded(fake: FakeOpenAI, item: PlannedCase) -> CaseResult:
    base = loop(fake, item, calls("Paris"), answer="No umbrella today.")
    new = loop(fake, item, calls("Lyon"), answer="Take an umbrella.")
    fake.stop()
    return case_result(item, new, baseline=base, recorded=True)


def test_a_rerecorded_loop_reports_its_changed_steps(fake: FakeOpenAI, item: PlannedCase) -> None:
    result = _rerecorded(fake, item)
    console = Console(file=io.StringIO(), width=200, color_system=None, highlight=False)
    print_changes(console, [result])
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert 'Δ suites/agent.yaml::weather: step 1: get_weather arguments changed (city: "Paris" → "Lyon")' in out
    assert '    -  get_weather({"city": "Paris"})' in out
    suites, _ = collect(["suites"])
    run = from_results([result], suites, record_mode="all")
    (case,) = run.cases
    assert len(case.baseline_steps) == len(case.steps) == 2 and case.changed and not case.regressed
    md = render("markdown", run)
    assert '· passed → passed · step 1: get_weather arguments changed (city: "Paris" → "Lyon")' in md
    page = render("html", run)  # the two trajectories side by side, differences highlighted
    assert '<del class="hl">Paris</del>' in page and '<ins class="hl">Lyon</ins>' in page


def test_harness_diff_of_two_reports_compares_trajectories(project: Project, fake: FakeOpenAI,
                                                           item: PlannedCase, tmp_path: Path) -> None:
    base = case_result(item, loop(fake, item, calls("Paris"), answer="No umbrella today."))
    head = case_result(item, loop(fake, item, calls("Paris"), calls("Lyon"), answer="Take an umbrella."))
    fake.stop()
    suites, _ = collect(["suites"])
    write_reports(["json=base.json"], [base], suites)
    write_reports(["json=head.json"], [head], suites)
    result = project.run("diff", "base.json", "head.json", "--report", "json=diff.json", "--report", "md=diff.md",
                         env={"NO_COLOR": "1"})
    assert result.code == 0, result.text
    assert "1 changed" in result.out
    assert "Δ suites/agent.yaml::weather: step 2: tool calls [] → ['get_weather']; 2 steps → 3; " in result.out
    assert '+  get_weather({"city": "Lyon"})' in result.out
    doc = json.loads(Path("diff.json").read_text())
    (case,) = doc["run"]["cases"]
    assert case["change"]["kind"] == "steps" and case["change"]["details"]["first_step"] == 2
    assert len(case["steps"]) == 3 and len(case["baseline"]["steps"]) == 2
    assert "### Trajectories (1)" in Path("diff.md").read_text()
