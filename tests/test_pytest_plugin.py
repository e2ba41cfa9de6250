"""The pytest door: suite cases as pytest items, with -k, --lf, -x, --junitxml and xdist."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET

import pytest

from harness.cli import main as harness_main
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import CANARY, OPTED_IN_PYPROJECT, record_for_pytester

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


@pytest.fixture
def recorded(pytester: pytest.Pytester, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    return record_for_pytester(pytester, fake, monkeypatch, SUITE, code=1)


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
    pytester.makefile(".toml", pyproject=OPTED_IN_PYPROJECT)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "bad.yaml").write_text("model: x\ncases:\n  - id: a\n    promt: hi\n")
    result = pytester.runpytest("suites")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # pytest's exit status 2
    result.stdout.fnmatch_lines(["*harness: suites/bad.yaml:4 [[]case a[]]: invalid suite*promt*"])
    assert "Traceback" not in result.stdout.str()


def test_render_error_fails_the_item_with_file_and_line(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", pyproject=OPTED_IN_PYPROJECT)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "bad.yaml").write_text("model: x\ncases:\n  - id: a\n    prompt: '{{ nope }}'\n")
    result = pytester.runpytest("suites")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*suites/bad.yaml:4 [[]case a[]]: undefined variable*"])


def test_record_mode_option_records_through_pytest(pytester: pytest.Pytester, fake: FakeOpenAI,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makefile(".toml", pyproject=OPTED_IN_PYPROJECT)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "demo.yaml").write_text(SUITE)
    fake.add_rule(Rule(contains="goodbye", content="bonjour"))
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    result = pytester.runpytest("suites", "--record-mode", "once", "--harness-base-url", fake.base_url)
    result.assert_outcomes(passed=4)
    assert len(list((pytester.path / "cassettes" / "demo").glob("*.yaml"))) == 4


def test_xdist_replays_and_records_without_duplicates(pytester: pytest.Pytester, fake: FakeOpenAI,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makefile(".toml", pyproject=OPTED_IN_PYPROJECT)
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
    pytester.makefile(".toml", pyproject=OPTED_IN_PYPROJECT)
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


def test_skipped_cases_are_not_in_the_pytest_gate(pytester: pytest.Pytester, fake: FakeOpenAI,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makefile(".toml", pyproject=OPTED_IN_PYPROJECT)
    (pytester.path / "suites").mkdir()
    skipped = "".join(f"  - id: s{i}\n    prompt: later {i}\n    skip: not yet\n" for i in range(2))
    (pytester.path / "suites" / "g.yaml").write_text(GATED.format(rate=0.75) + skipped)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    assert harness_main(["run", "suites", "-q", "--record-mode", "once", "--base-url", fake.base_url]) == 0
    monkeypatch.delenv("OPENAI_API_KEY")
    result = pytester.runpytest("suites")
    result.assert_outcomes(passed=3, xfailed=1, skipped=2)
    assert result.ret == pytest.ExitCode.OK  # 3 of the 4 that ran pass; 3 of 6 would be below 75%
    result.stdout.fnmatch_lines(["*harness gate met: g: pass rate 75.00% (3/4) meets min_pass_rate 75.00%*"])
    result = pytester.runpytest("suites", "-k", "not c0")  # a deselected case is not in the rate either
    result.assert_outcomes(passed=2, xfailed=1, skipped=2, deselected=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*harness gate FAILED: g: pass rate 66.67% (2/3) is below min_pass_rate 75.00%*"])


def test_a_case_that_cannot_be_planned_counts_in_the_pytest_gate(pytester: pytest.Pytester, fake: FakeOpenAI,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """It did not pass: like an error on the way, it is in the rate (harness run refuses the run)."""
    pytester.makefile(".toml", pyproject=OPTED_IN_PYPROJECT)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "g.yaml").write_text(GATED.format(rate=0.6))
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    harness_main(["run", "suites", "-q", "--record-mode", "once", "--base-url", fake.base_url])
    monkeypatch.delenv("OPENAI_API_KEY")
    with (pytester.path / "suites" / "g.yaml").open("a") as fh:
        fh.write("  - id: bad\n    prompt: '{{ nope }}'\n")
    result = pytester.runpytest("suites")
    result.assert_outcomes(passed=3, xfailed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*harness gate met: g: pass rate 60.00% (3/5) meets min_pass_rate 60.00%*"])


def test_an_expected_failure_is_told_in_harness_words(pytester: pytest.Pytester, fake: FakeOpenAI,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makefile(".toml", pyproject=OPTED_IN_PYPROJECT)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "g.yaml").write_text(GATED.format(rate=0.7))
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    harness_main(["run", "suites", "-q", "--record-mode", "once", "--base-url", fake.base_url])
    monkeypatch.delenv("OPENAI_API_KEY")
    reports = pytester.inline_run("suites").getreports("pytest_runtest_logreport")
    [xfailed] = [r for r in reports if r.when == "call" and hasattr(r, "wasxfail")]
    assert xfailed.longreprtext.startswith("tolerated by the suite's min_pass_rate 70%: FAILED: suites/g.yaml::c3")
    assert "contains: 'nope' not found" in xfailed.longreprtext
    assert "pytest_plugin.py" not in xfailed.longreprtext  # no source traceback of harness itself
    result = pytester.runpytest("suites", "--runxfail")  # shown as a failure: the same short text
    result.assert_outcomes(passed=3, failed=1)
    assert "Traceback" not in result.stdout.str() and "def runtest" not in result.stdout.str()


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
    pytester.makefile(".toml", pyproject=OPTED_IN_PYPROJECT)
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
    pytester.makefile(".toml", pyproject=OPTED_IN_PYPROJECT.replace("['suites']", "['suites', 'evals/*.yaml', 'gone/']"))
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
    result.stdout.fnmatch_lines(["harness: evals/broken.yaml:2: top-level key 'case' is not 'cases'*"])
    (pytester.path / "evals" / "broken.yaml").unlink()
    # In a listed folder the rule is `harness run`'s: a suite that lost its cases is an error, not skipped.
    (pytester.path / "suites" / "lost.yaml").write_text("model: gpt-4o\nCases:\n  - id: x\n    prompt: hi\n")
    result = pytester.runpytest("--co", "-q")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["harness: suites/lost.yaml:2: top-level key 'Cases' is not 'cases'*"])


def test_a_cold_run_writes_the_parse_cache_once(recorded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once per session, not once per item (the whole folder's file each time: quadratic)."""
    from harness import cassettes
    from harness.cassettes import parse_cache

    monkeypatch.delenv("CI", raising=False)  # CI=true reads the cache but writes none
    fresh = parse_cache.ParseCache()
    monkeypatch.setattr(cassettes, "CACHE", fresh)
    shutil.rmtree(recorded.path / ".harness", ignore_errors=True)  # cold
    writes: list[str] = []
    real_write = parse_cache.atomic_write
    monkeypatch.setattr(parse_cache, "atomic_write", lambda path, text: writes.append(text) or real_write(path, text))
    recorded.inline_run("suites").assertoutcome(passed=3, failed=1)
    assert len(writes) == 1
    [cache_file] = (recorded.path / ".harness" / "cache").glob("*.json")
    entries = json.loads(cache_file.read_text())["entries"]
    assert sorted(entries) == ["greet.yaml", "lang[de].yaml", "lang[fr].yaml", "wrong.yaml"]


