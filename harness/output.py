"""Response -> Output: the answer as checks see it, whether it came as JSON or as a stream.

Parsing is done here from the raw body, not through the SDK's objects: replay then needs no client,
no socket and no pydantic models, and a streamed answer is assembled once, in one place, into the
same shape as a non-streamed one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @classmethod
    def from_json(cls, data: Any) -> "Usage | None":
        if not isinstance(data, dict):
            return None
        details = data.get("prompt_tokens_details") or {}
        cdetails = data.get("completion_tokens_details") or {}
        prompt = int(data.get("prompt_tokens") or 0)
        completion = int(data.get("completion_tokens") or 0)
        return cls(prompt, completion, int(data.get("total_tokens") or prompt + completion),
                   int(details.get("cached_tokens") or 0), int(cdetails.get("reasoning_tokens") or 0))


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


def _error_message(status: int, text: str, limit: int = 300) -> str:
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
    return f"HTTP {status}: {message}"


def _from_json(data: dict[str, Any]) -> Output:
    choices = data.get("choices") or []
    choice = choices[0] if choices else {}
    message = choice.get("message") or {}
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
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if not payload or payload == "[DONE]":
            continue
        try:
            chunk = json.loads(payload)
        except ValueError:
            continue
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
    if "text/event-stream" in headers.get("content-type", ""):
        out = _from_sse(text)
    else:
        try:
            data = json.loads(text)
        except ValueError:
            return Output(content=None, status=status, error=f"response is not JSON: {text[:120]!r}")
        if not isinstance(data, dict):
            return Output(content=None, status=status, error="response JSON is not an object")
        out = _from_json(data)
    return Output(content=out.content, tool_calls=out.tool_calls, finish_reason=out.finish_reason,
                  usage=out.usage, model=out.model, status=status, latency_ms=latency_ms,
                  ttft_ms=ttft_ms, streamed=out.streamed, extra=out.extra, error=out.error)
