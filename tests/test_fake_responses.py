"""The fake server's Responses API (``POST /v1/responses``, Azure's ``/openai/responses``), exercised
through the real ``openai`` SDK and checked against the SDK's own response and event models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import openai
import pytest
from openai import AzureOpenAI, OpenAI
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from harness.testing.fake_openai import FakeOpenAI, Rule

WEATHER = {"type": "function", "name": "get_weather", "strict": False,
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
EVENTS = TypeAdapter(ResponseStreamEvent)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[OpenAI]:
    sdk = OpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0)
    yield sdk
    sdk.close()


def raw(client: OpenAI, **body: Any) -> dict[str, Any]:
    """The response body as sent, validated against the SDK's Response model."""
    data = json.loads(client.responses.with_raw_response.create(**body).text)
    Response.model_validate(data)
    return data


def test_text_with_instructions_and_volatile_ids(client: OpenAI) -> None:
    first = raw(client, model="gpt-4o", instructions="Be brief.", input="hello there")
    again = raw(client, model="gpt-4o", instructions="Be brief.", input="hello there")
    assert first["status"] == "completed" and first["object"] == "response"
    assert [i["type"] for i in first["output"]] == ["message"]
    assert first["output"][0]["content"][0] == {"type": "output_text", "text": "Echo: hello there",
                                                "annotations": [], "logprobs": []}
    assert first["id"].startswith("resp_") and first["id"] != again["id"]  # ids differ on every call
    assert first["output"] != again["output"] and first["usage"] == again["usage"]
    assert client.responses.create(model="gpt-4o", input="hello there").output_text == "Echo: hello there"


def test_rules_apply_to_both_apis(fake: FakeOpenAI, client: OpenAI) -> None:
    fake.add_rule(Rule(contains="weather", tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}]))
    fake.add_rule(Rule(contains="capital", content="Paris."))
    answer = raw(client, model="gpt-4o", input=[{"role": "user", "content": "weather?"}], tools=[WEATHER])
    call = answer["output"][0]
    assert (call["type"], call["name"], json.loads(call["arguments"])) == ("function_call", "get_weather",
                                                                          {"city": "Oslo"})
    assert call["call_id"].startswith("call_") and call["id"].startswith("fc_")
    chat = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "weather?"}],
                                          tools=[{"type": "function", "function": {"name": "get_weather"}}])
    assert client.responses.create(model="gpt-4o", input="the capital of France?").output_text == "Paris."
    assert chat.choices[0].message.tool_calls[0].function.arguments == call["arguments"]


def test_tools_are_called_with_arguments_valid_against_their_schema(client: OpenAI) -> None:
    answer = raw(client, model="gpt-4o", input="What is the weather in Lisbon?", tools=[WEATHER])
    [call] = [i for i in answer["output"] if i["type"] == "function_call"]
    jsonschema.validate(json.loads(call["arguments"]), WEATHER["parameters"])
    assert json.loads(call["arguments"]) == {"city": "Lisbon"}
    done = raw(client, model="gpt-4o", tools=[WEATHER], input=[
        {"role": "user", "content": "What is the weather in Lisbon?"},
        {"type": "function_call", "call_id": call["call_id"], "name": "get_weather", "arguments": call["arguments"]},
        {"type": "function_call_output", "call_id": call["call_id"], "output": "18 C, clear"}])
    assert done["output"][0]["content"][0]["text"] == "Based on the tool results: 18 C, clear"


def test_structured_output_follows_text_format(client: OpenAI) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
              "required": ["city", "population"], "additionalProperties": False}
    answer = client.responses.create(model="gpt-4o", input="A big city in Japan",
                                     text={"format": {"type": "json_schema", "name": "city", "schema": schema,
                                                      "strict": True}})
    jsonschema.validate(json.loads(answer.output_text), schema)
    assert answer.text is not None and answer.text.format.type == "json_schema"


def test_reasoning_models_spend_reasoning_tokens(client: OpenAI) -> None:
    plain = raw(client, model="gpt-4o", input="think")
    deep = raw(client, model="gpt-5.1", input="think", reasoning={"effort": "high"})
    low = raw(client, model="o3-mini", input="think", reasoning={"effort": "low"})
    assert plain["usage"]["output_tokens_details"]["reasoning_tokens"] == 0
    assert [i["type"] for i in deep["output"]] == ["reasoning", "message"]
    assert deep["usage"]["output_tokens_details"]["reasoning_tokens"] == 256
    assert low["usage"]["output_tokens_details"]["reasoning_tokens"] == 16
    assert deep["usage"]["output_tokens"] == plain["usage"]["output_tokens"] + 256  # inside output_tokens


