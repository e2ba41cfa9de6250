"""The Responses API's wire body: each translation of a suite, checked against the request shapes of
the installed openai SDK (``openai/types/responses/``), chaining by ``previous_response_id``, and the
answers read back into Output (refusal, incomplete, failed, cut streams) with their cost."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.responses import Response, response_create_params
from pydantic import TypeAdapter

from harness import apis
from harness.episode import Conversation
from harness.errors import UserError
from harness.output import Usage
from harness.pricing import PriceTable
from harness.render import Renderer
from harness.request import Request, build_request
from harness.suite import load_suite

from conftest import Project

_CREATE = TypeAdapter(response_create_params.ResponseCreateParamsNonStreaming)
_STREAMING = TypeAdapter(response_create_params.ResponseCreateParamsStreaming)


def _plain(value: Any) -> Any:
    """Validated TypedDicts hold lazy iterators for the SDK's Iterable fields: make them lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, bytes, int, float, bool)):
        return value
    return [_plain(v) for v in value]


def assert_sdk_shape(wire: dict[str, Any]) -> None:
    """The body validates as the SDK's ResponseCreateParams, and nothing in it is unknown to the SDK
    (pydantic drops keys a TypedDict does not declare, so any unknown key makes the two differ)."""
    adapter = _STREAMING if wire.get("stream") else _CREATE
    assert _plain(adapter.validate_python(wire)) == wire


def requests_of(project: Project, text: str, **conversations: Conversation) -> dict[str, Request]:
    path = project.suite("r.yaml", text)
    return {c.id: build_request(c, Renderer(c.suite_path), conversation=conversations.get(c.id))
            for c in load_suite(path).cases}


SUITE = """
    model: gpt-5.1
    api: responses
    system: You are terse.
    cases:
      - id: text
        prompt: hello
        temperature: 0.2
        max_tokens: 50
      - id: systems
        messages:
          - {role: system, content: Second rule.}
          - {role: user, content: earlier}
          - {role: assistant, content: an answer}
          - {role: system, content: A later instruction.}
          - {role: user, content: now}
      - id: image
        messages:
          - role: user
            content:
              - {type: text, text: What is this?}
              - {type: image_url, image_url: {url: "https://example.com/a.png", detail: low}}
              - {type: image_url, image_url: {url: "https://example.com/b.png"}}
      - id: tools
        prompt: weather in Paris?
        tools:
          - type: function
            function:
              name: get_weather
              description: Current weather
              parameters: {type: object, properties: {city: {type: string}}, required: [city]}
          - type: function
            function: {name: strict_one, parameters: {type: object, properties: {}, additionalProperties: false,
                       required: []}, strict: true}
        tool_choice: {type: function, function: {name: get_weather}}
        parallel_tool_calls: false
      - id: earlier-calls
        messages:
          - {role: user, content: weather?}
          - role: assistant
            content: null
            tool_calls: [{id: call_1, type: function, function: {name: get_weather, arguments: {city: Paris}}}]
          - {role: tool, tool_call_id: call_1, content: sunny}
      - id: schema
        prompt: a city
        response_format:
          type: json_schema
          json_schema:
            name: city
            strict: true
            schema: {type: object, properties: {city: {type: string}}, required: [city], additionalProperties: false}
        verbosity: low
      - id: json-object
        prompt: json please
        response_format: {type: json_object}
        stream: true
      - id: reasoning
        prompt: think
        reasoning_effort: high
        max_completion_tokens: 400
        extra_body: {truncation: auto, text: {verbosity: high}}
"""