CASE_GATED = """\
model: gpt-4o
cases:
  - id: steady
    samples: 4
    min_pass_rate: 0.5
    prompt: Describe the sea.
    checks:
      - contains: calm
  - id: shaky
    samples: 4
    min_pass_rate: 0.75
    prompt: Describe the sky.
    checks:
      - contains: blue
"""


def test_case_gates_decide_in_pytest_as_in_harness_run(pytester: pytest.Pytester, fake: FakeOpenAI,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """steady passes 3 of 4 (gate 50%: met), shaky 2 of 4 (gate 75%: not met): each sample is an
    item, failing samples are xfail, and the session fails on shaky by its gate, as `harness run` does."""
    pytester.makefile(".toml", pyproject=OPTED_IN_PYPROJECT)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "c.yaml").write_text(CASE_GATED)
    fake.add_rule(Rule(contains="Describe the sea", content="The sea is calm.", times=3))
    fake.add_rule(Rule(contains="Describe the sky", content="The sky is blue.", times=2))
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    assert harness_main(["run", "suites", "-q", "--record-mode", "once", "--base-url", fake.base_url]) == 1
    monkeypatch.delenv("OPENAI_API_KEY")
    assert harness_main(["run", "suites", "-q"]) == 1  # the CLI's verdict, replayed

    quiet = ("-p", "no:randomly", "-rN")
    result = pytester.runpytest("suites", *quiet)
    result.assert_outcomes(passed=5, xfailed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["harness case gate met: suites/c.yaml::steady: 3/4 passed (75%*: "
                                 "pass rate 75% (3/4) meets min_pass_rate 50%"])
    result.stdout.fnmatch_lines(["harness case gate FAILED: suites/c.yaml::shaky: 2/4 passed (50%*: "
                                 "pass rate 50% (2/4) is below min_pass_rate 75%"])

    # --lf runs the failing case again, all its samples (not a lone sample, nor the passing case)
    again = pytester.runpytest("suites", "--lf", "-v", *quiet)
    again.assert_outcomes(passed=2, xfailed=2)
    again.stdout.fnmatch_lines(["*run-last-failure: rerun previous 4 failures*"])
    assert again.ret == pytest.ExitCode.TESTS_FAILED
    assert all("steady" not in line for line in again.stdout.lines if line.startswith("suites/c.yaml::"))

    # across xdist workers the case's samples add up the same way
    spread = pytester.runpytest_subprocess("suites", "-n", "2")
    spread.assert_outcomes(passed=5, xfailed=3)
    assert spread.ret == pytest.ExitCode.TESTS_FAILED
    spread.stdout.fnmatch_lines(["*harness case gate FAILED: suites/c.yaml::shaky*"])

    # met once the gate is lowered: the session passes
    (pytester.path / "suites" / "c.yaml").write_text(CASE_GATED.replace("0.75", "0.5"))
    assert harness_main(["run", "suites", "-q"]) == 0
    lowered = pytester.runpytest("suites", *quiet)
    lowered.assert_outcomes(passed=5, xfailed=3)
    assert lowered.ret == pytest.ExitCode.OK


