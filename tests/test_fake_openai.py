"""The fake OpenAI server, exercised through the real ``openai`` SDK (sync, async, streaming, Azure, Batch)."""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import openai
import pytest
from openai import AsyncOpenAI, AzureOpenAI, OpenAI
from pydantic import BaseModel

from harness.testing.fake_openai import FakeOpenAI, Rule, main

ROOT = Path(__file__).resolve().parents[1]
MODEL = "gpt-4o-mini"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a place.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "include_hourly": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "uniqueItems": True},
                "options": {"type": "object", "properties": {"lang": {"type": "string", "minLength": 2}},
                            "required": ["lang"], "additionalProperties": False},
                "note": {"type": "string"},
            },
            "required": ["location", "unit", "days", "include_hourly", "tags", "options"],
            "additionalProperties": False,
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {"name": "search_docs", "parameters": {
        "type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "number", "minimum": 3}},
        "required": ["query", "limit"]}},
}


def user(text: Any) -> Any:
    return [{"role": "user", "content": text}]


_OPEN_CLIENTS: list[OpenAI] = []


def track(client: Any) -> Any:
    """Close the sync client after the test (no leaked keep-alive sockets)."""
    _OPEN_CLIENTS.append(client)
    return client


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN_CLIENTS:
        _OPEN_CLIENTS.pop().close()


