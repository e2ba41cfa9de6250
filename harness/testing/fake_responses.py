"""The Responses API on the fake server (``POST /v1/responses`` and Azure's ``/openai/responses``).

A Responses request is translated here into the chat body it means, so the chat answer logic
(:meth:`FakeOpenAI.answer`: rules, canned responses, schema-driven answers) decides what the model
says for both APIs, and every Rule applies to both. The chat answer is then shaped like a Response:
output items, a status, usage with reasoning tokens for reasoning models, and the named event stream
(``response.created`` ... ``response.completed``, each with its ``sequence_number``).

Like the real API it keeps the responses it made (unless ``store: false``): a request with
``previous_response_id`` continues from that response's context (its input and its answer, but not
its ``instructions``), and reports that context as cached input tokens. An unknown id is a 400.
Response and item ids are random and ``created_at`` is the clock, as on the real API, so harness has
to treat them as volatile; call ids stay derived from the request, as the chat side's are.
Standard library only; no I/O.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from harness.testing.fake_answers import Answer, error_body, prompt_tokens

#: What a chat completion's finish_reason makes of a Response: (status, incomplete reason).
_STATUS = {"length": ("incomplete", "max_output_tokens"), "content_filter": ("incomplete", "content_filter")}
#: Reasoning tokens a reasoning model spends per effort (deterministic, so recordings are stable).
REASONING_TOKENS = {"none": 0, "minimal": 0, "low": 16, "medium": 64, "high": 256, "xhigh": 512}
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")

#: ``complete(chat_body, model) -> (answer, chat.completion or None)``: the server's chat answer logic.
Complete = Callable[[dict[str, Any], str], tuple[Answer, "dict[str, Any] | None"]]


def is_reasoning_model(model: str) -> bool:
    return bool(_REASONING_MODEL.match(model))


def validate(body: Any) -> dict[str, Any] | None:
    """The 400 body the real API would send for a malformed Responses request, or None."""
    if not isinstance(body, dict):
        return error_body(400, "We could not parse the JSON body of your request.")
    if not isinstance(body.get("model"), str):
        return error_body(400, "Missing required parameter: 'model'.", "missing_required_parameter")
    given = body.get("input")
    if not isinstance(given, str) and not (isinstance(given, list) and all(isinstance(i, dict) for i in given)):
        return error_body(400, "Invalid 'input': expected a string or a list of input items.", "invalid_value")
    for key in ("messages", "max_tokens", "response_format", "stream_options"):
        if key == "stream_options" and not body.get("stream"):
            continue
        if key in body:
            return error_body(400, f"Unsupported parameter: '{key}'. In the Responses API this parameter is "
                                   "named differently.", "unsupported_parameter")
    return None


def not_found(response_id: str) -> dict[str, Any]:
    body = error_body(400, f"Previous response with id '{response_id}' not found.", "previous_response_not_found")
    body["error"]["param"] = "previous_response_id"
    return body


# ------------------------------------------------------------------ request -> chat body

def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(str(p.get("text", "")) for p in content or [] if isinstance(p, dict)
                     and p.get("type") in ("input_text", "output_text"))


def _chat_content(content: Any) -> Any:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for part in content or []:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text"):
            parts.append({"type": "text", "text": part.get("text", "")})
        elif kind == "input_image":
            parts.append({"type": "image_url", "image_url": {"url": part.get("image_url"),
                                                             "detail": part.get("detail", "auto")}})
    return parts


def input_messages(given: Any) -> list[dict[str, Any]]:
    """Responses input (a string or items) as chat messages."""
    if isinstance(given, str):
        return [{"role": "user", "content": given}]
    messages: list[dict[str, Any]] = []
    for item in given:
        kind = item.get("type", "message")
        if kind == "message":
            role = "system" if item.get("role") == "developer" else str(item.get("role"))
            content = _text(item["content"]) if role == "assistant" else _chat_content(item.get("content"))
            messages.append({"role": role, "content": content})
        elif kind == "function_call":
            call = {"id": item.get("call_id"), "type": "function",
                    "function": {"name": item.get("name"), "arguments": item.get("arguments", "")}}
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            elif last is not None and last["role"] == "assistant":
                last["tool_calls"] = [call]
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            messages.append({"role": "tool", "tool_call_id": item.get("call_id"),
                             "content": output if isinstance(output, str) else _text(output)})
    return messages


def chat_body(body: Mapping[str, Any], conversation: list[dict[str, Any]]) -> dict[str, Any]:
    """The chat body a Responses request means: its instructions, then ``conversation`` (a stored
    response's context and the request's own input, as chat messages)."""
    messages = [{"role": "system", "content": body["instructions"]}] if body.get("instructions") else []
    messages += conversation
    chat: dict[str, Any] = {"model": body["model"], "messages": messages}
    if body.get("tools"):
        chat["tools"] = [{"type": "function", "function": {k: t[k] for k in ("name", "description", "parameters",
                                                                             "strict") if k in t}}
                         for t in body["tools"] if isinstance(t, dict) and t.get("type") == "function"]
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "function":
        chat["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif choice is not None:
        chat["tool_choice"] = choice
    fmt = (body.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        chat["response_format"] = {"type": "json_schema", "json_schema": {
            k: fmt[k] for k in ("name", "schema", "strict") if k in fmt}}
    elif fmt.get("type") == "json_object":
        chat["response_format"] = {"type": "json_object"}
    if isinstance(body.get("max_output_tokens"), int):
        chat["max_completion_tokens"] = body["max_output_tokens"]
    for key in ("temperature", "top_p", "parallel_tool_calls"):
        if key in body:
            chat[key] = body[key]
    return chat


# ------------------------------------------------------------------ chat completion -> Response

def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}{uuid.uuid4().hex[:16]}"


def _output_items(message: Mapping[str, Any], status: str, reasoning: bool) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if reasoning:
        items.append({"id": _new_id("rs"), "type": "reasoning", "summary": []})
    if message.get("content") is not None:
        items.append({"id": _new_id("msg"), "type": "message", "role": "assistant", "status": status,
                      "content": [{"type": "output_text", "text": message["content"], "annotations": [],
                                   "logprobs": []}]})
    for call in message.get("tool_calls") or []:
        items.append({"id": _new_id("fc"), "type": "function_call", "status": "completed",
                      "call_id": call["id"], "name": call["function"]["name"],
                      "arguments": call["function"]["arguments"]})
    return items


def build_response(body: Mapping[str, Any], completion: Mapping[str, Any], *, model: str,
                   cached_tokens: int = 0) -> dict[str, Any]:
    """A ``response`` object for ``body`` whose answer is the chat ``completion``."""
    choice = completion["choices"][0]
    status, reason = _STATUS.get(str(choice["finish_reason"]), ("completed", None))
    usage = completion["usage"]
    reasoning = is_reasoning_model(model)
    effort = str((body.get("reasoning") or {}).get("effort") or "medium")
    spent = REASONING_TOKENS.get(effort, 64) if reasoning else 0
    limit = body.get("max_output_tokens")
    if isinstance(limit, int):
        spent = min(spent, max(limit - usage["completion_tokens"], 0))
    output_tokens = usage["completion_tokens"] + spent
    text = dict(body.get("text") or {})
    text.setdefault("format", {"type": "text"})
    return {
        "id": _new_id("resp"), "object": "response", "created_at": int(time.time()), "status": status,
        "background": False, "error": None,
        "incomplete_details": {"reason": reason} if reason else None,
        "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
        "model": model, "output": _output_items(choice["message"], status, reasoning),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": effort if reasoning else None, "summary": None},
        "service_tier": "default", "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0), "text": text,
        "tool_choice": body.get("tool_choice", "auto"), "tools": list(body.get("tools") or []),
        "top_p": body.get("top_p", 1.0), "truncation": "disabled",
        "usage": {"input_tokens": usage["prompt_tokens"],
                  "input_tokens_details": {"cached_tokens": min(cached_tokens, usage["prompt_tokens"]),
                                           "cache_write_tokens": 0},
                  "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": spent},
                  "total_tokens": usage["prompt_tokens"] + output_tokens},
        "user": None, "metadata": body.get("metadata") or {},
    }


def context_tokens(context: list[dict[str, Any]]) -> int:
    """The stored context's size, reported as cached input (the real API caches a long prefix)."""
    return prompt_tokens({"messages": context}) if context else 0