SUITE_RATE_SAMPLED = """\
model: gpt-4o
min_pass_rate: 0.7
cases:
  - id: multi
    samples: 4
    prompt: Describe the sea.
    checks:
      - contains: calm
  - id: one
    prompt: first question
    checks:
      - contains: first
  - id: two
    prompt: second question
    checks:
      - contains: second
"""


def test_a_suite_min_pass_rate_with_samples_is_the_mean_of_case_rates_in_pytest(
        pytester: pytest.Pytester, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    """multi passes 1 of 4; one and two pass: pooled 3/6 = 50% would miss 70%, the mean of the case
    rates (25% + 100% + 100%) / 3 = 75% meets it, in the door as in `harness run`."""
    pytester.makefile(".toml", pyproject=OPTED_IN_PYPROJECT)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "s.yaml").write_text(SUITE_RATE_SAMPLED)
    fake.add_rule(Rule(contains="Describe the sea", content="The sea is calm.", times=1))
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    harness_main(["run", "suites", "-q", "--record-mode", "once", "--base-url", fake.base_url])
    monkeypatch.delenv("OPENAI_API_KEY")
    assert harness_main(["run", "suites", "-q"]) == 0
    result = pytester.runpytest("suites", "-p", "no:randomly")
    result.assert_outcomes(passed=3, xfailed=3)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*harness gate met: s: pass rate 75.00% (mean of 3 cases' rates; 3/6 samples "
                                 "passed) meets min_pass_rate 70.00%*"])


REPORTED = """\
model: gpt-4o
cases:
  - id: wrong
    prompt: Say goodbye.
    checks:
      - contains: "bonjour"
      - length: {words: {max: 1}}
  - id: talk
    prompt: First question.
    turns:
      - Second question.
    checks:
      - contains: "Echo: First"
        turn: 1
      - contains: "never said"
"""


def test_what_a_user_reads_of_a_failure_and_of_an_expected_failure(
        pytester: pytest.Pytester, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole text of a failing case (each failed check, a conversation's trajectory) and the
    xfail line of a case a suite's min_pass_rate tolerates, word for word; no Python traceback."""
    pytester.makefile(".toml", pyproject=OPTED_IN_PYPROJECT)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "r.yaml").write_text(REPORTED)
    (pytester.path / "suites" / "g.yaml").write_text(GATED.format(rate=0.7))
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    harness_main(["run", "suites", "-q", "--record-mode", "once", "--base-url", fake.base_url])
    monkeypatch.delenv("OPENAI_API_KEY")
    fake.stop()
    # On CI (CI or BUILD_NUMBER set) pytest prints each failure's whole message in the short
    # summary, not its first line: pinned here as a developer's terminal shows it.
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)
    result = pytester.runpytest("suites", "-rfx", "-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=2, xfailed=1)
    result.stdout.fnmatch_lines([
        "*= FAILURES =*",
        "*_ case wrong _*",
        "FAILED: suites/r.yaml::wrong",
        "  contains: 'bonjour' not found in 'Echo: Say goodbye.'",
        "  length: words: 3 > max 1 in 'Echo: Say goodbye.'",
        "*_ case talk _*",
        "FAILED: suites/r.yaml::talk",
        "  contains: 'never said' not found in 'Echo: Second question.'",
        "  trajectory: 2 steps · 2 turns · 20 tokens · $0.000110 · * ms",
        "  step 1 · turn 1 · 7 tokens · $0.0000475 · * ms",
        "    user: First question.",
        "    assistant: Echo: First question.",
        "  step 2 · turn 2 · 13 tokens · $0.0000625 · * ms",
        "    user: Second question.",
        "    answer: Echo: Second question.",
        "harness gate met: g: pass rate 75.00% (3/4) meets min_pass_rate 70.00%",
        "*= short test summary info =*",
        "FAILED suites/r.yaml::wrong - FAILED: suites/r.yaml::wrong",
        "FAILED suites/r.yaml::talk - FAILED: suites/r.yaml::talk",
        "XFAIL suites/g.yaml::c3 - tolerated by the suite's min_pass_rate 70%: FAILED: suites/g.yaml::c3"
        "   contains: 'nope' not found in 'Echo: question 3'",
    ], consecutive=True)
    out = result.stdout.str()
    assert "Traceback" not in out and "pytest_plugin.py" not in out and "def runtest" not in out


def test_a_session_without_suites_does_not_load_harness(pytester: pytest.Pytester) -> None:
    """pytest loads the plugin in every session wherever harness is installed: a project's own
    unit tests must not pay for suites, the runner or jsonschema."""
    pytester.makepyfile(test_plain="""
        import sys

        def test_plain():
            heavy = [m for m in ("harness.runner", "harness.suite", "harness.planning", "harness.gates",
                                 "harness.report.sampled", "jsonschema", "openai") if m in sys.modules]
            assert heavy == []
    """)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
