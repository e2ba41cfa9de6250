"""A Responses API answer (JSON, or its named-event stream) as the same Output chat gives.

So every check works unchanged: the text is all ``output_text`` parts of the message items, tool
calls are the ``function_call`` items (``ToolCall.id`` is the ``call_id`` a tool result answers),
usage is renamed (input -> prompt, output -> completion; reasoning tokens are part of the output
tokens, as they are billed), and the status becomes a chat finish reason: ``completed`` is
``stop`` (``tool_calls`` when the model called a function), ``incomplete`` for lack of output
tokens is ``length``, for the content filter ``content_filter``. The raw status (and an incomplete
answer's reason) stay in ``Output.extra``.

A stream is assembled from its last event, which carries the whole response (``response.completed``,
or ``response.incomplete``): the deltas before it only say the same thing in pieces. A stream that
ends without it, or says ``error`` / ``response.failed``, is an error, as for chat.
"""

from __future__ import annotations

import json
from typing import Any

from ..output import BadAnswer, Output, ToolCall, Usage, count, incomplete, mapping, server_message

_FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}
_FINAL_EVENTS = ("response.completed", "response.incomplete")


def usage_of(data: Any) -> Usage | None:
    if not isinstance(data, dict):
        return None
    prompt = count(data, "input_tokens", "usage")
    completion = count(data, "output_tokens", "usage")
    return Usage(prompt, completion, count(data, "total_tokens", "usage") or prompt + completion,
                 count(mapping(data.get("input_tokens_details")), "cached_tokens", "usage.input_tokens_details"),
                 count(mapping(data.get("output_tokens_details")), "reasoning_tokens",
                       "usage.output_tokens_details"))


def _failure(data: dict[str, Any]) -> str:
    error = mapping(data.get("error"))
    return str(error.get("message") or error.get("code") or "no reason given")


def from_json(data: dict[str, Any]) -> Output:
    output = data.get("output")
    status = data.get("status")
    if status == "failed":
        raise BadAnswer(f"the response failed: {_failure(data)}")
    if not isinstance(output, list):
        said = f" (it says: {server_message(json.dumps(data))})" if data.get("error") else ""
        raise incomplete(f"no output{said}")
    if status in ("queued", "in_progress"):
        raise incomplete(f"the response is still {status}")
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[ToolCall] = []
    saw_text = False
    for item in output:
        if not isinstance(item, dict):
            raise BadAnswer("the server's answer was malformed: an output item is not an object")
        if item.get("type") == "message":
            for part in item.get("content") or []:
                if not isinstance(part, dict):
                    raise BadAnswer("the server's answer was malformed: a content part is not an object")
                if part.get("type") == "output_text":
                    if not isinstance(part.get("text"), str):
                        raise BadAnswer("the server's answer was malformed: an output_text is not text")
                    saw_text = True
                    texts.append(part["text"])
                elif part.get("type") == "refusal":
                    refusals.append(str(part.get("refusal", "")))
        elif item.get("type") == "function_call":
            calls.append(ToolCall(name=str(item.get("name", "")), raw_arguments=str(item.get("arguments") or ""),
                                  id=str(item.get("call_id", ""))))
    extra: dict[str, Any] = {"status": status}
    if refusals:
        extra["refusal"] = "".join(refusals)
    if status == "incomplete":
        reason = mapping(data.get("incomplete_details")).get("reason")
        extra["incomplete_reason"] = reason
        finish = _FINISH.get(str(reason), str(reason or "incomplete"))
    else:
        finish = "tool_calls" if calls else "stop"
    return Output(content="".join(texts) if saw_text else None, tool_calls=tuple(calls), finish_reason=finish,
                  usage=usage_of(data.get("usage")), model=data.get("model"), extra=extra,
                  response_id=str(data["id"]) if data.get("id") else None)


def from_sse(text: str) -> Output:
    seen = 0
    final: dict[str, Any] | None = None
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue  # ``event:`` lines repeat the type each data payload carries
        payload = line[5:].strip()
        if not payload or payload == "[DONE]":
            continue
        try:
            event = json.loads(payload)
        except ValueError:
            continue
        if not isinstance(event, dict):
            raise BadAnswer("the server's answer was malformed: an event is not a JSON object")
        seen += 1
        kind = event.get("type")
        if kind == "error" or (kind is None and event.get("error")):
            said = event.get("message") if isinstance(event.get("message"), str) else server_message(payload)
            raise BadAnswer(f"the server sent an error in the event stream: {said}")
        if kind == "response.failed":
            raise BadAnswer(f"the response failed: {_failure(mapping(event.get('response')))}")
        if kind in _FINAL_EVENTS:
            final = mapping(event.get("response"))
    if not seen:
        return Output(content=None, error="the server sent an empty event stream (no events)", streamed=True)
    if final is None:
        raise incomplete("the event stream ended before its last event (no response.completed)")
    out = from_json(final)
    return Output(content=out.content, tool_calls=out.tool_calls, finish_reason=out.finish_reason,
                  usage=out.usage, model=out.model, streamed=True, extra=out.extra, response_id=out.response_id)
