"""Response -> Output: the answer as checks see it, whichever wire API and form it came in.

The values every wire API parses into (Output, ToolCall, Usage) and what is the same for all of
them (an HTTP error, a body that is not JSON, a malformed answer) live here; each API's own
reading of its JSON body and of its event stream lives in apis/. Parsing is done from the raw body,
not through the SDK's objects: replay then needs no client, no socket and no pydantic models, and
a streamed answer is assembled once, in one place, into the same shape as a non-streamed one.

Parsing never raises: an answer that is cut short (no choices; a stream without its last event) or
has the wrong shape becomes ``Output.error``, so it is an error for its case, is never recorded, and
is an error again when an old cassette holding one is replayed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol


class BadAnswer(ValueError):
    """The answer is incomplete or does not have the shape of a chat completion."""


def count(data: dict[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    try:
        return int(value or 0)
    except (TypeError, ValueError, OverflowError):
        raise BadAnswer(f"the server's answer was malformed: {where}.{key} is {value!r:.40}, "
                        "not a token count") from None


def mapping(value: Any) -> dict[str, Any]:
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
        details = mapping(data.get("prompt_tokens_details"))
        cdetails = mapping(data.get("completion_tokens_details"))
        prompt = count(data, "prompt_tokens", "usage")
        completion = count(data, "completion_tokens", "usage")
        return cls(prompt, completion, count(data, "total_tokens", "usage") or prompt + completion,
                   count(details, "cached_tokens", "usage.prompt_tokens_details"),
                   count(cdetails, "reasoning_tokens", "usage.completion_tokens_details"))


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
    return f"HTTP {status}: {server_message(text)}"


def server_message(text: str, limit: int = 300) -> str:
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


def incomplete(why: str) -> BadAnswer:
    return BadAnswer(f"the server's answer was incomplete: {why}")


class AnswerParser(Protocol):
    """How one wire API's answer becomes an Output (apis/): a JSON body, or an event stream.

    Either may raise BadAnswer (or fail on a shape the API never sends); ``parse_response`` turns
    that into ``Output.error``.
    Each call returns a new Output, which ``parse_response`` completes in place.
    """

    def from_json(self, data: dict[str, Any]) -> Output: ...

    def from_sse(self, text: str) -> Output: ...


def parse_response(status: int, headers: dict[str, str], text: str, *, parser: AnswerParser,
                   latency_ms: float | None = None, ttft_ms: float | None = None) -> Output:
    """Turn a recorded or live HTTP answer into an Output; HTTP errors become Output.error.

    What an HTTP error, a body that is not JSON, and a malformed answer become is the same for
    every wire API; ``parser`` (the answer's API) reads the body itself.
    """
    if status >= 400:
        return Output(content=None, status=status, error=_error_message(status, text),
                      latency_ms=latency_ms)
    try:
        if "text/event-stream" in str(headers.get("content-type", "")):
            out = parser.from_sse(text)
        else:
            try:
                data = json.loads(text)
            except ValueError:
                return Output(content=None, status=status, error=f"response is not JSON: {text[:120]!r}")
            if not isinstance(data, dict):
                return Output(content=None, status=status, error="response JSON is not an object")
            out = parser.from_json(data)
    except BadAnswer as exc:
        return Output(content=None, status=status, error=str(exc), latency_ms=latency_ms)
    except (AttributeError, TypeError, ValueError) as exc:  # any other shape the API never sends
        return Output(content=None, status=status, latency_ms=latency_ms,
                      error=f"the server's answer was malformed: {type(exc).__name__}: {exc}")
    return _stamped(out, status, latency_ms, ttft_ms)


def _stamped(out: Output, status: int, latency_ms: float | None, ttft_ms: float | None) -> Output:
    """The parser's fresh Output with the HTTP status and timing filled in.

    Set in place rather than with ``dataclasses.replace``, which rebuilds all of Output's fields
    (a few microseconds on every answer of a replay): the parser built ``out`` a moment ago and
    nothing else holds it yet, so no one can see it change.
    """
    object.__setattr__(out, "status", status)
    object.__setattr__(out, "latency_ms", latency_ms)
    object.__setattr__(out, "ttft_ms", ttft_ms)
    return out
