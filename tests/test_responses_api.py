"""``api: responses``: a suite recorded through the Responses API against the loopback server, the
server stopped, then replayed offline with the same verdicts; both APIs side by side; Azure; Batch;
unsupported keys refused before anything is sent; the pytest door."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import AZURE_CANARY, CANARY, Project, network_blocked

ROOT = Path(__file__).resolve().parents[1]

SUITE = """
    model: gpt-5.1
    api: responses
    system: You are a terse assistant.
    cases:
      - id: text
        prompt: hello there
        checks:
          - contains: "Echo: hello there"
      - id: wrong
        prompt: say goodbye
        checks:
          - contains: bonjour
      - id: image
        messages:
          - role: user
            content:
              - {type: text, text: Describe this picture.}
              - {type: image_url, image_url: {file: images/sun.png, detail: low}}
        checks:
          - contains: "(1 image received)"
      - id: weather
        prompt: What is the weather in Paris?
        tools:
          - type: function
            function:
              name: get_weather
              parameters: {type: object, properties: {city: {type: string}}, required: [city]}
        checks:
          - tool-call: {name: get_weather, arguments: {city: Paris}}
      - id: city
        prompt: Name a city in Japan
        response_format:
          type: json_schema
          json_schema:
            name: city
            strict: true
            schema: {type: object, properties: {city: {type: string}, rank: {type: integer}},
                     required: [city, rank], additionalProperties: false}
      - id: streamed
        prompt: stream this answer
        stream: true
        checks:
          - contains: "Echo: stream this answer"
          - ttft: 60000
      - id: thinking
        prompt: think hard
        reasoning_effort: high
        checks:
          - tokens: {reasoning: {min: 1}, total: 400}
          - cost: 0.01
      - id: busy
        prompt: retry me please
