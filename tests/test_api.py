"""The Python door: harness.run, harness.load_suite and typed checks, as a Python user calls them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import harness
from harness.checks import registry
from harness.testing.fake_openai import FakeOpenAI

from conftest import CANARY, Project, network_blocked

TWO = """
    model: gpt-4o
    cases:
      - id: a
        prompt: hello a
        checks:
          - contains: hello
      - id: b
        prompt: hello b
        checks:
          - contains: goodbye
"""


@pytest.fixture(autouse=True)
def own_checks() -> Iterator[None]:
    """Checks a test registers do not outlive it (the registry is one per process)."""
    before = registry.registered()
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)


def test_run_records_then_replays_with_typed_results_and_prints_nothing(
        project: Project, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    project.suite("s.yaml", TWO)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    recorded = harness.run("suites", record_mode="once", base_url=fake.base_url)
    fake.stop()
    monkeypatch.delenv("OPENAI_API_KEY")
    with network_blocked() as attempts:
        replayed = harness.run(["suites/s.yaml"], reports=["json=run.json"])
    assert attempts == []
    assert capsys.readouterr() == ("", "")
    for result in (recorded, replayed):
        assert result.exit_code == 1 and not result.ok and result.errors == ()
        a, b = result.case("a"), result.case("suites/s.yaml::b")
        assert (a.status, b.status) == ("passed", "failed")
        assert a.checks[0].name == "contains" and a.checks[0].passed
        assert b.failed_checks[0].name == "contains" and "goodbye" in b.failed_checks[0].reason
        assert a.answer is not None and "hello a" in (a.answer.content or "")
        assert a.tokens and a.tokens > 0 and a.cost_usd and a.cost_usd > 0  # gpt-4o has a price
        assert result.totals.counts["passed"] == 1 and result.totals.tokens == a.tokens + (b.tokens or 0)
        assert [g.name for g in result.gates] == ["failures"] and not result.gates[0].met
    assert [c.recorded for c in recorded.cases] == [True, True]
    assert replayed.reports == (Path("run.json"),) and (project.root / "run.json").is_file()


def test_run_models_and_samples_replace_the_suites(project: Project, fake: FakeOpenAI,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    project.suite("s.yaml", TWO)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    result = harness.run("suites::a", record_mode="once", base_url=fake.base_url,
                         models=["gpt-4o", "gpt-4o-mini"], samples=2)
    assert result.exit_code == 0, result.errors
    assert sorted(c.key for c in result.cases) == [
        "suites/s.yaml::a[gpt-4o-mini]", "suites/s.yaml::a[gpt-4o-mini]#1",
        "suites/s.yaml::a[gpt-4o]", "suites/s.yaml::a[gpt-4o]#1"]
    assert sorted(c.model for c in result.cases) == ["gpt-4o", "gpt-4o", "gpt-4o-mini", "gpt-4o-mini"]
    assert sorted(p.name for p in (project.root / "cassettes" / "s").iterdir()) == [
        "a[gpt-4o-mini]#1.yaml", "a[gpt-4o-mini].yaml", "a[gpt-4o]#1.yaml", "a[gpt-4o].yaml"]
    suite = harness.load_suite("suites/s.yaml", models="gpt-4o-mini", samples=3)
    assert [(c.id, c.model, c.sample) for c in suite.cases][:3] == [("a", "gpt-4o-mini", 0),
                                                                  ("a", "gpt-4o-mini", 1), ("a", "gpt-4o-mini", 2)]


def test_run_returns_every_user_error_with_its_place_and_exit_2(project: Project,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    project.suite("s.yaml", """
        model: gpt-4o
        cases:
          - id: a
            prompt: "{{ nope }}"
          - id: b
            prompt: hi
            checks:
              - containz: x
    """)
    result = harness.run("suites")
    assert result.exit_code == 2 and result.cases == () and result.record is None
    texts = [str(e) for e in result.errors]
    assert len(texts) == 2
    assert texts[0].startswith("suites/s.yaml:4 [case a]: ") and "nope" in texts[0]
    assert texts[1].startswith("suites/s.yaml:8 [case b]: unknown check 'containz'; did you mean contains")
    assert capsys.readouterr() == ("", "")
    for bad, says in (({"samples": 0}, "samples: expected a whole number >= 1, 'auto', or {min, max}"),
                      ({"record_mode": "sometimes"}, "unknown record mode 'sometimes'"),
                      ({"models": []}, "models: expected model names"),
                      ({"reports": ["pdf=x.pdf"]}, "unknown format 'pdf'")):
        result = harness.run("suites", **bad)  # type: ignore[arg-type]
        assert result.exit_code == 2 and says in str(result.errors[0]), result.errors


def test_load_suite_expands_cases_and_names_the_line_of_a_mistake(project: Project) -> None:
    project.suite("m.yaml", """
        model: gpt-4o
        cases:
          - id: q
            prompt: "Say {{ word }}"
            matrix: {word: [up, down]}
    """)
    suite = harness.load_suite(project.root / "suites" / "m.yaml")
    assert isinstance(suite, harness.Suite)
    assert [c.id for c in suite.cases] == ["q[up]", "q[down]"]
    project.suite("bad.yaml", "model: gpt-4o\ncases:\n  - id: q\n    promt: hi\n")
    with pytest.raises(harness.UserError, match=r"bad.yaml:4 \[case q\]: invalid suite.*did you mean 'prompt'"):
        harness.load_suite("suites/bad.yaml")


# ---------------------------------------------------------------- typed checks

WORDS = """
    model: gpt-4o
    cases:
      - id: a
        prompt: hello a
        checks:
          - word_count_between: {args}
