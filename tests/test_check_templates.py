"""Check arguments that use the case's variables, rendered in the sandbox: texts become texts, a
lone {{ expression }} keeps its type; errors name the check's line and the case; checks without
templates are still validated once per suite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import harness
from harness import planning
from harness.runner import RunOptions, execute, plan
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import CANARY, Project, network_blocked

ROWS = """\
{"id": "paris", "city": "Paris", "country": "France", "args": {"city": "Paris"}, "n": 2, "names": ["Paris", "Lutetia"]}
{"id": "rome", "city": "Rome", "country": "Italy", "args": {"city": "Roma"}, "n": 3, "names": ["Rome", "Roma"]}
"""

SUITE = """\
model: gpt-4o
prompt: "Facts about {{ city }}"
checks:
  - contains: "{{ city }}"                          # a text
  - regex: '"country": "{{ country }}"'
  - contains-any: "{{ names }}"                     # a list stays a list
  - json-path: {path: "$.count", equals: "{{ n }}"}  # a number stays a number
  - all-of:
      - starts-with: '{"city": "{{ city }}"'
      - not-contains: "{{ country | lower }}"
  - tool-call: {name: lookup, arguments: "{{ args }}"}        # a mapping stays a mapping
  - is-json                                         # no template: bound once for the suite
cases_from: ../data/cities.jsonl
"""


@pytest.fixture
def recorded(project: Project, fake: FakeOpenAI) -> Project:
    (project.root / "data").mkdir()
    (project.root / "data" / "cities.jsonl").write_text(ROWS)
    project.suite("facts.yaml", SUITE)
    for city, country, n in (("Paris", "France", 2), ("Rome", "Italy", 4)):
        fake.add_rule(Rule(contains=f"Facts about {city}",
                           content=json.dumps({"city": city, "country": country, "count": n}),
                           tool_calls=[{"name": "lookup", "arguments": {"city": city}}]))
    result = project.record(fake, "suites")
    assert result.code == 1, result.text
    fake.stop()
    return project


def test_checks_use_each_rows_values_on_replay(recorded: Project) -> None:
    with network_blocked() as attempts:
        result = recorded.run("run", "suites", "-v", "--report", "json=run.json")
    assert attempts == [] and result.code == 1, result.text
    report = harness.run("suites").case
    paris, rome = report("paris"), report("rome")
    assert paris.status == "passed", [(c.name, c.passed, c.reason) for c in paris.checks if not c.passed]
    failed = {c.name: c.reason for c in rome.checks if not c.passed}
    # Rome's answer has count 4 where its row says 3, and calls lookup(city=Rome) where it says Roma.
    assert set(failed) == {"json-path", "tool-call"}, failed
    assert "3" in failed["json-path"] and "4" in failed["json-path"]
    assert "Roma" in failed["tool-call"]


def test_typed_values_reach_the_checks(recorded: Project) -> None:
    suite = harness.load_suite(Path("suites/facts.yaml"))
    planned, errors = plan(list(suite.cases))
    assert errors == []
    args = {p.case.id: {c.label: c.arg for c in p.checks} for p in planned}
    assert args["rome"]["contains"] == "Rome"
    assert args["rome"]["regex"].pattern == '"country": "Italy"'
    assert args["rome"]["contains-any"] == ("Rome", "Roma")
    assert args["rome"]["json-path"]["equals"] == 3 and args["paris"]["json-path"]["equals"] == 2
    assert args["paris"]["tool-call"]["arguments"] == {"city": "Paris"}
    assert [c.spec.arg for c in args["rome"]["all-of"]] == ['{"city": "Rome"', "italy"]


def test_checks_without_templates_are_bound_once(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    (project.root / "data").mkdir()
    (project.root / "data" / "rows.csv").write_text("id,word\n" + "".join(f"r{i},w{i}\n" for i in range(50)))
    project.suite("words.yaml", """
        model: gpt-4o
        prompt: "Say {{ word }}"
        checks:
          - contains: "{{ word }}"
          - icontains: say
        cases_from: ../data/rows.csv
    """)
    bound: list[object] = []
    real = planning.bind
    monkeypatch.setattr(planning, "bind", lambda spec, **kw: bound.append(spec.arg) or real(spec, **kw))
    planned, errors = plan(list(harness.load_suite(Path("suites/words.yaml")).cases))
    assert errors == [] and len(planned) == 50
    assert bound.count("say") == 1
    assert sorted(a for a in bound if a != "say") == sorted(f"w{i}" for i in range(50))
    result = execute(planned, RunOptions())
    assert {r.status for r in result} == {"missing"}


def test_a_template_error_names_the_check_line_and_case(project: Project) -> None:
    (project.root / "data").mkdir()
    (project.root / "data" / "rows.csv").write_text("id,word\na,x\n")
    project.suite("words.yaml", """
        model: gpt-4o
        prompt: "Say {{ word }}"
        checks:
          - icontains: say
          - equals: "{{ expected }}"
        cases_from: ../data/rows.csv
    """)
    result = project.run("validate", "suites")
    assert result.code == 2 and "Traceback" not in result.text
    assert "suites/words.yaml:5 [case a]: undefined variable in check 'equals': 'expected' is undefined " \
           "(the row at data/rows.csv:2)" in result.err


@pytest.mark.parametrize(("arg", "message"), [
    ('"{{ range }}"', "not a function"),                                # a function is no plain value
    ('"{{ word.__class__ }}"', "unsafe"),                    # the sandbox still holds
    ('{path: "$.x", equals: "{{ word | int }}"}', ""),          # fine: typed
])
def test_typed_values_are_plain_data_from_the_sandbox(project: Project, arg: str, message: str) -> None:
    project.suite("t.yaml", f"""
        model: gpt-4o
        prompt: "Say {{{{ word }}}}"
        vars: {{word: "12"}}
        checks:
          - {"json-path" if "path" in arg else "equals"}: {arg}
        cases:
          - id: a
    """)
    result = project.run("validate", "suites")
    if not message:
        assert result.code == 0, result.text
        planned, _ = plan(list(harness.load_suite(Path("suites/t.yaml")).cases))
        assert planned[0].checks[0].arg["equals"] == 12
    else:
        assert result.code == 2 and "suites/t.yaml:5 [case a]" in result.err and message in result.err, result.text


def test_literal_braces_and_inline_cases(project: Project, fake: FakeOpenAI) -> None:
    """Templates work for inline cases too; a literal '{{' is written as a template that prints it."""
    fake.add_rule(Rule(contains="braces", content="Use {{ name }} in Jinja."))
    project.suite("t.yaml", """
        model: gpt-4o
        prompt: "Explain braces for {{ lang }}"
        checks:
          - contains: "{{ '{{' }} name }}"
          - contains: "{{ lang }}"
        cases:
          - id: jinja
            vars: {lang: Jinja}
    """)
    assert project.record(fake, "suites").code == 0
    fake.stop()
    with network_blocked():
        assert project.run("run", "suites").code == 0
    assert CANARY not in project.all_files_text()