"""


def verdicts(report: Path) -> dict[str, tuple[str, list[tuple[str, bool, str]]]]:
    doc = json.loads(report.read_text())
    return {c["id"]: (c["status"], [(v["name"], v["passed"], v["reason"]) for v in c["checks"]])
            for c in doc["cases"]}


def cases_of(report: Path) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in json.loads(report.read_text())["cases"]}


@pytest.fixture
def suite(project: Project) -> Project:
    project.suite("r.yaml", SUITE)
    (project.root / "suites" / "images").mkdir()
    shutil.copy(ROOT / "suites" / "images" / "sun_over_field.png", project.root / "suites" / "images" / "sun.png")
    return project


def test_record_then_replay_offline_with_the_same_verdicts(suite: Project, fake: FakeOpenAI) -> None:
    fake.add_rule(Rule(contains="retry me", status=429, retry_after=0.01, times=1))
    recorded = suite.record(fake, "suites", "--report", "json=rec.json")
    assert recorded.code == 1, recorded.text  # one case fails on purpose
    sent = [r for r in fake.requests if r.method == "POST"]
    assert {r.path for r in sent} == {"/v1/responses"}
    assert len(sent) == 9  # eight cases, one of them retried after its 429
    first = sent[0].json
    assert first["instructions"] == "You are a terse assistant." and "messages" not in first
    fake.stop()

    with network_blocked() as attempts:
        replayed = suite.run("run", "suites", "--report", "json=rep.json")
    assert attempts == [] and replayed.code == 1, replayed.text
    assert verdicts(suite.root / "rep.json") == verdicts(suite.root / "rec.json")

    got = verdicts(suite.root / "rep.json")
    assert got["wrong"][0] == "failed"
    assert all(status == "passed" for case, (status, _) in got.items() if case != "wrong"), got
    assert [name for name, *_ in got["city"][1]] == ["response-schema"]  # the automatic schema check
    assert [name for name, *_ in got["weather"][1]] == ["tool-call", "tool-schema"]
    cases = cases_of(suite.root / "rep.json")
    assert {c["api"] for c in cases.values()} == {"responses"}
    assert cases["streamed"]["answer"]["streamed"] is True and cases["streamed"]["answer"]["ttft_ms"] is not None
    # gpt-5.1 at $2.50 / $10 per 1M: reasoning tokens are output tokens, and paid as such.
    thinking = cases["thinking"]
    assert thinking["usage"]["reasoning_tokens"] == 256
    usage = thinking["usage"]
    assert thinking["cost_usd"] == pytest.approx((usage["prompt_tokens"] * 2.5 + usage["completion_tokens"] * 10) / 1e6)
    assert usage["completion_tokens"] > 256

    cassette = (suite.root / "cassettes" / "r" / "text.yaml").read_text()
    view = yaml.safe_load(cassette)["interactions"][0]["harness"]
    assert view["path"] == "/responses"
    assert view["prompt"] == [{"instructions": "You are a terse assistant."}, {"user": "hello there"}]
    assert view["answer"] == "Echo: hello there" and view["finish_reason"] == "stop"
    image = yaml.safe_load((suite.root / "cassettes" / "r" / "image.yaml").read_text())["interactions"][0]
    assert image["harness"]["prompt"][1]["user"][1]["image"].startswith("data:image/png;base64,...")
    assert CANARY not in suite.all_files_text()


def test_one_suite_through_both_apis(suite: Project, fake: FakeOpenAI) -> None:
    text = (suite.root / "suites" / "r.yaml").read_text().replace("api: responses", "api: [chat, responses]")
    (suite.root / "suites" / "r.yaml").write_text(text)
    assert suite.record(fake, "suites", "--report", "json=rec.json").code == 1
    fake.stop()
    assert suite.run("run", "suites", "--report", "json=rep.json").code == 1
    cases = cases_of(suite.root / "rep.json")
    assert set(cases) == {f"{c}[{api}]" for c in ("text", "wrong", "image", "weather", "city", "streamed",
                                                  "thinking", "busy") for api in ("chat", "responses")}
    assert "api" not in cases["text[chat]"] and cases["text[responses]"]["api"] == "responses"
    for case in ("text", "wrong", "image", "weather", "city", "streamed"):
        chat, responses = cases[f"{case}[chat]"], cases[f"{case}[responses]"]
        assert chat["status"] == responses["status"], case
        assert chat["answer"]["content"] == responses["answer"]["content"], case
    # Replay reads and parses both kinds of cassette without loading the SDK (nor opening a socket).
    code = ("import sys; from harness.cli import main\n"
            "rc = main(['run', 'suites', '-q'])\n"
            "assert 'openai' not in sys.modules, 'openai imported'\n"
            "sys.exit(rc)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=suite.root, capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "13 passed, 3 failed" in done.stdout, done.stdout + done.stderr
    folder = suite.root / "cassettes" / "r"
    chat_body = yaml.safe_load((folder / "weather[chat].yaml").read_text())["interactions"][0]["request"]
    responses_body = yaml.safe_load((folder / "weather[responses].yaml").read_text())["interactions"][0]["request"]
    assert chat_body["uri"].endswith("/v1/chat/completions") and responses_body["uri"].endswith("/v1/responses")
    assert "messages" in json.loads(chat_body["body"]) and "input" in json.loads(responses_body["body"])


def test_replay_reads_a_cassette_by_its_path_not_by_the_suite(suite: Project, fake: FakeOpenAI) -> None:
    """A recorded Responses exchange stays one when the suite says chat: the request changed, so the
    case is stale (and says what changed), never an answer misread as chat."""
    assert suite.record(fake, "suites/r.yaml::text").code == 0
    fake.stop()
    text = (suite.root / "suites" / "r.yaml").read_text().replace("api: responses", "api: chat")
    (suite.root / "suites" / "r.yaml").write_text(text)
    stale = suite.run("run", "suites/r.yaml::text")
    assert stale.code == 3 and "STALE" in stale.out, stale.text
    assert "/responses" in stale.out and "/chat/completions" in stale.out


@pytest.mark.parametrize("command", ["run", "validate"])
def test_an_unsupported_key_is_a_user_error_at_its_line(project: Project, fake: FakeOpenAI, command: str) -> None:
    project.suite("r.yaml", """
        model: gpt-4o
        api: responses
        cases:
          - id: ok
            prompt: hi
          - id: seeded
            prompt: hi
            seed: 7
          - id: stopped
            prompt: hi
            stop: [END]
    """)
    args = ["validate", "suites"] if command == "validate" else ["run", "suites", "--record-mode", "once",
                                                                 "--base-url", fake.base_url]
    result = project.run(*args, env={"OPENAI_API_KEY": CANARY})
    assert result.code == 2
    assert "suites/r.yaml:8 [case seeded]: 'seed' has no equivalent in the Responses API (api: responses)" \
        in result.err
    assert "suites/r.yaml:11 [case stopped]: 'stop' has no equivalent" in result.err  # all at once
    assert "Traceback" not in result.text
    assert fake.requests == []  # nothing was sent


def test_azure_records_and_replays_the_responses_path(project: Project) -> None:
    project.suite("az.yaml", """
        provider: {type: azure, deployment: prod-gpt4o, api_version: "2025-04-01-preview"}
        model: gpt-4o
        api: responses
        cases:
          - id: hi
            prompt: hello azure
            checks:
              - contains: "Echo: hello azure"
    """)
    with FakeOpenAI(require_key=AZURE_CANARY) as server:
        env = {"AZURE_OPENAI_API_KEY": AZURE_CANARY, "AZURE_OPENAI_ENDPOINT": server.azure_endpoint}
        recorded = project.run("run", "suites", "--record-mode", "once", env=env)
        assert recorded.code == 0, recorded.text
        [sent] = server.requests
    assert (sent.path, sent.query) == ("/openai/responses", {"api-version": "2025-04-01-preview"})
    assert sent.json["model"] == "prod-gpt4o" and sent.headers["api-key"] == AZURE_CANARY
    interaction = yaml.safe_load((project.root / "cassettes" / "az" / "hi.yaml").read_text())["interactions"][0]
    assert interaction["harness"]["path"] == "/responses"
    assert interaction["harness"]["query"] == {"api-version": "2025-04-01-preview"}
    assert AZURE_CANARY not in project.all_files_text()
    with network_blocked() as attempts:
        replay = project.run("run", "suites", env={"AZURE_OPENAI_ENDPOINT": "https://unused.invalid"})
    assert replay.code == 0 and attempts == [], replay.text


def test_batch_records_both_apis_in_one_batch_each(suite: Project, fake: FakeOpenAI) -> None:
    text = (suite.root / "suites" / "r.yaml").read_text().replace("api: responses", "api: [chat, responses]")
    (suite.root / "suites" / "r.yaml").write_text(text)
    result = suite.run("run", "suites/r.yaml::text[chat]", "suites/r.yaml::text[responses]",
                       "suites/r.yaml::weather[responses]", "--record-mode", "once", "--batch",
                       "--batch-poll", "0.01", "--base-url", fake.base_url, env={"OPENAI_API_KEY": CANARY})
    assert result.code == 0, result.text
    assert result.err.count("submitted batch") == 2
    assert [r.path for r in fake.requests if r.method == "POST"] == ["/v1/files", "/v1/batches"] * 2
    endpoints = {fake.requests[i + 1].json["endpoint"] for i, r in enumerate(fake.requests)
                 if r.method == "POST" and r.path == "/v1/files"}
    assert endpoints == {"/v1/chat/completions", "/v1/responses"}
    weather = yaml.safe_load((suite.root / "cassettes" / "r" / "weather[responses].yaml").read_text())
    assert weather["interactions"][0]["harness"]["batch"] is True
    assert weather["interactions"][0]["harness"]["tool_calls"] == [{"get_weather": {"city": "Paris"}}]
    fake.stop()
    with network_blocked() as attempts:
        replay = suite.run("run", "suites/r.yaml::text[chat]", "suites/r.yaml::text[responses]",
                           "suites/r.yaml::weather[responses]", "--report", "json=rep.json")
    assert replay.code == 0 and attempts == [], replay.text
    assert cases_of(suite.root / "rep.json")["text[responses]"]["answer"]["content"] == "Echo: hello there"


def test_the_pytest_door_runs_a_responses_suite(pytester: pytest.Pytester, fake: FakeOpenAI,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makefile(".toml", pyproject="[project]\nname='demo'\n\n[tool.pytest.ini_options]\n"
                                         "harness_suites = ['suites']\n")
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "r.yaml").write_text(
        "model: gpt-4o\napi: responses\ncases:\n  - id: greet\n    prompt: Say hello.\n    checks:\n"
        "      - contains: 'Echo: Say hello.'\n  - id: wrong\n    prompt: Say bye.\n    checks:\n"
        "      - contains: bonjour\n")
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    result = pytester.runpytest("suites", "-v", "-p", "no:randomly", "--record-mode", "once",
                                "--harness-base-url", fake.base_url)
    result.assert_outcomes(passed=1, failed=1)
    assert {r.path for r in fake.requests} == {"/v1/responses"}
    fake.stop()
    monkeypatch.delenv("OPENAI_API_KEY")
    replay = pytester.runpytest("suites", "-v", "-p", "no:randomly")
    replay.assert_outcomes(passed=1, failed=1)
    replay.stdout.fnmatch_lines(["suites/r.yaml::greet PASSED*", "suites/r.yaml::wrong FAILED*"])


def test_a_chained_step_goes_through_the_sdk_and_replays(project: Project, fake: FakeOpenAI,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's later steps build a Conversation; here one is built by hand from a recorded
    answer: the second request carries only the tool result and the previous response's id, the
    server continues from what it stored (and bills it as cached input), and both answers replay."""
    from harness.episode import Conversation
    from harness.pricing import PriceTable
    from harness.render import Renderer
    from harness.request import build_request
    from harness.suite import load_suite
    from harness.transport import LiveSession, replay_output

    fake.add_rule(Rule(contains="Ada", tool_calls=[{"name": "lookup", "arguments": {"who": "Ada"}}], times=1))
    path = project.suite("c.yaml", """
        model: gpt-5.1
        api: responses
        history: chained
        system: Use the tools.
        tools:
          - type: function
            function: {name: lookup, parameters: {type: object, properties: {who: {type: string}}}}
        cases:
          - id: a
            prompt: Who was Ada Lovelace?
    """)
    [case] = load_suite(path).cases
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    first = build_request(case, Renderer(case.suite_path), base_url_override=fake.base_url)
    session = LiveSession(max_retries=0)
    try:
        one = session.send(first)
        [call] = one.output.tool_calls
        assert one.interaction is not None and one.output.response_id
        history = ({"role": "assistant", "content": None, "tool_calls": [
                       {"id": call.id, "type": "function", "function": {"name": call.name,
                                                                        "arguments": call.raw_arguments}}]},
                   {"role": "tool", "tool_call_id": call.id, "content": "a mathematician"})
        later = Conversation(history, previous_response_id=one.output.response_id, sent=3)
        second = build_request(case, Renderer(case.suite_path), base_url_override=fake.base_url,
                               conversation=later)
        two = session.send(second)
    finally:
        session.close()
    assert second.wire["previous_response_id"] == one.output.response_id
    assert second.wire["input"] == [{"type": "function_call_output", "call_id": call.id,
                                     "output": "a mathematician"}]
    assert two.interaction is not None
    assert two.output.content == "Based on the tool results: a mathematician"  # the stored context's tool call
    usage = two.output.usage
    assert usage is not None and 0 < usage.cached_tokens < usage.prompt_tokens
    fresh = usage.prompt_tokens - usage.cached_tokens
    assert PriceTable().cost("gpt-5.1", usage) == pytest.approx(
        (fresh * 2.50 + usage.cached_tokens * 1.25 + usage.completion_tokens * 10.0) / 1e6)
    fake.stop()
    with network_blocked() as attempts:
        assert replay_output(one.interaction).tool_calls == one.output.tool_calls
        assert replay_output(two.interaction).content == two.output.content
        assert replay_output(two.interaction).response_id == two.output.response_id
    assert attempts == []


