"""The project file (harness.yaml, or [tool.harness] in pyproject.toml): its settings apply to every
suite of the project, recorded against the loopback server, replayed with the server stopped, and
its mistakes are user errors at file:line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.testing.fake_answers import Rule
from harness.testing.fake_openai import FakeOpenAI

from conftest import CANARY, Project, network_blocked

FORMS = ["harness.yaml", "pyproject.toml"]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + " }"


def settings(root: Path, form: str, values: dict[str, Any]) -> Path:
    """Write the project's settings as harness.yaml or as pyproject.toml's [tool.harness] (mappings
    as sub-tables, so the TOML carries headers such as [tool.harness.defaults])."""
    if form == "harness.yaml":
        path = root / "harness.yaml"
        path.write_text(yaml.safe_dump(values, sort_keys=False))
        return path
    lines = ["[project]", "name = 'demo'", "", "[tool.harness]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in values.items() if not isinstance(v, dict)]
    for key, table in values.items():
        if isinstance(table, dict):
            lines += ["", f"[tool.harness.{key}]"]
            lines += [f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in table.items()]
    path = root / "pyproject.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def replay(project: Project, fake: FakeOpenAI, *args: str) -> Any:
    """Stop the server, then run offline: a socket opened would be refused and logged."""
    fake.stop()
    with network_blocked() as attempts:
        result = project.run("run", *args)
    assert attempts == []
    return result


def bodies(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return [r.json for r in fake.requests if r.path.endswith("/chat/completions")]


# -- where suites and cassettes live ---------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_run_without_paths_runs_the_project_suites_and_paths_still_win(project: Project, fake: FakeOpenAI,
                                                                        form: str) -> None:
    settings(project.root, form, {"suites": ["evals", "more/*.yaml"]})
    (project.root / "evals").mkdir()
    (project.root / "evals" / "a.yaml").write_text("model: gpt-4o\ncases:\n  - id: one\n    prompt: hi\n")
    (project.root / "more").mkdir()
    (project.root / "more" / "b.yaml").write_text("model: gpt-4o\ncases:\n  - id: two\n    prompt: ho\n")
    project.suite("other.yaml", "model: gpt-4o\ncases:\n  - id: three\n    prompt: hu\n")
    assert project.record(fake).code == 0  # no PATHS: records the project's suites only
    assert len(bodies(fake)) == 2
    result = replay(project, fake)
    assert result.code == 0, result.text
    assert "evals/a.yaml" in result.out and "more/b.yaml" in result.out and "other.yaml" not in result.out
    named = project.run("run", "suites/other.yaml")  # PATHS as before: that suite only
    assert named.code == 3 and "three" in named.out and "evals/a.yaml" not in named.out


def test_without_a_suites_setting_run_takes_suites_as_before(project: Project, fake: FakeOpenAI) -> None:
    settings(project.root, "harness.yaml", {"defaults": {"model": "gpt-4o"}})
    project.suite("s.yaml", "cases:\n  - id: one\n    prompt: hi\n")
    assert project.record(fake).code == 0
    result = replay(project, fake)
    assert result.code == 0 and "suites/s.yaml" in result.out, result.text


def test_a_suites_pattern_matching_nothing_is_said_and_selects_nothing(project: Project) -> None:
    settings(project.root, "harness.yaml", {"suites": ["evals/**/*.yaml"]})
    result = project.run("run")
    assert result.code == 5
    assert "harness.yaml: suites entry 'evals/**/*.yaml' matches no suite file or folder" in result.err


@pytest.mark.parametrize("form", FORMS)
def test_cassettes_setting_is_the_root_for_suites_without_cassette_dir(project: Project, fake: FakeOpenAI,
                                                                       form: str) -> None:
    settings(project.root, form, {"cassettes": "recordings"})
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: one\n    prompt: hi\n")
    project.suite("own.yaml", "model: gpt-4o\ncassette_dir: ../mine\ncases:\n  - id: two\n    prompt: ho\n")
    assert project.record(fake, "suites").code == 0
    assert (project.root / "recordings" / "s" / "one.yaml").is_file()
    assert (project.root / "mine" / "own" / "two.yaml").is_file()  # a suite's own cassette_dir wins
    assert project.cassette_files() == []
    assert replay(project, fake, "suites").code == 0


# -- defaults ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_defaults_apply_to_every_suite_and_a_suite_or_case_value_wins(project: Project, fake: FakeOpenAI,
                                                                      form: str) -> None:
    settings(project.root, form, {"defaults": {"model": "gpt-4o", "temperature": 0.25, "max_tokens": 50,
                                               "system": "Be brief.", "samples": 2}})
    project.suite("plain.yaml", "cases:\n  - id: one\n    prompt: hi\n")
    project.suite("own.yaml", "models: [gpt-5.1]\ntemperature: 0.9\nsamples: 1\ncases:\n"
                              "  - id: two\n    prompt: ho\n  - id: three\n    prompt: hu\n    max_tokens: 7\n")
    assert project.record(fake, "suites").code == 0
    sent = {b["messages"][-1]["content"]: b for b in bodies(fake)}
    assert len(bodies(fake)) == 4  # plain.yaml: 2 samples (the default); own.yaml: 1 each
    assert sent["hi"]["model"] == "gpt-4o" and sent["hi"]["temperature"] == 0.25
    assert sent["hi"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["ho"]["model"] == "gpt-5.1" and sent["ho"]["temperature"] == 0.9 and sent["ho"]["max_tokens"] == 50
    assert sent["hu"]["max_tokens"] == 7
    assert sorted(p.name for p in project.cassette_files()) == ["one#1.yaml", "one.yaml", "three.yaml", "two.yaml"]
    assert replay(project, fake, "suites").code == 0


def test_a_suite_model_replaces_default_models(project: Project, fake: FakeOpenAI) -> None:
    settings(project.root, "harness.yaml", {"defaults": {"models": ["gpt-4o", "gpt-5.1"]}})
    project.suite("s.yaml", "model: gpt-5.1\ncases:\n  - id: one\n    prompt: hi\n")
    assert project.record(fake, "suites").code == 0
    assert [b["model"] for b in bodies(fake)] == ["gpt-5.1"]


# -- shared prompt folders ---------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_prompts_folders_are_shared_by_every_suite(project: Project, fake: FakeOpenAI, form: str) -> None:
    settings(project.root, form, {"prompts": ["shared"]})
    shared = project.root / "shared"
    (shared / "parts").mkdir(parents=True)
    (shared / "system.j2").write_text("You are {{ persona }}.{% include 'parts/rules.j2' %}")
    (shared / "parts" / "rules.j2").write_text(" Never guess.")
    (shared / "greeting.txt").write_text("shared greeting")
    (shared / "topic.txt").write_text("tides")
    project.suite("deep/s.yaml", """
        model: gpt-4o
        vars: {persona: a tutor, topic: {file: topic.txt}}
        messages:
          - {role: system, file: system.j2}
        cases:
          - id: one
            prompt: "Explain {{ topic }}. {% include 'greeting.txt' %}"
    """)
    (project.root / "suites" / "deep" / "greeting.txt").write_text("own greeting")  # the suite's folder first
    assert project.record(fake, "suites").code == 0
    (body,) = bodies(fake)
    assert body["messages"] == [{"role": "system", "content": "You are a tutor. Never guess."},
                                {"role": "user", "content": "Explain tides. own greeting"}]
    assert replay(project, fake, "suites").code == 0


@pytest.mark.parametrize("written", ["../outside", "link", "/tmp", ".git/hooks"])
def test_a_prompts_folder_outside_the_project_is_refused(project: Project, tmp_path: Path, written: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.j2").write_text("not yours")
    (project.root / "link").symlink_to(outside)
    (project.root / ".git" / "hooks").mkdir(parents=True)
    (project.root / "harness.yaml").write_text(f"# settings\nprompts:\n  - {written}\n")
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: one\n    prompt: \"{% include 'secret.j2' %}\"\n")
    result = project.run("run", "suites")
    assert result.code == 2, result.text
    assert result.err.startswith("error: harness.yaml:3: ") and "Traceback" not in result.text
    assert ("outside the project" in result.err) or ("relative to the project root" in result.err)
    assert "not yours" not in result.text


def test_a_symlink_inside_a_prompts_folder_cannot_lead_out(project: Project, tmp_path: Path) -> None:
    (tmp_path / "secret.j2").write_text("not yours")
    (project.root / "shared").mkdir()
    (project.root / "shared" / "s.j2").symlink_to(tmp_path / "secret.j2")
    (project.root / "harness.yaml").write_text("prompts: shared\n")
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: one\n    prompt: \"{% include 's.j2' %}\"\n")
    result = project.run("run", "suites")
    assert result.code == 2 and "suites/s.yaml:4 [case one]" in result.err, result.err
    assert f"template file 's.j2' is outside the prompts folder {project.root / 'shared'}" in result.err
    assert "not yours" not in result.text


# -- prices ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_project_prices_apply_under_a_suites_own(project: Project, fake: FakeOpenAI, form: str) -> None:
    # $1 per input token and $2 per output token in the project; the second suite halves its input price.
    settings(project.root, form, {"pricing": {"local-llm": {"input": 1_000_000, "output": 2_000_000}}})
    project.suite("a.yaml", "model: local-llm\ncases:\n  - id: one\n    prompt: hi\n")
    project.suite("b.yaml", "model: local-llm\npricing:\n  local-llm: {input: 500000}\ncases:\n"
                            "  - id: two\n    prompt: hi\n")
    assert project.record(fake, "suites").code == 0
    fake.stop()
    assert project.run("run", "suites", "--report", "json=run.json").code == 0
    cases = {c["id"]: c for c in json.loads((project.root / "run.json").read_text())["cases"]}
    for case, input_price in (("one", 1.0), ("two", 0.5)):
        usage = cases[case]["usage"]
        assert cases[case]["cost_usd"] == pytest.approx(usage["prompt_tokens"] * input_price
                                                        + usage["completion_tokens"] * 2.0)


# -- mistakes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "line", "says"), [
    ("suites: [suites]\nsuite: [x]\n", 2, "unknown key 'suite'"),
    ("suites: [suites]\ndefaults:\n  model: gpt-4o\n  temprature: 0.2\n", 4, "did you mean 'temperature'?"),
    ("cassettes: 3\n", 1, "3 is not of type 'string'"),
    ("defaults:\n  samples: many\n", 2, "defaults.samples"),
    ("pricing:\n  m: {input: cheap, output: 1}\n", 2, "pricing.m.input: expected a number"),
    ("pytest:\n  suites: /abs\n", 2, "must be a path relative to the project root"),
    ("prompts: [missing]\n", 1, "prompts folder 'missing' not found"),
    ("cassettes: ../elsewhere\n", 1, "outside the project"),
    ("suites: [\n", 2, "YAML syntax error"),
])
def test_a_bad_harness_yaml_is_a_user_error_at_its_line(project: Project, text: str, line: int, says: str) -> None:
    (project.root / "harness.yaml").write_text(text)
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: one\n    prompt: hi\n")
    for args in (("run",), ("run", "suites"), ("validate",)):
        result = project.run(*args)
        assert result.code == 2, (args, result.text)
        assert f"harness.yaml:{line}: " in result.err and says in result.err, result.err
        assert "Traceback" not in result.text


@pytest.mark.parametrize(("table", "line", "says"), [
    ('[tool.harness]\nsuites = ["suites"]\nsuite = ["x"]\n', 6, "unknown key 'suite'"),
    ('[tool.harness.defaults]\nmodel = "gpt-4o"\ntemperature = "warm"\n', 6, "'warm' is not of type 'number'"),
    ('[tool.harness]\ndefaults = { model = 4 }\n', 5, "4 is not of type 'string'"),
    ('[tool]\nharness.defaults.model = 4\n', 5, "4 is not of type 'string'"),
    ('[tool.harness]\n"pytest".suites = 3\n', 5, "3 is not valid"),
    # an item of a multi-line array is placed on its key's line
    ('[tool.harness]\nprompts = [\n  "ok",\n  "../out",\n]\n', 5, "outside the project"),
    ('[tool.harness]\nsuites = \n', 5, "TOML syntax error"),
])
def test_a_bad_tool_harness_table_is_a_user_error_at_its_line(project: Project, table: str, line: int,
                                                              says: str) -> None:
    (project.root / "pyproject.toml").write_text("[project]\nname = 'demo'\n\n" + table)
    (project.root / "ok").mkdir()
    result = project.run("run")
    assert result.code == 2, result.text
    assert f"pyproject.toml:{line}: " in result.err and says in result.err, result.err


def test_settings_in_both_files_name_both(project: Project) -> None:
    (project.root / "harness.yaml").write_text("suites: [suites]\n")
    (project.root / "pyproject.toml").write_text("[project]\nname = 'demo'\n\n[tool.harness]\nsuites = ['x']\n")
    result = project.run("run")
    assert result.code == 2
    assert "harness.yaml:1: project settings are in both harness.yaml and pyproject.toml ([tool.harness], " \
           "line 4)" in result.err


def test_a_pyproject_without_harness_settings_is_not_read(project: Project, fake: FakeOpenAI) -> None:
    """Another tool's broken pyproject.toml must not stop a run that does not use it."""
    (project.root / "pyproject.toml").write_text("[project\nname = 'demo'\n")
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: one\n    prompt: hi\n")
    assert project.record(fake, "suites").code == 0


