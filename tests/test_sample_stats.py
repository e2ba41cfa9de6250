"""Samples become rates: recorded through the loopback server with a fixed mix of failing answers
(a rule used ``times`` times, then good answers), then replayed offline."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from harness.testing.fake_answers import Rule
from harness.testing.fake_openai import FakeOpenAI

from conftest import CANARY, Project

SUITE = """
model: gpt-4o
samples: 10
pass_k: [1, 3]
{suite_extra}
cases:
  - id: gated
    prompt: gated question
    checks: [{{contains: good}}]
    min_pass_rate: 0.6
  - id: strict
    prompt: strict question
    checks: [{{contains: good}}]
  - id: hat
    prompt: hat question
    checks: [{{contains: good}}]
    min_pass_hat_k: {{k: 3, min: 0.5}}
  - id: solid
    prompt: solid question
    checks: [{{contains: good}}]
"""
#: gated 7/10, strict 9/10, hat 6/10, solid 10/10
MIX = {"gated": 3, "strict": 1, "hat": 4}


def _record(project: Project, suite_extra: str = "", mix: dict[str, int] | None = None) -> None:
    project.suite("s.yaml", SUITE.format(suite_extra=suite_extra))
    rules = [Rule(contains=f"{case} question", content="bad answer", times=n) for case, n in (mix or MIX).items()]
    with FakeOpenAI(rules=[*rules, Rule(content="good answer")], require_key=CANARY) as fake:
        project.record(fake, "suites")
        assert len(fake.requests) == 40


@pytest.fixture
def recorded(project: Project) -> Project:
    _record(project)
    return project


def test_terminal_shows_one_row_per_case_with_its_rate(recorded: Project) -> None:
    result = recorded.run("run", "suites")
    rows = {line.split("│")[1].strip(): line for line in result.out.splitlines() if line.count("│") >= 7}
    assert set(rows) == {"gated", "strict", "hat", "solid"}  # no sample rows without -v
    assert rows["gated"].rstrip().endswith("7/10 70% (40–89%) ≈")  # the rate, its 95% interval, flaky
    assert rows["gated"].startswith("PASS")  # its gate (60%) tolerates its 3 failing samples
    assert rows["strict"].startswith("FAIL")  # no gate: every sample must pass
    assert rows["hat"].startswith("FAIL")
    assert rows["solid"].startswith("PASS") and rows["solid"].rstrip().endswith("10/10 100% (72–100%)")
    estimates = {line.split("│")[0].strip(): [c.strip() for c in line.split("│")[1:]]
                 for line in result.out.split("pass@k (one of k passes)")[1].splitlines() if "│" in line}
    assert estimates["suites/s.yaml::gated"] == ["70%", "99%", "70%", "29%"]  # pass@1, pass@3, pass^1, pass^3
    assert estimates["suites/s.yaml::hat"][3] == "17%"
    flaky = result.out.split("Flaky cases (3; their samples disagree)")[1].split("Failures")[0]
    assert "suites/s.yaml::gated" in flaky and "suites/s.yaml::solid" not in flaky
    assert "1 of 10 samples failed (no gate on the case: every sample must pass)" in result.out
    assert "pass^3 17% is below min_pass_hat_k 50%" in result.out
    assert "2 passed, 2 failed in" in result.out and "samples: 32 passed, 8 failed" in result.out
    assert "pass rate 80.0% (mean of case rates)" in result.out
    assert result.code == 1


def test_verbose_lists_every_sample(recorded: Project) -> None:
    out = recorded.run("run", "suites", "-v").out
    for name in ("gated#1", "gated#9", "hat#3", "solid#9"):
        assert f"  {name} " in out


def test_exit_code_follows_the_case_gates(project: Project) -> None:
    # the same failing samples, but no case fails its own gate: the run passes
    _record(project, mix={"gated": 3, "hat": 1})
    text = (project.root / "suites" / "s.yaml").read_text().replace("  - id: strict\n", "  - id: strict\n"
                                                                        "    min_pass_rate: 0.9\n")
    (project.root / "suites" / "s.yaml").write_text(text)
    result = project.run("run", "suites")
    assert result.code == 0, result.out
    assert "4 passed in" in result.out and "samples: 36 passed, 4 failed" in result.out
    assert "Failures" not in result.out


def test_gate_not_met_fails_the_run_and_names_the_case(recorded: Project) -> None:
    result = recorded.run("run", "suites", "--report", "json=run.json")
    doc = json.loads((recorded.root / "run.json").read_text())
    failures = next(g for g in doc["summary"]["gates"] if g["name"] == "failures")
    assert failures == {"name": "failures", "met": False,
                        "text": "2 case(s) failed: suites/s.yaml::strict, suites/s.yaml::hat"}
    assert result.code == 1


def test_suite_min_pass_rate_is_the_mean_of_case_rates(project: Project) -> None:
    # one case with 2 samples that both fail, beside three perfect cases of 10 samples
    project.suite("s.yaml", """
        model: gpt-4o
        samples: 10
        min_pass_rate: 0.8
        cases:
          - {id: a, prompt: a question, checks: [{contains: good}]}
          - {id: b, prompt: b question, checks: [{contains: good}]}
          - {id: c, prompt: c question, checks: [{contains: good}]}
          - {id: d, prompt: d question, checks: [{contains: good}], samples: 2}
        """)
    with FakeOpenAI(rules=[Rule(contains="d question", content="bad"), Rule(content="good")],
                    require_key=CANARY) as fake:
        project.record(fake, "suites")
    result = project.run("run", "suites")
    # pooled samples: 30/32 = 93.75% would pass; the mean of case rates is (1 + 1 + 1 + 0) / 4 = 75%
    assert "pass rate 75.00% (mean of 4 cases' rates; 30/32 samples passed) is below min_pass_rate 80.00%" \
        in result.out
    assert result.code == 1


def test_json_report_carries_the_statistics_and_reads_back(recorded: Project) -> None:
    recorded.run("run", "suites", "--report", "json=run.json")
    doc = json.loads((recorded.root / "run.json").read_text())
    hat = [c for c in doc["cases"] if c["id"] == "hat"]
    assert len(hat) == 10 and all(c["samples"] == hat[0]["samples"] for c in hat)
    stats = hat[0]["samples"]
    assert {k: stats[k] for k in ("status", "passed", "n", "rate", "confidence", "flaky")} == {
        "status": "failed", "passed": 6, "n": 10, "rate": 0.6, "confidence": 0.95, "flaky": True}
    assert stats["ci_low"] == pytest.approx(0.3127, abs=1e-4) and stats["ci_high"] == pytest.approx(0.8318, abs=1e-4)
    assert stats["pass_at_k"] == {"1": 0.6, "3": pytest.approx(29 / 30, abs=1e-6)}
    assert stats["pass_hat_k"] == {"1": 0.6, "3": pytest.approx(1 / 6, abs=1e-6)}
    assert stats["gate"]["min_pass_hat_k"] == {"k": 3, "min": 0.5} and stats["gate"]["met"] is False
    strict = next(c for c in doc["cases"] if c["id"] == "strict")["samples"]
    assert strict["gate"] is None and strict["status"] == "failed"
    summary = doc["summary"]["samples"]
    assert summary["cases"] == 4 and summary["samples"] == 40 and summary["pass_rate"] == 0.8
    assert summary["statuses"] == {"passed": 2, "failed": 2}
    assert summary["flaky"] == ["suites/s.yaml::gated", "suites/s.yaml::strict", "suites/s.yaml::hat"]
    suite = doc["suites"][0]["samples"]
    assert suite["pass_rate"] == 0.8 and suite["cases"] == 4
    # read back (harness diff OLD.json NEW.json): the gates come back with it
    from harness.report.json_report import load
    from harness.report.sampled import sampled_cases

    again = sampled_cases(load(recorded.root / "run.json"))
    assert again["suites/s.yaml::hat"].status == "failed" and again["suites/s.yaml::gated"].status == "passed"
    # a copy of the run with the same cases (a run is finished in copies: orphans, gates) is read
    # once; a copy with other cases is read again
    from dataclasses import replace

    run = load(recorded.root / "run.json")
    first = sampled_cases(run)
    assert sampled_cases(replace(run, gates=())) is first
    fewer = sampled_cases(replace(run, cases=tuple(c for c in run.cases if c.id != "hat")))
    assert "suites/s.yaml::hat" not in fewer and fewer["suites/s.yaml::gated"].status == "passed"


def test_markdown_html_and_junit_show_rates(recorded: Project) -> None:
    recorded.run("run", "suites", "--report", "md=run.md", "--report", "html=run.html",
                 "--report", "junit=run.xml")
    md = (recorded.root / "run.md").read_text()
    assert md.startswith("## ❌ harness: 2 passed, 2 failed (40 samples)")
    assert "Pass rate **80.0%** (mean of case rates)" in md
    assert ("| `suites/s.yaml::hat` | gpt-4o | **failed** | 6/10 passed (60%, 95% CI 31–83%) | "
            "pass@1 60% · pass@3 97% · pass^1 60% · pass^3 17% | yes | pass^3 17% is below min_pass_hat_k 50% |") in md
    assert "### Flaky cases (3: their samples disagree)" in md
    assert "### Failures" not in md  # the failing samples are judged with their case, not one by one
    page = (recorded.root / "run.html").read_text()
    assert "<h2>Cases with samples (4)</h2>" in page and "7/10 passed (70%, 95% CI 40–89%)" in page
    assert page.count('<span class="flag flaky">flaky</span>') == 3 + 30  # the table, and each flaky sample
    root = ET.fromstring((recorded.root / "run.xml").read_text())
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"gated", "strict", "hat", "solid"}  # one testcase per case
    assert root.get("tests") == "4" and root.get("failures") == "2"
    assert cases["gated"].find("failure") is None
    failure = cases["hat"].find("failure")
    assert failure is not None and failure.get("message") == "pass^3 17% is below min_pass_hat_k 50%"
    assert (failure.text or "").count(": contains: 'good' not found") == 4  # each failing sample's reason
    assert "6/10 passed" in (cases["hat"].findtext("system-out") or "")


def test_pass_hat_k_above_the_samples_is_a_user_error(project: Project) -> None:
    project.suite("s.yaml", """
        model: gpt-4o
        samples: 2
        cases:
          - id: a
            prompt: hi
            min_pass_hat_k: {k: 3, min: 0.5}
        """)
    result = project.run("run", "suites")
    assert result.code == 2
    assert "suites/s.yaml:6 [case a]: min_pass_hat_k: k is 3 but the case has 2 sample(s)" in result.err
    assert "Traceback" not in result.text


@pytest.mark.parametrize(("text", "error"), [
    ("pass_k: [0]\ncases:\n  - {id: a, prompt: hi}\n",
     "suites/s.yaml:3: invalid suite at pass_k/0: 0 is less than the minimum of 1"),
    ("cases:\n  - {id: a, prompt: hi, min_pass_rate: 2}\n",
     "suites/s.yaml:4 [case a]: invalid suite at cases/0/min_pass_rate: 2 is greater than the maximum of 1"),
])
def test_bad_gate_values_are_user_errors(project: Project, text: str, error: str) -> None:
    project.suite("s.yaml", "model: gpt-4o\nsamples: 3\n" + text)
    result = project.run("run", "suites")
    assert result.code == 2 and error in result.err and "Traceback" not in result.text


def test_a_stochastic_model_recorded_and_replayed_gives_the_rate_its_cassettes_hold(project: Project) -> None:
    """The whole road with a model that answers right 70% of the time: the rate replay reports is the
    share of good answers the cassettes hold, and the same on a second replay."""
    import yaml

    project.suite("s.yaml", "model: gpt-4o\nsamples: 12\ncases:\n  - id: coin\n    prompt: coin question\n"
                            "    checks: [{contains: good}]\n")
    rule = Rule(contains="coin", content="good answer", failing="bad answer", pass_probability=0.7, seed=11)
    with FakeOpenAI(rules=[rule], require_key=CANARY) as fake:
        project.record(fake, "suites")
    answers = [yaml.safe_load(p.read_text())["interactions"][0]["harness"]["answer"]
               for p in project.cassette_files()]
    good = sum(a == "good answer" for a in answers)
    assert len(answers) == 12 and 0 < good < 12  # a mix, as a 0.7 coin over 12 draws gives (seed 11)
    for _ in range(2):  # replay is exact: the same rate each time
        assert f"{good}/12 passed ({round(100 * good / 12)}%" in project.run("run", "suites").out
