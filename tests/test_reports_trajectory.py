"""Trajectories of multi-step cases in every report: terminal, JSON (read back), JUnit, Markdown, HTML.

The episodes are real: each step is sent to the loopback server, its answer parsed as a run
parses it, and its tool calls answered by plain functions (tests/episodeutil.py). The server is
stopped before any report is made. A tool result carries markup, which must stay text everywhere.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from harness.pricing import usd
from harness.report import json_report, render, write_reports
from harness.report.records import RunRecord, from_results
from harness.report.terminal import print_problems, print_table
from harness.runner import CaseResult, collect
from harness.testing.fake_openai import FakeOpenAI, Rule
from harness.trajectory import StepRecord

from browserutil import browser_page, needs_chromium
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
            required: [city]
            additionalProperties: false
    cases:
      - id: weather
        prompt: What's the weather in Paris and Lyon?
        checks:
          - icontains: snow
      - id: trip
        prompt: Plan a day in Paris.
        tool_choice: none
        checks:
          - contains: "Echo: And in winter?"
      - id: hello
        prompt: Say hi
        tool_choice: none
        checks:
          - contains: "Echo: Say hi"
"""
EVIL = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\"> rain"
FORECASTS = {"Paris": "18 °C, sunny", "Lyon": EVIL}


def get_weather(city: str) -> str:
    return FORECASTS[city]


@pytest.fixture
def results(project: Project, fake: FakeOpenAI) -> list[CaseResult]:
    """weather: two parallel calls, then an answer (fails); trip: two turns (passes); hello: one request."""
    project.suite("agent.yaml", SUITE)
    fake.add_rule(Rule(contains="Paris and Lyon", times=1, tool_calls=[
        {"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_weather", "arguments": {"city": "Lyon"}}]))
    cases = planned_cases()
    out = [case_result(cases["weather"], drive(cases["weather"], fake, {"get_weather": get_weather})),
           case_result(cases["trip"], drive(cases["trip"], fake, {}, turns=["And in winter?"]))]
    out.append(case_result(cases["hello"], drive(cases["hello"], fake, {})))
    fake.stop()  # everything below is offline
    return out


@pytest.fixture
def run(results: list[CaseResult]) -> RunRecord:
    suites, _ = collect(["suites"])
    return from_results(results, suites)


def terminal(results: list[CaseResult], *, verbose: bool) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None, highlight=False)
    print_table(console, results, verbose=verbose)
    print_problems(console, results, "none", verbose=verbose)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_episodes_are_what_the_reports_show(results: list[CaseResult]) -> None:
    weather, trip, hello = results
    assert (weather.status, trip.status, hello.status) == ("failed", "passed", "passed")
    assert hello.episode is None and hello.output is not None and hello.output.text == "Echo: Say hi"
    assert weather.episode is not None and len(weather.episode.steps) == 2
    first = weather.episode.steps[0]
    assert [(c.name, c.arguments) for c in first.output.tool_calls] == [("get_weather", {"city": "Paris"}),
                                                                       ("get_weather", {"city": "Lyon"})]
    assert [r.content for r in first.tool_results] == ["18 °C, sunny", EVIL]
    assert trip.episode is not None and [s.turn for s in trip.episode.steps] == [0, 1]


def test_terminal_shows_a_failing_trajectory_under_its_failure(results: list[CaseResult]) -> None:
    weather = results[0]
    assert weather.episode is not None
    out = terminal(results, verbose=False)
    failures = out[out.index("Failures"):]
    used = weather.episode.usage()
    assert used is not None and weather.episode.cost_usd() is not None
    assert f"trajectory: 2 steps · {used.total_tokens:,} tokens · {usd(weather.episode.cost_usd() or 0)} · " in failures
    step1 = weather.episode.steps[0]
    assert step1.output.usage and step1.cost_usd is not None
    assert f"step 1 · {step1.output.usage.total_tokens:,} tokens · {usd(step1.cost_usd)} · " in failures
    assert "\n        user: What's the weather in Paris and Lyon?\n" in failures
    assert '\n        get_weather({"city": "Paris"}) → 18 °C, sunny\n' in failures  # a call and its result
    assert '\n        get_weather({"city": "Lyon"}) → <script>window.__pwned = 1</script>' in failures
    assert "\n      step 2 · " in failures and "\n        answer: Based on the tool results: 18 °C, sunny;" in failures
    row = next(line for line in out.splitlines() if line.startswith("FAIL"))
    assert f" {used.total_tokens} │ {usd(weather.cost_usd or 0)} │" in row  # the row sums the steps
    # a passing multi-step case shows no trajectory without -v, nor does a case of one request
    assert "suites/agent.yaml::trip" not in out and out.count("trajectory:") == 1


def test_verbose_terminal_shows_every_multi_step_case(results: list[CaseResult]) -> None:
    out = terminal(results, verbose=True)
    assert out.count("trajectory:") == 2  # weather (under Failures) and trip; hello has one request
    trip = out[out.index("↳ suites/agent.yaml::trip"):out.index("Failures")]
    assert "trajectory: 2 steps · 2 turns · " in trip
    assert "step 1 · turn 1 · " in trip and "user: Plan a day in Paris." in trip
    assert "step 2 · turn 2 · " in trip and "user: And in winter?" in trip and "answer: Echo: And in winter?" in trip


