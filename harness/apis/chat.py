"""Chat Completions (``POST /chat/completions``): the wire API suites are written in.

The suite's body is sent as it is, so its translation is the identity plus two chat-only details
(``stream_options`` so a streamed answer reports usage; llama.cpp's json_object form of structured
output). Everything here was how harness spoke before there were two APIs; chat cassettes and
outputs are byte for byte what they were.
"""

from __future__ import annotations

import json
from typing import Any

from ..endpoint import Endpoint
from ..output import BadAnswer, Output, ToolCall, Usage, incomplete, server_message
from .base import Query, Translation, WireOptions, readable_image, readable_text, sdk_post


def _as_json_object(body: dict[str, Any]) -> dict[str, Any]:
    """llama.cpp rejects response_format json_schema but enforces {type: json_object, schema}."""
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema", {})
        body = {**body, "response_format": {"type": "json_object", "schema": schema}}
    return body


def _readable_content(content: Any) -> Any:
    if isinstance(content, str):
        return readable_text(content)
    if isinstance(content, list):
        out: list[Any] = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                out.append(readable_text(str(part.get("text", ""))))
            elif isinstance(part, dict) and part.get("type") == "image_url":
                out.append(readable_image(str(part.get("image_url", {}).get("url", ""))))
            else:
                out.append(part)
        return out
    return content


class ChatApi:
    """The Chat Completions API (OpenAI, Azure deployments, any OpenAI-compatible server)."""

    name = "chat"
    first_token: tuple[bytes, ...] = ()  # every chat chunk is a delta of the answer
    batch_url = "/v1/chat/completions"

    def owns(self, path: str) -> bool:
        return not path.endswith("/responses")

    def route(self, endpoint: Endpoint) -> tuple[str, Query]:
        if endpoint.azure:
            return f"/deployments/{endpoint.deployment}/chat/completions", (("api-version", str(endpoint.api_version)),)
        return "/chat/completions", ()

    def translate(self, body: dict[str, Any], extra: dict[str, Any], options: WireOptions) -> Translation:
        """The suite's body as it is: chat always sends the whole conversation (it keeps no state
        on the server), so ``options.chained`` does not apply."""
        body = dict(body)
        if body.get("stream") and "stream_options" not in body and "stream_options" not in extra:
            # Without it a streamed answer carries no usage, and cost/tokens checks would be blind.
            body["stream_options"] = {"include_usage": True}
        body.update(extra)
        if options.json_schema_mode == "json_object":
            body = _as_json_object(body)
        path, query = self.route(options.endpoint)
        return Translation(path, query, body)

    def send(self, client: Any, wire: dict[str, Any]) -> None:
        sdk_post(client, "/chat/completions", wire)

    def prompt(self, body: Any) -> list[Any]:
        messages = body.get("messages", []) if isinstance(body, dict) else []
        out: list[Any] = []
        for msg in messages or []:
            if not isinstance(msg, dict):
                continue
            content = _readable_content(msg.get("content"))
            if content is None and isinstance(msg.get("tool_calls"), list):  # an earlier step's calls
                content = {"tool_calls": [_readable_call(c) for c in msg["tool_calls"]]}
            out.append({str(msg.get("role")): content})
        return out

    def failure_hint(self, body: dict[str, Any], status: int, text: str) -> str:
        fmt = body.get("response_format")
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and 400 <= status < 600 \
                and "json_schema" in text:
            return (" (this server rejects response_format json_schema; llama.cpp-style "
                    "servers take provider option json_schema_mode: json_object)")
        return ""

    def from_json(self, data: dict[str, Any]) -> Output:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            error = data.get("error")
            said = f" (it says: {server_message(json.dumps(data))})" if error else ""
            raise incomplete(f"no choices{said}")
        choice = choices[0]
        if not isinstance(choice, dict):
            raise BadAnswer("the server's answer was malformed: choices[0] is not an object")
        message = choice.get("message") or {}
        if not isinstance(message, dict):
            raise BadAnswer("the server's answer was malformed: choices[0].message is not an object")
        if not isinstance(message.get("content"), (str, type(None))):
            raise BadAnswer("the server's answer was malformed: choices[0].message.content is not text")
        calls = tuple(
            ToolCall(name=str((c.get("function") or {}).get("name", "")),
                     raw_arguments=str((c.get("function") or {}).get("arguments") or ""),
                     id=str(c.get("id", "")))
            for c in message.get("tool_calls") or [])
        return Output(content=message.get("content"), tool_calls=calls,
                      finish_reason=choice.get("finish_reason"), usage=Usage.from_json(data.get("usage")),
                      model=data.get("model"),
                      extra={"refusal": message["refusal"]} if message.get("refusal") else {})

    def from_sse(self, text: str) -> Output:
        content: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        finish = model = None
        usage = None
        saw_content = False
        seen = 0
        done = False
        for line in text.splitlines():
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            done = done or payload == "[DONE]"
            if not payload or payload == "[DONE]":
                continue
            try:
                chunk = json.loads(payload)
            except ValueError:
                continue
            if not isinstance(chunk, dict):
                raise BadAnswer("the server's answer was malformed: an event is not a JSON object")
            if chunk.get("error"):
                raise BadAnswer(f"the server sent an error in the event stream: {server_message(payload)}")
            seen += 1
            model = chunk.get("model") or model
            if chunk.get("usage"):
                usage = Usage.from_json(chunk["usage"])
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                if delta.get("content") is not None:
                    saw_content = True
                    content.append(delta["content"])
                for tc in delta.get("tool_calls") or []:
                    slot = calls.setdefault(int(tc.get("index", 0)), {"id": "", "name": "", "args": []})
                    slot["id"] = tc.get("id") or slot["id"]
                    fn = tc.get("function") or {}
                    slot["name"] += fn.get("name") or ""
                    slot["args"].append(fn.get("arguments") or "")
                finish = choice.get("finish_reason") or finish
        if not seen:
            return Output(content=None, error="the server sent an empty event stream (no data chunks)",
                          streamed=True)
        if finish is None and not done:
            raise incomplete("the event stream ended before its last event (no finish_reason, "
                             "no data: [DONE])")
        tool_calls = tuple(ToolCall(name=c["name"], raw_arguments="".join(c["args"]), id=c["id"])
                           for _, c in sorted(calls.items()))
        return Output(content="".join(content) if saw_content else None, tool_calls=tool_calls,
                      finish_reason=finish, usage=usage, model=model, streamed=True)


CHAT = ChatApi()


def _readable_call(call: Any) -> Any:
    """``{name: arguments}`` of a tool call in a request's history, as the answer's calls read."""
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict):
        return call
    arguments = function.get("arguments")
    try:
        arguments = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        pass
    return {str(function.get("name")): arguments}