"""


def _word_count_between() -> None:
    @harness.check("word_count_between")
    def word_count_between(output: harness.Output, *, min: int, max: int = 100) -> harness.Result:
        """The answer has between min and max words."""
        words = len((output.content or "").split())
        return harness.Result(min <= words <= max, f"{words} words, expected {min} to {max}")


def test_a_typed_check_runs_like_a_built_in_one(project: Project, fake: FakeOpenAI) -> None:
    _word_count_between()
    project.suite("s.yaml", WORDS.replace("{args}", "{min: 1, max: 2}"))
    project.suite("t.yaml", WORDS.replace("{args}", "{min: 1}").replace("hello a", "hello t")
                  .replace("- word", "- not-word"))
    result = project.record(fake, "suites", "--report", "json=run.json")
    assert result.code == 1, result.text
    text = (project.root / "run.json").read_text()
    assert "expected 1 to 2" in text and "expected 1 to 100" in text
    outcome = harness.run("suites")
    assert outcome.case("suites/s.yaml::a").status == "failed"
    assert "expected 1 to 2" in outcome.case("suites/s.yaml::a").failed_checks[0].reason
    assert outcome.case("suites/t.yaml::a").status == "failed"  # not-: the answer does fit 1..100


@pytest.mark.parametrize(("args", "message"), [
    ('{min: "five", max: 3}', "argument 'min': Input should be a valid integer, got 'five'"),
    ("{min: true}", "argument 'min': Input should be a valid integer, got True"),
    ("{min: 1.5}", "argument 'min': Input should be a valid integer, got 1.5"),
    ("{mn: 1}", "unknown argument 'mn'; did you mean 'min'?; missing argument 'min'"),
    ("5", "expected a mapping of arguments (min, max), got 5"),
], ids=["string", "bool", "float", "misspelt", "not-a-mapping"])
def test_a_wrong_argument_type_in_yaml_is_a_user_error_at_its_line(project: Project, args: str,
                                                                  message: str) -> None:
    _word_count_between()
    project.suite("s.yaml", WORDS.replace("{args}", args))
    result = project.run("run", "suites")
    assert result.code == 2 and "Traceback" not in result.text
    assert f"s.yaml:6 [case a]: bad argument for check 'word_count_between': {message}" in result.err, result.err


def test_a_typed_check_gets_the_context_and_its_failures_are_verdicts(project: Project, fake: FakeOpenAI) -> None:
    @harness.check("mentions_var")
    def mentions_var(output: harness.Output, ctx: harness.CheckContext, *, var: str) -> bool:
        return str(ctx.case.vars[var]) in (output.content or "")

    @harness.check("says_maybe")
    def says_maybe(output: harness.Output) -> bool:
        return "maybe"  # type: ignore[return-value]  # what a careless check might do

    project.suite("s.yaml", """
        model: gpt-4o
        vars: {who: a}
        cases:
          - id: a
            prompt: hello {{ who }}
            checks:
              - mentions_var: {var: who}
              - says_maybe
    """)
    result = project.record(fake, "suites", "--report", "json=run.json")
    outcome = harness.run("suites")
    assert result.code == 1 and outcome.exit_code == 1
    case = outcome.case("a")
    assert case.status == "error"
    assert case.checks[0].passed
    assert case.checks[1].error and "returned str maybe; a check returns True/False or a harness.Result" \
        in case.checks[1].reason


def test_a_check_function_of_the_wrong_shape_is_refused_where_it_is_declared() -> None:
    with pytest.raises(TypeError, match="must take the output"):
        harness.check("two_args")(lambda output, ctx, extra: True)
    with pytest.raises(ValueError, match="already registered"):
        harness.check("contains")(lambda output: True)
    with pytest.raises(ValueError, match="not start with 'not-'"):
        harness.check("not-this")(lambda output: True)


# ---------------------------------------------------------------- entry points

def _dist(site: Path, name: str, entry_points: str, modules: dict[str, str]) -> None:
    """A distribution as pip would leave it: NAME-1.0.dist-info with entry_points.txt, plus modules."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[harness.checks]\n{entry_points}\n")
    for module, text in modules.items():
        (site / f"{module}.py").write_text(text)


