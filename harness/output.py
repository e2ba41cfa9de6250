"""Response -> Output: the answer as checks see it, whether it came as JSON or as a stream.

Parsing is done here from the raw body, not through the SDK's objects: replay then needs no client,
no socket and no pydantic models, and a streamed answer is assembled once, in one place, into the
same shape as a non-streamed one.

Parsing never raises: an answer that is cut short (no choices; a stream without its last event) or
has the wrong shape becomes ``Output.error``, so it is an error for its case, is never recorded, and
is an error again when an old cassette holding one is replayed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


class BadAnswer(ValueError):
    """The answer is incomplete or does not have the shape of a chat completion."""


def _count(data: dict[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    try:
        return int(value or 0)
    except (TypeError, ValueError, OverflowError):
        raise BadAnswer(f"the server's answer was malformed: {where}.{key} is {value!r:.40}, "
                        "not a token count") from None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @classmethod
    def from_json(cls, data: Any) -> Usage | None:
        if not isinstance(data, dict):
            return None
        details = _mapping(data.get("prompt_tokens_details"))
        cdetails = _mapping(data.get("completion_tokens_details"))
        prompt = _count(data, "prompt_tokens", "usage")
        completion = _count(data, "completion_tokens", "usage")
        return cls(prompt, completion, _count(data, "total_tokens", "usage") or prompt + completion,
                   _count(details, "cached_tokens", "usage.prompt_tokens_details"),
                   _count(cdetails, "reasoning_tokens", "usage.completion_tokens_details"))


@dataclass(frozen=True)
class ToolCall:
    name: str
    raw_arguments: str
    id: str = ""

    @cached_property
    def parsed(self) -> tuple[Any, str | None]:
        try:
            return json.loads(self.raw_arguments or "{}"), None
        except ValueError as exc:
            return None, f"arguments are not valid JSON: {exc}"

    @property
    def arguments(self) -> Any:
        return self.parsed[0]


@dataclass(frozen=True)
class Output:
    """What came back: text, tool calls, usage, finish reason, timing, or an error."""

    content: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None
    status: int = 200
    error: str | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    streamed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    #: The server's id for this answer (the Responses API chains turns with it); not part of
    #: what a check or a diff compares.
    response_id: str | None = None

    @property
    def text(self) -> str:
        return self.content or ""

    @cached_property
    def json(self) -> tuple[Any, str | None]:
        """The content parsed as JSON: (value, None) or (None, why not)."""
        try:
            return json.loads(self.text), None
        except ValueError as exc:
            return None, f"content is not valid JSON: {exc}"


def _error_message(status: int, text: str) -> str:
    return f"HTTP {status}: {_server_message(text)}"


def _server_message(text: str, limit: int = 300) -> str:
    """One line, trimmed: some servers put a whole traceback in their error body."""
    try:
        data = json.loads(text)
        err = data.get("error") or data.get("detail") or {}
        message = err.get("message") if isinstance(err, dict) else str(err)
    except (ValueError, AttributeError):
        message = text
    message = " ".join(str(message or "").split())
    if len(message) > limit:
        message = message[: limit - 1] + "…"
    return message


def _incomplete(why: str) -> BadAnswer:
    return BadAnswer(f"the server's answer was incomplete: {why}")


def _from_json(data: dict[str, Any]) -> Output:
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        error = data.get("error")
        said = f" (it says: {_server_message(json.dumps(data))})" if error else ""
        raise _incomplete(f"no choices{said}")
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


def _from_sse(text: str) -> Output:
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
            raise BadAnswer(f"the server sent an error in the event stream: {_server_message(payload)}")
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
        raise _incomplete("the event stream ended before its last event (no finish_reason, "
                          "no data: [DONE])")
    tool_calls = tuple(ToolCall(name=c["name"], raw_arguments="".join(c["args"]), id=c["id"])
                       for _, c in sorted(calls.items()))
    return Output(content="".join(content) if saw_content else None, tool_calls=tool_calls,
                  finish_reason=finish, usage=usage, model=model, streamed=True)


def parse_response(status: int, headers: dict[str, str], text: str, *,
                   latency_ms: float | None = None, ttft_ms: float | None = None) -> Output:
    """Turn a recorded or live HTTP answer into an Output; HTTP errors become Output.error."""
    if status >= 400:
        return Output(content=None, status=status, error=_error_message(status, text),
                      latency_ms=latency_ms)
    try:
        if "text/event-stream" in str(headers.get("content-type", "")):
            out = _from_sse(text)
        else:
            try:
                data = json.loads(text)
            except ValueError:
                return Output(content=None, status=status, error=f"response is not JSON: {text[:120]!r}")
            if not isinstance(data, dict):
                return Output(content=None, status=status, error="response JSON is not an object")
            out = _from_json(data)
    except BadAnswer as exc:
        return Output(content=None, status=status, error=str(exc), latency_ms=latency_ms)
    except (AttributeError, TypeError, ValueError) as exc:  # any other shape a chat answer never has
        return Output(content=None, status=status, latency_ms=latency_ms,
                      error=f"the server's answer was malformed: {type(exc).__name__}: {exc}")
    return Output(content=out.content, tool_calls=out.tool_calls, finish_reason=out.finish_reason,
                  usage=out.usage, model=out.model, status=status, latency_ms=latency_ms,
                  ttft_ms=ttft_ms, streamed=out.streamed, extra=out.extra, error=out.error)
