"""Reports from real runs against the loopback server: JSON (read back), JUnit, Markdown, terminal.

``rerecorded_run`` records a small suite, changes the server's answers and re-records everything,
so cases carry baselines and changes; ``replayed_run`` then edits the suite so that the replay
has every status there is. tests/test_reports_html.py reuses both.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.diff import answer_diff
from harness.report import json_report, parse_specs, write_reports
from harness.report.records import RunRecord, from_results
from harness.runner import CaseResult, RunOptions, collect, execute, plan, select_cases
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import CANARY, Project

SUITE = """
    name: demo
    model: gpt-4o
    cases:
      - id: sea
        prompt: Describe the sea.
        checks:
          - contains: calm
      - id: keep
        prompt: Say hi
        checks:
          - contains: "Echo: Say hi"
      - id: data
        prompt: Give the record as JSON.
        checks:
          - is-json
      - id: priced
        model: mystery-1
        prompt: What does this cost?
        checks:
          - cost: 1
"""
EVIL = "The sea is <script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\"> rough | `tick` today."


def run_api(project: Project, fake: FakeOpenAI | None, mode: str) -> tuple[list[CaseResult], list]:
    """The road, as the CLI takes it; re-recorded cases get their Change (baseline vs new)."""
    suites, selected = collect(["suites"])
    planned, errors = plan(select_cases(suites, selected, None), base_url=fake.base_url if fake else None)
    assert not errors
    with project.monkeypatch.context() as m:
        m.setenv("OPENAI_API_KEY", CANARY)
        results = execute(planned, RunOptions(record_mode=mode, base_url=fake.base_url if fake else None,
                                              concurrency=2, max_retries=0))
    for r in results:
        if r.baseline is not None and r.output is not None and r.change is None:
            r.change = answer_diff(r.baseline, r.output)
    return results, suites


def rerecorded_run(project: Project, fake: FakeOpenAI) -> RunRecord:
    fake.add_rule(Rule(contains="Describe the sea", content="The sea is calm today.", times=1))
    fake.add_rule(Rule(contains="record as JSON", content='{"name": "Ada", "year": 1815}', times=1))
    project.suite("demo.yaml", SUITE)
    assert project.record(fake, "suites").code == 1  # `priced` errors: no price for mystery-1
    fake.add_rule(Rule(contains="Describe the sea", content=EVIL))
    fake.add_rule(Rule(contains="record as JSON", content='{"name": "Ada", "year": 1816}'))
    results, suites = run_api(project, fake, "all")
    return from_results(results, suites, record_mode="all")


def replayed_run(project: Project) -> RunRecord:
    """After rerecorded_run: `keep` goes stale, `never` is missing, `later` is skipped."""
    suite = project.root / "suites" / "demo.yaml"
    suite.write_text(suite.read_text().replace("prompt: Say hi", "prompt: Say hello")
                     + "  - id: never\n    prompt: never recorded\n  - id: later\n    prompt: x\n    skip: not yet\n")
    results, suites = run_api(project, None, "none")
    return from_results(results, suites)


@pytest.fixture
def runs(project: Project, fake: FakeOpenAI) -> tuple[RunRecord, RunRecord]:
    return rerecorded_run(project, fake), replayed_run(project)


def test_records_carry_baselines_changes_and_regressions(runs: tuple[RunRecord, RunRecord]) -> None:
    rec, _ = runs
    cases = {c.id: c for c in rec.cases}
    assert {k: c.status for k, c in cases.items()} == {"sea": "failed", "keep": "passed", "data": "passed",
                                                        "priced": "error"}
    assert cases["sea"].regressed and cases["sea"].changed and cases["sea"].baseline_status == "passed"
    assert cases["data"].changed and not cases["data"].regressed
    assert not cases["keep"].changed and cases["keep"].change is not None
    assert cases["priced"].cost_usd is None and cases["sea"].cost_usd > 0


def test_json_report_is_documented_shape_and_reads_back(runs: tuple[RunRecord, RunRecord], tmp_path: Path) -> None:
    rec, _ = runs
    path = tmp_path / "r" / "run.json"
    assert write_reports([f"json={path}"], rec) == [path]
    doc = json.loads(path.read_text())
    assert doc["schema"] == "harness.run/1" and doc["record_mode"] == "all"
    assert set(doc) >= {"harness_version", "created", "suites", "summary", "cases"}
    summary = doc["summary"]
    assert summary["counts"] == {"passed": 2, "failed": 1, "error": 1, "stale": 0, "missing": 0, "skipped": 0}
    assert summary["pass_rate"] == 0.5 and summary["cost_unknown"] == 1 and summary["changed"] == 2
    assert summary["regressed"] == 1 and summary["cost_usd"] > 0 and summary["tokens"] > 0
    sea = next(c for c in doc["cases"] if c["id"] == "sea")
    assert set(sea) >= {"suite", "id", "node_id", "model", "status", "checks", "usage", "cost_usd", "latency_ms",
                        "answer", "baseline", "change"}
    assert sea["node_id"] == "suites/demo.yaml::sea" and sea["suite"] == "demo"
    assert sea["checks"] == [{"name": "contains", "passed": False, "reason": sea["checks"][0]["reason"],
                              "score": None, "weight": 1.0, "error": False}]
    assert sea["answer"]["content"] == EVIL  # full, untrimmed
    assert sea["baseline"]["answer"]["content"] == "The sea is calm today." and sea["baseline"]["status"] == "passed"
    assert sea["change"]["changed"] and sea["change"]["kind"] == "text" and "+The sea is" in sea["change"]["text_diff"]
    assert sea["usage"]["total_tokens"] > 0
    back = json_report.load(path)
    assert [(c.key, c.status, c.answer, c.baseline, c.change) for c in back.cases] == \
        [(c.key, c.status, c.answer, c.baseline, c.change) for c in rec.cases]


def test_junit_has_one_testcase_per_case_with_reasons(runs: tuple[RunRecord, RunRecord], tmp_path: Path) -> None:
    _, replay = runs
    path = tmp_path / "junit.xml"
    write_reports([f"junit={path}"], replay)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "6"
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "demo"
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("3", "1", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"sea", "keep", "data", "priced", "never", "later"}
    assert all(c.get("classname") == "demo" for c in cases.values())
    failure = cases["sea"].find("failure")
    assert failure is not None and "contains" in failure.get("message") and "calm" in failure.get("message")
    assert "<script>" in cases["sea"].findtext("system-out")  # escaped by XML, intact after parsing
    stale = cases["keep"].find("failure")
    assert stale.get("type") == "stale" and "--record-mode new_episodes" in stale.get("message")
    missing = cases["never"].find("failure")
    assert missing.get("type") == "missing" and "--record-mode once" in missing.get("message")
    assert "no price for model 'mystery-1'" in cases["priced"].find("error").get("message")
    assert cases["later"].find("skipped").get("message") == "not yet"
    assert cases["data"].find("failure") is None and cases["data"].find("error") is None


def test_markdown_puts_regressions_first_and_escapes(runs: tuple[RunRecord, RunRecord], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    rec, _ = runs
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    path = tmp_path / "report.md"
    write_reports([f"markdown={path}"], rec)
    md = path.read_text()
    assert md.startswith("## ❌ harness: 2 passed, 1 failed, 1 error")
    assert md.index("### Regressions (1)") < md.index("### Failures (1)") < md.index("### Changed answers (2)")
    assert md.index("### Changed answers") < md.index("### Suites")
    row = next(line for line in md.splitlines() if line.startswith("| `suites/demo.yaml::sea`"))
    assert "| passed | **failed** |" in row and "'calm' not found" in row
    # the reason quotes the answer: its HTML is escaped, and its pipe cannot split the table
    assert "&lt;script&gt;" in row and "<script>" not in row and r"rough \| \`tick\`" in row
    assert row.count(" | ") == 4  # five cells
    assert "<summary><code>suites/demo.yaml::sea</code> · passed → <b>failed</b> · text changed" in md
    assert "```diff\n--- baseline\n+++ current" in md and "-The sea is calm today." in md
    assert "Re-recorded cases cost" in md
    assert summary.read_text() == "earlier step\n" + md + "\n"  # appended, not replaced
    for line in md.splitlines():  # an answer's raw HTML only ever appears inside a code fence
        if "<script>" in line:
            assert line.startswith("+")


def test_report_specs_are_checked(tmp_path: Path) -> None:
    from harness.errors import UserError

    assert [(s.format, s.path.name) for s in parse_specs(["md=a.md", "XML=b.xml", "html=c.html"])] == \
        [("markdown", "a.md"), ("junit", "b.xml"), ("html", "c.html")]
    for bad, message in (["pdf=x", "unknown format 'pdf'"], ["html", "expected FORMAT=PATH"],
                         [f"json={tmp_path}", "is a folder"]):
        with pytest.raises(UserError, match=message):
            parse_specs([bad])
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot write the report"):
        write_reports([f"json={blocker}/under/a/file.json"], RunRecord(cases=()))


def test_cli_run_writes_reports_and_plain_terminal(project: Project, fake: FakeOpenAI) -> None:
    project.suite("demo.yaml", SUITE)
    project.record(fake, "suites")
    result = project.run("run", "suites", "--report", "junit=out/j.xml", "--report", "json=out/r.json",
                         env={"NO_COLOR": "1"})
    assert result.code == 1, result.text
    assert "report written: out/j.xml" in result.out and "report written: out/r.json" in result.out
    assert "\x1b[" not in result.out  # no escape codes: not a TTY, and NO_COLOR
    assert re.search(r"1 passed, 2 failed, 1 error in [\d.]+s · pass rate 25\.0% · cost \$[\d.]+ \(\+1 unpriced\)",
                     result.out)
    assert json.loads((project.root / "out" / "r.json").read_text())["summary"]["counts"]["error"] == 1
    bad = project.run("run", "suites", "--report", "yaml=x")
    assert bad.code == 2 and "unknown format 'yaml'" in bad.err


def test_no_color_gives_plain_text_even_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from harness.report.records import Gate
    from harness.report.terminal import make_console, print_gates

    def printed(**env: str) -> str:
        with monkeypatch.context() as m:
            for key in ("NO_COLOR", "FORCE_COLOR", "TERM", "COLORTERM"):
                m.delenv(key, raising=False)
            for key, value in env.items():
                m.setenv(key, value)
            console = make_console()
            console.file = io.StringIO()
            print_gates(console, [Gate("g", False, "budget [bold]exceeded[/]")])
            return console.file.getvalue()

    assert printed() == "gate failed: budget [bold]exceeded[/]\n"  # not a terminal
    assert "\x1b[" in printed(FORCE_COLOR="1", TERM="xterm-256color")  # a terminal: colour
    assert printed(FORCE_COLOR="1", TERM="xterm-256color", NO_COLOR="1") == "gate failed: budget [bold]exceeded[/]\n"


def test_terminal_shows_changed_answers(project: Project, fake: FakeOpenAI) -> None:
    import io

    from rich.console import Console

    from harness.report.terminal import print_changes

    fake.add_rule(Rule(contains="Describe the sea", content="The sea is calm today.", times=1))
    project.suite("demo.yaml", SUITE)
    project.record(fake, "suites")
    fake.add_rule(Rule(contains="Describe the sea", content="The sea is rough today."))
    results, _ = run_api(project, fake, "all")
    console = Console(file=io.StringIO(), width=200)
    print_changes(console, results)
    text = console.file.getvalue()
    assert "Changed answers (1 re-recorded case(s) answer differently)" in text
    assert "Δ suites/demo.yaml::sea: text changed" in text
    assert "-The sea is calm today." in text and "+The sea is rough today." in text