SHOUTS = """
import pathlib
pathlib.Path({log!r}).open("a").write("imported\\n")

def shouts(output, *, marks: int = 1) -> bool:
    return (output.content or "").count("!") >= marks
"""


def test_an_installed_package_adds_a_check_through_its_entry_point(
        project: Project, fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "imports.log"
    _dist(tmp_path / "site", "demo-shouts", "shouts = demo_shouts:shouts",
          {"demo_shouts": SHOUTS.format(log=str(log))})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    project.suite("s.yaml", """
        model: gpt-4o
        cases:
          - id: a
            prompt: hello a
            checks:
              - not-shouts
              - shouts: {marks: 0}
          - id: b
            prompt: hello b
            checks:
              - shouts: {marks: 3}
    """)
    assert not log.exists()  # nothing is imported before a suite needs it
    result = project.record(fake, "suites", "--report", "json=run.json")
    assert result.code == 1, result.text
    outcome = harness.run("suites")
    assert outcome.case("a").status == "passed" and outcome.case("b").status == "failed"
    assert log.read_text() == "imported\n"  # once per process, however many cases use it
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n    checks:\n"
                            "      - shouts: {marks: many}\n")
    bad = project.run("run", "suites")
    assert bad.code == 2 and "s.yaml:6 [case a]: bad argument for check 'shouts': argument 'marks'" in bad.err


def test_a_broken_plugin_is_a_user_error_naming_its_entry_point(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _dist(tmp_path / "site", "demo-broken", "broken = demo_broken:check\nodd = demo_odd:odd",
          {"demo_broken": "import not_a_module_anywhere\n",
           "demo_odd": "def odd(output, ctx, extra):\n    return True\n"})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    project.suite("s.yaml", """
        model: gpt-4o
        cases:
          - id: a
            prompt: hi
            checks:
              - broken
          - id: b
            prompt: hi
            checks:
              - odd
          - id: c
            prompt: hi
            checks:
              - brokn
    """)
    result = project.run("run", "suites")
    assert result.code == 2 and "Traceback" not in result.text
    assert ("s.yaml:6 [case a]: the check plugin 'broken = demo_broken:check' (from demo-broken 1.0) cannot "
            "be loaded: ModuleNotFoundError: No module named 'not_a_module_anywhere'") in result.err
    assert ("s.yaml:10 [case b]: the check plugin 'odd = demo_odd:odd' (from demo-broken 1.0) is not a check: "
            "check 'odd': 'odd' must take the output") in result.err
    assert "s.yaml:14 [case c]: unknown check 'brokn'; did you mean" not in result.err  # nothing close is known
    assert "s.yaml:14 [case c]: unknown check 'brokn'; the check plugin 'broken = demo_broken:check'" in result.err


def test_pytest_finds_a_check_that_a_conftest_declares(pytester: pytest.Pytester, fake: FakeOpenAI,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makefile(".toml", pyproject="[project]\nname='demo'\n[tool.pytest.ini_options]\n"
                                          "harness_suites = ['suites']\n")
    pytester.makeconftest("""
        import harness

        @harness.check("ends_with")
        def ends_with(output: harness.Output, *, suffix: str) -> bool:
            return (output.content or "").endswith(suffix)
    """)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "demo.yaml").write_text(
        "model: gpt-4o\ncases:\n  - id: dot\n    prompt: Say hi.\n    checks:\n      - ends_with: {suffix: .}\n"
        "  - id: bang\n    prompt: Say hi.\n    checks:\n      - ends_with: {suffix: '!'}\n")
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    result = pytester.runpytest_subprocess("suites", "--record-mode", "once", "--harness-base-url", fake.base_url)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*FAILED: suites/demo.yaml::bang*", "*ends_with: check returned false*"])


def test_a_second_run_in_one_process_reads_a_changed_template_file(project: Project, fake: FakeOpenAI,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A template file edited between two harness.run() calls in one process is read again: the
    second run renders the new text (and so finds its cassette stale), never the first run's."""
    (project.root / "suites" / "ask.txt").write_text("Say hello to {{ name }}.")
    project.suite("s.yaml", """
        model: gpt-4o
        cases:
          - id: a
            prompt: '{% include "ask.txt" %}'
            vars: {name: Ada}
    """)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    assert harness.run("suites", record_mode="once", base_url=fake.base_url).ok
    fake.stop()
    monkeypatch.delenv("OPENAI_API_KEY")
    assert harness.run("suites").case("a").status == "passed"
    (project.root / "suites" / "ask.txt").write_text("Say goodbye to {{ name }}.")
    assert harness.run("suites").case("a").status == "stale"