def raw_request(port: int, method: str, path: str, body: str, headers: dict[str, str] | None = None
                ) -> tuple[int, dict[str, str], bytes]:
    """One request over a fresh http.client connection: status, lower-cased headers, undecoded body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        reply = connection.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        connection.close()


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def client(fake: FakeOpenAI) -> OpenAI:
    return track(OpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0))


def chat_paths(server: FakeOpenAI) -> list[str]:
    return [r.path for r in server.requests if r.path.endswith("/chat/completions")]


# ---------------------------------------------------------------------------- text answers


def test_text_answer_is_deterministic_and_shaped_like_the_api(client: OpenAI) -> None:
    first = client.chat.completions.create(model=MODEL, messages=user("Hello there"))
    second = client.chat.completions.create(model=MODEL, messages=user("Hello there"))
    assert first.choices[0].message.content == "Echo: Hello there"
    assert first.choices[0].finish_reason == "stop"
    assert first.choices[0].message.role == "assistant" and first.choices[0].message.refusal is None
    assert first.model == MODEL and first.object == "chat.completion" and first.created == 1700000000
    assert first.id.startswith("chatcmpl-") and first.id == second.id
    assert first.system_fingerprint and first.usage is not None
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    assert first.usage.completion_tokens_details.reasoning_tokens == 0
    assert first.model_dump() == second.model_dump()


def test_system_and_user_messages_answer_the_last_user_turn(client: OpenAI) -> None:
    messages = [
        {"role": "system", "content": "You are terse and answer in exactly one sentence please."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": [{"type": "text", "text": "second"}, {"type": "text", "text": "question"}]},
    ]
    answer = client.chat.completions.create(model=MODEL, messages=messages)
    alone = client.chat.completions.create(model=MODEL, messages=user("second\nquestion"))
    assert answer.choices[0].message.content == "Echo: second\nquestion"
    assert answer.usage.prompt_tokens > alone.usage.prompt_tokens  # the system prompt is counted


def test_max_tokens_trims_and_reports_length(client: OpenAI) -> None:
    text = "one two three four five six"
    trimmed = client.chat.completions.create(model=MODEL, messages=user(text), max_tokens=3)
    assert trimmed.choices[0].message.content == "Echo: one two"
    assert trimmed.choices[0].finish_reason == "length"
    assert trimmed.usage.completion_tokens <= 3
    newer = client.chat.completions.create(model=MODEL, messages=user(text), max_completion_tokens=4)
    assert newer.choices[0].message.content == "Echo: one two three"
    roomy = client.chat.completions.create(model=MODEL, messages=user(text), max_tokens=50)
    assert roomy.choices[0].finish_reason == "stop" and roomy.choices[0].message.content == f"Echo: {text}"


def test_rules_first_match_wins_and_times_expires() -> None:
    rules = [Rule(contains="weather", content="Sunny, 21C", times=2),
             Rule(model="gpt-special", content="special model answer"),
             Rule(contains="weather", content="Still sunny", finish_reason="content_filter")]
    with FakeOpenAI(rules=rules) as server:
        client = track(OpenAI(base_url=server.base_url, api_key="k", max_retries=0))
        ask = lambda text, model=MODEL: client.chat.completions.create(model=model, messages=user(text))  # noqa: E731
        assert ask("weather in Oslo?").choices[0].message.content == "Sunny, 21C"
        assert ask("and the weather tomorrow?").choices[0].message.content == "Sunny, 21C"
        third = ask("weather again?")
        assert third.choices[0].message.content == "Still sunny"
        assert third.choices[0].finish_reason == "content_filter"
        assert ask("anything", model="gpt-special").choices[0].message.content == "special model answer"
        assert ask("anything").choices[0].message.content == "Echo: anything"
        server.add_rule(Rule(contains="anything", tool_calls=[{"name": "lookup", "arguments": {"q": "x"}}]))
        scripted = ask("anything")
        assert scripted.choices[0].finish_reason == "tool_calls"
        call = scripted.choices[0].message.tool_calls[0]
        assert call.function.name == "lookup" and json.loads(call.function.arguments) == {"q": "x"}


def test_responses_map_matches_exact_last_user_text() -> None:
    with FakeOpenAI(responses={"What is 2+2?": "4"}) as server:
        client = track(OpenAI(base_url=server.base_url, api_key="k", max_retries=0))
        assert client.chat.completions.create(model=MODEL, messages=user("What is 2+2?")).choices[0].message.content == "4"
        assert client.chat.completions.create(model=MODEL, messages=user("What is 2+2")).choices[0].message.content \
            == "Echo: What is 2+2"


# ---------------------------------------------------------------------------- tools and structured output


def test_tool_call_arguments_are_valid_against_the_schema(client: OpenAI) -> None:
    answer = client.chat.completions.create(model=MODEL, messages=user("What's the weather in Paris today?"),
                                            tools=[WEATHER_TOOL, SEARCH_TOOL])
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    arguments = json.loads(call.function.arguments)
    jsonschema.validate(arguments, WEATHER_TOOL["function"]["parameters"])
    assert arguments["location"] == "Paris" and arguments["unit"] == "celsius" and arguments["days"] == 1
    assert "note" not in arguments  # only required properties


def test_forced_tool_choice_none_and_tool_results(client: OpenAI) -> None:
    forced = client.chat.completions.create(
        model=MODEL, messages=user("find the install docs"), tools=[WEATHER_TOOL, SEARCH_TOOL],
        tool_choice={"type": "function", "function": {"name": "search_docs"}})
    call = forced.choices[0].message.tool_calls[0]
    assert call.function.name == "search_docs"
    arguments = json.loads(call.function.arguments)
    jsonschema.validate(arguments, SEARCH_TOOL["function"]["parameters"])
    assert arguments == {"query": "find the install docs", "limit": 3}

    none = client.chat.completions.create(model=MODEL, messages=user("hi"), tools=[WEATHER_TOOL], tool_choice="none")
    assert none.choices[0].message.tool_calls is None and none.choices[0].message.content == "Echo: hi"

    # Once tool results are in, an "auto" model answers in text (otherwise agent loops never end).
    history = user("weather in Rome?") + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call.id, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": call.id, "content": "18C and cloudy"},
    ]
    final = client.chat.completions.create(model=MODEL, messages=history, tools=[WEATHER_TOOL])
    assert final.choices[0].finish_reason == "stop"
    assert "18C and cloudy" in final.choices[0].message.content


RECIPE_SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "servings": {"type": "integer", "minimum": 2},
        "rating": {"type": "number", "exclusiveMinimum": 0, "maximum": 5},
        "difficulty": {"type": "string", "enum": ["easy", "hard"]},
        "steps": {"type": "array", "minItems": 3, "items": {"$ref": "#/$defs/step"}},
        "source": {"anyOf": [{"type": "string", "format": "uri"}, {"type": "null"}]},
        "notes": {"type": ["string", "null"]},
    },
    "required": ["title", "servings", "rating", "difficulty", "steps", "source", "notes"],
    "additionalProperties": False,
    "$defs": {"step": {"type": "object", "properties": {"order": {"type": "integer"}, "text": {"type": "string"}},
                       "required": ["order", "text"], "additionalProperties": False}},
}


def test_json_schema_answer_validates(client: OpenAI) -> None:
    answer = client.chat.completions.create(
        model=MODEL, messages=user("Give me a pancake recipe"),
        response_format={"type": "json_schema", "json_schema": {"name": "recipe", "strict": True,
                                                                "schema": RECIPE_SCHEMA}})
    data = json.loads(answer.choices[0].message.content)
    jsonschema.validate(data, RECIPE_SCHEMA)
    assert len(data["steps"]) == 3

    obj = client.chat.completions.create(model=MODEL, messages=user("json please"),
                                         response_format={"type": "json_object"})
    assert isinstance(json.loads(obj.choices[0].message.content), dict)


def test_sdk_parse_with_a_pydantic_model(client: OpenAI) -> None:
    class City(BaseModel):
        name: str
        population: int

    class Answer(BaseModel):
        cities: list[City]
        country: str | None

    parsed = client.chat.completions.parse(model=MODEL, messages=user("Largest cities in Japan"),
                                           response_format=Answer)
    result = parsed.choices[0].message.parsed
    assert isinstance(result, Answer) and len(result.cities) == 1 and result.cities[0].population == 0


def test_image_parts_are_accepted_and_counted(client: OpenAI) -> None:
    content = [{"type": "text", "text": "What is in these pictures?"},
               {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
               {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}}]
    answer = client.chat.completions.create(model=MODEL, messages=user(content))
    assert answer.choices[0].message.content == "Echo: What is in these pictures? (2 images received)"


# ---------------------------------------------------------------------------- streaming


def test_streaming_text_reassembles_to_the_plain_answer(client: OpenAI) -> None:
    plain = client.chat.completions.create(model=MODEL, messages=user("stream me a few words"))
    chunks = list(client.chat.completions.create(model=MODEL, messages=user("stream me a few words"), stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 3
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage == plain.usage
    assert {c.id for c in chunks} == {plain.id}


def test_async_streaming_tool_calls_reassemble(fake: FakeOpenAI) -> None:
    async def run() -> tuple[Any, list[Any]]:
        client = AsyncOpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0)
        kwargs = {"model": MODEL, "messages": user("weather in Lisbon?"), "tools": [WEATHER_TOOL]}
        plain = await client.chat.completions.create(**kwargs)
        stream = await client.chat.completions.create(**kwargs, stream=True)
        chunks = [chunk async for chunk in stream]
        await client.close()
        return plain, chunks

    plain, chunks = asyncio.run(run())
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for delta in chunk.choices[0].delta.tool_calls or []:
            slot = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            slot["id"] = delta.id or slot["id"]
            slot["name"] += (delta.function.name or "") if delta.function else ""
            slot["arguments"] += (delta.function.arguments or "") if delta.function else ""
    expected = plain.choices[0].message.tool_calls[0]
    assert calls == {0: {"id": expected.id, "name": "get_weather", "arguments": expected.function.arguments}}
    assert sum(1 for c in chunks if c.choices[0].delta.tool_calls) > 2  # arguments arrive in pieces
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


# ---------------------------------------------------------------------------- errors and retries


def test_rate_limit_surfaces_as_rate_limit_error_with_retry_after() -> None:
    with FakeOpenAI(rules=[Rule(contains="busy", status=429, retry_after=2.5)]) as server:
        client = track(OpenAI(base_url=server.base_url, api_key="k", max_retries=0))
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model=MODEL, messages=user("busy?"))
        assert caught.value.status_code == 429
        assert caught.value.response.headers["retry-after"] == "3"
        assert caught.value.response.headers["retry-after-ms"] == "2500"
        assert caught.value.body["code"] == "rate_limit_exceeded"
        with pytest.raises(openai.RateLimitError):  # errors come before any SSE bytes, as with the real API
            client.chat.completions.create(model=MODEL, messages=user("busy?"), stream=True)
        server.add_rule(Rule(contains="slow", status=429))
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model=MODEL, messages=user("slow?"))
        assert caught.value.response.headers["retry-after"] == "1"  # a 429 always says when to retry


def test_sdk_retries_a_times_limited_429_then_succeeds() -> None:
    with FakeOpenAI(rules=[Rule(status=429, retry_after=0.05, times=1)]) as server:
        client = track(OpenAI(base_url=server.base_url, api_key="k", max_retries=1))
        answer = client.chat.completions.create(model=MODEL, messages=user("retry me"))
        assert answer.choices[0].message.content == "Echo: retry me"
        assert len(chat_paths(server)) == 2


def test_server_error_and_fault_every() -> None:
    with FakeOpenAI(rules=[Rule(contains="boom", status=500), Rule(contains="down", status=503)],
                    fault_every=3, fault_status=429, fault_retry_after=0.1) as server:
        client = track(OpenAI(base_url=server.base_url, api_key="k", max_retries=0))
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model=MODEL, messages=user("boom"))
        assert caught.value.status_code == 500 and caught.value.body["type"] == "server_error"
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model=MODEL, messages=user("down"))
        assert caught.value.status_code == 503
        with pytest.raises(openai.RateLimitError):  # the 3rd chat request is a fault, whatever the rules say
            client.chat.completions.create(model=MODEL, messages=user("fine"))
        for _ in range(2):
            client.chat.completions.create(model=MODEL, messages=user("fine"))
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model=MODEL, messages=user("fine"))


def test_bad_requests_and_unknown_paths(fake: FakeOpenAI, client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=MODEL, messages=[])
    with pytest.raises(openai.NotFoundError) as caught:
        client.get("/nope", cast_to=object)
    assert "Invalid URL" in caught.value.body["message"]
    assert {m.id for m in client.models.list()} >= {"gpt-4o", "gpt-4o-mini"}


# ---------------------------------------------------------------------------- auth, Azure, request log, headers


def test_openai_key_is_required_and_recorded() -> None:
    with FakeOpenAI(require_key="sk-right") as server:
        with pytest.raises(openai.AuthenticationError):
            track(OpenAI(base_url=server.base_url, api_key="sk-wrong", max_retries=0)).chat.completions.create(
                model=MODEL, messages=user("hi"))
        answer = track(OpenAI(base_url=server.base_url, api_key="sk-right", max_retries=0)).chat.completions.create(
            model=MODEL, messages=user("hi"), temperature=0)
        assert answer.choices[0].message.content == "Echo: hi"
        wrong, right = server.requests
        assert wrong.headers["authorization"] == "Bearer sk-wrong"
        assert right.method == "POST" and right.path == "/v1/chat/completions" and right.query == {}
        assert right.headers["authorization"] == "Bearer sk-right"
        assert right.json == {"model": MODEL, "messages": user("hi"), "temperature": 0}
        server.clear_requests()
        assert server.requests == []


def test_azure_deployment_path_api_key_and_api_version() -> None:
    with FakeOpenAI(require_key="az-key") as server:
        azure = track(AzureOpenAI(azure_endpoint=server.azure_endpoint, api_key="az-key", api_version="2024-10-21",
                            max_retries=0))
        answer = azure.chat.completions.create(model="my-gpt4o-deployment", messages=user("hello azure"))
        assert answer.model == "my-gpt4o-deployment"
        assert answer.choices[0].message.content == "Echo: hello azure"
        sent = server.requests[-1]
        assert sent.path == "/openai/deployments/my-gpt4o-deployment/chat/completions"
        assert sent.query == {"api-version": "2024-10-21"} and sent.headers["api-key"] == "az-key"

        with pytest.raises(openai.AuthenticationError):
            track(AzureOpenAI(azure_endpoint=server.azure_endpoint, api_key="wrong", api_version="2024-10-21",
                        max_retries=0)).chat.completions.create(model="dep", messages=user("hi"))
        body = json.dumps({"messages": user("hi")})
        status, _, _ = raw_request(server.port, "POST", "/openai/deployments/dep/chat/completions"
                                   "?api-version=2024-10-21", body)
        assert status == 401  # no api-key header at all
        status, _, data = raw_request(server.port, "POST", "/openai/deployments/dep/chat/completions", body,
                                      {"api-key": "az-key"})
        assert status == 400 and "api-version" in json.loads(data)["error"]["message"]


def test_async_azure_client_streams(fake: FakeOpenAI) -> None:
    async def run() -> str:
        from openai import AsyncAzureOpenAI

        azure = AsyncAzureOpenAI(azure_endpoint=fake.azure_endpoint, api_key="x", api_version="2024-10-21",
                                 max_retries=0)
        stream = await azure.chat.completions.create(model="dep", messages=user("hi async"), stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        await azure.close()
        return text

    assert asyncio.run(run()) == "Echo: hi async"


def test_volatile_headers_and_gzip(fake: FakeOpenAI, client: OpenAI) -> None:
    first = client.chat.completions.with_raw_response.create(model=MODEL, messages=user("hi"))
    second = client.chat.completions.with_raw_response.create(model=MODEL, messages=user("hi"))
    for raw in (first, second):
        for name in ("date", "x-request-id", "openai-processing-ms", "set-cookie", "openai-organization",
                     "x-ratelimit-remaining-requests"):
            assert name in raw.headers, name
        assert raw.headers["content-type"] == "application/json"
        assert raw.headers["content-encoding"] == "gzip"
        assert raw.headers["set-cookie"].startswith("__cf_bm=") and "HttpOnly" in raw.headers["set-cookie"]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert first.parse().model_dump() == second.parse().model_dump()

    body = json.dumps({"model": MODEL, "messages": user("hi")})
    for accept, gzipped in (("gzip, deflate", True), ("identity", False)):
        status, headers, data = raw_request(fake.port, "POST", "/v1/chat/completions", body,
                                            {"Content-Type": "application/json", "Accept-Encoding": accept})
        assert status == 200 and (headers.get("content-encoding") == "gzip") is gzipped
        assert json.loads(gzip.decompress(data) if gzipped else data)["choices"][0]["message"]["content"] == "Echo: hi"

    with FakeOpenAI(gzip=False) as plain:
        raw = track(OpenAI(base_url=plain.base_url, api_key="k")).chat.completions.with_raw_response.create(
            model=MODEL, messages=user("hi"))
        assert "content-encoding" not in raw.headers


def test_keep_alive_reuses_one_connection_also_after_a_stream(fake: FakeOpenAI) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=5)
    sockets = set()
    try:
        for text, stream in (("one", False), ("two", True), ("three", False)):
            body = json.dumps({"model": MODEL, "messages": user(text), "stream": stream})
            connection.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
            reply = connection.getresponse()
            data = reply.read()
            if stream:
                assert reply.getheader("content-type", "").startswith("text/event-stream")
                assert data.endswith(b"data: [DONE]\n\n")
            else:
                assert json.loads(data)["choices"][0]["message"]["content"] == f"Echo: {text}"
            assert connection.sock is not None  # the server did not close the connection
            sockets.add(id(connection.sock))
    finally:
        connection.close()
    assert len(sockets) == 1


# ---------------------------------------------------------------------------- Batch API


def test_batch_api_end_to_end(fake: FakeOpenAI, client: OpenAI) -> None:
    bodies = [{"model": MODEL, "messages": user(f"question {i}")} for i in range(2)]
    bodies.append({"model": MODEL, "messages": user("weather in Berlin?"), "tools": [WEATHER_TOOL]})
    lines = [{"custom_id": f"req-{i}", "method": "POST", "url": "/v1/chat/completions", "body": b}
             for i, b in enumerate(bodies)]
    upload = client.files.create(file=("batch.jsonl", "\n".join(json.dumps(x) for x in lines).encode()),
                                 purpose="batch")
    assert upload.purpose == "batch" and upload.filename == "batch.jsonl" and upload.status == "processed"
    assert client.files.retrieve(upload.id).bytes == upload.bytes

    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                  completion_window="24h", metadata={"suite": "smoke"})
    assert batch.status == "validating"
    seen = [batch.status]
    while batch.status not in ("completed", "failed", "cancelled"):
        batch = client.batches.retrieve(batch.id)
        seen.append(batch.status)
    assert seen == ["validating", "in_progress", "completed"]
    assert batch.request_counts is not None and batch.request_counts.total == 3
    assert batch.request_counts.completed == 3 and batch.request_counts.failed == 0
    assert batch.output_file_id and batch.error_file_id is None

    results = [json.loads(line) for line in client.files.content(batch.output_file_id).text.splitlines()]
    assert [r["custom_id"] for r in results] == ["req-0", "req-1", "req-2"]
    for result, body in zip(results, bodies, strict=True):
        assert result["error"] is None and result["response"]["status_code"] == 200
        direct = client.chat.completions.with_raw_response.create(**body)
        assert result["response"]["body"] == json.loads(direct.text)

    other = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert client.batches.cancel(other.id).status == "cancelling"
    assert client.batches.retrieve(other.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        client.batches.create(input_file_id="file-missing", endpoint="/v1/chat/completions", completion_window="24h")


def test_batch_with_invalid_lines_fails_validation(client: OpenAI) -> None:
    upload = client.files.create(file=("bad.jsonl", b"not json\r\n"), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h")
    failed = client.batches.retrieve(batch.id)
    assert failed.status == "failed" and failed.errors is not None
    assert failed.errors.data[0].line == 1


# ---------------------------------------------------------------------------- concurrency and CLI


def test_64_concurrent_requests_overlap_their_latency() -> None:
    with FakeOpenAI(latency=0.2) as server:
        async def run() -> list[str]:
            client = AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0)
            answers = await asyncio.gather(*[
                client.chat.completions.create(model=MODEL, messages=user(f"q{i}")) for i in range(64)])
            await client.close()
            return [a.choices[0].message.content or "" for a in answers]

        started = time.perf_counter()
        contents = asyncio.run(run())
        elapsed = time.perf_counter() - started
    assert contents == [f"Echo: q{i}" for i in range(64)]
    assert elapsed < 64 * 0.2 / 2, elapsed  # overlapped: far under the 12.8 s of one at a time


def test_stop_really_stops() -> None:
    server = FakeOpenAI().start()
    client = track(OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=2))
    client.chat.completions.create(model=MODEL, messages=user("hi"))  # leaves a keep-alive connection open
    server.stop()
    server.stop()  # idempotent
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model=MODEL, messages=user("hi"))


def test_cli_serves_rules_and_responses_until_terminated(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("- contains: ping\n  content: pong\n- contains: overload\n  status: 503\n")
    responses = tmp_path / "responses.jsonl"
    responses.write_text(json.dumps({"prompt": "capital of France?", "response": "Paris"}) + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.testing.fake_openai", "--port", "0", "--rules", str(rules),
         "--responses", str(responses), "--latency", "0.01"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1"), base_url
        client = track(OpenAI(base_url=base_url, api_key="k", max_retries=0))
        assert client.chat.completions.create(model=MODEL, messages=user("ping")).choices[0].message.content == "pong"
        assert client.chat.completions.create(
            model=MODEL, messages=user("capital of France?")).choices[0].message.content == "Paris"
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model=MODEL, messages=user("overload"))
    finally:
        process.terminate()
        try:
            _, stderr = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
    assert process.returncode == 0, stderr


def test_cli_rejects_bad_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("- contain: typo\n  content: x\n")
    assert main(["--port", "0", "--rules", str(rules)]) == 2
    assert "unknown rule key" in capsys.readouterr().err


@pytest.mark.parametrize("schema", [
    {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    {"type": "integer", "exclusiveMinimum": 0, "maximum": 10, "multipleOf": 3},
    {"type": "integer", "maximum": -3},
    {"type": "array", "items": {"type": "integer", "minimum": 3}, "uniqueItems": True, "minItems": 3},
    {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string", "format": "date"}], "minItems": 2},
    {"allOf": [{"type": "object", "properties": {"a": {"type": "boolean"}}, "required": ["a"]},
               {"properties": {"b": {"type": "string", "minLength": 20, "maxLength": 25}}, "required": ["b"]}]},
    {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#"}}}, "required": ["kids"]},
    {"oneOf": [{"type": "null"}, {"type": "string", "format": "email"}]},
    {"type": "object", "minProperties": 1, "properties": {"x": {"const": "fixed"}}},
])
def test_schema_synthesis_is_valid(schema: dict[str, Any]) -> None:
    from harness.testing.fake_answers import synthesize

    instance = synthesize(schema, context="Ship it to Marseille")
    jsonschema.validate(instance, schema)
    assert synthesize(schema, context="Ship it to Marseille") == instance  # deterministic