def test_each_translation_has_the_sdk_shape(project: Project) -> None:
    got = {name: r.wire for name, r in requests_of(project, SUITE).items()}
    for wire in got.values():
        assert_sdk_shape(wire)
    assert got["text"] == {"model": "gpt-5.1", "instructions": "You are terse.",
                           "input": [{"role": "user", "content": "hello"}], "max_output_tokens": 50,
                           "temperature": 0.2}
    # Leading system messages are the instructions; a later one keeps its place, as developer.
    assert got["systems"]["instructions"] == "You are terse.\n\nSecond rule."
    assert got["systems"]["input"] == [
        {"role": "user", "content": "earlier"}, {"role": "assistant", "content": "an answer"},
        {"role": "developer", "content": "A later instruction."}, {"role": "user", "content": "now"}]
    assert got["image"]["input"][0]["content"] == [
        {"type": "input_text", "text": "What is this?"},
        {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "low"},
        {"type": "input_image", "image_url": "https://example.com/b.png", "detail": "auto"}]
    assert got["tools"]["tools"] == [
        {"type": "function", "name": "get_weather", "description": "Current weather",
         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
         "strict": False},  # chat's default, not the Responses API's
        {"type": "function", "name": "strict_one",
         "parameters": {"type": "object", "properties": {}, "additionalProperties": False, "required": []},
         "strict": True}]
    assert got["tools"]["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert got["tools"]["parallel_tool_calls"] is False
    assert got["earlier-calls"]["input"][1:] == [
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}]
    assert got["schema"]["text"] == {
        "format": {"type": "json_schema", "name": "city", "strict": True,
                   "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                              "additionalProperties": False}},
        "verbosity": "low"}
    assert got["json-object"]["text"] == {"format": {"type": "json_object"}}
    assert got["json-object"]["stream"] is True and "stream_options" not in got["json-object"]
    # extra_body's raw Responses fields come last and win.
    assert got["reasoning"]["reasoning"] == {"effort": "high"}
    assert got["reasoning"]["max_output_tokens"] == 400
    assert got["reasoning"]["truncation"] == "auto" and got["reasoning"]["text"] == {"verbosity": "high"}


def test_checks_still_read_the_chat_form_and_the_identity_is_the_wire(project: Project) -> None:
    request = requests_of(project, SUITE)["schema"]
    assert request.path == "/responses" and request.api == "responses"
    assert request.body["response_format"]["type"] == "json_schema"  # what the automatic check reads
    assert request.canonical()["body"] == request.wire and "input" in request.text


@pytest.mark.parametrize(("key", "value"), [("seed", "7"), ("stop", "[x]")])
def test_a_chat_only_key_is_refused_at_its_line(project: Project, key: str, value: str) -> None:
    text = f"model: gpt-4o\napi: responses\ncases:\n  - id: a\n    prompt: hi\n    {key}: {value}\n"
    with pytest.raises(UserError) as caught:
        requests_of(project, text)
    assert str(caught.value) == (f"suites/r.yaml:6 [case a]: '{key}' has no equivalent in the Responses API "
                                 "(api: responses): remove it, or send this case with api: chat")
    # Set on the suite, the error points at the suite's line.
    text = f"model: gpt-4o\napi: responses\n{key}: {value}\ncases:\n  - id: a\n    prompt: hi\n"
    with pytest.raises(UserError, match=rf"^suites/r.yaml:3 \[case a\]: '{key}' has no equivalent"):
        requests_of(project, text)


def test_an_unknown_message_key_is_refused(project: Project) -> None:
    text = ("model: gpt-4o\napi: responses\ncases:\n  - id: a\n    messages:\n"
            "      - {role: user, content: hi, name: alice}\n")
    with pytest.raises(UserError, match="the user message key 'name' has no equivalent"):
        requests_of(project, text)


CHAT_HISTORY = (
    {"role": "assistant", "content": None,
     "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "call_9", "content": "42"},
    {"role": "user", "content": "and then?"},
)


def test_a_later_step_sends_the_whole_conversation_by_default(project: Project) -> None:
    later = Conversation(CHAT_HISTORY, previous_response_id="resp_prev", sent=3)
    request = requests_of(project, "model: gpt-4o\napi: responses\nsystem: S\ncases:\n  - id: a\n"
                                   "    prompt: first\n", a=later)["a"]
    assert_sdk_shape(request.wire)
    assert "previous_response_id" not in request.wire
    assert request.wire["instructions"] == "S"
    assert [i.get("role") or i["type"] for i in request.wire["input"]] == [
        "user", "function_call", "function_call_output", "user"]


def test_history_chained_sends_only_what_is_new_with_the_previous_id(project: Project) -> None:
    # sent=3: the previous response had the system message, the prompt and its own tool call.
    later = Conversation(CHAT_HISTORY, previous_response_id="resp_prev", sent=3)
    text = "model: gpt-4o\napi: [chat, responses]\nhistory: chained\nsystem: S\ncases:\n  - id: a\n    prompt: first\n"
    got = requests_of(project, text, **{"a[responses]": later, "a[chat]": later})
    wire = got["a[responses]"].wire
    assert_sdk_shape(wire)
    assert wire["previous_response_id"] == "resp_prev"
    assert wire["instructions"] == "S"  # the API does not carry instructions over
    assert wire["input"] == [{"type": "function_call_output", "call_id": "call_9", "output": "42"},
                             {"role": "user", "content": "and then?"}]
    # Chat keeps no state on the server: it always sends everything.
    assert [m["role"] for m in got["a[chat]"].wire["messages"]] == ["system", "user", "assistant", "tool", "user"]


def test_chaining_refuses_store_false(project: Project) -> None:
    later = Conversation(CHAT_HISTORY, previous_response_id="resp_prev", sent=3)
    text = ("model: gpt-4o\napi: responses\nhistory: chained\ncases:\n  - id: a\n    prompt: first\n"
            "    extra_body: {store: false}\n")
    with pytest.raises(UserError, match=r"r.yaml:3 \[case a\]: history: chained needs the server to keep"):
        requests_of(project, text, a=later)


# ---------------------------------------------------------------- answers

def _response(**fields: Any) -> dict[str, Any]:
    """A response body as the API sends it, checked against the SDK's own model first."""
    body = {"id": "resp_1", "object": "response", "created_at": 1, "model": "gpt-5.1", "status": "completed",
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "output": [],
            "usage": {"input_tokens": 1000, "output_tokens": 300, "total_tokens": 1300,
                      "input_tokens_details": {"cached_tokens": 800, "cache_write_tokens": 0},
                      "output_tokens_details": {"reasoning_tokens": 200}}, **fields}
    Response.model_validate(body)
    return body


def _parse(body: Any, stream: bool = False) -> Any:
    text = body if stream else json.dumps(body)
    headers = {"content-type": "text/event-stream" if stream else "application/json"}
    return apis.parse_answer(apis.RESPONSES, 200, headers, text)


def _message(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed", "content": list(parts)}


def test_text_refusal_usage_and_cost() -> None:
    out = _parse(_response(output=[
        {"id": "rs_1", "type": "reasoning", "summary": []},
        _message({"type": "output_text", "text": "Hello ", "annotations": []}),
        _message({"type": "output_text", "text": "world", "annotations": []},
                 {"type": "refusal", "refusal": "not that part"})]))
    assert out.error is None and out.content == "Hello world" and out.finish_reason == "stop"
    assert out.extra == {"status": "completed", "refusal": "not that part"}
    assert out.response_id == "resp_1"
    assert out.usage == Usage(prompt_tokens=1000, completion_tokens=300, total_tokens=1300, cached_tokens=800,
                              reasoning_tokens=200)
    # gpt-5.1: $2.50 in, $1.25 cached in, $10 out per 1M; reasoning tokens are billed as output.
    assert PriceTable().cost("gpt-5.1", out.usage) == pytest.approx((200 * 2.50 + 800 * 1.25 + 300 * 10.0) / 1e6)


def test_function_calls_and_finish_reasons() -> None:
    call = {"type": "function_call", "id": "fc_1", "call_id": "call_a", "name": "f", "arguments": '{"x": 1}',
            "status": "completed"}
    out = _parse(_response(output=[call]))
    assert out.finish_reason == "tool_calls" and out.content is None
    assert [(c.id, c.name, c.arguments) for c in out.tool_calls] == [("call_a", "f", {"x": 1})]
    cut = _parse(_response(status="incomplete", incomplete_details={"reason": "max_output_tokens"},
                           output=[_message({"type": "output_text", "text": "Hal", "annotations": []})]))
    assert (cut.content, cut.finish_reason, cut.extra["incomplete_reason"]) == ("Hal", "length", "max_output_tokens")
    filtered = _parse(_response(status="incomplete", incomplete_details={"reason": "content_filter"}))
    assert filtered.finish_reason == "content_filter"
    failed = _parse(_response(status="failed", error={"code": "server_error", "message": "boom"}))
    assert failed.error == "the response failed: boom"


def test_streams_end_with_their_completed_event() -> None:
    final = _response(output=[_message({"type": "output_text", "text": "Hi", "annotations": []})])
    events = [{"type": "response.created", "sequence_number": 0, "response": {**final, "output": []}},
              {"type": "response.output_text.delta", "sequence_number": 1, "delta": "Hi", "item_id": "msg_1",
               "output_index": 0, "content_index": 0, "logprobs": []},
              {"type": "response.completed", "sequence_number": 2, "response": final}]
    text = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    out = _parse(text, stream=True)
    assert (out.content, out.streamed, out.error) == ("Hi", True, None)
    cut = _parse("".join(text.split("\n\n", 2)[:2]), stream=True)
    assert cut.error == "the server's answer was incomplete: the event stream ended before its last event " \
                        "(no response.completed)"
    error = 'event: error\ndata: {"type": "error", "sequence_number": 0, "message": "overloaded", "code": null}\n\n'
    assert "overloaded" in str(_parse(error, stream=True).error)


def test_replay_parses_by_the_recorded_path() -> None:
    assert apis.for_path("/responses") is apis.RESPONSES
    assert apis.for_path("/chat/completions") is apis.CHAT
    assert apis.for_path("/deployments/d/chat/completions") is apis.CHAT


def test_a_chat_only_provider_setting_is_refused_at_the_provider(project: Project) -> None:
    text = ("model: gpt-4o\napi: responses\nprovider:\n  type: compatible\n  base_url: http://127.0.0.1:9/v1\n"
            "  json_schema_mode: json_object\ncases:\n  - id: a\n    prompt: hi\n")
    with pytest.raises(UserError, match=r"^suites/r.yaml:4 \[case a\]: provider json_schema_mode: json_object is "
                                        r"a chat-API setting"):
        requests_of(project, text)
