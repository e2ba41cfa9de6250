"""Re-recording a suite with samples (``harness run --record-mode all``): a sampled case reads as one
case in every report, its rate before and after with the verdict ``harness diff`` would give, never
as a list of samples that "regressed" because one draw failed where another passed.

The loopback server's answers are scripted with ``Rule(times=...)`` so each side's pass count is
exact whatever order the concurrent samples arrive in (as in test_diff_samples.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_diff_samples import SEA, SKY, SUITE, script

from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import Project

SINGLE = """
    name: single
    model: gpt-4o
    cases:
      - id: hello
        prompt: Say hello.
        checks:
          - contains: there
"""


@pytest.fixture
def recorded(project: Project, fake: FakeOpenAI) -> Project:
    """drop passes 19/20 and wobble 9/10 in the cassettes; hello (one sample) passes."""
    project.monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    project.suite("sampled.yaml", SUITE)
    project.suite("single.yaml", SINGLE)
    script(fake, sea=19, sky=9)
    fake.add_rule(Rule(contains="Say hello", content="hello there", times=1))
    assert project.record(fake, "suites").code == 1  # two samples fail
    return project


def test_rerecorded_samples_are_one_case_each_with_their_rate_verdict(recorded: Project, fake: FakeOpenAI,
                                                                      tmp_path: Path) -> None:
    script(fake, sea=6, sky=7)  # hello now gets the server's echo: a real single-sample regression
    out = tmp_path / "out"
    result = recorded.record(fake, "suites", "--report", f"markdown={out}/run.md", "--report",
                             f"html={out}/run.html", "--report", f"json={out}/run.json", mode="all")
    assert result.code == 1, result.text
    text = result.out
    # the terminal: the rates as `harness diff` shows them, against what the cassettes held
    assert "Sampled cases against the answers their cassettes held (2: 1 regressed, 0 improved, 2 flaky)" in text
    assert f"{SEA}: regressed 19/20 → 6/20 (p<0.0001, adjusted) · 95% CI 76–99% → 15–52% · flaky" in text
    assert f"{SKY}: no significant change 9/10 → 7/10 (p=0.29, adjusted)" in text
    # changed answers: one entry per sampled case, one per single-sample case
    assert "Changed answers (3 re-recorded case(s) answer differently)" in text
    # 13 or 15: which old sample a new one replaces is only its number
    assert re.search(f"Δ {SEA}: 1[35] of 20 samples answer differently from the recordings they replaced", text)
    assert "drop#" not in text.split("Changed answers")[1].split("e.g.")[0]
    assert "Δ suites/single.yaml::hello: text changed" in text

    md = (out / "run.md").read_text()
    assert "### Sampled cases against the answers their cassettes held (2: 1 regressed, 0 improved, 2 flaky)" in md
    assert ("| `suites/sampled.yaml::drop` | 19/20 (95%, 95% CI 76–99%) | 6/20 (30%, 95% CI 15–52%) | p<0.0001 "
            "| **regressed** | flaky |") in md
    # the single-sample case is the only regression listed; no sample of a sampled case is one
    regressions = md.split("### Regressions (1)")[1].split("###")[0]
    assert "suites/single.yaml::hello" in regressions and "sampled.yaml" not in regressions
    changed = md.split("### Changed answers (3)")[1]
    assert changed.count("<details>") == 3
    assert re.search(f"<code>{SEA}</code> · 1[35] of 20 samples answer differently", changed)

    page = (out / "run.html").read_text()
    assert "<h2>Sampled cases against the answers their cassettes held</h2>" in page
    assert 'class="verdict regressed"' in page and "19/20 (95%, 95% CI 76–99%)" in page
    assert page.count('class="flag regressed"') == 1  # hello only
    assert "regressions only (1)" in page

    doc = json.loads((out / "run.json").read_text())
    assert doc["summary"]["regressed"] == 2  # hello, and drop by its rates (not 13 samples + hello)
    against = doc["summary"]["samples"]["against_baseline"]
    verdicts = {c["node_id"]: c["verdict"] for c in against["cases"]}
    assert verdicts == {SEA: "regressed", SKY: "no significant change"}
    assert against["suites"][0]["verdict"] == "regressed"


def test_a_replay_with_samples_shows_no_comparison(recorded: Project) -> None:
    """No baseline, nothing to compare: no rates section (and no statistics test is run)."""
    result = recorded.run("run", "suites")
    assert result.code == 1
    assert "Sampled cases against" not in result.out and "Changed answers" not in result.out


def test_json_summary_counts_cases_once_beside_the_pooled_samples(recorded: Project, tmp_path: Path) -> None:
    assert recorded.run("run", "suites", "--report", f"json={tmp_path}/run.json").code == 1
    summary = json.loads((tmp_path / "run.json").read_text())["summary"]
    # the pooled counts stay as documented: every sample is a case there
    assert summary["cases"] == 31 and summary["counts"]["passed"] == 29 and summary["counts"]["failed"] == 2
    assert summary["pass_rate"] == pytest.approx(29 / 31, abs=1e-6)
    # each case once, a sampled case by its own status; the rate is the mean of the case rates
    assert summary["by_case"] == {
        "cases": 3, "counts": {"passed": 1, "failed": 2, "error": 0, "stale": 0, "missing": 0, "skipped": 0},
        "pass_rate": pytest.approx((19 / 20 + 9 / 10 + 1) / 3, abs=1e-6)}
    assert summary["regressed"] == 0 and "against_baseline" not in summary["samples"]  # a replay: no baseline


def test_json_of_a_run_without_samples_has_no_case_block(recorded: Project, tmp_path: Path) -> None:
    assert recorded.run("run", "suites/single.yaml", "--report", f"json={tmp_path}/run.json").code == 0
    summary = json.loads((tmp_path / "run.json").read_text())["summary"]
    assert "by_case" not in summary and "samples" not in summary