def test_rerecording_an_unchanged_chained_conversation_leaves_its_cassette_untouched(
        project: Project, fake: FakeOpenAI) -> None:
    """The server makes up a new response id on every call, and a chained step sends the id of the
    step before: neither may count as a change, or every re-recording would rewrite the file."""
    project.suite("c.yaml", """
        model: gpt-5.1
        api: responses
        history: chained
        cases:
          - id: two
            prompt: Name a fruit.
            turns: [And a vegetable?]
            checks:
              - contains: vegetable
    """)
    assert project.record(fake, "suites").code == 0
    [path] = project.cassette_files()
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    steps = yaml.safe_load(path.read_text())["interactions"]
    first_id = json.loads(steps[0]["response"]["body"]["string"])["id"]
    assert json.loads(steps[1]["request"]["body"])["previous_response_id"] == first_id
    sent = len(fake.requests)
    result = project.record(fake, "suites", mode="all")
    assert result.code == 0, result.text
    chained = [r.json for r in fake.requests[sent:]]
    assert len(chained) == 2 and chained[1]["previous_response_id"] not in (None, first_id)  # a new id
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    fake.stop()
    with network_blocked() as attempts:
        assert project.run("run", "suites").code == 0  # the kept file is still one consistent chain
    assert attempts == []
