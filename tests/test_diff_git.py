"""``harness diff``: a temp git repo with recorded cassettes, a change on top, the pull-request view.

The base is read with git (never checked out): the working tree, the index and HEAD must be
exactly as they were after a diff.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import Project

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
      - id: gone
        prompt: This case will be removed.
"""


def git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True).stdout


def snapshot(root: Path) -> dict[str, bytes]:
    """Every tracked or untracked file, except git's own and harness's parse cache (.harness/)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts and ".harness" not in p.parts}


@pytest.fixture
def repo(project: Project, fake: FakeOpenAI) -> Project:
    """Base commit: four cases recorded. Working tree: `sea` re-recorded with a failing answer,
    `data` re-recorded with other JSON, `gone` removed, `fresh` added and recorded."""
    project.monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)  # when the tests run in Actions
    fake.add_rule(Rule(contains="Describe the sea", content="The sea is calm today.", times=1))
    fake.add_rule(Rule(contains="record as JSON", content='{"name": "Ada", "year": 1815}', times=1))
    suite = project.suite("demo.yaml", SUITE)
    assert project.record(fake, "suites").code == 0
    assert project.run("run", "suites", "--report", "json=old.json").code == 0
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "suites", "cassettes", "pyproject.toml")
    git(project.root, "commit", "-q", "-m", "base")
    fake.add_rule(Rule(contains="Describe the sea", content="The sea is rough and grey today."))
    fake.add_rule(Rule(contains="record as JSON", content='{"name": "Ada", "year": 1816}'))
    assert project.record(fake, "suites/demo.yaml::sea", "suites/demo.yaml::data", mode="all").code == 1
    text = suite.read_text().replace("  - id: gone\n    prompt: This case will be removed.\n",
                                     "  - id: fresh\n    prompt: A brand new case.\n")
    suite.write_text(text)
    assert project.record(fake, "suites/demo.yaml::fresh").code == 0
    return project


def test_diff_base_shows_the_pull_request(repo: Project, tmp_path: Path) -> None:
    before, head = snapshot(repo.root), git(repo.root, "rev-parse", "HEAD")
    status = git(repo.root, "status", "--porcelain")
    out = tmp_path / "out"
    result = repo.run("diff", "--base", "HEAD", "suites", "--report", f"markdown={out}/diff.md",
                      "--report", f"json={out}/diff.json", "--report", f"html={out}/diff.html")
    assert result.code == 1, result.text  # a case regressed (default --fail-on regressed)
    assert snapshot(repo.root) == before and git(repo.root, "rev-parse", "HEAD") == head
    assert git(repo.root, "status", "--porcelain") == status

    text = result.out
    assert "harness diff HEAD → working tree" in text
    assert "Regressions (newly failing) (1)" in text and "suites/demo.yaml::sea" in text
    assert "contains: " in text  # the failing check's reason
    assert "Changed answers (2)" in text
    assert "-The sea is calm today." in text and "+The sea is rough and grey today." in text
    assert "root['year']: 1815 → 1816" in text
    assert "Added (1)" in text and "suites/demo.yaml::fresh" in text
    assert "Removed (1)" in text and "suites/demo.yaml::gone" in text
    assert "gate failed: 1 case(s) regressed: suites/demo.yaml::sea" in text

    doc = json.loads((out / "diff.json").read_text())
    assert doc["schema"] == "harness.diff/1" and doc["base"] == "HEAD" and doc["head"] == "working tree"
    summary = doc["summary"]
    assert summary["regressed"] == ["suites/demo.yaml::sea"]
    assert sorted(summary["changed"]) == ["suites/demo.yaml::data", "suites/demo.yaml::sea"]
    assert summary["added"] == ["suites/demo.yaml::fresh"] and summary["removed"] == ["suites/demo.yaml::gone"]
    assert summary["base"]["tokens"] > 0 and summary["delta"]["tokens"] == summary["head"]["tokens"] - summary["base"]["tokens"]
    assert summary["delta"]["cost_usd"] == pytest.approx(summary["head"]["cost_usd"] - summary["base"]["cost_usd"])
    cases = {c["id"]: c for c in doc["run"]["cases"]}
    assert cases["sea"]["baseline"]["status"] == "passed" and cases["sea"]["status"] == "failed"
    assert cases["sea"]["baseline"]["answer"]["content"] == "The sea is calm today."
    assert cases["keep"]["change"]["changed"] is False and cases["fresh"]["new"] is True
    assert [c["id"] for c in doc["removed"]] == ["gone"]

    md = (out / "diff.md").read_text()
    assert md.index("Regressions: newly failing") < md.index("Changed answers") < md.index("### Totals")
    assert "<details>" in md and "```diff" in md and "+The sea is rough and grey today." in md
    assert "| cost |" in md and "| tokens |" in md

    # the same comparison from two saved run reports
    assert repo.run("run", "suites", "--report", "json=new.json").code == 1
    saved = repo.run("diff", "old.json", "new.json", "--fail-on", "failed")
    assert saved.code == 1
    assert "harness diff old.json → new.json" in saved.out
    assert "1 regressed, 0 fixed, 2 changed, 1 added, 1 removed" in saved.out


def test_diff_base_of_one_file_and_no_regression_exits_0(repo: Project) -> None:
    repo.suite("other.yaml", "model: gpt-4o\ncases:\n  - id: x\n    prompt: hi\n")
    result = repo.run("diff", "--base", "HEAD", "suites/other.yaml", "--fail-on", "regressed")
    assert result.code == 3, result.text  # x has no cassette: missing, like `harness run`
    assert "suites/other.yaml does not exist at HEAD: all its cases are new" in result.out
    ok = repo.run("diff", "--base", "HEAD", "suites/demo.yaml::keep", "-q")
    assert ok.code == 0, ok.text
    assert "0 regressed, 0 fixed, 0 changed, 0 added, 0 removed" in ok.out


def test_diff_user_errors(repo: Project) -> None:
    bad_ref = repo.run("diff", "--base", "no-such-branch", "suites")
    assert bad_ref.code == 2 and "unknown git ref 'no-such-branch'" in bad_ref.err
    one = repo.run("diff", "old.json")
    assert one.code == 2 and "OLD.json NEW.json" in one.err
    bad_report = repo.run("diff", "old.json", "old.json", "--report", "pdf=x.pdf")
    assert bad_report.code == 2 and "unknown format 'pdf'" in bad_report.err
    Path(repo.root / "junk.json").write_text('{"schema": "something/9"}')
    junk = repo.run("diff", "old.json", "junk.json")
    assert junk.code == 2 and "not a harness run report" in junk.err


def test_suite_diff_options_decide_what_counts_as_changed() -> None:
    from harness.compare import compare_runs
    from harness.output import Output
    from harness.report.records import CaseRecord, RunRecord, SuiteRecord

    def side(year: int, options: dict) -> RunRecord:
        case = CaseRecord(suite="demo", suite_path="suites/demo.yaml", id="data", model="gpt-4o", status="passed",
                          answer=Output(json.dumps({"name": "Ada", "year": year})))
        return RunRecord(cases=(case,), suites=(SuiteRecord("demo", "suites/demo.yaml", options=options),))

    assert compare_runs(side(1815, {}), side(1816, {})).changed
    ignoring = {"diff": {"exclude_paths": ["$.year"]}}
    cmp = compare_runs(side(1815, {}), side(1816, ignoring))  # the head's options win
    assert not cmp.changed and cmp.head.cases[0].change.details == {"ignored": 1}


def test_diff_options_from_the_suite_file(repo: Project) -> None:
    suite = repo.root / "suites" / "demo.yaml"
    suite.write_text("diff:\n  exclude_paths: [$.year]\n" + suite.read_text())
    result = repo.run("diff", "--base", "HEAD", "suites", "--fail-on", "changed")
    assert result.code == 1, result.text
    assert "Changed answers (1)" in result.out and "suites/demo.yaml::sea" in result.out
    assert "root['year']" not in result.out
