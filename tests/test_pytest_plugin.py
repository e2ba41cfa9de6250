"""The pytest door: suite cases as pytest items, with -k, --lf, -x, --junitxml and xdist."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest

from harness.cli import main as harness_main
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import CANARY

SUITE = """\
model: gpt-4o
cases:
  - id: greet
    prompt: Say hello to Ada.
    checks:
      - contains: "Echo: Say hello"
  - id: wrong
    prompt: Say goodbye.
    checks:
      - contains: "bonjour"
  - id: lang
    prompt: "Say hi in {{ lang }}."
    matrix:
      lang: [fr, de]
"""

# Suites are collected only when the project opts in to them.
PYPROJECT = "[project]\nname='demo'\n\n[tool.pytest.ini_options]\nharness_suites = ['suites']\n"


@pytest.fixture
def recorded(pytester: pytest.Pytester, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "demo.yaml").write_text(SUITE)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    assert harness_main(["run", "suites", "-q", "--record-mode", "once", "--base-url", fake.base_url]) == 1
    monkeypatch.delenv("OPENAI_API_KEY")
    fake.stop()
    return pytester


def test_cases_are_items_with_node_ids(recorded: pytest.Pytester) -> None:
    result = recorded.runpytest("suites", "-v", "-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines([
        "suites/demo.yaml::greet PASSED*",
        "suites/demo.yaml::wrong FAILED*",
        "suites/demo.yaml::lang[[]fr[]] PASSED*",
        "suites/demo.yaml::lang[[]de[]] PASSED*",
    ])
    result.stdout.fnmatch_lines(["*contains: 'bonjour' not found in 'Echo: Say goodbye.'*"])
    assert "Traceback" not in result.stdout.str()


def test_keyword_last_failed_and_exitfirst(recorded: pytest.Pytester) -> None:
    recorded.runpytest("suites", "-k", "lang and not fr").assert_outcomes(passed=1, deselected=3)
    recorded.runpytest("suites").assert_outcomes(passed=3, failed=1)
    result = recorded.runpytest("suites", "--lf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*rerun previous 1 failure*"])
    result = recorded.runpytest("suites", "-x", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)


def test_junitxml(recorded: pytest.Pytester) -> None:
    recorded.runpytest("suites", "--junitxml=out.xml")
    tree = ET.parse(recorded.path / "out.xml")
    cases = {c.get("name"): c for c in tree.iter("testcase")}
    assert set(cases) == {"greet", "wrong", "lang[fr]", "lang[de]"}
    failure = cases["wrong"].find("failure")
    assert failure is not None and "bonjour" in (failure.get("message", "") + (failure.text or ""))


def test_missing_and_stale_fail_with_the_command_to_fix(recorded: pytest.Pytester) -> None:
    suite = recorded.path / "suites" / "demo.yaml"
    suite.write_text(SUITE.replace("Say hello to Ada.", "Say hello to Grace.") + "  - id: new\n    prompt: x\n")
    result = recorded.runpytest("suites")
    result.assert_outcomes(passed=2, failed=3)
    out = result.stdout.str()
    assert "STALE: suites/demo.yaml::greet" in out
    assert '+        "content": "Say hello to Grace."' in out
    assert "MISSING: suites/demo.yaml::new" in out
    assert "--record-mode once" in out


def test_user_error_is_a_collection_error_without_traceback(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "bad.yaml").write_text("model: x\ncases:\n  - id: a\n    promt: hi\n")
    result = pytester.runpytest("suites")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # pytest's exit status 2
    result.stdout.fnmatch_lines(["*harness: suites/bad.yaml:4 [[]case a[]]: invalid suite*promt*"])
    assert "Traceback" not in result.stdout.str()


def test_render_error_fails_the_item_with_file_and_line(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "bad.yaml").write_text("model: x\ncases:\n  - id: a\n    prompt: '{{ nope }}'\n")
    result = pytester.runpytest("suites")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*suites/bad.yaml:4 [[]case a[]]: undefined variable*"])


def test_record_mode_option_records_through_pytest(pytester: pytest.Pytester, fake: FakeOpenAI,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "demo.yaml").write_text(SUITE)
    fake.add_rule(Rule(contains="goodbye", content="bonjour"))
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    result = pytester.runpytest("suites", "--record-mode", "once", "--harness-base-url", fake.base_url)
    result.assert_outcomes(passed=4)
    assert len(list((pytester.path / "cassettes" / "demo").glob("*.yaml"))) == 4


def test_xdist_replays_and_records_without_duplicates(pytester: pytest.Pytester, fake: FakeOpenAI,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    (pytester.path / "suites").mkdir()
    cases = "".join(f"  - id: c{i}\n    prompt: question {i}\n    checks:\n      - contains: 'question {i}'\n"
                    for i in range(12))
    (pytester.path / "suites" / "many.yaml").write_text("model: gpt-4o\ncases:\n" + cases)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    result = pytester.runpytest_subprocess("suites", "-n", "2", "--record-mode", "once",
                                           "--harness-base-url", fake.base_url)
    result.assert_outcomes(passed=12)
    files = sorted(p.name for p in (pytester.path / "cassettes" / "many").iterdir())
    assert files == sorted(f"c{i}.yaml" for i in range(12))  # no temp files, no duplicates
    assert len([r for r in fake.requests if r.path.endswith("/chat/completions")]) == 12
    fake.stop()
    monkeypatch.delenv("OPENAI_API_KEY")
    result = pytester.runpytest_subprocess("suites", "-n", "2")
    result.assert_outcomes(passed=12)
    assert os.environ.get("OPENAI_API_KEY") is None


GATED = """\
model: gpt-4o
min_pass_rate: {rate}
cases:
""" + "".join(f"  - id: c{i}\n    prompt: question {i}\n    checks:\n      - contains: '{'question' if i < 3 else 'nope'}'\n"
              for i in range(4))


@pytest.mark.parametrize(("rate", "n"), [(0.7, 1), (0.8, 1), (0.7, 2)])
def test_min_pass_rate_gate_under_pytest(pytester: pytest.Pytester, fake: FakeOpenAI,
                                         monkeypatch: pytest.MonkeyPatch, rate: float, n: int) -> None:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "g.yaml").write_text(GATED.format(rate=rate))
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    assert harness_main(["run", "suites", "-q", "--record-mode", "once", "--base-url", fake.base_url]) in (0, 1)
    monkeypatch.delenv("OPENAI_API_KEY")
    args = ["suites"] + (["-n", str(n)] if n > 1 else [])
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=3, xfailed=1)  # 3 of 4 pass: 75%
    if rate <= 0.75:
        assert result.ret == pytest.ExitCode.OK
        result.stdout.fnmatch_lines(["*harness gate met: g: pass rate 75.00% (3/4) meets min_pass_rate 70.00%*"])
    else:
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.stdout.fnmatch_lines(["*harness gate FAILED: g: pass rate 75.00% (3/4) is below*"])


LF_SUITE = """\
model: gpt-4o
cases:
  - id: ok
    prompt: fine
  - id: lang
    prompt: "Say hi in {{ lang }}."
    matrix:
      lang: [fr, de]
    samples: 2
    checks:
      - contains: "in fr"
  - id: once
    prompt: once
    checks:
      - contains: nope