def test_max_output_tokens_makes_an_incomplete_response(client: OpenAI) -> None:
    answer = raw(client, model="gpt-4o", input="one two three four five six", max_output_tokens=3)
    assert answer["status"] == "incomplete" and answer["incomplete_details"] == {"reason": "max_output_tokens"}
    assert answer["output"][0]["content"][0]["text"] == "Echo: one two"


def test_stream_events_are_named_numbered_and_end_completed(client: OpenAI) -> None:
    reply = client.responses.with_raw_response.create(model="gpt-4o", input="weather in Rome?", tools=[WEATHER],
                                                      stream=True)
    text = reply.http_response.read().decode()
    assert reply.http_response.headers["content-type"].startswith("text/event-stream")
    assert "[DONE]" not in text
    blocks = [b for b in text.split("\n\n") if b.strip()]
    events = []
    for block in blocks:
        name, data = block.split("\n")
        event = json.loads(data.removeprefix("data: "))
        assert name == f"event: {event['type']}"
        EVENTS.validate_python(event)
        events.append(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert "response.function_call_arguments.delta" in kinds
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta")
    final = events[-1]["response"]
    assert deltas == final["output"][0]["arguments"] == '{"city": "Rome"}'
    streamed = client.responses.create(model="gpt-4o", input="say hi", stream=True)
    pieces = [e.delta for e in streamed if e.type == "response.output_text.delta"]
    assert "".join(pieces) == "Echo: say hi"


def test_previous_response_id_continues_the_stored_context(fake: FakeOpenAI, client: OpenAI) -> None:
    fake.add_rule(Rule(contains="my name is Ada", content="Hello Ada."))
    first = raw(client, model="gpt-4o", instructions="Be kind.", input="Hi, my name is Ada")
    # Only the tool result / new input goes over the wire; the rule still sees Ada's message in the
    # stored context (the last user message), and the context is reported as cached input.
    second = raw(client, model="gpt-4o", previous_response_id=first["id"], input=[
        {"role": "assistant", "content": "noted"}])
    assert second["output"][0]["content"][0]["text"] == "Hello Ada."
    assert second["previous_response_id"] == first["id"]
    assert 0 < second["usage"]["input_tokens_details"]["cached_tokens"] < second["usage"]["input_tokens"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="gpt-4o", previous_response_id="resp_unknown", input="hi")
    assert caught.value.body["code"] == "previous_response_not_found"
    assert caught.value.body["param"] == "previous_response_id"
    unstored = raw(client, model="gpt-4o", input="forget me", store=False)
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-4o", previous_response_id=unstored["id"], input="hi")


def test_faults_and_errors_as_for_chat() -> None:
    with FakeOpenAI(rules=[Rule(contains="down", status=503)], fault_every=2, fault_status=429,
                    fault_retry_after=0.01) as server:
        client = OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        assert client.responses.create(model="gpt-4o", input="one").output_text == "Echo: one"
        with pytest.raises(openai.RateLimitError) as caught:
            client.responses.create(model="gpt-4o", input="two")
        assert caught.value.response.headers["retry-after-ms"] == "10"
        with pytest.raises(openai.InternalServerError):
            client.responses.create(model="gpt-4o", input="down")
        with pytest.raises(openai.BadRequestError, match="Unsupported parameter: 'messages'"):
            client.responses.create(model="gpt-4o", input="x", extra_body={"messages": []})
        client.close()


def test_azure_route_takes_the_model_from_the_body(fake: FakeOpenAI) -> None:
    azure = AzureOpenAI(azure_endpoint=fake.azure_endpoint, api_key="az", api_version="2025-04-01-preview",
                        azure_deployment="prod-4o", max_retries=0)
    answer = azure.responses.create(model="prod-4o", input="hello azure")
    assert answer.output_text == "Echo: hello azure" and answer.model == "prod-4o"
    last = fake.requests[-1]
    assert (last.path, last.query) == ("/openai/responses", {"api-version": "2025-04-01-preview"})
    azure.close()


def test_batch_lines_for_v1_responses(fake: FakeOpenAI, client: OpenAI) -> None:
    lines = [{"custom_id": "a", "method": "POST", "url": "/v1/responses",
              "body": {"model": "gpt-4o", "input": "batched question"}}]
    upload = client.files.create(file=("b.jsonl", json.dumps(lines[0]).encode()), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/responses", completion_window="24h")
    while batch.status not in ("completed", "failed"):
        batch = client.batches.retrieve(batch.id)
    assert batch.status == "completed" and batch.output_file_id
    [result] = [json.loads(line) for line in client.files.content(batch.output_file_id).text.splitlines()]
    body = result["response"]["body"]
    Response.model_validate(body)
    assert body["output"][0]["content"][0]["text"] == "Echo: batched question"
    assert batch.usage is not None and batch.usage.input_tokens == body["usage"]["input_tokens"]