def _steps_view(steps: tuple[StepRecord, ...]) -> list[tuple]:
    """What the JSON report keeps of each step (the server's response id is not kept)."""
    return [(s.index, s.turn, s.user, replace(s.output, response_id=None, extra={}), s.tool_results, s.cost_usd)
            for s in steps]


def test_json_report_has_steps_only_for_multi_step_cases(run: RunRecord, tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    write_reports([f"json={path}"], run)
    doc = json.loads(path.read_text())
    cases = {c["id"]: c for c in doc["cases"]}
    assert "steps" not in cases["hello"] and "stopped" not in cases["hello"]
    weather = cases["weather"]
    assert weather["stopped"] is None and [s["index"] for s in weather["steps"]] == [1, 2]
    first, last = weather["steps"]
    assert first["turn"] == 1 and first["user"] == "What's the weather in Paris and Lyon?" and last["user"] is None
    assert [(c["name"], json.loads(c["arguments"])) for c in first["answer"]["tool_calls"]] == \
        [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Lyon"})]
    assert [(r["name"], r["arguments"], r["content"], r["error"]) for r in first["tool_results"]] == \
        [("get_weather", {"city": "Paris"}, "18 °C, sunny", None), ("get_weather", {"city": "Lyon"}, EVIL, None)]
    assert [r["call_id"] for r in first["tool_results"]] == [c["id"] for c in first["answer"]["tool_calls"]]
    assert last["answer"]["content"].startswith("Based on the tool results") and last["tool_results"] == []
    # the case's own usage, cost and latency are the sums of its steps'
    assert weather["usage"]["total_tokens"] == sum(s["usage"]["total_tokens"] for s in weather["steps"])
    assert weather["model_cost_usd"] == pytest.approx(sum(s["cost_usd"] for s in weather["steps"]))
    assert weather["latency_ms"] == pytest.approx(sum(s["latency_ms"] for s in weather["steps"]))
    assert [(s["turn"], s["user"]) for s in cases["trip"]["steps"]] == [(1, "Plan a day in Paris."), (2, "And in winter?")]
    back = {c.id: c for c in json_report.load(path).cases}
    for case in run.cases:
        assert _steps_view(back[case.id].steps) == _steps_view(case.steps)
    assert back["hello"].steps == ()


def test_junit_puts_a_failing_trajectory_in_system_out(run: RunRecord, tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_reports([f"junit={path}"], run)
    cases = {c.get("name"): c for c in ET.parse(path).getroot().iter("testcase")}
    out = cases["weather"].findtext("system-out") or ""
    assert out.startswith("trajectory: 2 steps · ")
    assert 'get_weather({"city": "Lyon"})' in out and f"→ {EVIL}" in out  # escaped by XML, intact after parsing
    assert "answer: Based on the tool results" in out
    assert (cases["trip"].findtext("system-out") or "").startswith("Echo: And in winter?")  # passing: the answer


def test_markdown_lists_trajectories_in_collapsed_blocks(run: RunRecord) -> None:
    md = render("markdown", run)
    assert "### Trajectories (2)" in md
    block = md[md.index("### Trajectories"):]
    assert block.index("suites/agent.yaml::weather") < block.index("suites/agent.yaml::trip")  # failing first
    assert "<summary><code>suites/agent.yaml::weather</code> · <b>failed</b> · 2 steps · " in block
    assert "1. **step 1** · " in block and '`get_weather` `{"city": "Lyon"}` → &lt;script&gt;window.__pwned' in block
    assert "2. **step 2 · turn 2** · " in block and "- user: And in winter?" in block
    assert "<script>" not in md and "<img" not in md
    assert md.count("<details>") == md.count("</details>") == 2


def test_html_timeline_is_collapsed_and_escaped(run: RunRecord) -> None:
    page = render("html", run)
    assert page.count('<details class="trajectory">') == 2  # weather and trip, closed; hello has none
    assert "<script>window.__pwned" not in page and "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
    assert 'onerror="window' not in page and page.count("<script>") == 1
    assert "details.trajectory" in page  # the timeline's styles come with it
    assert "details.trajectory" not in render("html", replace(run, cases=run.cases[2:]))  # and only with it


@needs_chromium
def test_html_timeline_in_a_real_browser(run: RunRecord, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    write_reports([f"html={report}"], run)
    with browser_page(tmp_path) as (page, problems):
        page.goto(report.as_uri())
        weather = page.locator('.case[data-key="suites/agent.yaml::weather"]')  # failing: open on load
        timeline = weather.locator("details.trajectory")
        steps = timeline.locator("li.step")
        assert timeline.locator("summary").is_visible() and not steps.first.is_visible()  # collapsed
        timeline.locator("summary").focus()  # the keyboard opens and closes it
        page.keyboard.press("Enter")
        assert steps.count() == 2 and steps.first.is_visible()
        assert "turn" not in steps.first.locator(".step-head").inner_text()  # one turn only
        results = steps.first.locator(".part.result pre").all_inner_texts()
        assert results == ["18 °C, sunny", EVIL]  # the tool's markup is text on the page
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert "Based on the tool results" in steps.nth(1).locator(".part.answer pre").inner_text()
        page.keyboard.press("Space")
        assert not steps.first.is_visible()
        trip = page.locator('.case[data-key="suites/agent.yaml::trip"]')  # passing: closed, and so its steps
        assert not trip.locator("details.trajectory summary").is_visible()
        trip.locator("summary").first.click()
        trip.locator("details.trajectory summary").click()
        assert trip.locator("li.step .turn").all_inner_texts() == ["turn 1", "turn 2"]
    assert problems == []