# -- the pytest door ---------------------------------------------------------------------------------


SUITE = "model: gpt-4o\ncases:\n  - id: one\n    prompt: hi\n"


def _pytest_project(pytester: pytest.Pytester, fake: FakeOpenAI, ini: str = "") -> None:
    fake.add_rule(Rule(contains="hi", content="hello"))
    pytester.makefile(".toml", pyproject="[project]\nname = 'demo'\n" + ini)
    (pytester.path / "harness.yaml").write_text("pytest:\n  suites: [evals]\n")
    for folder in ("evals", "suites"):
        (pytester.path / folder).mkdir()
        (pytester.path / folder / f"{folder}.yaml").write_text(SUITE)


def test_the_pytest_door_collects_what_the_project_file_names(pytester: pytest.Pytester, fake: FakeOpenAI,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _pytest_project(pytester, fake)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    recorded = pytester.runpytest("--record-mode", "once", "--harness-base-url", fake.base_url)
    recorded.assert_outcomes(passed=1)
    fake.stop()
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1)
    assert "evals/evals.yaml::one PASSED" in result.stdout.str()


def test_the_harness_suites_ini_option_wins_over_the_project_file(pytester: pytest.Pytester,
                                                                  fake: FakeOpenAI) -> None:
    _pytest_project(pytester, fake, ini="\n[tool.pytest.ini_options]\nharness_suites = ['suites']\n")
    result = pytester.runpytest("--collect-only", "-q")
    assert "suites/suites.yaml::one" in result.stdout.str()
    assert "evals/evals.yaml" not in result.stdout.str()