def respond(body: Mapping[str, Any], context: list[dict[str, Any]], complete: Complete,
            model: str) -> tuple[Answer, dict[str, Any] | None, list[dict[str, Any]]]:
    """The answer, the Response (None for an error answer) and the context the response hands on
    to a request chained to it: ``context``, this input and this answer, but not the instructions."""
    conversation = context + input_messages(body["input"])
    answer, completion = complete(chat_body(body, conversation), model)
    if completion is None:
        return answer, None, []
    response = build_response(body, completion, model=model, cached_tokens=context_tokens(context))
    message = completion["choices"][0]["message"]
    said: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
    if message.get("tool_calls"):
        said["tool_calls"] = message["tool_calls"]
    return answer, response, [*conversation, said]


class ResponseStore:
    """The responses the server made and kept, by id: what a chained request continues from."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[str, list[dict[str, Any]]] = {}

    def respond(self, body: Any, complete: Complete) -> tuple[int, dict[str, Any], Answer | None]:
        """(status, the response or the error body, the answer chosen; None when the request
        itself was refused). A response is kept unless the request says ``store: false``."""
        problem = validate(body)
        if problem:
            return 400, problem, None
        previous = body.get("previous_response_id")
        with self._lock:
            context = self._kept.get(previous) if previous else []
        if context is None:
            return 400, not_found(str(previous)), None
        answer, response, hand_on = respond(body, list(context), complete, str(body["model"]))
        if response is None:
            status = int(answer.status or 500)
            return status, error_body(status), answer
        if body.get("store", True):
            with self._lock:
                self._kept[response["id"]] = hand_on
        return 200, response, answer


# ------------------------------------------------------------------ streaming

def stream_events(response: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The named events whose last one (``response.completed`` / ``response.incomplete``) carries
    ``response``; the deltas between add up to its output."""
    seq = iter(range(1 << 30))

    def event(kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "sequence_number": next(seq), **fields}

    opening = {**response, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None}
    yield event("response.created", response=opening)
    yield event("response.in_progress", response=opening)
    for index, item in enumerate(response["output"]):
        where = {"output_index": index, "item_id": item["id"]}
        if item["type"] == "message":
            yield event("response.output_item.added", output_index=index,
                        item={**item, "status": "in_progress", "content": []})
            for content_index, part in enumerate(item["content"]):
                empty = {**part, "text": ""}
                yield event("response.content_part.added", **where, content_index=content_index, part=empty)
                for piece in re.findall(r"\s*\S+\s*|\s+", part["text"]):
                    yield event("response.output_text.delta", **where, content_index=content_index,
                                delta=piece, logprobs=[])
                yield event("response.output_text.done", **where, content_index=content_index,
                            text=part["text"], logprobs=[])
                yield event("response.content_part.done", **where, content_index=content_index, part=part)
        elif item["type"] == "function_call":
            yield event("response.output_item.added", output_index=index,
                        item={**item, "status": "in_progress", "arguments": ""})
            arguments = item["arguments"]
            for start in range(0, len(arguments), 8):
                yield event("response.function_call_arguments.delta", **where, delta=arguments[start:start + 8])
            yield event("response.function_call_arguments.done", **where, arguments=arguments)
        else:
            yield event("response.output_item.added", output_index=index, item=item)
        yield event("response.output_item.done", output_index=index, item=item)
    final = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
    yield event(final, response=response)
