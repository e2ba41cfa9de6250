"""`harness import promptfoo` writes suites from a promptfoo config: prompts, providers, defaultTest,
tests (inline, CSV, YAML) and assertions; what it cannot convert is listed, never dropped; the
suites it writes pass `harness validate`, record against the loopback server and replay offline.

The configs here are written for these tests, after the shape of promptfoo's public examples.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import yaml

from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import CANARY, Project, network_blocked

CONFIG = """
description: Greetings in other languages
prompts:
  - file://prompts/translate.txt
  - id: file://prompts/chat.json
    label: chat
providers:
  - id: openai:chat:gpt-4o
    config:
      temperature: 0.2
      max_tokens: 200
      frequency_penalty: 0.5
      apiKey: sk-written-in-the-config-0123456789
defaultTest:
  vars:
    tone: polite
  assert:
    - type: not-icontains
      value: as an AI
    - type: cost
      threshold: 0.01
tests:
  - description: French greeting
    vars:
      language: French
      text: Hello world
    assert:
      - type: icontains
        value: bonjour
      - type: contains-any
        value: [monde, Monde]
      - type: equals
        value: Bonjour le monde
        weight: 2
      - type: regex
        value: '^(?<word>\\w+)'
      - type: starts-with
        value: Bonjour
      - type: llm-rubric
        value: Is a faithful translation of {{text}}
        threshold: 0.7
      - type: javascript
        value: output.length < 100
      - type: similar
        value: Bonjour
        threshold: 0.8
  - vars:
      language: [German, Spanish]
      text: Good morning
    options:
      transform: output.trim()
    assert:
      - type: latency
        threshold: 5000
      - type: is-json
        value: {type: object, required: [greeting]}
      - type: contains-json
      - type: not-contains-all
        value: [foo, bar]
      - type: is-valid-openai-tools-call
  - file://tests.csv
  - file://more_tests.yaml