def test_a_broken_project_file_is_one_line_for_pytest(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", pyproject="[project]\nname = 'demo'\n")
    (pytester.path / "harness.yaml").write_text("pytest:\n  suite: [evals]\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "harness.yaml:2: invalid project file at pytest: unknown key 'suite'" in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


def test_validate_without_paths_takes_the_project_suites(project: Project) -> None:
    settings(project.root, "harness.yaml", {"suites": ["evals"], "defaults": {"model": "gpt-4o"}})
    (project.root / "evals").mkdir()
    (project.root / "evals" / "a.yaml").write_text("cases:\n  - id: one\n    prompt: hi\n")
    result = project.run("validate")
    assert result.code == 0 and "1 suite(s), 1 case(s): valid" in result.out, result.text


def test_a_project_is_found_from_a_subfolder(project: Project, fake: FakeOpenAI) -> None:
    settings(project.root, "harness.yaml", {"suites": ["suites"], "defaults": {"model": "gpt-4o"}})
    project.suite("s.yaml", "cases:\n  - id: one\n    prompt: hi\n")
    assert project.record(fake).code == 0
    project.monkeypatch.chdir(project.root / "suites")
    assert replay(project, fake).code == 0


def test_defaults_take_exactly_the_keys_a_case_inherits() -> None:
    """The project schema lists the inherited keys by name; a key suite.py adds must be listed too."""
    from harness import suite
    from harness.project import project_schema

    listed = project_schema()["properties"]["defaults"]["properties"]
    assert set(listed) == set(suite._INHERITED)
    assert all(v == {"$ref": f"suite.schema.json#/properties/{k}"} for k, v in listed.items())


def test_diff_without_paths_compares_the_project_suites(project: Project, fake: FakeOpenAI) -> None:
    import subprocess

    project.monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    settings(project.root, "harness.yaml", {"suites": ["evals"], "defaults": {"model": "gpt-4o"}})
    (project.root / "evals").mkdir()
    (project.root / "evals" / "a.yaml").write_text("cases:\n  - id: one\n    prompt: Describe the sea.\n")
    fake.add_rule(Rule(contains="sea", content="The sea is calm.", times=1))
    assert project.record(fake).code == 0
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": os.environ["PATH"]}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run(["git", *args], cwd=project.root, env=env, check=True, capture_output=True)
    fake.add_rule(Rule(contains="sea", content="The sea is rough."))
    assert project.record(fake, mode="all").code == 0
    fake.stop()
    result = project.run("diff", "--base", "HEAD", "--fail-on", "changed")
    assert result.code == 1, result.text
    assert "evals/a.yaml" in result.text and "rough" in result.text
