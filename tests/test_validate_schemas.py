"""`harness validate` judges every schema a suite declares as the API will: a valid JSON Schema,
and with `strict: true` inside OpenAI's strict subset. Errors name file:line of the schema node, the
case, the JSON path inside the schema and the rule; `run` refuses the same suite before sending."""

from __future__ import annotations

import json

import pytest

from harness.schemas.strict import strict_problems
from harness.testing.fake_openai import FakeOpenAI

from conftest import CANARY, Project


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line of ``text`` containing ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


PERSON_STRICT = """\
model: gpt-4o
cases:
  - id: person
    prompt: Describe a person.
    response_format:
      type: json_schema
      json_schema:
        name: person
        strict: true
        schema:
          type: object
          properties:
            name: {type: string}
            age:
              type: %s
          required: [name, age]
          additionalProperties: false
"""


def test_a_misspelt_type_in_a_response_format_names_its_line_and_json_path(project: Project) -> None:
    text = PERSON_STRICT % "strng"
    project.suite("s.yaml", text)
    result = project.run("validate", "suites")
    assert result.code == 2, result.text
    assert (f"suites/s.yaml:{line_of(text, 'type: strng')} [case person]: response_format schema at "
            "$.properties.age.type: 'strng' is not a JSON Schema type") in result.err
    assert "Traceback" not in result.text
    project.suite("s.yaml", PERSON_STRICT % "integer")
    assert project.run("validate", "suites").code == 0


def test_a_non_string_type_in_tool_parameters_is_an_error(project: Project) -> None:
    text = ("model: gpt-4o\ntools:\n  - type: function\n    function:\n      name: f\n"
            "      parameters:\n        type: 12\ncases:\n  - id: a\n    prompt: hi\n")
    project.suite("s.yaml", text)
    result = project.run("validate", "suites")
    assert result.code == 2
    # declared on the suite: the error names the suite's line, and no case
    assert "suites/s.yaml:7: tool 'f' parameters at $.type: 12 is not a JSON Schema type" in result.err


def test_a_json_schema_check_names_the_line_of_the_broken_node(project: Project) -> None:
    text = ("model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n    checks:\n      - json-schema:\n"
            "          type: object\n          properties:\n            n:\n              minimum: ten\n")
    project.suite("s.yaml", text)
    result = project.run("validate", "suites")
    assert result.code == 2
    assert (f"suites/s.yaml:{line_of(text, 'minimum: ten')} [case a]: invalid JSON Schema at "
            "$.properties.n.minimum") in result.err


def test_a_response_format_schema_may_come_from_a_file(project: Project, fake: FakeOpenAI) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
              "additionalProperties": False}
    (project.root / "suites" / "city.json").write_text(json.dumps(schema))
    text = ("model: gpt-4o\ncases:\n  - id: a\n    prompt: a city\n    response_format:\n"
            "      type: json_schema\n      json_schema:\n        name: city\n        strict: true\n"
            "        schema: {file: city.json}\n")
    project.suite("s.yaml", text)
    result = project.record(fake, "suites")
    assert len(fake.requests) == 1, result.text
    sent = json.loads(fake.requests[0].body)
    assert sent["response_format"]["json_schema"]["schema"] == schema  # the file's schema, not {file: ...}
    (project.root / "suites" / "city.json").write_text(json.dumps({**schema, "additionalProperties": True}))
    result = project.run("validate", "suites")
    assert result.code == 2
    assert (f"suites/s.yaml:{line_of(text, 'schema: {file')} [case a]: response_format schema (from "
            "'city.json') at $.additionalProperties: strict mode needs additionalProperties: false") in result.err
    project.suite("s.yaml", text.replace("city.json", "../../outside.json"))
    result = project.run("validate", "suites")
    assert result.code == 2 and "outside the suite's folder" in result.err


