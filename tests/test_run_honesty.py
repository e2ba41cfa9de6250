"""What a run says is true: tolerated failures are not "no failures", samples have one name
everywhere, money is printed without rounding a limit away, a budget stop and an empty selection
are not green runs, and --fail-on regressed never excuses a failure it cannot compare."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.errors import EXIT_BUDGET, EXIT_NO_CASES
from harness.pricing import usd
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import CANARY, Project


def git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


GATED = """
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
      - id: three
        prompt: third question
        checks: [{contains: good}]
"""


def _record_gated(project: Project, fake: FakeOpenAI) -> None:
    project.suite("bench.yaml", GATED)
    fake.add_rule(Rule(contains="first", content="a good answer"))
    fake.add_rule(Rule(contains="second", content="a good answer"))
    assert project.record(fake, "suites").code == 0  # `three` fails; 2/3 meets the 50% gate


def test_tolerated_failures_are_one_line_and_never_no_failures(project: Project, fake: FakeOpenAI) -> None:
    _record_gated(project, fake)
    result = project.run("run", "suites", "--report", "json=run.json", "--report", "markdown=run.md",
                         "--report", "html=run.html")
    assert result.code == 0, result.text
    assert "gate met: bench: 1 failed, tolerated: pass rate 66.7% ≥ min_pass_rate 50% (-v lists them)" in result.out
    assert "suites/bench.yaml::three" not in result.out and "Failures" not in result.out  # only behind -v
    assert "1 tolerated failures not listed; -v lists them" in result.out
    verbose = project.run("run", "suites", "-v")
    assert verbose.code == 0 and "✗ suites/bench.yaml::three" in verbose.out and "contains" in verbose.out
    doc = json.loads((project.root / "run.json").read_text())
    texts = [g["text"] for g in doc["summary"]["gates"]]
    assert "no failures" not in texts and "1 tolerated failure(s) (min_pass_rate gate met)" in texts
    assert [c["id"] for c in doc["cases"]] == ["one", "two", "three"]  # every case result is kept
    for report in ("run.md", "run.html"):
        text = (project.root / report).read_text()
        assert "no failures" not in text and "1 tolerated failure(s) (min_pass_rate gate met)" in text


def test_samples_have_the_same_name_everywhere(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", "model: gpt-4o\nsamples: 3\ncases:\n  - id: one\n    prompt: hi\n"
                  "    checks: [{contains: never}]\n")
    first = project.run("run", "suites", "--record-mode", "once", "--base-url", fake.base_url,
                        "--report", "json=run.json", "--report", "junit=run.xml", "--report", "markdown=run.md",
                        "--report", "html=run.html", "-v", env={"OPENAI_API_KEY": CANARY})
    assert first.code == 1, first.text
    names = ["one", "one#1", "one#2"]
    assert sorted(p.stem for p in project.cassette_files()) == sorted(names)  # the cassettes' names
    rows = [line.split("│")[1].rstrip() for line in first.out.splitlines() if line.startswith("FAIL")]
    assert rows == [" one", *(f"   {n}" for n in names)]  # the case's row, then (-v) its samples
    assert "✗ suites/s.yaml::one 0/3 passed" in first.out  # the failure list: the case, then its samples
    assert [f"    ✗ suites/s.yaml::{n}\n" in first.out for n in names] == [True] * 3
    doc = json.loads((project.root / "run.json").read_text())
    assert [c["name"] for c in doc["cases"]] == names
    junit = ET.parse(project.root / "run.xml").getroot()
    assert [t.get("name") for t in junit.iter("testcase")] == ["one"]  # one testcase per case
    failure = next(junit.iter("failure")).text or ""
    assert all(f"{n}: contains" in failure for n in names)
    markdown = (project.root / "run.md").read_text()
    assert "| `suites/s.yaml::one` | gpt-4o | **failed** | 0/3 passed" in markdown
    html = (project.root / "run.html").read_text()
    assert all(f"s · {n}</span>" in html for n in names)
    assert all(f'data-key="suites/s.yaml::{n}"' in html for n in names)
    # A first recording that fails has no baseline: a failure, not a regression.
    assert "Regressions" not in markdown
    assert doc["summary"]["regressed"] == 0


def test_money_keeps_its_digits_and_a_budget_stop_is_not_green(project: Project, fake: FakeOpenAI) -> None:
    assert usd(0.025, exact=True) == "$0.025" and usd(40, exact=True) == "$40.00"
    assert usd(0.00005, exact=True) == "$0.00005" and usd(0.000312) == "$0.000312"
    # $1,000 per 1M tokens: each answer costs cents, and the budget of 2.5 cents runs out.
    cases = "".join(f"  - id: c{i}\n    prompt: question {i}\n" for i in range(6))
    project.suite("s.yaml", f"model: gpt-4o\nmax_tokens: 5\npricing:\n  gpt-4o: {{input: 1000, output: 1000}}\n"
                  f"cases:\n{cases}")
    result = project.run("run", "suites", "--record-mode", "once", "--base-url", fake.base_url,
                         "--max-cost", "0.025", "--concurrency", "1", "--report", "json=run.json",
                         env={"OPENAI_API_KEY": CANARY})
    assert result.code == EXIT_BUDGET, result.text
    assert "--max-cost $0.025" in result.out and "$0.03" not in result.out
    sent = len(fake.requests)
    assert 1 <= sent < 6
    assert f"Skipped by budget ({6 - sent}; the run is incomplete)" in result.out
    assert f"gate failed: {6 - sent} case(s) skipped by budget (--max-cost)" in result.out
    doc = json.loads((project.root / "run.json").read_text())
    skipped = [c["name"] for c in doc["cases"] if c["budget_skipped"]]
    assert len(skipped) == 6 - sent and doc["summary"]["budget_skipped"] == 6 - sent
    # Recording the rest within a new budget completes the run.
    rest = project.run("run", "suites", "--record-mode", "once", "--base-url", fake.base_url,
                       "--max-cost", "1", env={"OPENAI_API_KEY": CANARY})
    assert rest.code == 0, rest.text


def test_max_cost_and_exit_codes_are_in_the_help() -> None:
    from harness.cli import build_parser

    text = build_parser().format_help()
    assert "4 stopped by --max-cost" in text and "5 no case selected" in text
    run_help = build_parser()._subparsers._group_actions[0].choices["run"].format_help()  # type: ignore[union-attr]
    assert "exits 4" in run_help


def test_a_run_that_selects_nothing_is_not_green(project: Project) -> None:
    empty = project.run("run", "suites")
    assert empty.code == EXIT_NO_CASES and "no case selected" in empty.err
    project.suite("ok.yaml", "model: gpt-4o\ncases:\n  - id: one\n    prompt: hi\n")
    nothing = project.run("run", "suites", "-k", "nomatch")
    assert nothing.code == EXIT_NO_CASES and "no case id matches -k 'nomatch'" in nothing.err


def test_a_suite_that_lost_its_cases_is_an_error_naming_file_and_line(project: Project) -> None:
    project.suite("typo.yaml", "model: gpt-4o\ncase:\n  - id: one\n    prompt: hi\n")
    result = project.run("run", "suites")
    assert result.code == 2, result.text
    assert "suites/typo.yaml:2: top-level key 'case' is not 'cases': did you mean 'cases'?" in result.err
    assert "Traceback" not in result.text
    (project.root / "suites" / "typo.yaml").write_text("name: x\nmodel: gpt-4o\nprompt: hi\n")
    keys = project.run("run", "suites")
    assert keys.code == 2 and "suites/typo.yaml:2: this file has suite keys (model, prompt) but no 'cases:'" in keys.err
    (project.root / "suites" / "typo.yaml").write_text("cases: [\n")
    broken = project.run("run", "suites")
    assert broken.code == 2 and "suites/typo.yaml" in broken.err


def test_unrelated_yaml_beside_suites_is_reported_as_not_a_suite(project: Project, fake: FakeOpenAI) -> None:
    project.suite("ok.yaml", "model: gpt-4o\ncases:\n  - id: one\n    prompt: hi\n")
    project.suite("data/cities.yaml", "cities:\n  - Paris\n  - Lima\nname: a data file\n")
    assert project.record(fake, "suites/ok.yaml").code == 0
    result = project.run("run", "suites")
    assert result.code == 0, result.text
    assert "suites/data/cities.yaml: not a suite (no top-level 'cases:' list); skipped" in result.err
    assert "1 passed" in result.out
    alone = project.run("run", "suites/data")
    assert alone.code == EXIT_NO_CASES and "not a suite" in alone.err


def test_fail_on_regressed_needs_a_baseline(project: Project, fake: FakeOpenAI) -> None:
    """A check tightened after recording: a replay cannot tell this failure from an old one."""
    project.suite("s.yaml", "name: s\nmodel: gpt-4o\ncases:\n  - id: one\n    prompt: hi\n"
                  "    checks: [{contains: Echo}]\n")
    assert project.record(fake, "suites").code == 0
    git(project.root, "init", "-q")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "base")
    suite = project.root / "suites" / "s.yaml"
    suite.write_text(suite.read_text().replace("contains: Echo", "contains: Paris"))  # tightened
    replay = project.run("run", "suites", "--fail-on", "regressed")
    assert replay.code == 2, replay.text
    assert "harness diff --base REF" in replay.err and "Traceback" not in replay.text
    once = project.record(fake, "suites")  # replays `one`: no baseline to excuse its failure
    assert once.code == 1
    once = project.run("run", "suites", "--record-mode", "once", "--fail-on", "regressed")
    assert once.code == 1 and "1 failing case(s) with no failing baseline to excuse them" in once.out
    diff = project.run("diff", "--base", "HEAD", "suites")  # the committed answer, judged by the committed suite
    assert diff.code == 1, diff.text
    assert "1 case(s) regressed: suites/s.yaml::one" in diff.out
