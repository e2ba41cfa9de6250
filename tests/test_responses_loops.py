"""Episodes through the Responses API: a tool loop and a two-turn conversation recorded against the
loopback server with `api: responses`, sending the whole conversation (`history: full`) or chaining
with `previous_response_id` (`history: chained`), then replayed with the server stopped."""

from __future__ import annotations

import json

import pytest
import yaml

from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import Project, network_blocked

IMPL = """\
def get_weather(location):
    return {"location": location, "temp": {"Paris": 18}.get(location, 20)}
"""

SUITE = """
model: gpt-4o
api: responses
history: {history}
tools:
  - type: function
    impl: tools_impl:get_weather
    function:
      name: get_weather
      parameters:
        type: object
        properties:
          location: {{type: string}}
        required: [location]
        additionalProperties: false
      strict: true
cases:
  - id: loop
    prompt: What's the weather in Paris?
    checks:
      - tool-call: {{name: get_weather, arguments: {{location: Paris}}}}
      - tool-call: get_weather
        step: 1
      - no-tool-call:
        step: 2
      - contains: '"temp": 18'
      - steps: 2
  - id: talk
    tools: []
    system: You are terse.
    prompt: Name a colour.
    turns:
      - And another one?
    checks:
      - contains: "Name a colour"
        turn: 1
      - contains: "another one"
      - steps: 2
"""


def _bodies(fake: FakeOpenAI) -> list[dict]:
    return [json.loads(r.body) for r in fake.requests if r.path.endswith("/responses")]


@pytest.mark.parametrize("history", ["full", "chained"])
def test_episodes_record_and_replay_through_the_responses_api(project: Project, fake: FakeOpenAI,
                                                              history: str) -> None:
    (project.root / "suites" / "tools_impl.py").write_text(IMPL)
    project.suite("resp.yaml", SUITE.format(history=history))
    fake.add_rule(Rule(contains="weather in Paris", tool_calls=[
        {"name": "get_weather", "arguments": {"location": "Paris"}}]))
    recorded = project.record(fake, "suites")
    assert recorded.code == 0, recorded.text
    loop_bodies = [b for b in _bodies(fake) if b.get("tools")]
    assert len(loop_bodies) == 2
    second = loop_bodies[1]
    outputs = [i for i in second["input"] if isinstance(i, dict) and i.get("type") == "function_call_output"]
    assert len(outputs) == 1 and json.loads(outputs[0]["output"]) == {"location": "Paris", "temp": 18}
    if history == "chained":  # only what is new, after the server's stored context
        assert second["previous_response_id"].startswith("resp_")
        assert all(i.get("type") == "function_call_output" for i in second["input"])
    else:
        assert "previous_response_id" not in second
        assert [i.get("type") for i in second["input"]][-2:] == ["function_call", "function_call_output"]
    talk = [b for b in _bodies(fake) if not b.get("tools")]
    assert talk[0]["instructions"] == "You are terse."
    assert talk[1]["instructions"] == "You are terse."  # never carried over by the server
    doc = yaml.safe_load((project.root / "cassettes" / "resp" / "loop.yaml").read_text())
    assert [i["harness"]["step"] for i in doc["interactions"]] == [1, 2]
    assert all(i["request"]["uri"].endswith("/responses") for i in doc["interactions"])

    fake.stop()
    with network_blocked():
        replayed = project.run("run", "suites", "--report", "json=out.json")
    assert replayed.code == 0, replayed.text
    report = json.loads((project.root / "out.json").read_text())
    cases = {c["id"]: c for c in report["cases"]}
    assert cases["loop"]["status"] == "passed" and len(cases["loop"]["steps"]) == 2
    assert cases["talk"]["status"] == "passed" and cases["talk"]["api"] == "responses"


def test_a_changed_tool_result_is_stale_at_step_2_through_the_responses_api(project: Project,
                                                                          fake: FakeOpenAI) -> None:
    (project.root / "suites" / "tools_impl.py").write_text(IMPL)
    project.suite("resp.yaml", SUITE.format(history="chained"))
    fake.add_rule(Rule(contains="weather in Paris", tool_calls=[
        {"name": "get_weather", "arguments": {"location": "Paris"}}]))
    assert project.record(fake, "suites").code == 0
    fake.stop()
    (project.root / "suites" / "tools_impl.py").write_text(IMPL.replace("18", "21"))
    with network_blocked():
        replayed = project.run("run", "suites", "-k", "loop")
    assert replayed.code == 3, replayed.text
    assert "step 2" in replayed.out and "21" in replayed.out and "--record-mode" in replayed.out


def test_checks_read_a_responses_wire_body_as_they_read_a_chat_one() -> None:
    """A baseline rebuilt from a Responses cassette carries the wire body: its tools and its
    structured-output schema must still be found, or the baseline would be judged without them."""
    from harness.checks.auto import response_is_strict, response_schema_of
    from harness.checks.tools import declared_tools

    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"],
              "additionalProperties": False}
    wire = {"tools": [{"type": "function", "name": "f", "parameters": schema, "strict": True}],
            "text": {"format": {"type": "json_schema", "name": "x", "schema": schema, "strict": True}}}
    chat = {"tools": [{"type": "function", "function": {"name": "f", "parameters": schema, "strict": True}}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema,
                                                                        "strict": True}}}
    assert declared_tools(wire) == declared_tools(chat)
    assert response_schema_of(wire) == response_schema_of(chat) == schema
    assert response_is_strict(wire) and response_is_strict(chat)
    assert response_schema_of({"text": {"verbosity": "low"}}) is None