@pytest.mark.parametrize(("schema", "where", "rule"), [
    ({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
     "$", "needs additionalProperties: false"),
    ({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
      "required": ["a"], "additionalProperties": False}, "$.required", "missing: b"),
    ({"anyOf": [{"type": "object"}, {"type": "string"}]}, "$.anyOf", "anyOf at the root"),
    ({"type": "array", "items": {"type": "string"}}, "$.type", "type: object at the root"),
    ({"type": "object", "properties": {"a": {"type": "string", "not": {"const": "x"}}},
      "required": ["a"], "additionalProperties": False}, "$.properties.a.not", "does not support 'not'"),
    ({"type": "object", "properties": {"a": {"type": "array", "contains": {"type": "string"}}},
      "required": ["a"], "additionalProperties": False}, "$.properties.a.contains",
     "does not support 'contains'"),
    ({"type": "object", "allOf": [{"required": []}], "properties": {}, "additionalProperties": False},
     "$.allOf", "does not support 'allOf'"),
    ({"type": "object", "properties": {"o": {"type": "object", "properties": {"x": {"type": "string"}},
                                             "required": ["x"], "additionalProperties": True}},
      "required": ["o"], "additionalProperties": False}, "$.properties.o.additionalProperties",
     "additionalProperties: false"),
])
def test_strict_rules(schema: dict, where: str, rule: str) -> None:
    problems = strict_problems(schema)
    assert problems, schema
    assert problems[0].where == where and rule in problems[0].rule


def _nested(levels: int) -> dict:
    node: dict = {"type": "string"}
    for _ in range(levels):
        node = {"type": "object", "properties": {"x": node}, "required": ["x"], "additionalProperties": False}
    return node


def test_strict_limits_and_what_strict_mode_allows() -> None:
    assert strict_problems(_nested(10)) == []
    deep = strict_problems(_nested(11))
    assert len(deep) == 1 and "10 levels of object nesting" in deep[0].rule
    many = {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(5001)},
            "required": [f"p{i}" for i in range(5001)], "additionalProperties": False}
    assert any("at most 5,000 object properties" in p.rule for p in strict_problems(many))
    # recursion through $ref/$defs, anyOf below the root and nullable types are allowed
    tree = {"type": "object", "properties": {"node": {"$ref": "#/$defs/node"}}, "required": ["node"],
            "additionalProperties": False,
            "$defs": {"node": {"type": "object", "additionalProperties": False, "required": ["v", "kids"],
                               "properties": {"v": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                                              "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}}}
    assert strict_problems(tree) == []


def test_strict_problems_fail_validate_and_run_sends_nothing(project: Project, fake: FakeOpenAI) -> None:
    text = ("model: gpt-4o\ncases:\n  - id: ok\n    prompt: hi\n  - id: loose\n    prompt: hi\n"
            "    tools:\n      - type: function\n        function:\n          name: book\n"
            "          strict: true\n          parameters:\n            type: object\n"
            "            properties:\n              date: {type: string}\n"
            "            required: [date]\n")
    project.suite("s.yaml", text)
    result = project.run("validate", "suites")
    assert result.code == 2
    assert (f"suites/s.yaml:{line_of(text, 'type: object')} [case loose]: tool 'book' parameters at $: "
            "strict mode needs additionalProperties: false on every object") in result.err
    result = project.record(fake, "suites")
    assert result.code == 2 and "strict mode needs additionalProperties" in result.err
    assert fake.requests == []  # the API would answer 400: nothing is sent
    # without strict the same schema is sent as written
    project.suite("s.yaml", text.replace("strict: true", "strict: false"))
    assert project.run("validate", "suites").code == 0


def test_run_refuses_an_invalid_schema_even_when_replaying(project: Project) -> None:
    project.suite("s.yaml", PERSON_STRICT % "strng")
    result = project.run("run", "suites", env={"OPENAI_API_KEY": CANARY})
    assert result.code == 2 and "'strng' is not a JSON Schema type" in result.err
