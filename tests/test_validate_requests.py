"""What `validate` and `run` make of a suite's requests before sending: model limits, the API's own
shape of an assistant's tool calls, and variables read from files."""

from __future__ import annotations

import json

from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import Project

OVER = ("model: gpt-4o\ncases:\n  - id: fits\n    prompt: hi\n  - id: too-long\n    prompt: hi\n"
        "    max_completion_tokens: 40000\n")


def test_validate_reports_a_case_over_the_models_limits(project: Project) -> None:
    project.suite("s.yaml", OVER)
    result = project.run("validate", "suites")
    assert result.code == 2, result.text
    assert ("suites/s.yaml:5 [case too-long]: asks for max_completion_tokens=40000 but gpt-4o returns "
            "at most 16,384") in result.err
    assert "[case fits]" not in result.err


def test_recording_fails_only_the_case_over_the_limit(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", OVER)
    result = project.record(fake, "suites")
    assert result.code == 1, result.text  # a failed case, not a user error that stops the run
    assert len(fake.requests) == 1  # the case that fits was sent and recorded
    assert [p.name for p in project.cassette_files()] == ["fits.yaml"]
    assert "max_completion_tokens=40000 but gpt-4o returns at most 16,384; nothing was sent" in result.out
    # replaying what was recorded is not a send: no limit applies there
    result = project.run("run", "suites/s.yaml::fits")
    assert result.code == 0, result.text


TOOL_TURN = """\
model: gpt-4o
tools:
  - type: function
    function:
      name: get_weather
      parameters: {type: object, properties: {city: {type: string}}}
cases:
  - id: follow-up
    messages:
      - role: user
        content: Weather in Oslo?
      - role: assistant
        content: null
        tool_calls:
          - id: call_1
            type: function
            function: {name: get_weather, arguments: {city: Oslo}}
      - role: tool
        tool_call_id: call_1
        content: '{"temp": 3}'
      - role: user
        content: And in Paris?
"""


def test_an_assistant_message_in_the_apis_shape_is_accepted_and_sent_as_such(project: Project,
                                                                          fake: FakeOpenAI) -> None:
    project.suite("s.yaml", TOOL_TURN)
    assert project.run("validate", "suites").code == 0
    result = project.record(fake, "suites")
    assert result.code == 0, result.text
    sent = json.loads(fake.requests[0].body)["messages"]
    assert sent[1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather",
                                                          "arguments": '{"city":"Oslo"}'}}]}
    assert sent[2] == {"role": "tool", "content": '{"temp": 3}', "tool_call_id": "call_1"}
    # content may also be left out when tool_calls is present
    project.suite("s.yaml", TOOL_TURN.replace("        content: null\n", ""))
    assert project.run("validate", "suites").code == 0


def test_message_shape_errors_say_what_is_expected(project: Project) -> None:
    cases = [
        ("        tool_call_id: call_1\n", "", "a tool message needs tool_call_id"),
        ("        content: Weather in Oslo?\n", "        content: null\n", "a user message needs content"),
        ("      - role: assistant\n", "      - role: user\n", "only an assistant message carries tool_calls"),
        ("        content: And in Paris?\n", "        content: 12\n", "content must be a text, a list of parts"),
        ("        content: And in Paris?\n", "        content: And in Paris?\n        file: x.j2\n",
         "give content or file, not both"),
    ]
    for old, new, why in cases:
        project.suite("s.yaml", TOOL_TURN.replace(old, new))
        result = project.run("validate", "suites")
        assert result.code == 2, (why, result.text)
        assert why in result.err and "[case follow-up]" in result.err
        assert "a message is {role, content}" in result.err
        assert "oneOf" not in result.err and "valid under" not in result.err


def test_file_valued_vars_become_the_files_text(project: Project, fake: FakeOpenAI) -> None:
    suites = project.root / "suites"
    (suites / "docs").mkdir()
    (suites / "docs" / "a.txt").write_text("Alpha document.\n")
    (suites / "docs" / "b.txt").write_text("Beta document.\n")
    (suites / "intro.txt").write_text("Summarise:")
    fake.add_rule(Rule(contains="Summarise", content="ok"))
    project.suite("s.yaml", """\
        model: gpt-4o
        vars: {intro: {file: intro.txt}}
        cases:
          - id: one
            prompt: "{{ intro }} {{ doc }} {{ meta.file }}/{{ meta.pages }}"
            vars:
              doc: {file: docs/a.txt}
              meta: {file: kept.txt, pages: 3}
          - id: each
            prompt: "{{ intro }} {{ doc }}"
            matrix:
              doc: [{file: docs/a.txt}, {file: docs/b.txt}]
        """)
    result = project.record(fake, "suites")
    assert result.code == 0, result.text
    prompts = sorted(json.loads(r.body)["messages"][-1]["content"] for r in fake.requests)
    assert prompts == ["Summarise: Alpha document.\n",
                       "Summarise: Alpha document.\n kept.txt/3",  # not exactly {file}: a mapping
                       "Summarise: Beta document.\n"]


def test_file_valued_var_errors_name_file_line_and_case(project: Project) -> None:
    outside = project.root.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret")
    text = ("model: gpt-4o\ncases:\n  - id: a\n    prompt: '{{ doc }}'\n    vars:\n"
            "      doc: {file: missing.txt}\n")
    project.suite("s.yaml", text)
    result = project.run("validate", "suites")
    assert result.code == 2
    assert "suites/s.yaml:6 [case a]: file of variable 'doc' 'missing.txt' not found" in result.err
    (project.root / "suites" / "link.txt").symlink_to(outside / "secret.txt")
    for name in ("link.txt", "../../outside/secret.txt", str(outside / "secret.txt")):
        project.suite("s.yaml", text.replace("missing.txt", name))
        result = project.run("validate", "suites")
        assert result.code == 2, name
        assert "suites/s.yaml:6 [case a]" in result.err and "outside the suite's folder" in result.err
        assert "top secret" not in result.text