"""
LF_FAILED = ["suites/lf.yaml::lang[de]", "suites/lf.yaml::lang[de]#1", "suites/lf.yaml::once"]


def test_last_failed_failed_first_and_stepwise_find_matrix_and_sample_cases(
        pytester: pytest.Pytester, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "lf.yaml").write_text(LF_SUITE)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    assert harness_main(["run", "suites", "-q", "--record-mode", "once", "--base-url", fake.base_url]) == 1
    monkeypatch.delenv("OPENAI_API_KEY")
    quiet = ("-p", "no:randomly", "-rN")
    recorded = pytester.runpytest("suites", *quiet)
    recorded.assert_outcomes(passed=3, failed=3)

    result = pytester.runpytest("suites", "--lf", "-v", *quiet)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*run-last-failure: rerun previous 3 failures*"])
    assert [line.split(" ", 1)[0] for line in result.stdout.lines if " FAILED" in line] == LF_FAILED

    result = pytester.runpytest("suites", "--ff", "-v", *quiet)
    result.assert_outcomes(passed=3, failed=3)
    ran = [line.split(" ", 1)[0] for line in result.stdout.lines if line.startswith("suites/lf.yaml::")]
    assert ran[:3] == LF_FAILED

    pytester.runpytest("suites", "--sw", *quiet).assert_outcomes(passed=3, failed=1)
    result = pytester.runpytest("suites", "--sw", "-v", *quiet)  # starts again at lang[de]
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines(["suites/lf.yaml::lang[[]de[]] FAILED*"])

    result = pytester.runpytest("suites/lf.yaml::lang[de]#1", *quiet)  # an id as pytest prints it
    result.assert_outcomes(failed=1)


def test_only_the_suites_a_project_names_are_collected(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", pyproject=PYPROJECT.replace("['suites']", "['suites', 'evals/*.yaml', 'gone/']"))
    suite = "model: gpt-4o\ncases:\n  - id: {}\n    prompt: hi\n"
    for path, text in {"suites/demo.yaml": suite.format("a"),
                       "suites/rows.yaml": "rows: [1, 2]\n",  # data beside suites, as `harness run` sees it
                       "suites/cassettes/demo/a.yaml": "interactions: []\ncases: []\n",
                       "evals/extra.yaml": suite.format("b"),
                       "data/config.yaml": "cases: [1, 2]\n",  # someone else's YAML
                       "other/named.yaml": suite.format("c")}.items():
        (pytester.path / path).parent.mkdir(parents=True, exist_ok=True)
        (pytester.path / path).write_text(text)
    pytester.makepyfile(test_plain="def test_x():\n    pass\n")
    result = pytester.runpytest("--co", "-q")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert [line for line in result.stdout.lines if "::" in line] == [
        "evals/extra.yaml::b", "suites/demo.yaml::a", "test_plain.py::test_x"]
    result.stdout.fnmatch_lines(["*harness_suites: gone matches no file or folder*"])
    result = pytester.runpytest("--co", "-q", "other/named.yaml", "data")  # a named file is opted in
    assert [line for line in result.stdout.lines if "::" in line] == ["other/named.yaml::c"]
    (pytester.path / "evals" / "broken.yaml").write_text("model: gpt-4o\ncase:\n  - id: x\n")
    result = pytester.runpytest("--co", "-q")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["harness: evals/broken.yaml:1: invalid suite*'cases' is a required*"])