outputPath: results.json
"""

FILES = {
    "prompts/translate.txt": "Translate into {{ language }}, in a {{ tone }} tone: {{ text }}\n",
    "prompts/chat.json": '[{"role": "system", "content": "You translate, tone {{ tone | dump }}."},\n'
                         ' {"role": "user", "content": "{{ text }} -> {{ language }}"}]\n',
    "tests.csv": "language,text,__expected1,__expected2,__description\n"
                 'Italian,Thank you,contains: Grazie,"llm-rubric: is Italian",thanks in italian\n'
                 'Dutch,Goodbye,"icontains-any: tot ziens, dag",python: len(output) > 3,\n'
                 "Welsh,Good night,Nos da,not-icontains: sorry,\n",
    "more_tests.yaml": "- description: Greek\n  vars: {language: Greek, text: Yes}\n"
                       "  assert:\n    - type: finish-reason\n      value: stop\n"
                       "    - type: word-count\n      value: {min: 1, max: 10}\n",
}


def _project(project: Project, config: str = CONFIG, files: dict[str, str] | None = None,
             folder_name: str = "evals") -> Path:
    """The config in ``folder_name`` (which names the suites and the stub module: a test that
    imports a stub module uses a name of its own, as the module stays imported in this process)."""
    folder = project.root / folder_name
    for name, text in {"promptfooconfig.yaml": textwrap.dedent(config).lstrip(), **(files or FILES)}.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder / "promptfooconfig.yaml"


def _suite(project: Project, name: str) -> dict[str, Any]:
    return yaml.safe_load((project.root / "suites" / name).read_text())


def test_converts_prompts_providers_tests_and_assertions(project: Project) -> None:
    config = _project(project)
    result = project.run("import", "promptfoo", str(config), "--out", "suites")
    assert result.code == 1, result.text  # some items were not converted: the exit says so
    assert "wrote suites/evals-translate.yaml" in result.out and "wrote suites/evals-chat.yaml" in result.out

    text_suite = _suite(project, "evals-translate.yaml")
    assert text_suite["model"] == "gpt-4o"
    assert text_suite["temperature"] == 0.2 and text_suite["max_tokens"] == 200
    assert text_suite["extra_body"] == {"frequency_penalty": 0.5}
    assert text_suite["prompt"] == "Translate into {{ language }}, in a {{ tone }} tone: {{ text }}"
    assert text_suite["vars"] == {"tone": "polite"}
    assert text_suite["checks"] == [{"not-icontains": "as an AI"}, {"cost": 0.01}]
    chat_suite = _suite(project, "evals-chat.yaml")
    assert chat_suite["messages"] == [  # Nunjucks' dump is Jinja's tojson
        {"role": "system", "content": "You translate, tone {{ tone | tojson }}."},
        {"role": "user", "content": "{{ text }} -> {{ language }}"}]
    assert chat_suite["cases"] == text_suite["cases"]

    cases = {case["id"]: case for case in text_suite["cases"]}
    assert list(cases) == ["french-greeting", "test-2", "thanks-in-italian", "test-4", "test-5", "greek"]
    assert cases["french-greeting"]["vars"] == {"language": "French", "text": "Hello world"}
    assert cases["french-greeting"]["checks"] == [
        {"icontains": "bonjour"},
        {"contains-any": ["monde", "Monde"]},
        {"equals": "Bonjour le monde", "weight": 2},
        {"regex": "^(?P<word>\\w+)"},  # JavaScript's named group, in Python's spelling
        {"starts-with": "Bonjour"},
        {"rubric": {"rubric": "Is a faithful translation of Hello world", "threshold": 0.7}},  # var written in
        {"python": "evals_checks:check_1"},
    ]
    assert cases["test-2"]["matrix"] == {"language": ["German", "Spanish"]}  # a list var: every value
    assert cases["test-2"]["checks"] == [
        {"latency": 5000},
        {"json-schema": {"type": "object", "required": ["greeting"]}},
        {"is-json": {"fence": True}},
        {"not-contains-all": ["foo", "bar"]},
        {"all-of": ["tool-schema", "not-no-tool-call"]},
    ]
    assert cases["thanks-in-italian"]["checks"] == [{"contains": "Grazie"}, {"rubric": "is Italian"}]
    assert cases["test-4"]["checks"] == [{"icontains-any": ["tot ziens", "dag"]}, {"python": "evals_checks:check_2"}]
    assert cases["test-5"]["checks"] == [{"equals": "Nos da"}, {"not-icontains": "sorry"}]  # a bare text: equals
    assert cases["greek"]["checks"] == [{"finish-reason": "stop"}, {"length": {"words": {"min": 1, "max": 10}}}]

    out = result.out
    assert "not converted:" in out
    for line in ("promptfooconfig.yaml:12: openai:chat:gpt-4o config.apiKey: a key is never written in a suite",
                 "promptfooconfig.yaml:43: similar: harness has no check for it",
                 "promptfooconfig.yaml:50: options.transform: the checks see the answer untransformed",
                 "promptfooconfig.yaml:62: outputPath: harness writes reports with --report"):
        assert line in out, line
    assert "to write: suites/evals_checks.py:check_1 (javascript at promptfooconfig.yaml:41)" in out
    assert "to write: suites/evals_checks.py:check_2 (python at tests.csv:3)" in out
    assert "contains-json: converted to 'the answer, or the code fence in it, is JSON'" in out
    assert "the suites pass harness validate" in out
    written = "\n".join(p.read_text() for p in (project.root / "suites").rglob("*") if p.is_file())
    assert "sk-written-in-the-config" not in written  # reported, never copied

    validate = project.run("validate", "suites")
    assert validate.code == 0, validate.text
    assert "2 suite(s), 14 case(s): valid" in validate.out


def test_stub_module_fails_its_cases_until_written(project: Project) -> None:
    config = _project(project)
    project.run("import", "promptfoo", str(config), "--out", "suites")
    module = (project.root / "suites" / "evals_checks.py").read_text()
    assert "def check_1(output: Any, case: Any) -> Any:" in module
    assert "    #     output.length < 100" in module  # the code to port, as comments only
    assert "raise NotImplementedError('port the promptfoo javascript assertion at promptfooconfig.yaml:41')" \
        in module


def test_a_converted_suite_records_and_replays(project: Project, fake: FakeOpenAI) -> None:
    config = _project(project, """
        prompts: ['Say hello to {{ name }}.']
        providers: [openai:gpt-4o-mini]
        defaultTest:
          assert:
            - type: contains
              value: "{{ name }}"
        tests:
          - vars: {name: Ada}
            assert:
              - type: icontains
                value: HELLO
          - vars: {name: Grace}
            assert:
              - type: javascript
                value: output.startsWith('hello')
    """, files={}, folder_name="greet")
    result = project.run("import", "promptfoo", str(config), "--out", "suites")
    assert result.code == 0, result.text
    suite = _suite(project, "greet.yaml")
    assert "checks" not in suite  # a templated default assertion goes to each case, its var written in
    assert suite["cases"][0]["checks"] == [{"contains": "Ada"}, {"icontains": "HELLO"}]
    assert suite["cases"][1]["checks"] == [{"contains": "Grace"}, {"python": "greet_checks:check_1"}]
    fake.add_rule(Rule(contains="Ada", content="hello Ada"))
    fake.add_rule(Rule(contains="Grace", content="hello Grace"))
    assert project.record(fake, "suites").code == 1  # the stub's case fails: it raises until written
    fake.stop()
    with network_blocked() as attempts:
        replay = project.run("run", "suites")
    assert attempts == []
    assert "PASS   │ test-1" in replay.out
    assert "NotImplementedError: port the promptfoo javascript assertion" in replay.out
    assert "test-2" in replay.out and "PASS   │ test-2" not in replay.out


def test_providers_azure_compatible_and_responses(project: Project) -> None:
    config = _project(project, """
        prompts: [Hi]
        providers:
          - id: azure:chat:prod-gpt4o
            config: {apiHost: example.openai.azure.com, apiVersion: 2024-10-21, apiKeyEnvar: MY_AZURE_KEY}
          - id: openai:chat:llama-3
            label: local
            config: {apiBaseUrl: "http://127.0.0.1:8080/v1", temperature: 0}
          - openai:responses:gpt-4.1
          - openai:gpt-4.1-mini
          - openai:embedding:text-embedding-3-small
          - ollama:chat:llama3
        tests:
          - vars: {}
    """, files={})
    result = project.run("import", "promptfoo", str(config), "--out", "suites")
    azure = _suite(project, "evals-prod-gpt4o.yaml")
    assert azure["provider"] == {"type": "azure", "api_version": "2024-10-21",
                                 "endpoint": "https://example.openai.azure.com", "api_key_env": "MY_AZURE_KEY"}
    assert azure["model"] == "prod-gpt4o"
    local = _suite(project, "evals-local.yaml")
    assert local["provider"] == {"type": "compatible", "base_url": "http://127.0.0.1:8080/v1"}
    assert local["temperature"] == 0
    responses = _suite(project, "evals-gpt-4.1.yaml")
    assert responses["api"] == "responses" and responses["model"] == "gpt-4.1"
    assert _suite(project, "evals-gpt-4.1-mini.yaml")["model"] == "gpt-4.1-mini"
    assert "promptfooconfig.yaml:10: openai:embedding:text-embedding-3-small: the embedding API is not one " \
           "harness sends" in result.out
    assert "promptfooconfig.yaml:11: ollama:chat:llama3: not an OpenAI-style API" in result.out
    assert project.run("validate", "suites").code == 0


def test_models_of_one_provider_share_a_suite_and_each_prompt_has_one(project: Project) -> None:
    config = _project(project, """
        prompts: [Hi, Hello]
        providers: [openai:gpt-4o, openai:gpt-4o-mini]
        tests:
          - assert: [{type: contains, value: hi}]
    """, files={})
    assert project.run("import", "promptfoo", str(config), "--out", "suites").code == 0
    first, second = _suite(project, "evals-prompt-1.yaml"), _suite(project, "evals-prompt-2.yaml")
    assert first["models"] == ["gpt-4o", "gpt-4o-mini"]
    assert (first["prompt"], second["prompt"]) == ("Hi", "Hello")
    assert first["cases"] == [{"id": "test-1", "checks": [{"contains": "hi"}]}]


def test_var_files_are_copied_beside_the_suites(project: Project) -> None:
    config = _project(project, """
        prompts: ['Summarise: {{ doc }} ({{ meta.lang }})']
        providers: [openai:gpt-4o]
        tests:
          - vars:
              doc: file://docs/report.txt
              meta: file://docs/meta.json
              picture: file://docs/cat.png
              computed: file://make_var.py
    """, files={"docs/report.txt": "Quarterly numbers went up.\n", "docs/meta.json": '{"lang": "en"}',
                "docs/cat.png": "not really a png", "make_var.py": "def get_var(): pass\n"})
    result = project.run("import", "promptfoo", str(config), "--out", "suites")
    case = _suite(project, "evals.yaml")["cases"][0]
    assert case["vars"] == {"doc": {"file": "docs/report.txt"}, "meta": {"lang": "en"}}
    assert (project.root / "suites" / "docs" / "report.txt").read_text() == "Quarterly numbers went up.\n"
    assert "var picture: promptfoo sends this file base64-encoded" in result.out
    assert "var computed: a value computed by code cannot be converted" in result.out
    validate = project.run("validate", "suites")
    assert validate.code == 0, validate.text


def test_never_overwrites_without_force(project: Project) -> None:
    config = _project(project)
    project.run("import", "promptfoo", str(config), "--out", "suites")
    suite = project.root / "suites" / "evals-translate.yaml"
    suite.write_text(suite.read_text().replace("polite", "curt"))
    again = project.run("import", "promptfoo", str(config), "--out", "suites")
    assert "kept suites/evals-translate.yaml (exists; --force overwrites)" in again.out
    assert "curt" in suite.read_text()
    project.run("import", "promptfoo", str(config), "--out", "suites", "--force")
    assert "curt" not in suite.read_text()


def test_what_cannot_be_converted_is_listed_at_its_line(project: Project) -> None:
    config = _project(project, """
        prompts:
          - file://make_prompt.py:build
          - 'Hello {{ name }}'
        providers: [openai:gpt-4o]
        nunjucksFilters:
          shout: ./shout.js
        tests:
          - vars: {name: Ada}
            assert:
              - type: assert-set
                threshold: 0.5
                assert: [{type: contains, value: a}, {type: contains, value: b}]
              - type: contains
                value: "{{ name | upper }}"
              - type: rouge-n
                value: hello
          - file://generate_tests.js
    """, files={"make_prompt.py": "def build(): pass\n", "generate_tests.js": ""})
    result = project.run("import", "promptfoo", str(config), "--out", "suites")
    assert result.code == 1
    for line in (
        "promptfooconfig.yaml:2: file://make_prompt.py:build: a prompt made by code (a function) cannot be "
        "converted",
        "promptfooconfig.yaml:6: nunjucksFilters: custom template filters are not available",
        "promptfooconfig.yaml:10: assert-set: a threshold on a set (part of its checks passing) has no harness "
        "equivalent",
        "promptfooconfig.yaml:13: contains: its value is a template ('{{ name | upper }}') and harness checks "
        "are not rendered",
        "promptfooconfig.yaml:15: rouge-n: harness has no check for it",
        "promptfooconfig.yaml:17: file://generate_tests.js: tests made by code cannot be converted",
    ):
        assert line in result.out, line
    assert project.run("validate", "suites").code == 0


def test_a_config_that_is_not_one_is_a_user_error(project: Project) -> None:
    config = _project(project, "- just\n- a list\n", files={})
    result = project.run("import", "promptfoo", str(config))
    assert result.code == 2 and "promptfooconfig.yaml" in result.err and "Traceback" not in result.text
    broken = _project(project, "prompts: [\n", files={})
    result = project.run("import", "promptfoo", str(broken))
    assert result.code == 2 and "YAML syntax error" in result.err
    assert CANARY not in result.text
