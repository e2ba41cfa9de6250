"""``harness diff`` over samples: real multi-sample suites recorded through the loopback server at a
base commit and re-recorded on top, then compared as pass rates — a significant drop fails the
gate, failing samples within noise do not.

The server's answers are scripted with ``Rule(times=...)``: the first N requests for a prompt get a
passing answer, the rest the server's own echo (which fails the check), so each side's pass count is
exact whatever order the concurrent samples arrive in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.gates import evaluate
from harness.report.records import CaseRecord, RunRecord
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import Project

SUITE = """
    name: sampled
    model: gpt-4o
    cases:
      - id: drop
        samples: 20
        prompt: Describe the sea.
        checks:
          - contains: calm
      - id: wobble
        samples: 10
        prompt: Describe the sky.
        checks:
          - contains: blue
"""
SEA, SKY = "suites/sampled.yaml::drop", "suites/sampled.yaml::wobble"


def git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True).stdout


def script(fake: FakeOpenAI, *, sea: int, sky: int) -> None:
    """The next ``sea`` sea answers and ``sky`` sky answers pass; the ones after them fail."""
    fake.add_rule(Rule(contains="Describe the sea", content="The sea is calm.", times=sea))
    fake.add_rule(Rule(contains="Describe the sky", content="The sky is blue.", times=sky))


@pytest.fixture
def repo(project: Project, fake: FakeOpenAI) -> Project:
    """Base commit: drop passes 19/20, wobble 9/10, recorded and committed (and saved as old.json)."""
    project.monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    project.suite("sampled.yaml", SUITE)
    script(fake, sea=19, sky=9)
    assert project.record(fake, "suites").code == 1  # two samples fail
    assert project.run("run", "suites", "--report", "json=old.json").code == 1
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "suites", "cassettes", "pyproject.toml")
    git(project.root, "commit", "-q", "-m", "base")
    return project


def test_a_significant_drop_fails_the_diff_and_noise_is_named_as_such(repo: Project, fake: FakeOpenAI,
                                                                     tmp_path: Path) -> None:
    script(fake, sea=6, sky=7)
    rerecord = repo.record(fake, "suites", "--fail-on", "regressed", mode="all")
    assert rerecord.code == 1, rerecord.text  # the re-recording run uses the same verdicts
    assert f"{SEA}: regressed 19/20 → 6/20 (p<0.0001, adjusted)" in rerecord.out

    out = tmp_path / "out"
    result = repo.run("diff", "--base", "HEAD", "suites", "--report", f"markdown={out}/diff.md",
                      "--report", f"json={out}/diff.json", "--report", f"html={out}/diff.html")
    assert result.code == 1, result.text
    text = result.out
    assert "Sampled cases (2: 1 regressed, 0 improved, 2 flaky)" in text
    assert "Holm-adjusted over the 2 sampled cases" in text
    assert f"{SEA}: regressed 19/20 → 6/20 (p<0.0001, adjusted) · 95% CI 76–99% → 15–52% · flaky" in text
    assert f"{SKY}: no significant change 9/10 → 7/10 (p=0.29, adjusted) · 95% CI 60–98% → 40–89% · flaky" in text
    assert "sampled: mean case pass rate 92.5% → 50.0% over 2 sampled case(s): dropped significantly" in text
    assert f"flaky (samples disagree): {SEA}, {SKY}" in text
    # no sample is listed as a regression of its own: the case is
    assert "Regressions (newly failing)" not in text and "Other status changes" not in text
    assert "gate failed: 1 sampled case(s) regressed significantly: " + SEA in text
    assert "(1 sampled case(s) with failing samples but no significant drop are not regressions)" in text
    assert "gate failed: sampled: mean case pass rate 92.5% → 50.0%" in text
    assert "1 regressed, 0 fixed" in text
    # changed answers of a sampled case are one entry: samples pair up by number only
    changed = text.split("Changed answers (")[1].split("Totals")[0]
    assert changed.startswith("2 case(s) answer differently)") and "#" not in changed.split("e.g.")[0]
    assert changed.count("Δ ") == 2 and f"Δ {SEA}: " in changed

    doc = json.loads((out / "diff.json").read_text())
    assert doc["summary"]["regressed"] == [SEA] and doc["summary"]["fixed"] == []
    samples = doc["samples"]
    assert samples["test"] == "fisher_exact_one_sided" and samples["adjustment"] == "holm"
    assert samples["alpha"] == 0.05
    cases = {c["node_id"]: c for c in samples["cases"]}
    drop, wobble = cases[SEA], cases[SKY]
    assert drop["verdict"] == "regressed" and drop["flaky"] is True
    assert drop["base"] == {"passed": 19, "n": 20, "rate": 0.95, "low": pytest.approx(0.764, abs=1e-3),
                            "high": pytest.approx(0.991, abs=1e-3)}
    assert drop["head"]["passed"] == 6 and drop["p_adjusted"] < 0.0001
    assert wobble["verdict"] == "no significant change" and wobble["p_adjusted"] == pytest.approx(0.291, abs=1e-3)
    assert wobble["p_regressed"] == pytest.approx(0.291, abs=1e-3)
    (suite,) = samples["suites"]
    assert suite["path"] == "suites/sampled.yaml" and suite["verdict"] == "regressed" and suite["cases"] == 2
    assert suite["base_mean"] == pytest.approx(0.925) and suite["head_mean"] == pytest.approx(0.5)
    assert samples["flaky"] == [SEA, SKY]

    md = (out / "diff.md").read_text()
    assert md.startswith("## ❌ harness diff")
    assert "### Sampled cases (2: 1 regressed, 0 improved, 2 flaky)" in md
    assert "| `suites/sampled.yaml::drop` | 19/20 (95%, 95% CI 76–99%) | 6/20 (30%, 95% CI 15–52%) | p<0.0001 | **regressed** | flaky |" in md
    assert "| `suites/sampled.yaml::wobble` | 9/10 (90%, 95% CI 60–98%) | 7/10 (70%, 95% CI 40–89%) | p=0.29 | no significant change | flaky |" in md
    assert "| sampled | 92.5% | 50.0% | 2 |" in md and "dropped significantly" in md
    assert "Regressions: newly failing" not in md

    page = (out / "diff.html").read_text()
    assert '<section id="rates">' in page and 'class="verdict regressed"' in page
    assert "19/20 (95%, 95% CI 76–99%)" in page and "p=0.29" in page
    assert '<div class="tile"><b>1</b><span>regressed</span></div>' in page
    assert 'class="flag regressed"' not in page and 'data-regressed="1"' not in page  # no sample regressed alone

    # the same verdicts from two saved run reports
    assert repo.run("run", "suites", "--report", "json=new.json").code == 1
    saved = repo.run("diff", "old.json", "new.json")
    assert saved.code == 1
    assert f"{SEA}: regressed 19/20 → 6/20 (p<0.0001, adjusted)" in saved.out
    assert f"{SKY}: no significant change 9/10 → 7/10 (p=0.29, adjusted)" in saved.out
    # and the other way round: a significant rise is an improvement, listed with the fixes
    back = repo.run("diff", "new.json", "old.json", "--report", f"json={out}/back.json")
    assert back.code == 0, back.text
    assert f"{SEA}: improved 6/20 → 19/20 (p<0.0001, adjusted)" in back.out
    assert "rose significantly" in back.out and "0 regressed, 1 fixed" in back.out
    assert json.loads((out / "back.json").read_text())["summary"]["fixed"] == [SEA]


def test_failing_samples_within_noise_pass_the_gate(repo: Project, fake: FakeOpenAI) -> None:
    script(fake, sea=0, sky=7)
    rerecord = repo.record(fake, SKY, "--fail-on", "regressed", mode="all")
    assert rerecord.code == 0, rerecord.text  # 9/10 -> 7/10 is not a regression, though samples now fail
    assert "no regressions (1 sampled case(s) with failing samples but no significant drop" in rerecord.out

    result = repo.run("diff", "--base", "HEAD", "suites")
    assert result.code == 0, result.text
    # Holm: the smaller of two p-values is doubled (here drop's, 19/20 -> 19/20, has p=1)
    assert f"{SKY}: no significant change 9/10 → 7/10 (p=0.58, adjusted)" in result.out
    assert f"{SEA}: no significant change 19/20 → 19/20 (p=0.76, adjusted)" in result.out
    assert "sampled: mean case pass rate 92.5% → 82.5% over 2 sampled case(s): no significant change" in result.out
    assert "gate met: no regressions" in result.out
    assert "0 regressed, 0 fixed" in result.out
    quiet = repo.run("diff", "--base", "HEAD", "suites", "-q")
    assert quiet.code == 0 and "0 regressed, 0 fixed" in quiet.out

    # --fail-on failed still fails on any failing sample: only `regressed` reads the rates
    assert repo.run("diff", "--base", "HEAD", "suites", "--fail-on", "failed").code == 1


def test_a_case_that_gains_samples_stays_one_case(repo: Project, fake: FakeOpenAI) -> None:
    suite = repo.root / "suites" / "sampled.yaml"
    suite.write_text(suite.read_text().replace("samples: 10", "samples: 20"))
    fake.add_rule(Rule(contains="Describe the sky", content="The sky is blue."))  # every new sample passes
    assert repo.record(fake, SKY, mode="all").code == 0
    result = repo.run("diff", "--base", "HEAD", "suites")
    assert result.code == 0, result.text
    assert f"{SKY}: no significant change 9/10 → 20/20 (p=0.67, adjusted)" in result.out
    assert "Added" not in result.out and "0 added, 0 removed" in result.out  # its extra samples are not new cases
    # and back: the ten samples the head drops are not removed cases either
    assert repo.run("run", "suites", "--report", "json=new.json").code == 1
    back = repo.run("diff", "new.json", "old.json")
    assert f"{SKY}: no significant change 20/20 → 9/10 (p=0.67, adjusted)" in back.out
    assert "Removed" not in back.out and "0 added, 0 removed" in back.out


def test_a_diff_without_samples_imports_no_statistics(project: Project, fake: FakeOpenAI) -> None:
    """Single-sample diffs stay as they were: no scipy import (it costs ~0.8 s), no sampled section,
    no `samples` key in the JSON."""
    project.suite("one.yaml", "model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n    checks:\n"
                              "      - contains: Echo\n")
    assert project.record(fake, "suites").code == 0
    assert project.run("run", "suites", "--report", "json=a.json").code == 0
    code = ("import sys, json; from harness.cli import main\n"
            "rc = main(['diff', 'a.json', 'a.json', '--report', 'json=d.json'])\n"
            "assert rc == 0, rc\n"
            "assert 'scipy' not in sys.modules, 'scipy imported'\n"
            "assert 'samples' not in json.load(open('d.json'))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=project.root, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "Sampled cases" not in done.stdout and "0 regressed, 0 fixed, 0 changed" in done.stdout



def _sample(i: int, status: str, baseline: str = "passed") -> CaseRecord:
    return CaseRecord(suite="s", suite_path="suites/s.yaml", id="a", model="gpt-4o", status=status, sample=i,
                      baseline_status=baseline)


def test_an_error_sample_fails_the_gate_though_a_failed_one_would_not() -> None:
    """10 samples that all passed before: one now fails (noise), or one ends in error (never excused)."""
    failed = RunRecord(tuple(_sample(i, "failed" if i == 9 else "passed") for i in range(10)))
    code, gates = evaluate(failed, fail_on="regressed")
    assert code == 0 and gates[0].text.startswith("no regressions (1 sampled case(s) with failing samples")
    assert [g.text for g in gates[1:]] == [
        "s: mean case pass rate 100.0% → 90.0% over 1 sampled case(s): no significant change (p=0.5)"]
    errored = RunRecord(tuple(_sample(i, "error" if i == 9 else "passed") for i in range(10)))
    code, gates = evaluate(errored, fail_on="regressed")
    assert code == 1 and "1 sample(s) ended in error: suites/s.yaml::a#9" in gates[0].text
